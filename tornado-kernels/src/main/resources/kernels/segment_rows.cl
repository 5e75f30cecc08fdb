#include "common.h"

// Moving rows between a token stream and its segments (the chunk memory's layouts), and the
// per-segment mean. Row-major matrices of `cols` floats per row.

// Strided block copy, one work-item per element: for b < B, c < C, r < rows, x < cols
//   dst[(b * dstBatch + c * dstStride + dstOffset + r) * cols + x]
//       = (accumulate ? dst[...] : 0) + src[(b * srcBatch + c * srcStride + srcOffset + r) * cols + x]
// Strides and offsets count rows; a stride of 0 broadcasts (e.g. one CLS row to every segment).
// Grid: global (roundUp(cols, 64), rows * C, B), local (64, 1, 1).
__kernel void copy_rows(__global const float* src, __global float* dst, const int B, const int C, const int rows, const int cols,
                        const int srcBatch, const int srcStride, const int srcOffset,
                        const int dstBatch, const int dstStride, const int dstOffset, const int accumulate) {
    const int x = get_global_id(0);
    const int cr = get_global_id(1);
    const int b = get_global_id(2);
    if (x >= cols || cr >= rows * C || b >= B) return;
    const int c = cr / rows, r = cr - c * rows;
    const long s = ((long) b * srcBatch + (long) c * srcStride + srcOffset + r) * cols + x;
    const long d = ((long) b * dstBatch + (long) c * dstStride + dstOffset + r) * cols + x;
    dst[d] = accumulate ? dst[d] + src[s] : src[s];
}

// Mean over each segment of S rows: m[n, x] = (1/S) sum_{t < S} in[n * S + t, x], summed in order.
// Grid: global (roundUp(cols, 64), N), local (64, 1).
__kernel void segment_mean(__global const float* in, __global float* m, const int N, const int S, const int cols) {
    const int x = get_global_id(0);
    const int n = get_global_id(1);
    if (x >= cols || n >= N) return;
    float acc = 0.0f;
    for (int t = 0; t < S; t++) acc += in[((long) n * S + t) * cols + x];
    m[(long) n * cols + x] = acc / (float) S;
}

// Backward of the mean: din[n * S + t, x] += dm[n, x] / S for every t < S.
// Grid: global (roundUp(cols, 64), N * S), local (64, 1).
__kernel void segment_mean_backward(__global const float* dm, __global float* din, const int N, const int S, const int cols) {
    const int x = get_global_id(0);
    const int nt = get_global_id(1);
    if (x >= cols || nt >= N * S) return;
    const int n = nt / S;
    din[(long) nt * cols + x] += dm[(long) n * cols + x] / (float) S;
}
