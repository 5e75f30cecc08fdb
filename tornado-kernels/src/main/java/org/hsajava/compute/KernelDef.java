package org.hsajava.compute;

import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.function.Consumer;
import java.util.function.Function;

/**
 * A kernel, written twice: an OpenCL C entry point in a {@code .cl} resource, and the same
 * computation as a plain Java loop ({@link JavaKernel}) that serves as the test oracle and as the
 * fallback when no OpenCL driver exists.
 *
 * <p>A definition also knows how to check its arguments (sizes that must agree) and which grid
 * to launch when the caller does not choose one. Compile-time constants ({@link #defines()}) make
 * variants of one source (a transposed GEMM, a head dimension); they are part of the program cache
 * key.
 */
public final class KernelDef {

    /** The Java implementation: reads and writes the arrays of {@link KernelArgs}. */
    @FunctionalInterface
    public interface JavaKernel {
        void run(KernelArgs args);
    }

    private final String name;
    private final String entryPoint;
    private final String source;
    private final List<Param> params;
    private final Map<String, String> defines;
    private final List<String> compilerOptions;
    private final JavaKernel java;
    private final Function<KernelArgs, WorkerGrid> grid;
    private final Consumer<KernelArgs> check;
    private final Function<DeviceInfo, KernelDef> variant;

    private KernelDef(Builder b) {
        this.name = b.name;
        this.entryPoint = b.entryPoint;
        this.source = b.source;
        this.params = List.copyOf(b.params);
        this.defines = Collections.unmodifiableMap(new LinkedHashMap<>(b.defines));
        this.compilerOptions = List.copyOf(b.compilerOptions);
        this.java = Objects.requireNonNull(b.java, () -> "kernel '" + b.name + "' has no Java implementation");
        this.grid = Objects.requireNonNull(b.grid, () -> "kernel '" + b.name + "' has no default grid");
        this.check = b.check;
        this.variant = b.variant;
    }

    /**
     * Starts a definition.
     *
     * @param entryPoint the {@code __kernel} function name in the source
     * @param source     classpath resource, e.g. {@code kernels/matmul.cl}
     */
    public static Builder builder(String entryPoint, String source) { return new Builder(entryPoint, source); }

    /** Display name: the entry point plus its defines, e.g. {@code matmul[TRANS_A=1]}. */
    public String name() { return name; }
    public String entryPoint() { return entryPoint; }
    public String source() { return source; }
    public List<Param> params() { return params; }
    public Map<String, String> defines() { return defines; }
    public JavaKernel java() { return java; }

    public int indexOf(String paramName) {
        for (int i = 0; i < params.size(); i++) if (params.get(i).name().equals(paramName)) return i;
        throw new IllegalArgumentException("kernel '" + name + "' has no parameter '" + paramName + "'");
    }

    /**
     * The definition to launch on {@code device}: a variant for that device where the definition
     * has one (same parameters and Java implementation, other defines and grid, e.g. a work-group
     * shape for a vendor path), else this. {@link ExecutionPlan} asks before every launch.
     */
    public KernelDef forDevice(DeviceInfo device) {
        KernelDef v = variant == null ? null : variant.apply(device);
        return v == null ? this : v;
    }

    /** The grid used when the caller's {@link GridScheduler} has none for the task. */
    public WorkerGrid defaultGrid(KernelArgs args) { return grid.apply(args); }

    /** Throws {@link IllegalArgumentException} if the actual arguments do not fit together. */
    public void check(KernelArgs args) {
        if (check != null) check.accept(args);
    }

    /** The {@code -D} options for this variant, then its other compiler options ({@link Builder#compilerOption}). */
    public String buildOptions() {
        StringBuilder sb = new StringBuilder();
        defines.forEach((k, v) -> sb.append(" -D").append(k).append('=').append(v));
        compilerOptions.forEach(o -> sb.append(' ').append(o));
        return sb.toString().trim();
    }

    @Override
    public String toString() { return name; }

    public static final class Builder {
        private String name;
        private final String entryPoint;
        private final String source;
        private final List<Param> params = new ArrayList<>();
        private final Map<String, String> defines = new LinkedHashMap<>();
        private final List<String> compilerOptions = new ArrayList<>();
        private JavaKernel java;
        private Function<KernelArgs, WorkerGrid> grid;
        private Consumer<KernelArgs> check;
        private Function<DeviceInfo, KernelDef> variant;

        private Builder(String entryPoint, String source) {
            this.entryPoint = entryPoint;
            this.source = source;
            this.name = entryPoint;
        }

        public Builder in(String p, DType t) { params.add(Param.buffer(p, t, Param.Access.READ)); return this; }
        public Builder out(String p, DType t) { params.add(Param.buffer(p, t, Param.Access.WRITE)); return this; }
        public Builder inOut(String p, DType t) { params.add(Param.buffer(p, t, Param.Access.READ_WRITE)); return this; }
        public Builder intArg(String p) { params.add(Param.intScalar(p)); return this; }
        public Builder floatArg(String p) { params.add(Param.floatScalar(p)); return this; }

        public Builder define(String key, Object value) {
            defines.put(key, String.valueOf(value));
            name = entryPoint + defines;
            return this;
        }

        /**
         * An OpenCL compiler option other than a define, e.g. NVIDIA's {@code -cl-nv-maxrregcount=128}
         * (only for definitions that run on that vendor's devices: other compilers reject it).
         */
        public Builder compilerOption(String option) {
            if (option == null || !option.matches("-cl-[a-z0-9-]+(=[0-9]+)?")) throw new IllegalArgumentException("not an OpenCL -cl-... option: " + option);
            compilerOptions.add(option);
            name = entryPoint + defines + compilerOptions;
            return this;
        }

        public Builder java(JavaKernel impl) { this.java = impl; return this; }
        public Builder grid(Function<KernelArgs, WorkerGrid> rule) { this.grid = rule; return this; }
        public Builder check(Consumer<KernelArgs> rule) { this.check = rule; return this; }
        /** Adds a rule after the check given so far (a variant's extra arguments). */
        public Builder alsoCheck(Consumer<KernelArgs> rule) { this.check = check == null ? rule : check.andThen(rule); return this; }
        /** Per-device variant (see {@link KernelDef#forDevice}); the rule returns null to keep this definition. */
        public Builder variant(Function<DeviceInfo, KernelDef> rule) { this.variant = rule; return this; }

        public KernelDef build() { return new KernelDef(this); }
    }
}
