package org.hsajava.bench.jmh;

import java.util.concurrent.TimeUnit;
import org.hsajava.bench.HsaAttentionBench;
import org.hsajava.bench.HsaSelectionBench;
import org.hsajava.bench.SwaBench;
import org.hsajava.compute.Devices;
import org.hsajava.compute.ExecutionPlan;
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
 * JMH benchmarks of the attention kernels at DESIGN.md §4's shapes (HQ=16, H=1, d=64, S=64,
 * K=8; SWA window 512), with the same plans as {@code ./hsa bench hsa|swa}: one operation is one
 * execution of a graph (data resident on the device) and the wait for it.
 * Run: {@code java -cp <classpath> org.openjdk.jmh.Main AttentionJmh -p device=opencl -p length=4096 -p batch=1}.
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MILLISECONDS)
@Warmup(iterations = 2, time = 1)
@Measurement(iterations = 5, time = 1)
@Fork(value = 1, jvmArgsAppend = {"--enable-native-access=ALL-UNNAMED", "--sun-misc-unsafe-memory-access=allow"})
public class AttentionJmh {

    @Param({"opencl"})
    public String device;

    @Param({"1"})
    public int batch;

    @Param({"4096"})
    public int length;

    private ExecutionPlan swa;
    private ExecutionPlan selection;
    private ExecutionPlan hsa;

    @Setup(Level.Trial)
    public void setUp() {
        swa = SwaBench.prepare(Devices.select(device), batch, length, 512);
        swa.execute();                      // uploads and compiles outside the measurement
        selection = HsaSelectionBench.prepare(Devices.select(device), batch, length);
        selection.execute();
        hsa = HsaAttentionBench.prepare(Devices.select(device), batch, length);
        hsa.execute();
    }

    @Benchmark
    public void swaForward() { swa.execute(SwaBench.FORWARD); }

    @Benchmark
    public void swaForwardBackward() { swa.execute(SwaBench.FORWARD_BACKWARD); }

    @Benchmark
    public void hsaSelection() { selection.execute(HsaSelectionBench.FORWARD); }

    @Benchmark
    public void hsaSelectionBackward() { selection.execute(HsaSelectionBench.BACKWARD); }

    @Benchmark
    public void hsaForward() { hsa.execute(HsaAttentionBench.FORWARD); }

    @Benchmark
    public void hsaForwardBackward() { hsa.execute(HsaAttentionBench.FORWARD_BACKWARD); }

    @TearDown(Level.Trial)
    public void tearDown() {
        swa.close();
        selection.close();
        hsa.close();
    }
}
