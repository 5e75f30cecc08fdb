#include "common.h"

// C = alpha A B^T + beta C with A [M x K] and B [N x K] stored as bf16 (row-major, K contiguous), C fp32,
// on Hopper's warpgroup MMA (org.hsajava.kernels.GemmBf16Wgmma): the same contract as
// gemm_bf16_async.cl, whose mma.sync is Ampere's instruction and reaches about half of what an H100
// can do. A group of WG_GROUPS warpgroups computes a (64 WG_GROUPS) x WG_N block of C, warpgroup g
// the 64 rows from 64g with wgmma.m64nWG_Nk16 (WG_N / 2 fp32 accumulators per work-item).
//
// Tiles move global -> local with cp.async into a WG_STAGES-deep pipeline of K-tiles of 64, stored
// in the 128-byte swizzled layout wgmma reads (wgmma.h). Per K-tile: wait for its copies, fence them
// for the asynchronous proxy, barrier; start copying tile kt + WG_STAGES - 2 into the stage of tile
// kt - 2; four wgmma k16 steps, left running while the next iteration waits and loads.
//
// Sizes: M a multiple of 64 WG_GROUPS, N of WG_N, K of 64, lda and ldb multiples of 8; the host checks.
//
// WG_MN_MAJOR=1: C = alpha A^T B + beta C with A [K x M] and B [K x N] (row-major: M and N contiguous),
// the weight gradient dW = dy^T x of a layer whose dy and x are [tokens x features]. The tiles are then
// MN-major (wgmma.h) and loaded 64 K-rows at a time.
// WG_C_BF16=1: C is bf16 and written, not read (beta must be 0; the host checks): each value is
// alpha times the fp32 sum rounded to nearest even, for consumers that read bf16 (the bf16 activations
// of mixed precision).
// Natively the OpenCL backend rebuilds the program from its PTX for sm_90a (wgmma.h); -DTC_EMULATE
// computes the same on any device (tests).
#include "tc.h"
#include "wgmma.h"
#include "bf16.h"

#ifndef WG_C_BF16
#define WG_C_BF16 0
#endif
// WG_BIAS=1: a last argument bias [N] fp32 is added to every row of C in the epilogue (x W^T + b).
#ifndef WG_BIAS
#define WG_BIAS 0
#endif
// WG_SWIGLU=1 (with WG_C_BF16): C is SwiGLU's up projection u, and the epilogue also writes
// act = bf16(silu(gate) * u) with gate [M x N] bf16 (the gate projection's output, row stride ldc) and
// u the bf16 value just stored, as swiglu_forward_16 computes it: two last arguments gate, act.
#ifndef WG_SWIGLU
#define WG_SWIGLU 0
#endif
#if WG_SWIGLU && !WG_C_BF16
#error "the SwiGLU epilogue writes bf16: WG_SWIGLU needs WG_C_BF16"
#endif
#if WG_C_BF16
typedef ushort wg_c;
#else
typedef float wg_c;
#endif

#ifndef WG_GROUPS
#define WG_GROUPS 2
#endif
#ifndef WG_N
#define WG_N 256
#endif
#ifndef WG_STAGES
#define WG_STAGES 4
#endif
#define WG_TM (64 * WG_GROUPS)
#define WG_THREADS (128 * WG_GROUPS)
#define WG_CAT(a, b) a##b
#define WG_XCAT(a, b) WG_CAT(a, b)
#define WG_MMA WG_XCAT(wg_mma_bf16_, WG_N)
#define WG_WAIT_ALL WG_XCAT(wg_wait_all_, WG_N)
#define WG_WAIT_PRIOR WG_XCAT(wg_wait_prior_, WG_N)
#if WG_STAGES < 3
#error "the pipeline needs 3 or more stages (tiles are fetched WG_STAGES - 2 ahead)"
#endif

// Starts copying the 64-wide K-tile at k0 of rows r0.. of X (row stride ld) into the swizzled tile t.
// MN-major: copies rows k0 .. k0 + 63, columns r0 .. r0 + rows - 1 of X, column group j / 8 to the
// tile's group of 64 columns (512 chunks apart), row k, chunk (j % 8) ^ (k % 8).
static inline void wg_load(__local uint4* t, __global const ushort* X, const int r0, const int k0, const int ld, const int rows, const int tid) {
#if WG_MN_MAJOR
    for (int q = tid; q < rows * 8; q += WG_THREADS) {
        const int k = q / (rows / 8), j = q % (rows / 8);
        tc_cp_async16(t + (j / 8) * 512 + k * 8 + ((j % 8) ^ (k & 7)), (__global const uint4*) (X + (size_t) (k0 + k) * ld + r0 + 8 * j));
    }
#else
    for (int q = tid; q < rows * 8; q += WG_THREADS) {
        const int r = q / 8, c = q % 8;
        tc_cp_async16(t + r * 8 + (c ^ (r & 7)), (__global const uint4*) (X + (size_t) (r0 + r) * ld + k0 + 8 * c));
    }
#endif
}

__kernel __attribute__((reqd_work_group_size(WG_THREADS, 1, 1)))
void gemm_bf16_wgmma(__global const ushort* A, __global const ushort* B, __global wg_c* C,
                     const int M, const int N, const int K, const int lda, const int ldb, const int ldc,
                     const int strideA, const int strideB, const int strideC, const int batch,
                     const float alpha, const float beta
#if WG_BIAS
                     , __global const float* bias
#endif
#if WG_SWIGLU
                     , __global const ushort* gate, __global ushort* act
#endif
                     ) {
    __local uint4 As[WG_STAGES][WG_TM * 8] __attribute__((aligned(1024)));
    __local uint4 Bs[WG_STAGES][WG_N * 8] __attribute__((aligned(1024)));
    const int tid = get_local_id(0), g = tid / 128, w = (tid % 128) / 32, gid = (tid % 32) / 4, t4 = tid % 4;
    const int n0 = get_group_id(0) * WG_N, m0 = get_group_id(1) * WG_TM, b = get_group_id(2);
    A += (size_t) b * strideA;
    B += (size_t) b * strideB;
    C += (size_t) b * strideC;
#if WG_SWIGLU
    gate += (size_t) b * strideC;
    act += (size_t) b * strideC;
#endif

    float d[WG_N / 2];
#pragma unroll
    for (int i = 0; i < WG_N / 2; i++) d[i] = 0.0f;

    // Each iteration leaves its products running (wg_wait_prior: all but the last batch done), so the
    // stage a load may refill is that of tile kt - 2: the barrier of iteration kt comes after every
    // warpgroup's wait in iteration kt - 1, which retired the products of tile kt - 2. Tiles are
    // fetched WG_STAGES - 2 ahead.
    const int tiles = K / 64;
#pragma unroll
    for (int s = 0; s < WG_STAGES - 2; s++) {
        if (s < tiles) {
            wg_load(As[s], A, m0, 64 * s, lda, WG_TM, tid);
            wg_load(Bs[s], B, n0, 64 * s, ldb, WG_N, tid);
        }
        tc_cp_async_commit();
    }
    for (int kt = 0; kt < tiles; kt++) {
        tc_cp_async_wait(WG_STAGES - 3);          // this work-item's copies of tile kt have landed,
        wg_fence_proxy();                         // are visible to wgmma,
        barrier(CLK_LOCAL_MEM_FENCE);             // and everyone's are; tile kt - 2 is no longer read
        const int next = kt + WG_STAGES - 2;
        if (next < tiles) {
            wg_load(As[next % WG_STAGES], A, m0, 64 * next, lda, WG_TM, tid);
            wg_load(Bs[next % WG_STAGES], B, n0, 64 * next, ldb, WG_N, tid);
        }
        tc_cp_async_commit();
        __local const uint* at = (__local const uint*) As[kt % WG_STAGES] + g * 64 * 32;  // 64 rows (K-major) or a group (MN-major) of 32 uints each
        __local const uint* bt = (__local const uint*) Bs[kt % WG_STAGES];
        wg_fence();
#pragma unroll
        for (int ks = 0; ks < 4; ks++) WG_MMA(d, at, bt, 16 * ks);
        wg_commit();
        WG_WAIT_PRIOR(d);
    }
    WG_WAIT_ALL(d);

    // d[4j + 2h + c] is C(row + 8h, col + c): two adjacent columns, stored as one float2 (bf16: one uint)
    // where C allows
    const int row = m0 + 64 * g + 16 * w + gid;
    const bool pairs = (ldc % 2 == 0) && (((size_t) C) % (2 * sizeof(wg_c)) == 0);
#pragma unroll
    for (int j = 0; j < WG_N / 8; j++) {
        const int n = n0 + 8 * j + 2 * t4;
#if WG_BIAS
        const float2 bn = (float2) (bias[n], bias[n + 1]);
#else
        const float2 bn = (float2) 0.0f;
#endif
#pragma unroll
        for (int h = 0; h < 2; h++) {
            __global wg_c* c = C + (size_t) (row + 8 * h) * ldc + n;
#if WG_C_BF16
            const uint lo = bf16_bits(alpha * d[4 * j + 2 * h] + bn.x), hi = bf16_bits(alpha * d[4 * j + 2 * h + 1] + bn.y);
            if (pairs) {
                *(__global uint*) c = lo | (hi << 16);
            } else {
                c[0] = (ushort) lo;
                c[1] = (ushort) hi;
            }
#if WG_SWIGLU
            const size_t at = (size_t) (row + 8 * h) * ldc + n;   // the same element of gate and act
            const float g0 = bf16_float(gate[at]), g1 = bf16_float(gate[at + 1]);
            act[at] = (ushort) bf16_bits(g0 * sigmoid_f(g0) * bf16_float((ushort) lo));
            act[at + 1] = (ushort) bf16_bits(g1 * sigmoid_f(g1) * bf16_float((ushort) hi));
#endif
#else
            float2 v = (float2) (alpha * d[4 * j + 2 * h], alpha * d[4 * j + 2 * h + 1]);
            if (pairs) {
                if (beta != 0.0f) v += beta * *(__global float2*) c;
                *(__global float2*) c = v + bn;
            } else {
                if (beta != 0.0f) v += beta * (float2) (c[0], c[1]);
                v += bn;
                c[0] = v.x;
                c[1] = v.y;
            }
#endif
        }
    }
}
