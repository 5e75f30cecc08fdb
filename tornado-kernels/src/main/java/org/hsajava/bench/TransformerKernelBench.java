package org.hsajava.bench;

import java.util.SplittableRandom;
import org.hsajava.compute.DataTransferMode;
import org.hsajava.compute.Device;
import org.hsajava.compute.Devices;
import org.hsajava.compute.ExecutionPlan;
import org.hsajava.compute.TaskGraph;
import org.hsajava.compute.Tensor;
import org.hsajava.kernels.AdamW;
import org.hsajava.kernels.CrossEntropy;
import org.hsajava.kernels.Reduce;
import org.hsajava.kernels.RmsNorm;
import org.hsajava.kernels.Rope;

/**
 * Times the transformer kernels at GPT-2-small-like shapes with the data already on the device
 * (each timed run is one {@code ExecutionPlan.execute()}, i.e. launch plus wait).
 * Usage: {@code TransformerKernelBench [device ...]} (default: the preferred device), e.g. {@code opencl java}.
 */
public final class TransformerKernelBench {
    private TransformerKernelBench() {}

    public static void main(String[] args) {
        String[] specs = args.length == 0 ? new String[] {null} : args;
        for (String spec : specs) {
            Device dev = Devices.select(spec);
            int rows = 256, vocab = 50257;
            Tensor logits = random("logits", rows * vocab), targets = Tensor.of("targets", new int[rows]);
            time(dev, "cross-entropy fwd+bwd [256, 50257]", new TaskGraph("ce").transferToDevice(DataTransferMode.FIRST_EXECUTION, logits, targets)
                    .task("k", CrossEntropy.FORWARD_BACKWARD, logits, targets, Tensor.f32("loss", rows), Tensor.f32("dlogits", rows * vocab), rows, vocab,
                            CrossEntropy.IGNORE_INDEX, 1f / rows));
            int tokens = 4096, d = 768;
            Tensor x = random("x", tokens * d), w = random("w", d);
            time(dev, "rmsnorm fwd [4096, 768]", new TaskGraph("rms").transferToDevice(DataTransferMode.FIRST_EXECUTION, x, w)
                    .task("k", RmsNorm.FORWARD, x, w, Tensor.f32("y", tokens * d), Tensor.f32("rstd", tokens), tokens, d, 1e-5f));
            int n = 10_000_000;
            Tensor p = random("p", n), g = random("g", n);
            time(dev, "adamw 10M params", new TaskGraph("adamw").transferToDevice(DataTransferMode.FIRST_EXECUTION, p, g)
                    .task("k", AdamW.STEP, p, g, Tensor.f32("m", n), Tensor.f32("v", n), n, 1e-3f, 0.9f, 0.95f, 1e-8f, 0.1f, 1f, 1));
            TaskGraph norm = new TaskGraph("norm").transferToDevice(DataTransferMode.FIRST_EXECUTION, g);
            time(dev, "sum of squares 10M", Reduce.sumOfSquares(norm, "s", g, n, Tensor.f32("partials", Reduce.DEFAULT_PARTS), Reduce.DEFAULT_PARTS, Tensor.f32("out", 1)));
            int ropeTokens = 8 * 1024, heads = 16, hd = 64;
            Tensor q = random("q", ropeTokens * heads * hd), freq = Tensor.of("freq", Rope.frequencyTable(hd, 10000));
            time(dev, "rope fwd in place [8K tokens, 16, 64]", new TaskGraph("rope").transferToDevice(DataTransferMode.FIRST_EXECUTION, q, freq)
                    .task("k", Rope.FORWARD_CONTIGUOUS, q, q, freq, ropeTokens, 1024, heads, hd, 0));
        }
    }

    private static Tensor random(String name, int n) {
        SplittableRandom r = new SplittableRandom(1);
        float[] a = new float[n];
        for (int i = 0; i < n; i++) a[i] = (float) r.nextGaussian();
        return Tensor.of(name, a);
    }

    private static void time(Device dev, String what, TaskGraph g) {
        try (ExecutionPlan plan = new ExecutionPlan(g.snapshot()).withDevice(dev)) {
            System.out.println(dev.id() + "  " + what + ": " + BenchTimer.time(plan::execute, 2, 5, 1.0));
        }
    }
}
