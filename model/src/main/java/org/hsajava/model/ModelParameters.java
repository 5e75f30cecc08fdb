package org.hsajava.model;

import java.util.HashMap;
import java.util.Map;
import org.hsajava.compute.Tensor;
import org.hsajava.model.config.ParameterInit;
import org.hsajava.model.config.ParameterLayout;
import org.hsajava.model.config.ParameterSpec;

/**
 * Every parameter of a model in ONE flat float tensor, and every gradient in a second one with the
 * same layout, each tensor reachable as a named view (the authors' state-dict names). AdamW is then
 * one launch over the whole buffer and a checkpoint one write. Views start at 1 KiB-aligned offsets
 * ({@link ParameterLayout#ALIGN}) so OpenCL can bind them as sub-buffers.
 */
public final class ModelParameters {
    private final ParameterLayout layout;
    private final Tensor params;
    private final Tensor grads;
    private final Map<String, Tensor> paramViews = new HashMap<>();
    private final Map<String, Tensor> gradViews = new HashMap<>();

    private ModelParameters(ParameterLayout layout) {
        this.layout = layout;
        int n = Math.toIntExact(layout.totalSize());
        this.params = Tensor.f32("params", n);
        this.grads = Tensor.f32("grads", n);
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

    /** True if the layout has this parameter (optional tensors such as biases). */
    public boolean has(String name) { return layout.contains(name) || (name.equals(ParameterLayout.LM_HEAD) && layout.contains(ParameterLayout.EMBEDDINGS)); }

    private Tensor view(Tensor flat, String name, String prefix) {
        ParameterSpec s = layout.resolve(name);
        return flat.view(prefix + s.name(), Math.toIntExact(s.offset()), s.shape());
    }
}
