package org.hsajava.kernels;

import org.hsajava.compute.DeviceInfo;

/**
 * Tile sizes of the tuned GEMM kernel ({@code gemm_tiled} in {@code kernels/gemm.cl}), passed to the
 * compiler as {@code -D} constants: a work-group of {@code (tn/wn) x (tm/wm)} work-items computes a
 * {@code tm x tn} block of C, stepping through K in slices of {@code tk}; each work-item keeps a
 * {@code wm x wn} micro-tile of C in registers.
 */
public record GemmTiling(int tm, int tn, int tk, int wm, int wn) {

    /**
     * GPUs: 256 work-items of 8x8 micro-tiles over 128x128 blocks, K-steps of 4. Best of two sweeps
     * on the H100 (OpenCL, driver 580), 4096^3: 39.6 TFLOP/s guarded, 41.1 unguarded (K-tile 8:
     * 33.0 / 37.6; K-tile 16: 29.4 / 33.0; the naive kernel 6.5).
     */
    public static final GemmTiling GPU = new GemmTiling(128, 128, 4, 8, 8);
    /**
     * GPUs, when the 128x128 blocks would not fill every compute unit once (1024^3 on the H100:
     * 64 blocks for 132 SMs): four times the blocks. H100, 1024^3: 28.8 TFLOP/s against 16.2 for
     * 128x128 blocks (K-tile 8).
     */
    public static final GemmTiling GPU_SMALL = new GemmTiling(64, 64, 16, 4, 4);
    /**
     * CPUs through PoCL, where a work-group is a loop over its 64 work-items and a 64x64 block stays
     * in cache (PoCL 2-core Xeon here, 1024^3: about 10 GFLOP/s against 1.0 for the naive kernel).
     */
    public static final GemmTiling CPU = new GemmTiling(64, 64, 8, 8, 8);

    public GemmTiling {
        if (wm <= 0 || wn <= 0 || wm % 4 != 0 || wn % 4 != 0) throw new IllegalArgumentException("micro-tile " + wm + "x" + wn + " must be positive multiples of 4 (float4 reads)");
        if (tm <= 0 || tn <= 0 || tm % wm != 0 || tn % wn != 0) throw new IllegalArgumentException("block " + tm + "x" + tn + " is not a multiple of the micro-tile " + wm + "x" + wn);
        if (tk <= 0) throw new IllegalArgumentException("K-tile must be positive, got " + tk);
        int threads = (tm / wm) * (tn / wn);
        if ((tm * tk) % threads != 0 || (tk * tn) % threads != 0) {
            throw new IllegalArgumentException("tiles " + this + ": " + threads + " work-items cannot share the " + tm + "x" + tk + " and " + tk + "x" + tn + " tile loads evenly");
        }
    }

    /** The default for a device type: GPU tiles on GPUs and accelerators, CPU tiles on CPUs. */
    public static GemmTiling forDevice(DeviceInfo d) { return d.type() == DeviceInfo.Type.CPU ? CPU : GPU; }

    /**
     * The tiles for a device and a problem: on GPUs, the smaller blocks when the large ones would
     * leave compute units idle ({@code batch} items of M x N).
     */
    public static GemmTiling forProblem(DeviceInfo d, int m, int n, int batch) {
        GemmTiling t = forDevice(d);
        if (t != GPU) return t;
        long blocks = (long) ((m + t.tm - 1) / t.tm) * ((n + t.tn - 1) / t.tn) * batch;
        return blocks < d.computeUnits() ? GPU_SMALL : GPU;
    }

    public int workGroupX() { return tn / wn; }

    public int workGroupY() { return tm / wm; }

    public int workGroupSize() { return workGroupX() * workGroupY(); }

    /** True when M, N and K are whole multiples of the tiles (the unguarded variant applies). */
    public boolean divides(int m, int n, int k) { return m % tm == 0 && n % tn == 0 && k % tk == 0; }

    @Override
    public String toString() { return tm + "x" + tn + "x" + tk + "/" + wm + "x" + wn; }
}
