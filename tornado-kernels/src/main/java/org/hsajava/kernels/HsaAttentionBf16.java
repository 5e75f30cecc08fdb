package org.hsajava.kernels;

import static org.hsajava.compute.DType.BF16;
import static org.hsajava.compute.DType.F32;
import static org.hsajava.compute.DType.I32;

import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import org.hsajava.compute.Bf16;
import org.hsajava.compute.Checks;
import org.hsajava.compute.KernelArgs;
import org.hsajava.compute.KernelDef;
import org.hsajava.compute.WorkerGrid;
import org.hsajava.compute.java.Parallel;
import org.hsajava.compute.opencl.TensorCores;

/**
 * The HSA attention forward with K and V stored as bf16 (source {@code kernels/hsa_attn_bf16.cl}):
 * {@link #packKv} rounds k and v to bf16 once (v transposed per chunk), then {@link #forward} runs the
 * per-chunk attention of {@link HsaAttention#forward} on bf16 tensor cores ({@code mma.sync m16n8k16}
 * with fp32 accumulation, one warp per (b, t, h)). The forward of {@link HsaAttention} on TF32 tensor
 * cores reads every selected chunk's fp32 K and V rows from L2 once per token and is bound by that
 * traffic; here it is half.
 *
 * <p>It computes the forward of {@link HsaAttention} with q, k and v rounded to bf16 and the weighted
 * chunk probabilities {@code w·p/z} rounded to bf16 before they multiply V (as the Java oracle does, so
 * the two differ only by summation order); the softmax, lse and the sum over slots stay fp32. Against
 * the fp32 forward the outputs differ by about bf16's unit roundoff (2^-9) of their magnitude.
 *
 * <p>Layouts: {@code q, o} [B, L, HQ, D] fp32; {@code kb} [B, Lkv, H, D] bf16; {@code vt} [B, H, C, D, S]
 * bf16 ({@code vt[b,h,c,d,j] = v[b, c·S+j, h, d]}); {@code indices, weights} [B, L, H, K]; {@code lse}
 * [B, L, HQ, K]; Lkv = C·S, C = L/S (as {@link HsaAttention}).
 *
 * <p>The forward's OpenCL code needs NVIDIA tensor cores ({@link TensorCores}); on other devices the
 * definition runs the same source with the PTX instructions emulated in portable OpenCL C (correct
 * and slow: tests run it on PoCL). Callers pick it only where tensor cores are enabled and otherwise
 * use {@link HsaAttention#forward} on fp32 K and V.
 */
public final class HsaAttentionBf16 {
    private HsaAttentionBf16() {}

    private static final String SRC = "kernels/hsa_attn_bf16.cl";
    private static final Map<String, KernelDef> CACHE = new ConcurrentHashMap<>();
    private static final int PACK_WG = 256;

    /**
     * Packs K and V to bf16. Arguments: {@code k, v} [B, Lkv, H, D] fp32, {@code kb} [B, Lkv, H, D] and
     * {@code vt} [B, H, Lkv/S, D, S] bf16, then {@code B, Lkv, H} (Lkv a multiple of S). Writes kb, vt.
     */
    public static KernelDef packKv(int d, int s) {
        requireIn16To128("D", d);
        requireIn16To128("S", s);
        return CACHE.computeIfAbsent("pack/" + d + "/" + s, key -> KernelDef.builder("hsa_kv_bf16", SRC)
                .define("D", d).define("S", s).define("G", 1)
                .in("k", F32).in("v", F32).out("kb", BF16).out("vt", BF16)
                .intArg("B").intArg("Lkv").intArg("H")
                .check(a -> {
                    for (String p : new String[] {"B", "H"}) Checks.positive(a, p, false);
                    Checks.positive(a, "Lkv", true);
                    if (a.i("Lkv") % s != 0) throw new IllegalArgumentException("argument 'Lkv'=" + a.i("Lkv") + " must be a multiple of S=" + s);
                    long n = (long) a.i("B") * a.i("Lkv") * a.i("H") * d;
                    for (String p : new String[] {"k", "v", "kb", "vt"}) Checks.exactly(a, p, n);
                })
                .grid(a -> WorkerGrid.of1D(Math.max(1L, (long) a.i("B") * a.i("Lkv") * a.i("H") * d / 2), PACK_WG))
                .java(a -> packJava(a, d, s))
                .build());
    }

    /**
     * Forward. Arguments: {@code q, kb, vt, indices, weights, o, lse, B, L, HQ, H, K, n, scale}, as
     * {@link HsaAttention#forward} with kb and vt from {@link #packKv}. Writes o and lse.
     */
    public static KernelDef forward(int d, int s, int g) {
        return CACHE.computeIfAbsent("fwd/" + d + "/" + s + "/" + g, key -> forwardDef(d, s, g, true));
    }

    private static KernelDef forwardDef(int d, int s, int g, boolean emulated) {
        requireIn16To128("D", d);
        requireIn16To128("S", s);
        if (g < 1 || g > 2048 / Math.max(d, s)) throw new IllegalArgumentException("G=" + g + " unsupported with D=" + d + ", S=" + s);
        KernelDef.Builder b = KernelDef.builder("hsa_attn_fwd_bf16", SRC).define("D", d).define("S", s).define("G", g);
        if (emulated) b.define("TC_EMULATE", 1);
        return b.in("q", F32).in("kb", BF16).in("vt", BF16).in("indices", I32).in("weights", F32)
                .out("o", F32).out("lse", F32)
                .intArg("B").intArg("L").intArg("HQ").intArg("H").intArg("K").intArg("n").floatArg("scale")
                .check(a -> {
                    for (String p : new String[] {"B", "L", "HQ", "H", "K"}) Checks.positive(a, p, false);
                    int n = a.i("n");
                    if (n != 0 && n != 1) throw new IllegalArgumentException("argument 'n' must be 0 or 1, got " + n);
                    if (a.i("HQ") != a.i("H") * g) throw new IllegalArgumentException("arguments 'HQ'=" + a.i("HQ") + " and 'H'=" + a.i("H") + " do not match the compiled G=" + g);
                    long bl = (long) a.i("B") * a.i("L"), kv = (long) a.i("B") * (a.i("L") / s) * s * a.i("H") * d;
                    Checks.exactly(a, "q", bl * a.i("HQ") * d);
                    Checks.exactly(a, "o", bl * a.i("HQ") * d);
                    Checks.exactly(a, "kb", kv);
                    Checks.exactly(a, "vt", kv);
                    Checks.exactly(a, "indices", bl * a.i("H") * a.i("K"));
                    Checks.exactly(a, "weights", bl * a.i("H") * a.i("K"));
                    Checks.exactly(a, "lse", bl * a.i("HQ") * a.i("K"));
                })
                .grid(a -> WorkerGrid.of1D((long) a.i("B") * a.i("L") * a.i("H") * 32, 32))
                .java(a -> forwardJava(a, d, s, g))
                .variant(!emulated ? null : info -> TensorCores.enabled(info) ? CACHE.computeIfAbsent("fwdtc/" + d + "/" + s + "/" + g, key -> forwardDef(d, s, g, false)) : null)
                .build();
    }

    private static void requireIn16To128(String what, int v) {
        if (v != 16 && v != 32 && v != 64 && v != 128) throw new IllegalArgumentException(what + " must be 16, 32, 64 or 128, got " + v);
    }

    // ------------------------------------------------------------------ Java oracles

    private static void packJava(KernelArgs a, int D, int S) {
        float[] k = a.f32("k"), v = a.f32("v");
        short[] kb = a.bf16("kb"), vt = a.bf16("vt");
        int kO = a.off("k"), vO = a.off("v"), kbO = a.off("kb"), vtO = a.off("vt");
        int B = a.i("B"), Lkv = a.i("Lkv"), H = a.i("H"), C = Lkv / S;
        for (int i = 0; i < B * Lkv * H * D; i++) kb[kbO + i] = Bf16.fromFloat(k[kO + i]);
        Parallel.forEach(B * H * C, bhc -> {
            int c = bhc % C, h = bhc / C % H, b = bhc / C / H;
            for (int d = 0; d < D; d++) {
                for (int j = 0; j < S; j++) {
                    vt[vtO + (bhc * D + d) * S + j] = Bf16.fromFloat(v[vO + ((b * Lkv + c * S + j) * H + h) * D + d]);
                }
            }
        });
    }

    private static void forwardJava(KernelArgs a, int D, int S, int G) {
        float[] q = a.f32("q"), w = a.f32("weights"), o = a.f32("o"), lse = a.f32("lse");
        short[] kb = a.bf16("kb"), vt = a.bf16("vt");
        int[] idx = a.i32("indices");
        int qO = a.off("q"), kbO = a.off("kb"), vtO = a.off("vt"), wO = a.off("weights"), iO = a.off("indices"), oO = a.off("o"), lO = a.off("lse");
        int B = a.i("B"), L = a.i("L"), HQ = a.i("HQ"), H = a.i("H"), K = a.i("K"), n = a.i("n");
        float scale = a.f("scale");
        int C = L / S, Lkv = C * S;
        Parallel.forEach(B * L * H, item -> {
            int h = item % H, bt = item / H, t = bt % L, b = bt / L, nv = Math.min(K, Math.min(C, t / S));
            float[] s = new float[S], qr = new float[D];
            for (int g = 0; g < G; g++) {
                int row = bt * HQ + h * G + g;
                for (int d = 0; d < D; d++) qr[d] = Bf16.round(q[qO + row * D + d]);
                float[] acc = new float[D];
                for (int slot = 0; slot < K; slot++) {
                    if (slot >= nv) {
                        lse[lO + row * K + slot] = 0f;
                        continue;
                    }
                    int c = idx[iO + item * K + slot];
                    float m = Float.NEGATIVE_INFINITY;
                    for (int j = 0; j < S; j++) {
                        int kr = kbO + ((b * Lkv + c * S + j) * H + h) * D;
                        float dot = 0f;
                        for (int d = 0; d < D; d++) dot += qr[d] * Bf16.toFloat(kb[kr + d]);
                        s[j] = scale * dot;
                        m = Math.max(m, s[j]);
                    }
                    if (n > 0) m = Math.max(m, 0f);
                    float z = n > 0 ? n * (float) Math.exp(-m) : 0f;
                    for (int j = 0; j < S; j++) {
                        s[j] = (float) Math.exp(s[j] - m);
                        z += s[j];
                    }
                    lse[lO + row * K + slot] = m + (float) Math.log(z);
                    float f = w[wO + item * K + slot] / z;
                    int vc = vtO + ((b * H + h) * C + c) * D * S;
                    for (int j = 0; j < S; j++) {
                        float p = Bf16.round(s[j] * f);
                        for (int d = 0; d < D; d++) acc[d] += p * Bf16.toFloat(vt[vc + d * S + j]);
                    }
                }
                System.arraycopy(acc, 0, o, oO + row * D, D);
            }
        });
    }
}
