package org.hsajava.kernels;

import java.io.PrintStream;
import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;
import java.util.function.Function;
import org.hsajava.compute.Bf16;
import org.hsajava.compute.DataTransferMode;
import org.hsajava.compute.Device;
import org.hsajava.compute.ExecutionPlan;
import org.hsajava.compute.TaskGraph;
import org.hsajava.compute.Devices;
import org.hsajava.compute.KernelDef;
import org.hsajava.compute.KernelRunner;
import org.hsajava.compute.Tensor;
import org.hsajava.compute.opencl.TensorCores;

/**
 * Runs each kernel family once on a device and on the Java backend with the same random inputs
 * and reports the largest relative difference: a quick check that a machine's OpenCL driver
 * compiles and runs our kernels correctly. The unit tests go much further; this is for users.
 */
public final class SelfCheck {

    /**
     * One check: runs a kernel on a device and returns the output to compare. {@code tf32Tolerance}
     * applies instead of {@code tolerance} on devices whose kernels use TF32 tensor cores
     * ({@link TensorCores#enabled}; the HSA attention forward), which round the products' inputs
     * to 10 mantissa bits.
     */
    public record Case(String name, double tolerance, double tf32Tolerance, Function<Device, float[]> run) {
        public Case(String name, double tolerance, Function<Device, float[]> run) { this(name, tolerance, tolerance, run); }

        /** The tolerance that applies on {@code device}. */
        public double toleranceOn(Device device) { return TensorCores.enabled(device.info()) ? tf32Tolerance : tolerance; }
    }

    /**
     * Tolerance of outputs computed through the TF32 tensor-core forward against the fp32 Java
     * backend, relative to the largest magnitude: 4x TF32's unit roundoff 2^-11 (the errors seen
     * are a few 1e-4).
     */
    public static final double TF32_TOLERANCE = 2e-3;

    /**
     * Tolerance of GEMMs on the bf16 tensor-core kernel ({@code -Dhsa.tc.gemm=bf16}) against fp32:
     * 4x bf16's unit roundoff 2^-9.
     */
    public static final double BF16_TOLERANCE = 8e-3;

    /** The outcome of one case. */
    public record Result(String name, double maxRelError, double tolerance, double millis, String error) {
        public boolean ok() { return error == null && maxRelError <= tolerance; }
    }

    private SelfCheck() {}

    /** C = op(A) op(B) + C for two batch items, with the kernel the model's layers get on this device (gemm_cpu on CPUs, the tiled one or its tensor-core variant elsewhere). */
    private static float[] gemm(Device d, boolean transA, boolean transB, int m, int n, int k) {
        Tensor c = Tensor.of("C", random(2 * m * n, 14));
        int lda = transA ? m : k, ldb = transB ? k : n;
        KernelRunner.run(d, Gemm.select(d, transA, transB, m, n, k, 2), Tensor.of("A", random(2 * m * k, 15)), Tensor.of("B", random(2 * n * k, 16)), c,
                m, n, k, lda, ldb, n, m * k, n * k, m * n, 2, 1f, 1f);
        return c.toF32Array();
    }

    /**
     * C = A B^T + C with a kernel on bf16 storage ({@link GemmBf16Async}, {@link GemmBf16Wgmma}), m = n,
     * on bf16 operands (exact in bf16, so the Java backend sums the same products).
     */
    private static float[] gemmBf16Storage(Device d, KernelDef kernel, int m, int n, int k) { return gemmBf16Storage(d, kernel, m, n, k, false); }

    /** {@code mnMajor}: the weight-gradient form C = A^T B + C, A stored [K x M] and B [K x N]. */
    private static float[] gemmBf16Storage(Device d, KernelDef kernel, int m, int n, int k, boolean mnMajor) {
        Tensor a = Tensor.ofBf16("A", random(m * k, 20)), b = Tensor.ofBf16("B", random(n * k, 21)), c = Tensor.of("C", random(m * n, 22));
        KernelRunner.run(d, kernel, a, b, c, m, n, k, mnMajor ? m : k, mnMajor ? n : k, n, 0, 0, 0, 1, 1f, 1f);
        return c.toF32Array();
    }

    /** C = bf16(A B^T) with the bf16-output form of {@link GemmBf16Wgmma} (beta 0), widened. */
    private static float[] gemmBf16Out(Device d, int m, int n, int k) {
        Tensor a = Tensor.ofBf16("A", random(m * k, 23)), b = Tensor.ofBf16("B", random(n * k, 24)), c = Tensor.bf16("C", m * n);
        KernelRunner.run(d, GemmBf16Wgmma.kernelBf16Out(n), a, b, c, m, n, k, k, k, n, 0, 0, 0, 1, 1f, 0f);
        return c.bf16ToF32Array();
    }

    /** C = A B^T + C + bias with the bias epilogue of {@link GemmBf16Wgmma}. */
    private static float[] gemmBf16Bias(Device d, int m, int n, int k) {
        Tensor a = Tensor.ofBf16("A", random(m * k, 23)), b = Tensor.ofBf16("B", random(n * k, 24));
        Tensor c = Tensor.of("C", random(m * n, 25)), bias = Tensor.of("bias", random(n, 26));
        KernelRunner.run(d, GemmBf16Wgmma.kernelWithBias(n, false), a, b, c, m, n, k, k, k, n, 0, 0, 0, 1, 1f, 1f, bias);
        return c.toF32Array();
    }

    /** u and act of the SwiGLU epilogue ({@link GemmBf16Wgmma#kernelSwiGlu}), widened. */
    private static float[] gemmBf16SwiGlu(Device d, int m, int n, int k) {
        float[] z = random(m * n, 29);
        for (int i = 0; i < z.length; i++) z[i] *= 4;
        Tensor a = Tensor.ofBf16("A", random(m * k, 23)), b = Tensor.ofBf16("B", random(n * k, 24)), gate = Tensor.ofBf16("gate", z);
        Tensor u = Tensor.bf16("C", m * n), act = Tensor.bf16("act", m * n);
        KernelRunner.run(d, GemmBf16Wgmma.kernelSwiGlu(n), a, b, u, m, n, k, k, k, n, 0, 0, 0, 1, 1f, 0f, gate, act);
        return concat(u.bf16ToF32Array(), act.bf16ToF32Array());
    }

    /** {@code run} with GEMMs selected at precision {@code p} (devices without tensor cores compute in fp32 anyway). */
    private static float[] atPrecision(Gemm.Precision p, java.util.function.Supplier<float[]> run) {
        Gemm.Precision before = Gemm.usePrecision(p);
        try {
            return run.get();
        } finally {
            Gemm.usePrecision(before);
        }
    }

    /** A weight gradient C += A^T B through {@link GemmSplitK} (split over K on GPUs whose compute units its few blocks leave idle). */
    private static float[] weightGradient(Device d, int m, int n, int k) {
        Tensor a = Tensor.of("A", random(k * m, 17)), b = Tensor.of("B", random(k * n, 18)), c = Tensor.of("C", random(m * n, 19));
        TaskGraph g = new TaskGraph("dw").transferToDevice(DataTransferMode.EVERY_EXECUTION, a, b, c);
        GemmSplitK.append(g, "dw", d, true, false, a, b, c, m, n, k, m, n, 1f, 1f, GemmSplitK.workspace("workspace"));
        g.transferToHost(DataTransferMode.EVERY_EXECUTION, c);
        try (ExecutionPlan plan = new ExecutionPlan(g.snapshot()).withDevice(d)) {
            plan.execute();
        }
        return c.toF32Array();
    }

    public static List<Case> cases() {
        List<Case> cases = new ArrayList<>();
        cases.add(new Case("residual axpby (n=4099)", 1e-6, d -> {
            float[] x = random(4099, 1), y = random(4099, 2);
            Tensor ty = Tensor.of("y", y);
            KernelRunner.run(d, Residual.AXPBY, Tensor.of("x", x), ty, 4099, 0.5f, -2f);
            return ty.toF32Array();
        }));
        cases.add(new Case("rmsnorm forward (37 x 129)", 1e-5, d -> {
            int rows = 37, dim = 129;
            Tensor y = Tensor.f32("y", rows * dim), rstd = Tensor.f32("rstd", rows);
            KernelRunner.run(d, RmsNorm.FORWARD, Tensor.of("x", random(rows * dim, 3)), Tensor.of("w", random(dim, 4)), y, rstd, rows, dim, 1e-6f);
            return y.toF32Array();
        }));
        cases.add(new Case("rmsnorm forward and dx (1001 rows of 32)", 1e-5, d -> {
            int rows = 1001, dim = 32;   // GPUs: four rows per work-group
            Tensor x = Tensor.of("x", random(rows * dim, 5)), w = Tensor.of("w", random(dim, 6)), y = Tensor.f32("y", rows * dim);
            Tensor rstd = Tensor.f32("rstd", rows), dx = Tensor.f32("dx", rows * dim);
            KernelRunner.run(d, RmsNorm.FORWARD, x, w, y, rstd, rows, dim, 1e-6f);
            KernelRunner.run(d, RmsNorm.BACKWARD_DX, Tensor.of("dy", random(rows * dim, 7)), x, w, rstd, dx, rows, dim);
            return concat(y.toF32Array(), dx.toF32Array());
        }));
        cases.add(new Case("rope forward (53 tokens x 3 heads x 64)", 1e-5, d -> {
            int tokens = 53, heads = 3, dim = 64;
            Tensor out = Tensor.f32("out", tokens * heads * dim);
            KernelRunner.run(d, Rope.FORWARD_CONTIGUOUS, Tensor.of("x", random(tokens * heads * dim, 5)), out,
                    Tensor.of("freq", Rope.frequencyTable(dim, 10000.0)), tokens, tokens, heads, dim, 1_000_000);
            return out.toF32Array();
        }));
        cases.add(new Case("swiglu forward (n=1001)", 1e-6, d -> {
            Tensor h = Tensor.f32("h", 1001);
            KernelRunner.run(d, SwiGlu.FORWARD, Tensor.of("g", random(1001, 6)), Tensor.of("u", random(1001, 7)), h, 1001);
            return h.toF32Array();
        }));
        cases.add(new Case("cross-entropy fwd+bwd (13 x 1031)", 1e-5, d -> {
            int rows = 13, v = 1031;
            int[] targets = new int[rows];
            for (int i = 0; i < rows; i++) targets[i] = i == 5 ? CrossEntropy.IGNORE_INDEX : (i * 97) % v;
            Tensor loss = Tensor.f32("loss", rows), grad = Tensor.f32("dlogits", rows * v);
            KernelRunner.run(d, CrossEntropy.FORWARD_BACKWARD, Tensor.of("logits", random(rows * v, 8)), Tensor.of("targets", targets), loss, grad,
                    rows, v, CrossEntropy.IGNORE_INDEX, 1f / (rows - 1));
            float[] both = new float[rows + rows * v];
            System.arraycopy(loss.toF32Array(), 0, both, 0, rows);
            System.arraycopy(grad.toF32Array(), 0, both, rows, rows * v);
            return both;
        }));
        cases.add(new Case("adamw step (n=10007)", 1e-5, d -> {
            int n = 10007;
            Tensor p = Tensor.of("p", random(n, 9)), m = Tensor.of("m", random(n, 10)), v = Tensor.of("v", abs(random(n, 11)));
            KernelRunner.run(d, AdamW.STEP, p, Tensor.of("g", random(n, 12)), m, v, n, 1e-3f, 0.9f, 0.95f, 1e-8f, 0.1f, 0.5f, 7);
            return p.toF32Array();
        }));
        cases.add(new Case("sum of squares (n=100003)", 1e-6, d -> {
            Tensor partials = Tensor.f32("partials", Reduce.DEFAULT_PARTS), out = Tensor.f32("out", 1);
            Tensor x = Tensor.of("x", random(100_003, 13));
            KernelRunner.run(d, Reduce.SUM_OF_SQUARES, x, partials, 100_003, Reduce.DEFAULT_PARTS);
            KernelRunner.run(d, Reduce.SUM_PARTIALS, partials, out, Reduce.DEFAULT_PARTS);
            return out.toF32Array();
        }));
        double gemmTc = switch (Gemm.precision()) { case FP32 -> 1e-5; case TF32 -> TF32_TOLERANCE; case BF16 -> BF16_TOLERANCE; };
        for (int t = 0; t < 4; t++) {
            boolean ta = (t & 2) != 0, tb = (t & 1) != 0;
            String op = (ta ? "A^T" : "A") + " " + (tb ? "B^T" : "B");
            cases.add(new Case("gemm C = " + op + " + C (300 x 200 x 150, batch 2)", 1e-5, gemmTc, d -> gemm(d, ta, tb, 300, 200, 150)));
        }
        cases.add(new Case("gemm weight gradient C += A^T B (260 x 512 x 8192, split over K on GPUs)", 1e-5, gemmTc, d -> weightGradient(d, 260, 512, 8192)));
        // the mixed-precision GEMMs a config's matmul_precision selects, whatever this process's default
        cases.add(new Case("gemm C = A B^T + C at matmul_precision bf16 (300 x 200 x 150, batch 2)", 1e-5, BF16_TOLERANCE,
                d -> atPrecision(Gemm.Precision.BF16, () -> gemm(d, false, true, 300, 200, 150))));
        cases.add(new Case("gemm C = A^T B + C at matmul_precision bf16 (260 x 512 x 8192, split over K on GPUs)", 1e-5, BF16_TOLERANCE,
                d -> atPrecision(Gemm.Precision.BF16, () -> weightGradient(d, 260, 512, 8192))));
        cases.add(new Case("gemm C = A B^T + C on bf16 storage (cp.async, ldmatrix; 256 x 256 x 192)", 1e-5,
                d -> gemmBf16Storage(d, GemmBf16Async.kernel(), 256, 256, 192)));
        cases.add(new Case("gemm C = A B^T + C on bf16 storage, warpgroup MMA where the device has it (512 x 512 x 1024)", 1e-5,
                d -> gemmBf16Storage(d, GemmBf16Wgmma.kernel(512), 512, 512, 1024)));  // 16 K-tiles through the pipeline
        cases.add(new Case("gemm C = A B^T + C on bf16 storage, warpgroup MMA in blocks of 128 columns (256 x 384 x 512)", 1e-5,
                d -> gemmBf16Storage(d, GemmBf16Wgmma.kernel(384), 256, 384, 512)));
        cases.add(new Case("gemm C = A B^T + C on bf16 storage, warpgroup MMA in blocks of 64 columns (256 x 320 x 512)", 1e-5,
                d -> gemmBf16Storage(d, GemmBf16Wgmma.kernel(320), 256, 320, 512)));
        // the Java backend's sums round to bf16 across a tie now and then: one bf16 ulp (2^-8) of an element
        cases.add(new Case("gemm C = bf16(A B^T) on bf16 storage, warpgroup MMA writing bf16 (256 x 384 x 512)", BF16_TOLERANCE,
                d -> gemmBf16Out(d, 256, 384, 512)));
        cases.add(new Case("gemm C = A B^T + C + bias on bf16 storage, warpgroup MMA with the bias epilogue (256 x 384 x 512)", 1e-5,
                d -> gemmBf16Bias(d, 256, 384, 512)));
        cases.add(new Case("gemm u = bf16(A B^T), act = bf16(silu(gate) u): warpgroup MMA with the SwiGLU epilogue (256 x 384 x 512)", BF16_TOLERANCE,
                d -> gemmBf16SwiGlu(d, 256, 384, 512)));
        cases.add(new Case("gemm C = A^T B + C on bf16 storage, warpgroup MMA on MN-major tiles (weight gradients; 256 x 512 x 1024)", 1e-5,
                d -> gemmBf16Storage(d, GemmBf16Wgmma.weightGradientKernel(512), 256, 512, 1024, true)));
        cases.add(new Case("gemm C = A^T B + C on bf16 storage, warpgroup MMA on MN-major tiles in blocks of 128 columns (128 x 384 x 256)", 1e-5,
                d -> gemmBf16Storage(d, GemmBf16Wgmma.weightGradientKernel(384), 128, 384, 256, true)));
        cases.add(new Case("gemm C = A^T B + C on bf16 storage, warpgroup MMA on MN-major tiles in blocks of 64 columns (128 x 320 x 256)", 1e-5,
                d -> gemmBf16Storage(d, GemmBf16Wgmma.weightGradientKernel(320), 128, 320, 256, true)));
        cases.add(new Case("gemm C = A B + C at matmul_precision tf32 (300 x 200 x 150, batch 2)", 1e-5, TF32_TOLERANCE,
                d -> atPrecision(Gemm.Precision.TF32, () -> gemm(d, false, false, 300, 200, 150))));
        cases.add(new Case("hsa selection top-K + stick weights (L=300, S=16, K=8)", 1e-5, SelfCheck::selection));
        cases.add(new Case("hsa selection top-K + softmax weights in one launch (B=2, L=300, H=2, S=16, K=8)", 1e-5, SelfCheck::selectionFused));
        cases.add(new Case("hsa attention fwd+bwd (L=200, G=16, D=S=64)", 1e-4, TF32_TOLERANCE, SelfCheck::hsaAttention));
        cases.add(new Case("hsa attention fwd (B=2, L=700, G=16, D=S=64, K=8, n=1)", 1e-4, TF32_TOLERANCE,
                d -> hsaForward(d, 2, 700, 16, 1, 64, 64, 8, 1, 40)));
        cases.add(new Case("hsa attention fwd (L=101, G=20, D=32, S=16, K=8)", 1e-4, TF32_TOLERANCE,
                d -> hsaForward(d, 1, 101, 20, 1, 32, 16, 8, 0, 41)));
        cases.add(new Case("hsa attention fwd (L=130, HQ=12, H=2, D=128, S=32)", 1e-4, TF32_TOLERANCE,
                d -> hsaForward(d, 1, 130, 12, 2, 128, 32, 4, 1, 42)));
        cases.add(new Case("hsa attention bwd dk/dv (B=2, L=700, G=16, D=S=64, K=8)", 1e-4, TF32_TOLERANCE,
                d -> hsaBackwardKv(d, 2, 700, 16, 1, 64, 64, 8, 50)));
        cases.add(new Case("hsa attention bwd dk/dv (L=301, G=20, D=32, S=16, K=8)", 1e-4, TF32_TOLERANCE,
                d -> hsaBackwardKv(d, 1, 301, 20, 1, 32, 16, 8, 51)));
        cases.add(new Case("hsa attention bwd dk/dv (L=330, HQ=12, H=2, D=128, S=32, K=4)", 1e-4, TF32_TOLERANCE,
                d -> hsaBackwardKv(d, 1, 330, 12, 2, 128, 32, 4, 52)));
        cases.add(new Case("hsa attention fwd on bf16 K/V (L=300, G=16, D=S=64, K=4, n=1)", 1e-3, SelfCheck::hsaForwardBf16));
        cases.add(new Case("hsa attention fwd at t0=1000 (L=37, C=40, G=6, D=16, S=32)", 1e-4, TF32_TOLERANCE, SelfCheck::hsaForwardAt));
        cases.add(new Case("sliding-window attention fwd+bwd (B=2, L=300, HQ=8, H=2, D=64, W=64)", 1e-4, TF32_TOLERANCE,
                d -> slidingWindow(d, 2, 300, 8, 2, 64, 64, 26)));
        cases.add(new Case("sliding-window attention fwd+bwd (L=700, HQ=16, H=4, D=32, W=512)", 1e-4, TF32_TOLERANCE,
                d -> slidingWindow(d, 1, 700, 16, 4, 32, 512, 34)));
        cases.add(new Case("sliding-window attention fwd+bwd (L=77, HQ=3, H=1, D=128, W=20)", 1e-4, TF32_TOLERANCE,
                d -> slidingWindow(d, 1, 77, 3, 1, 128, 20, 35)));
        // bf16 inputs: the Java twins compute in fp32 from them, the kernels also round P and dS to bf16 (2^-9)
        cases.add(new Case("sliding-window attention fwd+bwd on bf16 q, k, v, dO (B=2, L=300, HQ=8, H=2, D=64, W=64)", 1e-2,
                d -> slidingWindowBf16(d, 2, 300, 8, 2, 64, 64, 26)));
        cases.add(new Case("sliding-window attention fwd+bwd on bf16 q, k, v, dO (L=700, HQ=16, H=4, D=32, W=512)", 1e-2,
                d -> slidingWindowBf16(d, 1, 700, 16, 4, 32, 512, 34)));
        cases.add(new Case("segment attention fwd+bwd (6 x 65 tokens, encoder)", 1e-4, SelfCheck::segmentAttention));
        return cases;
    }

    /** Indices (as floats) and weights of the top-8 chunks for 300 tokens. */
    private static float[] selection(Device d) {
        int B = 1, L = 300, H = 1, dr = 64, S = 16, K = 8, C = L / S;
        Tensor qr = Tensor.of("q_r", random(B * L * H * dr, 20)), lm = Tensor.of("landmarks", random(B * C * H * dr, 21));
        Tensor idx = Tensor.i32("indices", B * L * H * K), sc = Tensor.f32("scores", B * L * H * K), w = Tensor.f32("weights", B * L * H * K);
        KernelRunner.run(d, HsaSelection.topK(dr, K), qr, lm, idx, sc, B, L, H, C, S, 0);
        KernelRunner.run(d, HsaSelection.weights(HsaSelection.WeightMode.STICK, K), sc, w, B, L, H, C, S, 0);
        return concat(toFloat(idx.toI32Array()), w.toF32Array());
    }

    /** The same through the fused kernel (top-K and weights in one launch; softmax weights, two heads). */
    private static float[] selectionFused(Device d) {
        int B = 2, L = 300, H = 2, dr = 64, S = 16, K = 8, C = L / S;
        Tensor qr = Tensor.of("q_r", random(B * L * H * dr, 27)), lm = Tensor.of("landmarks", random(B * C * H * dr, 28));
        Tensor idx = Tensor.i32("indices", B * L * H * K), sc = Tensor.f32("scores", B * L * H * K), w = Tensor.f32("weights", B * L * H * K);
        KernelRunner.run(d, HsaSelection.topKWeights(dr, K, HsaSelection.WeightMode.SOFTMAX), qr, lm, idx, sc, w, B, L, H, C, S, 0);
        return concat(toFloat(idx.toI32Array()), w.toF32Array());
    }

    /** o, dq, dk, dv and dweights of the HSA attention for a fixed valid selection. */
    private static float[] hsaAttention(Device d) {
        int B = 1, L = 200, HQ = 16, H = 1, D = 64, S = 64, K = 4, C = L / S;
        int[] indices = new int[B * L * H * K];
        float[] weights = new float[B * L * H * K];
        for (int t = 0; t < L; t++) {
            int valid = HsaSelection.validSlots(t, S, C, K);
            for (int k = 0; k < valid; k++) {
                indices[t * K + k] = t / S - 1 - k;          // the most recent eligible chunks, most recent first
                weights[t * K + k] = 0.6f / (k + 1);
            }
        }
        HsaCsr.Csr csr = HsaCsr.reference(indices, B, L, H, C, S, 0, K);
        float scale = (float) (1 / Math.sqrt(D));
        Tensor q = Tensor.of("q", random(B * L * HQ * D, 22)), k = Tensor.of("k", random(B * C * S * H * D, 23)), v = Tensor.of("v", random(B * C * S * H * D, 24));
        Tensor idx = Tensor.of("indices", indices), w = Tensor.of("weights", weights), dout = Tensor.of("dout", random(B * L * HQ * D, 25));
        Tensor o = Tensor.f32("o", B * L * HQ * D), lse = Tensor.f32("lse", B * L * HQ * K), dq = Tensor.f32("dq", B * L * HQ * D);
        Tensor dw = Tensor.f32("dweights", B * L * H * K), delta = Tensor.f32("delta", B * L * HQ * K);
        Tensor dk = Tensor.f32("dk", B * C * S * H * D), dv = Tensor.f32("dv", B * C * S * H * D);
        KernelRunner.run(d, HsaAttention.forward(D, S, HQ / H), q, k, v, idx, w, o, lse, B, L, HQ, H, K, 0, scale);
        KernelRunner.run(d, HsaAttention.backwardQ(D, S, HQ / H), q, k, v, idx, w, dout, lse, dq, dw, delta, B, L, HQ, H, K, scale);
        KernelRunner.run(d, HsaAttention.backwardKv(D, S, HQ / H), q, k, v, w, dout, lse, delta, Tensor.of("chunkStart", csr.chunkStart()),
                Tensor.of("entries", csr.entries()), dk, dv, B, L, HQ, H, K, scale);
        return concat(concat(o.toF32Array(), dq.toF32Array()), concat(concat(dk.toF32Array(), dv.toF32Array()), dw.toF32Array()));
    }

    /** A random valid selection: per (b, t, h) min(K, C', t/S) distinct chunks below min(C', t/S), most recent first, weights in (0.05, 0.95). */
    private static void randomSelection(int[] idx, float[] w, int B, int L, int H, int S, int K, int t0, int C, long seed) {
        SplittableRandom r = new SplittableRandom(seed);
        for (int row = 0; row < B * L * H; row++) {
            int t = t0 + row / H % L, eligible = Math.min(C, t / S), nv = Math.min(K, eligible);
            int[] pick = nv == 0 ? new int[0] : r.ints(0, eligible).distinct().limit(nv).sorted().toArray();
            for (int slot = 0; slot < K; slot++) {
                idx[row * K + slot] = slot < nv ? pick[nv - 1 - slot] : -1;    // invalid slots: never read
                w[row * K + slot] = slot < nv ? (float) (0.05 + 0.9 * r.nextDouble()) : Float.NaN;
            }
        }
    }

    /** o and lse of the HSA attention forward for a random selection. */
    private static float[] hsaForward(Device d, int B, int L, int HQ, int H, int D, int S, int K, int n, long seed) {
        int C = L / S;
        int[] indices = new int[B * L * H * K];
        float[] weights = new float[B * L * H * K];
        randomSelection(indices, weights, B, L, H, S, K, 0, C, seed);
        Tensor q = Tensor.of("q", random(B * L * HQ * D, seed + 1)), k = Tensor.of("k", random(B * C * S * H * D, seed + 2));
        Tensor v = Tensor.of("v", random(B * C * S * H * D, seed + 3));
        Tensor o = Tensor.f32("o", B * L * HQ * D), lse = Tensor.f32("lse", B * L * HQ * K);
        KernelRunner.run(d, HsaAttention.forward(D, S, HQ / H), q, k, v, Tensor.of("indices", indices), Tensor.of("weights", weights), o, lse,
                B, L, HQ, H, K, n, (float) (1 / Math.sqrt(D)));
        return concat(o.toF32Array(), lse.toF32Array());
    }

    /**
     * o and lse of the HSA forward on bf16 K and V ({@link HsaAttentionBf16}: pack, then the bf16
     * tensor-core forward; its PTX emulated where there are no tensor cores). The Java backend rounds
     * the same operands, so the tolerance is tight although the arithmetic is bf16.
     */
    private static float[] hsaForwardBf16(Device d) {
        int B = 1, L = 300, HQ = 16, H = 1, D = 64, S = 64, K = 4, C = L / S;
        long seed = 41;
        int[] indices = new int[B * L * H * K];
        float[] weights = new float[B * L * H * K];
        randomSelection(indices, weights, B, L, H, S, K, 0, C, seed);
        Tensor q = Tensor.of("q", random(B * L * HQ * D, seed + 1)), k = Tensor.of("k", random(B * C * S * H * D, seed + 2));
        Tensor v = Tensor.of("v", random(B * C * S * H * D, seed + 3));
        Tensor kb = Tensor.bf16("kb", B * C * S * H * D), vt = Tensor.bf16("vt", B * C * S * H * D);
        Tensor o = Tensor.f32("o", B * L * HQ * D), lse = Tensor.f32("lse", B * L * HQ * K);
        KernelRunner.run(d, HsaAttentionBf16.packKv(D, S), k, v, kb, vt, B, C * S, H);
        KernelRunner.run(d, HsaAttentionBf16.forward(D, S, HQ / H), q, kb, vt, Tensor.of("indices", indices), Tensor.of("weights", weights), o, lse,
                B, L, HQ, H, K, 1, (float) (1 / Math.sqrt(D)));
        return concat(o.toF32Array(), lse.toF32Array());
    }

    /**
     * dk and dv of the HSA attention backward for a random selection, from lse and delta computed on
     * the Java backend (so that only the dk/dv kernel is compared).
     */
    private static float[] hsaBackwardKv(Device d, int B, int L, int HQ, int H, int D, int S, int K, long seed) {
        int C = L / S;
        int[] indices = new int[B * L * H * K];
        float[] weights = new float[B * L * H * K];
        randomSelection(indices, weights, B, L, H, S, K, 0, C, seed);
        float scale = (float) (1 / Math.sqrt(D));
        Tensor q = Tensor.of("q", random(B * L * HQ * D, seed + 1)), k = Tensor.of("k", random(B * C * S * H * D, seed + 2));
        Tensor v = Tensor.of("v", random(B * C * S * H * D, seed + 3)), dout = Tensor.of("dout", random(B * L * HQ * D, seed + 4));
        Tensor idx = Tensor.of("indices", indices), w = Tensor.of("weights", weights);
        Tensor o = Tensor.f32("o", B * L * HQ * D), lse = Tensor.f32("lse", B * L * HQ * K), dq = Tensor.f32("dq", B * L * HQ * D);
        Tensor dw = Tensor.f32("dweights", B * L * H * K), delta = Tensor.f32("delta", B * L * HQ * K);
        Device java = Devices.java();
        KernelRunner.run(java, HsaAttention.forward(D, S, HQ / H), q, k, v, idx, w, o, lse, B, L, HQ, H, K, 0, scale);
        KernelRunner.run(java, HsaAttention.backwardQ(D, S, HQ / H), q, k, v, idx, w, dout, lse, dq, dw, delta, B, L, HQ, H, K, scale);
        HsaCsr.Csr csr = HsaCsr.reference(indices, B, L, H, C, S, 0, K);
        Tensor dk = Tensor.f32("dk", B * C * S * H * D), dv = Tensor.f32("dv", B * C * S * H * D);
        KernelRunner.run(d, HsaAttention.backwardKv(D, S, HQ / H), q, k, v, w, dout, lse, delta, Tensor.of("chunkStart", csr.chunkStart()),
                Tensor.of("entries", csr.entries()), dk, dv, B, L, HQ, H, K, scale);
        return concat(dk.toF32Array(), dv.toF32Array());
    }

    /** o and lse of the windowed forward (streaming evaluation, decoding) deep into a long context. */
    private static float[] hsaForwardAt(Device d) {
        int B = 1, L = 37, HQ = 6, H = 1, D = 16, S = 32, K = 5, t0 = 1000, C = 40;
        int[] indices = new int[B * L * H * K];
        float[] weights = new float[B * L * H * K];
        randomSelection(indices, weights, B, L, H, S, K, t0, C, 43);
        Tensor q = Tensor.of("q", random(B * L * HQ * D, 44)), k = Tensor.of("k", random(B * C * S * H * D, 45)), v = Tensor.of("v", random(B * C * S * H * D, 46));
        Tensor o = Tensor.f32("o", B * L * HQ * D), lse = Tensor.f32("lse", B * L * HQ * K);
        KernelRunner.run(d, HsaAttention.forwardAt(D, S, HQ / H), q, k, v, Tensor.of("indices", indices), Tensor.of("weights", weights), o, lse,
                B, L, HQ, H, K, 1, (float) (1 / Math.sqrt(D)), t0, C);
        return concat(o.toF32Array(), lse.toF32Array());
    }

    /** o, dq, dk and dv of sliding-window attention. */
    private static float[] slidingWindow(Device d, int b, int l, int hq, int h, int dim, int w, int seed) { return slidingWindow(d, b, l, hq, h, dim, w, seed, false); }

    /** o, dq, dk and dv of sliding-window attention on bf16 q, k, v, dO (the bf16 kernels; o is bf16 too). */
    private static float[] slidingWindowBf16(Device d, int b, int l, int hq, int h, int dim, int w, int seed) { return slidingWindow(d, b, l, hq, h, dim, w, seed, true); }

    private static float[] slidingWindow(Device d, int b, int l, int hq, int h, int dim, int w, int seed, boolean bf16) {
        SlidingWindowAttention.Shape s = new SlidingWindowAttention.Shape(b, l, hq, h, dim, w);
        int nq = b * l * hq * dim, nk = b * l * h * dim;
        java.util.function.BiFunction<String, float[], Tensor> input = bf16 ? Tensor::ofBf16 : Tensor::of;
        Tensor q = input.apply("q", random(nq, seed)), k = input.apply("k", random(nk, seed + 1)), v = input.apply("v", random(nk, seed + 2));
        Tensor dO = input.apply("d_o", random(nq, seed + 3));
        Tensor o = bf16 ? Tensor.bf16("o", nq) : Tensor.f32("o", nq), lse = Tensor.f32("lse", b * l * hq), delta = Tensor.f32("delta", b * l * hq);
        Tensor dq = Tensor.f32("dq", nq), dk = Tensor.f32("dk", nk), dv = Tensor.f32("dv", nk);
        TaskGraph g = SlidingWindowAttention.addForward(new TaskGraph("swa").transferToDevice(DataTransferMode.EVERY_EXECUTION, q, k, v, dO), "", s, q, k, v, o, lse);
        SlidingWindowAttention.addBackward(g, "", s, q, k, v, o, lse, dO, delta, dq, dk, dv)
                .transferToHost(DataTransferMode.EVERY_EXECUTION, o, dq, dk, dv);
        try (ExecutionPlan plan = new ExecutionPlan(g.snapshot()).withDevice(d)) {
            plan.execute();
        }
        return concat(concat(bf16 ? o.bf16ToF32Array() : o.toF32Array(), dq.toF32Array()), concat(dk.toF32Array(), dv.toF32Array()));
    }

    /** o, dq, dk and dv of the chunk encoder's bidirectional attention inside segments of S+1 tokens. */
    private static float[] segmentAttention(Device d) {
        SegmentAttention.Shape s = new SegmentAttention.Shape(6, 65, 4, 2, 32);
        int nq = 6 * 65 * 4 * 32, nk = 6 * 65 * 2 * 32;
        Tensor q = Tensor.of("q", random(nq, 30)), k = Tensor.of("k", random(nk, 31)), v = Tensor.of("v", random(nk, 32)), dO = Tensor.of("d_o", random(nq, 33));
        Tensor o = Tensor.f32("o", nq), lse = Tensor.f32("lse", 6 * 65 * 4), delta = Tensor.f32("delta", 6 * 65 * 4);
        Tensor dq = Tensor.f32("dq", nq), dk = Tensor.f32("dk", nk), dv = Tensor.f32("dv", nk);
        TaskGraph g = SegmentAttention.addForward(new TaskGraph("seg").transferToDevice(DataTransferMode.EVERY_EXECUTION, q, k, v, dO), "", s, q, k, v, o, lse);
        SegmentAttention.addBackward(g, "", s, q, k, v, o, lse, dO, delta, dq, dk, dv)
                .transferToHost(DataTransferMode.EVERY_EXECUTION, o, dq, dk, dv);
        try (ExecutionPlan plan = new ExecutionPlan(g.snapshot()).withDevice(d)) {
            plan.execute();
        }
        return concat(concat(o.toF32Array(), dq.toF32Array()), concat(dk.toF32Array(), dv.toF32Array()));
    }

    private static float[] toFloat(int[] a) {
        float[] f = new float[a.length];
        for (int i = 0; i < a.length; i++) f[i] = a[i];
        return f;
    }

    private static float[] concat(float[] a, float[] b) {
        float[] r = java.util.Arrays.copyOf(a, a.length + b.length);
        System.arraycopy(b, 0, r, a.length, b.length);
        return r;
    }

    private static float[] abs(float[] a) {
        for (int i = 0; i < a.length; i++) a[i] = Math.abs(a[i]);
        return a;
    }

    /** Runs every case on {@code device}, comparing with the Java backend, printing one line per case. */
    public static List<Result> run(Device device, PrintStream out) {
        Device java = Devices.select("java");
        List<Result> results = new ArrayList<>();
        for (Case c : cases()) {
            long t0 = System.nanoTime();
            String name = c.toleranceOn(device) != c.tolerance() ? c.name() + " [tensor cores]" : c.name();
            Result r;
            try {
                float[] got = c.run().apply(device);
                float[] want = c.run().apply(java);
                r = new Result(name, maxRelError(want, got), c.toleranceOn(device), (System.nanoTime() - t0) / 1e6, null);
            } catch (RuntimeException e) {
                r = new Result(name, Double.NaN, c.toleranceOn(device), (System.nanoTime() - t0) / 1e6, e.getMessage());
            }
            results.add(r);
            if (out != null) {
                out.printf("  %-4s %-66s %s%n", r.ok() ? "ok" : "FAIL", r.name(),
                        r.error() != null ? r.error() : String.format("max rel. error %.2e (tolerance %.0e), %.0f ms", r.maxRelError(), r.tolerance(), r.millis()));
            }
        }
        return results;
    }

    static float[] random(int n, long seed) {
        SplittableRandom r = new SplittableRandom(seed);
        float[] a = new float[n];
        for (int i = 0; i < n; i++) a[i] = (float) (r.nextDouble() * 2 - 1);
        return a;
    }

    static double maxRelError(float[] want, float[] got) {
        if (want.length != got.length) return Double.POSITIVE_INFINITY;
        double scale = 1e-30, worst = 0;
        for (float w : want) scale = Math.max(scale, Math.abs(w));
        for (int i = 0; i < want.length; i++) {
            double d = Math.abs((double) want[i] - got[i]);
            if (Double.isNaN(d)) return Double.POSITIVE_INFINITY;
            worst = Math.max(worst, d);
        }
        return worst / scale;
    }
}
