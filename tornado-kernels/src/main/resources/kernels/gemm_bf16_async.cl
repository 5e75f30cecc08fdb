#include "common.h"

// C = alpha A B^T + beta C with A [M x K] and B [N x K] stored as bf16 (row-major, K contiguous), C fp32:
// the GEMM for operands already in bf16 storage (org.hsajava.kernels.GemmBf16Async). NVIDIA tensor
// cores (compute capability >= 8.0) through inline PTX: tiles move global -> local memory with cp.async
// (no registers, no conversion: the bytes are already bf16) in an AS_STAGES-deep pipeline, fragments
// come out of local memory with ldmatrix, products are mma.sync.m16n8k16 with fp32 accumulation.
// gemm_bf16 (gemm.cl), which reads fp32 and rounds while staging, moves twice the bytes through L2 and
// keeps the next tile in registers; this is the shape of the sm_80 GEMMs of CUTLASS.
//
// Sizes: M a multiple of AS_TM, N of AS_TN, K of AS_TK, lda and ldb multiples of 8 (16-byte rows);
// the host checks. A group of AS_WM x AS_WN warps computes an AS_TM x AS_TN block of C; warp (wm, wn)
// owns (AS_TM / AS_WM) x (AS_TN / AS_WN) of it as m16 x n8 accumulator tiles.
//
// Local tiles: per stage, AS_TM rows of A and AS_TN rows of B, each row AS_TK bf16 = AS_TK / 8 chunks
// of 16 bytes, swizzled so that the 8 rows an ldmatrix reads at one logical chunk fall on 8 different
// 16-byte bank groups (of the 8 in a 128-byte line): chunk c of row r sits at c ^ ((r / 2) % 4) for
// AS_TK = 32 (4 chunks, two rows per line), at c ^ (r % 8) for AS_TK = 64 (8 chunks, a row per line).
// With -DTC_EMULATE (tests on PoCL) the PTX is emulated (tc.h).
#include "tc.h"

#ifndef AS_TM
#define AS_TM 128
#endif
#ifndef AS_TN
#define AS_TN 128
#endif
#ifndef AS_TK
#define AS_TK 32
#endif
#ifndef AS_WM
#define AS_WM 2
#endif
#ifndef AS_WN
#define AS_WN 4
#endif
#ifndef AS_STAGES
#define AS_STAGES 2
#endif
#if AS_TK != 32 && AS_TK != 64
#error "the swizzle is defined for rows of 4 or 8 chunks of 16 bytes (AS_TK = 32 or 64)"
#endif
#define AS_THREADS (32 * AS_WM * AS_WN)
#define AS_WTM (AS_TM / AS_WM)
#define AS_WTN (AS_TN / AS_WN)
#define AS_ROW_WORDS (AS_TK / 2)                  // uints per local row
#define AS_A_WORDS (AS_TM * AS_ROW_WORDS)
#define AS_B_WORDS (AS_TN * AS_ROW_WORDS)
#define AS_A_CHUNKS (AS_TM * AS_TK / 8)           // 16-byte chunks per tile
#define AS_B_CHUNKS (AS_TN * AS_TK / 8)
#if AS_A_CHUNKS % AS_THREADS != 0 || AS_B_CHUNKS % AS_THREADS != 0 || AS_WTM % 16 != 0 || AS_WTN % 16 != 0
#error "tiles must split into whole chunks per work-item and warp tiles of 16 x 16"
#endif

// Word offset of logical 16-byte chunk c of local row r.
static inline int as_word(const int r, const int c) {
#if AS_TK == 32
    return r * AS_ROW_WORDS + 4 * (c ^ ((r >> 1) & 3));
#else
    return r * AS_ROW_WORDS + 4 * (c ^ (r & 7));
#endif
}

// Starts copying the K-tile at k0 of rows m0.. of X (row stride ld bf16) into the local tile t.
static inline void as_load(__local uint* t, __global const ushort* X, const int r0, const int k0, const int ld, const int rows, const int tid) {
    for (int q = tid; q < rows * (AS_TK / 8); q += AS_THREADS) {
        const int r = q / (AS_TK / 8), c = q % (AS_TK / 8);
        tc_cp_async16((__local uint4*) (t + as_word(r, c)), (__global const uint4*) (X + (size_t) (r0 + r) * ld + k0 + 8 * c));
    }
}

__kernel __attribute__((reqd_work_group_size(AS_THREADS, 1, 1)))
void gemm_bf16_async(__global const ushort* A, __global const ushort* B, __global float* C,
                     const int M, const int N, const int K, const int lda, const int ldb, const int ldc,
                     const int strideA, const int strideB, const int strideC, const int batch,
                     const float alpha, const float beta) {
    // uint4: cp.async and ldmatrix need 16-byte aligned local addresses (a uint array is only 4-aligned)
    __local uint4 As4[AS_STAGES][AS_A_WORDS / 4];
    __local uint4 Bs4[AS_STAGES][AS_B_WORDS / 4];
#ifdef TC_EMULATE
    __local uint tcsBuf[TC_SCRATCH(AS_THREADS / 32)];
    __local uint* tcs = tcsBuf;
#else
    __local uint* tcs = (__local uint*) As4[0];  // unused natively: no extra local memory
#endif
    const int tid = get_local_id(0), warp = tid / 32, lane = tid % 32, gid = lane / 4, t4 = lane % 4;
    const int wm = warp / AS_WN, wn = warp % AS_WN;
    const int n0 = get_group_id(0) * AS_TN, m0 = get_group_id(1) * AS_TM, b = get_group_id(2);
    A += (size_t) b * strideA;
    B += (size_t) b * strideB;
    C += (size_t) b * strideC;

    float acc[AS_WTM / 16][AS_WTN / 8][4];
#pragma unroll
    for (int i = 0; i < AS_WTM / 16; i++)
#pragma unroll
        for (int j = 0; j < AS_WTN / 8; j++)
#pragma unroll
            for (int e = 0; e < 4; e++) acc[i][j][e] = 0.0f;

    // ldmatrix rows of this lane: matrix l / 8, row l % 8 of it
    const int mi = lane / 8, mr = lane % 8;
    const int tiles = K / AS_TK;
#pragma unroll
    for (int s = 0; s < AS_STAGES - 1; s++) {
        if (s < tiles) {
            as_load((__local uint*) As4[s], A, m0, s * AS_TK, lda, AS_TM, tid);
            as_load((__local uint*) Bs4[s], B, n0, s * AS_TK, ldb, AS_TN, tid);
        }
        tc_cp_async_commit();
    }
    for (int kt = 0; kt < tiles; kt++) {
        tc_cp_async_wait(AS_STAGES - 2);          // this work-item's copies of tile kt have landed
        barrier(CLK_LOCAL_MEM_FENCE);             // everyone's have, and tile kt-1 is no longer read
        const int next = kt + AS_STAGES - 1;
        if (next < tiles) {
            as_load((__local uint*) As4[next % AS_STAGES], A, m0, next * AS_TK, lda, AS_TM, tid);
            as_load((__local uint*) Bs4[next % AS_STAGES], B, n0, next * AS_TK, ldb, AS_TN, tid);
        }
        tc_cp_async_commit();
        __local const uint* at = (__local const uint*) As4[kt % AS_STAGES];
        __local const uint* bt = (__local const uint*) Bs4[kt % AS_STAGES];
#pragma unroll
        for (int ks = 0; ks < AS_TK / 16; ks++) {
            uint fa[AS_WTM / 16][4], fb[AS_WTN / 16][4];
            // A tile i: matrices (rows 0-7, chunk 2ks), (rows 8-15, 2ks), (rows 0-7, 2ks+1), (rows 8-15, 2ks+1) = a0..a3
#pragma unroll
            for (int i = 0; i < AS_WTM / 16; i++)
                tc_ldmatrix_x4(fa[i], at, as_word(wm * AS_WTM + 16 * i + 8 * (mi % 2) + mr, 2 * ks + mi / 2), tcs);
            // B rows 16p..: matrices (n 0-7, chunk 2ks), (n 0-7, 2ks+1), (n 8-15, 2ks), (n 8-15, 2ks+1) = b0, b1 of n-tiles 2p, 2p+1
#pragma unroll
            for (int p = 0; p < AS_WTN / 16; p++)
                tc_ldmatrix_x4(fb[p], bt, as_word(wn * AS_WTN + 16 * p + 8 * (mi / 2) + mr, 2 * ks + mi % 2), tcs);
#pragma unroll
            for (int i = 0; i < AS_WTM / 16; i++)
#pragma unroll
                for (int p = 0; p < AS_WTN / 16; p++) {
                    const uint4 a = (uint4) (fa[i][0], fa[i][1], fa[i][2], fa[i][3]);
                    tc_mma_bf16(acc[i][2 * p], a, fb[p][0], fb[p][1], tcs);
                    tc_mma_bf16(acc[i][2 * p + 1], a, fb[p][2], fb[p][3], tcs);
                }
        }
    }

#pragma unroll
    for (int i = 0; i < AS_WTM / 16; i++) {
#pragma unroll
        for (int j = 0; j < AS_WTN / 8; j++) {
            const int m = m0 + wm * AS_WTM + 16 * i + gid, n = n0 + wn * AS_WTN + 8 * j + 2 * t4;
            for (int e = 0; e < 4; e++) {
                const size_t idx = (size_t) (m + 8 * (e / 2)) * ldc + n + e % 2;
                C[idx] = beta == 0.0f ? alpha * acc[i][j][e] : alpha * acc[i][j][e] + beta * C[idx];
            }
        }
    }
}
