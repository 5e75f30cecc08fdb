package org.hsajava.model;

import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.Map;
import org.hsajava.compute.TaskGraph;
import org.hsajava.compute.Tensor;
import org.hsajava.kernels.Bf16Cast;
import org.hsajava.model.config.ParameterInit;
import org.hsajava.model.config.ParameterLayout;
import org.hsajava.model.config.ParameterSpec;

/**
 * Every parameter of a model in ONE flat float tensor, and every gradient in a second one with the
 * same layout, each tensor reachable as a named view (the authors' state-dict names). AdamW is then
 * one launch over the whole buffer and a checkpoint one write. Views start at 1 KiB-aligned offsets
 * ({@link ParameterLayout#ALIGN}) so OpenCL can bind them as sub-buffers.
 *
 * <p>Mixed precision keeps bf16 copies of the weights its GEMMs read ({@link #bf16}, and
 * {@link #bf16Transposed} for {@code dy·W}), in two more flat buffers of the same layout, made from
 * the fp32 parameters (the master weights, which the optimizer updates) by
 * {@link #appendBf16Refresh} once per forward pass, that is once per step.
 */
public final class ModelParameters {
    private final ParameterLayout layout;
    private final Tensor params;
    private final Tensor grads;
    private final Map<String, Tensor> paramViews = new HashMap<>();
    private final Map<String, Tensor> gradViews = new HashMap<>();
    private final Tensor paramsBf16, paramsBf16T;
    private final Map<String, Tensor> bf16Views = new LinkedHashMap<>(), bf16TViews = new LinkedHashMap<>();

    private ModelParameters(ParameterLayout layout) {
        this.layout = layout;
        int n = Math.toIntExact(layout.totalSize());
        this.params = Tensor.f32("params", n);
        this.grads = Tensor.f32("grads", n);
        // Allocated on a device only by plans that use a copy.
        this.paramsBf16 = Tensor.bf16("params.bf16", n);
        this.paramsBf16T = Tensor.bf16("params.bf16t", n);
    }

    /** Zero parameters and gradients for {@code layout}; call {@link #initialize(long)} or load a checkpoint next. */
    public static ModelParameters of(ParameterLayout layout) { return new ModelParameters(layout); }

    /** Fills the host copy of the parameters with the authors' initialisation, seeded. */
    public ModelParameters initialize(long seed) {
        ParameterInit.fill(layout, params.f32(), seed);
        return this;
    }

    public ParameterLayout layout() { return layout; }

    /** The flat parameter tensor (upload it to the device once; the optimizer updates it there). */
    public Tensor all() { return params; }

    /** The flat gradient tensor, same layout. */
    public Tensor allGrads() { return grads; }

    /** The view of one parameter, by state-dict name (a tied {@code lm_head.weight} resolves to the embedding). */
    public Tensor param(String name) { return paramViews.computeIfAbsent(name, n -> view(params, n, "")); }

    /** The view of one parameter's gradient. */
    public Tensor grad(String name) { return gradViews.computeIfAbsent(name, n -> view(grads, n, "grad:")); }

    /** The bf16 copy of a parameter, same shape; up to date after {@link #appendBf16Refresh}'s tasks. */
    public Tensor bf16(String name) { return bf16Views.computeIfAbsent(name, n -> view(paramsBf16, n, "bf16:")); }

    /** The bf16 copy of a 2-D parameter {@code [rows, cols]}, transposed: {@code [cols, rows]}. */
    public Tensor bf16Transposed(String name) {
        return bf16TViews.computeIfAbsent(name, n -> {
            ParameterSpec s = layout.resolve(n);
            if (s.shape().length != 2) throw new IllegalArgumentException("'" + n + "' is not a matrix: " + java.util.Arrays.toString(s.shape()));
            return paramsBf16T.view("bf16t:" + s.name(), Math.toIntExact(s.offset()), s.shape()[1], s.shape()[0]);
        });
    }

    /**
     * Appends the tasks that make every bf16 copy handed out so far from the fp32 parameters: one
     * cast of the whole buffer where any {@link #bf16} copy is used, one transposing cast per
     * {@link #bf16Transposed} copy. Nothing when no copy was asked for.
     */
    public void appendBf16Refresh(TaskGraph g) {
        if (!bf16Views.isEmpty()) g.task("params.toBf16", Bf16Cast.TO_BF16, params, paramsBf16, 1, params.size(), params.size());
        for (Map.Entry<String, Tensor> e : bf16TViews.entrySet()) {
            Tensor w = param(e.getKey()), t = e.getValue();
            g.task("params.toBf16T." + e.getKey(), Bf16Cast.TO_BF16_T, w, t, w.dim(0), w.dim(1), w.dim(1));
        }
    }

    /** True if the layout has this parameter (optional tensors such as biases). */
    public boolean has(String name) { return layout.contains(name) || (name.equals(ParameterLayout.LM_HEAD) && layout.contains(ParameterLayout.EMBEDDINGS)); }

    private Tensor view(Tensor flat, String name, String prefix) {
        ParameterSpec s = layout.resolve(name);
        return flat.view(prefix + s.name(), Math.toIntExact(s.offset()), s.shape());
    }
}
