#include "common.h"

// Deterministic reductions: no atomics; every sum is taken in a fixed order.
// RED_WG (power of two) must equal the launch's local size (Reduce.WG).
#ifndef RED_WG
#define RED_WG 256
#endif

// Pairwise tree sum over the work-group (fixed order). Every work-item must call it.
static inline float red_group_sum(__local float* buf, float v) {
    const int lane = get_local_id(0);
    buf[lane] = v;
    barrier(CLK_LOCAL_MEM_FENCE);
    for (int s = RED_WG / 2; s > 0; s >>= 1) {
        if (lane < s) buf[lane] += buf[lane + s];
        barrier(CLK_LOCAL_MEM_FENCE);
    }
    return buf[0];
}

// Stage 1 of sum(x^2): work-group g < parts (one launch of exactly parts groups) computes
//   partials[g] = sum over i = g*RED_WG + lane + k*parts*RED_WG < n of x[i]^2.
// Each work-item sums its strided elements with Kahan compensation (so a long per-item run does
// not lose low bits), then the group adds the items' sums by a pairwise tree.
// Indices are 64-bit: n may be as large as 2^31 - 1.
__kernel void sum_of_squares_partials(__global const float* x, __global float* partials, const int n, const int parts) {
    __local float buf[RED_WG];
    const int g = get_group_id(0), lane = get_local_id(0);
    // A group past parts sums nothing but still takes the barriers (no return before a barrier).
    const long stride = (long) parts * RED_WG;
    float s = 0.0f, comp = 0.0f;
    for (long i = g < parts ? (long) g * RED_WG + lane : n; i < n; i += stride) {
        const float y = x[i] * x[i] - comp;
        const float t = s + y;
        comp = (t - s) - y;
        s = t;
    }
    const float total = red_group_sum(buf, s);
    if (lane == 0 && g < parts) partials[g] = total;
}

// Stage 2: out[0] = sum_{g < parts} partials[g], by one work-group (Kahan per item, then a tree).
__kernel void sum_partials(__global const float* partials, __global float* out, const int parts) {
    __local float buf[RED_WG];
    const int lane = get_local_id(0);
    const int first = get_group_id(0) == 0; // only group 0 works; others still take the barriers
    float s = 0.0f, comp = 0.0f;
    for (int i = first ? lane : parts; i < parts; i += RED_WG) {
        const float y = partials[i] - comp;
        const float t = s + y;
        comp = (t - s) - y;
        s = t;
    }
    const float total = red_group_sum(buf, s);
    if (lane == 0 && first) out[0] = total;
}

// Column sums of a row-major [rows, cols] matrix, rows added in order 0..rows-1:
//   out[c] = (accumulate ? out[c] : 0) + sum_r in[r, c]
// (The second stage of per-row-block weight gradients, e.g. RMSNorm's dw.)
__kernel void column_sum(__global const float* in, __global float* out, const int rows, const int cols, const int accumulate) {
    const int c = get_global_id(0);
    if (c >= cols) return;
    float acc = 0.0f;
    for (int r = 0; r < rows; r++) acc += in[(long) r * cols + c];
    out[c] = accumulate ? out[c] + acc : acc;
}

// Stage 1 of a column sum over many rows: partials[b, c] = sum of in[r, c] over the rows r of block
// b (blocks of blockRows rows, the last one short), in order; stage 2 is column_sum over the blocks.
// Grid: (cols, blocks). A tall column sum then runs on cols x blocks work-items instead of cols.
__kernel void column_sum_partials(__global const float* in, __global float* partials, const int rows, const int cols, const int blockRows) {
    const int c = get_global_id(0), b = get_global_id(1);
    const int r0 = b * blockRows;
    if (c >= cols || r0 >= rows) return;
    const int r1 = min(rows, r0 + blockRows);
    float acc = 0.0f;
    for (int r = r0; r < r1; r++) acc += in[(long) r * cols + c];
    partials[(long) b * cols + c] = acc;
}
