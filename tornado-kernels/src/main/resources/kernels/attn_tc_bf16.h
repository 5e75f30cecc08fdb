// Tensor-core fragments of attention products over a head dimension on bf16 operands: the twin of
// attn_tc.h for mma.sync.m16n8k16 .bf16 with fp32 accumulation (tc.h: tc_mma_bf16), used by
// swa_tc.h when compiled with -DSWA_BF16=1. The including file includes tc.h and defines ATTN_TC_D,
// the head dimension (16, 32, 64 or 128). Rows are ATTN_TC_D bf16 values (ushort bits) in memory,
// each row starting at a multiple of ATTN_TC_D elements.
//
// Fragments (tc.h, m16n8k16 .bf16; lane = 4*gid + t4; a register holds two consecutive k, the lower
// in its low half): A a0 (row gid, k 2t4..2t4+1), a1 (row gid+8, same k), a2 (row gid, k 2t4+8..+9),
// a3 (row gid+8, k 2t4+8..+9); B b0 (k 2t4..2t4+1, column gid), b1 (k 2t4+8..+9); C as for TF32
// (rows gid and gid+8, columns 2t4 and 2t4+1). The reduction index may be permuted freely (the same
// way in both operands), and so may the columns of B (the output columns follow). So:
//   products over the head dim (Q K^T, dO V^T and their transposes; attn16_a, attn16_nt): in k-step
//     ks, lane t4's pairs stand for dims ATTN16_KD(ks, t4) .. +1 (b0, a0/a1) and the two after them
//     (b1, a2/a3): over all D/16 steps lane t4 holds the D/4 contiguous dims t4*D/4 .. of its rows,
//     loaded as whole 16-byte words (8-byte for D = 16);
//   products over 16 rows (P V, dS K, P^T dO, dS^T Q; attn16_pv): the k-step is two n-tiles of 8
//     columns of the previous product, k 0..7 its first n-tile's columns and k 8..15 its second's,
//     so A is the lane's accumulators of the two tiles packed in pairs, with no shuffle; the lane
//     then needs, as B, rows 2t4 and 2t4+1 of each n-tile (4 rows) at the dims of its output column
//     gid: output n-tile nn, column x stands for dim ATTN16_PI(nn, x) = x*D/8 + nn, so lane gid
//     reads D/8 contiguous dims of each of its 4 rows and pairs them per n-tile in registers.
#ifndef ATTN_TC_BF16_H
#define ATTN_TC_BF16_H

#ifndef ATTN_TC_D
#error "attn_tc_bf16.h needs ATTN_TC_D, the head dimension"
#endif
#if ATTN_TC_D != 16 && ATTN_TC_D != 32 && ATTN_TC_D != 64 && ATTN_TC_D != 128
#error "the bf16 attention fragments need a head dimension of 16, 32, 64 or 128"
#endif

#define ATTN16_KD(ks, t4) ((t4) * (ATTN_TC_D / 4) + 4 * (ks))
#define ATTN16_PI(nn, x) ((x) * (ATTN_TC_D / 8) + (nn))

#ifdef TC_EMULATE
#define ATTN16_UNROLL _Pragma("unroll 1")
#else
#define ATTN16_UNROLL _Pragma("unroll")
#endif

// The `words` 32-bit words (bf16 pairs) at p into w: 16-byte loads where words is a multiple of 4,
// else one 8-byte or 4-byte load (words 2 or 1; a constant at every call).
static inline __attribute__((always_inline)) void attn16_load(uint* w, __global const ushort* p, const int words) {
    if (words % 4 == 0) {
#pragma unroll
        for (int i = 0; i < words / 4; i++) {
            const uint4 x = ((__global const uint4*) p)[i];
            w[4 * i] = x.x; w[4 * i + 1] = x.y; w[4 * i + 2] = x.z; w[4 * i + 3] = x.w;
        }
    } else if (words == 2) {
        const uint2 x = *(__global const uint2*) p;
        w[0] = x.x; w[1] = x.y;
    } else {
        w[0] = *(__global const uint*) p;
    }
}

// A fragments of a 16-row operand over the head dim from this lane's two rows x0 = row gid and
// x1 = row gid + 8: fa[ks] = {a0, a1, a2, a3} of k-step ks (D/16 steps).
static inline __attribute__((always_inline)) void attn16_a(uint (*fa)[4], __global const ushort* x0, __global const ushort* x1) {
    const int t4 = get_local_id(0) % 4;
    uint w0[ATTN_TC_D / 8], w1[ATTN_TC_D / 8];
    attn16_load(w0, x0 + ATTN16_KD(0, t4), ATTN_TC_D / 8);
    attn16_load(w1, x1 + ATTN16_KD(0, t4), ATTN_TC_D / 8);
ATTN16_UNROLL
    for (int ks = 0; ks < ATTN_TC_D / 16; ks++) {
        fa[ks][0] = w0[2 * ks];
        fa[ks][1] = w1[2 * ks];
        fa[ks][2] = w0[2 * ks + 1];
        fa[ks][3] = w1[2 * ks + 1];
    }
}

// acc = A . B^T over the head dim for one n-tile of 8 columns, A given by its fragments, column gid
// (this lane's) of B the bf16 row `brow`.
static inline __attribute__((always_inline)) void attn16_nt(float* acc, const uint (*fa)[4], __global const ushort* brow, __local uint* tcs) {
    const int t4 = get_local_id(0) % 4;
    uint wb[ATTN_TC_D / 8];
    attn16_load(wb, brow + ATTN16_KD(0, t4), ATTN_TC_D / 8);
ATTN16_UNROLL
    for (int i = 0; i < 4; i++) acc[i] = 0.0f;
ATTN16_UNROLL
    for (int ks = 0; ks < ATTN_TC_D / 16; ks++)
        tc_mma_bf16(acc, (uint4) (fa[ks][0], fa[ks][1], fa[ks][2], fa[ks][3]), wb[2 * ks], wb[2 * ks + 1], tcs);
}

// Of the words x and y holding dims 2e, 2e+1: dim `odd` of x in the low half, of y in the high half.
static inline __attribute__((always_inline)) uint attn16_pair(const uint x, const uint y, const int odd) {
    return odd ? (x >> 16) | (y & 0xffff0000u) : (x & 0xffffu) | (y << 16);
}

// acc[nn] += p . Rows for one k-step of 16 rows: p0, p1 two n-tiles of a product in accumulator
// layout (their columns are the reduction index here; rounded to bf16), Rows the 16 bf16 rows they
// stand for, of which this lane loads its four: r0, r1 for columns 2t4, 2t4+1 of p0, r2, r3 for the
// same columns of p1. Output n-tile nn, column x = dim ATTN16_PI(nn, x).
static inline __attribute__((always_inline)) void attn16_pv(float (*acc)[4], const float* p0, const float* p1,
                                                            __global const ushort* r0, __global const ushort* r1,
                                                            __global const ushort* r2, __global const ushort* r3, __local uint* tcs) {
    const int gid = get_local_id(0) % 32 / 4;
    const uint4 pa = (uint4) (tc_bf16x2(p0[0], p0[1]), tc_bf16x2(p0[2], p0[3]), tc_bf16x2(p1[0], p1[1]), tc_bf16x2(p1[2], p1[3]));
    const int off = ATTN16_PI(0, gid);
    uint x0[ATTN_TC_D / 16], x1[ATTN_TC_D / 16], x2[ATTN_TC_D / 16], x3[ATTN_TC_D / 16];
    attn16_load(x0, r0 + off, ATTN_TC_D / 16);
    attn16_load(x1, r1 + off, ATTN_TC_D / 16);
    attn16_load(x2, r2 + off, ATTN_TC_D / 16);
    attn16_load(x3, r3 + off, ATTN_TC_D / 16);
ATTN16_UNROLL
    for (int nn = 0; nn < ATTN_TC_D / 8; nn++) {
        const int e = nn / 2, odd = nn % 2;
        tc_mma_bf16(acc[nn], pa, attn16_pair(x0[e], x1[e], odd), attn16_pair(x2[e], x3[e], odd), tcs);
    }
}

#endif  // ATTN_TC_BF16_H
