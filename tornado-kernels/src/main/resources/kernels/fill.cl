#include "common.h"

// x[i] = value, for 0 <= i < n (zeroing gradients and accumulators).
__kernel void fill(__global float* x, const int n, const float value) {
    int i = get_global_id(0);
    if (i < n) x[i] = value;
}

// y[i] = x[i], for 0 <= i < n.
__kernel void copy(__global const float* x, __global float* y, const int n) {
    int i = get_global_id(0);
    if (i < n) y[i] = x[i];
}

// y[r, c] += b[c] for a row-major [rows, cols] y: the bias of a linear layer. Its gradient is the
// column sum of dy (Reduce.COLUMN_SUM).
__kernel void add_bias(__global float* y, __global const float* b, const int rows, const int cols) {
    int i = get_global_id(0);
    if (i < rows * cols) y[i] += b[i % cols];
}
