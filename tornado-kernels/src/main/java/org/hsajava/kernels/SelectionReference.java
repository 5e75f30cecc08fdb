package org.hsajava.kernels;

import static org.hsajava.kernels.HsaSelection.forRows;
import static org.hsajava.kernels.HsaSelection.rows;
import static org.hsajava.kernels.HsaSelection.validSlots;

import org.hsajava.compute.KernelArgs;
import org.hsajava.compute.java.Parallel;
import org.hsajava.kernels.HsaSelection.WeightMode;

/**
 * The Java loops of {@link HsaSelection}'s kernels (the test oracle). Each mirrors its OpenCL
 * kernel's float operation order where selection depends on it (the score dot products), and is
 * otherwise the obvious loop.
 */
final class SelectionReference {
    private SelectionReference() {}

    static void topK(KernelArgs a, int dr, int kk) {
        float[] q = a.f32("q_r"), lm = a.f32("landmarks"), sc = a.f32("scores");
        int[] idx = a.i32("indices");
        int qo = a.off("q_r"), lo = a.off("landmarks"), io = a.off("indices"), so = a.off("scores");
        int L = a.i("L"), H = a.i("H"), C = a.i("C"), S = a.i("S"), t0 = a.i("t0");
        float scale = HsaSelection.scale(dr);
        forRows(rows(a), row -> {
            int h = row % H, i = (row / H) % L, b = row / (H * L);
            float[] ts = new float[kk];
            int[] ti = new int[kk];
            java.util.Arrays.fill(ts, Float.NEGATIVE_INFINITY);
            java.util.Arrays.fill(ti, -1);
            int n = HsaSelection.eligible(t0 + i, S, C);
            int qBase = qo + row * dr;
            for (int c = 0; c < n; c++) {
                int lBase = lo + ((b * C + c) * H + h) * dr;
                float acc = 0f;
                for (int d = 0; d < dr; d++) acc += q[qBase + d] * lm[lBase + d];
                insert(ts, ti, acc * scale, c);
            }
            sortByChunkDescending(ts, ti);
            for (int k = 0; k < kk; k++) {
                boolean valid = ti[k] >= 0;
                idx[io + row * kk + k] = valid ? ti[k] : 0;
                sc[so + row * kk + k] = valid ? ts[k] : 0f;
            }
        });
    }

    static void topKSplit(KernelArgs a, int dr, int kk) {
        float[] q = a.f32("q_r"), lm = a.f32("landmarks"), ps = a.f32("partScores");
        int[] pi = a.i32("partIdx");
        int qo = a.off("q_r"), lo = a.off("landmarks"), pio = a.off("partIdx"), pso = a.off("partScores");
        int L = a.i("L"), H = a.i("H"), C = a.i("C"), S = a.i("S"), t0 = a.i("t0"), per = a.i("chunksPerSplit");
        int rows = (int) rows(a), splits = HsaSelection.splits(C, per);
        float scale = HsaSelection.scale(dr);
        forRows((long) rows * splits, job -> {
            int z = job / rows, row = job % rows;
            int h = row % H, i = (row / H) % L, b = row / (H * L);
            float[] ts = new float[kk];
            int[] ti = new int[kk];
            java.util.Arrays.fill(ts, Float.NEGATIVE_INFINITY);
            java.util.Arrays.fill(ti, -1);
            int to = Math.min(HsaSelection.eligible(t0 + i, S, C), (z + 1) * per);
            for (int c = z * per; c < to; c++) {
                int lBase = lo + ((b * C + c) * H + h) * dr;
                float acc = 0f;
                for (int d = 0; d < dr; d++) acc += q[qo + row * dr + d] * lm[lBase + d];
                insert(ts, ti, acc * scale, c);
            }
            for (int k = 0; k < kk; k++) {
                pi[pio + job * kk + k] = ti[k];
                ps[pso + job * kk + k] = ts[k];
            }
        });
    }

    static void topKMerge(KernelArgs a, int kk) {
        int[] pi = a.i32("partIdx"), idx = a.i32("indices");
        float[] ps = a.f32("partScores"), sc = a.f32("scores");
        int pio = a.off("partIdx"), pso = a.off("partScores"), io = a.off("indices"), so = a.off("scores");
        int rows = a.i("rows"), splits = a.i("splits");
        forRows(rows, row -> {
            float[] ts = new float[kk];
            int[] ti = new int[kk];
            java.util.Arrays.fill(ts, Float.NEGATIVE_INFINITY);
            java.util.Arrays.fill(ti, -1);
            for (int z = 0; z < splits; z++) {
                for (int k = 0; k < kk; k++) {
                    int at = (z * rows + row) * kk + k;
                    if (pi[pio + at] >= 0) insert(ts, ti, ps[pso + at], pi[pio + at]);
                }
            }
            sortByChunkDescending(ts, ti);
            for (int k = 0; k < kk; k++) {
                boolean valid = ti[k] >= 0;
                idx[io + row * kk + k] = valid ? ti[k] : 0;
                sc[so + row * kk + k] = valid ? ts[k] : 0f;
            }
        });
    }

    /** Ranks by score (NaN lowest), ties to the larger chunk index; empty slots are (-inf, -1). */
    static boolean beats(float s1, int c1, float s2, int c2) {
        float k1 = Float.isNaN(s1) ? Float.NEGATIVE_INFINITY : s1, k2 = Float.isNaN(s2) ? Float.NEGATIVE_INFINITY : s2;
        return k1 > k2 || (k1 == k2 && c1 > c2);
    }

    /** Bubbles candidate (s, c) into the best-first list (ts, ti), dropping the last. */
    static void insert(float[] ts, int[] ti, float s, int c) {
        for (int k = 0; k < ts.length; k++) {
            if (beats(s, c, ts[k], ti[k])) {
                float fs = ts[k];
                int fc = ti[k];
                ts[k] = s;
                ti[k] = c;
                s = fs;
                c = fc;
            }
        }
    }

    static void sortByChunkDescending(float[] ts, int[] ti) {
        for (int i = 1; i < ti.length; i++) {
            for (int j = i; j > 0 && ti[j - 1] < ti[j]; j--) {
                int c = ti[j]; ti[j] = ti[j - 1]; ti[j - 1] = c;
                float s = ts[j]; ts[j] = ts[j - 1]; ts[j - 1] = s;
            }
        }
    }

    static void weights(KernelArgs a, WeightMode mode, int kk) {
        float[] s = a.f32("scores"), w = a.f32("weights");
        int so = a.off("scores"), wo = a.off("weights");
        int L = a.i("L"), H = a.i("H"), C = a.i("C"), S = a.i("S"), t0 = a.i("t0");
        forRows(rows(a), row -> {
            int n = validSlots(t0 + (row / H) % L, S, C, kk);
            int sb = so + row * kk, wb = wo + row * kk;
            for (int k = n; k < kk; k++) w[wb + k] = 0f;
            if (mode == WeightMode.SOFTMAX) {
                float m = Float.NEGATIVE_INFINITY;
                for (int k = 0; k < n; k++) m = Math.max(m, s[sb + k]);
                float sum = 0f;
                for (int k = 0; k < n; k++) sum += (float) Math.exp(s[sb + k] - m);
                for (int k = 0; k < n; k++) w[wb + k] = (float) Math.exp(s[sb + k] - m) / sum;
            } else {
                float acc = 0f;
                for (int k = 0; k < n; k++) {
                    acc += softplus(s[sb + k]);
                    w[wb + k] = (float) Math.exp(s[sb + k] - acc);
                }
            }
        });
    }

    static void weightsBackward(KernelArgs a, WeightMode mode, int kk) {
        float[] s = a.f32("scores"), w = a.f32("weights"), g = a.f32("dweights"), ds = a.f32("dscores");
        int so = a.off("scores"), wo = a.off("weights"), go = a.off("dweights"), dso = a.off("dscores");
        int L = a.i("L"), H = a.i("H"), C = a.i("C"), S = a.i("S"), t0 = a.i("t0");
        forRows(rows(a), row -> {
            int n = validSlots(t0 + (row / H) % L, S, C, kk);
            int r = row * kk;
            for (int k = n; k < kk; k++) ds[dso + r + k] = 0f;
            if (mode == WeightMode.SOFTMAX) {
                float dot = 0f;
                for (int k = 0; k < n; k++) dot += w[wo + r + k] * g[go + r + k];
                for (int k = 0; k < n; k++) ds[dso + r + k] = w[wo + r + k] * (g[go + r + k] - dot);
            } else {
                float later = 0f;
                for (int j = n - 1; j >= 0; j--) {
                    float sj = s[so + r + j], wg = w[wo + r + j] * g[go + r + j];
                    float p = sj > 15f ? 1f : (float) (1.0 / (1.0 + Math.exp(-sj)));
                    ds[dso + r + j] = wg * (1f - p) - p * later;
                    later += wg;
                }
            }
        });
    }

    static void queryBackward(KernelArgs a, int dr, int kk) {
        float[] ds = a.f32("dscores"), lm = a.f32("landmarks"), dq = a.f32("dq_r");
        int[] idx = a.i32("indices");
        int dso = a.off("dscores"), io = a.off("indices"), lo = a.off("landmarks"), dqo = a.off("dq_r");
        int L = a.i("L"), H = a.i("H"), C = a.i("C"), S = a.i("S"), t0 = a.i("t0");
        float scale = HsaSelection.scale(dr);
        forRows(rows(a), row -> {
            int h = row % H, i = (row / H) % L, b = row / (H * L);
            int n = validSlots(t0 + i, S, C, kk);
            for (int d = 0; d < dr; d++) {
                float acc = 0f;
                for (int k = 0; k < n; k++) {
                    int c = idx[io + row * kk + k];
                    acc += ds[dso + row * kk + k] * lm[lo + ((b * C + c) * H + h) * dr + d];
                }
                dq[dqo + row * dr + d] = acc * scale;
            }
        });
    }

    static void landmarkBackward(KernelArgs a, int dr, int kk) {
        float[] ds = a.f32("dscores"), q = a.f32("q_r"), dl = a.f32("dlandmarks");
        int[] start = a.i32("chunkStart"), ent = a.i32("entries");
        int dso = a.off("dscores"), qo = a.off("q_r"), so = a.off("chunkStart"), eo = a.off("entries"), dlo = a.off("dlandmarks");
        int B = a.i("B"), L = a.i("L"), H = a.i("H"), C = a.i("C");
        float scale = HsaSelection.scale(dr);
        Parallel.forRange(B * H * C, 16, (from, to) -> {
            float[] acc = new float[dr];
            for (int g = from; g < to; g++) {
                int c = g % C, bh = g / C, b = bh / H, h = bh % H;
                java.util.Arrays.fill(acc, 0f);
                for (int e = start[so + bh * (C + 1) + c]; e < start[so + bh * (C + 1) + c + 1]; e++) {
                    int v = ent[eo + e], t = v / kk, k = v % kk;
                    int row = (b * L + t) * H + h;
                    float dsv = ds[dso + row * kk + k];
                    for (int d = 0; d < dr; d++) acc[d] += dsv * q[qo + row * dr + d];
                }
                int out = dlo + ((b * C + c) * H + h) * dr;
                for (int d = 0; d < dr; d++) dl[out + d] = acc[d] * scale;
            }
        });
    }

    /** softplus with torch's threshold 15: linear above it. */
    static float softplus(float x) { return x > 15f ? x : (float) Math.log1p(Math.exp(x)); }

}
