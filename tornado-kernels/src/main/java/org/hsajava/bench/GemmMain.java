package org.hsajava.bench;

import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;
import org.hsajava.compute.Device;
import org.hsajava.compute.Devices;
import org.hsajava.compute.KernelDef;
import org.hsajava.compute.KernelRunner;
import org.hsajava.compute.Tensor;
import org.hsajava.kernels.Gemm;
import org.hsajava.kernels.GemmTiling;

/**
 * GEMM exploration on one device: checks every tiling against the Java loop on awkward sizes and
 * all transposes, then times the naive kernel and each tiling (guarded and unguarded) at each size.
 *
 * <pre>
 * java org.hsajava.bench.GemmMain [--device SPEC] [--sizes 1024,2048,4096] [--tiles 128x128x16/8x8,64x64x16/4x4] [--no-check] [--no-naive] [--transposes] [--bench]
 * </pre>
 */
public final class GemmMain {
    private GemmMain() {}

    public static void main(String[] args) {
        String spec = null;
        int[] sizes = {1024, 2048, 4096};
        List<GemmTiling> tilings = new ArrayList<>();
        boolean check = true, naive = true, transposes = false, bench = false;
        for (int i = 0; i < args.length; i++) {
            switch (args[i]) {
                case "--device" -> spec = args[++i];
                case "--sizes" -> sizes = java.util.Arrays.stream(args[++i].split(",")).mapToInt(Integer::parseInt).toArray();
                case "--tiles" -> { for (String t : args[++i].split(",")) tilings.add(parse(t)); }
                case "--no-check" -> check = false;
                case "--no-naive" -> naive = false;
                case "--transposes" -> transposes = true;
                case "--bench" -> bench = true;
                default -> throw new IllegalArgumentException("unknown argument " + args[i]);
            }
        }
        Device d = Devices.select(spec);
        if (tilings.isEmpty()) tilings.add(GemmTiling.forDevice(d.info()));
        System.out.println("device: " + d + " [" + d.info().platform() + ", " + d.info().version() + ", " + d.info().computeUnits() + " CUs]");
        if (check) for (GemmTiling t : tilings) checkAgainstJava(d, t);
        if (bench) {  // what the bench command reports: naive, then the variant Gemm.select picks
            System.out.println("GemmBench.run:");
            GemmBench.run(d, sizes, naive, System.out);
            return;
        }
        for (int n : sizes) {
            if (naive) System.out.println(GemmBench.time(d, "naive", Gemm.naive(false, false), n));
            for (GemmTiling t : tilings) {
                System.out.println(GemmBench.time(d, "tiled " + t, Gemm.kernel(false, false, t), n));
                if (t.divides(n, n, n)) System.out.println(GemmBench.time(d, "tiled " + t + " exact", Gemm.exact(false, false, t), n));
            }
            // the transposed variants (the backward pass's GEMMs) with the first tiling; square, so the same arguments fit
            GemmTiling t0 = tilings.get(0);
            for (int tr = 1; tr < 4 && transposes; tr++) {
                boolean ta = (tr & 1) != 0, tb = (tr & 2) != 0;
                String label = "tiled " + t0 + (ta ? " TA" : "") + (tb ? " TB" : "");
                System.out.println(GemmBench.time(d, label, Gemm.kernel(ta, tb, t0), n));
            }
        }
    }

    static GemmTiling parse(String s) {
        String[] parts = s.split("/");
        String[] block = parts[0].split("x"), micro = parts[1].split("x");
        return new GemmTiling(Integer.parseInt(block[0]), Integer.parseInt(block[1]), Integer.parseInt(block[2]), Integer.parseInt(micro[0]), Integer.parseInt(micro[1]));
    }

    /** Every transpose on awkward sizes, against the Java loop; prints the worst relative error. */
    private static void checkAgainstJava(Device d, GemmTiling t) {
        int[][] shapes = {{1, 1, 1}, {37, 53, 29}, {129, 65, 40}, {t.tm() * 2, t.tn(), t.tk() * 4}, {300, 257, 130}};
        double worst = 0;
        for (int[] s : shapes)
            for (int tr = 0; tr < 4; tr++) {
                boolean ta = (tr & 1) != 0, tb = (tr & 2) != 0;
                worst = Math.max(worst, error(d, Gemm.kernel(ta, tb, t), ta, tb, s[0], s[1], s[2]));
                if (t.divides(s[0], s[1], s[2])) worst = Math.max(worst, error(d, Gemm.exact(ta, tb, t), ta, tb, s[0], s[1], s[2]));
            }
        System.out.printf("check %s: worst relative error vs Java loop %.2e %s%n", t, worst, worst < 1e-5 ? "OK" : "FAILED");
    }

    private static double error(Device d, KernelDef k, boolean ta, boolean tb, int m, int n, int kk) {
        SplittableRandom r = new SplittableRandom(m * 31L + n * 7L + kk);
        float[] a = new float[m * kk], b = new float[kk * n];
        for (int i = 0; i < a.length; i++) a[i] = (float) (r.nextDouble() - 0.5);
        for (int i = 0; i < b.length; i++) b[i] = (float) (r.nextDouble() - 0.5);
        Object[] want = run(Devices.select("java"), Gemm.kernel(ta, tb), a, b, ta, tb, m, n, kk);
        Object[] got = run(d, k, a, b, ta, tb, m, n, kk);
        float[] e = (float[]) want[0], g = (float[]) got[0];
        double scale = 1e-30, worst = 0;
        for (float v : e) scale = Math.max(scale, Math.abs(v));
        for (int i = 0; i < e.length; i++) worst = Math.max(worst, Float.isNaN(g[i]) ? Double.POSITIVE_INFINITY : Math.abs(e[i] - g[i]));
        return worst / scale;
    }

    private static Object[] run(Device d, KernelDef k, float[] a, float[] b, boolean ta, boolean tb, int m, int n, int kk) {
        Tensor tc = Tensor.f32("C", m * n);
        java.util.Arrays.fill(tc.f32(), Float.NaN);
        KernelRunner.run(d, k, Tensor.of("A", a.clone()), Tensor.of("B", b.clone()), tc, m, n, kk, ta ? m : kk, tb ? kk : n, n, 0, 0, 0, 1, 1f, 0f);
        return new Object[] {tc.toF32Array()};
    }
}
