package org.hsajava.kernels;

import static org.hsajava.compute.DType.BF16;
import static org.hsajava.compute.DType.F32;

import org.hsajava.compute.Bf16;
import org.hsajava.compute.Checks;
import org.hsajava.compute.KernelDef;
import org.hsajava.compute.WorkerGrid;
import org.hsajava.compute.java.Parallel;

/**
 * SwiGLU gate (source {@code kernels/swiglu.cl}): {@code h = silu(g) * u}, silu(g) = g * sigmoid(g);
 * backward {@code du = dh * silu(g)}, {@code dg = dh * u * s * (1 + g * (1 - s))}, s = sigmoid(g).
 * Two layouts: separate {@code g, u, h [n]} (any shape, n elements), or the fused projection output
 * {@code gu [rows, 2f]} with the gate in the first half of each row and u in the second
 * ({@code gate, up = proj(x).chunk(2, -1)}), {@code h [rows, f]}, gradient {@code dgu [rows, 2f]}.
 * Backward outputs are overwritten.
 */
public final class SwiGlu {
    private SwiGlu() {}

    private static final String SRC = "kernels/swiglu.cl";

    /** Arguments: {@code g, u, h, n}. */
    public static final KernelDef FORWARD = forward("swiglu_forward", false);

    /**
     * {@link #FORWARD} that also writes {@code h16 = bf16(h)} (nearest, ties to even), the operand of
     * the bf16 down projection. Arguments: {@code g, u, h, h16, n}.
     */
    public static final KernelDef FORWARD_BF16 = forward("swiglu_forward_bf16", true);

    private static KernelDef forward(String entry, boolean bf16Out) {
        KernelDef.Builder b = KernelDef.builder(entry, SRC).in("g", F32).in("u", F32).out("h", F32);
        if (bf16Out) b.out("h16", BF16);
        return b.intArg("n")
                .check(a -> {
                    Checks.positive(a, "n", true);
                    for (String t : new String[] {"g", "u", "h"}) Checks.atLeast(a, t, a.i("n"));
                    if (bf16Out) Checks.atLeast(a, "h16", a.i("n"));
                })
                .grid(a -> WorkerGrid.of1D(Math.max(1, a.i("n")), 256))
                .java(a -> {
                    float[] g = a.f32("g"), u = a.f32("u"), h = a.f32("h");
                    short[] h16 = bf16Out ? a.bf16("h16") : null;
                    int go = a.off("g"), uo = a.off("u"), ho = a.off("h"), h16o = bf16Out ? a.off("h16") : 0;
                    Parallel.forRange(a.i("n"), 1 << 14, (lo, hi) -> {
                        for (int i = lo; i < hi; i++) {
                            h[ho + i] = silu(g[go + i]) * u[uo + i];
                            if (bf16Out) h16[h16o + i] = Bf16.fromFloat(h[ho + i]);
                        }
                    });
                })
                .build();
    }

    /** Arguments: {@code g, u, dh, dg, du, n}. */
    public static final KernelDef BACKWARD = backward("swiglu_backward", false);

    /**
     * {@link #BACKWARD} that also writes {@code dg16 = bf16(dg)} and {@code du16 = bf16(du)}, the
     * gradients the bf16 gate/up GEMMs read. Arguments: {@code g, u, dh, dg, du, dg16, du16, n}.
     */
    public static final KernelDef BACKWARD_BF16 = backward("swiglu_backward_bf16", true);

    private static KernelDef backward(String entry, boolean bf16Out) {
        KernelDef.Builder b = KernelDef.builder(entry, SRC).in("g", F32).in("u", F32).in("dh", F32).out("dg", F32).out("du", F32);
        if (bf16Out) b.out("dg16", BF16).out("du16", BF16);
        return b.intArg("n")
                .check(a -> {
                    Checks.positive(a, "n", true);
                    for (String t : new String[] {"g", "u", "dh", "dg", "du"}) Checks.atLeast(a, t, a.i("n"));
                    if (bf16Out) for (String t : new String[] {"dg16", "du16"}) Checks.atLeast(a, t, a.i("n"));
                })
                .grid(a -> WorkerGrid.of1D(Math.max(1, a.i("n")), 256))
                .java(a -> {
                    float[] g = a.f32("g"), u = a.f32("u"), dh = a.f32("dh"), dg = a.f32("dg"), du = a.f32("du");
                    short[] dg16 = bf16Out ? a.bf16("dg16") : null, du16 = bf16Out ? a.bf16("du16") : null;
                    int go = a.off("g"), uo = a.off("u"), hoff = a.off("dh"), dgo = a.off("dg"), duo = a.off("du");
                    int dg16o = bf16Out ? a.off("dg16") : 0, du16o = bf16Out ? a.off("du16") : 0;
                    Parallel.forRange(a.i("n"), 1 << 14, (lo, hi) -> {
                        for (int i = lo; i < hi; i++) {
                            float gi = g[go + i], ui = u[uo + i], d = dh[hoff + i];
                            float vu = d * silu(gi), vg = dgate(gi, ui, d);
                            du[duo + i] = vu;
                            dg[dgo + i] = vg;
                            if (bf16Out) {
                                du16[du16o + i] = Bf16.fromFloat(vu);
                                dg16[dg16o + i] = Bf16.fromFloat(vg);
                            }
                        }
                    });
                })
                .build();
    }

    /**
     * bf16 activations only: {@code h16 = bf16(silu(g) * u)} from bf16 {@code g16, u16} (the gate/up
     * GEMMs' bf16 outputs), no fp32 output. Arguments: {@code g16, u16, h16, n}.
     */
    public static final KernelDef FORWARD_16 = KernelDef.builder("swiglu_forward_16", SRC)
            .in("g16", BF16).in("u16", BF16).out("h16", BF16).intArg("n")
            .check(a -> {
                Checks.positive(a, "n", true);
                for (String t : new String[] {"g16", "u16", "h16"}) Checks.atLeast(a, t, a.i("n"));
            })
            .grid(a -> WorkerGrid.of1D(Math.max(1, a.i("n")), 256))
            .java(a -> {
                short[] g = a.bf16("g16"), u = a.bf16("u16"), h = a.bf16("h16");
                int go = a.off("g16"), uo = a.off("u16"), ho = a.off("h16");
                Parallel.forRange(a.i("n"), 1 << 14, (lo, hi) -> {
                    for (int i = lo; i < hi; i++) h[ho + i] = act16(g[go + i], u[uo + i]);
                });
            })
            .build();

    /**
     * The backward of {@link #FORWARD_16}: {@code dg16 = bf16(dg)}, {@code du16 = bf16(du)} from bf16
     * {@code g16, u16} and fp32 {@code dh}, no fp32 outputs. Arguments: {@code g16, u16, dh, dg16, du16, n}.
     */
    public static final KernelDef BACKWARD_16 = KernelDef.builder("swiglu_backward_16", SRC)
            .in("g16", BF16).in("u16", BF16).in("dh", F32).out("dg16", BF16).out("du16", BF16).intArg("n")
            .check(a -> {
                Checks.positive(a, "n", true);
                for (String t : new String[] {"g16", "u16", "dh", "dg16", "du16"}) Checks.atLeast(a, t, a.i("n"));
            })
            .grid(a -> WorkerGrid.of1D(Math.max(1, a.i("n")), 256))
            .java(a -> {
                short[] g = a.bf16("g16"), u = a.bf16("u16"), dg = a.bf16("dg16"), du = a.bf16("du16");
                float[] dh = a.f32("dh");
                int go = a.off("g16"), uo = a.off("u16"), ho = a.off("dh"), dgo = a.off("dg16"), duo = a.off("du16");
                Parallel.forRange(a.i("n"), 1 << 14, (lo, hi) -> {
                    for (int i = lo; i < hi; i++) {
                        float gi = Bf16.toFloat(g[go + i]), ui = Bf16.toFloat(u[uo + i]), d = dh[ho + i];
                        du[duo + i] = Bf16.fromFloat(d * silu(gi));
                        dg[dgo + i] = Bf16.fromFloat(dgate(gi, ui, d));
                    }
                });
            })
            .build();

    /** Arguments: {@code gu, h, rows, f}. */
    public static final KernelDef FORWARD_FUSED = KernelDef.builder("swiglu_forward_fused", SRC)
            .in("gu", F32).out("h", F32).intArg("rows").intArg("f")
            .check(a -> {
                Checks.positive(a, "rows", true);
                Checks.positive(a, "f", false);
                Checks.atLeast(a, "gu", 2L * a.i("rows") * a.i("f"));
                Checks.atLeast(a, "h", (long) a.i("rows") * a.i("f"));
            })
            .grid(a -> WorkerGrid.of2D(a.i("f"), Math.max(1, a.i("rows")), 64, 1))
            .java(a -> {
                float[] gu = a.f32("gu"), h = a.f32("h");
                int go = a.off("gu"), ho = a.off("h"), f = a.i("f");
                Parallel.forRange(a.i("rows"), Math.max(1, 8192 / f), (lo, hi) -> {
                    for (int r = lo; r < hi; r++) {
                        for (int c = 0; c < f; c++) {
                            int in = go + r * 2 * f + c;
                            h[ho + r * f + c] = silu(gu[in]) * gu[in + f];
                        }
                    }
                });
            })
            .build();

    /** Arguments: {@code gu, dh, dgu, rows, f}. */
    public static final KernelDef BACKWARD_FUSED = KernelDef.builder("swiglu_backward_fused", SRC)
            .in("gu", F32).in("dh", F32).out("dgu", F32).intArg("rows").intArg("f")
            .check(a -> {
                Checks.positive(a, "rows", true);
                Checks.positive(a, "f", false);
                Checks.atLeast(a, "gu", 2L * a.i("rows") * a.i("f"));
                Checks.atLeast(a, "dh", (long) a.i("rows") * a.i("f"));
                Checks.atLeast(a, "dgu", 2L * a.i("rows") * a.i("f"));
            })
            .grid(a -> WorkerGrid.of2D(a.i("f"), Math.max(1, a.i("rows")), 64, 1))
            .java(a -> {
                float[] gu = a.f32("gu"), dh = a.f32("dh"), dgu = a.f32("dgu");
                int go = a.off("gu"), ho = a.off("dh"), dgo = a.off("dgu"), f = a.i("f");
                Parallel.forRange(a.i("rows"), Math.max(1, 8192 / f), (lo, hi) -> {
                    for (int r = lo; r < hi; r++) {
                        for (int c = 0; c < f; c++) {
                            int in = r * 2 * f + c;
                            float gi = gu[go + in], ui = gu[go + in + f], d = dh[ho + r * f + c];
                            dgu[dgo + in] = dgate(gi, ui, d);
                            dgu[dgo + in + f] = d * silu(gi);
                        }
                    }
                });
            })
            .build();

    private static float sigmoid(float x) { return (float) (1.0 / (1.0 + Math.exp(-x))); }

    private static float silu(float g) { return g * sigmoid(g); }

    /** bf16(silu(g) · u) of bf16 g and u: the bf16 activation of {@link #FORWARD_16} and the SwiGLU epilogue. */
    private static short act16(short g, short u) { return Bf16.fromFloat(silu(Bf16.toFloat(g)) * Bf16.toFloat(u)); }

    /**
     * The Java twin of {@link GemmBf16Wgmma#kernelSwiGlu}'s epilogue: {@code act = bf16(silu(gate) · C)} over
     * the kernel's M x N with C's row stride, after C has been computed.
     */
    static void actFromGate(org.hsajava.compute.KernelArgs a) {
        short[] c = a.bf16("C"), gate = a.bf16("gate"), act = a.bf16("act");
        int co = a.off("C"), go = a.off("gate"), ao = a.off("act"), m = a.i("M"), n = a.i("N"), ldc = a.i("ldc");
        for (int r = 0; r < m; r++) {
            for (int j = 0; j < n; j++) {
                int i = r * ldc + j;
                act[ao + i] = act16(gate[go + i], c[co + i]);
            }
        }
    }

    private static float dgate(float g, float u, float dh) {
        float s = sigmoid(g);
        return dh * u * s * (1f + g * (1f - s));
    }
}
