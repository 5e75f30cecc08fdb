// Sliding-window attention on NVIDIA tensor cores: swa_fwd, swa_bwd_dq and swa_bwd_dkdv with their
// matrix products on TF32 mma.sync.m16n8k8 (tc.h: inputs rounded with cvt.rna, fp32 accumulation),
// or, with -DSWA_BF16=1, on bf16 mma.sync.m16n8k16 with q, k, v and d_o stored as bf16 (fp32
// accumulation; P and dS rounded to bf16 before their products, as FlashAttention does; o written as
// bf16); softmax, exponentials, masks and the final scaling stay fp32, and lse, delta, dq, dk, dv are fp32. Included by swa.cl in place of the
// portable kernels when compiled with -DSWA_TC=1 (SlidingWindowAttention's variants for devices
// where org.hsajava.compute.opencl.TensorCores is enabled), or with -DSWA_TC=1 -DTC_EMULATE=1 (the
// PTX replaced by portable code: tests check this file's fragment bookkeeping on PoCL). Same
// kernel names, arguments and results as the portable kernels (swa.cl's conventions); TF32 keeps 10
// mantissa bits, so results differ from them by about 1e-4 to 1e-3 of their largest magnitude.
//
// Work split, FlashAttention-2 style: one warp per 16 consecutive rows (query rows t0 .. t0+15 of one
// (b, query head g) in the forward and dq; key rows j0 .. j0+15 of one (b, KV head h) in dk/dv), the
// rows of the A operand of every mma; SWA_TC_NW warps per work-group take consecutive blocks of 16.
// The other side (keys, or queries in dk/dv) streams by n-tiles of 8 rows read straight from global
// memory (the L1/L2 caches share them between the warps of a group and neighbouring groups); no
// local memory and no barrier natively. Grid: global (ceil(L / (16 NW)) * 32 NW, B*HQ) for the
// forward and dq, (ceil(L / (16 NW)) * 32 NW, B*H) for dk/dv; local (32 NW, 1).
//
// Fragments: a lane holds, of every 16-row tile, rows gid and gid+8 ("its two rows"), and of every
// 8-column accumulator columns 2t4 and 2t4+1 (lane = 4*gid + t4; tc.h). The products and the
// permutations that let every operand load straight from global memory, P and dS included, are
// attn_tc.h's (shared with hsa_attn.cl) or attn_tc_bf16.h's, behind three names: swa_a (A fragments
// over the head dim), swa_nt (a product over the head dim), swa_pv (a product over SWA_PVN n-tiles
// of rows: P V, dS K in dq; P^T dO, dS^T Q in dk/dv; 1 n-tile of 8 for TF32, 2 for bf16's k16) with
// output dims SWA_PI(nn, x).
// The softmax statistics of a row live in the 4 lanes of a quad (tc_quad_max, tc_quad_sum).
//
// Masking: the element (query t, key j) counts iff t < L and t - W <= j <= t (which implies
// 0 <= j < L); rows past L, and keys past the visible range, are read from row L-1 (clamped: always
// in bounds) and masked, so they contribute exact zeros; rows past L write nothing.
//
// TC_EMULATE: the emulated PTX exchanges lanes' values through local memory with barriers, so
// every work-item of the group must make the same calls: the loops then run over the range of the
// whole group (warp 0's first row to the last warp's last), which masking makes exact for every
// warp. Natively each warp runs over its own range. With SWA_TC_NW = 1 both are the same code.
//
// Compile-time constants (SlidingWindowAttention sets them): HEAD_DIM in {16, 32, 64, 128};
//   SWA_BF16       1: bf16 inputs and products (default 0: fp32 inputs, TF32 products)
//   SWA_TC_NW      warps per work-group
//   SWA_TC_BK      keys per online-softmax block of the forward (a multiple of 8, of 16 for bf16)
//   SWA_TC_NT      n-tiles of 8 rows per step of the backward loops (independent chains side by
//                  side; even for bf16)
//   SWA_TC_KV_HOLD 1: dk/dv keeps the A fragments of its K and V rows in registers (default D <= 64);
//                  0: reloads them per step (D = 128, where holding them and dk, dv would spill)
#ifndef SWA_TC_H
#define SWA_TC_H

#if HEAD_DIM != 16 && HEAD_DIM != 32 && HEAD_DIM != 64 && HEAD_DIM != 128
#error "the tensor-core SWA kernels need HEAD_DIM in {16, 32, 64, 128}"
#endif
#ifndef SWA_TC_NW
#define SWA_TC_NW 4
#endif
#define SWA_TC_WG (32 * SWA_TC_NW)
#ifndef SWA_TC_BK
#define SWA_TC_BK (HEAD_DIM >= 128 ? 32 : 64)
#endif
#if SWA_TC_BK % 8 != 0 || SWA_TC_BK < 8
#error "SWA_TC_BK must be a positive multiple of 8"
#endif
#ifndef SWA_TC_NT
#define SWA_TC_NT 2
#endif
#ifndef SWA_TC_KV_HOLD
#define SWA_TC_KV_HOLD (HEAD_DIM <= 64)
#endif
#ifndef SWA_BF16
#define SWA_BF16 0
#endif
#define SWA_TC_KS (HEAD_DIM / 8)   // output n-tiles over the head dim (and TF32's k-steps over it)

#include "tc.h"
#define ATTN_TC_D HEAD_DIM
// the fragment helpers; their loops: ATTN_TC_UNROLL
#include "attn_tc.h"
#if SWA_BF16
#include "attn_tc_bf16.h"
#include "bf16.h"
#if SWA_TC_BK % 16 != 0 || SWA_TC_NT % 2 != 0
#error "the bf16 kernels need SWA_TC_BK a multiple of 16 and SWA_TC_NT even"
#endif
typedef ushort swa_in;                 // q, k, v, d_o: bf16 bits
typedef ushort swa_out;                // o
#define SWA_AKS (HEAD_DIM / 16)        // k-steps over the head dim
#define SWA_PVN 2                      // score n-tiles per k-step of a product over rows
#define SWA_PI ATTN16_PI
#define swa_a attn16_a
#define swa_nt attn16_nt
#else
typedef float swa_in;
typedef float swa_out;
#define SWA_AKS (HEAD_DIM / 8)
#define SWA_PVN 1
#define SWA_PI ATTN_TC_PI
#define swa_a attn_tc_a
#define swa_nt attn_tc_nt
#endif

// acc[nn] += P . Rows over SWA_PVN n-tiles p[0..SWA_PVN) of a product in accumulator layout, whose
// columns stand for the rows j0 + 8u + c of `base` (row stride `stride` elements, rows clamped to
// `last`: the caller masks what lies past it to exact zeros); j = j0 + 2 t4 (this lane's first).
static inline __attribute__((always_inline)) void swa_pv(float (*acc)[4], float (*p)[4], __global const swa_in* base, const size_t stride,
                                                         const int j, const int last, __local uint* tcs) {
#if SWA_BF16
    attn16_pv(acc, p[0], p[1], base + (size_t) min(j, last) * stride, base + (size_t) min(j + 1, last) * stride,
              base + (size_t) min(j + 8, last) * stride, base + (size_t) min(j + 9, last) * stride, tcs);
#else
    attn_tc_pv_step(acc, p[0], base + (size_t) min(j, last) * stride, base + (size_t) min(j + 1, last) * stride, tcs);
#endif
}

// Whether query t sees key j (see Masking above; W <= L, so t - W does not overflow).
static inline bool swa_tc_visible(const int t, const int j, const int L, const int W) {
    return t < L && j <= t && j >= t - W;
}

// The rows [*lo, *hi) of the streamed side for a warp whose 16 rows start at r0: the keys that
// queries r0 .. r0+15 see (keys = 1; forward, dq) or the queries that see keys r0 .. r0+15 (keys = 0;
// dk/dv). Under TC_EMULATE the union over the group's warps (see above). Empty where no row is < L.
static inline void swa_tc_range(const int r0, const int L, const int W, const int keys, int* lo, int* hi) {
#ifdef TC_EMULATE
    const int first = r0 - 16 * (get_local_id(0) / 32), end = first + 16 * SWA_TC_NW;
#else
    const int first = r0, end = r0 + 16;
#endif
    if (first >= L) {
        *lo = 0;
        *hi = 0;
    } else if (keys) {
        *lo = max(0, first - W);
        *hi = min(L, end);
    } else {
        *lo = first;
        *hi = min(L, end + W);   // key j is seen by queries j .. j+W
    }
}

static inline __attribute__((always_inline)) void swa_tc_zero(float (*acc)[4]) {
ATTN_TC_UNROLL
    for (int nn = 0; nn < SWA_TC_KS; nn++)
ATTN_TC_UNROLL
        for (int i = 0; i < 4; i++) acc[nn][i] = 0.0f;
}

// Row half r (0: row gid, elements 0 and 1; 1: row gid + 8, elements 2 and 3) of a 16 x HEAD_DIM
// tile in the output layout of swa_pv, times alpha, to the row `out` of HEAD_DIM floats.
static inline __attribute__((always_inline)) void swa_tc_store_row(float (*acc)[4], const int r, __global float* out, const float alpha) {
    const int t4 = get_local_id(0) % 4;
ATTN_TC_UNROLL
    for (int nn = 0; nn < SWA_TC_KS; nn++) {
        out[SWA_PI(nn, 2 * t4)] = alpha * acc[nn][2 * r];
        out[SWA_PI(nn, 2 * t4 + 1)] = alpha * acc[nn][2 * r + 1];
    }
}

// swa_tc_store_row to the forward's output o (bf16 with SWA_BF16: each value rounded to nearest even).
static inline __attribute__((always_inline)) void swa_tc_store_o(float (*acc)[4], const int r, __global swa_out* out, const float alpha) {
#if SWA_BF16
    const int t4 = get_local_id(0) % 4;
ATTN_TC_UNROLL
    for (int nn = 0; nn < SWA_TC_KS; nn++) {
        out[SWA_PI(nn, 2 * t4)] = (ushort) bf16_bits(alpha * acc[nn][2 * r]);
        out[SWA_PI(nn, 2 * t4 + 1)] = (ushort) bf16_bits(alpha * acc[nn][2 * r + 1]);
    }
#else
    swa_tc_store_row(acc, r, out, alpha);
#endif
}

// Forward: o_t = sum_{visible j} softmax_j(s_tj) v_j and lse_t = log sum_j exp(s_tj), s_tj =
// scale q_t . k_j. A warp owns query rows t0 .. t0+15 (this lane: ta = t0 + gid, tb = ta + 8) of
// (b, g) and streams the visible keys in blocks of SWA_TC_BK: S = Q K^T (BK/8 n-tiles), mask, then
// online softmax: per row the running maximum m (the same in the 4 lanes of the row's quad) grows
// by the block's maximum, the lane's partial sum l and the output accumulator are rescaled by
// exp(m_old - m_new), P = exp(s - m_new) goes to O += P V. A block with nothing visible yet in a row
// keeps m = -inf and computes with 0 in its place (P = exp(-inf) = 0, never inf - inf = NaN).
// At the end l = quad sum, o = O / l, lse = m + log l (l >= 1: every row < L sees its own key).
__kernel __attribute__((reqd_work_group_size(SWA_TC_WG, 1, 1)))
void swa_fwd(__global const swa_in* q, __global const swa_in* k, __global const swa_in* v,
             __global swa_out* o, __global float* lse,
             const int B, const int L, const int HQ, const int H, const int window, const float scale) {
    __local uint tcs[TC_SCRATCH(SWA_TC_NW)];
    const int W = min(window, L);
    const int lane = get_local_id(0) % 32, gid = lane / 4, t4 = lane % 4;
    const int bg = get_group_id(1), b = bg / HQ, g = bg % HQ, h = g / (HQ / H);   // grid y: exactly B*HQ
    const int t0 = get_group_id(0) * 16 * SWA_TC_NW + 16 * (get_local_id(0) / 32);
    const int ta = t0 + gid, tb = ta + 8;
    const int Ln = b < B ? L : 0;   // rows of this group's sequence (the grid has at least one group, B or L may be 0)
    const int qs = HQ * HEAD_DIM, ks = H * HEAD_DIM;   // row strides
    __global const swa_in* qb = q + ((size_t) b * L * HQ + g) * HEAD_DIM;   // row t of (b, g): qb + t*qs
    __global const swa_in* kb = k + ((size_t) b * L * H + h) * HEAD_DIM;    // key j of (b, h): kb + j*ks
    __global const swa_in* vb = v + ((size_t) b * L * H + h) * HEAD_DIM;

    uint qa[SWA_AKS][4];
    if (Ln > 0) swa_a(qa, qb + (size_t) min(ta, L - 1) * qs, qb + (size_t) min(tb, L - 1) * qs);
    float oacc[SWA_TC_KS][4];
    swa_tc_zero(oacc);
    float m0 = -INFINITY, m1 = -INFINITY;   // running maxima of rows ta, tb
    float l0 = 0.0f, l1 = 0.0f;             // this lane's part of their sums (its columns only)

    int jlo, jhi;
    swa_tc_range(t0, Ln, W, 1, &jlo, &jhi);
    for (int j0 = jlo; j0 < jhi; j0 += SWA_TC_BK) {
        float s[SWA_TC_BK / 8][4];   // n-tile nt: keys j0 + 8nt .. j0 + 8nt + 7
ATTN_TC_UNROLL
        for (int nt = 0; nt < SWA_TC_BK / 8; nt++) swa_nt(s[nt], qa, kb + (size_t) min(j0 + 8 * nt + gid, L - 1) * ks, tcs);
        float bm0 = -INFINITY, bm1 = -INFINITY;
ATTN_TC_UNROLL
        for (int nt = 0; nt < SWA_TC_BK / 8; nt++) {
            const int j = j0 + 8 * nt + 2 * t4;   // element i: key j + (i & 1), row i < 2 ? ta : tb
            s[nt][0] = swa_tc_visible(ta, j, Ln, W) ? scale * s[nt][0] : -INFINITY;
            s[nt][1] = swa_tc_visible(ta, j + 1, Ln, W) ? scale * s[nt][1] : -INFINITY;
            s[nt][2] = swa_tc_visible(tb, j, Ln, W) ? scale * s[nt][2] : -INFINITY;
            s[nt][3] = swa_tc_visible(tb, j + 1, Ln, W) ? scale * s[nt][3] : -INFINITY;
            bm0 = fmax(bm0, fmax(s[nt][0], s[nt][1]));
            bm1 = fmax(bm1, fmax(s[nt][2], s[nt][3]));
        }
        const float mn0 = fmax(m0, tc_quad_max(bm0, tcs)), mn1 = fmax(m1, tc_quad_max(bm1, tcs));
        const float mu0 = mn0 == -INFINITY ? 0.0f : mn0, mu1 = mn1 == -INFINITY ? 0.0f : mn1;
        const float c0 = exp(m0 - mu0), c1 = exp(m1 - mu1);   // 0 while nothing was accumulated
        l0 *= c0;
        l1 *= c1;
ATTN_TC_UNROLL
        for (int nn = 0; nn < SWA_TC_KS; nn++) {
            oacc[nn][0] *= c0;
            oacc[nn][1] *= c0;
            oacc[nn][2] *= c1;
            oacc[nn][3] *= c1;
        }
ATTN_TC_UNROLL
        for (int nt = 0; nt < SWA_TC_BK / 8; nt++) {
            s[nt][0] = exp(s[nt][0] - mu0);
            s[nt][1] = exp(s[nt][1] - mu0);
            s[nt][2] = exp(s[nt][2] - mu1);
            s[nt][3] = exp(s[nt][3] - mu1);
            l0 += s[nt][0] + s[nt][1];
            l1 += s[nt][2] + s[nt][3];
        }
ATTN_TC_UNROLL
        for (int nt = 0; nt < SWA_TC_BK / 8; nt += SWA_PVN) swa_pv(oacc, s + nt, vb, ks, j0 + 8 * nt + 2 * t4, L - 1, tcs);   // O += P V
        m0 = mn0;
        m1 = mn1;
    }
    l0 = tc_quad_sum(l0, tcs);
    l1 = tc_quad_sum(l1, tcs);
    __global swa_out* ob = o + ((size_t) b * L * HQ + g) * HEAD_DIM;
    if (ta < Ln) {
        swa_tc_store_o(oacc, 0, ob + (size_t) ta * qs, 1.0f / l0);
        if (t4 == 0) lse[((size_t) b * L + ta) * HQ + g] = m0 + log(l0);
    }
    if (tb < Ln) {
        swa_tc_store_o(oacc, 1, ob + (size_t) tb * qs, 1.0f / l1);
        if (t4 == 0) lse[((size_t) b * L + tb) * HQ + g] = m1 + log(l1);
    }
}

// Backward for the queries: dS_tj = P_tj (dO_t . v_j - delta_t) with P_tj = exp(s_tj - lse_t),
// dq_t = scale sum_j dS_tj k_j. The forward's work split; per step of SWA_TC_NT n-tiles of 8 keys:
// S = Q K^T and dP = dO V^T (two products over the head dim, A = the warp's Q and dO rows), P and
// dS elementwise in the accumulator layout (masked to exact zeros), then dq += dS K (the n-tile is
// the reduction: swa_pv with K rows as B). No softmax reductions: lse and delta are given.
__kernel __attribute__((reqd_work_group_size(SWA_TC_WG, 1, 1)))
void swa_bwd_dq(__global const swa_in* q, __global const swa_in* k, __global const swa_in* v,
                __global const swa_in* d_o, __global const float* lse, __global const float* delta,
                __global float* dq,
                const int B, const int L, const int HQ, const int H, const int window, const float scale) {
    __local uint tcs[TC_SCRATCH(SWA_TC_NW)];
    const int W = min(window, L);
    const int lane = get_local_id(0) % 32, gid = lane / 4, t4 = lane % 4;
    const int bg = get_group_id(1), b = bg / HQ, g = bg % HQ, h = g / (HQ / H);
    const int t0 = get_group_id(0) * 16 * SWA_TC_NW + 16 * (get_local_id(0) / 32);
    const int ta = t0 + gid, tb = ta + 8;
    const int Ln = b < B ? L : 0;
    const int qs = HQ * HEAD_DIM, ks = H * HEAD_DIM;
    const size_t qoff = ((size_t) b * L * HQ + g) * HEAD_DIM;
    __global const swa_in* kb = k + ((size_t) b * L * H + h) * HEAD_DIM;
    __global const swa_in* vb = v + ((size_t) b * L * H + h) * HEAD_DIM;
    const size_t ra = (size_t) min(ta, L - 1), rb = (size_t) min(tb, L - 1);

    uint qa[SWA_AKS][4], da[SWA_AKS][4];
    float la = 0.0f, lb = 0.0f, da0 = 0.0f, db0 = 0.0f;   // lse and delta of rows ta, tb
    if (Ln > 0) {
        swa_a(qa, q + qoff + ra * qs, q + qoff + rb * qs);
        swa_a(da, d_o + qoff + ra * qs, d_o + qoff + rb * qs);
        la = lse[((size_t) b * L + ra) * HQ + g];
        lb = lse[((size_t) b * L + rb) * HQ + g];
        da0 = delta[((size_t) b * L + ra) * HQ + g];
        db0 = delta[((size_t) b * L + rb) * HQ + g];
    }
    float acc[SWA_TC_KS][4];
    swa_tc_zero(acc);

    int jlo, jhi;
    swa_tc_range(t0, Ln, W, 1, &jlo, &jhi);
    for (int j0 = jlo; j0 < jhi; j0 += 8 * SWA_TC_NT) {
        float s[SWA_TC_NT][4], dp[SWA_TC_NT][4];
ATTN_TC_UNROLL
        for (int u = 0; u < SWA_TC_NT; u++) {
            const size_t kr = (size_t) min(j0 + 8 * u + gid, L - 1) * ks;
            swa_nt(s[u], qa, kb + kr, tcs);    // s = q . k_j
            swa_nt(dp[u], da, vb + kr, tcs);   // dp = dO . v_j
        }
ATTN_TC_UNROLL
        for (int u0 = 0; u0 < SWA_TC_NT; u0 += SWA_PVN) {
ATTN_TC_UNROLL
            for (int u = u0; u < u0 + SWA_PVN; u++) {
                const int j = j0 + 8 * u + 2 * t4;   // element i: key j + (i & 1), row i < 2 ? ta : tb
                // exp first, select after: an invisible element's exp may overflow, the select drops it
                s[u][0] = swa_tc_visible(ta, j, Ln, W) ? exp(scale * s[u][0] - la) * (dp[u][0] - da0) : 0.0f;
                s[u][1] = swa_tc_visible(ta, j + 1, Ln, W) ? exp(scale * s[u][1] - la) * (dp[u][1] - da0) : 0.0f;
                s[u][2] = swa_tc_visible(tb, j, Ln, W) ? exp(scale * s[u][2] - lb) * (dp[u][2] - db0) : 0.0f;
                s[u][3] = swa_tc_visible(tb, j + 1, Ln, W) ? exp(scale * s[u][3] - lb) * (dp[u][3] - db0) : 0.0f;
            }
            swa_pv(acc, s + u0, kb, ks, j0 + 8 * u0 + 2 * t4, L - 1, tcs);   // dq += dS K
        }
    }
    if (ta < Ln) swa_tc_store_row(acc, 0, dq + qoff + (size_t) ta * qs, scale);
    if (tb < Ln) swa_tc_store_row(acc, 1, dq + qoff + (size_t) tb * qs, scale);
}

// Backward for the keys and values, key-major: a warp owns keys j0 .. j0+15 of (b, KV head h) (this
// lane: ja = j0 + gid, jb = ja + 8) and visits, for each of the G query heads of h, the queries that
// can see them, [j0, j0 + 16 + W), by steps of SWA_TC_NT n-tiles of 8 queries. With the warp's K and
// V rows as the A operand the products come out transposed, keys x queries, which is the layout the
// accumulation over queries needs:
//   S^T = K Q^T, dP^T = V dO^T                      (16 x 8 each; this lane's columns: queries
//                                                    tA = 2t4 and tB = 2t4 + 1 of the n-tile)
//   P^T = exp(scale S^T - lse_t), dS^T = P^T (dP^T - delta_t)   elementwise, masked to exact zeros
//   dv += P^T dO, dk += dS^T Q                      (the n-tiles are the reduction: swa_pv)
// and dk *= scale at the end. Each dk, dv element has one writer (no atomics), summed in a fixed
// order (deterministic).
__kernel __attribute__((reqd_work_group_size(SWA_TC_WG, 1, 1)))
void swa_bwd_dkdv(__global const swa_in* q, __global const swa_in* k, __global const swa_in* v,
                  __global const swa_in* d_o, __global const float* lse, __global const float* delta,
                  __global float* dk, __global float* dv,
                  const int B, const int L, const int HQ, const int H, const int window, const float scale) {
    __local uint tcs[TC_SCRATCH(SWA_TC_NW)];
    const int W = min(window, L), G = HQ / H;
    const int lane = get_local_id(0) % 32, gid = lane / 4, t4 = lane % 4;
    const int bh = get_group_id(1), b = bh / H, h = bh % H;   // grid y: exactly B*H
    const int j0 = get_group_id(0) * 16 * SWA_TC_NW + 16 * (get_local_id(0) / 32);
    const int ja = j0 + gid, jb = ja + 8;
    const int Ln = b < B ? L : 0;
    const int qs = HQ * HEAD_DIM, ks = H * HEAD_DIM;
    const size_t kvoff = ((size_t) b * L * H + h) * HEAD_DIM;
    const size_t ka0 = kvoff + (size_t) min(ja, L - 1) * ks, kb0 = kvoff + (size_t) min(jb, L - 1) * ks;

    uint ka[SWA_AKS][4], va[SWA_AKS][4];
#if SWA_TC_KV_HOLD
    if (Ln > 0) {
        swa_a(ka, k + ka0, k + kb0);
        swa_a(va, v + ka0, v + kb0);
    }
#endif
    float accK[SWA_TC_KS][4], accV[SWA_TC_KS][4];
    swa_tc_zero(accK);
    swa_tc_zero(accV);

    int tlo, thi;
    swa_tc_range(j0, Ln, W, 0, &tlo, &thi);
    for (int gi = 0; gi < G; gi++) {
        const int g = h * G + gi;
        __global const swa_in* qb = q + ((size_t) b * L * HQ + g) * HEAD_DIM;     // query t: qb + t*qs
        __global const swa_in* ob = d_o + ((size_t) b * L * HQ + g) * HEAD_DIM;
        const size_t sb = (size_t) b * L * HQ + g;                                // lse/delta of t: sb + t*HQ
        for (int t0 = tlo; t0 < thi; t0 += 8 * SWA_TC_NT) {
#if !SWA_TC_KV_HOLD
            swa_a(ka, k + ka0, k + kb0);
            swa_a(va, v + ka0, v + kb0);
#endif
            float s[SWA_TC_NT][4], dp[SWA_TC_NT][4];
ATTN_TC_UNROLL
            for (int u = 0; u < SWA_TC_NT; u++) {
                const size_t qr = (size_t) min(t0 + 8 * u + gid, L - 1) * qs;
                swa_nt(s[u], ka, qb + qr, tcs);    // s^T = k_j . q_t
                swa_nt(dp[u], va, ob + qr, tcs);   // dp^T = v_j . dO_t
            }
ATTN_TC_UNROLL
            for (int u0 = 0; u0 < SWA_TC_NT; u0 += SWA_PVN) {
                float p[SWA_PVN][4], ds[SWA_PVN][4];
ATTN_TC_UNROLL
                for (int e = 0; e < SWA_PVN; e++) {
                    const int u = u0 + e;
                    const int tA = t0 + 8 * u + 2 * t4, tB = tA + 1;   // element i: query i & 1 ? tB : tA, key i < 2 ? ja : jb
                    const size_t cA = (size_t) min(tA, L - 1), cB = (size_t) min(tB, L - 1);
                    const float lA = lse[sb + cA * HQ], lB = lse[sb + cB * HQ], dA = delta[sb + cA * HQ], dB = delta[sb + cB * HQ];
                    p[e][0] = swa_tc_visible(tA, ja, Ln, W) ? exp(scale * s[u][0] - lA) : 0.0f;
                    p[e][1] = swa_tc_visible(tB, ja, Ln, W) ? exp(scale * s[u][1] - lB) : 0.0f;
                    p[e][2] = swa_tc_visible(tA, jb, Ln, W) ? exp(scale * s[u][2] - lA) : 0.0f;
                    p[e][3] = swa_tc_visible(tB, jb, Ln, W) ? exp(scale * s[u][3] - lB) : 0.0f;
                    ds[e][0] = p[e][0] * (dp[u][0] - dA);
                    ds[e][1] = p[e][1] * (dp[u][1] - dB);
                    ds[e][2] = p[e][2] * (dp[u][2] - dA);
                    ds[e][3] = p[e][3] * (dp[u][3] - dB);
                }
                swa_pv(accV, p, ob, qs, t0 + 8 * u0 + 2 * t4, L - 1, tcs);    // dv += P^T dO
                swa_pv(accK, ds, qb, qs, t0 + 8 * u0 + 2 * t4, L - 1, tcs);   // dk += dS^T Q
            }
        }
    }
    if (ja < Ln) {
        swa_tc_store_row(accK, 0, dk + ka0, scale);
        swa_tc_store_row(accV, 0, dv + ka0, 1.0f);
    }
    if (jb < Ln) {
        swa_tc_store_row(accK, 1, dk + kb0, scale);
        swa_tc_store_row(accV, 1, dv + kb0, 1.0f);
    }
}

#endif  // SWA_TC_H
