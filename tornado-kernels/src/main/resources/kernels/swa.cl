#include "common.h"

// Sliding-window attention (causal window W, GQA), forward and backward.
//
// Conventions (shared with org.hsajava.kernels.SlidingWindowAttention):
//   q, o, d_o, dq : [B, L, HQ, D]      k, v, dk, dv : [B, L, H, D]      lse, delta : [B, L, HQ]
//   query head g reads KV head h = g / (HQ / H)
//   key j is visible to query t iff  t - W <= j <= t          (flash-attn window_size = (W, 0))
//   s_tj = scale * (q_t . k_j)      P_tj = exp(s_tj - lse_t)      lse_t = log sum_j exp(s_tj)
// Every query sees at least its own key, so no row is empty and lse is always finite.
// W >= L is full causal attention (the kernels clamp W to L, which also keeps t + W from overflowing).
//
// Compile-time constants:
//   HEAD_DIM     D (any value; 16, 32, 64, 128 are the tuned ones)
//   SWA_BQ       rows per work-group = work-group size (queries; keys in the dk/dv pass)
//   SWA_BK       rows of the streamed key/value tile in the forward and dq passes
//   SWA_BK_DKDV  rows of the streamed query tile in the dk/dv pass (which holds four tiles)
//
// Design: one work-item owns one row (a query, or a key in the dk/dv pass) and keeps that row's
// operands and accumulators in private memory; the work-group streams tiles of the other side
// through local memory, loaded cooperatively. The operand of each dot product is stored
// transposed ([D][tile rows], padded by one column against bank conflicts on the transposed
// writes), so the scores of a whole tile are computed as
//     for d: for r: s[r] += x[d] * tileT[d][r]
// an inner loop with no reduction that CPU compilers (PoCL) vectorise; on a GPU every work-item
// reads the same local address at once (a broadcast). Control flow is uniform: invisible pairs
// are masked, not skipped. Rows past L take part in the loads and barriers and write nothing.
// Each output element is written by exactly one work-item, summing in a fixed order: results are
// deterministic and no atomics are needed.

#ifndef HEAD_DIM
#error "swa.cl needs -DHEAD_DIM=<head dimension>"
#endif
#ifndef SWA_BQ
#define SWA_BQ 64
#endif
#ifndef SWA_BK
#define SWA_BK 32
#endif
#ifndef SWA_BK_DKDV
#define SWA_BK_DKDV SWA_BK
#endif

// Leading dimension of a transposed tile of `rows` rows.
#define SWA_LDT(rows) ((rows) + 1)

// Copies rows [r0, r0 + rows) of a [B, L, heads, D] tensor (batch b, head hd) into local memory:
// row-major (rowMajor[r * D + c]) when wantRowMajor, transposed (transposed[c * LDT + r]) when
// wantTransposed. (Flags, not null pointers: address 0 can be a valid local address.) Rows at or
// past rEnd are zero-filled, so no uninitialised local memory is ever read.
static inline void swa_load_tile(__local float* rowMajor, const int wantRowMajor, __local float* transposed, const int wantTransposed,
                                 const int rows, __global const float* src, int b, int L, int heads, int hd, int r0, int rEnd, int lid) {
    for (int e = lid; e < rows * HEAD_DIM; e += SWA_BQ) {
        const int r = e / HEAD_DIM, c = e - r * HEAD_DIM;
        const int row = r0 + r;
        const float x = row < rEnd ? src[((b * L + row) * heads + hd) * HEAD_DIM + c] : 0.0f;
        if (wantRowMajor) rowMajor[e] = x;
        if (wantTransposed) transposed[c * SWA_LDT(rows) + r] = x;
    }
}

// Forward, one work-group per (block of SWA_BQ queries, batch b, query head g):
//   o_t   = sum_{j = max(0, t-W)}^{t} softmax_j(s_tj) v_j
//   lse_t = log sum_j exp(s_tj)                            (natural log, of the scaled scores)
// Online softmax per key tile: the running maximum m grows by the tile's maximum, the running sum
// l and the accumulator are rescaled once per tile by exp(m_old - m_new).
// Grid: global (roundUp(L, SWA_BQ), B * HQ), local (SWA_BQ, 1).
__kernel __attribute__((reqd_work_group_size(SWA_BQ, 1, 1)))
void swa_fwd(__global const float* q, __global const float* k, __global const float* v,
             __global float* o, __global float* lse,
             const int B, const int L, const int HQ, const int H, const int window, const float scale) {
    __local float kT[HEAD_DIM * SWA_LDT(SWA_BK)];
    __local float vs[SWA_BK * HEAD_DIM];
    const int W = min(window, L);
    const int lid = get_local_id(0);
    const int t0 = get_group_id(0) * SWA_BQ;
    const int bg = get_global_id(1);
    const int b = bg / HQ, g = bg - b * HQ;
    const int h = g / (HQ / H);
    const int t = t0 + lid;
    const bool active = t < L && b < B;

    float qr[HEAD_DIM], acc[HEAD_DIM], sc[SWA_BK];
    const int qoff = ((b * L + t) * HQ + g) * HEAD_DIM;
    for (int d = 0; d < HEAD_DIM; d++) {
        qr[d] = active ? q[qoff + d] : 0.0f;
        acc[d] = 0.0f;
    }
    float m = -INFINITY, l = 0.0f;

    // Keys seen by some query of the block: [max(0, t0 - W), min(L, t0 + SWA_BQ)).
    const int jlo = max(0, t0 - W);
    const int jhi = min(L, t0 + SWA_BQ);
    for (int j0 = jlo; j0 < jhi; j0 += SWA_BK) {
        barrier(CLK_LOCAL_MEM_FENCE);
        swa_load_tile(kT, 0, kT, 1, SWA_BK, k, b, L, H, h, j0, jhi, lid);
        swa_load_tile(vs, 1, vs, 0, SWA_BK, v, b, L, H, h, j0, jhi, lid);
        barrier(CLK_LOCAL_MEM_FENCE);

        for (int r = 0; r < SWA_BK; r++) sc[r] = 0.0f;
        for (int d = 0; d < HEAD_DIM; d++) {
            const float x = qr[d];
            __local const float* col = kT + d * SWA_LDT(SWA_BK);
            for (int r = 0; r < SWA_BK; r++) sc[r] = fma(x, col[r], sc[r]);
        }
        float tileMax = -INFINITY;
        for (int r = 0; r < SWA_BK; r++) {
            const int j = j0 + r;
            sc[r] = (j >= t - W && j <= t) ? sc[r] * scale : -INFINITY;
            tileMax = fmax(tileMax, sc[r]);
        }
        const float mNew = fmax(m, tileMax);
        const float mUse = mNew == -INFINITY ? 0.0f : mNew;  // nothing visible yet: keep exp() away from -inf - -inf
        const float c = exp(m - mUse);
        l *= c;
        for (int d = 0; d < HEAD_DIM; d++) acc[d] *= c;
        // exp() in a loop of its own, which a CPU compiler can vectorise; then the sum and the update.
        for (int r = 0; r < SWA_BK; r++) sc[r] = exp(sc[r] - mUse);
        for (int r = 0; r < SWA_BK; r++) l += sc[r];
        for (int r = 0; r < SWA_BK; r++) {
            const float p = sc[r];
            __local const float* vr = vs + r * HEAD_DIM;
            for (int d = 0; d < HEAD_DIM; d++) acc[d] = fma(p, vr[d], acc[d]);
        }
        m = mNew;
    }
    if (active) {
        const float inv = 1.0f / l;
        for (int d = 0; d < HEAD_DIM; d++) o[qoff + d] = acc[d] * inv;
        lse[(b * L + t) * HQ + g] = m + log(l);
    }
}

// Backward preprocessing, one work-item per row i = (b, t, g):
//   delta_i = sum_d dO_i[d] * O_i[d]        (FlashAttention's D_t = rowsum(dO o O))
// Grid: global roundUp(rows, 64), local 64.
__kernel void swa_bwd_delta(__global const float* o, __global const float* d_o, __global float* delta, const int rows) {
    const int i = get_global_id(0);
    if (i >= rows) return;
    float s = 0.0f;
    for (int d = 0; d < HEAD_DIM; d++) s = fma(o[i * HEAD_DIM + d], d_o[i * HEAD_DIM + d], s);
    delta[i] = s;
}

// Backward for the queries, one work-group per (block of SWA_BQ queries, batch b, query head g):
//   P_tj  = exp(s_tj - lse_t)
//   dS_tj = P_tj * (dO_t . v_j - delta_t)
//   dq_t  = scale * sum_j dS_tj k_j
// Grid: as swa_fwd.
__kernel __attribute__((reqd_work_group_size(SWA_BQ, 1, 1)))
void swa_bwd_dq(__global const float* q, __global const float* k, __global const float* v,
                __global const float* d_o, __global const float* lse, __global const float* delta,
                __global float* dq,
                const int B, const int L, const int HQ, const int H, const int window, const float scale) {
    __local float kT[HEAD_DIM * SWA_LDT(SWA_BK)];
    __local float vT[HEAD_DIM * SWA_LDT(SWA_BK)];
    __local float ks[SWA_BK * HEAD_DIM];
    const int W = min(window, L);
    const int lid = get_local_id(0);
    const int t0 = get_group_id(0) * SWA_BQ;
    const int bg = get_global_id(1);
    const int b = bg / HQ, g = bg - b * HQ;
    const int h = g / (HQ / H);
    const int t = t0 + lid;
    const bool active = t < L && b < B;

    float qr[HEAD_DIM], dor[HEAD_DIM], acc[HEAD_DIM], sc[SWA_BK], dp[SWA_BK];
    const int qoff = ((b * L + t) * HQ + g) * HEAD_DIM;
    for (int d = 0; d < HEAD_DIM; d++) {
        qr[d] = active ? q[qoff + d] : 0.0f;
        dor[d] = active ? d_o[qoff + d] : 0.0f;
        acc[d] = 0.0f;
    }
    const float lseT = active ? lse[(b * L + t) * HQ + g] : 0.0f;
    const float deltaT = active ? delta[(b * L + t) * HQ + g] : 0.0f;

    const int jlo = max(0, t0 - W);
    const int jhi = min(L, t0 + SWA_BQ);
    for (int j0 = jlo; j0 < jhi; j0 += SWA_BK) {
        barrier(CLK_LOCAL_MEM_FENCE);
        swa_load_tile(ks, 1, kT, 1, SWA_BK, k, b, L, H, h, j0, jhi, lid);
        swa_load_tile(vT, 0, vT, 1, SWA_BK, v, b, L, H, h, j0, jhi, lid);
        barrier(CLK_LOCAL_MEM_FENCE);

        for (int r = 0; r < SWA_BK; r++) {
            sc[r] = 0.0f;
            dp[r] = 0.0f;
        }
        for (int d = 0; d < HEAD_DIM; d++) {
            const float x = qr[d], y = dor[d];
            __local const float* kc = kT + d * SWA_LDT(SWA_BK);
            __local const float* vc = vT + d * SWA_LDT(SWA_BK);
            for (int r = 0; r < SWA_BK; r++) {
                sc[r] = fma(x, kc[r], sc[r]);
                dp[r] = fma(y, vc[r], dp[r]);
            }
        }
        for (int r = 0; r < SWA_BK; r++) {
            const int j = j0 + r;
            const float p = exp(sc[r] * scale - lseT);
            sc[r] = (j >= t - W && j <= t) ? p : 0.0f;  // select after exp: the loop stays branch-free
        }
        for (int r = 0; r < SWA_BK; r++) {
            const float ds = sc[r] * (dp[r] - deltaT);
            __local const float* kr = ks + r * HEAD_DIM;
            for (int d = 0; d < HEAD_DIM; d++) acc[d] = fma(ds, kr[d], acc[d]);
        }
    }
    if (active) {
        for (int d = 0; d < HEAD_DIM; d++) dq[qoff + d] = acc[d] * scale;
    }
}

// Backward for the keys and values, one work-group per (block of SWA_BQ keys, batch b, KV head h),
// one work-item per key j. It visits the queries that can see its keys, t in [j, j + W], for
// each of the G query heads of the group in turn, streaming their q, dO, lse and delta rows
// through local memory, so the work is O(L * W) and no atomics are needed:
//   dv_j = sum_{g in group} sum_{t = j}^{min(L-1, j+W)} P_tj dO_t
//   dk_j = scale * sum_g sum_t dS_tj q_t
// Grid: global (roundUp(L, SWA_BQ), B * H), local (SWA_BQ, 1).
__kernel __attribute__((reqd_work_group_size(SWA_BQ, 1, 1)))
void swa_bwd_dkdv(__global const float* q, __global const float* k, __global const float* v,
                  __global const float* d_o, __global const float* lse, __global const float* delta,
                  __global float* dk, __global float* dv,
                  const int B, const int L, const int HQ, const int H, const int window, const float scale) {
    __local float qT[HEAD_DIM * SWA_LDT(SWA_BK_DKDV)];
    __local float dT[HEAD_DIM * SWA_LDT(SWA_BK_DKDV)];
    __local float qs[SWA_BK_DKDV * HEAD_DIM];
    __local float dos[SWA_BK_DKDV * HEAD_DIM];
    __local float lses[SWA_BK_DKDV];
    __local float deltas[SWA_BK_DKDV];
    const int W = min(window, L);
    const int lid = get_local_id(0);
    const int jblk = get_group_id(0) * SWA_BQ;
    const int bh = get_global_id(1);
    const int b = bh / H, h = bh - b * H;
    const int G = HQ / H;
    const int j = jblk + lid;
    const bool active = j < L && b < B;

    float kr[HEAD_DIM], vr[HEAD_DIM], dka[HEAD_DIM], dva[HEAD_DIM], sc[SWA_BK_DKDV], dp[SWA_BK_DKDV];
    const int koff = ((b * L + j) * H + h) * HEAD_DIM;
    for (int d = 0; d < HEAD_DIM; d++) {
        kr[d] = active ? k[koff + d] : 0.0f;
        vr[d] = active ? v[koff + d] : 0.0f;
        dka[d] = 0.0f;
        dva[d] = 0.0f;
    }

    // Queries that see some key of the block: [jblk, min(L, jblk + SWA_BQ + W)).
    const int thi = min(L, jblk + SWA_BQ + W);
    for (int gi = 0; gi < G; gi++) {
        const int g = h * G + gi;
        for (int r0 = jblk; r0 < thi; r0 += SWA_BK_DKDV) {
            barrier(CLK_LOCAL_MEM_FENCE);
            swa_load_tile(qs, 1, qT, 1, SWA_BK_DKDV, q, b, L, HQ, g, r0, thi, lid);
            swa_load_tile(dos, 1, dT, 1, SWA_BK_DKDV, d_o, b, L, HQ, g, r0, thi, lid);
            for (int r = lid; r < SWA_BK_DKDV; r += SWA_BQ) {
                const bool in = r0 + r < thi;
                lses[r] = in ? lse[(b * L + r0 + r) * HQ + g] : 0.0f;
                deltas[r] = in ? delta[(b * L + r0 + r) * HQ + g] : 0.0f;
            }
            barrier(CLK_LOCAL_MEM_FENCE);

            for (int r = 0; r < SWA_BK_DKDV; r++) {
                sc[r] = 0.0f;
                dp[r] = 0.0f;
            }
            for (int d = 0; d < HEAD_DIM; d++) {
                const float x = kr[d], y = vr[d];
                __local const float* qc = qT + d * SWA_LDT(SWA_BK_DKDV);
                __local const float* dc = dT + d * SWA_LDT(SWA_BK_DKDV);
                for (int r = 0; r < SWA_BK_DKDV; r++) {
                    sc[r] = fma(x, qc[r], sc[r]);
                    dp[r] = fma(y, dc[r], dp[r]);
                }
            }
            for (int r = 0; r < SWA_BK_DKDV; r++) {
                const int t = r0 + r;
                const float p = exp(sc[r] * scale - lses[r]);
                sc[r] = (t >= j && t <= j + W && t < thi) ? p : 0.0f;
            }
            for (int r = 0; r < SWA_BK_DKDV; r++) {
                const float p = sc[r];
                const float ds = p * (dp[r] - deltas[r]);
                __local const float* qrow = qs + r * HEAD_DIM;
                __local const float* drow = dos + r * HEAD_DIM;
                for (int d = 0; d < HEAD_DIM; d++) {
                    dva[d] = fma(p, drow[d], dva[d]);
                    dka[d] = fma(ds, qrow[d], dka[d]);
                }
            }
        }
    }
    if (active) {
        for (int d = 0; d < HEAD_DIM; d++) {
            dk[koff + d] = dka[d] * scale;
            dv[koff + d] = dva[d];
        }
    }
}

// Decoding: ONE query per (batch, query head) against a ring-buffer cache of the layer's last keys
// and values (the incremental decoder keeps the window's W+1 keys there; their order does not
// matter to attention):
//   q, o      [B, HQ, D]          kc, vc [B, R, H, D]: slots 0 .. count-1 hold keys (1 <= count <= R)
//   scores    [B, HQ, R]          scratch for the probabilities
//   o = sum_{j < count} softmax_j(scale * q . k_j) v_j
// One work-group of SWA_DEC_WG work-items per (b, g): scores (strided over slots, into scratch),
// the maximum and the sum by tree reductions in local memory (fixed order: deterministic), then one
// work-item per output element. Grid: global (SWA_DEC_WG * B * HQ), local SWA_DEC_WG.
#ifndef SWA_DEC_WG
#define SWA_DEC_WG 64
#endif

// Tree reduction of red[0 .. SWA_DEC_WG) into red[0] (max or sum); every work-item must call it.
static inline float swa_dec_reduce(__local float* red, float x, const int isMax) {
    const int lid = get_local_id(0);
    red[lid] = x;
    barrier(CLK_LOCAL_MEM_FENCE);
    for (int span = SWA_DEC_WG / 2; span > 0; span /= 2) {
        if (lid < span) red[lid] = isMax ? fmax(red[lid], red[lid + span]) : red[lid] + red[lid + span];
        barrier(CLK_LOCAL_MEM_FENCE);
    }
    const float r = red[0];
    barrier(CLK_LOCAL_MEM_FENCE);    // red is free again for the next reduction
    return r;
}

__kernel __attribute__((reqd_work_group_size(SWA_DEC_WG, 1, 1)))
void swa_decode(__global const float* q, __global const float* kc, __global const float* vc,
                __global float* o, __global float* scores,
                const int B, const int HQ, const int H, const int R, const int count, const float scale) {
    __local float red[SWA_DEC_WG];
    const int bg = get_group_id(0);            // b * HQ + g; the grid has exactly B * HQ groups
    const int lid = get_local_id(0);
    const int b = bg / HQ, g = bg - b * HQ, h = g / (HQ / H);
    __global const float* qr = q + (size_t) bg * HEAD_DIM;
    __global float* sc = scores + (size_t) bg * R;

    float m = -INFINITY;
    for (int j = lid; j < count; j += SWA_DEC_WG) {
        __global const float* kr = kc + ((size_t) (b * R + j) * H + h) * HEAD_DIM;
        float s = 0.0f;
        for (int d = 0; d < HEAD_DIM; d++) s = fma(qr[d], kr[d], s);
        s *= scale;
        sc[j] = s;
        m = fmax(m, s);
    }
    m = swa_dec_reduce(red, m, 1);
    float l = 0.0f;
    for (int j = lid; j < count; j += SWA_DEC_WG) {
        const float e = exp(sc[j] - m);
        sc[j] = e;
        l += e;
    }
    l = swa_dec_reduce(red, l, 0);
    barrier(CLK_GLOBAL_MEM_FENCE);            // every probability written above is visible below
    const float inv = 1.0f / l;
    for (int d = lid; d < HEAD_DIM; d += SWA_DEC_WG) {
        float acc = 0.0f;
        for (int j = 0; j < count; j++) acc = fma(sc[j], vc[((size_t) (b * R + j) * H + h) * HEAD_DIM + d], acc);
        o[(size_t) bg * HEAD_DIM + d] = acc * inv;
    }
}
