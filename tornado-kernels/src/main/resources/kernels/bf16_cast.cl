#include "common.h"
#include "bf16.h"

// fp32 -> bf16 copies (org.hsajava.kernels.Bf16Cast), for GEMMs whose kernel reads bf16 storage
// (gemm_bf16_wgmma.cl): y = bf16(x) for x [rows x cols] with row stride ldx into y [rows x cols]
// (dense), or transposed into y [cols x rows]. Rounding: nearest, ties to even (bf16.h).

// One work-item per output pair y[2i], y[2i + 1] (cols even, so a pair never straddles two rows).
__kernel void to_bf16(__global const float* x, __global uint* y, const int rows, const int cols, const int ldx) {
    const int i = get_global_id(0);
    if (i >= rows * (cols / 2)) return;
    const int r = i / (cols / 2), c = 2 * (i % (cols / 2));
    __global const float* p = x + (size_t) r * ldx + c;
    y[i] = bf16_bits(p[0]) | (bf16_bits(p[1]) << 16);
}

// y[c, r] = bf16(x[r, c]) through a 32 x 32 tile in local memory, so that reads and writes are both
// along rows. Work-group 32 x 8; each work-item moves 4 elements.
__kernel __attribute__((reqd_work_group_size(32, 8, 1)))
void to_bf16_t(__global const float* x, __global ushort* y, const int rows, const int cols, const int ldx) {
    __local float tile[32][33];
    const int tx = get_local_id(0), ty = get_local_id(1);
    const int c0 = get_group_id(0) * 32, r0 = get_group_id(1) * 32;
    for (int k = ty; k < 32; k += 8) {
        const int r = r0 + k, c = c0 + tx;
        tile[k][tx] = r < rows && c < cols ? x[(size_t) r * ldx + c] : 0.0f;
    }
    barrier(CLK_LOCAL_MEM_FENCE);
    for (int k = ty; k < 32; k += 8) {
        const int c = c0 + k, r = r0 + tx;
        if (c < cols && r < rows) y[(size_t) c * rows + r] = (ushort) bf16_bits(tile[tx][k]);
    }
}
