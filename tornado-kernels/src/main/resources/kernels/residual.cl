#include "common.h"

// Scaled add, the residual connection and its scaled variants:
//   y[i] = alpha * x[i] + beta * y[i]        for 0 <= i < n
// Backward is the same kernel: dx = alpha * dy, dy_in = beta * dy.
// Four elements per work-item, as one float4 where all four exist: the kernel is pure memory
// traffic, and 16-byte accesses move it at a higher fraction of the bandwidth (buffers, views
// included, start at the device's base address alignment, a multiple of 16 bytes).
// Grid: global ceil(n / 4).
__kernel void axpby(__global const float* x, __global float* y, const int n, const float alpha, const float beta) {
    const int i = 4 * get_global_id(0);
    if (i + 4 <= n) {
        const float4 a = *(__global const float4*) (x + i);
        __global float4* b = (__global float4*) (y + i);
        *b = alpha * a + beta * *b;
    } else {
        for (int e = i; e < n; e++) y[e] = alpha * x[e] + beta * y[e];
    }
}
