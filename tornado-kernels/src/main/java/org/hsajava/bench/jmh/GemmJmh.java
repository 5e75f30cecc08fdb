package org.hsajava.bench.jmh;

import java.util.SplittableRandom;
import java.util.concurrent.TimeUnit;
import org.hsajava.compute.DataTransferMode;
import org.hsajava.compute.Device;
import org.hsajava.compute.Devices;
import org.hsajava.compute.ExecutionPlan;
import org.hsajava.compute.KernelDef;
import org.hsajava.compute.TaskGraph;
import org.hsajava.compute.Tensor;
import org.hsajava.kernels.Gemm;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;
import org.openjdk.jmh.annotations.Warmup;

/**
 * JMH benchmark of one square fp32 GEMM launch ({@code C = A B}, data resident on the device).
 * One operation is one launch and the wait for it; GFLOP/s = 2 size^3 / (time per op).
 * {@code device} takes what {@code --device} takes ({@code opencl}, {@code opencl:0}, {@code java}, a name).
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MILLISECONDS)
@Warmup(iterations = 3, time = 1)
@Measurement(iterations = 5, time = 1)
@Fork(value = 1, jvmArgsAppend = {"--enable-native-access=ALL-UNNAMED"})
public class GemmJmh {

    @Param({"512", "1024"})
    public int size;

    @Param({"opencl"})
    public String device;

    /** {@code tiled} (the device's tuned variant) or {@code naive} (the 16x16 baseline). */
    @Param({"tiled", "naive"})
    public String kernel;

    private ExecutionPlan plan;

    @Setup(Level.Trial)
    public void setUp() {
        Device d = Devices.select(device);
        KernelDef k = kernel.equals("naive") ? Gemm.naive(false, false) : Gemm.select(d, false, false, size, size, size);
        Tensor a = random("A", size, 1), b = random("B", size, 2), c = Tensor.f32("C", size * size);
        TaskGraph g = new TaskGraph("gemm")
                .transferToDevice(DataTransferMode.FIRST_EXECUTION, a, b)
                .task("mm", k, a, b, c, size, size, size, size, size, size, 0, 0, 0, 1, 1f, 0f);
        plan = new ExecutionPlan(g.snapshot()).withDevice(d);
        plan.execute();  // upload and compile outside the measurement
    }

    @Benchmark
    public void gemm() { plan.execute(); }

    @TearDown(Level.Trial)
    public void tearDown() { plan.close(); }

    private static Tensor random(String name, int n, long seed) {
        SplittableRandom r = new SplittableRandom(seed);
        float[] x = new float[n * n];
        for (int i = 0; i < x.length; i++) x[i] = (float) (r.nextDouble() * 2 - 1);
        return Tensor.of(name, x, n, n);
    }
}
