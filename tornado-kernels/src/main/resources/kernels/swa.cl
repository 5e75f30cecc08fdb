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
//   SWA_TC       1: swa_fwd, swa_bwd_dq and swa_bwd_dkdv are the tensor-core kernels of swa_tc.h
//                (NVIDIA, or with TC_EMULATE on any device), with their own work-groups and constants
//
// The portable forward and backward bodies are attn_rows.h's (one work-item per row, tiles of the
// other side streamed through local memory), shared with segment_attn.cl; this file sets the causal
// window.

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

#if defined(SWA_TC) && SWA_TC
#if !defined(HSA_NVIDIA) && !defined(TC_EMULATE)
#error "SWA_TC needs an NVIDIA device (HSA_NVIDIA) or TC_EMULATE"
#endif
#include "swa_tc.h"
#else
#define ATTN_BQ SWA_BQ
#define ATTN_BK SWA_BK
#define ATTN_BK_DKDV SWA_BK_DKDV
#define ATTN_CAUSAL 1
#include "attn_rows.h"

// Forward: o_t = sum_{j = max(0, t-W)}^{t} softmax_j(s_tj) v_j and lse_t (attn_fwd_body).
// Grid: global (roundUp(L, SWA_BQ), B * HQ), local (SWA_BQ, 1).
__kernel __attribute__((reqd_work_group_size(SWA_BQ, 1, 1)))
void swa_fwd(__global const float* q, __global const float* k, __global const float* v,
             __global float* o, __global float* lse,
             const int B, const int L, const int HQ, const int H, const int window, const float scale) {
    __local float kT[HEAD_DIM * ATTN_LDT(SWA_BK)];
    __local float vs[SWA_BK * HEAD_DIM];
    attn_fwd_body(q, k, v, o, lse, B, L, HQ, H, min(window, L), scale, kT, vs);
}

// Backward for the queries: dq_t = scale * sum_j P_tj (dO_t . v_j - delta_t) k_j (attn_dq_body).
// Grid: as swa_fwd.
__kernel __attribute__((reqd_work_group_size(SWA_BQ, 1, 1)))
void swa_bwd_dq(__global const float* q, __global const float* k, __global const float* v,
                __global const float* d_o, __global const float* lse, __global const float* delta,
                __global float* dq,
                const int B, const int L, const int HQ, const int H, const int window, const float scale) {
    __local float kT[HEAD_DIM * ATTN_LDT(SWA_BK)];
    __local float vT[HEAD_DIM * ATTN_LDT(SWA_BK)];
    __local float ks[SWA_BK * HEAD_DIM];
    attn_dq_body(q, k, v, d_o, lse, delta, dq, B, L, HQ, H, min(window, L), scale, kT, vT, ks);
}

// Backward for the keys and values, one work-item per key j, visiting the queries t in [j, j + W]
// of each of the G query heads of its KV head (attn_dkdv_body): O(L * W), no atomics.
// Grid: global (roundUp(L, SWA_BQ), B * H), local (SWA_BQ, 1).
__kernel __attribute__((reqd_work_group_size(SWA_BQ, 1, 1)))
void swa_bwd_dkdv(__global const float* q, __global const float* k, __global const float* v,
                  __global const float* d_o, __global const float* lse, __global const float* delta,
                  __global float* dk, __global float* dv,
                  const int B, const int L, const int HQ, const int H, const int window, const float scale) {
    __local float qT[HEAD_DIM * ATTN_LDT(SWA_BK_DKDV)];
    __local float dT[HEAD_DIM * ATTN_LDT(SWA_BK_DKDV)];
    __local float qs[SWA_BK_DKDV * HEAD_DIM];
    __local float dos[SWA_BK_DKDV * HEAD_DIM];
    __local float lses[SWA_BK_DKDV];
    __local float deltas[SWA_BK_DKDV];
    attn_dkdv_body(q, k, v, d_o, lse, delta, dk, dv, B, L, HQ, H, min(window, L), scale, qT, dT, qs, dos, lses, deltas);
}

#endif  // SWA_TC

// Backward preprocessing, one work-item per row i = (b, t, g):
//   delta_i = sum_d dO_i[d] * O_i[d]        (FlashAttention's D_t = rowsum(dO o O))
// With SWA_BF16, o and d_o are bf16 (the bf16 kernels' output and the bf16 o_proj GEMM's dO).
// Grid: global roundUp(rows, 64), local 64.
#if defined(SWA_BF16) && SWA_BF16
#include "bf16.h"
typedef ushort swa_delta_in;
#define SWA_DELTA_LOAD(x) bf16_float(x)
#else
typedef float swa_delta_in;
#define SWA_DELTA_LOAD(x) (x)
#endif
__kernel void swa_bwd_delta(__global const swa_delta_in* o, __global const swa_delta_in* d_o, __global float* delta, const int rows) {
    const int i = get_global_id(0);
    if (i >= rows) return;
    float s = 0.0f;
    for (int d = 0; d < HEAD_DIM; d++) s = fma(SWA_DELTA_LOAD(o[i * HEAD_DIM + d]), SWA_DELTA_LOAD(d_o[i * HEAD_DIM + d]), s);
    delta[i] = s;
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
