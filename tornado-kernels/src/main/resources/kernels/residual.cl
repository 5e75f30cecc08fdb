#include "common.h"

// Scaled add, the residual connection and its scaled variants:
//   y[i] = alpha * x[i] + beta * y[i]        for 0 <= i < n
// Backward is the same kernel: dx = alpha * dy, dy_in = beta * dy.
__kernel void axpby(__global const float* x, __global float* y, const int n, const float alpha, const float beta) {
    int i = get_global_id(0);
    if (i < n) y[i] = alpha * x[i] + beta * y[i];
}
