package org.hsajava.model.layers;

import java.util.SplittableRandom;
import java.util.stream.Stream;
import org.hsajava.compute.Device;
import org.hsajava.compute.ExecutionPlan;
import org.hsajava.compute.TaskGraph;
import org.hsajava.compute.testing.TestDevices;
import org.hsajava.model.ModelParameters;
import org.hsajava.model.config.AttentionKind;
import org.hsajava.model.config.ModelConfig;
import org.hsajava.model.config.ParameterLayout;
import org.hsajava.model.config.ParameterSpec;
import org.hsajava.model.config.WeightDType;
import org.hsajava.model.reference.GradCheck;
import org.hsajava.model.reference.SwaReference;

/** Shared set-up of the SWA-side layer tests: tiny configs, random parameters, pre-filled gradients. */
final class LayerTests {
    private LayerTests() {}

    static Stream<Device> devices() { return Stream.of(TestDevices.java(), TestDevices.opencl()); }

    /** A baseline (no HSA) config; hd = d / hq, max positions 128, pad id 0. */
    static ModelConfig swaConfig(AttentionKind kind, int vocab, int d, int inter, int hq, int hs, int layers, int window,
                                 boolean tie, boolean bias) {
        return new ModelConfig(kind, vocab, d, inter, hq, hs, d / hq, layers, window, 10000, 1e-6, 1e-5, 0.02,
                tie, bias, WeightDType.FLOAT32, 0, 128, null);
    }

    /**
     * Parameters far from their init so every one matters: matrices N(0, 0.25), norm weights
     * 1 + N(0, 0.2), biases N(0, 0.1).
     */
    static ModelParameters randomParams(ModelConfig c, long seed) {
        ModelParameters p = ModelParameters.of(ParameterLayout.of(c));
        SplittableRandom r = new SplittableRandom(seed);
        float[] flat = p.all().f32();
        for (ParameterSpec s : p.layout().specs()) {
            for (long i = s.offset(); i < s.end(); i++) {
                double g = gaussian(r);
                flat[(int) i] = (float) switch (s.init()) {
                    case NORMAL -> 0.25 * g;
                    case ONES -> 1 + 0.2 * g;
                    case ZEROS -> 0.1 * g;
                };
            }
        }
        return p;
    }

    /** Fills the gradient buffer with noise (backward must ADD to it) and returns a copy of it. */
    static float[] prefillGrads(ModelParameters p, long seed) {
        float[] g = p.allGrads().f32();
        SplittableRandom r = new SplittableRandom(seed);
        for (int i = 0; i < g.length; i++) g[i] = (float) (0.1 * gaussian(r));
        return g.clone();
    }

    /** The gradient the backward added to parameter {@code name}: its downloaded value minus the pre-fill. */
    static float[] added(ModelParameters p, String name, float[] prefill) {
        ParameterSpec s = p.layout().resolve(name);
        float[] now = p.allGrads().f32();
        float[] out = new float[(int) s.size()];
        for (int i = 0; i < out.length; i++) out[i] = now[(int) s.offset() + i] - prefill[(int) s.offset() + i];
        return out;
    }

    static float[] minus(float[] a, float[] b) {
        float[] c = new float[a.length];
        for (int i = 0; i < a.length; i++) c[i] = a[i] - b[i];
        return c;
    }

    /** Finite-difference check of every parameter whose name starts with {@code prefix}. */
    static void checkParameterGradients(ModelParameters p, SwaReference ref, String prefix, float[] prefill,
                                        java.util.function.DoubleSupplier f, int samples, double tol) {
        int checked = 0;
        for (ParameterSpec s : p.layout().specs()) {
            if (!s.name().startsWith(prefix)) continue;
            GradCheck.check(s.name(), v -> f.getAsDouble(), ref.params.get(s.name()), added(p, s.name(), prefill), samples, tol, s.name().hashCode());
            checked++;
        }
        if (checked == 0) throw new AssertionError("no parameters under " + prefix);
    }

    static void run(Device d, TaskGraph g) {
        try (ExecutionPlan plan = new ExecutionPlan(g.snapshot()).withDevice(d)) {
            plan.execute();
        }
    }

    private static double gaussian(SplittableRandom r) {
        double u = 1.0 - r.nextDouble(), v = r.nextDouble();
        return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * v);
    }
}
