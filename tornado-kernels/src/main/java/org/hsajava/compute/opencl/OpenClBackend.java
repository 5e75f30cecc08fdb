package org.hsajava.compute.opencl;

import static org.lwjgl.opencl.CL10.*;
import static org.lwjgl.opencl.CL11.CL_BUFFER_CREATE_TYPE_REGION;
import static org.lwjgl.opencl.CL11.nclCreateSubBuffer;
import static org.lwjgl.opencl.CL12.clEnqueueFillBuffer;
import static org.lwjgl.system.MemoryStack.stackPush;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.IntBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.function.Function;
import java.util.stream.Collectors;
import org.hsajava.compute.Backend;
import org.hsajava.compute.DeviceInfo;
import org.hsajava.compute.KernelArgs;
import org.hsajava.compute.KernelDef;
import org.hsajava.compute.KernelSources;
import org.hsajava.compute.Param;
import org.hsajava.compute.Tensor;
import org.hsajava.compute.WorkerGrid;
import org.lwjgl.PointerBuffer;
import org.lwjgl.system.MemoryStack;
import org.lwjgl.system.MemoryUtil;

/**
 * The OpenCL backend: one context and one in-order, profiling-enabled queue per device; programs
 * built from source once per (source text, build options) and cached; kernel arguments bound in
 * parameter order (views become sub-buffers).
 */
public final class OpenClBackend implements Backend {
    /** Largest host staging block for a transfer; bigger tensors move in pieces. */
    private static final int STAGING_BYTES = 64 << 20;

    private final DeviceInfo info;
    private final long context;
    private final long queue;
    private final Map<ProgramKey, Long> programs = new HashMap<>();
    private final Map<String, Long> kernels = new HashMap<>();
    private final String vendorOptions;
    /** System property hsa.cl.verbose: print every program's build log (tuning: registers, spills). */
    private static final boolean VERBOSE = Boolean.getBoolean("hsa.cl.verbose");
    /** System property hsa.cl.dump=DIR: write every program's binary there (PTX on NVIDIA; tuning: what the compiler made). */
    private static final String DUMP_DIR = System.getProperty("hsa.cl.dump");
    private long allocated;
    private long peak;
    private int builds;

    private record ProgramKey(String source, String options) {}

    public OpenClBackend(DeviceInfo info) {
        this.info = info;
        try (MemoryStack stack = stackPush()) {
            IntBuffer err = stack.mallocInt(1);
            PointerBuffer props = stack.mallocPointer(3).put(CL_CONTEXT_PLATFORM).put(info.platformHandle()).put(0).flip();
            context = clCreateContext(props, info.deviceHandle(), null, 0, err);
            ClException.check(err.get(0), "clCreateContext on " + info.name());
            queue = clCreateCommandQueue(context, info.deviceHandle(), CL_QUEUE_PROFILING_ENABLE, err);
            ClException.check(err.get(0), "clCreateCommandQueue on " + info.name());
        }
        // kernels' tensor-core paths are variants of their definitions (KernelDef.forDevice, TensorCores)
        String vendor = info.isNvidia() ? "-DHSA_NVIDIA=1" : info.type() == DeviceInfo.Type.CPU ? "-DHSA_CPU=1" : "";
        // -Dhsa.cl.verbose=true: NVIDIA's register/spill report, printed with every build log
        vendorOptions = VERBOSE && info.isNvidia() ? vendor + " -cl-nv-verbose" : vendor;
    }

    @Override
    public DeviceInfo device() { return info; }

    /** Number of programs compiled so far (the cache's misses). */
    public int programBuilds() { return builds; }

    // ---------------------------------------------------------------- memory

    @Override
    public Buffer allocate(Tensor root) {
        // Whole 4-byte words: the zero fill's pattern is 4 bytes (a bf16 tensor of odd size has 2 more).
        long bytes = Math.max(4, (root.bytes() + 3) / 4 * 4);
        try (MemoryStack stack = stackPush()) {
            IntBuffer err = stack.mallocInt(1);
            long mem = clCreateBuffer(context, CL_MEM_READ_WRITE, bytes, err);
            if (err.get(0) != 0) {
                throw new ClException("allocating " + bytes + " bytes for tensor '" + root.name() + "' on " + info.name() + " failed: "
                        + ClException.name(err.get(0)) + " (" + allocated + " bytes already allocated, device has " + info.globalMemBytes() + ")");
            }
            ByteBuffer zero = stack.calloc(4);
            ClException.check(clEnqueueFillBuffer(queue, mem, zero, 0, bytes, null, null), "clEnqueueFillBuffer(" + root.name() + ")");
            allocated += bytes;
            peak = Math.max(peak, allocated);
            return new ClBuffer(root, mem, bytes);
        }
    }

    @Override
    public void upload(Buffer buffer, Tensor t) { transfer((ClBuffer) buffer, t, true); }

    @Override
    public void download(Buffer buffer, Tensor t) { transfer((ClBuffer) buffer, t, false); }

    /**
     * Moves {@code t}'s range between its host array and the device in blocks of at most
     * {@link #STAGING_BYTES}, through one off-heap staging buffer (a view moves only its range).
     */
    private void transfer(ClBuffer buffer, Tensor t, boolean toDevice) {
        int width = t.dtype().bytes(), per = STAGING_BYTES / width;
        ByteBuffer staging = MemoryUtil.memAlloc((int) Math.min(STAGING_BYTES, Math.max(4, t.bytes())));
        try {
            for (int done = 0; done < t.size(); done += per) {
                int n = Math.min(per, t.size() - done);
                int from = t.rootOffset() + done;
                staging.clear().limit(n * width);
                if (toDevice) {
                    switch (t.dtype()) {
                        case F32 -> staging.asFloatBuffer().put(t.f32(), from, n);
                        case I32 -> staging.asIntBuffer().put(t.i32(), from, n);
                        case BF16 -> staging.asShortBuffer().put(t.bf16(), from, n);
                    }
                    ClException.check(clEnqueueWriteBuffer(queue, buffer.mem, true, (long) from * width, staging, null, null), "clEnqueueWriteBuffer(" + t.name() + ")");
                } else {
                    ClException.check(clEnqueueReadBuffer(queue, buffer.mem, true, (long) from * width, staging, null, null), "clEnqueueReadBuffer(" + t.name() + ")");
                    switch (t.dtype()) {
                        case F32 -> staging.asFloatBuffer().get(t.f32(), from, n);
                        case I32 -> staging.asIntBuffer().get(t.i32(), from, n);
                        case BF16 -> staging.asShortBuffer().get(t.bf16(), from, n);
                    }
                }
            }
        } finally {
            MemoryUtil.memFree(staging);
        }
    }

    // ---------------------------------------------------------------- kernels

    @Override
    public long launch(KernelDef kernel, KernelArgs args, WorkerGrid grid, Function<Tensor, Buffer> buffers, boolean profile) {
        long k = kernel(kernel);
        List<Param> params = kernel.params();
        for (int i = 0; i < params.size(); i++) {
            Param p = params.get(i);
            int err = switch (p.kind()) {
                case BUFFER -> {
                    Tensor t = args.tensor(p.name());
                    yield clSetKernelArg1p(k, i, ((ClBuffer) buffers.apply(t.root())).memFor(t));
                }
                case INT -> clSetKernelArg1i(k, i, args.i(p.name()));
                case FLOAT -> clSetKernelArg1f(k, i, args.f(p.name()));
            };
            ClException.check(err, "clSetKernelArg(" + kernel.name() + ", '" + p.name() + "')");
        }
        try (MemoryStack stack = stackPush()) {
            PointerBuffer global = stack.mallocPointer(grid.dims());
            for (long g : grid.global()) global.put(g);
            global.flip();
            PointerBuffer local = null;
            if (grid.local() != null) {
                local = stack.mallocPointer(grid.dims());
                for (long l : grid.local()) local.put(l);
                local.flip();
            }
            PointerBuffer event = profile ? stack.mallocPointer(1) : null;
            int err = clEnqueueNDRangeKernel(queue, k, grid.dims(), null, global, local, null, event);
            if (err != 0) throw new ClException("launching " + kernel.name() + " with " + grid + " on " + info.name() + " failed: " + ClException.name(err) + " (" + err + ")");
            if (!profile) return -1;
            long ev = event.get(0);
            try {
                ClException.check(clWaitForEvents(ev), "clWaitForEvents(" + kernel.name() + ")");
                var t = stack.mallocLong(1);
                ClException.check(clGetEventProfilingInfo(ev, CL_PROFILING_COMMAND_START, t, null), "profiling");
                long start = t.get(0);
                ClException.check(clGetEventProfilingInfo(ev, CL_PROFILING_COMMAND_END, t, null), "profiling");
                return t.get(0) - start;
            } finally {
                clReleaseEvent(ev);
            }
        }
    }

    /** Compiles (once) and returns the kernel object for a definition. */
    private long kernel(KernelDef def) {
        String source = KernelSources.load(def.source());
        String options = (vendorOptions + " " + def.buildOptions()).trim();
        String kernelKey = def.source() + "|" + options + "|" + def.entryPoint();
        Long cached = kernels.get(kernelKey);
        if (cached != null) return cached;
        long program = programs.computeIfAbsent(new ProgramKey(source, options), key -> build(def, key));
        try (MemoryStack stack = stackPush()) {
            IntBuffer err = stack.mallocInt(1);
            long k = clCreateKernel(program, def.entryPoint(), err);
            ClException.check(err.get(0), "clCreateKernel(" + def.entryPoint() + " in " + def.source() + ")");
            kernels.put(kernelKey, k);
            return k;
        }
    }

    private long build(KernelDef def, ProgramKey key) {
        try (MemoryStack stack = stackPush()) {
            IntBuffer err = stack.mallocInt(1);
            long program = clCreateProgramWithSource(context, key.source(), err);
            ClException.check(err.get(0), "clCreateProgramWithSource(" + def.source() + ")");
            int status = onLargeStack("clBuildProgram(" + def.name() + ")", () -> clBuildProgram(program, info.deviceHandle(), key.options(), null, 0));
            builds++;
            if (status != 0) {
                String log = buildLog(program);
                clReleaseProgram(program);
                throw new ClException("building " + def.source() + " for kernel " + def.name() + " on " + info.name() + " with options '" + key.options()
                        + "' failed: " + ClException.name(status) + "\n--- compiler log ---\n" + log);
            }
            if (VERBOSE) System.err.println("--- build log of " + def.source() + " for " + def.name() + " (" + key.options() + ") ---\n" + buildLog(program));
            long result = program;
            if (info.isNvidia() && Sm90aPtx.needed(key.source())) {  // the marker may sit in a branch the defines left out
                String ptx = new String(binary(program), StandardCharsets.UTF_8);
                int end = ptx.indexOf('\0');
                if (end >= 0) ptx = ptx.substring(0, end);
                if (Sm90aPtx.needed(ptx)) result = rebuildForSm90a(program, ptx, def, key);
            }
            if (DUMP_DIR != null) dumpBinary(result, def, key);
            return result;
        }
    }

    /** Writes the program's binary for this device to {@link #DUMP_DIR}/ENTRY-N.bin with the definition and options in ENTRY-N.txt. */
    private void dumpBinary(long program, KernelDef def, ProgramKey key) {
        try {
            Path dir = Path.of(DUMP_DIR);
            Files.createDirectories(dir);
            String base = def.entryPoint() + "-" + builds;  // def.name() has the defines: not a file name
            Files.write(dir.resolve(base + ".bin"), binary(program));
            Files.writeString(dir.resolve(base + ".txt"), def.name() + "\n" + def.source() + "\n" + key.options() + "\n");
        } catch (IOException e) {
            throw new UncheckedIOException("writing the binary of " + def.name() + " to " + DUMP_DIR, e);
        }
    }

    /** The program's binary for this device (PTX text on NVIDIA). */
    private static byte[] binary(long program) {
        try (MemoryStack stack = stackPush()) {
            PointerBuffer size = stack.mallocPointer(1);
            ClException.check(clGetProgramInfo(program, CL_PROGRAM_BINARY_SIZES, size, null), "clGetProgramInfo(BINARY_SIZES)");
            ByteBuffer binary = MemoryUtil.memAlloc((int) size.get(0));
            try {
                PointerBuffer where = stack.mallocPointer(1).put(0, MemoryUtil.memAddress(binary));
                ClException.check(clGetProgramInfo(program, CL_PROGRAM_BINARIES, where, null), "clGetProgramInfo(BINARIES)");
                byte[] bytes = new byte[binary.remaining()];
                binary.get(bytes);
                return bytes;
            } finally {
                MemoryUtil.memFree(binary);
            }
        }
    }

    /**
     * The program rebuilt from its PTX {@code ptx} with the sm_90a-only instructions switched on
     * ({@link Sm90aPtx}); releases {@code program}.
     */
    private long rebuildForSm90a(long program, String ptx, KernelDef def, ProgramKey key) {
        clReleaseProgram(program);
        byte[] patched = (Sm90aPtx.patch(ptx) + "\0").getBytes(StandardCharsets.UTF_8);
        ByteBuffer text = MemoryUtil.memAlloc(patched.length).put(patched).flip();
        try (MemoryStack stack = stackPush()) {
            IntBuffer err = stack.mallocInt(1), status = stack.mallocInt(1);
            long rebuilt = clCreateProgramWithBinary(context, stack.pointers(info.deviceHandle()), text, status, err);
            ClException.check(err.get(0), "clCreateProgramWithBinary(" + def.source() + " for sm_90a)");
            // from PTX only the options for ptxas still apply (-cl-nv-verbose, -cl-nv-maxrregcount, ...)
            String ptxas = Arrays.stream(key.options().split("\\s+")).filter(o -> o.startsWith("-cl-nv-")).collect(Collectors.joining(" "));
            int built = onLargeStack("clBuildProgram(" + def.name() + ", sm_90a)", () -> clBuildProgram(rebuilt, info.deviceHandle(), ptxas, null, 0));
            if (built != 0) {
                String log = buildLog(rebuilt);
                clReleaseProgram(rebuilt);
                throw new ClException("building the sm_90a PTX of " + def.source() + " for kernel " + def.name() + " on " + info.name() + " (options '"
                        + key.options() + "') failed: " + ClException.name(built) + "\n--- compiler log ---\n" + log);
            }
            if (VERBOSE) System.err.println("--- build log of the sm_90a PTX of " + def.source() + " for " + def.name() + " ---\n" + buildLog(rebuilt));
            return rebuilt;
        } finally {
            MemoryUtil.memFree(text);
        }
    }

    /**
     * Stack of the thread that runs the OpenCL compilers ({@link #onLargeStack}). The compilers run in
     * the calling thread, and a Java thread has 1 MiB of stack by default (-Xss): on the H100 the NVIDIA
     * compiler crashed the JVM with SIGSEGV and no error file, the signature of a native stack overflow,
     * in about 4 of 10 selfcheck runs while compiling the unrolled tensor-core kernels.
     */
    static final long COMPILER_STACK_BYTES = 512L << 20;

    /** Runs {@code call} ({@code what}, for errors) on a fresh thread with {@link #COMPILER_STACK_BYTES} of stack and returns its result. */
    static int onLargeStack(String what, java.util.function.IntSupplier call) {
        int[] result = new int[1];
        RuntimeException[] failure = new RuntimeException[1];
        Thread t = new Thread(null, () -> {
            try {
                result[0] = call.getAsInt();
            } catch (RuntimeException e) {
                failure[0] = e;
            }
        }, "opencl-compiler: " + what, COMPILER_STACK_BYTES);
        t.start();
        boolean interrupted = false;
        while (t.isAlive()) {   // the compiler cannot be stopped half-way: wait for it even when interrupted
            try {
                t.join();
            } catch (InterruptedException e) {
                interrupted = true;
            }
        }
        if (interrupted) Thread.currentThread().interrupt();
        if (failure[0] != null) throw failure[0];
        return result[0];
    }

    private String buildLog(long program) {
        try (MemoryStack stack = stackPush()) {
            PointerBuffer size = stack.mallocPointer(1);
            clGetProgramBuildInfo(program, info.deviceHandle(), CL_PROGRAM_BUILD_LOG, (ByteBuffer) null, size);
            ByteBuffer log = MemoryUtil.memAlloc((int) Math.max(1, size.get(0)));
            try {
                clGetProgramBuildInfo(program, info.deviceHandle(), CL_PROGRAM_BUILD_LOG, log, null);
                return MemoryUtil.memUTF8(log, Math.max(0, log.remaining() - 1));
            } finally {
                MemoryUtil.memFree(log);
            }
        }
    }

    @Override
    public void finish() { ClException.check(clFinish(queue), "clFinish"); }

    @Override
    public long allocatedBytes() { return allocated; }

    @Override
    public long peakAllocatedBytes() { return peak; }

    @Override
    public void close() {
        kernels.values().forEach(k -> clReleaseKernel(k));
        programs.values().forEach(p -> clReleaseProgram(p));
        kernels.clear();
        programs.clear();
        clReleaseCommandQueue(queue);
        clReleaseContext(context);
    }

    /** A byte range of a buffer: a view's sub-buffer. */
    private record Range(long origin, long size) {}

    /** A cl_mem for one root tensor, with sub-buffers created on demand for its views. */
    private final class ClBuffer implements Buffer {
        private final Tensor owner;
        private final long bytes;
        private long mem;
        /** Sub-buffers by byte range (the range itself is the key: no packing of two longs into one). */
        private final Map<Range, Long> subBuffers = new HashMap<>();

        ClBuffer(Tensor owner, long mem, long bytes) {
            this.owner = owner;
            this.mem = mem;
            this.bytes = bytes;
        }

        long memFor(Tensor t) {
            if (!t.isView()) return mem;
            long origin = (long) t.rootOffset() * t.dtype().bytes();
            long size = Math.max(t.dtype().bytes(), t.bytes());
            if (info.baseAddrAlignBytes() > 0 && origin % info.baseAddrAlignBytes() != 0) {
                throw new ClException("view '" + t.name() + "' starts at byte " + origin + " of '" + owner.name() + "', not a multiple of "
                        + info.baseAddrAlignBytes() + " bytes (the device's base address alignment); align views of kernel arguments");
            }
            return subBuffers.computeIfAbsent(new Range(origin, size), key -> {
                try (MemoryStack stack = stackPush()) {
                    ByteBuffer region = stack.malloc(16);
                    PointerBuffer.create(region).put(origin).put(size);
                    IntBuffer err = stack.mallocInt(1);
                    long sub = nclCreateSubBuffer(mem, CL_MEM_READ_WRITE, CL_BUFFER_CREATE_TYPE_REGION, MemoryUtil.memAddress(region), MemoryUtil.memAddress(err));
                    ClException.check(err.get(0), "clCreateSubBuffer(" + t.name() + ")");
                    return sub;
                }
            });
        }

        @Override
        public Tensor owner() { return owner; }

        @Override
        public long bytes() { return bytes; }

        @Override
        public void close() {
            if (mem == 0) return;
            subBuffers.values().forEach(s -> clReleaseMemObject(s));
            subBuffers.clear();
            clReleaseMemObject(mem);
            mem = 0;
            allocated -= bytes;
        }
    }
}
