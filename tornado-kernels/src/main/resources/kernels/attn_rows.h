// Softmax attention with one work-item per row and the other side streamed through local memory in
// tiles: the bodies shared by swa.cl (causal sliding window) and segment_attn.cl (bidirectional
// inside independent segments). The including file defines, before including this header:
//   HEAD_DIM       D
//   ATTN_BQ        rows per work-group = work-group size (queries; keys in the dk/dv pass)
//   ATTN_BK        rows of the streamed key/value tile (forward, dq)
//   ATTN_BK_DKDV   rows of the streamed query tile (dk/dv)
//   ATTN_CAUSAL    1: key j is visible to query t iff t - W <= j <= t (a window W, clamped to L);
//                  0: every key of the sequence is (W unused)
//
// Layouts: q, o, d_o, dq [B, L, HQ, D]; k, v, dk, dv [B, L, H, D]; lse, delta [B, L, HQ]; query head
// g reads KV head h = g / (HQ / H). s_tj = scale * (q_t . k_j), P_tj = exp(s_tj - lse_t),
// lse_t = log sum_{visible j} exp(s_tj). Every query sees at least one key (its own, or its
// segment's), so lse is always finite.
//
// Design: a work-item keeps its row's operands and accumulators in private memory; the group loads
// each tile of the other side cooperatively, the operand of the dot products stored transposed
// ([D][tile rows + 1], padded against bank conflicts on the transposed writes), so the scores of a
// tile are
//     for d: for r: s[r] += x[d] * tileT[d][r]
// an inner loop with no reduction that CPU compilers (PoCL) vectorise; on a GPU every work-item
// reads the same local address at once (a broadcast). Control flow is uniform: invisible pairs are
// masked, not skipped; rows past L take part in the loads and barriers and write nothing. Each
// output element is written by one work-item summing in a fixed order: deterministic, no atomics.

// Leading dimension of a transposed tile of `rows` rows.
#define ATTN_LDT(rows) ((rows) + 1)

// Copies rows [r0, r0 + rows) of a [B, L, heads, D] tensor (batch b, head hd) into local memory:
// row-major (rowMajor[r * D + c]) when wantRowMajor, transposed (transposed[c * LDT + r]) when
// wantTransposed. (Flags, not null pointers: address 0 can be a valid local address.) Rows at or
// past rEnd are zero-filled, so no uninitialised local memory is ever read.
static inline void attn_load_tile(__local float* rowMajor, const int wantRowMajor, __local float* transposed, const int wantTransposed,
                                  const int rows, __global const float* src, int b, int L, int heads, int hd, int r0, int rEnd, int lid) {
    for (int e = lid; e < rows * HEAD_DIM; e += ATTN_BQ) {
        const int r = e / HEAD_DIM, c = e - r * HEAD_DIM;
        const int row = r0 + r;
        const float x = row < rEnd ? src[((b * L + row) * heads + hd) * HEAD_DIM + c] : 0.0f;
        if (wantRowMajor) rowMajor[e] = x;
        if (wantTransposed) transposed[c * ATTN_LDT(rows) + r] = x;
    }
}

// Whether query t sees key j (both below the end of their ranges).
static inline bool attn_visible(int t, int j, int W) {
#if ATTN_CAUSAL
    return j >= t - W && j <= t;
#else
    return true;
#endif
}

// Keys that some query of the block [t0, t0 + ATTN_BQ) sees: [*jlo, *jhi).
static inline void attn_key_range(int t0, int L, int W, int* jlo, int* jhi) {
#if ATTN_CAUSAL
    *jlo = max(0, t0 - W);
    *jhi = min(L, t0 + ATTN_BQ);
#else
    *jlo = 0;
    *jhi = L;
#endif
}

// Queries that see some key of the block [j0, j0 + ATTN_BQ): [*tlo, *thi).
static inline void attn_query_range(int j0, int L, int W, int* tlo, int* thi) {
#if ATTN_CAUSAL
    *tlo = j0;
    *thi = min(L, j0 + ATTN_BQ + W);
#else
    *tlo = 0;
    *thi = L;
#endif
}

// The two dot products of the backward passes against a pair of transposed tiles of `rows` rows:
//   sc[r] = x . xT[:, r],   dp[r] = y . yT[:, r]        (r < rows, summed over d in order)
static inline void attn_two_dots(float* sc, float* dp, const float* x, const float* y,
                                 __local const float* xT, __local const float* yT, const int rows) {
    for (int r = 0; r < rows; r++) {
        sc[r] = 0.0f;
        dp[r] = 0.0f;
    }
    for (int d = 0; d < HEAD_DIM; d++) {
        const float xd = x[d], yd = y[d];
        __local const float* xc = xT + d * ATTN_LDT(rows);
        __local const float* yc = yT + d * ATTN_LDT(rows);
        for (int r = 0; r < rows; r++) {
            sc[r] = fma(xd, xc[r], sc[r]);
            dp[r] = fma(yd, yc[r], dp[r]);
        }
    }
}

// The query row of a work-item in the forward and dq passes (grid: global (roundUp(L, ATTN_BQ), B * HQ),
// local (ATTN_BQ, 1)): position t = t0 + lid of sequence b, query head g reading KV head h; active
// when t < L (rows past L take part in loads and barriers and write nothing).
typedef struct { int lid, t0, b, g, h, t; bool active; } attn_query_row;

static inline attn_query_row attn_query_row_of(const int B, const int L, const int HQ, const int H) {
    attn_query_row r;
    r.lid = get_local_id(0);
    r.t0 = get_group_id(0) * ATTN_BQ;
    const int bg = get_global_id(1);
    r.b = bg / HQ;
    r.g = bg - r.b * HQ;
    r.h = r.g / (HQ / H);
    r.t = r.t0 + r.lid;
    r.active = r.t < L && r.b < B;
    return r;
}

// Forward, one work-group per (block of ATTN_BQ queries, batch b, query head g):
//   o_t = sum_{visible j} softmax_j(s_tj) v_j,   lse_t = log sum_j exp(s_tj)   (natural log)
// Online softmax per key tile: the running maximum m grows by the tile's maximum, the running sum
// l and the accumulator are rescaled once per tile by exp(m_old - m_new).
// Grid: global (roundUp(L, ATTN_BQ), B * HQ), local (ATTN_BQ, 1).
static inline void attn_fwd_body(__global const float* q, __global const float* k, __global const float* v,
                                 __global float* o, __global float* lse,
                                 const int B, const int L, const int HQ, const int H, const int W, const float scale,
                                 __local float* kT, __local float* vs) {
    const attn_query_row row = attn_query_row_of(B, L, HQ, H);
    const int lid = row.lid, t0 = row.t0, b = row.b, g = row.g, h = row.h, t = row.t;
    const bool active = row.active;

    float qr[HEAD_DIM], acc[HEAD_DIM], sc[ATTN_BK];
    const int qoff = ((b * L + t) * HQ + g) * HEAD_DIM;
    for (int d = 0; d < HEAD_DIM; d++) {
        qr[d] = active ? q[qoff + d] : 0.0f;
        acc[d] = 0.0f;
    }
    float m = -INFINITY, l = 0.0f;
    int jlo, jhi;
    attn_key_range(t0, L, W, &jlo, &jhi);
    for (int j0 = jlo; j0 < jhi; j0 += ATTN_BK) {
        barrier(CLK_LOCAL_MEM_FENCE);
        attn_load_tile(kT, 0, kT, 1, ATTN_BK, k, b, L, H, h, j0, jhi, lid);
        attn_load_tile(vs, 1, vs, 0, ATTN_BK, v, b, L, H, h, j0, jhi, lid);
        barrier(CLK_LOCAL_MEM_FENCE);

        for (int r = 0; r < ATTN_BK; r++) sc[r] = 0.0f;
        for (int d = 0; d < HEAD_DIM; d++) {
            const float x = qr[d];
            __local const float* col = kT + d * ATTN_LDT(ATTN_BK);
            for (int r = 0; r < ATTN_BK; r++) sc[r] = fma(x, col[r], sc[r]);
        }
        float tileMax = -INFINITY;
        for (int r = 0; r < ATTN_BK; r++) {
            const int j = j0 + r;
            sc[r] = j < jhi && attn_visible(t, j, W) ? sc[r] * scale : -INFINITY;
            tileMax = fmax(tileMax, sc[r]);
        }
        const float mNew = fmax(m, tileMax);
        const float mUse = mNew == -INFINITY ? 0.0f : mNew;  // nothing visible yet: keep exp() away from -inf - -inf
        const float c = exp(m - mUse);
        l *= c;
        for (int d = 0; d < HEAD_DIM; d++) acc[d] *= c;
        // exp() in a loop of its own, which a CPU compiler can vectorise; then the sum and the update.
        for (int r = 0; r < ATTN_BK; r++) sc[r] = exp(sc[r] - mUse);
        for (int r = 0; r < ATTN_BK; r++) l += sc[r];
        for (int r = 0; r < ATTN_BK; r++) {
            const float p = sc[r];
            __local const float* vr = vs + r * HEAD_DIM;
            for (int d = 0; d < HEAD_DIM; d++) acc[d] = fma(p, vr[d], acc[d]);
        }
        m = mNew;
    }
    if (active) {
        const float inv = 1.0f / l;
        for (int d = 0; d < HEAD_DIM; d++) o[qoff + d] = acc[d] * inv;
        lse[(b * L + t) * HQ + g] = m + log(l);
    }
}

// Backward for the queries, one work-group per (block of ATTN_BQ queries, batch b, query head g):
//   dS_tj = P_tj * (dO_t . v_j - delta_t),   dq_t = scale * sum_j dS_tj k_j
// with delta_t = dO_t . o_t (swa_bwd_delta). Grid: as the forward.
static inline void attn_dq_body(__global const float* q, __global const float* k, __global const float* v,
                                __global const float* d_o, __global const float* lse, __global const float* delta,
                                __global float* dq,
                                const int B, const int L, const int HQ, const int H, const int W, const float scale,
                                __local float* kT, __local float* vT, __local float* ks) {
    const attn_query_row row = attn_query_row_of(B, L, HQ, H);
    const int lid = row.lid, t0 = row.t0, b = row.b, g = row.g, h = row.h, t = row.t;
    const bool active = row.active;

    float qr[HEAD_DIM], dor[HEAD_DIM], acc[HEAD_DIM], sc[ATTN_BK], dp[ATTN_BK];
    const int qoff = ((b * L + t) * HQ + g) * HEAD_DIM;
    for (int d = 0; d < HEAD_DIM; d++) {
        qr[d] = active ? q[qoff + d] : 0.0f;
        dor[d] = active ? d_o[qoff + d] : 0.0f;
        acc[d] = 0.0f;
    }
    const float lseT = active ? lse[(b * L + t) * HQ + g] : 0.0f;
    const float deltaT = active ? delta[(b * L + t) * HQ + g] : 0.0f;

    int jlo, jhi;
    attn_key_range(t0, L, W, &jlo, &jhi);
    for (int j0 = jlo; j0 < jhi; j0 += ATTN_BK) {
        barrier(CLK_LOCAL_MEM_FENCE);
        attn_load_tile(ks, 1, kT, 1, ATTN_BK, k, b, L, H, h, j0, jhi, lid);
        attn_load_tile(vT, 0, vT, 1, ATTN_BK, v, b, L, H, h, j0, jhi, lid);
        barrier(CLK_LOCAL_MEM_FENCE);

        attn_two_dots(sc, dp, qr, dor, kT, vT, ATTN_BK);   // sc = q . k_j, dp = dO . v_j
        for (int r = 0; r < ATTN_BK; r++) {
            const int j = j0 + r;
            const float p = exp(sc[r] * scale - lseT);
            sc[r] = j < jhi && attn_visible(t, j, W) ? p : 0.0f;  // select after exp: the loop stays branch-free
        }
        for (int r = 0; r < ATTN_BK; r++) {
            const float ds = sc[r] * (dp[r] - deltaT);
            __local const float* kr = ks + r * HEAD_DIM;
            for (int d = 0; d < HEAD_DIM; d++) acc[d] = fma(ds, kr[d], acc[d]);
        }
    }
    if (active) {
        for (int d = 0; d < HEAD_DIM; d++) dq[qoff + d] = acc[d] * scale;
    }
}

// Backward for the keys and values, one work-group per (block of ATTN_BQ keys, batch b, KV head h),
// one work-item per key j. It visits the queries that can see its keys (attn_query_range), for each
// of the G query heads of the group in turn, streaming their q, dO, lse and delta rows through local
// memory, so no atomics are needed:
//   dv_j = sum_{g in group} sum_{t sees j} P_tj dO_t,   dk_j = scale * sum_g sum_t dS_tj q_t
// Grid: global (roundUp(L, ATTN_BQ), B * H), local (ATTN_BQ, 1).
static inline void attn_dkdv_body(__global const float* q, __global const float* k, __global const float* v,
                                  __global const float* d_o, __global const float* lse, __global const float* delta,
                                  __global float* dk, __global float* dv,
                                  const int B, const int L, const int HQ, const int H, const int W, const float scale,
                                  __local float* qT, __local float* dT, __local float* qs, __local float* dos,
                                  __local float* lses, __local float* deltas) {
    const int lid = get_local_id(0);
    const int jblk = get_group_id(0) * ATTN_BQ;
    const int bh = get_global_id(1);
    const int b = bh / H, h = bh - b * H;
    const int G = HQ / H;
    const int j = jblk + lid;
    const bool active = j < L && b < B;

    float kr[HEAD_DIM], vr[HEAD_DIM], dka[HEAD_DIM], dva[HEAD_DIM], sc[ATTN_BK_DKDV], dp[ATTN_BK_DKDV];
    const int koff = ((b * L + j) * H + h) * HEAD_DIM;
    for (int d = 0; d < HEAD_DIM; d++) {
        kr[d] = active ? k[koff + d] : 0.0f;
        vr[d] = active ? v[koff + d] : 0.0f;
        dka[d] = 0.0f;
        dva[d] = 0.0f;
    }

    int tlo, thi;
    attn_query_range(jblk, L, W, &tlo, &thi);
    for (int gi = 0; gi < G; gi++) {
        const int g = h * G + gi;
        for (int r0 = tlo; r0 < thi; r0 += ATTN_BK_DKDV) {
            barrier(CLK_LOCAL_MEM_FENCE);
            attn_load_tile(qs, 1, qT, 1, ATTN_BK_DKDV, q, b, L, HQ, g, r0, thi, lid);
            attn_load_tile(dos, 1, dT, 1, ATTN_BK_DKDV, d_o, b, L, HQ, g, r0, thi, lid);
            for (int r = lid; r < ATTN_BK_DKDV; r += ATTN_BQ) {
                const bool in = r0 + r < thi;
                lses[r] = in ? lse[(b * L + r0 + r) * HQ + g] : 0.0f;
                deltas[r] = in ? delta[(b * L + r0 + r) * HQ + g] : 0.0f;
            }
            barrier(CLK_LOCAL_MEM_FENCE);

            attn_two_dots(sc, dp, kr, vr, qT, dT, ATTN_BK_DKDV);   // sc = k . q_t, dp = v . dO_t
            for (int r = 0; r < ATTN_BK_DKDV; r++) {
                const int t = r0 + r;
                const float p = exp(sc[r] * scale - lses[r]);
                sc[r] = t < thi && attn_visible(t, j, W) ? p : 0.0f;
            }
            for (int r = 0; r < ATTN_BK_DKDV; r++) {
                const float p = sc[r];
                const float ds = p * (dp[r] - deltas[r]);
                __local const float* qrow = qs + r * HEAD_DIM;
                __local const float* drow = dos + r * HEAD_DIM;
                for (int d = 0; d < HEAD_DIM; d++) {
                    dva[d] = fma(p, drow[d], dva[d]);
                    dka[d] = fma(ds, qrow[d], dka[d]);
                }
            }
        }
    }
    if (active) {
        for (int d = 0; d < HEAD_DIM; d++) {
            dk[koff + d] = dka[d] * scale;
            dv[koff + d] = dva[d];
        }
    }
}
