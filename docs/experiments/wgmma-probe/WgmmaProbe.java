package probe;

import static org.lwjgl.opencl.CL10.*;
import static org.lwjgl.system.MemoryStack.stackPush;

import java.nio.*;
import java.nio.file.*;
import java.util.*;
import org.lwjgl.PointerBuffer;
import org.lwjgl.system.MemoryStack;
import org.lwjgl.system.MemoryUtil;

/** Scratch probe (not part of the project): does wgmma build and compute right from OpenCL C? */
public class WgmmaProbe {
    static short bf(float f) { return (short) (Float.floatToRawIntBits(f) >>> 16); }
    static float fl(short s) { return Float.intBitsToFloat((s & 0xffff) << 16); }

    public static void main(String[] args) throws Exception {
        String src = Files.readString(Path.of(args[0]));
        Path out = Path.of(args[1]);
        Files.createDirectories(out);
        try (MemoryStack st = stackPush()) {
            IntBuffer n = st.mallocInt(1);
            clGetPlatformIDs(null, n);
            PointerBuffer plats = st.mallocPointer(n.get(0));
            clGetPlatformIDs(plats, (IntBuffer) null);
            long dev = 0, plat = 0;
            for (int i = 0; i < plats.capacity(); i++) {
                IntBuffer nd = st.mallocInt(1);
                if (clGetDeviceIDs(plats.get(i), CL_DEVICE_TYPE_GPU, null, nd) != 0 || nd.get(0) == 0) continue;
                PointerBuffer ds = st.mallocPointer(1);
                clGetDeviceIDs(plats.get(i), CL_DEVICE_TYPE_GPU, ds, (IntBuffer) null);
                dev = ds.get(0); plat = plats.get(i); break;
            }
            if (dev == 0) throw new IllegalStateException("no GPU");
            IntBuffer err = st.mallocInt(1);
            PointerBuffer props = st.mallocPointer(3).put(CL_CONTEXT_PLATFORM).put(plat).put(0).flip();
            long ctx = clCreateContext(props, dev, null, 0, err);
            long q = clCreateCommandQueue(ctx, dev, 0, err);
            String[] optionSets = Arrays.copyOfRange(args, 2, args.length);
            for (String opts : optionSets) {
                System.out.println("=== options: " + opts);
                long prog = clCreateProgramWithSource(ctx, src, err);
                boolean patch = opts.startsWith("PATCH ");
                String o = patch ? opts.substring(6) : opts;
                int status;
                if (patch) {
                    status = clBuildProgram(prog, dev, o, null, 0);
                    System.out.println("source build status " + status);
                    PointerBuffer bs = st.mallocPointer(1);
                    int e1 = clGetProgramInfo(prog, CL_PROGRAM_BINARY_SIZES, bs, null);
                    System.out.println("binary size " + bs.get(0) + " (err " + e1 + ")");
                    if (status == 0 && bs.get(0) > 0) {
                        ByteBuffer bin0 = MemoryUtil.memAlloc((int) bs.get(0));
                        clGetProgramInfo(prog, CL_PROGRAM_BINARIES, st.mallocPointer(1).put(0, MemoryUtil.memAddress(bin0)), null);
                        byte[] b0 = new byte[bin0.remaining()]; bin0.get(b0); MemoryUtil.memFree(bin0);
                        String text = new String(b0);
                        Files.writeString(out.resolve("compiled-" + Math.abs(opts.hashCode()) + ".ptx"), text);
                        text.lines().filter(l -> l.startsWith(".target") || l.startsWith(".version")).forEach(l -> System.out.println("compiled " + l));
                        int z = text.indexOf('\0'); if (z >= 0) text = text.substring(0, z);
                        String patched = text.replaceFirst("\\.target sm_90\\b", ".target sm_90a").replace("//@sm_90a ", "");
                        byte[] pb = (patched + "\0").getBytes();
                        ByteBuffer pbuf = MemoryUtil.memAlloc(pb.length).put(pb).flip();
                        IntBuffer bstat = st.mallocInt(1);
                        long prog2 = org.lwjgl.opencl.CL10.clCreateProgramWithBinary(ctx, st.pointers(dev), pbuf, bstat, err);
                        System.out.println("clCreateProgramWithBinary err " + err.get(0) + " binary status " + bstat.get(0));
                        clReleaseProgram(prog);
                        prog = prog2;
                        status = clBuildProgram(prog, dev, "", null, 0);
                    }
                } else {
                    status = clBuildProgram(prog, dev, o, null, 0);
                }
                PointerBuffer sz = st.mallocPointer(1);
                clGetProgramBuildInfo(prog, dev, CL_PROGRAM_BUILD_LOG, (ByteBuffer) null, sz);
                ByteBuffer log = MemoryUtil.memAlloc((int) sz.get(0));
                clGetProgramBuildInfo(prog, dev, CL_PROGRAM_BUILD_LOG, log, null);
                String logText = MemoryUtil.memUTF8(log, (int) sz.get(0) - 1);
                System.out.println("build status " + status + "\n" + logText.substring(0, Math.min(3000, logText.length())));
                MemoryUtil.memFree(log);
                if (status != 0) continue;
                clGetProgramInfo(prog, CL_PROGRAM_BINARY_SIZES, sz, null);
                ByteBuffer bin = MemoryUtil.memAlloc((int) sz.get(0));
                PointerBuffer where = st.mallocPointer(1).put(0, MemoryUtil.memAddress(bin));
                clGetProgramInfo(prog, CL_PROGRAM_BINARIES, where, null);
                byte[] bytes = new byte[bin.remaining()]; bin.get(bytes); MemoryUtil.memFree(bin);
                String ptx = new String(bytes);
                Files.writeString(out.resolve("probe-" + Math.abs(opts.hashCode()) + ".ptx"), ptx);
                ptx.lines().filter(l -> l.startsWith(".target")).forEach(l -> System.out.println("PTX " + l));
                int wn = Integer.parseInt(o.replaceAll(".*-DWG_N=(\\d+).*", "$1"));
                runCheck(ctx, q, prog, wn, o.contains("-DTRANS=1"), err);
                clReleaseProgram(prog);
            }
        }
    }

    static void runCheck(long ctx, long q, long prog, int wn, boolean mnMajor, IntBuffer err) {
        Random r = new Random(7);
        short[] a = new short[64 * 64], b = new short[wn * 64];
        for (int i = 0; i < a.length; i++) a[i] = bf((float) r.nextGaussian());
        for (int i = 0; i < b.length; i++) b[i] = bf((float) r.nextGaussian());
        double[] ref = new double[64 * wn];
        for (int m = 0; m < 64; m++) for (int nn = 0; nn < wn; nn++) {
            double s = 0; for (int k = 0; k < 64; k++) s += (double) fl(a[m * 64 + k]) * fl(b[nn * 64 + k]);
            ref[m * wn + nn] = s;
        }
        int rawN = 128 * (wn / 2) + 1;
        short[] ua = a, ub = b;
        if (mnMajor) {  // upload A as [K][M] and B as [K][N]
            ua = new short[a.length]; ub = new short[b.length];
            for (int m = 0; m < 64; m++) for (int kk = 0; kk < 64; kk++) ua[kk * 64 + m] = a[m * 64 + kk];
            for (int nn = 0; nn < wn; nn++) for (int kk = 0; kk < 64; kk++) ub[kk * wn + nn] = b[nn * 64 + kk];
        }
        ShortBuffer ha = MemoryUtil.memAllocShort(ua.length).put(ua).flip(), hb = MemoryUtil.memAllocShort(ub.length).put(ub).flip();
        long ba = clCreateBuffer(ctx, CL_MEM_READ_ONLY | CL_MEM_COPY_HOST_PTR, ha, err);
        long bb = clCreateBuffer(ctx, CL_MEM_READ_ONLY | CL_MEM_COPY_HOST_PTR, hb, err);
        long braw = clCreateBuffer(ctx, CL_MEM_READ_WRITE, rawN * 4L, err);
        long k = clCreateKernel(prog, "wgmma_probe", err);
        if (err.get(0) != 0) { System.out.println("clCreateKernel " + err.get(0)); return; }
        try (MemoryStack st = stackPush()) {
            clSetKernelArg(k, 0, st.pointers(ba)); clSetKernelArg(k, 1, st.pointers(bb)); clSetKernelArg(k, 2, st.pointers(braw));
            PointerBuffer g = st.pointers(128), l = st.pointers(128);
            int e = clEnqueueNDRangeKernel(q, k, 1, null, g, l, null, null);
            int f = clFinish(q);
            System.out.println("launch " + e + " finish " + f);
            FloatBuffer raw = MemoryUtil.memAllocFloat(rawN);
            clEnqueueReadBuffer(q, braw, true, 0, raw, null, null);
            System.out.println("alignment code " + raw.get(rawN - 1));
            int bad = 0; double maxErr = 0;
            for (int t = 0; t < 128; t++) for (int i = 0; i < wn / 2; i++) {
                int w = t / 32, lane = t % 32, gid = lane / 4, t4 = lane % 4, j = i / 4, e4 = i % 4;
                int row = 16 * w + gid + 8 * (e4 / 2), col = 8 * j + 2 * t4 + (e4 % 2);
                double got = raw.get(t * (wn / 2) + i), want = ref[row * wn + col];
                maxErr = Math.max(maxErr, Math.abs(got - want));
                if (Math.abs(got - want) > 1e-3 * (1 + Math.abs(want))) {
                    if (bad++ < 6) {
                        String where = "?";
                        for (int x = 0; x < ref.length; x++) if (Math.abs(ref[x] - got) < 1e-3) { where = "(" + x / wn + "," + x % wn + ")"; break; }
                        System.out.printf("t=%d i=%d expected (%d,%d)=%.4f got %.4f which is ref%s%n", t, i, row, col, want, got, where);
                    }
                }
            }
            System.out.println("N=" + wn + " mismatches " + bad + " of " + (128 * wn / 2) + ", max abs err " + maxErr);
            MemoryUtil.memFree(raw);
        }
        clReleaseKernel(k); clReleaseMemObject(ba); clReleaseMemObject(bb); clReleaseMemObject(braw);
        MemoryUtil.memFree(ha); MemoryUtil.memFree(hb);
    }
}
