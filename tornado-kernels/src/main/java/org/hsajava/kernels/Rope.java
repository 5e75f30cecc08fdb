package org.hsajava.kernels;

import static org.hsajava.compute.DType.BF16;
import static org.hsajava.compute.DType.F32;
import static org.hsajava.compute.DType.I32;

import java.math.BigDecimal;
import java.math.MathContext;
import java.math.RoundingMode;
import org.hsajava.compute.Bf16;
import org.hsajava.compute.Checks;
import org.hsajava.compute.KernelArgs;
import org.hsajava.compute.KernelDef;
import org.hsajava.compute.WorkerGrid;
import org.hsajava.compute.java.Parallel;

/**
 * Rotary position embedding, HuggingFace Llama convention (source {@code kernels/rope.cl}).
 * {@code x, out [tokens, heads, d]} row-major (tokens = batch * len, d even, half = d / 2); pair
 * (i, i + half) of a token at position p turns by the angle {@code p * invFreq[i]}:
 * {@code out = x * cos + rotate_half(x) * sin}, {@code rotate_half([x1, x2]) = [-x2, x1]}.
 * The {@code BACKWARD_*} kernels turn by the negative angle: {@code dx = R(-a) dy}. {@code out} may
 * be {@code x} itself (in place).
 *
 * <p>Frequencies come as a table from {@link #frequencyTable(int, double)} (argument {@code freq},
 * I32, {@code d} ints): each frequency is a 64-bit fixed-point fraction of a turn, so the kernel
 * reduces {@code p * invFreq} modulo one turn exactly in integer arithmetic and the angle stays
 * accurate to about 2e-7 rad for any position below 2^31 (plain fp32 {@code p * invFreq} is off by
 * up to ~1 rad at p = 16M). Other RoPE variants (scaled frequencies) only need another table
 * ({@link #frequencyTable(double[])}).
 *
 * <p>Positions: {@code *_CONTIGUOUS} uses {@code start + l}, l the index inside the sequence
 * ({@code token % len}); a chunk encoder running [chunks, S+1] sequences passes start 0.
 * {@code *_POSITIONS} reads one int position per token from a tensor.
 */
public final class Rope {
    private Rope() {}

    private static final String SRC = "kernels/rope.cl";

    /** Arguments: {@code x, out, freq, tokens, len, heads, d, start}. */
    public static final KernelDef FORWARD_CONTIGUOUS = contiguous(false, false);
    /** As {@link #FORWARD_CONTIGUOUS} with {@code out} bf16 (rounded to nearest even; the bf16 attention kernels' inputs). */
    public static final KernelDef FORWARD_CONTIGUOUS_BF16 = contiguous(false, true);
    /** Arguments: {@code dy, dx, freq, tokens, len, heads, d, start}. */
    public static final KernelDef BACKWARD_CONTIGUOUS = contiguous(true, false);
    /** Arguments: {@code x, out, freq, positions, tokens, heads, d}. */
    public static final KernelDef FORWARD_POSITIONS = positions(false);
    /** Arguments: {@code dy, dx, freq, positions, tokens, heads, d}. */
    public static final KernelDef BACKWARD_POSITIONS = positions(true);

    private static final BigDecimal TWO_PI = new BigDecimal("6.28318530717958647692528676655900576839433879875021");
    private static final BigDecimal TWO_POW_64 = new BigDecimal(java.math.BigInteger.ONE.shiftLeft(64));

    /** The table for standard RoPE: {@code invFreq[i] = 1 / theta^(2i/d)}, i &lt; d/2 (computed in double). */
    public static int[] frequencyTable(int d, double theta) {
        if (d <= 0 || d % 2 != 0) throw new IllegalArgumentException("head dimension must be even and positive, got " + d);
        double[] inv = new double[d / 2];
        for (int i = 0; i < inv.length; i++) inv[i] = 1.0 / Math.pow(theta, 2.0 * i / d);
        return frequencyTable(inv);
    }

    /**
     * The table for arbitrary inverse frequencies (radians per position, each in [0, 2pi)):
     * {@code F[i] = round(invFreq[i] / 2pi * 2^64)}, stored low 32 bits first as ints {@code 2i, 2i+1}.
     */
    public static int[] frequencyTable(double[] invFreq) {
        int[] table = new int[invFreq.length * 2];
        for (int i = 0; i < invFreq.length; i++) {
            double f = invFreq[i];
            if (!(f >= 0 && f < 2 * Math.PI)) throw new IllegalArgumentException("inverse frequency " + i + " = " + f + " is outside [0, 2pi)");
            long fixed = new BigDecimal(f).divide(TWO_PI, MathContext.DECIMAL128).multiply(TWO_POW_64)
                    .setScale(0, RoundingMode.HALF_EVEN).toBigInteger().longValue(); // < 2^64: the low 64 bits are the value
            table[2 * i] = (int) fixed;
            table[2 * i + 1] = (int) (fixed >>> 32);
        }
        return table;
    }

    /** The angle {@code p * invFreq[i]} reduced to [-pi, pi], as the kernel computes it but in double. */
    public static double angle(int[] table, int tableOffset, int i, int position) {
        long f = (table[tableOffset + 2 * i] & 0xffffffffL) | ((long) table[tableOffset + 2 * i + 1] << 32);
        long turns = (long) position * f; // wraps modulo 2^64 exactly like the kernel's ulong product
        return turns * 0x1p-63 * Math.PI;
    }

    private static KernelDef contiguous(boolean inverse, boolean outBf16) {
        String in = inverse ? "dy" : "x", out = inverse ? "dx" : "out";
        return KernelDef.builder("rope_contiguous", SRC)
                .in(in, F32).out(out, outBf16 ? BF16 : F32).in("freq", I32).intArg("tokens").intArg("len").intArg("heads").intArg("d").intArg("start")
                .define("ROPE_INVERSE", inverse ? 1 : 0).define("ROPE_OUT_BF16", outBf16 ? 1 : 0)
                .check(a -> {
                    checkShape(a, in, out);
                    Checks.positive(a, "len", false);
                    if (a.i("tokens") % a.i("len") != 0) throw new IllegalArgumentException("argument 'tokens' (" + a.i("tokens") + ") is not a multiple of 'len' (" + a.i("len") + ")");
                })
                .grid(Rope::grid)
                .java(a -> {
                    int len = a.i("len"), start = a.i("start");
                    rotate(a, in, out, inverse, t -> start + t % len);
                })
                .build();
    }

    private static KernelDef positions(boolean inverse) {
        String in = inverse ? "dy" : "x", out = inverse ? "dx" : "out";
        return KernelDef.builder("rope_positions", SRC)
                .in(in, F32).out(out, F32).in("freq", I32).in("positions", I32).intArg("tokens").intArg("heads").intArg("d")
                .define("ROPE_INVERSE", inverse ? 1 : 0)
                .check(a -> {
                    checkShape(a, in, out);
                    Checks.atLeast(a, "positions", a.i("tokens"));
                })
                .grid(Rope::grid)
                .java(a -> {
                    int[] pos = a.i32("positions");
                    int po = a.off("positions");
                    rotate(a, in, out, inverse, t -> pos[po + t]);
                })
                .build();
    }

    private static void checkShape(KernelArgs a, String in, String out) {
        Checks.positive(a, "tokens", true);
        Checks.positive(a, "heads", false);
        Checks.positive(a, "d", false);
        if (a.i("d") % 2 != 0) throw new IllegalArgumentException("argument 'd' must be even, got " + a.i("d"));
        long n = (long) a.i("tokens") * a.i("heads") * a.i("d");
        Checks.atLeast(a, in, n);
        Checks.atLeast(a, out, n);
        Checks.atLeast(a, "freq", a.i("d"));
    }

    private static WorkerGrid grid(KernelArgs a) {
        // One work-item per (pair, token), looping over the heads; 128-item groups of 32 pairs x 4 tokens.
        return WorkerGrid.of2D(a.i("d") / 2, Math.max(1, a.i("tokens")), 32, 4);
    }

    private static void rotate(KernelArgs a, String in, String out, boolean inverse, java.util.function.IntUnaryOperator positionOf) {
        float[] x = a.f32(in);
        boolean bf16 = a.tensor(out).dtype() == BF16;
        float[] y = bf16 ? null : a.f32(out);
        short[] y16 = bf16 ? a.bf16(out) : null;
        int[] freq = a.i32("freq");
        int xo = a.off(in), yo = a.off(out), fo = a.off("freq");
        int heads = a.i("heads"), d = a.i("d"), half = d / 2;
        Parallel.forEach(a.i("tokens"), t -> {
            int p = positionOf.applyAsInt(t);
            for (int i = 0; i < half; i++) {
                double ang = angle(freq, fo, i, p);
                float c = (float) Math.cos(ang), s = (float) (inverse ? -Math.sin(ang) : Math.sin(ang));
                for (int h = 0; h < heads; h++) {
                    int base = (t * heads + h) * d;
                    float x1 = x[xo + base + i], x2 = x[xo + base + i + half];
                    float r1 = x1 * c - x2 * s, r2 = x2 * c + x1 * s;
                    if (bf16) {
                        y16[yo + base + i] = Bf16.fromFloat(r1);
                        y16[yo + base + i + half] = Bf16.fromFloat(r2);
                    } else {
                        y[yo + base + i] = r1;
                        y[yo + base + i + half] = r2;
                    }
                }
            }
        });
    }
}
