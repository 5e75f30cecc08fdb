// Tensor-core fragments of attention products over a head dimension, shared by the TF32 paths of
// hsa_attn.cl (per-chunk attention) and swa_tc.h (sliding-window attention). The including file
// includes tc.h and defines ATTN_TC_D, the head dimension (16, 32, 64 or 128).
//
// Fragments as in tc.h (m16n8k8 .tf32; lane = 4*gid + t4): a lane holds, of every 16-row A tile,
// rows gid and gid+8, and of every 8-column accumulator columns 2t4 and 2t4+1. The reduction index
// of an mma may be permuted freely (the same way in both operands), and so may the columns of B (the
// output columns follow). So:
//   products over the head dim (scores Q K^T, dP = dO V^T and their transposes): k-step 2c4 + e,
//     column c < 4 stands for dim 16c4 + 4c + 2e and column c+4 for the dim after it, so lane t4
//     holds dims 16c4 + 4t4 .. 16c4 + 4t4 + 3 of its A rows and of its B row (the row of n-tile
//     column gid): whole float4s, a quad reads 64 contiguous bytes of a row (attn_tc_a, attn_tc_nt);
//   products over an n-tile of 8 rows (P V, dS K, P^T dO, dS^T Q): k-step = one n-tile of the
//     previous product, column c stands for its row 2c and column c+4 for row 2c+1, exactly the
//     accumulator columns the lane holds, so P goes from accumulator to A operand without a
//     shuffle (a = {c0, c2, c1, c3}); output n-tile nn, column x stands for dim ATTN_TC_PI(nn, x),
//     so lane gid loads VW contiguous floats of each B row per chunk of 8 VW dims (attn_tc_pv_step).
#ifndef ATTN_TC_H
#define ATTN_TC_H

#ifndef ATTN_TC_D
#error "attn_tc.h needs ATTN_TC_D, the head dimension"
#endif
#if ATTN_TC_D % 16 != 0
#error "the tensor-core attention fragments need a head dimension that is a multiple of 16"
#endif

#define ATTN_TC_VW (ATTN_TC_D >= 32 ? 4 : 2)
#define ATTN_TC_PI(nn, x) (8 * ATTN_TC_VW * ((nn) / ATTN_TC_VW) + ATTN_TC_VW * (x) + (nn) % ATTN_TC_VW)

// Loops over fragments are unrolled natively (their arrays must live in registers); the emulation
// keeps them rolled: every emulated mma holds two barriers, and PoCL compiles each barrier region of
// an unrolled body separately (minutes at D = 128 otherwise).
#ifdef TC_EMULATE
#define ATTN_TC_UNROLL _Pragma("unroll 1")
#else
#define ATTN_TC_UNROLL _Pragma("unroll")
#endif

// A fragments (rounded to TF32) of a 16-row operand over the head dim, from this lane's two rows:
// x0 = row gid, x1 = row gid + 8 (with maybeNull, 0 stands for a row of zeros; a constant at every
// call, so the test compiles away where rows always exist); k-step 2c4 + e holds dims
// 16c4 + 4t4 + 2e (a0, a1) and the one after it (a2, a3), as the B side of attn_tc_nt.
static inline __attribute__((always_inline)) void attn_tc_a_rows(uint (*fa)[4], __global const float* x0, __global const float* x1, const bool maybeNull) {
    const int t4 = get_local_id(0) % 4;
ATTN_TC_UNROLL
    for (int c4 = 0; c4 < ATTN_TC_D / 16; c4++) {
        const float4 y0 = !maybeNull || x0 ? *(__global const float4*) (x0 + 16 * c4 + 4 * t4) : (float4) 0.0f;
        const float4 y1 = !maybeNull || x1 ? *(__global const float4*) (x1 + 16 * c4 + 4 * t4) : (float4) 0.0f;
        fa[2 * c4][0] = tc_tf32(y0.x);
        fa[2 * c4][1] = tc_tf32(y1.x);
        fa[2 * c4][2] = tc_tf32(y0.y);
        fa[2 * c4][3] = tc_tf32(y1.y);
        fa[2 * c4 + 1][0] = tc_tf32(y0.z);
        fa[2 * c4 + 1][1] = tc_tf32(y1.z);
        fa[2 * c4 + 1][2] = tc_tf32(y0.w);
        fa[2 * c4 + 1][3] = tc_tf32(y1.w);
    }
}

// attn_tc_a_rows of two existing rows.
static inline __attribute__((always_inline)) void attn_tc_a(uint (*fa)[4], __global const float* x0, __global const float* x1) {
    attn_tc_a_rows(fa, x0, x1, false);
}

// acc = A . B^T over the head dim for one n-tile of 8 columns, A given by its fragments, column gid
// (this lane's) of B the row `brow` of ATTN_TC_D floats (lane t4 loads dims 16c4 + 4t4 .. + 3).
static inline __attribute__((always_inline)) void attn_tc_nt(float* acc, const uint (*fa)[4], __global const float* brow, __local uint* tcs) {
    const int t4 = get_local_id(0) % 4;
    float4 bf[ATTN_TC_D / 16];
ATTN_TC_UNROLL
    for (int c4 = 0; c4 < ATTN_TC_D / 16; c4++) bf[c4] = *(__global const float4*) (brow + 16 * c4 + 4 * t4);
ATTN_TC_UNROLL
    for (int i = 0; i < 4; i++) acc[i] = 0.0f;
ATTN_TC_UNROLL
    for (int c4 = 0; c4 < ATTN_TC_D / 16; c4++) {
        tc_mma(acc, fa[2 * c4], tc_tf32(bf[c4].x), tc_tf32(bf[c4].y), tcs);
        tc_mma(acc, fa[2 * c4 + 1], tc_tf32(bf[c4].z), tc_tf32(bf[c4].w), tcs);
    }
}

// acc[nn] += p . Rows for one k-step of 8: p one n-tile of a product in accumulator layout (its 8
// columns are the reduction index here; rounded to TF32), Rows the 8 rows of ATTN_TC_D floats those
// columns stand for, of which this lane loads its two: r0 for column 2t4 (A column t4), r1 for
// column 2t4 + 1 (A column t4 + 4). Output n-tile nn, column x = dim ATTN_TC_PI(nn, x).
static inline __attribute__((always_inline)) void attn_tc_pv_step(float (*acc)[4], const float* p, __global const float* r0, __global const float* r1,
                                                                  __local uint* tcs) {
    const int gid = get_local_id(0) % 32 / 4;
    const uint pa[4] = {tc_tf32(p[0]), tc_tf32(p[2]), tc_tf32(p[1]), tc_tf32(p[3])};
    __global const float* v0 = r0 + ATTN_TC_VW * gid;
    __global const float* v1 = r1 + ATTN_TC_VW * gid;
    float b0[ATTN_TC_D / 8], b1[ATTN_TC_D / 8];   // b0[nn]: dim ATTN_TC_PI(nn, gid) of r0
ATTN_TC_UNROLL
    for (int ch = 0; ch < ATTN_TC_D / (8 * ATTN_TC_VW); ch++) {
#if ATTN_TC_D >= 32
        const float4 x0 = *(__global const float4*) (v0 + 32 * ch), x1 = *(__global const float4*) (v1 + 32 * ch);
        b0[4 * ch] = x0.x; b0[4 * ch + 1] = x0.y; b0[4 * ch + 2] = x0.z; b0[4 * ch + 3] = x0.w;
        b1[4 * ch] = x1.x; b1[4 * ch + 1] = x1.y; b1[4 * ch + 2] = x1.z; b1[4 * ch + 3] = x1.w;
#else
        const float2 x0 = *(__global const float2*) (v0 + 16 * ch), x1 = *(__global const float2*) (v1 + 16 * ch);
        b0[2 * ch] = x0.x; b0[2 * ch + 1] = x0.y;
        b1[2 * ch] = x1.x; b1[2 * ch + 1] = x1.y;
#endif
    }
ATTN_TC_UNROLL
    for (int nn = 0; nn < ATTN_TC_D / 8; nn++) tc_mma(acc[nn], pa, tc_tf32(b0[nn]), tc_tf32(b1[nn]), tcs);
}

#endif  // ATTN_TC_H
