#include "common.h"

// Softmax cross-entropy over logits [rows, v] with int targets [rows]; one work-group of CE_WG
// work-items per row (CE_WG a power of two equal to the launch's local size, CrossEntropy.WG).
// For a row with target t != ignoreIndex, with m = max_j x_j and Z = sum_j exp(x_j - m):
//   loss[r]       = log Z + m - x_t                       (max-subtracted: no overflow)
//   dlogits[r, j] = (exp(x_j - m) / Z - [j == t]) * scale (scale = 1 / valid rows for a mean)
// An ignored row gets loss 0 and a zero gradient row. A target outside [0, v) that is not the
// ignore index gives NaN loss and NaN gradients (the device cannot throw; CrossEntropy.checkTargets
// reports such targets on the host).
// dlogits may be the logits buffer itself (in place): each work-item writes only the elements it
// read itself, and only after a global-memory barrier that follows the one read of another
// item's element (the target logit).
#ifndef CE_WG
#define CE_WG 256
#endif

// Fixed-order tree reduction over the group (op: 0 = sum, 1 = max). Ends with a barrier.
static inline float ce_group_reduce(__local float* buf, float v, const int isMax) {
    const int lane = get_local_id(0);
    buf[lane] = v;
    barrier(CLK_LOCAL_MEM_FENCE);
    for (int s = CE_WG / 2; s > 0; s >>= 1) {
        if (lane < s) buf[lane] = isMax ? fmax(buf[lane], buf[lane + s]) : buf[lane] + buf[lane + s];
        barrier(CLK_LOCAL_MEM_FENCE);
    }
    const float r = buf[0];
    barrier(CLK_LOCAL_MEM_FENCE);
    return r;
}

static inline void ce_row(__global const float* logits, __global const int* targets, __global float* loss, __global float* dlogits,
                          const int rows, const int v, const int ignoreIndex, const float scale, __local float* buf) {
    // Every work-item of the group takes every barrier (a return before a barrier, even a
    // group-uniform one, crashed PoCL 3.1's work-group compiler): groups past the last row and rows
    // that are ignored or carry a bad target run the reductions over nothing and return afterwards.
    const int row = get_group_id(0), lane = get_local_id(0);
    const int live = row < rows;
    const long base = (long) row * v;
    const int t = live ? targets[row] : ignoreIndex;
    const int valid = live && t != ignoreIndex && t >= 0 && t < v;
    const int n = valid ? v : 0;
    float m = -INFINITY;
    for (int j = lane; j < n; j += CE_WG) m = fmax(m, logits[base + j]);
    m = ce_group_reduce(buf, m, 1);
    float z = 0.0f;
    for (int j = lane; j < n; j += CE_WG) z += exp(logits[base + j] - m);
    const float xt = valid ? logits[base + t] : 0.0f;
    z = ce_group_reduce(buf, z, 0);
    // In-place safety: every read of the row by another work-item (the target logit above) is
    // ordered before the gradient writes below. The reductions' barriers fence local memory only.
    barrier(CLK_GLOBAL_MEM_FENCE);
    if (!live) return;
    if (!valid) {
        const float fill = t == ignoreIndex ? 0.0f : NAN;
        if (lane == 0) loss[row] = fill;
        if (dlogits) for (int j = lane; j < v; j += CE_WG) dlogits[base + j] = fill;
        return;
    }
    if (lane == 0) loss[row] = log(z) + m - xt;
    if (!dlogits) return;
    const float invZ = 1.0f / z;
    for (int j = lane; j < v; j += CE_WG) {
        const float p = exp(logits[base + j] - m) * invZ;
        dlogits[base + j] = (j == t ? p - 1.0f : p) * scale;
    }
}

// Loss and gradient in one pass.
__kernel void cross_entropy_forward_backward(__global const float* logits, __global const int* targets, __global float* loss, __global float* dlogits,
                                             const int rows, const int v, const int ignoreIndex, const float scale) {
    __local float buf[CE_WG];
    ce_row(logits, targets, loss, dlogits, rows, v, ignoreIndex, scale, buf);
}

// Loss only (evaluation).
__kernel void cross_entropy_loss(__global const float* logits, __global const int* targets, __global float* loss,
                                 const int rows, const int v, const int ignoreIndex) {
    __local float buf[CE_WG];
    ce_row(logits, targets, loss, 0, rows, v, ignoreIndex, 0.0f, buf);
}
