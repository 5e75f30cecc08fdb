package org.hsajava.compute;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.Arrays;
import java.util.stream.Stream;
import org.hsajava.compute.opencl.ClException;
import org.hsajava.compute.opencl.OpenClBackend;
import org.hsajava.compute.testing.TestDevices;
import org.hsajava.kernels.Residual;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

/** Task-graph and execution-plan semantics, on both backends: transfers, reuse, views, errors. */
class ExecutionPlanTest {

    static Stream<Device> devices() { return Stream.of(TestDevices.java(), TestDevices.opencl()); }

    private static float[] seq(int n, float start) {
        float[] a = new float[n];
        for (int i = 0; i < n; i++) a[i] = start + i;
        return a;
    }

    @ParameterizedTest
    @MethodSource("devices")
    void firstExecutionUploadsOnceUntilAskedAgain(Device d) {
        int n = 100;
        Tensor x = Tensor.of("x", seq(n, 1)), y = Tensor.f32("y", n);
        TaskGraph g = new TaskGraph("g")
                .transferToDevice(DataTransferMode.FIRST_EXECUTION, x)
                .task("copy", Residual.AXPBY, x, y, n, 1f, 0f)
                .transferToHost(DataTransferMode.EVERY_EXECUTION, y);
        try (ExecutionPlan plan = new ExecutionPlan(g.snapshot()).withDevice(d)) {
            plan.execute();
            assertArrayEquals(seq(n, 1), y.toF32Array());
            x.set(seq(n, 1000));
            plan.execute();
            assertArrayEquals(seq(n, 1), y.toF32Array(), "FIRST_EXECUTION data must not be uploaded again");
            plan.transferToDevice(x).execute();
            assertArrayEquals(seq(n, 1000), y.toF32Array());
            assertEquals(3, plan.executions());
        }
    }

    @ParameterizedTest
    @MethodSource("devices")
    void everyExecutionUploadsEachTime(Device d) {
        int n = 10;
        Tensor x = Tensor.of("x", seq(n, 1)), y = Tensor.f32("y", n);
        TaskGraph g = new TaskGraph("g")
                .transferToDevice(DataTransferMode.EVERY_EXECUTION, x)
                .task("copy", Residual.AXPBY, x, y, n, 2f, 0f)
                .transferToHost(DataTransferMode.EVERY_EXECUTION, y);
        try (ExecutionPlan plan = new ExecutionPlan(g.snapshot()).withDevice(d)) {
            plan.execute();
            x.set(seq(n, 5));
            plan.execute();
            float[] want = seq(n, 5);
            for (int i = 0; i < n; i++) want[i] *= 2;
            assertArrayEquals(want, y.toF32Array());
        }
    }

    @ParameterizedTest
    @MethodSource("devices")
    void deviceOnlyTensorsStartAtZeroAndPersistAcrossExecutions(Device d) {
        int n = 33;
        Tensor x = Tensor.of("x", seq(n, 1)), acc = Tensor.f32("acc", n);
        TaskGraph g = new TaskGraph("g")
                .transferToDevice(DataTransferMode.FIRST_EXECUTION, x)
                .task("accumulate", Residual.AXPBY, x, acc, n, 1f, 1f)
                .transferToHost(DataTransferMode.UNDER_DEMAND, acc);
        try (ExecutionPlan plan = new ExecutionPlan(g.snapshot()).withDevice(d)) {
            for (int i = 0; i < 3; i++) plan.execute();
            assertArrayEquals(new float[n], acc.toF32Array(), "UNDER_DEMAND must not copy back by itself");
            plan.transferToHost(acc);
            float[] want = seq(n, 1);
            for (int i = 0; i < n; i++) want[i] *= 3;
            assertArrayEquals(want, acc.toF32Array());
        }
    }

    @ParameterizedTest
    @MethodSource("devices")
    void scalarsAreReadAtEachExecution(Device d) {
        int n = 5;
        Tensor x = Tensor.of("x", seq(n, 1)), y = Tensor.f32("y", n);
        Scalar alpha = Scalar.of("alpha", 1);
        TaskGraph g = new TaskGraph("g")
                .transferToDevice(DataTransferMode.FIRST_EXECUTION, x)
                .task("scale", Residual.AXPBY, x, y, n, alpha, 0f)
                .transferToHost(DataTransferMode.EVERY_EXECUTION, y);
        try (ExecutionPlan plan = new ExecutionPlan(g.snapshot()).withDevice(d)) {
            plan.execute();
            alpha.set(-3);
            plan.execute();
            assertArrayEquals(new float[] {-3, -6, -9, -12, -15}, y.toF32Array());
        }
    }

    @ParameterizedTest
    @MethodSource("devices")
    void viewsTouchOnlyTheirRange(Device d) {
        Tensor flat = Tensor.f32("flat", 4096);
        Tensor x = Tensor.of("x", seq(512, 1));
        Tensor part = flat.view("part", 1024, 512);
        TaskGraph g = new TaskGraph("g")
                .transferToDevice(DataTransferMode.FIRST_EXECUTION, x, flat)
                .task("write", Residual.AXPBY, x, part, 512, 1f, 0f)
                .transferToHost(DataTransferMode.EVERY_EXECUTION, flat);
        try (ExecutionPlan plan = new ExecutionPlan(g.snapshot()).withDevice(d)) {
            plan.execute();
        }
        float[] all = flat.toF32Array();
        for (int i = 0; i < 4096; i++) assertEquals(i >= 1024 && i < 1536 ? i - 1024 + 1 : 0, all[i], "element " + i);
        assertArrayEquals(seq(512, 1), part.toF32Array());
    }

    /**
     * Two views whose (origin, size) once mapped to the same OpenCL sub-buffer key, origin << 20 ^ size:
     * a view of 128 MiB + 4 bytes from byte 0 and one float at byte 128. The second must not write
     * through the first's sub-buffer.
     */
    @ParameterizedTest
    @MethodSource("devices")
    void aHugeViewAndATinyOneStayApart(Device d) {
        int big = (1 << 25) + 1;
        Tensor flat = Tensor.f32("flat", big + 64);
        Tensor wide = flat.view("wide", 0, big), one = flat.view("one", 32, 1);
        Tensor x = Tensor.of("x", new float[] {3f}), y = Tensor.of("y", new float[] {7f});
        TaskGraph g = new TaskGraph("g")
                .transferToDevice(DataTransferMode.FIRST_EXECUTION, x, y, flat)
                .task("wide", Residual.AXPBY, x, wide, 1, 1f, 0f)
                .task("one", Residual.AXPBY, y, one, 1, 1f, 0f)
                .transferToHost(DataTransferMode.EVERY_EXECUTION, flat);
        try (ExecutionPlan plan = new ExecutionPlan(g.snapshot()).withDevice(d)) {
            plan.execute();
        }
        float[] all = flat.toF32Array();
        assertEquals(3f, all[0], "the wide view's first element");
        assertEquals(7f, all[32], "the one-float view at element 32");
    }

    @ParameterizedTest
    @MethodSource("devices")
    void profilingReportsEveryTask(Device d) {
        Tensor x = Tensor.of("x", seq(64, 1)), y = Tensor.f32("y", 64);
        TaskGraph g = new TaskGraph("g")
                .transferToDevice(DataTransferMode.EVERY_EXECUTION, x)
                .task("k", Residual.AXPBY, x, y, 64, 1f, 0f)
                .transferToHost(DataTransferMode.EVERY_EXECUTION, y);
        try (ExecutionPlan plan = new ExecutionPlan(g.snapshot()).withDevice(d).withProfiling(true)) {
            ExecutionResult r = plan.execute();
            assertEquals(3, r.timings().size());
            assertTrue(r.table().contains("g.k"), r.table());
            assertTrue(r.timings().stream().allMatch(t -> t.nanos() >= 0));
        }
    }

    @Test
    void wrongDtypeNamesTaskAndArgument() {
        Tensor ints = Tensor.i32("ids", 8), y = Tensor.f32("y", 8);
        var e = assertThrows(IllegalArgumentException.class, () -> new TaskGraph("g").task("t", Residual.AXPBY, ints, y, 8, 1f, 0f));
        assertTrue(e.getMessage().contains("g.t") && e.getMessage().contains("'x'") && e.getMessage().contains("I32"), e.getMessage());
    }

    @Test
    void wrongArgumentCountAndKindsAreErrors() {
        Tensor x = Tensor.f32("x", 8), y = Tensor.f32("y", 8);
        var e = assertThrows(IllegalArgumentException.class, () -> new TaskGraph("g").task("t", Residual.AXPBY, x, y, 8));
        assertTrue(e.getMessage().contains("expected 5 arguments"), e.getMessage());
        e = assertThrows(IllegalArgumentException.class, () -> new TaskGraph("g").task("t", Residual.AXPBY, x, y, 8.5f, 1f, 0f));
        assertTrue(e.getMessage().contains("'n'") && e.getMessage().contains("expects an int"), e.getMessage());
        e = assertThrows(IllegalArgumentException.class, () -> new TaskGraph("g").task("t", Residual.AXPBY, x, 3, 8, 1f, 0f));
        assertTrue(e.getMessage().contains("'y'"), e.getMessage());
    }

    @Test
    void tooSmallBufferIsAnErrorNamingTheArgument() {
        Tensor x = Tensor.f32("x", 8), y = Tensor.f32("y", 16);
        var e = assertThrows(IllegalArgumentException.class, () -> new TaskGraph("g").task("t", Residual.AXPBY, x, y, 16, 1f, 0f));
        assertTrue(e.getMessage().contains("'x'") && e.getMessage().contains("needs at least 16"), e.getMessage());
    }

    @Test
    void scalarChangedToInvalidValueIsCaughtAtLaunch() {
        Tensor x = Tensor.f32("x", 8), y = Tensor.f32("y", 8);
        Scalar n = Scalar.of("n", 8);
        TaskGraph g = new TaskGraph("g").task("t", Residual.AXPBY, x, y, n, 1f, 0f);
        try (ExecutionPlan plan = new ExecutionPlan(g.snapshot()).withDevice(TestDevices.java())) {
            plan.execute();
            n.set(9);
            var e = assertThrows(IllegalArgumentException.class, plan::execute);
            assertTrue(e.getMessage().contains("g.t") && e.getMessage().contains("'x'"), e.getMessage());
        }
    }

    @ParameterizedTest
    @MethodSource("devices")
    void gridsAreCheckedAgainstDeviceLimits(Device d) {
        Tensor x = Tensor.f32("x", 8), y = Tensor.f32("y", 8);
        TaskGraph g = new TaskGraph("g").task("t", Residual.AXPBY, x, y, 8, 1f, 0f);
        long tooBig = d.info().maxWorkGroupSize() * 2;
        GridScheduler big = new GridScheduler().set("g.t", new WorkerGrid(new long[] {tooBig}, new long[] {tooBig}));
        try (ExecutionPlan plan = new ExecutionPlan(g.snapshot()).withDevice(d).withGridScheduler(big)) {
            var e = assertThrows(IllegalArgumentException.class, plan::execute);
            assertTrue(e.getMessage().contains("g.t") && e.getMessage().contains("exceeds the device limit"), e.getMessage());
        }
        GridScheduler ragged = new GridScheduler().set("g.t", new WorkerGrid(new long[] {10}, new long[] {4}));
        try (ExecutionPlan plan = new ExecutionPlan(g.snapshot()).withDevice(d).withGridScheduler(ragged)) {
            var e = assertThrows(IllegalArgumentException.class, plan::execute);
            assertTrue(e.getMessage().contains("not a multiple"), e.getMessage());
        }
    }

    @Test
    void openClBuildFailureCarriesKernelNameAndCompilerLog() {
        Device d = TestDevices.opencl();
        KernelDef broken = KernelDef.builder("broken_kernel", "kernels/test_broken.cl").inOut("x", DType.F32)
                .grid(a -> WorkerGrid.of1D(4, 4)).java(a -> {}).build();
        Tensor x = Tensor.f32("x", 4);
        var e = assertThrows(ClException.class, () -> KernelRunner.run(d, broken, x));
        assertTrue(e.getMessage().contains("broken_kernel") && e.getMessage().contains("compiler log") && e.getMessage().contains("undefined_symbol_here"), e.getMessage());
    }

    @Test
    void openClProgramsAreBuiltOncePerSourceAndOptions() {
        Device d = TestDevices.opencl();
        Tensor x = Tensor.of("x", seq(16, 1)), y = Tensor.f32("y", 16);
        KernelRunner.run(d, Residual.AXPBY, x, y, 16, 1f, 0f);
        int builds = ((OpenClBackend) d.backend()).programBuilds();
        for (int i = 0; i < 3; i++) KernelRunner.run(d, Residual.AXPBY, x, y, 16, 1f, 0f);
        assertEquals(builds, ((OpenClBackend) d.backend()).programBuilds());
    }

    @Test
    void unknownDeviceIsAnErrorListingTheChoices() {
        var e = assertThrows(IllegalArgumentException.class, () -> Devices.select("no-such-device-xyz"));
        assertTrue(e.getMessage().contains("java"), e.getMessage());
        e = assertThrows(IllegalArgumentException.class, () -> Devices.select("opencl:99"));
        assertTrue(e.getMessage().contains("Devices here"), e.getMessage());
        assertEquals("java", Devices.select("JAVA").id());
        assertTrue(Arrays.asList("java", "opencl:0").contains(Devices.preferred().id()));
    }
}
