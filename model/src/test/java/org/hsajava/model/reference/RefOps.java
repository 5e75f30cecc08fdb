package org.hsajava.model.reference;

import java.util.function.BiPredicate;

/**
 * The model's building blocks as plain double-precision loops, written from the formulas in
 * docs/authors-model.md §3 and independent of the kernels: the reference that layer and model tests
 * compare against, and the function that finite differences are taken of. Row-major everywhere.
 */
public final class RefOps {
    private RefOps() {}

    /** {@code y[r, o] = Σ_i x[r, i]·w[o, i] + b[o]} ({@code b} may be null). */
    public static double[] linear(double[] x, double[] w, double[] b, int rows, int in, int out) {
        double[] y = new double[rows * out];
        for (int r = 0; r < rows; r++) {
            for (int o = 0; o < out; o++) {
                double s = b == null ? 0 : b[o];
                for (int i = 0; i < in; i++) s += x[r * in + i] * w[o * in + i];
                y[r * out + o] = s;
            }
        }
        return y;
    }

    /** {@code y = x / sqrt(mean(x²) + eps) · w} per row of length d ({@code w} may be null). */
    public static double[] rmsNorm(double[] x, double[] w, int rows, int d, double eps) {
        double[] y = new double[rows * d];
        for (int r = 0; r < rows; r++) {
            double ss = 0;
            for (int i = 0; i < d; i++) ss += x[r * d + i] * x[r * d + i];
            double rstd = 1 / Math.sqrt(ss / d + eps);
            for (int i = 0; i < d; i++) y[r * d + i] = x[r * d + i] * rstd * (w == null ? 1 : w[i]);
        }
        return y;
    }

    /**
     * HF/NeoX rotary embedding on {@code x [tokens, heads, d]}: pairs (i, i + d/2) rotate by
     * {@code pos·theta^(-2i/d)}; {@code positions[token]} gives each token's position.
     */
    public static double[] rope(double[] x, int[] positions, int tokens, int heads, int d, double theta) {
        double[] y = new double[x.length];
        int half = d / 2;
        for (int t = 0; t < tokens; t++) {
            for (int i = 0; i < half; i++) {
                double angle = positions[t] * Math.pow(theta, -2.0 * i / d);
                double c = Math.cos(angle), s = Math.sin(angle);
                for (int h = 0; h < heads; h++) {
                    int base = (t * heads + h) * d;
                    double x1 = x[base + i], x2 = x[base + i + half];
                    y[base + i] = x1 * c - x2 * s;
                    y[base + i + half] = x2 * c + x1 * s;
                }
            }
        }
        return y;
    }

    public static double silu(double v) { return v / (1 + Math.exp(-v)); }

    /** {@code silu(g) ⊙ u}. */
    public static double[] swiglu(double[] g, double[] u) {
        double[] h = new double[g.length];
        for (int i = 0; i < g.length; i++) h[i] = silu(g[i]) * u[i];
        return h;
    }

    /**
     * Softmax attention with GQA: q [B, Lq, HQ, D], k and v [B, Lk, H, D]; query head j uses KV head
     * j / (HQ/H); key kk is visible to query t iff {@code visible.test(t, kk)}; a query that sees no
     * key outputs 0.
     */
    public static double[] attention(double[] q, double[] k, double[] v, int B, int Lq, int Lk, int HQ, int H, int D,
                                     double scale, BiPredicate<Integer, Integer> visible) {
        double[] o = new double[B * Lq * HQ * D];
        int G = HQ / H;
        double[] p = new double[Lk];
        for (int b = 0; b < B; b++) {
            for (int t = 0; t < Lq; t++) {
                for (int j = 0; j < HQ; j++) {
                    int h = j / G;
                    double max = Double.NEGATIVE_INFINITY;
                    for (int kk = 0; kk < Lk; kk++) {
                        if (!visible.test(t, kk)) { p[kk] = Double.NEGATIVE_INFINITY; continue; }
                        double s = 0;
                        for (int d = 0; d < D; d++) s += q[((b * Lq + t) * HQ + j) * D + d] * k[((b * Lk + kk) * H + h) * D + d];
                        p[kk] = s * scale;
                        max = Math.max(max, p[kk]);
                    }
                    if (max == Double.NEGATIVE_INFINITY) continue;
                    double sum = 0;
                    for (int kk = 0; kk < Lk; kk++) sum += p[kk] = p[kk] == Double.NEGATIVE_INFINITY ? 0 : Math.exp(p[kk] - max);
                    for (int kk = 0; kk < Lk; kk++) {
                        if (p[kk] == 0) continue;
                        for (int d = 0; d < D; d++) o[((b * Lq + t) * HQ + j) * D + d] += p[kk] / sum * v[((b * Lk + kk) * H + h) * D + d];
                    }
                }
            }
        }
        return o;
    }

    /** Mean cross-entropy over rows whose target is not {@code ignore}; 0 if every row is ignored. */
    public static double crossEntropy(double[] logits, int[] targets, int rows, int vocab, int ignore) {
        double total = 0;
        int count = 0;
        for (int r = 0; r < rows; r++) {
            if (targets[r] == ignore) continue;
            double max = Double.NEGATIVE_INFINITY;
            for (int v = 0; v < vocab; v++) max = Math.max(max, logits[r * vocab + v]);
            double sum = 0;
            for (int v = 0; v < vocab; v++) sum += Math.exp(logits[r * vocab + v] - max);
            total += Math.log(sum) + max - logits[r * vocab + targets[r]];
            count++;
        }
        return count == 0 ? 0 : total / count;
    }

    public static double dot(double[] a, double[] b) {
        double s = 0;
        for (int i = 0; i < a.length; i++) s += a[i] * b[i];
        return s;
    }

    public static double[] add(double[] a, double[] b) {
        double[] c = new double[a.length];
        for (int i = 0; i < a.length; i++) c[i] = a[i] + b[i];
        return c;
    }

    public static double[] toDouble(float[] a) {
        double[] d = new double[a.length];
        for (int i = 0; i < a.length; i++) d[i] = a[i];
        return d;
    }
}
