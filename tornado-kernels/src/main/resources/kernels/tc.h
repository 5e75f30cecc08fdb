// NVIDIA tensor-core primitives through inline PTX, shared by the kernels with a tensor-core path
// (hsa_attn.cl, gemm.cl, swa_tc.h, attn_tc.h): TF32 rounding (cvt.rna.tf32.f32), one mma.sync.m16n8k8 TF32
// product with fp32 accumulation, bf16x2 packing (cvt.rn.bf16x2.f32) and the bf16 mma.sync.m16n8k16,
// a butterfly warp shuffle (shfl.sync.bfly) and the group sum and quad max built on it. Compiled only for
// NVIDIA devices (-DHSA_NVIDIA, set by the OpenCL backend), or with -DTC_EMULATE, which replaces
// these instructions by portable code exchanging the lanes' values through local memory, with
// barriers: every work-item of the group must then make the same sequence of calls, and `tcs` must
// hold TC_SCRATCH(warps) uints of local memory (unused natively). Tests run the emulation on PoCL.
//
// Fragments (PTX ISA, m16n8k8 .tf32; lane = 4*gid + t4): A (16x8): a0 (gid, t4), a1 (gid+8, t4),
// a2 (gid, t4+4), a3 (gid+8, t4+4); B (8x8): b0 (k=t4, n=gid), b1 (k=t4+4, n=gid); C (16x8):
// c0 (gid, 2t4), c1 (gid, 2t4+1), c2 (gid+8, 2t4), c3 (gid+8, 2t4+1).
#ifndef HSA_TC_H
#define HSA_TC_H

#ifdef TC_EMULATE
#define TC_SCRATCH(warps) ((warps) * 32 * 6)
#else
#define TC_SCRATCH(warps) 1
#endif

// x rounded to TF32 (nearest, ties away from zero), as the bits of an fp32 number.
static inline __attribute__((always_inline)) uint tc_tf32(const float x) {
#ifdef TC_EMULATE
    return (as_uint(x) + 0x1000u) & 0xffffe000u;   // finite x: carry into the magnitude = round half away
#else
    uint r;
    __asm__("cvt.rna.tf32.f32 %0, %1;" : "=r"(r) : "f"(x));
    return r;
#endif
}

#ifdef TC_EMULATE
// Emulation only: this lane's fragment registers (a0..a3, b0, b1) stored side by side with the rest
// of its warp's in `tcs` (6 words per lane), followed by a barrier; returns the warp's block, which
// the emulated mma then reads as the whole tiles.
static inline __local uint* tc_emu_share(__local uint* tcs, const uint a0, const uint a1, const uint a2, const uint a3, const uint b0, const uint b1) {
    const int lane = get_local_id(0) % 32;
    __local uint* w = tcs + (get_local_id(0) / 32) * (32 * 6);
    w[lane * 6 + 0] = a0;
    w[lane * 6 + 1] = a1;
    w[lane * 6 + 2] = a2;
    w[lane * 6 + 3] = a3;
    w[lane * 6 + 4] = b0;
    w[lane * 6 + 5] = b1;
    barrier(CLK_LOCAL_MEM_FENCE);
    return w;
}
#endif

// c += A B for one m16n8k8 tile, fragments as above (a: 4 TF32 values, b0/b1, c: 4 fp32 values).
static inline __attribute__((always_inline)) void tc_mma(float* c, const uint* a, const uint b0, const uint b1, __local uint* tcs) {
#ifdef TC_EMULATE
    const int lane = get_local_id(0) % 32, gid = lane / 4, t4 = lane % 4;
    __local const uint* w = tc_emu_share(tcs, a[0], a[1], a[2], a[3], b0, b1);
    for (int r = 0; r < 2; r++) {
        for (int cc = 0; cc < 2; cc++) {
            const int row = gid + 8 * r, col = 2 * t4 + cc;
            float acc = c[2 * r + cc];
            for (int kk = 0; kk < 8; kk++) {
                const float x = as_float(w[((row % 8) * 4 + kk % 4) * 6 + (row >= 8 ? 1 : 0) + (kk >= 4 ? 2 : 0)]);
                const float y = as_float(w[(col * 4 + kk % 4) * 6 + 4 + (kk >= 4 ? 1 : 0)]);
                acc = fma(x, y, acc);
            }
            c[2 * r + cc] = acc;
        }
    }
    barrier(CLK_LOCAL_MEM_FENCE);
#else
    float d0, d1, d2, d3;
    __asm__ __volatile__("mma.sync.aligned.m16n8k8.row.col.f32.tf32.tf32.f32 {%0, %1, %2, %3}, {%4, %5, %6, %7}, {%8, %9}, {%10, %11, %12, %13};"
                 : "=f"(d0), "=f"(d1), "=f"(d2), "=f"(d3)
                 : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b0), "r"(b1), "f"(c[0]), "f"(c[1]), "f"(c[2]), "f"(c[3]));
    c[0] = d0;
    c[1] = d1;
    c[2] = d2;
    c[3] = d3;
#endif
}

// The pair (lo, hi) rounded to bf16 (nearest, ties to even) and packed as bf16x2: lo in the low
// half-word, hi in the high one (PTX's cvt.rn.bf16x2.f32 d, a, b puts a in the HIGH half).
static inline __attribute__((always_inline)) uint tc_bf16x2(const float lo, const float hi) {
#ifdef TC_EMULATE
    const uint l = as_uint(lo), h = as_uint(hi);
    const uint rl = (l + 0x7fffu + ((l >> 16) & 1u)) >> 16, rh = (h + 0x7fffu + ((h >> 16) & 1u)) >> 16;
    return (rh << 16) | rl;
#else
    uint r;
    __asm__("cvt.rn.bf16x2.f32 %0, %1, %2;" : "=r"(r) : "f"(hi), "f"(lo));
    return r;
#endif
}

// c += A B for one m16n8k16 tile of bf16 inputs with fp32 accumulation (PTX ISA, m16n8k16 .bf16;
// lane = 4*gid + t4; each register holds the pair of consecutive k, the lower k in the low half):
// A (16x16): a0 (row gid, k 2t4..2t4+1), a1 (gid+8, 2t4..), a2 (gid, 2t4+8..), a3 (gid+8, 2t4+8..);
// B (16x8): b0 (k 2t4..2t4+1, n gid), b1 (k 2t4+8.., n gid); C as for m16n8k8.
static inline __attribute__((always_inline)) void tc_mma_bf16(float* c, const uint4 a, const uint b0, const uint b1, __local uint* tcs) {
#ifdef TC_EMULATE
    const int lane = get_local_id(0) % 32, gid = lane / 4, t4 = lane % 4;
    __local const uint* w = tc_emu_share(tcs, a.s0, a.s1, a.s2, a.s3, b0, b1);
    for (int r = 0; r < 2; r++) {
        for (int cc = 0; cc < 2; cc++) {
            const int row = gid + 8 * r, col = 2 * t4 + cc;
            float acc = c[2 * r + cc];
            for (int k = 0; k < 16; k++) {
                const int src = (k % 8) / 2, shift = 16 * (k % 2);
                const uint xa = w[((row % 8) * 4 + src) * 6 + (row >= 8 ? 1 : 0) + (k >= 8 ? 2 : 0)];
                const uint xb = w[(col * 4 + src) * 6 + 4 + (k >= 8 ? 1 : 0)];
                acc = fma(as_float(((xa >> shift) & 0xffffu) << 16), as_float(((xb >> shift) & 0xffffu) << 16), acc);
            }
            c[2 * r + cc] = acc;
        }
    }
    barrier(CLK_LOCAL_MEM_FENCE);
#else
    float d0, d1, d2, d3;
    __asm__("mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32 {%0, %1, %2, %3}, {%4, %5, %6, %7}, {%8, %9}, {%10, %11, %12, %13};"
            : "=f"(d0), "=f"(d1), "=f"(d2), "=f"(d3)
            : "r"(a.s0), "r"(a.s1), "r"(a.s2), "r"(a.s3), "r"(b0), "r"(b1), "f"(c[0]), "f"(c[1]), "f"(c[2]), "f"(c[3]));
    c[0] = d0;
    c[1] = d1;
    c[2] = d2;
    c[3] = d3;
#endif
}

// The value of x in lane (this lane) ^ m of the warp (butterfly shuffle).
static inline __attribute__((always_inline)) float tc_shfl_xor(const float x, const int m, __local uint* tcs) {
#ifdef TC_EMULATE
    const int lane = get_local_id(0) % 32;
    __local uint* w = tcs + (get_local_id(0) / 32) * (32 * 6);
    w[lane] = as_uint(x);
    barrier(CLK_LOCAL_MEM_FENCE);
    const float y = as_float(w[lane ^ m]);
    barrier(CLK_LOCAL_MEM_FENCE);
    return y;
#else
    uint r;
    __asm__ __volatile__("shfl.sync.bfly.b32 %0, %1, %2, 0x1f, 0xffffffff;" : "=r"(r) : "r"(as_uint(x)), "r"(m));
    return as_float(r);
#endif
}

// Sum over each aligned group of `lanes` lanes (a power of two, at most 32): butterfly, after which every
// lane of the group holds the same bits (a + b == b + a), so the sum is deterministic.
static inline __attribute__((always_inline)) float tc_group_sum(float x, const int lanes, __local uint* tcs) {
#pragma unroll
    for (int m = 1; m < lanes; m *= 2) x += tc_shfl_xor(x, m, tcs);
    return x;
}

// Sum over the 4 lanes of a quad (the lanes 4*gid .. 4*gid+3 that hold one accumulator row).
static inline __attribute__((always_inline)) float tc_quad_sum(float x, __local uint* tcs) { return tc_group_sum(x, 4, tcs); }

// Maximum over the 4 lanes of a quad (as tc_quad_sum).
static inline __attribute__((always_inline)) float tc_quad_max(float x, __local uint* tcs) {
    x = fmax(x, tc_shfl_xor(x, 1, tcs));
    return fmax(x, tc_shfl_xor(x, 2, tcs));
}

// ---- asynchronous copies and matrix loads from local (shared) memory (PTX ISA 7.0, sm_80)
// A __local pointer's integer value is its shared-memory address in NVIDIA's OpenCL (probed on the
// H100, docs/experiments/cp-async-probe.md), which is what cp.async and ldmatrix take.

// Starts copying 16 bytes from src (global, 16-byte aligned) to dst (local, 16-byte aligned) without
// going through registers; complete after tc_cp_async_wait. The emulation copies at once.
static inline __attribute__((always_inline)) void tc_cp_async16(__local uint4* dst, __global const uint4* src) {
#ifdef TC_EMULATE
    *dst = *src;
#else
    __asm__ __volatile__("cp.async.cg.shared.global [%0], [%1], 16;" :: "r"((uint) (size_t) dst), "l"(src) : "memory");
#endif
}

// The same for 4 bytes (both addresses 4-byte aligned; cp.async.ca: through L1).
static inline __attribute__((always_inline)) void tc_cp_async4(__local uint* dst, __global const uint* src) {
#ifdef TC_EMULATE
    *dst = *src;
#else
    __asm__ __volatile__("cp.async.ca.shared.global [%0], [%1], 4;" :: "r"((uint) (size_t) dst), "l"(src) : "memory");
#endif
}

// Closes the group of copies started since the last commit.
static inline __attribute__((always_inline)) void tc_cp_async_commit(void) {
#ifndef TC_EMULATE
    __asm__ __volatile__("cp.async.commit_group;" ::: "memory");
#endif
}

// Waits until at most `pending` (a compile-time constant: 0, 1 or 2) committed groups of this
// work-item's copies are still in flight. A barrier must follow before other work-items read them.
#ifdef TC_EMULATE
#define tc_cp_async_wait(pending) ((void) 0)
#else
#define tc_cp_async_wait(pending) __asm__ __volatile__("cp.async.wait_group %0;" :: "n"(pending) : "memory")
#endif

// Loads four 8 x 8 matrices of 16-bit values from local memory (ldmatrix .x4, not transposed): lane l
// gives the address base + off (in words; base the same for the whole warp) of row l % 8 of matrix
// l / 8 (16 contiguous bytes), and receives in r[i] the pair (row l / 4, columns 2(l % 4), 2(l % 4) + 1)
// of matrix i: the mma.sync fragment layout.
static inline __attribute__((always_inline)) void tc_ldmatrix_x4(uint* r, __local const uint* base, const int off, __local uint* tcs) {
#ifdef TC_EMULATE
    const int lane = get_local_id(0) % 32;
    __local uint* w = tcs + (get_local_id(0) / 32) * (32 * 6);
    w[lane] = (uint) off;
    barrier(CLK_LOCAL_MEM_FENCE);
    for (int i = 0; i < 4; i++) r[i] = base[w[8 * i + lane / 4] + lane % 4];
    barrier(CLK_LOCAL_MEM_FENCE);
#else
    __asm__ __volatile__("ldmatrix.sync.aligned.m8n8.x4.shared.b16 {%0, %1, %2, %3}, [%4];"
                         : "=r"(r[0]), "=r"(r[1]), "=r"(r[2]), "=r"(r[3]) : "r"((uint) (size_t) (base + off)));
#endif
}

#endif  // HSA_TC_H
