#include "common.h"

// HSA per-chunk attention: forward and backward (org.hsajava.kernels.HsaAttention).
//
// Layouts (row-major): q, dout, o, dq [B, L, HQ, D]; k, v, dk, dv [B, Lkv, H, D] with
// Lkv = C*S, C = L/S (floor); indices, weights, dweights [B, L, H, K];
// lse, delta [B, L, HQ, K] (per token, query head, slot; slot innermost).
// Query head g of KV head h is h*G + g. Slot k of token t is valid iff k < min(K, t/S).
//
// Compile-time constants (-D, chosen by HsaAttention.java): D head dim, S chunk size, G = HQ/H
// query heads per KV head, WG work-group size (1-D groups), and per kernel
//   HSA_T     chunk rows per K/V tile in local memory (fwd, bwd_q; a power of two dividing S)
//   HSA_BR    chunk rows owned by one bwd_kv work-group
//   HSA_E     CSR entries (tokens) bwd_kv handles per step
//   HSA_NSEG  work-items sharing one score row in the softmax/delta passes (segments of S/NSEG)
//   HSA_MAXM  register rows of the largest micro-tile below (the host computes it from the above)
// The host sizes HSA_T/HSA_BR so that a work-group's local memory stays within ~44 KiB.
//
// Work split: one work-group per (batch, token, KV head) in the forward and in bwd_q, holding
// the G query heads of that KV head as the rows of its small matrices (G x D and G x S); tokens
// select different chunks, so one token per group is the unit that shares a K/V tile. bwd_kv: one
// work-group per (batch, KV head, chunk, block of BR chunk rows), walking the inverted selection
// index (CSR) of its chunk.
//
// The small matrix products all go through two register-blocked micro-kernels (hsa_nt,
// hsa_nn_acc): each work-item owns up to HSA_MAXM rows x 4 columns of the result and reads its
// operands from local memory as float4. A single dot product per work-item read straight from
// local memory (the first version) was bound by local-memory loads, one load per FMA; here it is
// (MA + 4) float4 loads per 16*MA FMAs.

#ifndef WG
#define WG 64
#endif

// Local row strides, in floats. Rows of D (or S, or G rounded up to 4) values are padded by 4
// floats: rows stay 16-byte aligned for float4 access, and the 8 work-items of a quarter-warp
// reading the same column of 8 consecutive rows hit 8 different groups of 4 banks.
#define HSA_LDD (D + 4)
#define HSA_LDS (S + 4)
// bwd_kv stages HSA_E entries (tokens) per step: their E*G query rows side by side.
#ifndef HSA_E
#define HSA_E 1
#endif
#define HSA_GE (HSA_E * G)
#define HSA_GE4 (CEIL_DIV(HSA_GE, 4) * 4)
#define HSA_LDG (HSA_GE4 + 4)
#define HSA_SEGL (S / HSA_NSEG)

// Copies `rows` rows of D floats, `stride` floats apart in global memory, into a local tile of row
// stride HSA_LDD, as float4s, with the whole work-group (consecutive work-items, consecutive
// float4s of a row: coalesced global reads, conflict-free local writes).
static inline void hsa_load_rows(__local float4* dst, __global const float* src, const int rows, const int stride) {
    for (int i = get_local_id(0); i < rows * (D / 4); i += WG) {
        const int r = i / (D / 4), c = i % (D / 4);
        dst[r * (HSA_LDD / 4) + c] = vload4(c, src + (size_t) r * stride);
    }
}

// Staging through cp.async (-DHSA_ASYNC=1, the fp32 kernels' opt-in variant for NVIDIA GPUs of compute
// capability 8.0 or more; on other devices only emulated, for tests): the forward and bwd_q keep two
// K/V tile buffers (HSA_KVBUF) and start copying the next tile of their stream before computing on the
// current one; bwd_kv does the same with the rows of its next CSR step. The copy's latency hides behind
// the products without holding the rows in registers. The arithmetic is that of the synchronous
// kernels, except in bwd_q's whole-chunk form, which keeps the scores in registers and sums delta
// by warp shuffles (tc_group_sum), in another order.
#if defined(HSA_ASYNC) && HSA_ASYNC
#include "tc.h"
#define HSA_KVBUF 2

// The copies, commits and waits go through a per-work-item queue object. Natively it is empty and the
// calls are the PTX instructions (tc.h). With -DHSA_ASYNC_DEFER=1 (tests, with TC_EMULATE) the queue
// holds each copy until the latest moment PTX allows, a wait that leaves fewer groups pending than are
// newer than the copy's group: a missing commit or wait then reads stale local memory. The plain
// TC_EMULATE copies at once instead, the earliest moment: a copy issued into a buffer that is still
// being read then overwrites it. Tests run both.
#ifdef HSA_ASYNC_DEFER
#define HSA_QMAX 96
typedef struct {
    __local uint* dst[HSA_QMAX];
    __global const uint* src[HSA_QMAX];
    int words[HSA_QMAX];
    int group[HSA_QMAX];
    int n;      // copies held
    int open;   // number of the group being filled (= groups committed so far)
} hsa_queue;
static inline void hsa_q_init(hsa_queue* q) { q->n = 0; q->open = 0; }
static inline void hsa_q_copy(__local uint* dst, __global const uint* src, const int words) {
    for (int w = 0; w < words; w++) dst[w] = src[w];
}
static inline void hsa_cp(hsa_queue* q, __local uint* dst, __global const uint* src, const int words) {
    if (q->n == HSA_QMAX) { hsa_q_copy(dst, src, words); return; }   // full: at once (the tests' shapes stay below)
    q->dst[q->n] = dst;
    q->src[q->n] = src;
    q->words[q->n] = words;
    q->group[q->n] = q->open;
    q->n++;
}
static inline void hsa_cp16(hsa_queue* q, __local uint4* dst, __global const uint4* src) { hsa_cp(q, (__local uint*) dst, (__global const uint*) src, 4); }
static inline void hsa_cp4(hsa_queue* q, __local uint* dst, __global const uint* src) { hsa_cp(q, dst, src, 1); }
static inline void hsa_commit(hsa_queue* q) { q->open++; }
// cp.async.wait_group `pending`: every committed group but the `pending` newest is complete.
static inline void hsa_wait(hsa_queue* q, const int pending) {
    int kept = 0;
    for (int i = 0; i < q->n; i++) {
        if (q->group[i] < q->open - pending) {
            hsa_q_copy(q->dst[i], q->src[i], q->words[i]);
        } else {
            q->dst[kept] = q->dst[i];
            q->src[kept] = q->src[i];
            q->words[kept] = q->words[i];
            q->group[kept] = q->group[i];
            kept++;
        }
    }
    q->n = kept;
}
#else
typedef int hsa_queue;
static inline void hsa_q_init(hsa_queue* q) { *q = 0; }
static inline void hsa_cp16(hsa_queue* q, __local uint4* dst, __global const uint4* src) { tc_cp_async16(dst, src); }
static inline void hsa_cp4(hsa_queue* q, __local uint* dst, __global const uint* src) { tc_cp_async4(dst, src); }
static inline void hsa_commit(hsa_queue* q) { tc_cp_async_commit(); }
#define hsa_wait(q, pending) tc_cp_async_wait(pending)
#endif

// Starts copying what hsa_load_rows copies; complete after hsa_wait and a barrier.
static inline void hsa_copy_rows_async(hsa_queue* hq, __local float4* dst, __global const float* src, const int rows, const int stride) {
    for (int i = get_local_id(0); i < rows * (D / 4); i += WG) {
        const int r = i / (D / 4), c = i % (D / 4);
        hsa_cp16(hq, (__local uint4*) (dst + r * (HSA_LDD / 4) + c), (__global const uint4*) (src + (size_t) r * stride) + c);
    }
}
#else
#define HSA_KVBUF 1
// Synchronous stand-ins, so that bwd_kv's staging helper serves both forms.
typedef int hsa_queue;
static inline void hsa_q_init(hsa_queue* q) { *q = 0; }
static inline void hsa_cp4(hsa_queue* q, __local uint* dst, __global const uint* src) { *dst = *src; }
#define hsa_copy_rows_async(hq, dst, src, rows, stride) hsa_load_rows(dst, src, rows, stride)
#endif
// bwd_q with one double-buffered tile per chunk keeps dp in registers (see the kernel)
#if HSA_KVBUF == 2 && HSA_T == S
#define HSA_BWDQ_REGDP 1
#else
#define HSA_BWDQ_REGDP 0
#endif

#if HSA_KVBUF == 2
#if WG % 32 != 0
#error "the cp.async variant needs whole warps: WG a multiple of 32"
#endif
// Local scratch of the lane reductions (tc_group_sum): none natively, the emulated shuffles' otherwise (tc.h)
#define HSA_LANES_SCRATCH TC_SCRATCH(WG / 32)
#else
#define HSA_LANES_SCRATCH 1
#endif

// Micro-kernel "NT": acc[m][n] = sum_{d<D} A[a][d] * Bt[b][d] for this work-item's rows
// a = ra + RG*m (m < MA, a < NA) and columns b = cb + CG*n (n < 4), where CG = NB/4 column groups,
// RG = WG/CG row groups, cb = lid % CG, ra = lid / CG (hsa_nt_row / hsa_nt_col below give the
// same mapping). A (NA rows) and Bt (NB rows, NB a multiple of 4) are local, row stride HSA_LDD.
// Neighbouring work-items read neighbouring rows of Bt (conflict-free thanks to the padding) and
// share the rows of A (broadcast). Columns are strided rather than contiguous so that the Bt reads
// of a quarter-warp land in distinct banks.
static inline void hsa_nt(float (*acc)[4], __local const float4* A, __local const float4* Bt, const int NA, const int NB) {
#pragma unroll
    for (int m = 0; m < HSA_MAXM; m++)
#pragma unroll
        for (int n = 0; n < 4; n++) acc[m][n] = 0.0f;
    const int CG = NB / 4, RG = WG / CG, MA = CEIL_DIV(NA, RG);
    const int lid = get_local_id(0), cb = lid % CG, ra = lid / CG;
#pragma unroll
    for (int d4 = 0; d4 < D / 4; d4++) {
        float4 b[4];
#pragma unroll
        for (int n = 0; n < 4; n++) b[n] = Bt[(cb + CG * n) * (HSA_LDD / 4) + d4];
#pragma unroll
        for (int m = 0; m < HSA_MAXM; m++) {
            const int a = ra + RG * m;
            if (m < MA && (NA % RG == 0 || a < NA)) {
                const float4 x = A[a * (HSA_LDD / 4) + d4];
#pragma unroll
                for (int n = 0; n < 4; n++) acc[m][n] = fma(x.w, b[n].w, fma(x.z, b[n].z, fma(x.y, b[n].y, fma(x.x, b[n].x, acc[m][n]))));
            }
        }
    }
}

// Row a and column b of element acc[m][n] of hsa_nt (NB as given there).
#define HSA_NT_ROW(NB, m) (get_local_id(0) / ((NB) / 4) + (WG / ((NB) / 4)) * (m))
#define HSA_NT_COL(NB, n) (get_local_id(0) % ((NB) / 4) + ((NB) / 4) * (n))
#define HSA_NT_MA(NA, NB) CEIL_DIV(NA, WG / ((NB) / 4))

// Micro-kernel "NN": acc[m] += sum_{j<NJ} P[a][j] * V[j][4c .. 4c+3] for this work-item's rows
// a = ra + RG*m (m < MA, a < NA), CG = D/4 column groups of 4, RG = WG/CG, c = lid % CG,
// ra = lid / CG. P is local with row stride ldp4 float4s (NJ a multiple of 4), V local with row
// stride HSA_LDD. Consecutive work-items read consecutive float4s of a V row; P rows broadcast.
static inline void hsa_nn_acc(float4* acc, __local const float4* P, const int ldp4, __local const float4* V, const int NA, const int NJ) {
    const int CG = D / 4, RG = WG / CG, MA = CEIL_DIV(NA, RG);
    const int lid = get_local_id(0), c = lid % CG, ra = lid / CG;
#pragma unroll 2
    for (int j4 = 0; j4 < NJ / 4; j4++) {
        const float4 v0 = V[(4 * j4) * (HSA_LDD / 4) + c], v1 = V[(4 * j4 + 1) * (HSA_LDD / 4) + c];
        const float4 v2 = V[(4 * j4 + 2) * (HSA_LDD / 4) + c], v3 = V[(4 * j4 + 3) * (HSA_LDD / 4) + c];
#pragma unroll
        for (int m = 0; m < HSA_MAXM; m++) {
            const int a = ra + RG * m;
            if (m < MA && (NA % RG == 0 || a < NA)) {
                const float4 p = P[a * ldp4 + j4];
                acc[m] = fma((float4) p.w, v3, fma((float4) p.z, v2, fma((float4) p.y, v1, fma((float4) p.x, v0, acc[m]))));
            }
        }
    }
}

#define HSA_NN_ROW(m) (get_local_id(0) / (D / 4) + (WG / (D / 4)) * (m))
#define HSA_NN_COL4() (get_local_id(0) % (D / 4))
#define HSA_NN_MA(NA) CEIL_DIV(NA, WG / (D / 4))

// Scores of the G rows of qs against `rows` chunk rows in kv, times alpha, into p[g][j0 + j]
// (row stride HSA_LDS). The caller orders these writes before any read of p with a barrier.
static inline void hsa_scores(__local float* p, const int j0, __local const float4* qs, __local const float4* kv, const float alpha) {
    float acc[HSA_MAXM][4];
    hsa_nt(acc, qs, kv, G, HSA_T);
#pragma unroll
    for (int m = 0; m < HSA_MAXM; m++) {
        const int g = HSA_NT_ROW(HSA_T, m);
        if (m < HSA_NT_MA(G, HSA_T) && g < G)
#pragma unroll
            for (int n = 0; n < 4; n++) p[g * HSA_LDS + j0 + HSA_NT_COL(HSA_T, n)] = alpha * acc[m][n];
    }
}

// Softmax of the G score rows p[g][0..S) in place, as
//   p_j := w * exp(p_j - lse_g),  lse_g = mm + log(sum_j exp(p_j - mm) + n exp(-mm)),
// mm = max_j p_j (max(.., 0) when n > 0, which keeps exp(-mm) finite); writes lse_g to
// lseOut[g * K]. Each row is split into HSA_NSEG segments of HSA_SEGL values, one work-item per
// segment; partial maxima and sums go through `part` (2 * G * HSA_NSEG floats) in a fixed order
// (deterministic). Starts after a barrier that completed p; the caller puts a barrier between the
// final writes of p and their reads.
static inline void hsa_softmax(__local float* p, __local float* part, const int n, const float w,
                               __global float* lseOut, const int K) {
    const int lid = get_local_id(0);
    for (int i = lid; i < G * HSA_NSEG; i += WG) {
        __local const float4* row = (__local const float4*) (p + (i / HSA_NSEG) * HSA_LDS + (i % HSA_NSEG) * HSA_SEGL);
        float4 m4 = row[0];
        for (int u = 1; u < HSA_SEGL / 4; u++) m4 = fmax(m4, row[u]);
        part[i] = fmax(fmax(m4.x, m4.y), fmax(m4.z, m4.w));
    }
    barrier(CLK_LOCAL_MEM_FENCE);
    for (int i = lid; i < G * HSA_NSEG; i += WG) {
        const int g = i / HSA_NSEG;
        float m = part[g * HSA_NSEG];
        for (int s = 1; s < HSA_NSEG; s++) m = fmax(m, part[g * HSA_NSEG + s]);
        const float mm = n > 0 ? fmax(m, 0.0f) : m;
        __local float4* row = (__local float4*) (p + g * HSA_LDS + (i % HSA_NSEG) * HSA_SEGL);
        float sum = 0.0f;
        for (int u = 0; u < HSA_SEGL / 4; u++) {
            const float4 e = exp(row[u] - mm);
            row[u] = e;
            sum += (e.x + e.y) + (e.z + e.w);
        }
        part[G * HSA_NSEG + i] = sum;
    }
    barrier(CLK_LOCAL_MEM_FENCE);
    for (int i = lid; i < G * HSA_NSEG; i += WG) {
        const int g = i / HSA_NSEG;
        float m = part[g * HSA_NSEG], z = part[G * HSA_NSEG + g * HSA_NSEG];
        for (int s = 1; s < HSA_NSEG; s++) {
            m = fmax(m, part[g * HSA_NSEG + s]);
            z += part[G * HSA_NSEG + g * HSA_NSEG + s];
        }
        const float mm = n > 0 ? fmax(m, 0.0f) : m;
        if (n > 0) z += (float) n * exp(-mm);
        if (i % HSA_NSEG == 0) lseOut[g * K] = mm + log(z);
        const float f = w / z;
        __local float4* row = (__local float4*) (p + g * HSA_LDS + (i % HSA_NSEG) * HSA_SEGL);
        for (int u = 0; u < HSA_SEGL / 4; u++) row[u] *= f;
    }
}

// Forward. For token t, query head g (of KV head h), valid slot k selecting chunk c = idx[t,h,k]:
//   s_j   = scale * q[t,g] . k[c*S + j]                                (0 <= j < S)
//   lse   = log(sum_j exp(s_j) + n)                     -> lse[t,g,k]   (0 for invalid slots)
//   o[t,g] = sum_k w[t,h,k] * sum_j exp(s_j - lse) * v[c*S + j]
// Tokens with no valid slot get o = 0. One work-group per (b, t, h). Per slot: K tiles -> scores
// (G x S, local), softmax in place, V tiles -> o accumulated in registers (G x D micro-tiles).
//
// The body takes the geometry of the memory apart from the queries': row i of q is the token at
// position t = t0 + i, and k/v hold C chunks per sequence (Lkv = C*S rows), so slot k is valid
// iff k < min(K, min(C, t/S)) (the selection kernels' rule). Training calls it through
// hsa_attn_fwd with t0 = 0, C = L/S; streaming evaluation and decoding through hsa_attn_fwd_at
// with a window of positions deep into a long context and a memory sized for all of it.
static inline void hsa_attn_fwd_body(__global const float* q, __global const float* k, __global const float* v,
                                     __global const int* indices, __global const float* weights,
                                     __global float* o, __global float* lse,
                                     const int L, const int HQ, const int H, const int K,
                                     const int n, const float scale, const int t0, const int C,
                                     __local float4* qs, __local float4* kv, __local float4* p4, __local float* part) {
    __local float* p = (__local float*) p4;
    const int item = get_group_id(0);          // (b*L + i)*H + h; the grid has exactly B*L*H groups
    const int lid = get_local_id(0);
    const int h = item % H, bt = item / H, t = t0 + bt % L, b = bt / L;
    const int Lkv = C * S, stride = H * D;
    const int nvalid = min(K, min(C, t / S));
    const int qbase = (bt * HQ + h * G) * D;   // G rows of D, contiguous
    const int lseBase = (bt * HQ + h * G) * K; // lse[t, h*G + g, slot] = lseBase + g*K + slot

    hsa_load_rows(qs, q + qbase, G, D);
    for (int i = lid; i < G * K; i += WG) if (i % K >= nvalid) lse[lseBase + i] = 0.0f;

    float4 acc[HSA_MAXM];
#pragma unroll
    for (int m = 0; m < HSA_MAXM; m++) acc[m] = (float4) 0.0f;

#if HSA_KVBUF == 2
    // The tile stream: per valid slot, S/HSA_T tiles of K rows, then as many of V rows; tile i goes
    // to buffer i % 2, and tile i+1 is on its way while tile i is used.
    const int nT = S / HSA_T, total = nvalid * 2 * nT;
    hsa_queue hqs;
    hsa_queue* hq = &hqs;
    hsa_q_init(hq);
#define HSA_FWD_TILE(i) ((((i) % (2 * nT)) < nT ? k : v) \
        + ((size_t) b * Lkv + (size_t) indices[item * K + (i) / (2 * nT)] * S + (size_t) ((i) % nT) * HSA_T) * stride + h * D)
    if (total > 0) hsa_copy_rows_async(hq, kv, HSA_FWD_TILE(0), HSA_T, stride);
    hsa_commit(hq);                            // tile 0 in a group of its own: the loop waits for all but the newest
    for (int i = 0; i < total; i++) {
        const int slot = i / (2 * nT), ph = i % (2 * nT), j0 = (ph % nT) * HSA_T;
        if (i + 1 < total) hsa_copy_rows_async(hq, kv + ((i + 1) % 2) * (HSA_T * HSA_LDD / 4), HSA_FWD_TILE(i + 1), HSA_T, stride);
        hsa_commit(hq);
        hsa_wait(hq, 1);                       // this work-item's part of tile i has landed
        barrier(CLK_LOCAL_MEM_FENCE);          // ... and every other work-item's
        __local const float4* tile = kv + (i % 2) * (HSA_T * HSA_LDD / 4);
        if (ph < nT) {
            hsa_scores(p, j0, qs, tile, scale);
            if (ph == nT - 1) {
                barrier(CLK_LOCAL_MEM_FENCE);
                hsa_softmax(p, part, n, weights[item * K + slot], lse + lseBase + slot, K);   // p = w * P
            }
        } else {
            hsa_nn_acc(acc, p4 + j0 / 4, HSA_LDS / 4, tile, G, HSA_T);
        }
        barrier(CLK_LOCAL_MEM_FENCE);          // tile i's buffer (tile i+2 goes there) and p are free
    }
#undef HSA_FWD_TILE
#else
    for (int slot = 0; slot < nvalid; slot++) {
        const int c = indices[item * K + slot];
        const float w = weights[item * K + slot];
        const size_t chunkOff = ((size_t) b * Lkv + (size_t) c * S) * stride;
        for (int j0 = 0; j0 < S; j0 += HSA_T) {
            barrier(CLK_LOCAL_MEM_FENCE);      // kv and p free (previous tile / slot done)
            hsa_load_rows(kv, k + chunkOff + (size_t) j0 * stride + h * D, HSA_T, stride);
            barrier(CLK_LOCAL_MEM_FENCE);
            hsa_scores(p, j0, qs, kv, scale);
        }
        barrier(CLK_LOCAL_MEM_FENCE);
        hsa_softmax(p, part, n, w, lse + lseBase + slot, K);   // p = w * P
        for (int j0 = 0; j0 < S; j0 += HSA_T) {
            barrier(CLK_LOCAL_MEM_FENCE);
            hsa_load_rows(kv, v + chunkOff + (size_t) j0 * stride + h * D, HSA_T, stride);
            barrier(CLK_LOCAL_MEM_FENCE);
            hsa_nn_acc(acc, p4 + j0 / 4, HSA_LDS / 4, kv, G, HSA_T);
        }
    }
#endif
#pragma unroll
    for (int m = 0; m < HSA_MAXM; m++) {
        const int g = HSA_NN_ROW(m);
        if (m < HSA_NN_MA(G) && g < G) vstore4(acc[m], HSA_NN_COL4(), o + qbase + g * D);
    }
}

// ---------------------------------------------------------------- forward on tensor cores (NVIDIA)
//
// With -DHSA_TC=1 (HsaAttention's variant of the forward for NVIDIA GPUs of compute capability 8.0
// or more, unless tensor cores are switched off: org.hsajava.compute.opencl.TensorCores) the forward runs
// its two products, S = Q K^T and O += P V, on TF32 tensor cores: mma.sync m16n8k8 (TF32 inputs
// rounded with cvt.rna, fp32 accumulation) through inline PTX. Everything else (softmax, lse,
// weights, sums over slots and warps) stays fp32. TF32 keeps 10 mantissa bits, so results differ
// from the fp32 path by about 1e-4 to 1e-3 of their largest magnitude (SelfCheck's tolerance).
//
// Work split (the portable path's grid: one group of WG = 32*NW work-items per (b, t, h); the host
// picks NW = 1, see HsaAttention.TC_WG): warp w takes slots w, w+NW, ...; per slot one warp computes, for 16
// query heads at a time (the rows of one m16 tile; G > 16 loops over tiles, rows past G are zero),
// the 16 x S scores, the softmax in registers and the 16 x D product with V, with no local memory
// and no barrier; the NW partial outputs are summed through local memory at the end (fixed order).
//
// Fragments (PTX ISA, m16n8k8 .tf32; lane = 4*gid + t4): A (16x8): a0 (gid, t4), a1 (gid+8, t4),
// a2 (gid, t4+4), a3 (gid+8, t4+4); B (8x8): b0 (k=t4, n=gid), b1 (k=t4+4, n=gid); C (16x8):
// c0 (gid, 2t4), c1 (gid, 2t4+1), c2 (gid+8, 2t4), c3 (gid+8, 2t4+1). The reduction index of a
// product may be permuted freely (the same way in both operands), and so may the columns of B
// (then the output columns follow), which lets every lane load whole float4s straight from global
// memory into its fragments:
//   Q K^T, reduction over the head dim: k-step ks, column c (< 4) stands for dim
//     16*(ks/2) + 4c + 2*(ks%2) and column c+4 for the dim after it; so lane t4 holds dims
//     16h + 4*t4 + (0..3), h < D/16, of its Q rows and of K row 8*nt + gid (coalesced: a quad reads
//     64 contiguous bytes of a row);
//   P V, reduction over the chunk rows: k-step nt, column c stands for chunk row 8nt + 2c and column
//     c+4 for 8nt + 2c + 1, which are exactly the score columns the lane holds in its C fragment of
//     n-tile nt, so P goes from accumulator to A operand without a shuffle; output n-tile nn, column
//     x stands for dim ATTN_TC_PI(nn, x) (attn_tc.h), so lane gid loads VW contiguous floats of V per chunk of
//     8*VW dims (a warp instruction reads 128 contiguous bytes of each of 4 rows).
// The products per warp and slot are (S/8)*(D/8) mma for the scores and as many for P V.
//
// HSA_TC_EMULATE replaces the three PTX instructions (cvt.rna.tf32, mma.sync, shfl.sync.bfly) by
// portable code that exchanges the lanes' fragments through local memory with barriers (every
// work-item runs the same number of them: the slot loop is uniform over the group, a warp without a
// slot in the last round computes with weight 0). Tests run it on PoCL: it checks the fragment
// bookkeeping of this path on machines without an NVIDIA GPU (HsaAttention.forwardTcEmulated).
#if defined(HSA_TC) && HSA_TC && (defined(HSA_NVIDIA) || defined(HSA_TC_EMULATE))
#define HSA_TC_ON 1
#if WG % 32 != 0
#error "the tensor-core path needs whole warps: WG a multiple of 32"
#endif
#define HSA_NW (WG / 32)
#ifdef HSA_TC_EMULATE
#define TC_EMULATE 1
#endif
#include "tc.h"
#define ATTN_TC_D D
#include "attn_tc.h"
#define HSA_TC_SCRATCH TC_SCRATCH(HSA_NW)

// Fragments of the rows r0 = g0 + gid and r1 = g0 + gid + 8 (zero past G) of a [G][D] block x (row
// stride D), as attn_tc_a_rows.
static inline __attribute__((always_inline)) void hsa_tc_rows_a(uint (*fa)[4], __global const float* x, const int g0) {
    const int gid = get_local_id(0) % 32 / 4, r0 = g0 + gid, r1 = g0 + gid + 8;
    attn_tc_a_rows(fa, r0 < G ? x + r0 * D : 0, r1 < G ? x + r1 * D : 0, true);
}

// acc[nt] = A . rows^T over D for the S chunk rows at `rows` (row stride `stride` floats): score
// layout, n-tile nt = chunk rows 8nt .. 8nt+7.
static inline __attribute__((always_inline)) void hsa_tc_scores(float (*acc)[4], const uint (*fa)[4], __global const float* rows, const int stride,
                                                                __local uint* tcs) {
    const int gid = get_local_id(0) % 32 / 4;
#pragma unroll
    for (int nt = 0; nt < S / 8; nt++) attn_tc_nt(acc[nt], fa, rows + (size_t) (8 * nt + gid) * stride, tcs);
}

// acc[nn] += p . rows: p in score layout, rows the S chunk rows at `rows`; k-step nt = chunk rows
// 8nt .. 8nt+7 (attn_tc_pv_step).
static inline __attribute__((always_inline)) void hsa_tc_pv(float (*acc)[4], const float (*p)[4], __global const float* rows, const int stride,
                                                            __local uint* tcs) {
    const int t4 = get_local_id(0) % 4;
#pragma unroll
    for (int nt = 0; nt < S / 8; nt++) {
        __global const float* b0 = rows + (size_t) (8 * nt + 2 * t4) * stride;
        attn_tc_pv_step(acc, p[nt], b0, b0 + stride, tcs);
    }
}

// out[g0 + r] = alpha * sum over warps (in warp order) of their acc (output layout of hsa_tc_pv),
// rows r < 16 with g0 + r < G, through red ([NW][16][D] local). Every work-item calls it.
static inline __attribute__((always_inline)) void hsa_tc_store(float (*acc)[4], __local float* red, __global float* out, const int g0, const float alpha) {
    const int lid = get_local_id(0), warp = lid / 32, lane = lid % 32, gid = lane / 4, t4 = lane % 4;
    barrier(CLK_LOCAL_MEM_FENCE);              // red free: the previous tile's sums are done
    __local float* mine = red + warp * 16 * D;
#pragma unroll
    for (int nn = 0; nn < D / 8; nn++) {
        mine[gid * D + ATTN_TC_PI(nn, 2 * t4)] = acc[nn][0];
        mine[gid * D + ATTN_TC_PI(nn, 2 * t4 + 1)] = acc[nn][1];
        mine[(gid + 8) * D + ATTN_TC_PI(nn, 2 * t4)] = acc[nn][2];
        mine[(gid + 8) * D + ATTN_TC_PI(nn, 2 * t4 + 1)] = acc[nn][3];
    }
    barrier(CLK_LOCAL_MEM_FENCE);
    __local const float4* red4 = (__local const float4*) red;
    for (int i = lid; i < 16 * (D / 4); i += WG) {
        const int r = i / (D / 4), c4 = i % (D / 4);
        if (g0 + r < G) {
            float4 s = red4[r * (D / 4) + c4];
            for (int u = 1; u < HSA_NW; u++) s += red4[(u * 16 + r) * (D / 4) + c4];
            *(__global float4*) (out + (g0 + r) * D + 4 * c4) = alpha * s;
        }
    }
}

// The forward (formulas, geometry and arguments as hsa_attn_fwd_body) on tensor cores. red: local
// [NW][16][D] partial outputs; tcs: scratch of the emulation.
static inline __attribute__((always_inline)) void hsa_attn_fwd_tc(__global const float* q, __global const float* k, __global const float* v,
                                   __global const int* indices, __global const float* weights,
                                   __global float* o, __global float* lse,
                                   const int L, const int HQ, const int H, const int K,
                                   const int n, const float scale, const int t0, const int C,
                                   __local float* red, __local uint* tcs) {
    const int item = get_group_id(0);          // (b*L + i)*H + h; the grid has exactly B*L*H groups
    const int lid = get_local_id(0), warp = lid / 32, lane = lid % 32, gid = lane / 4, t4 = lane % 4;
    const int h = item % H, bt = item / H, t = t0 + bt % L, b = bt / L;
    const int Lkv = C * S, stride = H * D;
    const int nvalid = min(K, min(C, t / S));
    const int qbase = (bt * HQ + h * G) * D;
    const int lseBase = (bt * HQ + h * G) * K;
    for (int i = lid; i < G * K; i += WG) if (i % K >= nvalid) lse[lseBase + i] = 0.0f;

    for (int g0 = 0; g0 < G; g0 += 16) {
        const int r0 = g0 + gid, r1 = g0 + gid + 8;   // this lane's two query heads (rows >= G: zero)
        uint qa[D / 8][4];
        hsa_tc_rows_a(qa, q + qbase, g0);
        float oacc[D / 8][4];
#pragma unroll
        for (int nn = 0; nn < D / 8; nn++)
#pragma unroll
            for (int i = 0; i < 4; i++) oacc[nn][i] = 0.0f;

        for (int s0 = 0; s0 < nvalid; s0 += HSA_NW) {
            const int slot = s0 + warp;
            const bool live = slot < nvalid;
            const int c = live ? indices[item * K + slot] : 0;   // s0 < nvalid: chunk 0 exists
            const float w = live ? weights[item * K + slot] : 0.0f;
            const size_t chunkOff = ((size_t) b * Lkv + (size_t) c * S) * stride + h * D;
            float sacc[S / 8][4];
            hsa_tc_scores(sacc, qa, k + chunkOff, stride, tcs);
            // softmax of rows gid (c0, c1) and gid+8 (c2, c3); a row lives in the 4 lanes of a quad
            float m0 = -INFINITY, m1 = -INFINITY;
#pragma unroll
            for (int nt = 0; nt < S / 8; nt++) {
#pragma unroll
                for (int i = 0; i < 4; i++) sacc[nt][i] *= scale;
                m0 = fmax(m0, fmax(sacc[nt][0], sacc[nt][1]));
                m1 = fmax(m1, fmax(sacc[nt][2], sacc[nt][3]));
            }
            m0 = tc_quad_max(m0, tcs);
            m1 = tc_quad_max(m1, tcs);
            if (n > 0) {
                m0 = fmax(m0, 0.0f);
                m1 = fmax(m1, 0.0f);
            }
            float z0 = 0.0f, z1 = 0.0f;
#pragma unroll
            for (int nt = 0; nt < S / 8; nt++) {
                sacc[nt][0] = exp(sacc[nt][0] - m0);
                sacc[nt][1] = exp(sacc[nt][1] - m0);
                sacc[nt][2] = exp(sacc[nt][2] - m1);
                sacc[nt][3] = exp(sacc[nt][3] - m1);
                z0 += sacc[nt][0] + sacc[nt][1];
                z1 += sacc[nt][2] + sacc[nt][3];
            }
            z0 = tc_quad_sum(z0, tcs);
            z1 = tc_quad_sum(z1, tcs);
            if (n > 0) {
                z0 += (float) n * exp(-m0);
                z1 += (float) n * exp(-m1);
            }
            if (live && t4 == 0) {
                if (r0 < G) lse[lseBase + r0 * K + slot] = m0 + log(z0);
                if (r1 < G) lse[lseBase + r1 * K + slot] = m1 + log(z1);
            }
            const float f0 = w / z0, f1 = w / z1;
#pragma unroll
            for (int nt = 0; nt < S / 8; nt++) {
                sacc[nt][0] *= f0;
                sacc[nt][1] *= f0;
                sacc[nt][2] *= f1;
                sacc[nt][3] *= f1;
            }
            hsa_tc_pv(oacc, sacc, v + chunkOff, stride, tcs);   // O += (w P) V
        }
        hsa_tc_store(oacc, red, o + qbase, g0, 1.0f);
    }
}

// Backward dq / dweights / delta (formulas as hsa_attn_bwd_q) on tensor cores (HsaAttention uses it
// only with -Dhsa.tc.bwdq=on until it has been checked on an NVIDIA GPU), the forward's work
// split: per slot a warp computes scores Q K^T and dp = dO V^T (16 x S each, in registers),
// P = exp(scale s - lse), delta = sum_j P dp (quad sums), dS = w P (dp - delta), then dq += dS K;
// dq summed over warps, times scale. dweights as the portable kernel: from the group's own delta
// writes after a global fence, summed over g in order.
static inline __attribute__((always_inline)) void hsa_attn_bwd_q_tc(__global const float* q, __global const float* k, __global const float* v,
                                   __global const int* indices, __global const float* weights,
                                   __global const float* dout, __global const float* lse,
                                   __global float* dq, __global float* dweights, __global float* delta,
                                   const int L, const int HQ, const int H, const int K, const float scale,
                                   __local float* red, __local uint* tcs) {
    const int item = get_group_id(0);          // (b*L + t)*H + h; the grid has exactly B*L*H groups
    const int lid = get_local_id(0), warp = lid / 32, lane = lid % 32, gid = lane / 4, t4 = lane % 4;
    const int h = item % H, bt = item / H, t = bt % L, b = bt / L;
    const int Lkv = (L / S) * S, stride = H * D;
    const int nvalid = min(K, t / S);
    const int qbase = (bt * HQ + h * G) * D;
    const int lseBase = (bt * HQ + h * G) * K;
    for (int i = lid; i < G * K; i += WG) if (i % K >= nvalid) delta[lseBase + i] = 0.0f;

    for (int g0 = 0; g0 < G; g0 += 16) {
        const int r0 = g0 + gid, r1 = g0 + gid + 8;
        uint qa[D / 8][4], da[D / 8][4];
        hsa_tc_rows_a(qa, q + qbase, g0);
        hsa_tc_rows_a(da, dout + qbase, g0);
        float acc[D / 8][4];
#pragma unroll
        for (int nn = 0; nn < D / 8; nn++)
#pragma unroll
            for (int i = 0; i < 4; i++) acc[nn][i] = 0.0f;

        for (int s0 = 0; s0 < nvalid; s0 += HSA_NW) {
            const int slot = s0 + warp;
            const bool live = slot < nvalid;
            const int c = live ? indices[item * K + slot] : 0;
            const float w = live ? weights[item * K + slot] : 0.0f;
            const float l0 = live && r0 < G ? lse[lseBase + r0 * K + slot] : 0.0f;
            const float l1 = live && r1 < G ? lse[lseBase + r1 * K + slot] : 0.0f;
            const size_t chunkOff = ((size_t) b * Lkv + (size_t) c * S) * stride + h * D;
            float sacc[S / 8][4], dpacc[S / 8][4];
            hsa_tc_scores(dpacc, da, v + chunkOff, stride, tcs);   // dp = dO . v_j
            hsa_tc_scores(sacc, qa, k + chunkOff, stride, tcs);    // s = q . k_j
            float d0 = 0.0f, d1 = 0.0f;
#pragma unroll
            for (int nt = 0; nt < S / 8; nt++) {
                sacc[nt][0] = exp(scale * sacc[nt][0] - l0);
                sacc[nt][1] = exp(scale * sacc[nt][1] - l0);
                sacc[nt][2] = exp(scale * sacc[nt][2] - l1);
                sacc[nt][3] = exp(scale * sacc[nt][3] - l1);
                d0 += sacc[nt][0] * dpacc[nt][0] + sacc[nt][1] * dpacc[nt][1];
                d1 += sacc[nt][2] * dpacc[nt][2] + sacc[nt][3] * dpacc[nt][3];
            }
            d0 = tc_quad_sum(d0, tcs);
            d1 = tc_quad_sum(d1, tcs);
            if (live && t4 == 0) {
                if (r0 < G) delta[lseBase + r0 * K + slot] = d0;
                if (r1 < G) delta[lseBase + r1 * K + slot] = d1;
            }
#pragma unroll
            for (int nt = 0; nt < S / 8; nt++) {   // dS = w P (dp - delta), 0 without a slot (w = 0)
                sacc[nt][0] = w * sacc[nt][0] * (dpacc[nt][0] - d0);
                sacc[nt][1] = w * sacc[nt][1] * (dpacc[nt][1] - d0);
                sacc[nt][2] = w * sacc[nt][2] * (dpacc[nt][2] - d1);
                sacc[nt][3] = w * sacc[nt][3] * (dpacc[nt][3] - d1);
            }
            hsa_tc_pv(acc, sacc, k + chunkOff, stride, tcs);      // dq += dS K
        }
        hsa_tc_store(acc, red, dq + qbase, g0, scale);
    }
    barrier(CLK_GLOBAL_MEM_FENCE);             // this group's delta writes, visible to the group
    for (int slot = lid; slot < K; slot += WG) {
        float s = 0.0f;
        if (slot < nvalid) for (int g = 0; g < G; g++) s += delta[lseBase + g * K + slot];
        dweights[item * K + slot] = s;
    }
}

// Backward dk / dv (formulas as hsa_attn_bwd_kv) on tensor cores, compiled in with -DHSA_TC_KV=1
// (HsaAttention's tensor-core variant of bwd_kv). One group per (chunk c, b, h), chunk-major as the
// portable kernel, of HSA_KV_SPLIT * S/16 warps: warp w owns chunk rows 16 rb .. 16 rb + 15, rb =
// w % (S/16), and accumulates their dk and dv (16 x D each) in registers. The columns of its
// products are the query rows that selected the chunk, the CSR entries' G query heads end to end:
// column f is query head f % G of entry first + f / G. Per n-tile of 8 columns:
//   s = K q^T, dp = V dout^T                       (16 x 8 each, A = the warp's K or V rows)
//   wP = w exp(scale s - lse),  dS = wP (dp - delta)   elementwise in the accumulator layout
//   dv += wP dout,  dk += dS q                     (the n-tile is the reduction: attn_tc_pv_step)
// No softmax reductions are needed: lse and delta come from the forward and bwd_q. Columns past the
// end repeat the last column's rows with weight 0: exact zeros.
//
// Latency, not arithmetic, bounds this loop (a chain of dependent loads and mma per step), and the
// earliest chunks have the longest lists (about K*S*ln(C/(c+1)) entries), which at short L make the
// critical path. Two knobs: HSA_KV_NT n-tiles per step (independent chains side by side), and
// HSA_KV_SPLIT warps per row block, which take every HSA_KV_SPLIT-th step each and sum their dk, dv
// through local memory at the end (in warp order: deterministic). Every warp runs the same number of
// steps (columns rounded up, padding has weight 0), so the emulation's barriers line up. The warps of
// a group read the same query rows, which the L1 cache shares. The A fragments of the warp's K and V
// rows stay in registers (HSA_KV_HOLD, default for D <= 64) or are reloaded per step (D = 128, where
// holding them as well as dk and dv would exceed the 255 registers of a thread).
#ifndef HSA_KV_HOLD
#define HSA_KV_HOLD (D <= 64)
#endif
#ifndef HSA_KV_NT
#define HSA_KV_NT 1
#endif
#ifndef HSA_KV_SPLIT
#define HSA_KV_SPLIT 1
#endif
#define HSA_KV_RB (S / 16)

// Offsets of column f of the chunk's entries (see above): its query row in q/dout, its lse/delta
// element and its weight.
typedef struct { int row; int stat; int w; } hsa_kv_col;

static inline __attribute__((always_inline)) hsa_kv_col hsa_kv_column(__global const int* entries, const int first, const int f,
                                                                       const int b, const int h, const int L, const int HQ, const int H, const int K) {
    const int entry = entries[first + f / G], t = entry / K, slot = entry % K, bt = b * L + t, row = bt * HQ + h * G + f % G;
    const hsa_kv_col c = {row * D, row * K + slot, (bt * H + h) * K + slot};
    return c;
}

// The accumulator tile acc (16 x D, output layout of attn_tc_pv_step) of row block rb, as [S][D] in
// `tile` (local), or added to it / read from it: mode 0 store, 1 add.
static inline __attribute__((always_inline)) void hsa_kv_tile(float (*acc)[4], __local float* tile, const int rb, const int mode) {
    const int lane = get_local_id(0) % 32, gid = lane / 4, t4 = lane % 4;
    __local float* r0 = tile + (16 * rb + gid) * D;
    __local float* r1 = r0 + 8 * D;
#pragma unroll
    for (int nn = 0; nn < D / 8; nn++) {
        const int d0 = ATTN_TC_PI(nn, 2 * t4), d1 = ATTN_TC_PI(nn, 2 * t4 + 1);
        if (mode == 0) {
            r0[d0] = acc[nn][0]; r0[d1] = acc[nn][1]; r1[d0] = acc[nn][2]; r1[d1] = acc[nn][3];
        } else {
            acc[nn][0] += r0[d0]; acc[nn][1] += r0[d1]; acc[nn][2] += r1[d0]; acc[nn][3] += r1[d1];
        }
    }
}

// Sums the dk (or dv) partials of the HSA_KV_SPLIT warps of each row block into warp part 0's acc,
// in part order, through red ([S][D] local). Every work-item calls it.
static inline __attribute__((always_inline)) void hsa_kv_reduce(float (*acc)[4], __local float* red, const int rb, const int part) {
    for (int u = 1; u < HSA_KV_SPLIT; u++) {
        barrier(CLK_LOCAL_MEM_FENCE);
        if (part == u) hsa_kv_tile(acc, red, rb, 0);
        barrier(CLK_LOCAL_MEM_FENCE);
        if (part == 0) hsa_kv_tile(acc, red, rb, 1);
    }
}

static inline __attribute__((always_inline)) void hsa_attn_bwd_kv_tc(__global const float* q, __global const float* k, __global const float* v,
                                   __global const float* weights, __global const float* dout,
                                   __global const float* lse, __global const float* delta,
                                   __global const int* chunkStart, __global const int* entries,
                                   __global float* dk, __global float* dv,
                                   const int B, const int L, const int HQ, const int H, const int K,
                                   const float scale, __local float* red, __local uint* tcs) {
    const int C = L / S, Lkv = C * S, stride = H * D;
    const int group = get_group_id(0);         // c*B*H + b*H + h; with C = 0 one idle group
    const bool live = group < B * H * C;
    const int lid = get_local_id(0), warp = lid / 32, lane = lid % 32, gid = lane / 4, t4 = lane % 4;
    const int rb = warp % HSA_KV_RB, part = warp / HSA_KV_RB;
    const int bh = live ? group % (B * H) : 0, c = live ? group / (B * H) : 0;
    const int b = bh / H, h = bh % H;
    const size_t row0 = ((size_t) (b * Lkv + c * S + 16 * rb + gid) * H + h) * D;   // this lane's rows: row0, row0 + 8*stride
    const size_t row1 = row0 + (size_t) 8 * stride;

    uint ka[D / 8][4], va[D / 8][4];
#if HSA_KV_HOLD
    if (live) {
        attn_tc_a(ka, k + row0, k + row1);
        attn_tc_a(va, v + row0, v + row1);
    }
#endif
    float accK[D / 8][4], accV[D / 8][4];
#pragma unroll
    for (int nn = 0; nn < D / 8; nn++)
#pragma unroll
        for (int i = 0; i < 4; i++) { accK[nn][i] = 0.0f; accV[nn][i] = 0.0f; }

    const int first = live ? chunkStart[bh * (C + 1) + c] : 0, last = live ? chunkStart[bh * (C + 1) + c + 1] : 0;
    const int ncol = (last - first) * G, step = 8 * HSA_KV_NT;
    const int nstep = (ncol + step * HSA_KV_SPLIT - 1) / (step * HSA_KV_SPLIT) * HSA_KV_SPLIT;   // the same for every part
    for (int f0 = part * step; f0 < nstep * step; f0 += HSA_KV_SPLIT * step) {
#if !HSA_KV_HOLD
        attn_tc_a(ka, k + row0, k + row1);
        attn_tc_a(va, v + row0, v + row1);
#endif
        float s[HSA_KV_NT][4], dp[HSA_KV_NT][4];
#pragma unroll
        for (int u = 0; u < HSA_KV_NT; u++) {
            const int rs = hsa_kv_column(entries, first, min(f0 + 8 * u + gid, ncol - 1), b, h, L, HQ, H, K).row;
            attn_tc_nt(s[u], ka, q + rs, tcs);
            attn_tc_nt(dp[u], va, dout + rs, tcs);
        }
#pragma unroll
        for (int u = 0; u < HSA_KV_NT; u++) {
            // this lane's accumulator columns: fa = f0 + 8u + 2*t4 (elements 0, 2) and fa + 1 (1, 3)
            const int fa = f0 + 8 * u + 2 * t4, fb = fa + 1;
            const hsa_kv_col ca = hsa_kv_column(entries, first, min(fa, ncol - 1), b, h, L, HQ, H, K);
            const hsa_kv_col cb = hsa_kv_column(entries, first, min(fb, ncol - 1), b, h, L, HQ, H, K);
            const float wa = fa < ncol ? weights[ca.w] : 0.0f, wb = fb < ncol ? weights[cb.w] : 0.0f;
            const float la = lse[ca.stat], lb = lse[cb.stat], da = delta[ca.stat], db = delta[cb.stat];
            float wp[4], ds[4];
            wp[0] = wa * exp(scale * s[u][0] - la);
            wp[1] = wb * exp(scale * s[u][1] - lb);
            wp[2] = wa * exp(scale * s[u][2] - la);
            wp[3] = wb * exp(scale * s[u][3] - lb);
            ds[0] = wp[0] * (dp[u][0] - da);
            ds[1] = wp[1] * (dp[u][1] - db);
            ds[2] = wp[2] * (dp[u][2] - da);
            ds[3] = wp[3] * (dp[u][3] - db);
            attn_tc_pv_step(accV, wp, dout + ca.row, dout + cb.row, tcs);   // dv += wP dout
            attn_tc_pv_step(accK, ds, q + ca.row, q + cb.row, tcs);         // dk += dS q
        }
    }
    hsa_kv_reduce(accK, red, rb, part);
    hsa_kv_reduce(accV, red, rb, part);
    if (live && part == 0) {
#pragma unroll
        for (int nn = 0; nn < D / 8; nn++) {
            const int d0 = ATTN_TC_PI(nn, 2 * t4), d1 = ATTN_TC_PI(nn, 2 * t4 + 1);
            dk[row0 + d0] = scale * accK[nn][0];
            dk[row0 + d1] = scale * accK[nn][1];
            dk[row1 + d0] = scale * accK[nn][2];
            dk[row1 + d1] = scale * accK[nn][3];
            dv[row0 + d0] = accV[nn][0];
            dv[row0 + d1] = accV[nn][1];
            dv[row1 + d0] = accV[nn][2];
            dv[row1 + d1] = accV[nn][3];
        }
    }
}
#endif

// Training's forward: queries and memory of the same sequences, positions from 0, C = L/S.
__kernel __attribute__((reqd_work_group_size(WG, 1, 1)))
void hsa_attn_fwd(__global const float* q, __global const float* k, __global const float* v,
                  __global const int* indices, __global const float* weights,
                  __global float* o, __global float* lse,
                  const int B, const int L, const int HQ, const int H, const int K,
                  const int n, const float scale) {
#ifdef HSA_TC_ON
    __local float4 red[HSA_NW * 16 * D / 4];
    __local uint tcs[HSA_TC_SCRATCH];
    hsa_attn_fwd_tc(q, k, v, indices, weights, o, lse, L, HQ, H, K, n, scale, 0, L / S, (__local float*) red, tcs);
#else
    __local float4 qs[G * HSA_LDD / 4];
    __local float4 kv[HSA_KVBUF * HSA_T * HSA_LDD / 4];
    __local float4 p4[G * HSA_LDS / 4];
    __local float part[2 * G * HSA_NSEG];
    hsa_attn_fwd_body(q, k, v, indices, weights, o, lse, L, HQ, H, K, n, scale, 0, L / S, qs, kv, p4, part);
#endif
}

// The forward for L query rows at positions t0 .. t0+L-1 against a memory of C chunks per sequence.
__kernel __attribute__((reqd_work_group_size(WG, 1, 1)))
void hsa_attn_fwd_at(__global const float* q, __global const float* k, __global const float* v,
                     __global const int* indices, __global const float* weights,
                     __global float* o, __global float* lse,
                     const int B, const int L, const int HQ, const int H, const int K,
                     const int n, const float scale, const int t0, const int C) {
#ifdef HSA_TC_ON
    __local float4 red[HSA_NW * 16 * D / 4];
    __local uint tcs[HSA_TC_SCRATCH];
    hsa_attn_fwd_tc(q, k, v, indices, weights, o, lse, L, HQ, H, K, n, scale, t0, C, (__local float*) red, tcs);
#else
    __local float4 qs[G * HSA_LDD / 4];
    __local float4 kv[HSA_KVBUF * HSA_T * HSA_LDD / 4];
    __local float4 p4[G * HSA_LDS / 4];
    __local float part[2 * G * HSA_NSEG];
    hsa_attn_fwd_body(q, k, v, indices, weights, o, lse, L, HQ, H, K, n, scale, t0, C, qs, kv, p4, part);
#endif
}

// bwd_q's middle step for one slot, on the G x S blocks p (scores s) and dp (dout . v rows), after a
// barrier that completed both: P = exp(s - lse) and delta = sum_j P_j dp_j per row, written to
// delta[lseBase + g*K], then dS = w P (dp - delta) in place of p. Row segments as hsa_softmax; the
// caller puts a barrier between this and the reads of dS.
static inline void hsa_bwd_q_ds(__local float* p, __local const float* dp, __local float* part, __global const float* lse,
                                __global float* delta, const int lseBase, const int K, const float w) {
    const int lid = get_local_id(0);
    // P = exp(s - lse) in place; partial sums of P * dp per row segment
    for (int i = lid; i < G * HSA_NSEG; i += WG) {
        const int g = i / HSA_NSEG, off = g * HSA_LDS + (i % HSA_NSEG) * HSA_SEGL;
        const float l = lse[lseBase + g * K];
        __local float4* pr = (__local float4*) (p + off);
        __local const float4* dr = (__local const float4*) (dp + off);
        float s = 0.0f;
        for (int u = 0; u < HSA_SEGL / 4; u++) {
            const float4 e = exp(pr[u] - l), pd = e * dr[u];
            pr[u] = e;
            s += (pd.x + pd.y) + (pd.z + pd.w);
        }
        part[i] = s;
    }
    barrier(CLK_LOCAL_MEM_FENCE);
    // delta, and dS = w P (dp - delta) in place of P
    for (int i = lid; i < G * HSA_NSEG; i += WG) {
        const int g = i / HSA_NSEG, off = g * HSA_LDS + (i % HSA_NSEG) * HSA_SEGL;
        float dl = part[g * HSA_NSEG];
        for (int s = 1; s < HSA_NSEG; s++) dl += part[g * HSA_NSEG + s];
        if (i % HSA_NSEG == 0) delta[lseBase + g * K] = dl;
        __local float4* pr = (__local float4*) (p + off);
        __local const float4* dr = (__local const float4*) (dp + off);
        for (int u = 0; u < HSA_SEGL / 4; u++) pr[u] = w * pr[u] * (dr[u] - dl);
    }
}

// Backward, per token: dq, dweights and delta. For token t, KV head h, valid slot k (chunk c),
// query head g, with P_j = exp(s_j - lse[t,g,k]) recomputed from the saved lse:
//   dp_j         = dout[t,g] . v[c*S + j]
//   delta[t,g,k] = sum_j P_j dp_j                  (= dout[t,g] . O_k, O_k the chunk-k output)
//   dweights[t,h,k] = sum_g delta[t,g,k]           (0 for invalid slots, as is delta)
//   dS_j         = w[t,h,k] * P_j * (dp_j - delta[t,g,k])
//   dq[t,g]      = scale * sum_k sum_j dS_j k[c*S + j]
// delta feeds hsa_attn_bwd_kv. One work-group per (b, t, h). Per slot: V tiles -> dp, K tiles ->
// scores (K last, so that with a single tile, HSA_T == S, it stays in local memory for dq).
__kernel __attribute__((reqd_work_group_size(WG, 1, 1)))
void hsa_attn_bwd_q(__global const float* q, __global const float* k, __global const float* v,
                    __global const int* indices, __global const float* weights,
                    __global const float* dout, __global const float* lse,
                    __global float* dq, __global float* dweights, __global float* delta,
                    const int B, const int L, const int HQ, const int H, const int K,
                    const float scale) {
#ifdef HSA_TC_ON
    __local float4 red[HSA_NW * 16 * D / 4];
    __local uint tcs[HSA_TC_SCRATCH];
    hsa_attn_bwd_q_tc(q, k, v, indices, weights, dout, lse, dq, dweights, delta, L, HQ, H, K, scale, (__local float*) red, tcs);
#else
    __local float4 qs[G * HSA_LDD / 4];
    __local float4 dos[G * HSA_LDD / 4];
    __local float4 kv[HSA_KVBUF * HSA_T * HSA_LDD / 4];
    __local float4 p4[G * HSA_LDS / 4];
    __local float4 dp4[HSA_BWDQ_REGDP ? 1 : G * HSA_LDS / 4];
    __local float part[HSA_BWDQ_REGDP ? HSA_LANES_SCRATCH : G * HSA_NSEG];   // the delta pass's partials, or the lanes' scratch
    __local float* p = (__local float*) p4;
    __local float* dp = (__local float*) dp4;

    const int item = get_group_id(0);          // (b*L + t)*H + h; the grid has exactly B*L*H groups
    const int lid = get_local_id(0);
    const int h = item % H, bt = item / H, t = bt % L, b = bt / L;
    const int Lkv = (L / S) * S, stride = H * D;
    const int nvalid = min(K, t / S);
    const int qbase = (bt * HQ + h * G) * D;
    const int lseBase = (bt * HQ + h * G) * K;

    hsa_load_rows(qs, q + qbase, G, D);
    hsa_load_rows(dos, dout + qbase, G, D);
    for (int i = lid; i < G * K; i += WG) if (i % K >= nvalid) delta[lseBase + i] = 0.0f;

    float4 acc[HSA_MAXM];
#pragma unroll
    for (int m = 0; m < HSA_MAXM; m++) acc[m] = (float4) 0.0f;

#if HSA_BWDQ_REGDP
    // One tile per chunk (HSA_T == S, double-buffered): per valid slot the V rows, whose products
    // dp = dout . v stay in registers in the NT layout, then the K rows: scores in the same layout, P,
    // delta (row sums by lane reductions, no barrier) and dS into p, and dq while the K rows are at hand.
    // Without a dp block in local memory the two whole-chunk buffers fit in 48 KiB.
#define HSA_BWDQ_TILE(i) (((i) % 2 == 0 ? v : k) + ((size_t) (b * Lkv + indices[item * K + (i) / 2] * S) * H + h) * D)
    const int total = 2 * nvalid;
    hsa_queue hqs;
    hsa_queue* hq = &hqs;
    hsa_q_init(hq);
    float dpr[HSA_MAXM][4], lr[HSA_MAXM];
    const bool first = lid % (S / 4) == 0;
    if (total > 0) hsa_copy_rows_async(hq, kv, HSA_BWDQ_TILE(0), S, stride);
    hsa_commit(hq);
    for (int i = 0; i < total; i++) {
        const int slot = i / 2;
        if (i + 1 < total) hsa_copy_rows_async(hq, kv + ((i + 1) % 2) * (S * HSA_LDD / 4), HSA_BWDQ_TILE(i + 1), S, stride);
        hsa_commit(hq);
        hsa_wait(hq, 1);
        barrier(CLK_LOCAL_MEM_FENCE);
        __local const float4* tile = kv + (i % 2) * (S * HSA_LDD / 4);
        if (i % 2 == 0) {
            hsa_nt(dpr, dos, tile, G, S);
            // the slot's lse, read here so that its latency hides behind the next step
#pragma unroll
            for (int m = 0; m < HSA_MAXM; m++) {
                const int g = HSA_NT_ROW(S, m);
                lr[m] = m < HSA_NT_MA(G, S) && g < G ? lse[lseBase + g * K + slot] : 0.0f;
            }
        } else {
            float sc[HSA_MAXM][4];
            hsa_nt(sc, qs, tile, G, S);
            const float w = weights[item * K + slot];
            // P = exp(s - lse); delta = sum_j P_j dp_j over the row's work-items (lane reductions, every m in
            // every work-item: rows past G hold zeros); dS = w P (dp - delta) into p
#pragma unroll
            for (int m = 0; m < HSA_MAXM; m++) {
                float s = 0.0f;
#pragma unroll
                for (int n = 0; n < 4; n++) {
                    sc[m][n] = exp(scale * sc[m][n] - lr[m]);
                    s += sc[m][n] * dpr[m][n];
                }
                // the NT micro-kernel leaves row g across the S/4 work-items lid / (S/4) (S/4 divides 32)
                const float dl = tc_group_sum(s, S / 4, (__local uint*) part);
                const int g = HSA_NT_ROW(S, m);
                if (m < HSA_NT_MA(G, S) && g < G) {
                    if (first) delta[lseBase + g * K + slot] = dl;
#pragma unroll
                    for (int n = 0; n < 4; n++) p[g * HSA_LDS + HSA_NT_COL(S, n)] = w * sc[m][n] * (dpr[m][n] - dl);
                }
            }
            barrier(CLK_LOCAL_MEM_FENCE);
            hsa_nn_acc(acc, p4, HSA_LDS / 4, tile, G, S);
        }
        barrier(CLK_LOCAL_MEM_FENCE);          // tile i's buffer (tile i+2 goes there), p and part are free
    }
#undef HSA_BWDQ_TILE
#elif HSA_KVBUF == 2
    // The tile stream (see the forward): per valid slot, S/HSA_T tiles of V rows (dp), as many of K
    // rows (scores; with a single tile, dq too, while it is at hand), and with several tiles the K
    // tiles once more (dq).
    const int nT = S / HSA_T, perSlot = (nT == 1 ? 2 : 3) * nT, total = nvalid * perSlot;
    hsa_queue hqs;
    hsa_queue* hq = &hqs;
    hsa_q_init(hq);
#define HSA_BWDQ_TILE(i) ((((i) % perSlot) < nT ? v : k) \
        + ((size_t) (b * Lkv + indices[item * K + (i) / perSlot] * S + ((i) % nT) * HSA_T) * H + h) * D)
    if (total > 0) hsa_copy_rows_async(hq, kv, HSA_BWDQ_TILE(0), HSA_T, stride);
    hsa_commit(hq);
    for (int i = 0; i < total; i++) {
        const int slot = i / perSlot, ph = i % perSlot, j0 = (ph % nT) * HSA_T;
        if (i + 1 < total) hsa_copy_rows_async(hq, kv + ((i + 1) % 2) * (HSA_T * HSA_LDD / 4), HSA_BWDQ_TILE(i + 1), HSA_T, stride);
        hsa_commit(hq);
        hsa_wait(hq, 1);
        barrier(CLK_LOCAL_MEM_FENCE);
        __local const float4* tile = kv + (i % 2) * (HSA_T * HSA_LDD / 4);
        if (ph < nT) {
            hsa_scores(dp, j0, dos, tile, 1.0f);
        } else if (ph < 2 * nT) {
            hsa_scores(p, j0, qs, tile, scale);
            if (ph == 2 * nT - 1) {
                barrier(CLK_LOCAL_MEM_FENCE);
                hsa_bwd_q_ds(p, dp, part, lse, delta, lseBase + slot, K, weights[item * K + slot]);
                if (nT == 1) {
                    barrier(CLK_LOCAL_MEM_FENCE);
                    hsa_nn_acc(acc, p4, HSA_LDS / 4, tile, G, S);
                }
            }
        } else {
            hsa_nn_acc(acc, p4 + j0 / 4, HSA_LDS / 4, tile, G, HSA_T);
        }
        barrier(CLK_LOCAL_MEM_FENCE);
    }
#undef HSA_BWDQ_TILE
#else
    for (int slot = 0; slot < nvalid; slot++) {
        const int c = indices[item * K + slot];
        const float w = weights[item * K + slot];
        const size_t chunkOff = ((size_t) (b * Lkv + c * S) * H + h) * D;
        for (int j0 = 0; j0 < S; j0 += HSA_T) {
            barrier(CLK_LOCAL_MEM_FENCE);      // kv, p, dp, part free (previous tile / slot done)
            hsa_load_rows(kv, v + chunkOff + (size_t) j0 * stride, HSA_T, stride);
            barrier(CLK_LOCAL_MEM_FENCE);
            hsa_scores(dp, j0, dos, kv, 1.0f);
        }
        for (int j0 = 0; j0 < S; j0 += HSA_T) {
            barrier(CLK_LOCAL_MEM_FENCE);
            hsa_load_rows(kv, k + chunkOff + (size_t) j0 * stride, HSA_T, stride);
            barrier(CLK_LOCAL_MEM_FENCE);
            hsa_scores(p, j0, qs, kv, scale);
        }
        barrier(CLK_LOCAL_MEM_FENCE);
        hsa_bwd_q_ds(p, dp, part, lse, delta, lseBase + slot, K, w);
#if HSA_T < S
        for (int j0 = 0; j0 < S; j0 += HSA_T) {
            barrier(CLK_LOCAL_MEM_FENCE);
            hsa_load_rows(kv, k + chunkOff + (size_t) j0 * stride, HSA_T, stride);
            barrier(CLK_LOCAL_MEM_FENCE);
            hsa_nn_acc(acc, p4 + j0 / 4, HSA_LDS / 4, kv, G, HSA_T);
        }
#else
        barrier(CLK_LOCAL_MEM_FENCE);          // dS complete; kv still holds the whole K chunk
        hsa_nn_acc(acc, p4, HSA_LDS / 4, kv, G, S);
#endif
    }
#endif
#pragma unroll
    for (int m = 0; m < HSA_MAXM; m++) {
        const int g = HSA_NN_ROW(m);
        if (m < HSA_NN_MA(G) && g < G) vstore4(scale * acc[m], HSA_NN_COL4(), dq + qbase + g * D);
    }
    // dweights from this group's own delta writes, after the slot loop: a global fence makes them
    // visible inside the group. (Summing delta in an `if (lid == 0)` block inside the slot loop
    // was silently dropped by PoCL 3.1 when the tile loops ran more than once; oclgrind was right.)
    barrier(CLK_GLOBAL_MEM_FENCE);
    for (int slot = lid; slot < K; slot += WG) {
        float s = 0.0f;
        if (slot < nvalid) for (int g = 0; g < G; g++) s += delta[lseBase + g * K + slot];
        dweights[item * K + slot] = s;
    }
#endif
}

// What hsa_kv_stage stages: the query rows with their lse and delta and the entries' weights, the
// output-gradient rows, or both
#define HSA_KV_Q 1
#define HSA_KV_DO 2
#define HSA_KV_ALL 3

// bwd_kv's staging of one step: the rows, statistics and weights of the entries e0 .. e0+HSA_E-1 of
// the list ending at `last` (zeros past it) into one buffer set, the `parts` of them (HSA_KV_Q,
// HSA_KV_DO). With cp.async (HSA_KVBUF == 2) the copies are complete after hsa_wait and a barrier,
// otherwise after a barrier. Arguments as the kernel's.
static inline void hsa_kv_stage(hsa_queue* hq, __local float4* qs, __local float4* dos, __local float* stat, __local float* wl,
                                      __global const float* q, __global const float* dout, __global const float* lse,
                                      __global const float* delta, __global const float* weights, __global const int* entries,
                                      const int e0, const int last, const int b, const int h, const int L, const int HQ,
                                      const int H, const int K, const int parts) {
    const int lid = get_local_id(0);
    for (int ee = 0; ee < HSA_E; ee++) {       // uniform branches: e is the same for the whole group
        __local float4* qrows = qs + ee * G * (HSA_LDD / 4);
        __local float4* drows = dos + ee * G * (HSA_LDD / 4);
        if (e0 + ee < last) {
            const int entry = entries[e0 + ee];
            const int t = entry / K, slot = entry % K;
            const int bt = b * L + t;
            const int tokBase = (bt * HQ + h * G) * D;
            const int lseBase = (bt * HQ + h * G) * K + slot;
            if (parts & HSA_KV_Q) {
                hsa_copy_rows_async(hq, qrows, q + tokBase, G, D);
                for (int g = lid; g < G; g += WG) {
                    hsa_cp4(hq, (__local uint*) stat + ee * G + g, (__global const uint*) lse + lseBase + g * K);
                    hsa_cp4(hq, (__local uint*) stat + HSA_GE + ee * G + g, (__global const uint*) delta + lseBase + g * K);
                }
                if (lid == 0) hsa_cp4(hq, (__local uint*) wl + ee, (__global const uint*) weights + (bt * H + h) * K + slot);
            }
            if (parts & HSA_KV_DO) hsa_copy_rows_async(hq, drows, dout + tokBase, G, D);
        } else {
            for (int i = lid; i < G * (D / 4); i += WG) {
                if (parts & HSA_KV_Q) qrows[i / (D / 4) * (HSA_LDD / 4) + i % (D / 4)] = (float4) 0.0f;
                if (parts & HSA_KV_DO) drows[i / (D / 4) * (HSA_LDD / 4) + i % (D / 4)] = (float4) 0.0f;
            }
            if (parts & HSA_KV_Q) {
                for (int g = lid; g < G; g += WG) { stat[ee * G + g] = 0.0f; stat[HSA_GE + ee * G + g] = 0.0f; }
                if (lid == 0) wl[ee] = 0.0f;
            }
        }
    }
}

// bwd_kv's buffer sets of staged rows: two with cp.async (the next step's rows copied while the
// current ones are used), unless HSA_KV_ONESET; one otherwise
#if HSA_KVBUF == 2 && !(defined(HSA_KV_ONESET) && HSA_KV_ONESET)
#define HSA_KV_SETS 2
#else
#define HSA_KV_SETS 1
#endif

// bwd_kv's block wP[j][row] = w P_j = w exp(scale * s_j - lse) (row stride HSA_LDG) from its NT
// micro-tile of scores s_j = q_row . k_j, with the rows' lse in stat[row] and the entries' weights in
// wl (row / G). The tile sc becomes this work-item's wP values, for hsa_kv_ds.
static inline void hsa_kv_wp(float (*sc)[4], __local const float* stat, __local const float* wl, __local float* wp, const float scale) {
#pragma unroll
    for (int m = 0; m < HSA_MAXM; m++) {
        const int r = HSA_NT_ROW(HSA_BR, m);
        if (m < HSA_NT_MA(HSA_GE, HSA_BR) && r < HSA_GE) {
            const float l = stat[r], w = wl[r / G];
#pragma unroll
            for (int n = 0; n < 4; n++) {
                sc[m][n] = w * exp(scale * sc[m][n] - l);
                wp[HSA_NT_COL(HSA_BR, n) * HSA_LDG + r] = sc[m][n];
            }
        }
    }
}

// bwd_kv's block dS[j][row] = wP_j (dp_j - delta) from its NT micro-tile of dp_j = dout_row . v_j (dpv),
// the same work-item's wP values (pw, from hsa_kv_wp) and the rows' delta in stat[HSA_GE + row].
static inline void hsa_kv_ds(float (*dpv)[4], float (*pw)[4], __local const float* stat, __local float* ds) {
#pragma unroll
    for (int m = 0; m < HSA_MAXM; m++) {
        const int r = HSA_NT_ROW(HSA_BR, m);
        if (m < HSA_NT_MA(HSA_GE, HSA_BR) && r < HSA_GE) {
            const float dl = stat[HSA_GE + r];
#pragma unroll
            for (int n = 0; n < 4; n++) ds[HSA_NT_COL(HSA_BR, n) * HSA_LDG + r] = pw[m][n] * (dpv[m][n] - dl);
        }
    }
}

// Backward, per chunk: dk and dv through the inverted selection index. For chunk c of batch b,
// KV head h, over the entries e = t*K + slot that selected it (CSR: entries[chunkStart[bh*(C+1)+c]
// .. chunkStart[bh*(C+1)+c+1]), bh = b*H + h), for each query head g of h:
//   P_j  = exp(scale * q[t,g] . k[c*S+j] - lse[t,g,slot]),   wP_j = w[t,h,slot] * P_j
//   dS_j = wP_j * (dout[t,g] . v[c*S+j] - delta[t,g,slot])
//   dv[c*S+j] = sum_entries sum_g wP_j dout[t,g]
//   dk[c*S+j] = scale * sum_entries sum_g dS_j q[t,g]
// One work-group per (c, bh, block of BR rows); entries in list order, so the sums are
// deterministic and each dk/dv element has exactly one writer (no atomics). Rows of chunks no
// token selected get 0. The group's K/V rows stay in local memory; per step it stages the G query
// and output-gradient rows of HSA_E entries (E*G rows: fewer barriers per entry, and larger
// micro-tiles), computes the BR x E*G blocks wP and dS with the NT micro-kernel (scores and dp in
// registers, same mapping, so the softmax needs no extra pass), and accumulates dk, dv (BR x D) in
// registers with the NN micro-kernel. A missing last entry of a step gets zero rows and weight 0,
// so it adds exact zeros.
// Groups run chunk-major (all (b, h) of chunk 0 first): early chunks are selected by many more
// tokens (about K*S*ln(C/(c+1)) entries), so their long lists start first and the short ones
// fill in behind them.
__kernel __attribute__((reqd_work_group_size(WG, 1, 1)))
void hsa_attn_bwd_kv(__global const float* q, __global const float* k, __global const float* v,
                     __global const float* weights, __global const float* dout,
                     __global const float* lse, __global const float* delta,
                     __global const int* chunkStart, __global const int* entries,
                     __global float* dk, __global float* dv,
                     const int B, const int L, const int HQ, const int H, const int K,
                     const float scale) {
#if defined(HSA_TC_ON) && defined(HSA_TC_KV)
#if WG != 2 * S * HSA_KV_SPLIT
#error "the tensor-core bwd_kv needs HSA_KV_SPLIT warps per 16 chunk rows: WG = 2*S*HSA_KV_SPLIT"
#endif
    __local float4 red[HSA_KV_SPLIT > 1 ? S * D / 4 : 1];
    __local uint tcs[HSA_TC_SCRATCH];
    hsa_attn_bwd_kv_tc(q, k, v, weights, dout, lse, delta, chunkStart, entries, dk, dv, B, L, HQ, H, K, scale, (__local float*) red, tcs);
#else
    __local float4 ks[HSA_BR * HSA_LDD / 4];
    __local float4 vs[HSA_BR * HSA_LDD / 4];
    __local float4 qs[HSA_KV_SETS * HSA_GE4 * HSA_LDD / 4];  // row ee*G + g: query head g of the step's entry ee
    __local float4 dos[HSA_KV_SETS * HSA_GE4 * HSA_LDD / 4]; // rows GE..GE4-1 stay zero (of each set)
    __local float4 wp4[HSA_BR * HSA_LDG / 4];  // wP[j][row], columns GE.. stay zero
    __local float4 ds4[HSA_BR * HSA_LDG / 4];  // dS[j][row]
    __local float stat[HSA_KV_SETS * 2 * HSA_GE]; // lse and delta of each row
    __local float wl[HSA_KV_SETS * HSA_E];       // weight of each entry (0: no entry)

    const int C = L / S, Lkv = C * S, stride = H * D;
    const int blocks = S / HSA_BR;
    // (c*B*H + b*H + h)*blocks + rb. With C = 0 the grid still has one group, which does nothing;
    // it runs through with empty loops instead of returning early: these kernels avoid early
    // returns before barriers, after a PoCL 3.1 crash (heap corruption) with such a version,
    // although a return uniform over the group is legal OpenCL.
    const int group = get_group_id(0);
    const bool live = group < B * H * C * blocks;
    const int lid = get_local_id(0);
    const int rb = live ? group % blocks : 0, cbh = live ? group / blocks : 0;
    const int bh = live ? cbh % (B * H) : 0, c = live ? cbh / (B * H) : 0;
    const int b = bh / H, h = bh % H;
    const size_t rowsOff = ((size_t) (b * Lkv + c * S + rb * HSA_BR) * H + h) * D;

    if (live) {
        hsa_load_rows(ks, k + rowsOff, HSA_BR, stride);
        hsa_load_rows(vs, v + rowsOff, HSA_BR, stride);
    }
#if HSA_GE4 > HSA_GE
    for (int i = lid; i < HSA_KV_SETS * (HSA_GE4 - HSA_GE) * (D / 4); i += WG) {
        const int u = i / ((HSA_GE4 - HSA_GE) * (D / 4)), r = i % ((HSA_GE4 - HSA_GE) * (D / 4));   // buffer set u
        const int at = (u * HSA_GE4 + HSA_GE + r / (D / 4)) * (HSA_LDD / 4) + r % (D / 4);
        qs[at] = (float4) 0.0f;
        dos[at] = (float4) 0.0f;
    }
#endif
    for (int i = lid; i < HSA_BR * HSA_LDG / 4; i += WG) { wp4[i] = (float4) 0.0f; ds4[i] = (float4) 0.0f; }

    float4 accK[HSA_MAXM], accV[HSA_MAXM];
#pragma unroll
    for (int m = 0; m < HSA_MAXM; m++) { accK[m] = (float4) 0.0f; accV[m] = (float4) 0.0f; }

    const int first = live ? chunkStart[bh * (C + 1) + c] : 0, last = live ? chunkStart[bh * (C + 1) + c + 1] : 0;
    hsa_queue hqs;
    hsa_queue* hq = &hqs;
    hsa_q_init(hq);
#define HSA_KV_STAGE(set, e, parts) hsa_kv_stage(hq, qs + (set) * (HSA_GE4 * HSA_LDD / 4), dos + (set) * (HSA_GE4 * HSA_LDD / 4), \
        stat + (set) * 2 * HSA_GE, wl + (set) * HSA_E, q, dout, lse, delta, weights, entries, e, last, b, h, L, HQ, H, K, parts)
#if HSA_KV_SETS == 2
    // Steps through two buffer sets: step i's rows are used from set i % 2 while step i+1's are copied
    // into the other.
    if (first < last) HSA_KV_STAGE(0, first, HSA_KV_ALL);
    hsa_commit(hq);                            // step 0 in a group of its own: the loop waits for all but the newest
    for (int e0 = first, it = 0; e0 < last; e0 += HSA_E, it++) {
        const int cur = it % 2;
        if (e0 + HSA_E < last) HSA_KV_STAGE(1 - cur, e0 + HSA_E, HSA_KV_ALL);
        hsa_commit(hq);
        hsa_wait(hq, 1);
        barrier(CLK_LOCAL_MEM_FENCE);          // step it's set complete; the previous step is done with wp, ds
        __local const float4* qsc = qs + cur * (HSA_GE4 * HSA_LDD / 4);
        __local const float4* dosc = dos + cur * (HSA_GE4 * HSA_LDD / 4);
        {
            float sc[HSA_MAXM][4], dpv[HSA_MAXM][4];
            hsa_nt(sc, qsc, ks, HSA_GE, HSA_BR);     // q_row . k_j
            hsa_nt(dpv, dosc, vs, HSA_GE, HSA_BR);   // dout_row . v_j
            hsa_kv_wp(sc, stat + cur * 2 * HSA_GE, wl + cur * HSA_E, (__local float*) wp4, scale);
            hsa_kv_ds(dpv, sc, stat + cur * 2 * HSA_GE, (__local float*) ds4);
        }
        barrier(CLK_LOCAL_MEM_FENCE);
        hsa_nn_acc(accV, wp4, HSA_LDG / 4, dosc, HSA_BR, HSA_GE4);   // dv_j += sum_row wP[j][row] dout_row
        hsa_nn_acc(accK, ds4, HSA_LDG / 4, qsc, HSA_BR, HSA_GE4);    // dk_j += sum_row dS[j][row] q_row
        barrier(CLK_LOCAL_MEM_FENCE);          // set cur free for step it+2
    }
#elif HSA_KVBUF == 2
    // One buffer set (HSA_KV_ONESET): the query rows (with lse, delta, weights) and the output-gradient
    // rows are copied in separate groups, each while the group works on something that does not read
    // them: the next step's query rows during this step's dv product, this step's output-gradient rows
    // during its score product. Half the staging memory of two sets, which leaves room for two entries
    // per step (32 query rows at G = 16: 4 x 4 micro-tiles in the NT products).
    // `set` is always 0, but the compiler must not know it: PoCL 3.1's LLVM 15 crashes (SIGSEGV) on this
    // loop when the staging addresses are constants.
    const int set = K < 0;
    if (first < last) HSA_KV_STAGE(set, first, HSA_KV_Q);
    hsa_commit(hq);
    for (int e0 = first; e0 < last; e0 += HSA_E) {
        HSA_KV_STAGE(set, e0, HSA_KV_DO);      // the previous step is done with dos (its last barrier)
        hsa_commit(hq);
        hsa_wait(hq, 1);                       // this step's query rows; its output-gradient rows may be in flight
        barrier(CLK_LOCAL_MEM_FENCE);
        float sc[HSA_MAXM][4], dpv[HSA_MAXM][4];
        hsa_nt(sc, qs, ks, HSA_GE, HSA_BR);    // q_row . k_j
        hsa_kv_wp(sc, stat, wl, (__local float*) wp4, scale);
        hsa_wait(hq, 0);
        barrier(CLK_LOCAL_MEM_FENCE);          // the output-gradient rows too
        hsa_nt(dpv, dos, vs, HSA_GE, HSA_BR);  // dout_row . v_j
        hsa_kv_ds(dpv, sc, stat, (__local float*) ds4);
        barrier(CLK_LOCAL_MEM_FENCE);
        hsa_nn_acc(accK, ds4, HSA_LDG / 4, qs, HSA_BR, HSA_GE4);    // dk_j += sum_row dS[j][row] q_row
        barrier(CLK_LOCAL_MEM_FENCE);          // qs, stat and wl are free
        if (e0 + HSA_E < last) HSA_KV_STAGE(set, e0 + HSA_E, HSA_KV_Q);
        hsa_commit(hq);
        hsa_nn_acc(accV, wp4, HSA_LDG / 4, dos, HSA_BR, HSA_GE4);   // dv_j += sum_row wP[j][row] dout_row
        barrier(CLK_LOCAL_MEM_FENCE);          // dos, wp and ds are free
    }
#else
    for (int e0 = first; e0 < last; e0 += HSA_E) {
        barrier(CLK_LOCAL_MEM_FENCE);          // previous step done with qs, dos, wp, ds, stat, wl
        HSA_KV_STAGE(0, e0, HSA_KV_ALL);
        barrier(CLK_LOCAL_MEM_FENCE);
        {
            float sc[HSA_MAXM][4], dpv[HSA_MAXM][4];
            hsa_nt(sc, qs, ks, HSA_GE, HSA_BR);
            hsa_nt(dpv, dos, vs, HSA_GE, HSA_BR);
            hsa_kv_wp(sc, stat, wl, (__local float*) wp4, scale);
            hsa_kv_ds(dpv, sc, stat, (__local float*) ds4);
        }
        barrier(CLK_LOCAL_MEM_FENCE);
        hsa_nn_acc(accV, wp4, HSA_LDG / 4, dos, HSA_BR, HSA_GE4);
        hsa_nn_acc(accK, ds4, HSA_LDG / 4, qs, HSA_BR, HSA_GE4);
    }
#endif
#undef HSA_KV_STAGE
#pragma unroll
    for (int m = 0; m < HSA_MAXM; m++) {
        const int j = HSA_NN_ROW(m);
        if (live && m < HSA_NN_MA(HSA_BR) && j < HSA_BR) {
            const size_t at = rowsOff + (size_t) j * stride;
            vstore4(scale * accK[m], HSA_NN_COL4(), dk + at);
            vstore4(accV[m], HSA_NN_COL4(), dv + at);
        }
    }
#endif
}
