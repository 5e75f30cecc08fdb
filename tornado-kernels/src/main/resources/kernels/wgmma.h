// Hopper warpgroup MMA (wgmma.mma_async, sm_90a) through inline PTX, for kernels whose operands sit
// in local memory as bf16 K-major tiles: rows of 64 bf16 (128 bytes, 8 chunks of 16 bytes), chunk c of
// row r stored at chunk c ^ (r % 8), tiles 1024-byte aligned. That is the layout the hardware reads with
// its 128-byte swizzle; an 8-row group of a tile is 1024 bytes (the descriptor's stride byte offset).
// A warpgroup is 4 consecutive warps (work-items 128g .. 128g + 127) that issue each call together.
//
// wg_mma_bf16_N(d, a, b, k0): d (N/2 fp32 values per work-item) += A B^T, A the 64 rows of the tile at
// a, B the N rows of the tile at b, both over K-columns k0 .. k0 + 15 (k0 a multiple of 16). Work-item
// t of the warpgroup (warp w = t / 32, lane l, gid = l / 4, t4 = l % 4) holds, for every n8 block j,
// d[4j + e] = D(16w + gid + 8(e / 2), 8j + 2 t4 + e % 2), the mma.sync C-fragment layout per 16 rows.
// The products run asynchronously: wg_fence() before the first call of a batch (it orders the
// accumulators' earlier writes), wg_commit() after the last, wg_wait_all(d) before d or the tiles are
// touched again (wg_wait_prior(d): all but the last committed batch are done, the tiles they read
// free again; d may still change). Tiles written by the work-items (cp.async included) need
// wg_fence_proxy() by each writer, then a barrier, before a wgmma may read them.
//
// WG_MN_MAJOR=1 switches both operands to MN-major tiles (for C = A^T B, where K runs down the rows
// of A and B in global memory): a tile is stacked groups of 64 MN-consecutive elements; group g holds
// rows k = 0..63 of 128 bytes (the 64 elements of row k), chunk c of row k stored at chunk c ^ (k % 8),
// groups 8192 bytes apart (the descriptor's leading byte offset), 8-row groups of K 1024 bytes apart
// (stride byte offset); a k-step of 16 starts 16 rows further. wgmma reads them transposed
// (imm-trans-a/b = 1). A is then the 64 columns of its tile at a, B the N columns at b.
//
// NVIDIA's OpenCL compiler writes PTX for .target sm_90, where the wgmma instructions do not exist
// (-cl-nv-arch sm_90a does not change that): each one is written here behind the comment marker
// "//@sm_90a ", with its operands substituted like any inline PTX, so the source builds; the OpenCL
// backend then takes the program's PTX, removes the markers, sets .target sm_90a and builds that
// (OpenClBackend, docs/experiments/wgmma-from-opencl.md). With -DTC_EMULATE the same sums are
// computed at once on any OpenCL device (tests on PoCL).
#ifndef HSA_WGMMA_H
#define HSA_WGMMA_H

#ifndef WG_MN_MAJOR
#define WG_MN_MAJOR 0
#endif
#if WG_MN_MAJOR
#define WG_TRANS_IMM "1, 1"
#define WG_LBO 8192
#define WG_KSTEP(k0) ((k0) * 32)  // k0 rows of 32 uints
#else
#define WG_TRANS_IMM "0, 0"
#define WG_LBO 16                  // unused by the 128-byte swizzle in K-major tiles
#define WG_KSTEP(k0) ((k0) / 2)    // k0 bf16 = k0 / 2 uints into each row
#endif

#ifdef TC_EMULATE
// element (r, k) of a swizzled tile, in bf16 units
#if WG_MN_MAJOR
static inline int wg_elem(const int r, const int k) { return (r >> 6) * 4096 + k * 64 + (((((r & 63) >> 3) ^ (k & 7))) << 3) + (r & 7); }
#else
static inline int wg_elem(const int r, const int k) { return r * 64 + ((((k >> 3) ^ (r & 7))) << 3) + (k & 7); }
#endif

static inline void wg_mma_emulated(float* d, const int n, __local const uint* a, __local const uint* b, const int k0) {
    const int t = get_local_id(0) % 128, w = t / 32, gid = (t % 32) / 4, t4 = t % 4;
    __local const ushort* A = (__local const ushort*) a;
    __local const ushort* B = (__local const ushort*) b;
    for (int j = 0; j < n / 8; j++)
        for (int e = 0; e < 4; e++) {
            const int row = 16 * w + gid + 8 * (e / 2), col = 8 * j + 2 * t4 + e % 2;
            float s = d[4 * j + e];
            for (int kk = k0; kk < k0 + 16; kk++) s = fma(as_float((uint) A[wg_elem(row, kk)] << 16), as_float((uint) B[wg_elem(col, kk)] << 16), s);
            d[4 * j + e] = s;
        }
}
#define wg_mma_bf16_64(d, a, b, k0) wg_mma_emulated(d, 64, a, b, k0)
#define wg_mma_bf16_128(d, a, b, k0) wg_mma_emulated(d, 128, a, b, k0)
#define wg_mma_bf16_256(d, a, b, k0) wg_mma_emulated(d, 256, a, b, k0)
#define wg_fence() ((void) 0)
#define wg_fence_proxy() ((void) 0)
#define wg_commit() ((void) 0)
#define wg_wait_all_64(d) ((void) 0)
#define wg_wait_prior_64(d) ((void) 0)
#define wg_wait_all_128(d) ((void) 0)
#define wg_wait_prior_128(d) ((void) 0)
#define wg_wait_all_256(d) ((void) 0)
#define wg_wait_prior_256(d) ((void) 0)
#else
// Descriptor of a bf16 tile at local address p (bytes): start >> 4 in bits 0-13, leading byte offset
// >> 4 in bits 16-29 (WG_LBO: unused with this swizzle K-major, the stride of MN groups MN-major),
// stride byte offset 1024 >> 4 in bits 32-45 (8-row groups), swizzle mode 1 (128 bytes) in bits 62-63.
static inline __attribute__((always_inline)) ulong wg_desc(__local const uint* p) {
    const uint addr = (uint) (size_t) p;
    return (ulong) ((addr & 0x3FFFF) >> 4) | ((ulong) (WG_LBO >> 4) << 16) | ((ulong) (1024 >> 4) << 32) | ((ulong) 1 << 62);
}

#define wg_fence() __asm__ __volatile__("//@sm_90a wgmma.fence.sync.aligned;" ::: "memory")
#define wg_fence_proxy() __asm__ __volatile__("fence.proxy.async.shared::cta;" ::: "memory")
#define wg_commit() __asm__ __volatile__("//@sm_90a wgmma.commit_group.sync.aligned;" ::: "memory")

// The products are asynchronous: the compiler must neither read nor move the accumulator registers
// between the issue and the wait, hence the empty statements that "modify" all of them.

// 32 accumulators, listed out: inline PTX has no vector operands ("k0 * 2": bytes into each row)
#define wg_mma_bf16_64(d, a, b, k0) __asm__ __volatile__( \
    "{\n .reg .pred p;\n setp.ne.b32 p, %34, 0;\n" \
    "//@sm_90a wgmma.mma_async.sync.aligned.m64n64k16.f32.bf16.bf16 {%0, %1, %2, %3, %4, %5, %6, %7, %8, %9, %10, %11, %12, %13, %14, %15, %16, %17, %18, %19, %20, %21, %22, %23, %24, %25, %26, %27, %28, %29, %30, %31}, %32, %33, p, 1, 1, " WG_TRANS_IMM ";\n}" \
    : "+f"(d[0]), "+f"(d[1]), "+f"(d[2]), "+f"(d[3]), "+f"(d[4]), "+f"(d[5]), "+f"(d[6]), "+f"(d[7]), "+f"(d[8]), "+f"(d[9]), "+f"(d[10]), "+f"(d[11]), "+f"(d[12]), "+f"(d[13]), "+f"(d[14]), "+f"(d[15]), "+f"(d[16]), "+f"(d[17]), "+f"(d[18]), "+f"(d[19]), "+f"(d[20]), "+f"(d[21]), "+f"(d[22]), "+f"(d[23]), "+f"(d[24]), "+f"(d[25]), "+f"(d[26]), "+f"(d[27]), "+f"(d[28]), "+f"(d[29]), "+f"(d[30]), "+f"(d[31]) \
    : "l"(wg_desc((a) + WG_KSTEP(k0))), "l"(wg_desc((b) + WG_KSTEP(k0))), "r"(1) : "memory")
#define wg_pin_64(d) __asm__ __volatile__("" : "+f"(d[0]), "+f"(d[1]), "+f"(d[2]), "+f"(d[3]), "+f"(d[4]), "+f"(d[5]), "+f"(d[6]), "+f"(d[7]), "+f"(d[8]), "+f"(d[9]), "+f"(d[10]), "+f"(d[11]), "+f"(d[12]), "+f"(d[13]), "+f"(d[14]), "+f"(d[15]), "+f"(d[16]), "+f"(d[17]), "+f"(d[18]), "+f"(d[19]), "+f"(d[20]), "+f"(d[21]), "+f"(d[22]), "+f"(d[23]), "+f"(d[24]), "+f"(d[25]), "+f"(d[26]), "+f"(d[27]), "+f"(d[28]), "+f"(d[29]), "+f"(d[30]), "+f"(d[31]) :: "memory")
#define wg_wait_all_64(d) do { __asm__ __volatile__("//@sm_90a wgmma.wait_group.sync.aligned 0;" ::: "memory"); wg_pin_64(d); } while (0)
#define wg_wait_prior_64(d) do { __asm__ __volatile__("//@sm_90a wgmma.wait_group.sync.aligned 1;" ::: "memory"); wg_pin_64(d); } while (0)

// 64 accumulators, listed out: inline PTX has no vector operands ("k0 * 2": bytes into each row)
#define wg_mma_bf16_128(d, a, b, k0) __asm__ __volatile__( \
    "{\n .reg .pred p;\n setp.ne.b32 p, %66, 0;\n" \
    "//@sm_90a wgmma.mma_async.sync.aligned.m64n128k16.f32.bf16.bf16 {%0, %1, %2, %3, %4, %5, %6, %7, %8, %9, %10, %11, %12, %13, %14, %15, %16, %17, %18, %19, %20, %21, %22, %23, %24, %25, %26, %27, %28, %29, %30, %31, %32, %33, %34, %35, %36, %37, %38, %39, %40, %41, %42, %43, %44, %45, %46, %47, %48, %49, %50, %51, %52, %53, %54, %55, %56, %57, %58, %59, %60, %61, %62, %63}, %64, %65, p, 1, 1, " WG_TRANS_IMM ";\n}" \
    : "+f"(d[0]), "+f"(d[1]), "+f"(d[2]), "+f"(d[3]), "+f"(d[4]), "+f"(d[5]), "+f"(d[6]), "+f"(d[7]), "+f"(d[8]), "+f"(d[9]), "+f"(d[10]), "+f"(d[11]), "+f"(d[12]), "+f"(d[13]), "+f"(d[14]), "+f"(d[15]), "+f"(d[16]), "+f"(d[17]), "+f"(d[18]), "+f"(d[19]), "+f"(d[20]), "+f"(d[21]), "+f"(d[22]), "+f"(d[23]), "+f"(d[24]), "+f"(d[25]), "+f"(d[26]), "+f"(d[27]), "+f"(d[28]), "+f"(d[29]), "+f"(d[30]), "+f"(d[31]), "+f"(d[32]), "+f"(d[33]), "+f"(d[34]), "+f"(d[35]), "+f"(d[36]), "+f"(d[37]), "+f"(d[38]), "+f"(d[39]), "+f"(d[40]), "+f"(d[41]), "+f"(d[42]), "+f"(d[43]), "+f"(d[44]), "+f"(d[45]), "+f"(d[46]), "+f"(d[47]), "+f"(d[48]), "+f"(d[49]), "+f"(d[50]), "+f"(d[51]), "+f"(d[52]), "+f"(d[53]), "+f"(d[54]), "+f"(d[55]), "+f"(d[56]), "+f"(d[57]), "+f"(d[58]), "+f"(d[59]), "+f"(d[60]), "+f"(d[61]), "+f"(d[62]), "+f"(d[63]) \
    : "l"(wg_desc((a) + WG_KSTEP(k0))), "l"(wg_desc((b) + WG_KSTEP(k0))), "r"(1) : "memory")
#define wg_pin_128(d) __asm__ __volatile__("" : "+f"(d[0]), "+f"(d[1]), "+f"(d[2]), "+f"(d[3]), "+f"(d[4]), "+f"(d[5]), "+f"(d[6]), "+f"(d[7]), "+f"(d[8]), "+f"(d[9]), "+f"(d[10]), "+f"(d[11]), "+f"(d[12]), "+f"(d[13]), "+f"(d[14]), "+f"(d[15]), "+f"(d[16]), "+f"(d[17]), "+f"(d[18]), "+f"(d[19]), "+f"(d[20]), "+f"(d[21]), "+f"(d[22]), "+f"(d[23]), "+f"(d[24]), "+f"(d[25]), "+f"(d[26]), "+f"(d[27]), "+f"(d[28]), "+f"(d[29]), "+f"(d[30]), "+f"(d[31]), "+f"(d[32]), "+f"(d[33]), "+f"(d[34]), "+f"(d[35]), "+f"(d[36]), "+f"(d[37]), "+f"(d[38]), "+f"(d[39]), "+f"(d[40]), "+f"(d[41]), "+f"(d[42]), "+f"(d[43]), "+f"(d[44]), "+f"(d[45]), "+f"(d[46]), "+f"(d[47]), "+f"(d[48]), "+f"(d[49]), "+f"(d[50]), "+f"(d[51]), "+f"(d[52]), "+f"(d[53]), "+f"(d[54]), "+f"(d[55]), "+f"(d[56]), "+f"(d[57]), "+f"(d[58]), "+f"(d[59]), "+f"(d[60]), "+f"(d[61]), "+f"(d[62]), "+f"(d[63]) :: "memory")
#define wg_wait_all_128(d) do { __asm__ __volatile__("//@sm_90a wgmma.wait_group.sync.aligned 0;" ::: "memory"); wg_pin_128(d); } while (0)
#define wg_wait_prior_128(d) do { __asm__ __volatile__("//@sm_90a wgmma.wait_group.sync.aligned 1;" ::: "memory"); wg_pin_128(d); } while (0)

// 128 accumulators, listed out: inline PTX has no vector operands ("k0 * 2": bytes into each row)
#define wg_mma_bf16_256(d, a, b, k0) __asm__ __volatile__( \
    "{\n .reg .pred p;\n setp.ne.b32 p, %130, 0;\n" \
    "//@sm_90a wgmma.mma_async.sync.aligned.m64n256k16.f32.bf16.bf16 {%0, %1, %2, %3, %4, %5, %6, %7, %8, %9, %10, %11, %12, %13, %14, %15, %16, %17, %18, %19, %20, %21, %22, %23, %24, %25, %26, %27, %28, %29, %30, %31, %32, %33, %34, %35, %36, %37, %38, %39, %40, %41, %42, %43, %44, %45, %46, %47, %48, %49, %50, %51, %52, %53, %54, %55, %56, %57, %58, %59, %60, %61, %62, %63, %64, %65, %66, %67, %68, %69, %70, %71, %72, %73, %74, %75, %76, %77, %78, %79, %80, %81, %82, %83, %84, %85, %86, %87, %88, %89, %90, %91, %92, %93, %94, %95, %96, %97, %98, %99, %100, %101, %102, %103, %104, %105, %106, %107, %108, %109, %110, %111, %112, %113, %114, %115, %116, %117, %118, %119, %120, %121, %122, %123, %124, %125, %126, %127}, %128, %129, p, 1, 1, " WG_TRANS_IMM ";\n}" \
    : "+f"(d[0]), "+f"(d[1]), "+f"(d[2]), "+f"(d[3]), "+f"(d[4]), "+f"(d[5]), "+f"(d[6]), "+f"(d[7]), "+f"(d[8]), "+f"(d[9]), "+f"(d[10]), "+f"(d[11]), "+f"(d[12]), "+f"(d[13]), "+f"(d[14]), "+f"(d[15]), "+f"(d[16]), "+f"(d[17]), "+f"(d[18]), "+f"(d[19]), "+f"(d[20]), "+f"(d[21]), "+f"(d[22]), "+f"(d[23]), "+f"(d[24]), "+f"(d[25]), "+f"(d[26]), "+f"(d[27]), "+f"(d[28]), "+f"(d[29]), "+f"(d[30]), "+f"(d[31]), "+f"(d[32]), "+f"(d[33]), "+f"(d[34]), "+f"(d[35]), "+f"(d[36]), "+f"(d[37]), "+f"(d[38]), "+f"(d[39]), "+f"(d[40]), "+f"(d[41]), "+f"(d[42]), "+f"(d[43]), "+f"(d[44]), "+f"(d[45]), "+f"(d[46]), "+f"(d[47]), "+f"(d[48]), "+f"(d[49]), "+f"(d[50]), "+f"(d[51]), "+f"(d[52]), "+f"(d[53]), "+f"(d[54]), "+f"(d[55]), "+f"(d[56]), "+f"(d[57]), "+f"(d[58]), "+f"(d[59]), "+f"(d[60]), "+f"(d[61]), "+f"(d[62]), "+f"(d[63]), "+f"(d[64]), "+f"(d[65]), "+f"(d[66]), "+f"(d[67]), "+f"(d[68]), "+f"(d[69]), "+f"(d[70]), "+f"(d[71]), "+f"(d[72]), "+f"(d[73]), "+f"(d[74]), "+f"(d[75]), "+f"(d[76]), "+f"(d[77]), "+f"(d[78]), "+f"(d[79]), "+f"(d[80]), "+f"(d[81]), "+f"(d[82]), "+f"(d[83]), "+f"(d[84]), "+f"(d[85]), "+f"(d[86]), "+f"(d[87]), "+f"(d[88]), "+f"(d[89]), "+f"(d[90]), "+f"(d[91]), "+f"(d[92]), "+f"(d[93]), "+f"(d[94]), "+f"(d[95]), "+f"(d[96]), "+f"(d[97]), "+f"(d[98]), "+f"(d[99]), "+f"(d[100]), "+f"(d[101]), "+f"(d[102]), "+f"(d[103]), "+f"(d[104]), "+f"(d[105]), "+f"(d[106]), "+f"(d[107]), "+f"(d[108]), "+f"(d[109]), "+f"(d[110]), "+f"(d[111]), "+f"(d[112]), "+f"(d[113]), "+f"(d[114]), "+f"(d[115]), "+f"(d[116]), "+f"(d[117]), "+f"(d[118]), "+f"(d[119]), "+f"(d[120]), "+f"(d[121]), "+f"(d[122]), "+f"(d[123]), "+f"(d[124]), "+f"(d[125]), "+f"(d[126]), "+f"(d[127]) \
    : "l"(wg_desc((a) + WG_KSTEP(k0))), "l"(wg_desc((b) + WG_KSTEP(k0))), "r"(1) : "memory")
#define wg_pin_256(d) __asm__ __volatile__("" : "+f"(d[0]), "+f"(d[1]), "+f"(d[2]), "+f"(d[3]), "+f"(d[4]), "+f"(d[5]), "+f"(d[6]), "+f"(d[7]), "+f"(d[8]), "+f"(d[9]), "+f"(d[10]), "+f"(d[11]), "+f"(d[12]), "+f"(d[13]), "+f"(d[14]), "+f"(d[15]), "+f"(d[16]), "+f"(d[17]), "+f"(d[18]), "+f"(d[19]), "+f"(d[20]), "+f"(d[21]), "+f"(d[22]), "+f"(d[23]), "+f"(d[24]), "+f"(d[25]), "+f"(d[26]), "+f"(d[27]), "+f"(d[28]), "+f"(d[29]), "+f"(d[30]), "+f"(d[31]), "+f"(d[32]), "+f"(d[33]), "+f"(d[34]), "+f"(d[35]), "+f"(d[36]), "+f"(d[37]), "+f"(d[38]), "+f"(d[39]), "+f"(d[40]), "+f"(d[41]), "+f"(d[42]), "+f"(d[43]), "+f"(d[44]), "+f"(d[45]), "+f"(d[46]), "+f"(d[47]), "+f"(d[48]), "+f"(d[49]), "+f"(d[50]), "+f"(d[51]), "+f"(d[52]), "+f"(d[53]), "+f"(d[54]), "+f"(d[55]), "+f"(d[56]), "+f"(d[57]), "+f"(d[58]), "+f"(d[59]), "+f"(d[60]), "+f"(d[61]), "+f"(d[62]), "+f"(d[63]), "+f"(d[64]), "+f"(d[65]), "+f"(d[66]), "+f"(d[67]), "+f"(d[68]), "+f"(d[69]), "+f"(d[70]), "+f"(d[71]), "+f"(d[72]), "+f"(d[73]), "+f"(d[74]), "+f"(d[75]), "+f"(d[76]), "+f"(d[77]), "+f"(d[78]), "+f"(d[79]), "+f"(d[80]), "+f"(d[81]), "+f"(d[82]), "+f"(d[83]), "+f"(d[84]), "+f"(d[85]), "+f"(d[86]), "+f"(d[87]), "+f"(d[88]), "+f"(d[89]), "+f"(d[90]), "+f"(d[91]), "+f"(d[92]), "+f"(d[93]), "+f"(d[94]), "+f"(d[95]), "+f"(d[96]), "+f"(d[97]), "+f"(d[98]), "+f"(d[99]), "+f"(d[100]), "+f"(d[101]), "+f"(d[102]), "+f"(d[103]), "+f"(d[104]), "+f"(d[105]), "+f"(d[106]), "+f"(d[107]), "+f"(d[108]), "+f"(d[109]), "+f"(d[110]), "+f"(d[111]), "+f"(d[112]), "+f"(d[113]), "+f"(d[114]), "+f"(d[115]), "+f"(d[116]), "+f"(d[117]), "+f"(d[118]), "+f"(d[119]), "+f"(d[120]), "+f"(d[121]), "+f"(d[122]), "+f"(d[123]), "+f"(d[124]), "+f"(d[125]), "+f"(d[126]), "+f"(d[127]) :: "memory")
#define wg_wait_all_256(d) do { __asm__ __volatile__("//@sm_90a wgmma.wait_group.sync.aligned 0;" ::: "memory"); wg_pin_256(d); } while (0)
#define wg_wait_prior_256(d) do { __asm__ __volatile__("//@sm_90a wgmma.wait_group.sync.aligned 1;" ::: "memory"); wg_pin_256(d); } while (0)
#endif

#endif  // HSA_WGMMA_H
