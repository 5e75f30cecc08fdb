#include "common.h"

// The inverted selection index (CSR): for each (b, h, chunk c), the (token, slot) pairs whose
// selection chose c. Layout (the convention shared with the HSA attention backward):
//   chunkStart [B*H*(C+1)]  entries of chunk c of bh = b*H + h are entries[chunkStart[bh*(C+1)+c] .. chunkStart[bh*(C+1)+c+1])
//   entries    [B*H*L*K]    values t*K + k, ascending within each chunk; VALID slots only
//                           (k < min(K, e(t)), e(t) = min(C, floor((t0+t)/S))); used prefix = chunkStart[last]
//
// How it is built, deterministically and in O(B*H*L*K):
//   1. hsa_csr_keys: one (key, value) per slot, enumerated in (b, h, t, k) order:
//      key = bh*C + indices[b,t,h,k] for a valid slot, B*H*C (sorts last) for an invalid one; value = t*K + k.
//   2. A stable LSD radix sort of the keys, CSR_BITS bits per pass (hsa_csr_hist, hsa_csr_scan,
//      hsa_csr_scatter). Stability keeps the (b, h, t, k) order inside each key, i.e. ascending t*K+k.
//      No atomics decide any position: tile histograms are exact counts and every element's
//      position is its tile's base plus the counts of the elements before it in the tile.
//   3. hsa_csr_starts: chunkStart[bh*(C+1)+c] = lower_bound(sorted keys, bh*C + c).

#define CSR_BITS 4
#define CSR_BUCKETS (1 << CSR_BITS)
#define CSR_WG 128              // work-items per tile
#define CSR_PER 8               // contiguous elements per work-item
#define CSR_TILE (CSR_WG * CSR_PER)
#define CSR_SCAN_WG 256

static inline int hsacsr_digit(int key, int shift) { return (key >> shift) & (CSR_BUCKETS - 1); }

// keys[n], vals[n] for slot n = ((b*H + h)*L + t)*K + k:
//   keys[n] = k < min(K, min(C, (t0+t)/S)) ? (b*H + h)*C + indices[b, t, h, k] : B*H*C
//   vals[n] = t*K + k
__kernel void hsa_csr_keys(__global const int* indices, __global int* keys, __global int* vals,
                           const int B, const int L, const int H, const int C, const int S, const int t0, const int K) {
    const int n = get_global_id(0);
    if (n >= B * H * L * K) return;
    const int k = n % K, t = (n / K) % L, bh = n / (K * L);
    const int b = bh / H, h = bh % H;
    int e = t0 + t < 0 ? 0 : (t0 + t) / S;  // t0 may be negative (an eligibility lag)
    e = e < C ? e : C;
    const int valid = k < (e < K ? e : K);
    keys[n] = valid ? bh * C + indices[((b * L + t) * H + h) * K + k] : B * H * C;
    vals[n] = t * K + k;
}

// Digit histogram of each tile of CSR_TILE keys, stored digit-major for the scan:
//   tileHist[d * numTiles + tile] = #{n in tile : digit(keys[n]) == d},  numTiles = ceil(N / CSR_TILE)
// Grid: numTiles work-groups of CSR_WG. (Local int atomics only count: the result is order-free.)
__kernel __attribute__((reqd_work_group_size(CSR_WG, 1, 1)))
void hsa_csr_hist(__global const int* keys, __global int* tileHist, const int N, const int shift) {
    __local int hist[CSR_BUCKETS];
    const int lid = get_local_id(0), tile = get_group_id(0);
    const int numTiles = CEIL_DIV(N, CSR_TILE);
    if (lid < CSR_BUCKETS) hist[lid] = 0;
    barrier(CLK_LOCAL_MEM_FENCE);
    for (int e = 0; e < CSR_PER; e++) {
        int n = tile * CSR_TILE + lid * CSR_PER + e;
        if (n < N) atomic_inc(&hist[hsacsr_digit(keys[n], shift)]);
    }
    barrier(CLK_LOCAL_MEM_FENCE);
    if (lid < CSR_BUCKETS && tile < numTiles) tileHist[lid * numTiles + tile] = hist[lid];
}

// Exclusive prefix sum by one work-group: out[j] = sum_{i<j} in[j]. Each work-item sums a
// contiguous block, the block sums are scanned, then each block is written. Grid: one group of CSR_SCAN_WG.
__kernel __attribute__((reqd_work_group_size(CSR_SCAN_WG, 1, 1)))
void hsa_csr_scan(__global const int* in, __global int* out, const int n) {
    __local int part[CSR_SCAN_WG];
    const int lid = get_local_id(0);
    const int per = CEIL_DIV(n, CSR_SCAN_WG);
    const int lo = min(n, lid * per), hi = min(n, lo + per);
    int s = 0;
    for (int j = lo; j < hi; j++) s += in[j];
    part[lid] = s;
    barrier(CLK_LOCAL_MEM_FENCE);
    if (lid == 0) {
        int run = 0;
        for (int j = 0; j < CSR_SCAN_WG; j++) { int v = part[j]; part[j] = run; run += v; }
    }
    barrier(CLK_LOCAL_MEM_FENCE);
    int run = part[lid];
    for (int j = lo; j < hi; j++) { int v = in[j]; out[j] = run; run += v; }
}

// Stable scatter of one radix pass: element n of tile T with digit d goes to
//   tileBase[d * numTiles + T] + #{m in T, m < n : digit(keys[m]) == d}
// (tileBase = exclusive scan of tileHist). Each work-item owns CSR_PER contiguous elements; the
// per-item digit counts are scanned across the work-group in local memory.
// Grid: numTiles work-groups of CSR_WG.
__kernel __attribute__((reqd_work_group_size(CSR_WG, 1, 1)))
void hsa_csr_scatter(__global const int* keysIn, __global const int* valsIn, __global const int* tileBase,
                     __global int* keysOut, __global int* valsOut, const int N, const int shift) {
    __local int counts[CSR_BUCKETS * CSR_WG];  // counts[d * CSR_WG + item]
    const int lid = get_local_id(0), tile = get_group_id(0);
    const int numTiles = CEIL_DIV(N, CSR_TILE);
    const int first = tile * CSR_TILE + lid * CSR_PER;
    int mine[CSR_BUCKETS];
    for (int d = 0; d < CSR_BUCKETS; d++) mine[d] = 0;
    for (int e = 0; e < CSR_PER; e++) {
        int n = first + e;
        if (n < N) mine[hsacsr_digit(keysIn[n], shift)]++;
    }
    for (int d = 0; d < CSR_BUCKETS; d++) counts[d * CSR_WG + lid] = mine[d];
    barrier(CLK_LOCAL_MEM_FENCE);
    if (lid < CSR_BUCKETS && tile < numTiles) {
        int run = tileBase[lid * numTiles + tile];
        for (int j = 0; j < CSR_WG; j++) { int v = counts[lid * CSR_WG + j]; counts[lid * CSR_WG + j] = run; run += v; }
    }
    barrier(CLK_LOCAL_MEM_FENCE);
    for (int d = 0; d < CSR_BUCKETS; d++) mine[d] = counts[d * CSR_WG + lid];
    for (int e = 0; e < CSR_PER; e++) {
        int n = first + e;
        if (n < N) {
            int key = keysIn[n];
            int pos = mine[hsacsr_digit(key, shift)]++;
            keysOut[pos] = key;
            valsOut[pos] = valsIn[n];
        }
    }
}

// chunkStart[g] = lower_bound(keys[0..N), bh*C + c) for g = bh*(C+1) + c, 0 <= c <= C (keys sorted).
__kernel void hsa_csr_starts(__global const int* keys, __global int* chunkStart, const int N, const int BH, const int C) {
    const int g = get_global_id(0);
    if (g >= BH * (C + 1)) return;
    const int bh = g / (C + 1), c = g % (C + 1);
    const int target = bh * C + c;
    int lo = 0, hi = N;
    while (lo < hi) {
        int mid = lo + (hi - lo) / 2;
        if (keys[mid] < target) lo = mid + 1; else hi = mid;
    }
    chunkStart[g] = lo;
}
