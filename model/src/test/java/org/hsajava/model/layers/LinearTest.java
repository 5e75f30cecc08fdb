package org.hsajava.model.layers;

import static org.hsajava.compute.testing.Close.assertClose;
import static org.junit.jupiter.api.Assertions.assertEquals;

import java.util.stream.Stream;
import org.hsajava.compute.DataTransferMode;
import org.hsajava.compute.Device;
import org.hsajava.compute.ExecutionPlan;
import org.hsajava.compute.Task;
import org.hsajava.compute.TaskGraph;
import org.hsajava.compute.Tensor;
import org.hsajava.compute.testing.Rand;
import org.hsajava.compute.testing.TestDevices;
import org.hsajava.kernels.GemmBf16Cast;
import org.hsajava.model.reference.GradCheck;
import org.hsajava.model.reference.RefOps;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

class LinearTest {
    static Stream<Device> devices() { return Stream.of(TestDevices.java(), TestDevices.opencl()); }

    @ParameterizedTest
    @MethodSource("devices")
    void forwardAndBackwardMatchTheDoubleReference(Device d) {
        int rows = 11, in = 13, out = 7;
        Rand r = new Rand(5);
        float[] x = r.normal(rows * in, 1), w = r.normal(out * in, 0.5), b = r.normal(out, 0.5), dy = r.normal(rows * out, 1);
        Tensor tx = Tensor.of("x", x), tw = Tensor.of("w", w), tb = Tensor.of("b", b), ty = Tensor.f32("y", rows * out), tdy = Tensor.of("dy", dy);
        Tensor dx = Tensor.of("dx", new float[rows * in]), dw = Tensor.of("dw", new float[out * in]), db = Tensor.of("db", new float[out]);
        TaskGraph g = new TaskGraph("lin").transferToDevice(DataTransferMode.EVERY_EXECUTION, tx, tw, tb, tdy, dx, dw, db);
        Linear.forward(g, "l", d, tx, tw, tb, ty, rows, in, out);
        Linear.backward(g, "l", d, tx, tw, tdy, dx, dw, db, rows, in, out);
        g.transferToHost(DataTransferMode.EVERY_EXECUTION, ty, dx, dw, db);
        try (ExecutionPlan plan = new ExecutionPlan(g.snapshot()).withDevice(d)) {
            plan.execute();
        }
        double[] xd = RefOps.toDouble(x), wd = RefOps.toDouble(w), bd = RefOps.toDouble(b), dyd = RefOps.toDouble(dy);
        assertClose("y", RefOps.linear(xd, wd, bd, rows, in, out), ty.toF32Array(), 1e-5);
        GradCheck.check("dx", v -> RefOps.dot(RefOps.linear(v, wd, bd, rows, in, out), dyd), xd, dx.toF32Array(), 200, 1e-4, 1);
        GradCheck.check("dW", v -> RefOps.dot(RefOps.linear(xd, v, bd, rows, in, out), dyd), wd, dw.toF32Array(), 200, 1e-4, 2);
        GradCheck.check("db", v -> RefOps.dot(RefOps.linear(xd, wd, v, rows, in, out), dyd), bd, db.toF32Array(), 200, 1e-4, 3);
    }

    /**
     * With bf16 GEMMs on Hopper, x·Wᵀ, dy·W and dyᵀ·x go through bf16 copies and the wgmma kernel
     * ({@link GemmBf16Cast}); here that path runs emulated on the test device. Operands that are bf16
     * numbers already make the copies exact, so the results match the double reference as closely as fp32 does.
     * The bias is added in the forward GEMM's epilogue (no separate launch).
     */
    @org.junit.jupiter.api.Test
    void theHopperPathThroughBf16CopiesMatchesTheDoubleReference() {
        int rows = 128, in = 128, out = 64;
        Rand r = new Rand(9);
        float[] x = bf16(r.normal(rows * in, 1)), w = bf16(r.normal(out * in, 0.5)), dy = bf16(r.normal(rows * out, 1));
        float[] bias = r.normal(out, 1);
        Tensor tx = Tensor.of("x", x), tw = Tensor.of("w", w), tb = Tensor.of("b", bias), ty = Tensor.f32("y", rows * out), tdy = Tensor.of("dy", dy);
        Tensor dx = Tensor.of("dx", new float[rows * in]), dw = Tensor.of("dw", new float[out * in]), db = Tensor.of("db", new float[out]);
        Device d = TestDevices.opencl();
        TaskGraph g = new TaskGraph("lin").transferToDevice(DataTransferMode.EVERY_EXECUTION, tx, tw, tb, tdy, dx, dw, db);
        org.hsajava.compute.testing.EmulatedWgmma.with(() -> {
            Linear.forward(g, "l", d, tx, tw, tb, ty, rows, in, out);
            Linear.backward(g, "l", d, tx, tw, tdy, dx, dw, db, rows, in, out);
            return g;
        });
        g.transferToHost(DataTransferMode.EVERY_EXECUTION, ty, dx, dw, db);
        var launched = g.snapshot().tasks().stream().map(t -> t instanceof Task.Launch l ? l.kernel().entryPoint() : "").toList();
        assertEquals(3, launched.stream().filter("gemm_bf16_wgmma"::equals).count(), "x·Wᵀ, dy·W and dyᵀ·x on the wgmma kernel: " + launched);
        assertEquals(0, launched.stream().filter("add_bias"::equals).count(), "the bias is added in the GEMM's epilogue: " + launched);
        try (ExecutionPlan plan = new ExecutionPlan(g.snapshot()).withDevice(d)) {
            plan.execute();
        }
        double[] xd = RefOps.toDouble(x), wd = RefOps.toDouble(w), dyd = RefOps.toDouble(dy), bd = RefOps.toDouble(bias);
        assertClose("y", RefOps.linear(xd, wd, bd, rows, in, out), ty.toF32Array(), 1e-5);
        GradCheck.check("dx", v -> RefOps.dot(RefOps.linear(v, wd, bd, rows, in, out), dyd), xd, dx.toF32Array(), 200, 1e-4, 1);
        GradCheck.check("dW", v -> RefOps.dot(RefOps.linear(xd, v, bd, rows, in, out), dyd), wd, dw.toF32Array(), 200, 1e-4, 2);
        GradCheck.check("db", v -> RefOps.dot(RefOps.linear(xd, wd, v, rows, in, out), dyd), bd, db.toF32Array(), out, 1e-4, 3);
    }

    private static float[] bf16(float[] x) {
        for (int i = 0; i < x.length; i++) x[i] = org.hsajava.compute.Bf16.round(x[i]);
        return x;
    }
}
