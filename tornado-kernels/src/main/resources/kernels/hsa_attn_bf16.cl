#include "common.h"

// HSA per-chunk attention forward with K and V stored as bf16 (org.hsajava.kernels.HsaAttentionBf16).
//
// The tensor-core forward of hsa_attn.cl reads, per token, every selected chunk's K and V rows from
// L2 (34 GB at B=8, L=16K, D=S=64, K=8): bound by L2 bandwidth, not by the tensor cores. Here K and
// V are first packed once to bf16 (hsa_kv_bf16, half the bytes, V transposed per chunk so that every
// tensor-core fragment is one contiguous load), and the forward runs bf16 mma.sync m16n8k16 with fp32
// accumulation; softmax, lse and the sum over slots stay fp32. It computes what hsa_attn_fwd computes
// (formulas: hsa_attn.cl and DESIGN.md §2) with q, k, v rounded to bf16 and the weighted
// probabilities w p / z rounded to bf16 before the product with V.
//
// Layouts: q, o [B, L, HQ, D] fp32; kb [B, Lkv, H, D] bf16 (k rounded); vt [B, H, C, D, S] bf16 (v of
// chunk c transposed: vt[b, h, c, d, j] = v[b, c*S + j, h, d]); indices, weights [B, L, H, K];
// lse [B, L, HQ, K]. Lkv = C*S, C = L/S. bf16 buffers are read as uint pairs (low half first).
// Compile-time constants: D, S in {16, 32, 64, 128}, G = HQ/H.

#include "bf16.h"

// kb = bf16(k), vt = bf16(v) transposed per chunk. One work-item per pair of bf16 outputs: pair i of
// kb (elements 2i, 2i+1) and pair i of vt in vt's own order, i = (((b*H + h)*C + c)*D + d)*(S/2) + j2
// (chunk rows 2 j2 and 2 j2 + 1). Arguments B, Lkv = C*S, H.
__kernel void hsa_kv_bf16(__global const float* k, __global const float* v, __global uint* kb, __global uint* vt,
                          const int B, const int Lkv, const int H) {
    const size_t i = get_global_id(0);
    const int C = Lkv / S;
    if (i >= (size_t) B * Lkv * H * (D / 2)) return;
    kb[i] = bf16_bits(k[2 * i]) | (bf16_bits(k[2 * i + 1]) << 16);
    const int j2 = (int) (i % (S / 2)), d = (int) (i / (S / 2) % D);
    const size_t bhc = i / ((size_t) (S / 2) * D);
    const int c = (int) (bhc % C), h = (int) (bhc / C % H), b = (int) (bhc / C / H);
    const size_t row = (size_t) b * Lkv + (size_t) c * S + 2 * j2;
    const float lo = v[(row * H + h) * D + d], hi = v[((row + 1) * H + h) * D + d];
    vt[i] = bf16_bits(lo) | (bf16_bits(hi) << 16);
}

// ---------------------------------------------------------------- forward on bf16 tensor cores
//
// Compiled for NVIDIA GPUs of compute capability 8.0 or more (-DHSA_NVIDIA) or with its PTX emulated
// (-DTC_EMULATE: tests on PoCL). One warp per (b, t, h), as the TF32 forward: per slot it computes,
// for 16 query heads at a time (the rows of an m16 tile; rows past G are zero), the 16 x S scores,
// the softmax in registers and the 16 x D product with V. No local memory (but the emulation's) and
// no barrier.
//
// Fragments (m16n8k16 .bf16, tc.h; lane = 4*gid + t4): A a0 (row gid, k 2t4..2t4+1), a1 (gid+8, same
// k), a2 (gid, 2t4+8..+9), a3 (gid+8, 2t4+8..+9); B b0 (k 2t4..2t4+1, column gid), b1 (k 2t4+8..+9);
// C c0, c1 (row gid, columns 2t4, 2t4+1), c2, c3 (row gid+8). Reduction indices and B columns may be
// permuted freely (the same way in both operands; outputs follow the columns), which makes every load
// a lane does one contiguous vector:
//   S = Q K^T over the head dim: k-step ks, pair x (b0: x = 0, b1: x = 1) of lane t4 stands for the
//     dims HSA_KD(ks, t4, x) .. +1 below, so lane t4 holds HSA_KW contiguous dims of each row (a uint4
//     of 8 dims for D >= 32, a uint2 of 4 for D = 16); column n of n-tile nt stands for chunk row
//     HSA_ROW(nt, n);
//   O += P V over the chunk rows: k-step kp is the score n-tiles 2kp (k 0..7) and 2kp+1 (k 8..15), so
//     the A fragment is the lane's accumulators repacked ({c0,c1}, {c2,c3} of each tile) with no
//     shuffle; by HSA_ROW, lane t4's four k of step kp are the chunk rows (S/4) t4 + 4kp + 0..3, so over
//     all steps lane t4 needs chunk rows (S/4) t4 .. (S/4) t4 + S/4 - 1 of one vt row: contiguous;
//     output column n of n-tile nn stands for dim 8 nn + n.
#if defined(HSA_NVIDIA) || defined(TC_EMULATE)
#include "tc.h"

#if D % 16 != 0 || S % 16 != 0
#error "the bf16 forward needs D and S multiples of 16"
#endif
// dims per lane and load of a K row (and of a Q row): 8 (uint4) for D >= 32, 4 (uint2) for D = 16
#define HSA_KW (D >= 32 ? 8 : 4)
// first dim of pair x of lane t4 in k-step ks: loads of HSA_KW dims hold HSA_KW/4 k-steps
#define HSA_KD(ks, t4, x) (4 * HSA_KW * ((ks) / (HSA_KW / 4)) + HSA_KW * (t4) + 4 * ((ks) % (HSA_KW / 4)) + 2 * (x))
// chunk row of column n of score n-tile nt
#define HSA_ROW(nt, n) ((S / 4) * ((n) / 2) + 4 * ((nt) / 2) + 2 * ((nt) % 2) + (n) % 2)

// The `count` words (bf16 pairs) at p into w[0..count): count 4 is one uint4 load, 2 one uint2.
static inline __attribute__((always_inline)) void hsa_loadw(uint* w, __global const uint* p, const int count) {
    if (count == 4) {
        const uint4 x = *(__global const uint4*) p;
        w[0] = x.x; w[1] = x.y; w[2] = x.z; w[3] = x.w;
    } else {
        const uint2 x = *(__global const uint2*) p;
        w[0] = x.x; w[1] = x.y;
    }
}

// A fragments of Q rows r0 = g0 + gid and r1 = r0 + 8 (zero past G), rounded to bf16: qa[ks].
static inline __attribute__((always_inline)) void hsa_bf16_q(uint4* qa, __global const float* q, const int g0) {
    const int lane = get_local_id(0) % 32, gid = lane / 4, t4 = lane % 4, r0 = g0 + gid, r1 = r0 + 8;
#pragma unroll
    for (int ks = 0; ks < D / 16; ks++) {
        float x0[4], x1[4];
#pragma unroll
        for (int e = 0; e < 4; e++) {
            const int dim = HSA_KD(ks, t4, e / 2) + e % 2;
            x0[e] = r0 < G ? q[r0 * D + dim] : 0.0f;
            x1[e] = r1 < G ? q[r1 * D + dim] : 0.0f;
        }
        qa[ks] = (uint4) (tc_bf16x2(x0[0], x0[1]), tc_bf16x2(x1[0], x1[1]), tc_bf16x2(x0[2], x0[3]), tc_bf16x2(x1[2], x1[3]));
    }
}

// One (b, t, h) item: o and lse of its G query heads. Arguments as hsa_attn_fwd (HsaAttention).
__kernel __attribute__((reqd_work_group_size(32, 1, 1)))
void hsa_attn_fwd_bf16(__global const float* q, __global const uint* kb, __global const uint* vt,
                       __global const int* indices, __global const float* weights,
                       __global float* o, __global float* lse,
                       const int B, const int L, const int HQ, const int H, const int K, const int n, const float scale) {
    __local uint tcs[TC_SCRATCH(1)];
    const int item = get_group_id(0);          // (b*L + t)*H + h; the grid has exactly B*L*H groups
    const int lane = get_local_id(0), gid = lane / 4, t4 = lane % 4;
    const int h = item % H, bt = item / H, t = bt % L, b = bt / L;
    const int C = L / S, Lkv = C * S;
    const int nvalid = min(K, min(C, t / S));
    const int qbase = (bt * HQ + h * G) * D;
    const int lseBase = (bt * HQ + h * G) * K;
    for (int i = lane; i < G * K; i += 32) if (i % K >= nvalid) lse[lseBase + i] = 0.0f;

    for (int g0 = 0; g0 < G; g0 += 16) {
        const int r0 = g0 + gid, r1 = r0 + 8;
        uint4 qa[D / 16];
        hsa_bf16_q(qa, q + qbase, g0);
        float oacc[D / 8][4];
#pragma unroll
        for (int nn = 0; nn < D / 8; nn++)
#pragma unroll
            for (int i = 0; i < 4; i++) oacc[nn][i] = 0.0f;

        for (int slot = 0; slot < nvalid; slot++) {
            const int c = indices[item * K + slot];
            const float w = weights[item * K + slot];
            // scores: n-tile nt, this lane's K row HSA_ROW(nt, gid), dims HSA_KD(., t4, .)
            __global const uint* krows = kb + (((size_t) b * Lkv + (size_t) c * S) * H + h) * (D / 2);
            float sacc[S / 8][4];
#pragma unroll
            for (int nt = 0; nt < S / 8; nt++) {
                __global const uint* krow = krows + (size_t) HSA_ROW(nt, gid) * H * (D / 2) + t4 * (HSA_KW / 2);
                uint kw[D / 4];               // this lane's D/4 dims of the row, as D/8 pairs
#pragma unroll
                for (int ld = 0; ld < D / (4 * HSA_KW); ld++) hsa_loadw(kw + ld * (HSA_KW / 2), krow + ld * 2 * HSA_KW, HSA_KW / 2);
#pragma unroll
                for (int i = 0; i < 4; i++) sacc[nt][i] = 0.0f;
#pragma unroll
                for (int ks = 0; ks < D / 16; ks++) tc_mma_bf16(sacc[nt], qa[ks], kw[2 * ks], kw[2 * ks + 1], tcs);
            }
            // softmax of rows gid (c0, c1) and gid+8 (c2, c3); a row lives in the 4 lanes of a quad
            float m0 = -INFINITY, m1 = -INFINITY;
#pragma unroll
            for (int nt = 0; nt < S / 8; nt++) {
#pragma unroll
                for (int i = 0; i < 4; i++) sacc[nt][i] *= scale;
                m0 = fmax(m0, fmax(sacc[nt][0], sacc[nt][1]));
                m1 = fmax(m1, fmax(sacc[nt][2], sacc[nt][3]));
            }
            m0 = tc_quad_max(m0, tcs);
            m1 = tc_quad_max(m1, tcs);
            if (n > 0) {
                m0 = fmax(m0, 0.0f);
                m1 = fmax(m1, 0.0f);
            }
            float z0 = 0.0f, z1 = 0.0f;
#pragma unroll
            for (int nt = 0; nt < S / 8; nt++) {
                sacc[nt][0] = exp(sacc[nt][0] - m0);
                sacc[nt][1] = exp(sacc[nt][1] - m0);
                sacc[nt][2] = exp(sacc[nt][2] - m1);
                sacc[nt][3] = exp(sacc[nt][3] - m1);
                z0 += sacc[nt][0] + sacc[nt][1];
                z1 += sacc[nt][2] + sacc[nt][3];
            }
            z0 = tc_quad_sum(z0, tcs);
            z1 = tc_quad_sum(z1, tcs);
            if (n > 0) {
                z0 += (float) n * exp(-m0);
                z1 += (float) n * exp(-m1);
            }
            if (t4 == 0) {
                if (r0 < G) lse[lseBase + r0 * K + slot] = m0 + log(z0);
                if (r1 < G) lse[lseBase + r1 * K + slot] = m1 + log(z1);
            }
            // A fragments of w P / z, k-step kp = score n-tiles 2kp, 2kp+1
            const float f0 = w / z0, f1 = w / z1;
            uint4 pa[S / 16];
#pragma unroll
            for (int kp = 0; kp < S / 16; kp++) {
                const float* lo = sacc[2 * kp];
                const float* hi = sacc[2 * kp + 1];
                pa[kp] = (uint4) (tc_bf16x2(lo[0] * f0, lo[1] * f0), tc_bf16x2(lo[2] * f1, lo[3] * f1),
                                  tc_bf16x2(hi[0] * f0, hi[1] * f0), tc_bf16x2(hi[2] * f1, hi[3] * f1));
            }
            // O += (w P / z) V: n-tile nn, this lane's vt row is dim 8nn + gid, chunk rows (S/4) t4 ..
            __global const uint* vrows = vt + (((size_t) b * H + h) * C + c) * D * (S / 2) + t4 * (S / 8);
#pragma unroll
            for (int nn = 0; nn < D / 8; nn++) {
                __global const uint* vrow = vrows + (size_t) (8 * nn + gid) * (S / 2);
                uint vw[S / 8 >= 4 ? S / 8 : 4];   // chunk rows (S/4) t4 .. + S/4 - 1, as S/8 pairs
#pragma unroll
                for (int ld = 0; ld < (S / 8 + 3) / 4; ld++) hsa_loadw(vw + 4 * ld, vrow + 4 * ld, S / 8 >= 4 ? 4 : 2);
#pragma unroll
                for (int kp = 0; kp < S / 16; kp++) tc_mma_bf16(oacc[nn], pa[kp], vw[2 * kp], vw[2 * kp + 1], tcs);
            }
        }
        // store: c0, c1 = row gid, dims 8nn + 2t4, +1; c2, c3 = row gid + 8
#pragma unroll
        for (int nn = 0; nn < D / 8; nn++) {
            if (r0 < G) *(__global float2*) (o + qbase + r0 * D + 8 * nn + 2 * t4) = (float2) (oacc[nn][0], oacc[nn][1]);
            if (r1 < G) *(__global float2*) (o + qbase + r1 * D + 8 * nn + 2 * t4) = (float2) (oacc[nn][2], oacc[nn][3]);
        }
    }
}
#endif
