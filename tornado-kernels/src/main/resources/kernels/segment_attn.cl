#include "common.h"

// Bidirectional (non-causal) softmax attention inside independent segments of T tokens, GQA,
// forward and backward: the chunk encoder's attention, where every chunk of S tokens plus its CLS
// token is one segment of T = S + 1 tokens and every token sees every token of its own segment.
//
// Conventions (shared with org.hsajava.kernels.SegmentAttention):
//   q, o, d_o, dq : [N, T, HQ, D]      k, v, dk, dv : [N, T, H, D]      lse, delta : [N, T, HQ]
//   query head g reads KV head h = g / (HQ / H)
//   s_tj = scale * (q_t . k_j)      P_tj = exp(s_tj - lse_t)      lse_t = log sum_{j < T} exp(s_tj)
// Every segment has at least one key, so lse is always finite.
//
// Compile-time constants:
//   HEAD_DIM    D
//   SEG_BQ      rows per work-group = work-group size (queries; keys in the dk/dv pass)
//   SEG_BK      rows of the streamed key/value tile (forward, dq) or query tile (dk/dv)
//
// The bodies are attn_rows.h's, shared with swa.cl: a segment is a sequence of L = T rows (batch
// index = segment index) in which every query sees every key (ATTN_CAUSAL 0). The backward
// preprocessing (delta_i = dO_i . O_i per row) is swa.cl's swa_bwd_delta.

#ifndef HEAD_DIM
#error "segment_attn.cl needs -DHEAD_DIM=<head dimension>"
#endif
#ifndef SEG_BQ
#define SEG_BQ 32
#endif
#ifndef SEG_BK
#define SEG_BK 32
#endif

#define ATTN_BQ SEG_BQ
#define ATTN_BK SEG_BK
#define ATTN_BK_DKDV SEG_BK
#define ATTN_CAUSAL 0
#include "attn_rows.h"

// Forward: o_t = sum_{j < T} softmax_j(s_tj) v_j and lse_t. Grid: global (roundUp(T, SEG_BQ), N * HQ), local (SEG_BQ, 1).
__kernel __attribute__((reqd_work_group_size(SEG_BQ, 1, 1)))
void seg_attn_fwd(__global const float* q, __global const float* k, __global const float* v,
                  __global float* o, __global float* lse,
                  const int N, const int T, const int HQ, const int H, const float scale) {
    __local float kT[HEAD_DIM * ATTN_LDT(SEG_BK)];
    __local float vs[SEG_BK * HEAD_DIM];
    attn_fwd_body(q, k, v, o, lse, N, T, HQ, H, T, scale, kT, vs);
}

// Backward for the queries: dq_t = scale * sum_j P_tj (dO_t . v_j - delta_t) k_j. Grid: as seg_attn_fwd.
__kernel __attribute__((reqd_work_group_size(SEG_BQ, 1, 1)))
void seg_attn_bwd_dq(__global const float* q, __global const float* k, __global const float* v,
                     __global const float* d_o, __global const float* lse, __global const float* delta,
                     __global float* dq,
                     const int N, const int T, const int HQ, const int H, const float scale) {
    __local float kT[HEAD_DIM * ATTN_LDT(SEG_BK)];
    __local float vT[HEAD_DIM * ATTN_LDT(SEG_BK)];
    __local float ks[SEG_BK * HEAD_DIM];
    attn_dq_body(q, k, v, d_o, lse, delta, dq, N, T, HQ, H, T, scale, kT, vT, ks);
}

// Backward for the keys and values, one work-item per key, visiting every query of its segment for
// each of the G query heads of its KV head. Grid: global (roundUp(T, SEG_BQ), N * H), local (SEG_BQ, 1).
__kernel __attribute__((reqd_work_group_size(SEG_BQ, 1, 1)))
void seg_attn_bwd_dkdv(__global const float* q, __global const float* k, __global const float* v,
                       __global const float* d_o, __global const float* lse, __global const float* delta,
                       __global float* dk, __global float* dv,
                       const int N, const int T, const int HQ, const int H, const float scale) {
    __local float qT[HEAD_DIM * ATTN_LDT(SEG_BK)];
    __local float dT[HEAD_DIM * ATTN_LDT(SEG_BK)];
    __local float qs[SEG_BK * HEAD_DIM];
    __local float dos[SEG_BK * HEAD_DIM];
    __local float lses[SEG_BK];
    __local float deltas[SEG_BK];
    attn_dkdv_body(q, k, v, d_o, lse, delta, dk, dv, N, T, HQ, H, T, scale, qT, dT, qs, dos, lses, deltas);
}
