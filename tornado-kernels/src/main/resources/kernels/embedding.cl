#include "common.h"

// Token embedding lookup and its race-free backward.
// Layouts (row-major): ids [rows] int, table/dtable [vocab, d], out/dout [rows, d].

// Forward: out[n, c] = table[ids[n], c]            for 0 <= n < rows, 0 <= c < d.
// An id outside [0, vocab) gives a zero row: the device cannot throw, so the host checks ids
// before launch (Embedding.checkIds / Embedding.invertIds report the offending position).
// Grid: dimension 0 = column c, dimension 1 = row n (rounded up; tails guarded).
__kernel void embedding_forward(__global const int* ids, __global const float* table, __global float* out,
                                const int rows, const int d, const int vocab) {
    const int c = get_global_id(0), n = get_global_id(1);
    if (c >= d || n >= rows) return;
    const int id = ids[n];
    out[(long) n * d + c] = (id >= 0 && id < vocab) ? table[(long) id * d + c] : 0.0f;
}

// Backward through the host-built inverted index (CSR over the vocabulary ids that occur):
// used row u < used has vocab id rowIds[u] and occurs at the token positions
// positions[offsets[u]] .. positions[offsets[u+1] - 1], listed in increasing order.
//   dtable[rowIds[u], c] += sum_{k = offsets[u]}^{offsets[u+1]-1} dout[positions[k], c]
// Each (used row, column) element has exactly one owner work-item, which adds its terms in
// the fixed CSR order: no atomics, no races, bit-identical results from run to run.
// Rows of dtable whose id does not occur are left untouched.
// Grid: dimension 0 = column c, dimension 1 = used row u.
__kernel void embedding_backward(__global const float* dout, __global const int* rowIds, __global const int* offsets,
                                 __global const int* positions, __global float* dtable,
                                 const int used, const int rows, const int d, const int vocab) {
    const int c = get_global_id(0), u = get_global_id(1);
    if (c >= d || u >= used) return;
    const int id = rowIds[u];
    if (id < 0 || id >= vocab) return;
    float acc = 0.0f;
    const int end = offsets[u + 1];
    for (int k = offsets[u]; k < end; k++) {
        const int n = positions[k];
        if (n >= 0 && n < rows) acc += dout[(long) n * d + c];
    }
    dtable[(long) id * d + c] += acc;
}
