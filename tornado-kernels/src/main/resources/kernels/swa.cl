#include "common.h"

// Sliding-window attention (causal window W, GQA), forward and backward.
//
// Conventions (shared with org.hsajava.kernels.SlidingWindowAttention):
//   q, o, d_o, dq : [B, L, HQ, D]      k, v, dk, dv : [B, L, H, D]      lse, delta : [B, L, HQ]
//   query head g reads KV head h = g / (HQ / H)
//   key j is visible to query t iff  t - W <= j <= t          (flash-attn window_size = (W, 0))
//   s_tj = scale * (q_t . k_j)      P_tj = exp(s_tj - lse_t)      lse_t = log sum_j exp(s_tj)
// Every query sees at least its own key, so no row is empty and lse is always finite.
//
// Compile-time constants:
//   HEAD_DIM  D (any value; 16, 32, 64, 128 are the tuned ones)
//   SWA_BQ    rows (queries, or keys in the dk/dv pass) per work-group = work-group size
//   SWA_BK    rows of the streamed tile held in local memory (keys, or queries in the dk/dv pass)
//
// Design: one work-item owns one row (a query, or a key in the dk/dv pass) and keeps that row's
// operands and accumulators in private memory; the work-group streams the tiles of the other
// side through local memory, loaded cooperatively. Every work-item reads the same local address
// at the same time (a broadcast), so there are no bank conflicts. Rows past L still take part in
// the loads and barriers and write nothing. Each output element is written by exactly one
// work-item in a fixed order: results are deterministic and no atomics are needed.

#ifndef HEAD_DIM
#error "swa.cl needs -DHEAD_DIM=<head dimension>"
#endif
#ifndef SWA_BQ
#define SWA_BQ 64
#endif
#ifndef SWA_BK
#define SWA_BK 32
#endif

// Dot product of a private row and a local row of HEAD_DIM floats.
static inline float swa_dot_pl(const float* a, __local const float* b) {
    float s = 0.0f;
    for (int d = 0; d < HEAD_DIM; d++) s = fma(a[d], b[d], s);
    return s;
}

// Copies rows [r0, r0 + SWA_BK) of a [B, L, heads, D] tensor (batch b, head hd) into a local
// tile, zero-filling rows at or past rEnd so that no uninitialised local memory is ever read.
static inline void swa_load_tile(__local float* tile, __global const float* src, int b, int L, int heads, int hd,
                                 int r0, int rEnd, int lid) {
    for (int e = lid; e < SWA_BK * HEAD_DIM; e += SWA_BQ) {
        int r = e / HEAD_DIM, c = e - r * HEAD_DIM;
        int row = r0 + r;
        tile[e] = row < rEnd ? src[((b * L + row) * heads + hd) * HEAD_DIM + c] : 0.0f;
    }
}

// Forward, one work-group per (block of SWA_BQ queries, batch b, query head g):
//   o_t   = sum_{j = max(0, t-W)}^{t} softmax_j(s_tj) v_j
//   lse_t = log sum_j exp(s_tj)                            (natural log, of the scaled scores)
// with the online softmax: a running maximum m, a running sum l and an accumulator rescaled by
// exp(m_old - m_new) only when the maximum grows.
// Grid: global (roundUp(L, SWA_BQ), B * HQ), local (SWA_BQ, 1).
__kernel __attribute__((reqd_work_group_size(SWA_BQ, 1, 1)))
void swa_fwd(__global const float* q, __global const float* k, __global const float* v,
             __global float* o, __global float* lse,
             const int B, const int L, const int HQ, const int H, const int window, const float scale) {
    __local float ks[SWA_BK * HEAD_DIM];
    __local float vs[SWA_BK * HEAD_DIM];
    const int lid = get_local_id(0);
    const int W = min(window, L);  // W >= L is full causal attention; clamping keeps t + W from overflowing
    const int t0 = get_group_id(0) * SWA_BQ;
    const int bg = get_global_id(1);
    const int b = bg / HQ, g = bg - b * HQ;
    const int h = g / (HQ / H);
    const int t = t0 + lid;
    const bool active = t < L && b < B;

    float qr[HEAD_DIM], acc[HEAD_DIM];
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
        swa_load_tile(ks, k, b, L, H, h, j0, jhi, lid);
        swa_load_tile(vs, v, b, L, H, h, j0, jhi, lid);
        barrier(CLK_LOCAL_MEM_FENCE);
        if (active) {
            // This query's visible rows of the tile: t - W <= j0 + r <= t.
            const int rlo = max(0, t - W - j0), rhi = min(SWA_BK, t - j0 + 1);
            for (int r = rlo; r < rhi; r++) {
                __local const float* kr = ks + r * HEAD_DIM;
                __local const float* vr = vs + r * HEAD_DIM;
                const float s = swa_dot_pl(qr, kr) * scale;
                if (s > m) {
                    const float c = exp(m - s);
                    l *= c;
                    for (int d = 0; d < HEAD_DIM; d++) acc[d] *= c;
                    m = s;
                }
                const float p = exp(s - m);
                l += p;
                for (int d = 0; d < HEAD_DIM; d++) acc[d] = fma(p, vr[d], acc[d]);
            }
        }
    }
    if (active) {
        const float inv = 1.0f / l;
        for (int d = 0; d < HEAD_DIM; d++) o[qoff + d] = acc[d] * inv;
        lse[(b * L + t) * HQ + g] = m + log(l);
    }
}

// Backward preprocessing, one work-item per (b, t, g):
//   delta_t = sum_d dO_t[d] * O_t[d]        (FlashAttention's D_t = rowsum(dO o O))
// Grid: global roundUp(B * L * HQ, 64), local 64.
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
    __local float ks[SWA_BK * HEAD_DIM];
    __local float vs[SWA_BK * HEAD_DIM];
    const int lid = get_local_id(0);
    const int W = min(window, L);  // W >= L is full causal attention; clamping keeps t + W from overflowing
    const int t0 = get_group_id(0) * SWA_BQ;
    const int bg = get_global_id(1);
    const int b = bg / HQ, g = bg - b * HQ;
    const int h = g / (HQ / H);
    const int t = t0 + lid;
    const bool active = t < L && b < B;

    float qr[HEAD_DIM], dor[HEAD_DIM], acc[HEAD_DIM];
    const int qoff = ((b * L + t) * HQ + g) * HEAD_DIM;
    for (int d = 0; d < HEAD_DIM; d++) {
        qr[d] = active ? q[qoff + d] : 0.0f;
        dor[d] = active ? d_o[qoff + d] : 0.0f;
        acc[d] = 0.0f;
    }
    const float lse_t = active ? lse[(b * L + t) * HQ + g] : 0.0f;
    const float delta_t = active ? delta[(b * L + t) * HQ + g] : 0.0f;

    const int jlo = max(0, t0 - W);
    const int jhi = min(L, t0 + SWA_BQ);
    for (int j0 = jlo; j0 < jhi; j0 += SWA_BK) {
        barrier(CLK_LOCAL_MEM_FENCE);
        swa_load_tile(ks, k, b, L, H, h, j0, jhi, lid);
        swa_load_tile(vs, v, b, L, H, h, j0, jhi, lid);
        barrier(CLK_LOCAL_MEM_FENCE);
        if (active) {
            const int rlo = max(0, t - W - j0), rhi = min(SWA_BK, t - j0 + 1);
            for (int r = rlo; r < rhi; r++) {
                __local const float* kr = ks + r * HEAD_DIM;
                __local const float* vr = vs + r * HEAD_DIM;
                const float p = exp(swa_dot_pl(qr, kr) * scale - lse_t);
                const float ds = p * (swa_dot_pl(dor, vr) - delta_t);
                for (int d = 0; d < HEAD_DIM; d++) acc[d] = fma(ds, kr[d], acc[d]);
            }
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
    __local float qs[SWA_BK * HEAD_DIM];
    __local float dos[SWA_BK * HEAD_DIM];
    __local float lses[SWA_BK];
    __local float deltas[SWA_BK];
    const int lid = get_local_id(0);
    const int W = min(window, L);  // W >= L is full causal attention; clamping keeps t + W from overflowing
    const int j0blk = get_group_id(0) * SWA_BQ;
    const int bh = get_global_id(1);
    const int b = bh / H, h = bh - b * H;
    const int G = HQ / H;
    const int j = j0blk + lid;
    const bool active = j < L && b < B;

    float kr[HEAD_DIM], vr[HEAD_DIM], dka[HEAD_DIM], dva[HEAD_DIM];
    const int koff = ((b * L + j) * H + h) * HEAD_DIM;
    for (int d = 0; d < HEAD_DIM; d++) {
        kr[d] = active ? k[koff + d] : 0.0f;
        vr[d] = active ? v[koff + d] : 0.0f;
        dka[d] = 0.0f;
        dva[d] = 0.0f;
    }

    // Queries that see some key of the block: [j0blk, min(L, j0blk + SWA_BQ + W)).
    const int tlo = j0blk;
    const int thi = min(L, j0blk + SWA_BQ + W);
    for (int gi = 0; gi < G; gi++) {
        const int g = h * G + gi;
        for (int r0 = tlo; r0 < thi; r0 += SWA_BK) {
            barrier(CLK_LOCAL_MEM_FENCE);
            swa_load_tile(qs, q, b, L, HQ, g, r0, thi, lid);
            swa_load_tile(dos, d_o, b, L, HQ, g, r0, thi, lid);
            for (int r = lid; r < SWA_BK; r += SWA_BQ) {
                const bool in = r0 + r < thi;
                lses[r] = in ? lse[(b * L + r0 + r) * HQ + g] : 0.0f;
                deltas[r] = in ? delta[(b * L + r0 + r) * HQ + g] : 0.0f;
            }
            barrier(CLK_LOCAL_MEM_FENCE);
            if (active) {
                // This key's readers in the tile: j <= r0 + r <= j + W.
                const int rlo = max(0, j - r0), rhi = min(SWA_BK, min(thi, j + W + 1) - r0);
                for (int r = rlo; r < rhi; r++) {
                    __local const float* qrow = qs + r * HEAD_DIM;
                    __local const float* drow = dos + r * HEAD_DIM;
                    const float p = exp(swa_dot_pl(kr, qrow) * scale - lses[r]);
                    const float ds = p * (swa_dot_pl(vr, drow) - deltas[r]);
                    for (int d = 0; d < HEAD_DIM; d++) {
                        dva[d] = fma(p, drow[d], dva[d]);
                        dka[d] = fma(ds, qrow[d], dka[d]);
                    }
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
