#include "common.h"

// HSA chunk selection (DESIGN.md section 2): top-K chunk retrieval, chunk weights (softmax or
// stick-breaking) and the backward passes to the selection inputs.
//
// Geometry shared by every kernel here (scalar arguments B, L, H, C, S, t0):
//   q_r        [B, L, H, HSA_DR]   retrieval queries; row i of q_r is the token at position t = t0 + i
//   landmarks  [B, C, H, HSA_DR]   one landmark per chunk of S tokens
//   indices    [B, L, H, HSA_K]    int, selected chunks, most recent (largest index) first
//   scores / weights / dscores / dweights  [B, L, H, HSA_K]
// Chunk c is eligible for position t iff (c+1)*S <= t, so t sees e(t) = min(C, floor(t/S)) chunks
// and slot k is VALID iff k < min(HSA_K, e(t)). Invalid slots hold index 0, score 0, weight 0 and
// get zero gradient. t0 lets a caller select for a window of positions only (streaming
// evaluation retrieves for the last tokens of a long context); training passes t0 = 0.
//
// Compile-time defines: HSA_DR (retrieval dim), HSA_K (top-K, <= 16), HSA_SCALE (1/sqrt(HSA_DR) as
// a float literal, so that the Java oracle uses the very same float), HSA_MODE (0 softmax,
// 1 stick-breaking) for the weight kernels, HSA_QB and HSA_LT (tiling of the top-K kernel).
//
// FP_CONTRACT OFF: no fused multiply-add, so each dot product is the same IEEE sequence of
// float multiplies and adds as the Java oracle's loop. Selection is discrete: a score one ulp
// apart could flip a near-tie and make the two backends pick different chunks.
#pragma OPENCL FP_CONTRACT OFF

#ifndef HSA_K
#define HSA_K 8
#endif
#ifndef HSA_QB
#define HSA_QB 64
#endif
#ifndef HSA_LT
#define HSA_LT 32
#endif

// Number of chunks wholly in the past of position t (capped at the C chunks that exist). t may be
// negative (a caller's eligibility lag, see HsaSelection): no chunk then.
static inline int hsasel_eligible(int t, int S, int C) {
    int e = t < 0 ? 0 : t / S;
    return e < C ? e : C;
}

// Number of valid slots of position t.
static inline int hsasel_valid(int t, int S, int C) {
    int e = hsasel_eligible(t, S, C);
    return e < HSA_K ? e : HSA_K;
}

// Ranking key of a score: NaN ranks lowest (as -inf) so that every eligible chunk still takes a
// slot and the NaN propagates to the weights instead of silently shrinking the valid count.
static inline float hsasel_key(float s) { return isnan(s) ? -INFINITY : s; }

// Does candidate (s1, c1) rank above (s2, c2)? Higher score first; on EQUAL scores the more
// recent chunk (larger index) wins. Empty slots are (-inf, -1) and lose to every real chunk.
static inline int hsasel_beats(float s1, int c1, float s2, int c2) {
    float k1 = hsasel_key(s1), k2 = hsasel_key(s2);
    return k1 > k2 || (k1 == k2 && c1 > c2);
}

#ifdef HSA_DR
// Bubbles candidate (s, c) into the best-first list (ts, ti) of HSA_K entries, dropping the last.
static inline void hsasel_insert(float* ts, int* ti, float s, int c) {
    if (!hsasel_beats(s, c, ts[HSA_K - 1], ti[HSA_K - 1])) return;
    for (int k = 0; k < HSA_K; k++) {
        if (hsasel_beats(s, c, ts[k], ti[k])) {
            float fs = ts[k]; int fc = ti[k];
            ts[k] = s; ti[k] = c;
            s = fs; c = fc;
        }
    }
}

// Most recent first: odd-even transposition sort by chunk index, descending (empty = -1 last).
static inline void hsasel_sort_recent_first(float* ts, int* ti) {
    for (int pass = 0; pass < HSA_K; pass++) {
        for (int k = pass & 1; k + 1 < HSA_K; k += 2) {
            if (ti[k] < ti[k + 1]) {
                float fs = ts[k]; ts[k] = ts[k + 1]; ts[k + 1] = fs;
                int fc = ti[k]; ti[k] = ti[k + 1]; ti[k + 1] = fc;
            }
        }
    }
}

// The scan shared by both top-K kernels: the work-group streams chunks [from, to) of (b, h) through
// local memory in tiles of HSA_LT; each work-item scores the chunks below its own limit `mine`
// against its query q and keeps the best HSA_K in (ts, ti). from/to must be uniform in the group.
static inline void hsasel_scan(__global const float* landmarks, __local float* tile, const float* q,
                               const int b, const int h, const int H, const int C, const int from, const int to,
                               const int mine, float* ts, int* ti) {
    const int lid = get_local_id(0);
    for (int c0 = from; c0 < to; c0 += HSA_LT) {
        barrier(CLK_LOCAL_MEM_FENCE);
        for (int e = lid; e < HSA_LT * HSA_DR; e += HSA_QB) {
            int c = c0 + e / HSA_DR;
            tile[e] = c < to ? landmarks[((b * C + c) * H + h) * HSA_DR + (e % HSA_DR)] : 0.0f;
        }
        barrier(CLK_LOCAL_MEM_FENCE);
        int n = min(HSA_LT, min(to, mine) - c0);
        for (int j = 0; j < n; j++) {
            float acc = 0.0f;
            for (int d = 0; d < HSA_DR; d++) acc += q[d] * tile[j * HSA_DR + d];
            hsasel_insert(ts, ti, acc * HSA_SCALE, c0 + j);
        }
    }
}

// Streaming top-K selection, one work-item per (row i, b, h):
//   s[t, c] = (q_r[b, i, h, :] . landmarks[b, c, h, :]) * HSA_SCALE     for eligible c
//   indices[b, i, h, :] = the HSA_K best c by (s desc, c desc), then ordered by c descending
//   scores[b, i, h, k]  = s[t, indices[k]] for valid slots; invalid slots: index 0, score 0.
// No score matrix is stored: each work-item keeps its running top-K in private memory while the
// work-group (HSA_QB consecutive rows of one (b, h)) streams landmark tiles of HSA_LT chunks
// through local memory. Grid: (roundUp(L, HSA_QB), B*H), local (HSA_QB, 1).
//
// hsasel_topk is its body up to the sorted list (every work-item of the group must call it: the scan
// holds barriers); it returns whether the work-item's row exists, and the list in (ts, ti), most recent
// first, empty entries (-inf, -1) last.
static inline int hsasel_topk(__global const float* q_r, __global const float* landmarks, __local float* tile,
                              const int L, const int H, const int C, const int S, const int t0, float* ts, int* ti) {
    const int i = get_global_id(0);
    const int bh = get_global_id(1);
    const int b = bh / H, h = bh % H;
    const int live = i < L;

    float q[HSA_DR];
    for (int d = 0; d < HSA_DR; d++) q[d] = live ? q_r[((b * L + i) * H + h) * HSA_DR + d] : 0.0f;
    const int mine = live ? hsasel_eligible(t0 + i, S, C) : 0;
    // The group scans as many chunks as its last live row may see (uniform in the group).
    const int lastRow = min(L - 1, ((int) get_group_id(0) + 1) * HSA_QB - 1);
    const int groupChunks = hsasel_eligible(t0 + lastRow, S, C);

    for (int k = 0; k < HSA_K; k++) { ts[k] = -INFINITY; ti[k] = -1; }
    hsasel_scan(landmarks, tile, q, b, h, H, C, 0, groupChunks, mine, ts, ti);
    if (!live) return 0;
    hsasel_sort_recent_first(ts, ti);
    return 1;
}

__kernel __attribute__((reqd_work_group_size(HSA_QB, 1, 1)))
void hsa_select_topk(__global const float* q_r, __global const float* landmarks,
                     __global int* indices, __global float* scores,
                     const int B, const int L, const int H, const int C, const int S, const int t0) {
    __local float tile[HSA_LT * HSA_DR];
    float ts[HSA_K];
    int ti[HSA_K];
    if (!hsasel_topk(q_r, landmarks, tile, L, H, C, S, t0, ts, ti)) return;
    const int bh = get_global_id(1), b = bh / H, h = bh % H;
    const int base = ((b * L + (int) get_global_id(0)) * H + h) * HSA_K;
    for (int k = 0; k < HSA_K; k++) {
        int valid = ti[k] >= 0;
        indices[base + k] = valid ? ti[k] : 0;
        scores[base + k] = valid ? ts[k] : 0.0f;
    }
}

// Top-K over one slice of the chunks, for few queries against very many chunks (streaming
// evaluation: a handful of positions at the end of a 16M-token context would otherwise keep a
// single work-group busy). Work-group z scans chunks [z*chunksPerSplit, (z+1)*chunksPerSplit) and
// writes its best-first partial list, empty entries as (index -1, score -inf):
//   partIdx / partScores [splits, B*L*H, HSA_K]
// hsa_select_topk_merge then yields exactly hsa_select_topk's result: the ranking is a strict
// total order (chunk indices are distinct), so the top-K of the union is the top-K of the tops.
// Grid: (roundUp(L, HSA_QB), B*H, splits), local (HSA_QB, 1, 1).
__kernel __attribute__((reqd_work_group_size(HSA_QB, 1, 1)))
void hsa_select_topk_split(__global const float* q_r, __global const float* landmarks,
                           __global int* partIdx, __global float* partScores,
                           const int B, const int L, const int H, const int C, const int S, const int t0,
                           const int chunksPerSplit) {
    __local float tile[HSA_LT * HSA_DR];
    const int i = get_global_id(0);
    const int bh = get_global_id(1);
    const int z = get_global_id(2);
    const int b = bh / H, h = bh % H;
    const int live = i < L;

    float q[HSA_DR];
    for (int d = 0; d < HSA_DR; d++) q[d] = live ? q_r[((b * L + i) * H + h) * HSA_DR + d] : 0.0f;
    const int mine = live ? hsasel_eligible(t0 + i, S, C) : 0;
    const int lastRow = min(L - 1, ((int) get_group_id(0) + 1) * HSA_QB - 1);
    const int from = z * chunksPerSplit;
    const int to = min(hsasel_eligible(t0 + lastRow, S, C), from + chunksPerSplit);

    float ts[HSA_K];
    int ti[HSA_K];
    for (int k = 0; k < HSA_K; k++) { ts[k] = -INFINITY; ti[k] = -1; }
    hsasel_scan(landmarks, tile, q, b, h, H, C, from, to, mine, ts, ti);
    if (!live) return;
    const int base = (z * B * L * H + (b * L + i) * H + h) * HSA_K;
    for (int k = 0; k < HSA_K; k++) {
        partIdx[base + k] = ti[k];
        partScores[base + k] = ts[k];
    }
}

// Merges the partial lists of hsa_select_topk_split, one work-item per row (b, i, h):
//   indices/scores[row, :] = top-HSA_K over z of partIdx/partScores[z, row, :], most recent first;
//   invalid slots: index 0, score 0.  Grid: B*L*H rounded up.
__kernel void hsa_select_topk_merge(__global const int* partIdx, __global const float* partScores,
                                    __global int* indices, __global float* scores,
                                    const int rows, const int splits) {
    const int row = get_global_id(0);
    if (row >= rows) return;
    float ts[HSA_K];
    int ti[HSA_K];
    for (int k = 0; k < HSA_K; k++) { ts[k] = -INFINITY; ti[k] = -1; }
    for (int z = 0; z < splits; z++) {
        for (int k = 0; k < HSA_K; k++) {
            int c = partIdx[(z * rows + row) * HSA_K + k];
            if (c >= 0) hsasel_insert(ts, ti, partScores[(z * rows + row) * HSA_K + k], c);
        }
    }
    hsasel_sort_recent_first(ts, ti);
    for (int k = 0; k < HSA_K; k++) {
        int valid = ti[k] >= 0;
        indices[row * HSA_K + k] = valid ? ti[k] : 0;
        scores[row * HSA_K + k] = valid ? ts[k] : 0.0f;
    }
}

// Backward of the scores to the queries, one work-item per (b, i, h, d):
//   dq_r[b, i, h, d] = HSA_SCALE * sum_{valid k} dscores[b, i, h, k] * landmarks[b, indices[b, i, h, k], h, d]
// Grid: B*L*H*HSA_DR rounded up, one dimension (the row count can exceed what a GPU allows in
// the second grid dimension); consecutive work-items read consecutive d, so loads coalesce.
__kernel void hsa_select_dq(__global const float* dscores, __global const int* indices, __global const float* landmarks,
                            __global float* dq_r,
                            const int B, const int L, const int H, const int C, const int S, const int t0) {
    const int gid = get_global_id(0);
    if (gid >= B * L * H * HSA_DR) return;
    const int d = gid % HSA_DR;
    const int row = gid / HSA_DR;  // (b*L + i)*H + h
    const int h = row % H, i = (row / H) % L, b = row / (H * L);
    const int n = hsasel_valid(t0 + i, S, C);
    float acc = 0.0f;
    for (int k = 0; k < n; k++) {
        int c = indices[row * HSA_K + k];
        acc += dscores[row * HSA_K + k] * landmarks[((b * C + c) * H + h) * HSA_DR + d];
    }
    dq_r[row * HSA_DR + d] = acc * HSA_SCALE;
}

// Backward of the scores to the landmarks through the inverted index (HsaCsr), one work-item per
// (b, c, h, d), summing over the (token, slot) pairs that selected chunk c in ascending t*K+k order:
//   dlandmarks[b, c, h, d] = HSA_SCALE * sum_{(t,k) in csr(b,h,c)} dscores[b, t, h, k] * q_r[b, t, h, d]
// Deterministic and linear in L (each valid slot is read once per d). chunkStart is
// [B*H*(C+1)] absolute offsets into entries, entries hold t*K + k (t = row of q_r).
// Grid: B*H*C*HSA_DR rounded up, one dimension.
__kernel void hsa_select_dlandmark(__global const float* dscores, __global const float* q_r,
                                   __global const int* chunkStart, __global const int* entries,
                                   __global float* dlandmarks,
                                   const int B, const int L, const int H, const int C) {
    const int gid = get_global_id(0);
    if (gid >= B * H * C * HSA_DR) return;
    const int d = gid % HSA_DR;
    const int g = gid / HSA_DR;  // (b*H + h)*C + c
    const int c = g % C, bh = g / C;
    const int b = bh / H, h = bh % H;
    const int from = chunkStart[bh * (C + 1) + c], to = chunkStart[bh * (C + 1) + c + 1];
    float acc = 0.0f;
    for (int e = from; e < to; e++) {
        int v = entries[e];
        int t = v / HSA_K, k = v - (v / HSA_K) * HSA_K;
        int row = (b * L + t) * H + h;
        acc += dscores[row * HSA_K + k] * q_r[row * HSA_DR + d];
    }
    dlandmarks[((b * C + c) * H + h) * HSA_DR + d] = acc * HSA_SCALE;
}
#endif

#ifdef HSA_MODE
// Chunk weights from the selected scores, one work-item per row (b, i, h), over the n valid slots:
//   HSA_MODE 0 (softmax): w_k = exp(s_k - m) / sum_{j<n} exp(s_j - m), m = max_{j<n} s_j; n = 0 -> all 0
//   HSA_MODE 1 (stick):   w_k = exp(s_k - sum_{j<=k} softplus(s_j)), softplus linear above 15
// Invalid slots get weight 0. hsasel_weights computes one row from its HSA_K scores s (w may be s).
static inline void hsasel_weights(const float* s, float* w, const int n) {
#if HSA_MODE == 0
    float m = -INFINITY;
    for (int k = 0; k < n; k++) m = fmax(m, s[k]);
    float sum = 0.0f;
    for (int k = 0; k < n; k++) sum += exp(s[k] - m);
    for (int k = 0; k < HSA_K; k++) w[k] = k < n ? exp(s[k] - m) / sum : 0.0f;
#else
    float acc = 0.0f;
    for (int k = 0; k < HSA_K; k++) {
        if (k < n) {
            acc += softplus_f(s[k]);
            w[k] = exp(s[k] - acc);
        } else {
            w[k] = 0.0f;
        }
    }
#endif
}

__kernel void hsa_select_weights(__global const float* scores, __global float* weights,
                                 const int B, const int L, const int H, const int C, const int S, const int t0) {
    const int row = get_global_id(0);
    if (row >= B * L * H) return;
    const int i = (row / H) % L;
    float s[HSA_K];
    for (int k = 0; k < HSA_K; k++) s[k] = scores[row * HSA_K + k];
    hsasel_weights(s, s, hsasel_valid(t0 + i, S, C));
    for (int k = 0; k < HSA_K; k++) weights[row * HSA_K + k] = s[k];
}

#ifdef HSA_DR
// The whole selection forward in one launch: hsa_select_topk, then hsa_select_weights on the row's
// list while it is still in registers (the n valid slots are the first n of the sorted list).
// Grid and arguments as hsa_select_topk, plus weights.
__kernel __attribute__((reqd_work_group_size(HSA_QB, 1, 1)))
void hsa_select_topk_weights(__global const float* q_r, __global const float* landmarks,
                             __global int* indices, __global float* scores, __global float* weights,
                             const int B, const int L, const int H, const int C, const int S, const int t0) {
    __local float tile[HSA_LT * HSA_DR];
    float ts[HSA_K];
    int ti[HSA_K];
    if (!hsasel_topk(q_r, landmarks, tile, L, H, C, S, t0, ts, ti)) return;
    const int i = get_global_id(0), bh = get_global_id(1), b = bh / H, h = bh % H;
    const int base = ((b * L + i) * H + h) * HSA_K;
    int n = 0;
    for (int k = 0; k < HSA_K; k++) {
        const int valid = ti[k] >= 0;
        n += valid;
        indices[base + k] = valid ? ti[k] : 0;
        ts[k] = valid ? ts[k] : 0.0f;
        scores[base + k] = ts[k];
    }
    hsasel_weights(ts, ts, n);
    for (int k = 0; k < HSA_K; k++) weights[base + k] = ts[k];
}
#endif

// Backward of the chunk weights, one work-item per row, g = dweights, over the n valid slots:
//   softmax: ds_j = w_j (g_j - sum_{k<n} w_k g_k)
//   stick:   ds_j = w_j g_j (1 - p_j) - p_j sum_{j<k<n} w_k g_k,  p_j = softplus'(s_j) = s_j > 15 ? 1 : sigmoid(s_j)
// Invalid slots get 0.
__kernel void hsa_select_weights_bwd(__global const float* scores, __global const float* weights, __global const float* dweights,
                                     __global float* dscores,
                                     const int B, const int L, const int H, const int C, const int S, const int t0) {
    const int row = get_global_id(0);
    if (row >= B * L * H) return;
    const int i = (row / H) % L;
    const int n = hsasel_valid(t0 + i, S, C);
    const int base = row * HSA_K;
    for (int k = n; k < HSA_K; k++) dscores[base + k] = 0.0f;
#if HSA_MODE == 0
    float dot = 0.0f;
    for (int k = 0; k < n; k++) dot += weights[base + k] * dweights[base + k];
    for (int k = 0; k < n; k++) dscores[base + k] = weights[base + k] * (dweights[base + k] - dot);
#else
    float later = 0.0f;  // sum over k > j of w_k g_k
    for (int j = n - 1; j >= 0; j--) {
        float s = scores[base + j], wg = weights[base + j] * dweights[base + j];
        float p = s > 15.0f ? 1.0f : sigmoid_f(s);
        dscores[base + j] = wg * (1.0f - p) - p * later;
        later += wg;
    }
#endif
}
#endif
