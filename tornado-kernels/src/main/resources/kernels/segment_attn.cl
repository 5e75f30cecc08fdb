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
// Design (as swa.cl): one work-item owns one row and keeps its operands and accumulators in private
// memory; the work-group streams tiles of the other side of the same segment through local memory,
// the dot-product operand stored transposed ([D][tile rows + 1]) so a tile's scores are an inner
// loop without reduction. Rows at or past T are zero-filled in the tiles and masked out of the
// softmax; work-items past T take part in loads and barriers and write nothing. Each output element
// is written by exactly one work-item summing in a fixed order: deterministic, no atomics.

#ifndef HEAD_DIM
#error "segment_attn.cl needs -DHEAD_DIM=<head dimension>"
#endif
#ifndef SEG_BQ
#define SEG_BQ 32
#endif
#ifndef SEG_BK
#define SEG_BK 32
#endif

// Leading dimension of a transposed tile.
#define SEG_LDT (SEG_BK + 1)

// Copies rows [r0, r0 + SEG_BK) of segment n, head hd, of a [N, T, heads, D] tensor into local
// memory, row-major and/or transposed (flags, not null pointers: address 0 can be a valid local
// address). Rows at or past T are zero-filled, so no uninitialised local memory is ever read.
static inline void seg_load_tile(__local float* rowMajor, const int wantRowMajor, __local float* transposed, const int wantTransposed,
                                 __global const float* src, int n, int T, int heads, int hd, int r0, int lid) {
    for (int e = lid; e < SEG_BK * HEAD_DIM; e += SEG_BQ) {
        const int r = e / HEAD_DIM, c = e - r * HEAD_DIM;
        const int row = r0 + r;
        const float x = row < T ? src[((n * T + row) * heads + hd) * HEAD_DIM + c] : 0.0f;
        if (wantRowMajor) rowMajor[e] = x;
        if (wantTransposed) transposed[c * SEG_LDT + r] = x;
    }
}

// Forward, one work-group per (block of SEG_BQ queries, segment n, query head g):
//   o_t = sum_{j < T} softmax_j(s_tj) v_j,   lse_t = log sum_j exp(s_tj)   (natural log)
// Online softmax over key tiles (running maximum m, sum l, accumulator rescaled per tile).
// Grid: global (roundUp(T, SEG_BQ), N * HQ), local (SEG_BQ, 1).
__kernel __attribute__((reqd_work_group_size(SEG_BQ, 1, 1)))
void seg_attn_fwd(__global const float* q, __global const float* k, __global const float* v,
                  __global float* o, __global float* lse,
                  const int N, const int T, const int HQ, const int H, const float scale) {
    __local float kT[HEAD_DIM * SEG_LDT];
    __local float vs[SEG_BK * HEAD_DIM];
    const int lid = get_local_id(0);
    const int ng = get_global_id(1);
    const int n = ng / HQ, g = ng - n * HQ;
    const int h = g / (HQ / H);
    const int t = get_group_id(0) * SEG_BQ + lid;
    const bool active = t < T && n < N;

    float qr[HEAD_DIM], acc[HEAD_DIM], sc[SEG_BK];
    const int qoff = ((n * T + t) * HQ + g) * HEAD_DIM;
    for (int d = 0; d < HEAD_DIM; d++) {
        qr[d] = active ? q[qoff + d] : 0.0f;
        acc[d] = 0.0f;
    }
    float m = -INFINITY, l = 0.0f;
    for (int j0 = 0; j0 < T; j0 += SEG_BK) {
        barrier(CLK_LOCAL_MEM_FENCE);
        seg_load_tile(kT, 0, kT, 1, k, n, T, H, h, j0, lid);
        seg_load_tile(vs, 1, vs, 0, v, n, T, H, h, j0, lid);
        barrier(CLK_LOCAL_MEM_FENCE);

        for (int r = 0; r < SEG_BK; r++) sc[r] = 0.0f;
        for (int d = 0; d < HEAD_DIM; d++) {
            const float x = qr[d];
            __local const float* col = kT + d * SEG_LDT;
            for (int r = 0; r < SEG_BK; r++) sc[r] = fma(x, col[r], sc[r]);
        }
        float tileMax = -INFINITY;
        for (int r = 0; r < SEG_BK; r++) {
            sc[r] = j0 + r < T ? sc[r] * scale : -INFINITY;
            tileMax = fmax(tileMax, sc[r]);
        }
        // Every tile starts below T, so its first key is valid and tileMax is finite.
        const float mNew = fmax(m, tileMax);
        const float c = exp(m - mNew);
        l *= c;
        for (int d = 0; d < HEAD_DIM; d++) acc[d] *= c;
        for (int r = 0; r < SEG_BK; r++) sc[r] = exp(sc[r] - mNew);
        for (int r = 0; r < SEG_BK; r++) l += sc[r];
        for (int r = 0; r < SEG_BK; r++) {
            const float p = sc[r];
            __local const float* vr = vs + r * HEAD_DIM;
            for (int d = 0; d < HEAD_DIM; d++) acc[d] = fma(p, vr[d], acc[d]);
        }
        m = mNew;
    }
    if (active) {
        const float inv = 1.0f / l;
        for (int d = 0; d < HEAD_DIM; d++) o[qoff + d] = acc[d] * inv;
        lse[(n * T + t) * HQ + g] = m + log(l);
    }
}

// Backward preprocessing (delta_i = dO_i . O_i per row) is swa.cl's swa_bwd_delta, shared.

// Backward for the queries, one work-group per (block of SEG_BQ queries, segment n, query head g):
//   dS_tj = P_tj * (dO_t . v_j - delta_t),   dq_t = scale * sum_j dS_tj k_j
// Grid: as seg_attn_fwd.
__kernel __attribute__((reqd_work_group_size(SEG_BQ, 1, 1)))
void seg_attn_bwd_dq(__global const float* q, __global const float* k, __global const float* v,
                     __global const float* d_o, __global const float* lse, __global const float* delta,
                     __global float* dq,
                     const int N, const int T, const int HQ, const int H, const float scale) {
    __local float kT[HEAD_DIM * SEG_LDT];
    __local float vT[HEAD_DIM * SEG_LDT];
    __local float ks[SEG_BK * HEAD_DIM];
    const int lid = get_local_id(0);
    const int ng = get_global_id(1);
    const int n = ng / HQ, g = ng - n * HQ;
    const int h = g / (HQ / H);
    const int t = get_group_id(0) * SEG_BQ + lid;
    const bool active = t < T && n < N;

    float qr[HEAD_DIM], dor[HEAD_DIM], acc[HEAD_DIM], sc[SEG_BK], dp[SEG_BK];
    const int qoff = ((n * T + t) * HQ + g) * HEAD_DIM;
    for (int d = 0; d < HEAD_DIM; d++) {
        qr[d] = active ? q[qoff + d] : 0.0f;
        dor[d] = active ? d_o[qoff + d] : 0.0f;
        acc[d] = 0.0f;
    }
    const float lseT = active ? lse[(n * T + t) * HQ + g] : 0.0f;
    const float deltaT = active ? delta[(n * T + t) * HQ + g] : 0.0f;

    for (int j0 = 0; j0 < T; j0 += SEG_BK) {
        barrier(CLK_LOCAL_MEM_FENCE);
        seg_load_tile(ks, 1, kT, 1, k, n, T, H, h, j0, lid);
        seg_load_tile(vT, 0, vT, 1, v, n, T, H, h, j0, lid);
        barrier(CLK_LOCAL_MEM_FENCE);

        for (int r = 0; r < SEG_BK; r++) {
            sc[r] = 0.0f;
            dp[r] = 0.0f;
        }
        for (int d = 0; d < HEAD_DIM; d++) {
            const float x = qr[d], y = dor[d];
            __local const float* kc = kT + d * SEG_LDT;
            __local const float* vc = vT + d * SEG_LDT;
            for (int r = 0; r < SEG_BK; r++) {
                sc[r] = fma(x, kc[r], sc[r]);
                dp[r] = fma(y, vc[r], dp[r]);
            }
        }
        for (int r = 0; r < SEG_BK; r++) {
            const float p = exp(sc[r] * scale - lseT);
            sc[r] = j0 + r < T ? p : 0.0f;  // select after exp: the loop stays branch-free
        }
        for (int r = 0; r < SEG_BK; r++) {
            const float ds = sc[r] * (dp[r] - deltaT);
            __local const float* kr = ks + r * HEAD_DIM;
            for (int d = 0; d < HEAD_DIM; d++) acc[d] = fma(ds, kr[d], acc[d]);
        }
    }
    if (active) {
        for (int d = 0; d < HEAD_DIM; d++) dq[qoff + d] = acc[d] * scale;
    }
}

// Backward for the keys and values, one work-group per (block of SEG_BQ keys, segment n, KV head h),
// one work-item per key j; it visits every query of its segment for each of the G query heads of
// the group, streaming their q, dO, lse and delta rows through local memory (no atomics):
//   dv_j = sum_{g in group} sum_{t < T} P_tj dO_t,   dk_j = scale * sum_g sum_t dS_tj q_t
// Grid: global (roundUp(T, SEG_BQ), N * H), local (SEG_BQ, 1).
__kernel __attribute__((reqd_work_group_size(SEG_BQ, 1, 1)))
void seg_attn_bwd_dkdv(__global const float* q, __global const float* k, __global const float* v,
                       __global const float* d_o, __global const float* lse, __global const float* delta,
                       __global float* dk, __global float* dv,
                       const int N, const int T, const int HQ, const int H, const float scale) {
    __local float qT[HEAD_DIM * SEG_LDT];
    __local float dT[HEAD_DIM * SEG_LDT];
    __local float qs[SEG_BK * HEAD_DIM];
    __local float dos[SEG_BK * HEAD_DIM];
    __local float lses[SEG_BK];
    __local float deltas[SEG_BK];
    const int lid = get_local_id(0);
    const int nh = get_global_id(1);
    const int n = nh / H, h = nh - n * H;
    const int G = HQ / H;
    const int j = get_group_id(0) * SEG_BQ + lid;
    const bool active = j < T && n < N;

    float kr[HEAD_DIM], vr[HEAD_DIM], dka[HEAD_DIM], dva[HEAD_DIM], sc[SEG_BK], dp[SEG_BK];
    const int koff = ((n * T + j) * H + h) * HEAD_DIM;
    for (int d = 0; d < HEAD_DIM; d++) {
        kr[d] = active ? k[koff + d] : 0.0f;
        vr[d] = active ? v[koff + d] : 0.0f;
        dka[d] = 0.0f;
        dva[d] = 0.0f;
    }
    for (int gi = 0; gi < G; gi++) {
        const int g = h * G + gi;
        for (int r0 = 0; r0 < T; r0 += SEG_BK) {
            barrier(CLK_LOCAL_MEM_FENCE);
            seg_load_tile(qs, 1, qT, 1, q, n, T, HQ, g, r0, lid);
            seg_load_tile(dos, 1, dT, 1, d_o, n, T, HQ, g, r0, lid);
            for (int r = lid; r < SEG_BK; r += SEG_BQ) {
                const bool in = r0 + r < T;
                lses[r] = in ? lse[(n * T + r0 + r) * HQ + g] : 0.0f;
                deltas[r] = in ? delta[(n * T + r0 + r) * HQ + g] : 0.0f;
            }
            barrier(CLK_LOCAL_MEM_FENCE);

            for (int r = 0; r < SEG_BK; r++) {
                sc[r] = 0.0f;
                dp[r] = 0.0f;
            }
            for (int d = 0; d < HEAD_DIM; d++) {
                const float x = kr[d], y = vr[d];
                __local const float* qc = qT + d * SEG_LDT;
                __local const float* dc = dT + d * SEG_LDT;
                for (int r = 0; r < SEG_BK; r++) {
                    sc[r] = fma(x, qc[r], sc[r]);
                    dp[r] = fma(y, dc[r], dp[r]);
                }
            }
            for (int r = 0; r < SEG_BK; r++) {
                const float p = exp(sc[r] * scale - lses[r]);
                sc[r] = r0 + r < T ? p : 0.0f;
            }
            for (int r = 0; r < SEG_BK; r++) {
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
