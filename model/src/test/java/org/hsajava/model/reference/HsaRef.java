package org.hsajava.model.reference;

import java.util.Map;

/**
 * Double-precision reference of the retrieval layer and the HSA layer (docs/authors-model.md §3.5,
 * §3.6), written from the formulas and independent of the kernels. Parameters are read from a map
 * of state-dict names to double arrays, so finite differences can perturb any of them in place.
 * The selection (which chunks) is computed once by {@link #select} and then held fixed: finite
 * differences differentiate the weights and the attention, never the top-K choice.
 */
public final class HsaRef {
    /** The eps of every HSA-side norm (fixed 1e-6 in the authors' code). */
    public static final double EPS = 1e-6;

    /**
     * Shapes and switches. {@code K} is the number of slots K' = min(chunk_topk, C); {@code maskWindow}
     * is the sliding window W when the authors' {@code mask_slide_window} is on, else 0.
     */
    public record Dims(int B, int L, int D, int HQ, int Hk, int hd, int R, int S, int K, int I,
                       boolean softmax, int n, boolean bypass, boolean qkNorm, boolean lmkNorm, int maskWindow) {
        public int C() { return L / S; }
        public int dr() { return R / Hk; }
        public int rows() { return B * L; }

        /**
         * Chunks position t may retrieve, counted one by one with the authors' two rules (their
         * RetrievalLayer mask): chunk c ends at or before t ((c+1)·S ≤ t), or with mask_slide_window
         * it starts W or more tokens back (c·S ≤ t − W). Eligible chunks are always a prefix 0..e−1.
         */
        public int eligible(int t) {
            int e = 0;
            for (int c = 0; c < C(); c++) if (maskWindow > 0 ? c * S <= t - maskWindow : (c + 1) * S <= t) e++;
            return e;
        }

        /** Valid slots of position t: min(K', eligible chunks). */
        public int valid(int t) { return Math.min(K, eligible(t)); }
    }

    /** A selection: indices {@code [B, L, Hk, K]} and the smallest score gap between a kept and a dropped chunk. */
    public record Selection(int[] indices, double minMargin) {}

    private final Dims d;
    private final Map<String, double[]> p;
    private final String retrieval, hsa;

    /** {@code retrievalPrefix}/{@code hsaPrefix}: e.g. "backbone.layers.1." (either may be null if unused). */
    public HsaRef(Dims d, Map<String, double[]> params, String retrievalPrefix, String hsaPrefix) {
        this.d = d;
        this.p = params;
        this.retrieval = retrievalPrefix;
        this.hsa = hsaPrefix;
    }

    // ------------------------------------------------------------------ retrieval

    /** Retrieval queries {@code [B, L, Hk, dr]} (after lmk_q_norm when enabled). */
    public double[] retrievalQueries(double[] h) {
        double[] xn = RefOps.rmsNorm(h, p.get(retrieval + "pre_norm.weight"), d.rows(), d.D(), EPS);
        double[] qr = RefOps.linear(xn, p.get(retrieval + "ln.weight"), null, d.rows(), d.D(), d.R());
        if (d.lmkNorm()) qr = RefOps.rmsNorm(qr, p.get(retrieval + "lmk_q_norm.weight"), d.rows() * d.Hk(), d.dr(), EPS);
        return qr;
    }

    /** Landmarks as the scores see them (after lmk_k_norm when enabled). */
    public double[] usedLandmarks(double[] landmarks) {
        return d.lmkNorm() ? RefOps.rmsNorm(landmarks, p.get(retrieval + "lmk_k_norm.weight"), d.B() * d.C() * d.Hk(), d.dr(), EPS) : landmarks;
    }

    private double score(double[] qr, double[] lm, int b, int t, int h, int c) {
        int dr = d.dr();
        double s = 0;
        for (int i = 0; i < dr; i++) s += qr[((b * d.L() + t) * d.Hk() + h) * dr + i] * lm[((b * d.C() + c) * d.Hk() + h) * dr + i];
        return s / Math.sqrt(dr);
    }

    /** Top-K' eligible chunks by score, ordered most recent first; invalid slots 0. */
    public Selection select(double[] h, double[] landmarks) {
        double[] qr = retrievalQueries(h), lm = usedLandmarks(landmarks);
        int K = d.K();
        int[] idx = new int[d.rows() * d.Hk() * K];
        double margin = Double.POSITIVE_INFINITY;
        for (int b = 0; b < d.B(); b++) {
            for (int t = 0; t < d.L(); t++) {
                int eligible = d.eligible(t), nv = d.valid(t);
                for (int h0 = 0; h0 < d.Hk(); h0++) {
                    double[] s = new double[eligible];
                    Integer[] order = new Integer[eligible];
                    for (int c = 0; c < eligible; c++) {
                        s[c] = score(qr, lm, b, t, h0, c);
                        order[c] = c;
                    }
                    java.util.Arrays.sort(order, (x, y) -> Double.compare(s[y], s[x]));
                    if (nv < eligible) margin = Math.min(margin, s[order[nv - 1]] - s[order[nv]]);
                    int[] kept = new int[nv];
                    for (int k = 0; k < nv; k++) kept[k] = order[k];
                    java.util.Arrays.sort(kept);
                    int row = (b * d.L() + t) * d.Hk() + h0;
                    for (int k = 0; k < nv; k++) idx[row * K + k] = kept[nv - 1 - k];
                }
            }
        }
        return new Selection(idx, margin);
    }

    /** Chunk weights {@code [B, L, Hk, K]} for the fixed indices. */
    public double[] weights(double[] h, double[] landmarks, int[] idx) {
        double[] qr = retrievalQueries(h), lm = usedLandmarks(landmarks);
        int K = d.K();
        double[] w = new double[idx.length];
        for (int b = 0; b < d.B(); b++) {
            for (int t = 0; t < d.L(); t++) {
                int nv = d.valid(t);
                for (int h0 = 0; h0 < d.Hk(); h0++) {
                    int row = (b * d.L() + t) * d.Hk() + h0;
                    double[] s = new double[nv];
                    for (int k = 0; k < nv; k++) s[k] = score(qr, lm, b, t, h0, idx[row * K + k]);
                    if (d.softmax()) {
                        double max = Double.NEGATIVE_INFINITY, sum = 0;
                        for (double v : s) max = Math.max(max, v);
                        for (double v : s) sum += Math.exp(v - max);
                        for (int k = 0; k < nv; k++) w[row * K + k] = Math.exp(s[k] - max) / sum;
                    } else {
                        // w_k = sigma(s_k) prod_{j<k} (1 - sigma(s_j)) = exp(s_k - sum_{j<=k} softplus(s_j)), torch threshold 15.
                        double acc = 0;
                        for (int k = 0; k < nv; k++) {
                            acc += s[k] > 15 ? s[k] : Math.log1p(Math.exp(s[k]));
                            w[row * K + k] = Math.exp(s[k] - acc);
                        }
                    }
                }
            }
        }
        return w;
    }

    // ------------------------------------------------------------------ HSA layer

    /**
     * Per-chunk attention: {@code O[t,j] = Σ_{valid k} w_k Σ_{j'} p_{j'} v[c·S+j']}, p a softmax over the
     * chunk's S keys with denominator {@code Σ exp + n}. q {@code [B, L, HQ, hd]}, k/v {@code [B, C·S, Hk, hd]}.
     */
    public double[] attention(double[] q, double[] k, double[] v, int[] idx, double[] w) {
        int HQ = d.HQ(), Hk = d.Hk(), hd = d.hd(), S = d.S(), K = d.K(), G = HQ / Hk, lkv = d.C() * S;
        double scale = 1 / Math.sqrt(hd);
        double[] o = new double[d.rows() * HQ * hd];
        double[] s = new double[S];
        for (int b = 0; b < d.B(); b++) {
            for (int t = 0; t < d.L(); t++) {
                for (int j = 0; j < HQ; j++) {
                    int h0 = j / G, qRow = ((b * d.L() + t) * HQ + j) * hd, sel = (b * d.L() + t) * Hk + h0;
                    for (int slot = 0; slot < d.valid(t); slot++) {
                        int c = idx[sel * K + slot];
                        double max = Double.NEGATIVE_INFINITY;
                        for (int jj = 0; jj < S; jj++) {
                            int kr = ((b * lkv + c * S + jj) * Hk + h0) * hd;
                            double dot = 0;
                            for (int e = 0; e < hd; e++) dot += q[qRow + e] * k[kr + e];
                            s[jj] = dot * scale;
                            max = Math.max(max, s[jj]);
                        }
                        double den = d.n() * Math.exp(-max);
                        for (int jj = 0; jj < S; jj++) den += Math.exp(s[jj] - max);
                        for (int jj = 0; jj < S; jj++) {
                            double pw = w[sel * K + slot] * Math.exp(s[jj] - max) / den;
                            int vr = ((b * lkv + c * S + jj) * Hk + h0) * hd;
                            for (int e = 0; e < hd; e++) o[qRow + e] += pw * v[vr + e];
                        }
                    }
                }
            }
        }
        return o;
    }

    /** The HSA layer's output {@code [B·L, D]} for the given selection (indices fixed, weights as given). */
    public double[] hsaLayer(double[] h, double[] memK, double[] memV, int[] idx, double[] w) {
        int rows = d.rows(), D = d.D(), qDim = d.HQ() * d.hd(), I = d.I();
        double[] xn = RefOps.rmsNorm(h, p.get(hsa + "pre_norm.weight"), rows, D, EPS);
        double[] q = RefOps.linear(xn, p.get(hsa + "q_proj.weight"), null, rows, D, qDim);
        if (d.qkNorm()) q = RefOps.rmsNorm(q, p.get(hsa + "q_norm.weight"), rows * d.HQ(), d.hd(), EPS);
        double[] ctx = attention(q, memK, memV, idx, w);
        double[] o = RefOps.linear(ctx, p.get(hsa + "o_proj.weight"), null, rows, qDim, D);
        double[] u = RefOps.add(h, o);
        double[] m = RefOps.rmsNorm(u, p.get(hsa + "_mlp_norm.weight"), rows, D, EPS);
        double[] gate = RefOps.linear(m, p.get(hsa + "_mlp.gate_proj.weight"), null, rows, D, I);
        double[] up = RefOps.linear(m, p.get(hsa + "_mlp.up_proj.weight"), null, rows, D, I);
        double[] y = RefOps.linear(RefOps.swiglu(gate, up), p.get(hsa + "_mlp.down_proj.weight"), null, rows, I, D);
        return RefOps.add(d.bypass() ? h : u, y);
    }
}
