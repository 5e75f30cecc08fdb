#include "common.h"
#include "bf16.h"

// RMSNorm over the last dimension, rows of length d (row-major [rows, d]).
// Forward and dx in two layouts (RmsNorm picks one per device type): GPUs, rms_tpr(d) work-items
// per row, the smallest power of two >= d up to RMS_WG, so that a work-group of RMS_WG work-items (a
// power of two equal to the launch's local size, RmsNorm.WG) holds RMS_WG / tpr rows (the q/k norms
// over heads of 32 fill it with 4 rows instead of leaving 96 of 128 work-items idle); CPUs
// (RMS_ITEM_PER_ROW=1), one work-item per row.
#ifndef RMS_WG
#define RMS_WG 128
#endif
#ifndef RMS_ITEM_PER_ROW
#define RMS_ITEM_PER_ROW 0
#endif

// y[r, c] = (x[r, c] * rstd[r]) * w[c]   (w == 0: no weight),  rstd[r] = 1 / sqrt(mean_c x[r, c]^2 + eps).
// y16 (when not 0): the same y rounded to bf16, the input of the bf16 GEMMs that follow the norm.
// The residual forms (add != 0) first write the sum s = x + add and normalise s: the residual
// connection and the norm after it in one pass (s may be x or add itself).
// Input gradient, with g = dy * w (g = dy without a weight) and r = rstd[row]:
//   dx[c] = res[c] + r * (g[c] - x[c] * r^2 * (sum_j g[j] x[j]) / d)
// res == 0: dx is overwritten; else res is the gradient arriving through a residual connection
// (res may be dx itself: accumulate).
#if RMS_ITEM_PER_ROW
// CPUs: one work-item per row, summing the row in order; no local memory and no barrier. PoCL runs
// a work-group as a loop over its items and splits it at every barrier, so the GPU layout's per-row
// tree reduction (below) cost more there than the row's arithmetic.
static inline void rms_forward_row(__global const float* x, __global const float* add, __global float* s, __global const float* w,
                                   __global float* y, __global ushort* y16, __global float* rstd, const int rows, const int d,
                                   const float eps, __local float* buf) {
    const int row = get_global_id(0);
    if (row >= rows) return;
    const __global float* xr = x + (long) row * d;
    if (add) {
        __global float* sr = s + (long) row * d;
        for (int c = 0; c < d; c++) sr[c] = xr[c] + add[(long) row * d + c];
        xr = sr;
    }
    __global float* yr = y + (long) row * d;
    float acc = 0.0f;
    for (int c = 0; c < d; c++) acc += xr[c] * xr[c];
    const float r = 1.0f / sqrt(acc / (float) d + eps);
    rstd[row] = r;
    for (int c = 0; c < d; c++) {
        const float v = w ? xr[c] * r * w[c] : xr[c] * r;
        yr[c] = v;
        if (y16) y16[(long) row * d + c] = (ushort) bf16_bits(v);
    }
}

static inline void rms_backward_row(__global const float* dy, __global const float* x, __global const float* w, __global const float* rstd,
                                    __global const float* res, __global float* dx, const int rows, const int d, __local float* buf) {
    const int row = get_global_id(0);
    if (row >= rows) return;
    const long base = (long) row * d;
    float dot = 0.0f;
    for (int c = 0; c < d; c++) dot += (w ? dy[base + c] * w[c] : dy[base + c]) * x[base + c];
    const float r = rstd[row];
    const float k = r * r * dot / (float) d;
    for (int c = 0; c < d; c++) {
        const float g = w ? dy[base + c] * w[c] : dy[base + c];
        dx[base + c] = (res ? res[base + c] : 0.0f) + r * (g - x[base + c] * k);
    }
}
#else
// GPUs: the row's partial sums combined by a fixed tree.
// Work-items per row: the smallest power of two >= d, at most RMS_WG (RmsNorm.threadsPerRow).
static inline int rms_tpr(const int d) {
    int t = 1;
    while (t < d && t < RMS_WG) t <<= 1;
    return t;
}

// Sum of one value per work-item over each segment of tpr work-items (one row), by a fixed pairwise
// tree (deterministic; for d <= tpr the same additions as a tree over RMS_WG with zeros past d).
// Every work-item of the group must call it. Ends with a barrier so buf can be reused at once.
static inline float rms_row_sum(__local float* buf, float v, const int tpr) {
    const int lane = get_local_id(0), sub = lane % tpr;
    buf[lane] = v;
    barrier(CLK_LOCAL_MEM_FENCE);
    for (int s = tpr / 2; s > 0; s >>= 1) {
        if (sub < s) buf[lane] += buf[lane + s];
        barrier(CLK_LOCAL_MEM_FENCE);
    }
    const float total = buf[lane - sub];
    barrier(CLK_LOCAL_MEM_FENCE);
    return total;
}

static inline void rms_forward_row(__global const float* x, __global const float* add, __global float* s, __global const float* w,
                                   __global float* y, __global ushort* y16, __global float* rstd, const int rows, const int d,
                                   const float eps, __local float* buf) {
    // A row past the last one does no work, but its work-items still take part in the barriers
    // (n = 0): a return before a barrier, even a group-uniform one, crashed PoCL 3.1's work-group compiler.
    const int tpr = rms_tpr(d), lane = get_local_id(0), sub = lane % tpr;
    const int row = get_group_id(0) * (RMS_WG / tpr) + lane / tpr;
    const int n = row < rows ? d : 0;
    const __global float* xr = x + (long) row * d;
    __global float* yr = y + (long) row * d;
    float acc = 0.0f;
    if (add) {
        // s = x + add, read back below by the work-item that wrote it (the same columns), so no barrier.
        __global float* sr = s + (long) row * d;
        for (int c = sub; c < n; c += tpr) {
            const float v = xr[c] + add[(long) row * d + c];
            sr[c] = v;
            acc += v * v;
        }
        xr = sr;
    } else {
        for (int c = sub; c < n; c += tpr) acc += xr[c] * xr[c];
    }
    const float r = 1.0f / sqrt(rms_row_sum(buf, acc, tpr) / (float) d + eps);
    if (sub == 0 && row < rows) rstd[row] = r;
    for (int c = sub; c < n; c += tpr) {
        const float xn = xr[c] * r;
        const float v = w ? xn * w[c] : xn;
        yr[c] = v;
        if (y16) y16[(long) row * d + c] = (ushort) bf16_bits(v);
    }
}

static inline void rms_backward_row(__global const float* dy, __global const float* x, __global const float* w, __global const float* rstd,
                                    __global const float* res, __global float* dx, const int rows, const int d, __local float* buf) {
    const int tpr = rms_tpr(d), lane = get_local_id(0), sub = lane % tpr;
    const int row = get_group_id(0) * (RMS_WG / tpr) + lane / tpr;
    const int n = row < rows ? d : 0; // past the last row: no work, but every barrier is taken
    const long base = (long) row * d;
    float acc = 0.0f;
    for (int c = sub; c < n; c += tpr) acc += (w ? dy[base + c] * w[c] : dy[base + c]) * x[base + c];
    const float dot = rms_row_sum(buf, acc, tpr);
    if (n == 0) return; // after the last barrier
    const float r = rstd[row];
    const float k = r * r * dot / (float) d;
    for (int c = sub; c < n; c += tpr) {
        const float g = w ? dy[base + c] * w[c] : dy[base + c];
        dx[base + c] = (res ? res[base + c] : 0.0f) + r * (g - x[base + c] * k);
    }
}
#endif  // RMS_ITEM_PER_ROW

// Forward with a weight (HF LlamaRMSNorm order: normalise, then multiply by the weight).
__kernel void rmsnorm_forward(__global const float* x, __global const float* w, __global float* y, __global float* rstd,
                              const int rows, const int d, const float eps) {
    __local float buf[RMS_WG];
    rms_forward_row(x, 0, 0, w, y, 0, rstd, rows, d, eps, buf);
}

// Forward with a weight that also writes y16 = bf16(y).
__kernel void rmsnorm_forward_bf16(__global const float* x, __global const float* w, __global float* y, __global ushort* y16,
                                   __global float* rstd, const int rows, const int d, const float eps) {
    __local float buf[RMS_WG];
    rms_forward_row(x, 0, 0, w, y, y16, rstd, rows, d, eps, buf);
}

// Residual connection, then the norm: s = x + add, y = norm(s) * w (s may be x or add).
__kernel void rmsnorm_add_forward(__global const float* x, __global const float* add, __global float* s, __global const float* w,
                                  __global float* y, __global float* rstd, const int rows, const int d, const float eps) {
    __local float buf[RMS_WG];
    rms_forward_row(x, add, s, w, y, 0, rstd, rows, d, eps, buf);
}

// The same, also writing y16 = bf16(y).
__kernel void rmsnorm_add_forward_bf16(__global const float* x, __global const float* add, __global float* s, __global const float* w,
                                       __global float* y, __global ushort* y16, __global float* rstd, const int rows, const int d,
                                       const float eps) {
    __local float buf[RMS_WG];
    rms_forward_row(x, add, s, w, y, y16, rstd, rows, d, eps, buf);
}

// Forward without a weight: y = x * rstd.
__kernel void rmsnorm_forward_noweight(__global const float* x, __global float* y, __global float* rstd,
                                       const int rows, const int d, const float eps) {
    __local float buf[RMS_WG];
    rms_forward_row(x, 0, 0, 0, y, 0, rstd, rows, d, eps, buf);
}

__kernel void rmsnorm_backward_dx(__global const float* dy, __global const float* x, __global const float* w, __global const float* rstd,
                                  __global float* dx, const int rows, const int d) {
    __local float buf[RMS_WG];
    rms_backward_row(dy, x, w, rstd, 0, dx, rows, d, buf);
}

// dx = res + the input gradient: the gradient of a residual branch added in the same pass (res may be dx).
__kernel void rmsnorm_backward_dx_add(__global const float* dy, __global const float* x, __global const float* w, __global const float* rstd,
                                      __global const float* res, __global float* dx, const int rows, const int d) {
    __local float buf[RMS_WG];
    rms_backward_row(dy, x, w, rstd, res, dx, rows, d, buf);
}

__kernel void rmsnorm_backward_dx_noweight(__global const float* dy, __global const float* x, __global const float* rstd,
                                           __global float* dx, const int rows, const int d) {
    __local float buf[RMS_WG];
    rms_backward_row(dy, x, 0, rstd, 0, dx, rows, d, buf);
}

// First stage of the weight gradient dw[c] = sum_r dy[r, c] * x[r, c] * rstd[r]:
//   partials[b, c] = sum_{r = b*blockRows}^{min(rows, (b+1)*blockRows) - 1} dy[r, c] * (x[r, c] * rstd[r])
// summed in row order. The second stage is Reduce.COLUMN_SUM over the [blocks, d] partials.
// Grid: dimension 0 = column c, dimension 1 = row block b.
__kernel void rmsnorm_dw_partials(__global const float* dy, __global const float* x, __global const float* rstd,
                                  __global float* partials, const int rows, const int d, const int blockRows) {
    const int c = get_global_id(0), b = get_global_id(1);
    const int first = b * blockRows;
    if (c >= d || first >= rows) return;
    const int last = min(rows, first + blockRows);
    float acc = 0.0f;
    for (int r = first; r < last; r++) acc += dy[(long) r * d + c] * (x[(long) r * d + c] * rstd[r]);
    partials[(long) b * d + c] = acc;
}
