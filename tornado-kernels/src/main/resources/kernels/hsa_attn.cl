#include "common.h"

// HSA per-chunk attention: forward and backward (org.hsajava.kernels.HsaAttention).
//
// Layouts (row-major): q, dout, o, dq [B, L, HQ, D]; k, v, dk, dv [B, Lkv, H, D] with
// Lkv = C*S, C = L/S (floor); indices, weights, dweights [B, L, H, K];
// lse, delta [B, L, HQ, K] (per token, query head, slot; slot innermost).
// Query head g of KV head h is h*G + g. Slot k of token t is valid iff k < min(K, t/S).
//
// Compile-time constants (-D): D head dim, S chunk size, G = HQ/H query heads per KV head,
// WG work-group size (all kernels use 1-D work-groups of WG items).
//
// Work split: one work-group per (batch, token, KV head) in the forward and in bwd_q, holding
// the G query heads of that KV head as the rows of its small matrices; each selected chunk's K/V
// rows go through local memory in tiles of BS rows. Tokens in a block select different chunks, so
// one token per group is the unit that shares a tile. bwd_kv: one work-group per (batch, KV head,
// chunk, block of BR chunk rows), walking the inverted selection index (CSR) of its chunk.

#ifndef WG
#define WG 64
#endif

// Chunk rows per K/V tile in the per-token kernels: at most 2048 floats of tile.
#define HSA_BS (S < 2048 / D ? S : 2048 / D)
// Chunk rows owned by one bwd_kv work-group: at most 1024 floats of K (and of V).
#define HSA_BR (S < 1024 / D ? S : 1024 / D)
// Local row stride of K/V tiles: padded by one so that work-items reading consecutive rows at
// the same column hit different local memory banks.
#define HSA_LD (D + 1)
// Private accumulators per work-item for a G x D (per-token kernels) or BR x D (bwd_kv) result.
#define HSA_ACC_Q CEIL_DIV(G * D, WG)
#define HSA_ACC_KV CEIL_DIV(HSA_BR * D, WG)

// Copies `rows` rows of D floats, `stride` floats apart in global memory, into a local tile with
// row stride HSA_LD; the whole work-group takes part.
static inline void hsa_load_rows(__local float* dst, __global const float* src, const int rows, const int stride) {
    for (int i = get_local_id(0); i < rows * D; i += WG) {
        const int r = i / D, d = i % D;
        dst[r * HSA_LD + d] = src[r * stride + d];
    }
}

// Copies n contiguous floats from global to local memory with the whole work-group.
static inline void hsa_load_flat(__local float* dst, __global const float* src, const int n) {
    for (int i = get_local_id(0); i < n; i += WG) dst[i] = src[i];
}

// Dot product of a contiguous local row (length D) with a padded local tile row.
static inline float hsa_dot(__local const float* a, __local const float* b) {
    float s = 0.0f;
    for (int d = 0; d < D; d++) s = fma(a[d], b[d], s);
    return s;
}

// Scores of the G rows of `rows_local` (G x D, contiguous) against the S rows of one chunk
// (global, row stride `stride`), written to sc (G x S): sc[g][j] = scale * rows[g] . key[j].
// Uses `tile` (HSA_BS x HSA_LD). Starts and ends with the group past a barrier for `tile`,
// but the caller must put a barrier between these writes of sc and any read of them.
static inline void hsa_chunk_scores(__local float* sc, __local const float* rows_local, __local float* tile,
                                    __global const float* chunk, const int stride, const float scale) {
    for (int j0 = 0; j0 < S; j0 += HSA_BS) {
        barrier(CLK_LOCAL_MEM_FENCE);
        hsa_load_rows(tile, chunk + j0 * stride, HSA_BS, stride);
        barrier(CLK_LOCAL_MEM_FENCE);
        for (int i = get_local_id(0); i < G * HSA_BS; i += WG) {
            const int g = i / HSA_BS, j = i % HSA_BS;
            sc[g * S + j0 + j] = scale * hsa_dot(rows_local + g * D, tile + j * HSA_LD);
        }
    }
}

// log(sum_j exp(s_j) + n) over one row of S scores, computed stably (n = 0 or 1).
static inline float hsa_row_lse(__local const float* s, const int n) {
    float m = -INFINITY;
    for (int j = 0; j < S; j++) m = fmax(m, s[j]);
    const float mm = n > 0 ? fmax(m, 0.0f) : m;
    float sum = 0.0f;
    for (int j = 0; j < S; j++) sum += exp(s[j] - mm);
    if (n > 0) sum += (float) n * exp(-mm);
    return mm + log(sum);
}

// Forward. For token t, query head g (of KV head h), valid slot k selecting chunk c = idx[t,h,k]:
//   s_j   = scale * q[t,g] . k[c*S + j]                                (0 <= j < S)
//   lse   = log(sum_j exp(s_j) + n)                     -> lse[t,g,k]   (0 for invalid slots)
//   o[t,g] = sum_k w[t,h,k] * sum_j exp(s_j - lse) * v[c*S + j]
// Tokens with no valid slot get o = 0. One work-group per (b, t, h).
__kernel void hsa_attn_fwd(__global const float* q, __global const float* k, __global const float* v,
                           __global const int* indices, __global const float* weights,
                           __global float* o, __global float* lse,
                           const int B, const int L, const int HQ, const int H, const int K,
                           const int n, const float scale) {
    __local float qs[G * D];
    __local float tile[HSA_BS * HSA_LD];
    __local float p[G * S];
    __local float rowLse[G];

    const int item = get_group_id(0);          // (b*L + t)*H + h; the grid has exactly B*L*H groups
    const int lid = get_local_id(0);
    const int h = item % H, bt = item / H, t = bt % L, b = bt / L;
    const int Lkv = (L / S) * S, stride = H * D;
    const int nvalid = min(K, t / S);
    const int qbase = (bt * HQ + h * G) * D;   // G rows of D, contiguous
    const int lseBase = (bt * HQ + h * G) * K; // lse[t, h*G + g, slot] = lseBase + g*K + slot

    hsa_load_flat(qs, q + qbase, G * D);
    for (int i = lid; i < G * K; i += WG) if (i % K >= nvalid) lse[lseBase + i] = 0.0f;

    float acc[HSA_ACC_Q];
    for (int r = 0; r < HSA_ACC_Q; r++) acc[r] = 0.0f;

    for (int slot = 0; slot < nvalid; slot++) {
        const int c = indices[item * K + slot];
        const float w = weights[item * K + slot];
        const size_t chunkOff = ((size_t) (b * Lkv + c * S) * H + h) * D;
        hsa_chunk_scores(p, qs, tile, k + chunkOff, stride, scale);
        barrier(CLK_LOCAL_MEM_FENCE);
        for (int g = lid; g < G; g += WG) {
            const float l = hsa_row_lse(p + g * S, n);
            rowLse[g] = l;
            lse[lseBase + g * K + slot] = l;
        }
        barrier(CLK_LOCAL_MEM_FENCE);
        for (int i = lid; i < G * S; i += WG) p[i] = exp(p[i] - rowLse[i / S]);
        for (int j0 = 0; j0 < S; j0 += HSA_BS) {
            barrier(CLK_LOCAL_MEM_FENCE);
            hsa_load_rows(tile, v + chunkOff + (size_t) j0 * stride, HSA_BS, stride);
            barrier(CLK_LOCAL_MEM_FENCE);
            for (int r = 0; r < HSA_ACC_Q; r++) {
                const int i = lid + r * WG;
                if (i < G * D) {
                    const int g = i / D, d = i % D;
                    float s = 0.0f;
                    for (int j = 0; j < HSA_BS; j++) s = fma(p[g * S + j0 + j], tile[j * HSA_LD + d], s);
                    acc[r] = fma(w, s, acc[r]);
                }
            }
        }
    }
    for (int r = 0; r < HSA_ACC_Q; r++) {
        const int i = lid + r * WG;
        if (i < G * D) o[qbase + i] = acc[r];
    }
}

// Backward, per token: dq, dweights and delta. For token t, KV head h, valid slot k (chunk c),
// query head g, with P_j = exp(s_j - lse[t,g,k]) recomputed from the saved lse:
//   dp_j         = dout[t,g] . v[c*S + j]
//   delta[t,g,k] = sum_j P_j dp_j                  (= dout[t,g] . O_k, O_k the chunk-k output)
//   dweights[t,h,k] = sum_g delta[t,g,k]           (0 for invalid slots, as is delta)
//   dS_j         = w[t,h,k] * P_j * (dp_j - delta[t,g,k])
//   dq[t,g]      = scale * sum_k sum_j dS_j k[c*S + j]
// delta feeds hsa_attn_bwd_kv. One work-group per (b, t, h).
__kernel void hsa_attn_bwd_q(__global const float* q, __global const float* k, __global const float* v,
                             __global const int* indices, __global const float* weights,
                             __global const float* dout, __global const float* lse,
                             __global float* dq, __global float* dweights, __global float* delta,
                             const int B, const int L, const int HQ, const int H, const int K,
                             const float scale) {
    __local float qs[G * D];
    __local float dos[G * D];
    __local float tile[HSA_BS * HSA_LD];
    __local float p[G * S];
    __local float dp[G * S];
    __local float rowLse[G];
    __local float rowDelta[G];

    const int item = get_group_id(0);          // (b*L + t)*H + h; the grid has exactly B*L*H groups
    const int lid = get_local_id(0);
    const int h = item % H, bt = item / H, t = bt % L, b = bt / L;
    const int Lkv = (L / S) * S, stride = H * D;
    const int nvalid = min(K, t / S);
    const int qbase = (bt * HQ + h * G) * D;
    const int lseBase = (bt * HQ + h * G) * K;

    hsa_load_flat(qs, q + qbase, G * D);
    hsa_load_flat(dos, dout + qbase, G * D);
    for (int i = lid; i < G * K; i += WG) if (i % K >= nvalid) delta[lseBase + i] = 0.0f;

    float acc[HSA_ACC_Q];
    for (int r = 0; r < HSA_ACC_Q; r++) acc[r] = 0.0f;

    for (int slot = 0; slot < nvalid; slot++) {
        const int c = indices[item * K + slot];
        const float w = weights[item * K + slot];
        const size_t chunkOff = ((size_t) (b * Lkv + c * S) * H + h) * D;
        // rowLse/rowDelta of the previous slot were last read before the barriers inside
        // hsa_chunk_scores, and are next read after the barrier that follows it.
        hsa_chunk_scores(p, qs, tile, k + chunkOff, stride, scale);
        hsa_chunk_scores(dp, dos, tile, v + chunkOff, stride, 1.0f);
        for (int g = lid; g < G; g += WG) rowLse[g] = lse[lseBase + g * K + slot];
        barrier(CLK_LOCAL_MEM_FENCE);
        for (int i = lid; i < G * S; i += WG) p[i] = exp(p[i] - rowLse[i / S]);
        barrier(CLK_LOCAL_MEM_FENCE);
        for (int g = lid; g < G; g += WG) {
            float s = 0.0f;
            for (int j = 0; j < S; j++) s = fma(p[g * S + j], dp[g * S + j], s);
            rowDelta[g] = s;
            delta[lseBase + g * K + slot] = s;
        }
        barrier(CLK_LOCAL_MEM_FENCE);
        for (int i = lid; i < G * S; i += WG) p[i] = w * p[i] * (dp[i] - rowDelta[i / S]);   // dS
        for (int j0 = 0; j0 < S; j0 += HSA_BS) {
            barrier(CLK_LOCAL_MEM_FENCE);
            hsa_load_rows(tile, k + chunkOff + (size_t) j0 * stride, HSA_BS, stride);
            barrier(CLK_LOCAL_MEM_FENCE);
            for (int r = 0; r < HSA_ACC_Q; r++) {
                const int i = lid + r * WG;
                if (i < G * D) {
                    const int g = i / D, d = i % D;
                    float s = 0.0f;
                    for (int j = 0; j < HSA_BS; j++) s = fma(p[g * S + j0 + j], tile[j * HSA_LD + d], s);
                    acc[r] += s;
                }
            }
        }
    }
    for (int r = 0; r < HSA_ACC_Q; r++) {
        const int i = lid + r * WG;
        if (i < G * D) dq[qbase + i] = scale * acc[r];
    }
    // dweights from this group's own delta writes, after the slot loop: a global fence makes them
    // visible inside the group. (Summing rowDelta in an `if (lid == 0)` block inside the slot loop
    // was silently dropped by PoCL 3.1 when the tile loops ran more than once; oclgrind was right.)
    barrier(CLK_GLOBAL_MEM_FENCE);
    for (int slot = lid; slot < K; slot += WG) {
        float s = 0.0f;
        if (slot < nvalid) for (int g = 0; g < G; g++) s += delta[lseBase + g * K + slot];
        dweights[item * K + slot] = s;
    }
}

// Backward, per chunk: dk and dv through the inverted selection index. For chunk c of batch b,
// KV head h, over the entries e = t*K + slot that selected it (CSR: entries[chunkStart[bh*(C+1)+c]
// .. chunkStart[bh*(C+1)+c+1]), bh = b*H + h), for each query head g of h:
//   P_j  = exp(scale * q[t,g] . k[c*S+j] - lse[t,g,slot]),   wP_j = w[t,h,slot] * P_j
//   dS_j = wP_j * (dout[t,g] . v[c*S+j] - delta[t,g,slot])
//   dv[c*S+j] = sum_entries sum_g wP_j dout[t,g]
//   dk[c*S+j] = scale * sum_entries sum_g dS_j q[t,g]
// One work-group per (bh, c, block of BR rows); entries in list order, so the sums are
// deterministic and each dk/dv element has exactly one writer (no atomics). Rows of chunks no
// token selected get 0.
__kernel void hsa_attn_bwd_kv(__global const float* q, __global const float* k, __global const float* v,
                              __global const float* weights, __global const float* dout,
                              __global const float* lse, __global const float* delta,
                              __global const int* chunkStart, __global const int* entries,
                              __global float* dk, __global float* dv,
                              const int B, const int L, const int HQ, const int H, const int K,
                              const float scale) {
    __local float ks[HSA_BR * HSA_LD];
    __local float vs[HSA_BR * HSA_LD];
    __local float qs[G * D];
    __local float dos[G * D];
    __local float wp[G * HSA_BR];
    __local float ds[G * HSA_BR];

    const int C = L / S, Lkv = C * S, stride = H * D;
    const int blocks = S / HSA_BR;
    // ((b*H + h)*C + c)*blocks + rb. With C = 0 the grid still has one group, which does nothing;
    // it runs through with empty loops instead of returning early: these kernels avoid early
    // returns before barriers, after a PoCL 3.1 crash (heap corruption) with such a version,
    // although a return uniform over the group is legal OpenCL.
    const int group = get_group_id(0);
    const bool live = group < B * H * C * blocks;
    const int lid = get_local_id(0);
    const int rb = live ? group % blocks : 0, bhc = live ? group / blocks : 0;
    const int c = live ? bhc % C : 0, bh = live ? bhc / C : 0;
    const int b = bh / H, h = bh % H;
    const size_t rowsOff = ((size_t) (b * Lkv + c * S + rb * HSA_BR) * H + h) * D;

    if (live) {
        hsa_load_rows(ks, k + rowsOff, HSA_BR, stride);
        hsa_load_rows(vs, v + rowsOff, HSA_BR, stride);
    }

    float accK[HSA_ACC_KV], accV[HSA_ACC_KV];
    for (int r = 0; r < HSA_ACC_KV; r++) { accK[r] = 0.0f; accV[r] = 0.0f; }

    const int first = live ? chunkStart[bh * (C + 1) + c] : 0, last = live ? chunkStart[bh * (C + 1) + c + 1] : 0;
    for (int e = first; e < last; e++) {
        const int entry = entries[e];
        const int t = entry / K, slot = entry % K;
        const int bt = b * L + t;
        const int tokBase = (bt * HQ + h * G) * D;
        const int lseBase = (bt * HQ + h * G) * K + slot;
        const float w = weights[(bt * H + h) * K + slot];
        barrier(CLK_LOCAL_MEM_FENCE);          // previous entry done with qs, dos, wp, ds
        hsa_load_flat(qs, q + tokBase, G * D);
        hsa_load_flat(dos, dout + tokBase, G * D);
        barrier(CLK_LOCAL_MEM_FENCE);
        for (int i = lid; i < G * HSA_BR; i += WG) {
            const int g = i / HSA_BR, j = i % HSA_BR;
            const float pj = exp(scale * hsa_dot(qs + g * D, ks + j * HSA_LD) - lse[lseBase + g * K]);
            const float dpj = hsa_dot(dos + g * D, vs + j * HSA_LD);
            wp[i] = w * pj;
            ds[i] = w * pj * (dpj - delta[lseBase + g * K]);
        }
        barrier(CLK_LOCAL_MEM_FENCE);
        for (int r = 0; r < HSA_ACC_KV; r++) {
            const int i = lid + r * WG;
            if (i < HSA_BR * D) {
                const int j = i / D, d = i % D;
                float sk = 0.0f, sv = 0.0f;
                for (int g = 0; g < G; g++) {
                    sv = fma(wp[g * HSA_BR + j], dos[g * D + d], sv);
                    sk = fma(ds[g * HSA_BR + j], qs[g * D + d], sk);
                }
                accV[r] += sv;
                accK[r] += sk;
            }
        }
    }
    for (int r = 0; r < HSA_ACC_KV; r++) {
        const int i = lid + r * WG;
        if (live && i < HSA_BR * D) {
            const int j = i / D, d = i % D;
            const size_t at = rowsOff + (size_t) j * stride + d;
            dk[at] = scale * accK[r];
            dv[at] = accV[r];
        }
    }
}
