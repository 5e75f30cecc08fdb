#include "common.h"

// GEMM family: batched, row-major
//   C[b] = alpha * op(A[b]) * op(B[b]) + beta * C[b]        for 0 <= b < batch
// op(A) is M x K, op(B) is K x N, C is M x N. lda/ldb/ldc are the row strides of the STORED
// matrices (A is stored M x K, or K x M when TRANS_A; B is stored K x N, or N x K when TRANS_B);
// strideA/B/C are the element distances between batch items. With beta == 0, C is write-only:
// it is never read, so garbage (NaN) in C cannot leak into the result.
//
// Compile-time constants (set by org.hsajava.kernels.Gemm):
//   TRANS_A, TRANS_B        0/1: op() transposes the stored matrix
//   GEMM_TM, GEMM_TN        block tile: a work-group computes a TM x TN tile of C
//   GEMM_TK                 K-tile staged through local memory per step
//   GEMM_WM, GEMM_WN        micro-tile: each work-item computes WM x WN elements (multiples of 4)
//   GEMM_EXACT              1: M % TM == N % TN == K % TK == 0 (the host checks): no bounds guards

#ifndef TRANS_A
#define TRANS_A 0
#endif
#ifndef TRANS_B
#define TRANS_B 0
#endif

// Element (m, k) of op(A) and (k, n) of op(B) in the stored row-major matrices.
#if TRANS_A
#define GEMM_A_AT(A, m, k, lda) (A)[(k) * (lda) + (m)]
#else
#define GEMM_A_AT(A, m, k, lda) (A)[(m) * (lda) + (k)]
#endif
#if TRANS_B
#define GEMM_B_AT(B, k, n, ldb) (B)[(n) * (ldb) + (k)]
#else
#define GEMM_B_AT(B, k, n, ldb) (B)[(k) * (ldb) + (n)]
#endif

// Which element of the op(A) tile (TM x TK) and of the op(B) tile (TK x TN) load number l covers:
// l runs along the stored matrix's rows, so that consecutive work-items read consecutive addresses.
#if TRANS_A
#define GEMM_A_TILE_AT(l, TM, TK, m, k) const int m = (l) % (TM), k = (l) / (TM)
#else
#define GEMM_A_TILE_AT(l, TM, TK, m, k) const int k = (l) % (TK), m = (l) / (TK)
#endif
#if TRANS_B
#define GEMM_B_TILE_AT(l, TK, TN, k, n) const int k = (l) % (TK), n = (l) / (TK)
#else
#define GEMM_B_TILE_AT(l, TK, TN, k, n) const int n = (l) % (TN), k = (l) / (TN)
#endif

// The epilogue shared by both kernels: C is read only when beta != 0.
static inline void gemm_store(__global float* C, int idx, float acc, float alpha, float beta) {
    C[idx] = beta == 0.0f ? alpha * acc : alpha * acc + beta * C[idx];
}

// The tensor-core kernels' epilogue: one m16n8 accumulator tile as this lane holds it (c0, c1 at
// row m, columns n, n+1; c2, c3 at row m+8), stored with alpha/beta where it lies within M x N.
static inline void gemm_store_fragment(__global float* C, const int ldc, const int M, const int N, const int m, const int n,
                                       const float* acc, const float alpha, const float beta) {
    for (int e = 0; e < 4; e++) {
        const int mm = m + 8 * (e / 2), nn = n + e % 2;
        if (mm < M && nn < N) gemm_store(C, mm * ldc + nn, acc[e], alpha, beta);
    }
}

// ------------------------------------------------------------------------------------------------
// Baseline: deliberately naive 16x16 local-memory tiling, one element of C per work-item.
// Grid: (N, M, batch) rounded up to (16, 16, 1).
#define GEMM_NAIVE_TS 16

__kernel __attribute__((reqd_work_group_size(GEMM_NAIVE_TS, GEMM_NAIVE_TS, 1)))
void gemm_naive(__global const float* A, __global const float* B, __global float* C,
                const int M, const int N, const int K, const int lda, const int ldb, const int ldc,
                const int strideA, const int strideB, const int strideC, const int batch,
                const float alpha, const float beta) {
    __local float As[GEMM_NAIVE_TS][GEMM_NAIVE_TS];
    __local float Bs[GEMM_NAIVE_TS][GEMM_NAIVE_TS];
    const int lx = get_local_id(0), ly = get_local_id(1);
    const int col = get_global_id(0), row = get_global_id(1), b = get_global_id(2);
    A += b * strideA;
    B += b * strideB;
    C += b * strideC;
    float acc = 0.0f;
    for (int k0 = 0; k0 < K; k0 += GEMM_NAIVE_TS) {
        const int ka = k0 + lx, kb = k0 + ly;
        As[ly][lx] = (row < M && ka < K) ? GEMM_A_AT(A, row, ka, lda) : 0.0f;
        Bs[ly][lx] = (kb < K && col < N) ? GEMM_B_AT(B, kb, col, ldb) : 0.0f;
        barrier(CLK_LOCAL_MEM_FENCE);
        for (int k = 0; k < GEMM_NAIVE_TS; k++) acc += As[ly][k] * Bs[k][lx];
        barrier(CLK_LOCAL_MEM_FENCE);
    }
    if (row < M && col < N) gemm_store(C, row * ldc + col, acc, alpha, beta);
}

// ------------------------------------------------------------------------------------------------
// Tuned: register-blocked, local-memory-tiled.
//
// A work-group of (TN/WN) x (TM/WM) work-items computes a TM x TN block of C. Per K-step it stages
// op(A)[TM x TK] and op(B)[TK x TN] in local memory, both stored k-major (As[k][m], Bs[k][n]) so
// that the inner product reads float4 rows of each. Work-item (tx, ty) owns the rows
// ty*4 + {0..3} + c*(4*WGY) for c < WM/4 and the columns tx*4 + {0..3} + c*(4*WGX) for c < WN/4:
// neighbouring work-items read neighbouring float4s (no bank conflicts), and the float4 loads of
// one work-item are 16-byte aligned. The next K-tile's global loads are issued into registers
// before the current tile's arithmetic, so memory latency hides behind the FMAs.
#if defined(GEMM_TM)

#define GEMM_WGX (GEMM_TN / GEMM_WN)
#define GEMM_WGY (GEMM_TM / GEMM_WM)
#define GEMM_NT (GEMM_WGX * GEMM_WGY)
#define GEMM_A_LOADS (GEMM_TM * GEMM_TK / GEMM_NT)
#define GEMM_B_LOADS (GEMM_TK * GEMM_TN / GEMM_NT)
// A tile that is written transposed (k varies fastest in the loads) gets 4 floats of padding per
// row, which spreads those stores over the banks and keeps the rows 16-byte aligned.
#define GEMM_A_LD (GEMM_TM + (TRANS_A ? 0 : 4))
#define GEMM_B_LD (GEMM_TN + (TRANS_B ? 4 : 0))

#if GEMM_EXACT
#define GEMM_IN(cond) 1
#else
#define GEMM_IN(cond) (cond)
#endif

// Loads this work-item's share of the op(A) tile at (m0, k0) into registers (zeros out of range).
// The load order makes consecutive work-items read consecutive addresses of the stored matrix.
static inline void gemm_fetch_a(float* ra, __global const float* A, int m0, int k0, int M, int K, int lda, int tid) {
#pragma unroll
    for (int r = 0; r < GEMM_A_LOADS; r++) {
        const int l = tid + r * GEMM_NT;
        GEMM_A_TILE_AT(l, GEMM_TM, GEMM_TK, m, k);
        ra[r] = GEMM_IN(m0 + m < M && k0 + k < K) ? GEMM_A_AT(A, m0 + m, k0 + k, lda) : 0.0f;
    }
}

static inline void gemm_fetch_b(float* rb, __global const float* B, int n0, int k0, int N, int K, int ldb, int tid) {
#pragma unroll
    for (int r = 0; r < GEMM_B_LOADS; r++) {
        const int l = tid + r * GEMM_NT;
        GEMM_B_TILE_AT(l, GEMM_TK, GEMM_TN, k, n);
        rb[r] = GEMM_IN(n0 + n < N && k0 + k < K) ? GEMM_B_AT(B, k0 + k, n0 + n, ldb) : 0.0f;
    }
}

// Writes the registers fetched above into the k-major local tiles.
static inline void gemm_stage(__local float* As, __local float* Bs, const float* ra, const float* rb, int tid) {
#pragma unroll
    for (int r = 0; r < GEMM_A_LOADS; r++) {
        const int l = tid + r * GEMM_NT;
        GEMM_A_TILE_AT(l, GEMM_TM, GEMM_TK, m, k);
        As[k * GEMM_A_LD + m] = ra[r];
    }
#pragma unroll
    for (int r = 0; r < GEMM_B_LOADS; r++) {
        const int l = tid + r * GEMM_NT;
        GEMM_B_TILE_AT(l, GEMM_TK, GEMM_TN, k, n);
        Bs[k * GEMM_B_LD + n] = rb[r];
    }
}

__kernel __attribute__((reqd_work_group_size(GEMM_WGX, GEMM_WGY, 1)))
void gemm_tiled(__global const float* A, __global const float* B, __global float* C,
                const int M, const int N, const int K, const int lda, const int ldb, const int ldc,
                const int strideA, const int strideB, const int strideC, const int batch,
                const float alpha, const float beta) {
    __local float4 As4[GEMM_TK * GEMM_A_LD / 4];
    __local float4 Bs4[GEMM_TK * GEMM_B_LD / 4];
    __local float* As = (__local float*) As4;
    __local float* Bs = (__local float*) Bs4;

    const int tx = get_local_id(0), ty = get_local_id(1);
    const int tid = ty * GEMM_WGX + tx;
    const int n0 = get_group_id(0) * GEMM_TN, m0 = get_group_id(1) * GEMM_TM, b = get_group_id(2);
    A += b * strideA;
    B += b * strideB;
    C += b * strideC;

    float acc[GEMM_WM][GEMM_WN];
#pragma unroll
    for (int i = 0; i < GEMM_WM; i++)
#pragma unroll
        for (int j = 0; j < GEMM_WN; j++) acc[i][j] = 0.0f;

    float ra[GEMM_A_LOADS], rb[GEMM_B_LOADS];
    gemm_fetch_a(ra, A, m0, 0, M, K, lda, tid);
    gemm_fetch_b(rb, B, n0, 0, N, K, ldb, tid);

    for (int k0 = 0; k0 < K; k0 += GEMM_TK) {
        gemm_stage(As, Bs, ra, rb, tid);
        barrier(CLK_LOCAL_MEM_FENCE);
        if (k0 + GEMM_TK < K) {  // prefetch the next K-tile while this one is multiplied
            gemm_fetch_a(ra, A, m0, k0 + GEMM_TK, M, K, lda, tid);
            gemm_fetch_b(rb, B, n0, k0 + GEMM_TK, N, K, ldb, tid);
        }
#pragma unroll
        for (int k = 0; k < GEMM_TK; k++) {
            float a[GEMM_WM], bv[GEMM_WN];
#pragma unroll
            for (int c = 0; c < GEMM_WM / 4; c++) {
                const float4 v = As4[(k * GEMM_A_LD) / 4 + ty + c * GEMM_WGY];
                a[4 * c] = v.x; a[4 * c + 1] = v.y; a[4 * c + 2] = v.z; a[4 * c + 3] = v.w;
            }
#pragma unroll
            for (int c = 0; c < GEMM_WN / 4; c++) {
                const float4 v = Bs4[(k * GEMM_B_LD) / 4 + tx + c * GEMM_WGX];
                bv[4 * c] = v.x; bv[4 * c + 1] = v.y; bv[4 * c + 2] = v.z; bv[4 * c + 3] = v.w;
            }
#pragma unroll
            for (int i = 0; i < GEMM_WM; i++)
#pragma unroll
                for (int j = 0; j < GEMM_WN; j++) acc[i][j] = mad(a[i], bv[j], acc[i][j]);
        }
        barrier(CLK_LOCAL_MEM_FENCE);
    }

#pragma unroll
    for (int i = 0; i < GEMM_WM; i++) {
        const int m = m0 + (i / 4) * (4 * GEMM_WGY) + ty * 4 + (i % 4);
#pragma unroll
        for (int j = 0; j < GEMM_WN; j++) {
            const int n = n0 + (j / 4) * (4 * GEMM_WGX) + tx * 4 + (j % 4);
            if (GEMM_IN(m < M && n < N)) gemm_store(C, m * ldc + n, acc[i][j], alpha, beta);
        }
    }
}

#endif  // GEMM_TM

// ------------------------------------------------------------------------------------------------
// Tensor cores (NVIDIA, compute capability >= 8.0; -DGEMM_TC=1, opt-in: see Gemm.Precision): the same
// C = alpha op(A) op(B) + beta C with the products on TF32 mma.sync.m16n8k8 (inputs rounded to TF32
// once, when staged; fp32 accumulation and epilogue), like PyTorch's allow_tf32 matmuls.
//
// A group of 256 work-items (8 warps, 2 along M x 4 along N) computes a 128 x 128 block of C. Per
// K-step of 32 it stages op(A) as As[m][k] and op(B) as Bs[n][k], both k-contiguous with rows padded
// to 36 words, so that the fragment reads of a warp (rows gid, columns t4: words 36*gid + t4) hit 32
// distinct banks; each warp then multiplies its 64 x 32 sub-block: per k8-step 4 m16-tiles x 4
// n8-tiles of mma (acc: 64 floats per work-item). The next K-tile's global loads go into registers
// before the products, as in gemm_tiled. With -DTC_EMULATE (tests on PoCL) the PTX is emulated.
#if defined(GEMM_TC)
#include "tc.h"

#ifndef TC_TM                 // block tile (the emulated test variant uses 64 x 64: oclgrind's 32 KiB of local memory)
#define TC_TM 128
#endif
#ifndef TC_TN
#define TC_TN 128
#endif
#ifndef TC_TK
#define TC_TK 32
#endif
#define TC_LD (TC_TK + 4)
#define TC_THREADS 256
#define TC_WARPS_N 4
#define TC_WTM (TC_TM / 2)
#define TC_WTN (TC_TN / TC_WARPS_N)
#define TC_A_LOADS (TC_TM * TC_TK / TC_THREADS)
#define TC_B_LOADS (TC_TK * TC_TN / TC_THREADS)

#if GEMM_EXACT
#define TC_IN(cond) 1
#else
#define TC_IN(cond) (cond)
#endif

// This work-item's share of the op(A) tile at (m0, k0) and of the op(B) tile at (k0, n0), in an
// order that makes consecutive work-items read consecutive addresses of the stored matrices.
static inline void gemm_tc_fetch(float* ra, float* rb, __global const float* A, __global const float* B, int m0, int n0, int k0,
                                 int M, int N, int K, int lda, int ldb, int tid) {
#pragma unroll
    for (int r = 0; r < TC_A_LOADS; r++) {
        const int l = tid + r * TC_THREADS;
        GEMM_A_TILE_AT(l, TC_TM, TC_TK, m, k);
        ra[r] = TC_IN(m0 + m < M && k0 + k < K) ? GEMM_A_AT(A, m0 + m, k0 + k, lda) : 0.0f;
    }
#pragma unroll
    for (int r = 0; r < TC_B_LOADS; r++) {
        const int l = tid + r * TC_THREADS;
        GEMM_B_TILE_AT(l, TC_TK, TC_TN, k, n);
        rb[r] = TC_IN(n0 + n < N && k0 + k < K) ? GEMM_B_AT(B, k0 + k, n0 + n, ldb) : 0.0f;
    }
}

static inline void gemm_tc_stage(__local uint* As, __local uint* Bs, const float* ra, const float* rb, int tid) {
#pragma unroll
    for (int r = 0; r < TC_A_LOADS; r++) {
        const int l = tid + r * TC_THREADS;
        GEMM_A_TILE_AT(l, TC_TM, TC_TK, m, k);
        As[m * TC_LD + k] = tc_tf32(ra[r]);
    }
#pragma unroll
    for (int r = 0; r < TC_B_LOADS; r++) {
        const int l = tid + r * TC_THREADS;
        GEMM_B_TILE_AT(l, TC_TK, TC_TN, k, n);
        Bs[n * TC_LD + k] = tc_tf32(rb[r]);
    }
}

__kernel __attribute__((reqd_work_group_size(TC_THREADS, 1, 1)))
void gemm_tc(__global const float* A, __global const float* B, __global float* C,
             const int M, const int N, const int K, const int lda, const int ldb, const int ldc,
             const int strideA, const int strideB, const int strideC, const int batch,
             const float alpha, const float beta) {
    __local uint As[TC_TM * TC_LD];
    __local uint Bs[TC_TN * TC_LD];
    __local uint tcs[TC_SCRATCH(TC_THREADS / 32)];

    const int tid = get_local_id(0), warp = tid / 32, lane = tid % 32, gid = lane / 4, t4 = lane % 4;
    const int wm = warp / TC_WARPS_N, wn = warp % TC_WARPS_N;
    const int n0 = get_group_id(0) * TC_TN, m0 = get_group_id(1) * TC_TM, b = get_group_id(2);
    A += b * strideA;
    B += b * strideB;
    C += b * strideC;

    float acc[TC_WTM / 16][TC_WTN / 8][4];
#pragma unroll
    for (int i = 0; i < TC_WTM / 16; i++)
#pragma unroll
        for (int j = 0; j < TC_WTN / 8; j++)
#pragma unroll
            for (int e = 0; e < 4; e++) acc[i][j][e] = 0.0f;

    float ra[TC_A_LOADS], rb[TC_B_LOADS];
    gemm_tc_fetch(ra, rb, A, B, m0, n0, 0, M, N, K, lda, ldb, tid);
    for (int k0 = 0; k0 < K; k0 += TC_TK) {
        gemm_tc_stage(As, Bs, ra, rb, tid);
        barrier(CLK_LOCAL_MEM_FENCE);
        if (k0 + TC_TK < K) gemm_tc_fetch(ra, rb, A, B, m0, n0, k0 + TC_TK, M, N, K, lda, ldb, tid);
#pragma unroll
        for (int kk = 0; kk < TC_TK; kk += 8) {
            uint fa[TC_WTM / 16][4], fb[TC_WTN / 8][2];
#pragma unroll
            for (int i = 0; i < TC_WTM / 16; i++) {
                __local const uint* r0 = As + (wm * TC_WTM + 16 * i + gid) * TC_LD + kk + t4;
                fa[i][0] = r0[0];
                fa[i][1] = r0[8 * TC_LD];
                fa[i][2] = r0[4];
                fa[i][3] = r0[8 * TC_LD + 4];
            }
#pragma unroll
            for (int j = 0; j < TC_WTN / 8; j++) {
                __local const uint* c0 = Bs + (wn * TC_WTN + 8 * j + gid) * TC_LD + kk + t4;
                fb[j][0] = c0[0];
                fb[j][1] = c0[4];
            }
#pragma unroll
            for (int i = 0; i < TC_WTM / 16; i++)
#pragma unroll
                for (int j = 0; j < TC_WTN / 8; j++) tc_mma(acc[i][j], fa[i], fb[j][0], fb[j][1], tcs);
        }
        barrier(CLK_LOCAL_MEM_FENCE);
    }

#pragma unroll
    for (int i = 0; i < TC_WTM / 16; i++) {
#pragma unroll
        for (int j = 0; j < TC_WTN / 8; j++) {
            gemm_store_fragment(C, ldc, M, N, m0 + wm * TC_WTM + 16 * i + gid, n0 + wn * TC_WTN + 8 * j + 2 * t4, acc[i][j], alpha, beta);
        }
    }
}

#endif  // GEMM_TC

// ------------------------------------------------------------------------------------------------
// bf16 tensor cores (NVIDIA, compute capability >= 8.0; -DGEMM_BF16=1, see Gemm.Precision): the same
// C = alpha op(A) op(B) + beta C from fp32 matrices, with the products on bf16 mma.sync.m16n8k16:
// each input is rounded to bf16 (8 mantissa bits, nearest even) once, when staged; accumulation and
// epilogue stay fp32. The numerics of PyTorch's bf16 autocast matmuls, without a bf16 copy in memory.
//
// A group of BF_WARPS_M x BF_WARPS_N warps computes a BF_TM x BF_TN block of C; warp (wm, wn) owns
// a (BF_TM / BF_WARPS_M) x (BF_TN / BF_WARPS_N) sub-block as m16 x n8 accumulator tiles. Per K-tile
// of BF_TK the group stages op(A) and op(B) as bf16 pairs in "fragment order": the 16 x 16 A tile
// (mt, ks) is 32 uint4, one per lane, holding exactly that lane's a0..a3; a 16 x 16 slab of B (two
// n8 tiles) likewise holds b0, b1 of both tiles. A warp then reads each fragment with one 16-byte
// local load, 512 contiguous bytes per warp (no bank conflicts), instead of one load per register.
// Lane slots are swizzled (slot = lane ^ ((lane >> 3) & 3)) so that the staging stores, whose work-
// items walk down a column of the stored matrix when it is transposed, spread over the banks too.
// Two staging buffers: the next K-tile's global loads go to registers before the products and into
// the other buffer after them, one barrier per K-tile. With -DTC_EMULATE (tests on PoCL) the PTX is
// emulated.
#if defined(GEMM_BF16)
#include "tc.h"

#ifndef BF_TM
#define BF_TM 128
#endif
#ifndef BF_TN
#define BF_TN 128
#endif
#ifndef BF_TK
#define BF_TK 32
#endif
#ifndef BF_WARPS_M
#define BF_WARPS_M 2
#endif
#ifndef BF_WARPS_N
#define BF_WARPS_N 4
#endif
#define BF_THREADS (32 * BF_WARPS_M * BF_WARPS_N)
#define BF_WTM (BF_TM / BF_WARPS_M)           // warp tile: multiples of 16
#define BF_WTN (BF_TN / BF_WARPS_N)
#define BF_KS (BF_TK / 16)                    // k16 steps per K-tile
#define BF_A_WORDS (BF_TM * BF_TK / 2)        // bf16 pairs of a staged tile
#define BF_B_WORDS (BF_TN * BF_TK / 2)
#define BF_A_PAIRS (BF_A_WORDS / BF_THREADS)  // pairs per work-item
#define BF_B_PAIRS (BF_B_WORDS / BF_THREADS)
// The unguarded fetch of interior tiles (gemm_bf16_fetch) needs a work-item's pairs to step by whole
// rows of the stored matrices; -DBF_FETCH_INTERIOR=0 keeps the guarded fetch everywhere (comparisons).
#ifndef BF_FETCH_INTERIOR
#define BF_FETCH_INTERIOR (BF_THREADS % BF_TM == 0 && BF_THREADS % BF_TN == 0 && BF_THREADS % (BF_TK / 2) == 0)
#endif

// The pair l of a tile: op(A)[m][k..k+1] and op(B)[k..k+1][n] (k even), numbered so that consecutive
// work-items read consecutive addresses of the stored matrix.
#if TRANS_A
#define BF_A_PAIR(l, m, k) const int m = (l) % BF_TM, k = 2 * ((l) / BF_TM)
#else
#define BF_A_PAIR(l, m, k) const int k = 2 * ((l) % (BF_TK / 2)), m = (l) / (BF_TK / 2)
#endif
#if TRANS_B
#define BF_B_PAIR(l, k, n) const int k = 2 * ((l) % (BF_TK / 2)), n = (l) / (BF_TK / 2)
#else
#define BF_B_PAIR(l, k, n) const int n = (l) % BF_TN, k = 2 * ((l) / BF_TN)
#endif

static inline int bf_slot(const int lane) { return lane ^ ((lane >> 3) & 3); }

// Word of the staged A tile that holds op(A)[m][k..k+1] (tile coordinates, k even).
static inline int bf_a_word(const int m, const int k) {
    const int r = m % 16, kk = k % 16;
    return (((m / 16) * BF_KS + k / 16) * 32 + bf_slot(4 * (r % 8) + (kk % 8) / 2)) * 4 + r / 8 + 2 * (kk / 8);
}

// Word of the staged B tile that holds op(B)[k..k+1][n].
static inline int bf_b_word(const int k, const int n) {
    const int c = n % 16, kk = k % 16;
    return (((n / 16) * BF_KS + k / 16) * 32 + bf_slot(4 * (c % 8) + (kk % 8) / 2)) * 4 + 2 * (c / 8) + kk / 8;
}

// Loads this work-item's pairs of the tiles at (m0, k0) of op(A) and (k0, n0) of op(B) into
// registers, zeros outside the matrices.
static inline void gemm_bf16_fetch(float2* ra, float2* rb, __global const float* A, __global const float* B, int m0, int n0, int k0,
                                   int M, int N, int K, int lda, int ldb, int tid) {
#if BF_FETCH_INTERIOR
    // Tiles wholly inside the matrices (all but the edge blocks and a ragged last K-tile) need no
    // guards, and a work-item's pairs then lie at a fixed distance from its first one, a multiple of
    // the row stride (consecutive pair numbers l step by BF_THREADS): one base address per matrix
    // instead of a guarded address per pair, which the compiler would keep in registers across the
    // products.
    if (m0 + BF_TM <= M && n0 + BF_TN <= N && k0 + BF_TK <= K) {
        BF_A_PAIR(tid, am, ak);
        BF_B_PAIR(tid, bk, bn);
        __global const float* pa = &GEMM_A_AT(A, m0 + am, k0 + ak, lda);
        __global const float* pb = &GEMM_B_AT(B, k0 + bk, n0 + bn, ldb);
#if TRANS_A
        const int stepA = 2 * (BF_THREADS / BF_TM) * lda, nextA = lda;     // pair r: k + 2r*(THREADS/TM); its k+1 a row below
#else
        const int stepA = (BF_THREADS / (BF_TK / 2)) * lda, nextA = 1;    // pair r: m + r*(THREADS/(TK/2)); k+1 beside it
#endif
#if TRANS_B
        const int stepB = (BF_THREADS / (BF_TK / 2)) * ldb, nextB = 1;
#else
        const int stepB = 2 * (BF_THREADS / BF_TN) * ldb, nextB = ldb;
#endif
#pragma unroll
        for (int r = 0; r < BF_A_PAIRS; r++) ra[r] = (float2) (pa[r * stepA], pa[r * stepA + nextA]);
#pragma unroll
        for (int r = 0; r < BF_B_PAIRS; r++) rb[r] = (float2) (pb[r * stepB], pb[r * stepB + nextB]);
        return;
    }
#endif
#pragma unroll
    for (int r = 0; r < BF_A_PAIRS; r++) {
        BF_A_PAIR(tid + r * BF_THREADS, m, k);
        const int gm = m0 + m, gk = k0 + k;
        ra[r].x = gm < M && gk < K ? GEMM_A_AT(A, gm, gk, lda) : 0.0f;
        ra[r].y = gm < M && gk + 1 < K ? GEMM_A_AT(A, gm, gk + 1, lda) : 0.0f;
    }
#pragma unroll
    for (int r = 0; r < BF_B_PAIRS; r++) {
        BF_B_PAIR(tid + r * BF_THREADS, k, n);
        const int gn = n0 + n, gk = k0 + k;
        rb[r].x = gn < N && gk < K ? GEMM_B_AT(B, gk, gn, ldb) : 0.0f;
        rb[r].y = gn < N && gk + 1 < K ? GEMM_B_AT(B, gk + 1, gn, ldb) : 0.0f;
    }
}

static inline void gemm_bf16_stage(__local uint* As, __local uint* Bs, const float2* ra, const float2* rb, int tid) {
#pragma unroll
    for (int r = 0; r < BF_A_PAIRS; r++) {
        BF_A_PAIR(tid + r * BF_THREADS, m, k);
        As[bf_a_word(m, k)] = tc_bf16x2(ra[r].x, ra[r].y);
    }
#pragma unroll
    for (int r = 0; r < BF_B_PAIRS; r++) {
        BF_B_PAIR(tid + r * BF_THREADS, k, n);
        Bs[bf_b_word(k, n)] = tc_bf16x2(rb[r].x, rb[r].y);
    }
}

__kernel __attribute__((reqd_work_group_size(BF_THREADS, 1, 1)))
void gemm_bf16(__global const float* A, __global const float* B, __global float* C,
               const int M, const int N, const int K, const int lda, const int ldb, const int ldc,
               const int strideA, const int strideB, const int strideC, const int batch,
               const float alpha, const float beta) {
    __local uint4 As4[2][BF_A_WORDS / 4];
    __local uint4 Bs4[2][BF_B_WORDS / 4];
    __local uint tcs[TC_SCRATCH(BF_THREADS / 32)];

    const int tid = get_local_id(0), warp = tid / 32, lane = tid % 32, gid = lane / 4, t4 = lane % 4;
    const int wm = warp / BF_WARPS_N, wn = warp % BF_WARPS_N, slot = bf_slot(lane);
    const int n0 = get_group_id(0) * BF_TN, m0 = get_group_id(1) * BF_TM, b = get_group_id(2);
    A += b * strideA;
    B += b * strideB;
    C += b * strideC;

    float acc[BF_WTM / 16][BF_WTN / 8][4];
#pragma unroll
    for (int i = 0; i < BF_WTM / 16; i++)
#pragma unroll
        for (int j = 0; j < BF_WTN / 8; j++)
#pragma unroll
            for (int e = 0; e < 4; e++) acc[i][j][e] = 0.0f;

    float2 ra[BF_A_PAIRS], rb[BF_B_PAIRS];
    gemm_bf16_fetch(ra, rb, A, B, m0, n0, 0, M, N, K, lda, ldb, tid);
    gemm_bf16_stage((__local uint*) As4[0], (__local uint*) Bs4[0], ra, rb, tid);
    barrier(CLK_LOCAL_MEM_FENCE);
    const int tiles = (K + BF_TK - 1) / BF_TK;
    for (int kt = 0; kt < tiles; kt++) {
        const int cur = kt & 1;
        const bool more = kt + 1 < tiles;
        if (more) gemm_bf16_fetch(ra, rb, A, B, m0, n0, (kt + 1) * BF_TK, M, N, K, lda, ldb, tid);
#pragma unroll
        for (int ks = 0; ks < BF_KS; ks++) {
            uint4 fa[BF_WTM / 16], fb[BF_WTN / 16];
#pragma unroll
            for (int i = 0; i < BF_WTM / 16; i++) fa[i] = As4[cur][((wm * (BF_WTM / 16) + i) * BF_KS + ks) * 32 + slot];
#pragma unroll
            for (int p = 0; p < BF_WTN / 16; p++) fb[p] = Bs4[cur][((wn * (BF_WTN / 16) + p) * BF_KS + ks) * 32 + slot];
#pragma unroll
            for (int i = 0; i < BF_WTM / 16; i++)
#pragma unroll
                for (int p = 0; p < BF_WTN / 16; p++) {
                    tc_mma_bf16(acc[i][2 * p], fa[i], fb[p].s0, fb[p].s1, tcs);
                    tc_mma_bf16(acc[i][2 * p + 1], fa[i], fb[p].s2, fb[p].s3, tcs);
                }
        }
        if (more) gemm_bf16_stage((__local uint*) As4[cur ^ 1], (__local uint*) Bs4[cur ^ 1], ra, rb, tid);
        barrier(CLK_LOCAL_MEM_FENCE);
    }

#pragma unroll
    for (int i = 0; i < BF_WTM / 16; i++) {
#pragma unroll
        for (int j = 0; j < BF_WTN / 8; j++) {
            gemm_store_fragment(C, ldc, M, N, m0 + wm * BF_WTM + 16 * i + gid, n0 + wn * BF_WTN + 8 * j + 2 * t4, acc[i][j], alpha, beta);
        }
    }
}

#endif  // GEMM_BF16

// ------------------------------------------------------------------------------------------------
// CPUs (-DGEMM_CPU=1; what Gemm.select picks on CPU devices). On PoCL a work-group is a loop over
// its work-items, run one barrier-free region at a time, and every value that lives across a
// barrier is saved to and reloaded from memory per work-item: gemm_tiled's register micro-tiles,
// live across a barrier every 8 k, ran at ~35 GFLOP/s on two cores. Here each work-item keeps its
// block of C in float16 vectors (one AVX-512 register each) and there is one pair of barriers per
// CPU_KB values of k, which makes the group's work-items run a whole K-block each in turn while
// the block of op(B) they share sits in cache (local memory):
//   group (g0, g1): columns n0 = g0*CPU_NB .. +CPU_NB, CPU_GY work-items along M;
//   work-item: rows m0 .. m0+CPU_RM, the group's columns as CPU_CN float16 vectors;
//   per K-block: Bs[k][n] = op(B)[kb+k][n0+n] (zeros past K and N; a transpose when TRANS_B), then
//       acc[r][c] += op(A)[m0+r][kb+k] * Bs[k][16c .. 16c+16)       for k in order.
// Rows past M read row M-1 (valid memory; their results are dropped): every work-item takes the
// same path through the barriers.
#if defined(GEMM_CPU)

#ifndef CPU_RM
#define CPU_RM 8
#endif
#ifndef CPU_CN
#define CPU_CN 2
#endif
#ifndef CPU_GY
#define CPU_GY 16
#endif
#ifndef CPU_KB
#define CPU_KB 128
#endif
#define CPU_NB (16 * CPU_CN)

__kernel __attribute__((reqd_work_group_size(1, CPU_GY, 1)))
void gemm_cpu(__global const float* A, __global const float* B, __global float* C,
              const int M, const int N, const int K, const int lda, const int ldb, const int ldc,
              const int strideA, const int strideB, const int strideC, const int batch,
              const float alpha, const float beta) {
    __local float16 Bs[CPU_KB * CPU_CN];
    __local float* bs = (__local float*) Bs;
    const int ly = get_local_id(1), b = get_group_id(2);
    const int n0 = get_group_id(0) * CPU_NB, m0 = get_global_id(1) * CPU_RM;
    A += b * strideA;
    B += b * strideB;
    C += b * strideC;
    int rows[CPU_RM];
    for (int r = 0; r < CPU_RM; r++) rows[r] = min(m0 + r, M - 1);
    float16 acc[CPU_RM][CPU_CN];
    for (int r = 0; r < CPU_RM; r++)
        for (int c = 0; c < CPU_CN; c++) acc[r][c] = (float16) 0.0f;

    for (int kb = 0; kb < K; kb += CPU_KB) {
        const int kn = min(CPU_KB, K - kb);
        barrier(CLK_LOCAL_MEM_FENCE);          // the previous block is used up
#if !TRANS_B
        if (n0 + CPU_NB <= N) {                // whole rows of 16: vector copies
            for (int e = ly; e < CPU_KB * CPU_CN; e += CPU_GY) {
                const int k = e / CPU_CN, c = e % CPU_CN;
                Bs[e] = k < kn ? vload16(0, B + (kb + k) * ldb + n0 + 16 * c) : (float16) 0.0f;
            }
        } else {
            for (int e = ly; e < CPU_KB * CPU_NB; e += CPU_GY) {
                const int k = e / CPU_NB, n = e % CPU_NB;
                bs[e] = k < kn && n0 + n < N ? B[(kb + k) * ldb + n0 + n] : 0.0f;
            }
        }
#else
        for (int e = ly; e < CPU_KB * CPU_NB; e += CPU_GY) {   // k fastest: reads along rows of B
            const int k = e % CPU_KB, n = e / CPU_KB;
            bs[k * CPU_NB + n] = k < kn && n0 + n < N ? B[(n0 + n) * ldb + kb + k] : 0.0f;
        }
#endif
        barrier(CLK_LOCAL_MEM_FENCE);
#if TRANS_A && CPU_RM == 8
        if (m0 + 8 <= M) {                     // op(A)'s 8 rows are 8 adjacent floats of a stored row: one vector load
            for (int k = 0; k < kn; k++) {
                float16 bv[CPU_CN];
                for (int c = 0; c < CPU_CN; c++) bv[c] = Bs[k * CPU_CN + c];
                const float8 a8 = vload8(0, A + (kb + k) * lda + m0);
                const float ar[8] = {a8.s0, a8.s1, a8.s2, a8.s3, a8.s4, a8.s5, a8.s6, a8.s7};
                for (int r = 0; r < 8; r++) {
                    const float16 a = ar[r];
                    for (int c = 0; c < CPU_CN; c++) acc[r][c] = mad(a, bv[c], acc[r][c]);
                }
            }
            continue;
        }
#endif
        for (int k = 0; k < kn; k++) {
            float16 bv[CPU_CN];
            for (int c = 0; c < CPU_CN; c++) bv[c] = Bs[k * CPU_CN + c];
            for (int r = 0; r < CPU_RM; r++) {
                // (not "(float16) GEMM_A_AT(..)": that expands to "(float16)(A)[..]", a vector
                // literal to OpenCL C, which crashed PoCL's clang 15)
                const float ar = GEMM_A_AT(A, rows[r], kb + k, lda);
                const float16 a = ar;
                for (int c = 0; c < CPU_CN; c++) acc[r][c] = mad(a, bv[c], acc[r][c]);
            }
        }
    }
    if (b >= batch) return;
    for (int r = 0; r < CPU_RM && m0 + r < M; r++) {
        __global float* crow = C + (m0 + r) * ldc;
        for (int c = 0; c < CPU_CN; c++) {
            const int n = n0 + 16 * c;
            if (n + 16 <= N && beta == 0.0f) {
                vstore16(alpha * acc[r][c], 0, crow + n);
            } else {
                float v[16];
                vstore16(acc[r][c], 0, v);
                for (int i = 0; i < 16 && n + i < N; i++) gemm_store(crow, n + i, v[i], alpha, beta);
            }
        }
    }
}

#endif  // GEMM_CPU
