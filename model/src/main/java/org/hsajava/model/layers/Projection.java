package org.hsajava.model.layers;

import org.hsajava.compute.Tensor;
import org.hsajava.model.ModelParameters;

/**
 * The parameters of one {@link Linear} projection: the weight {@code w [out, in]}, the optional bias
 * {@code b [out]}, their gradients, and where the context keeps bf16 copies
 * ({@link LayerContext#bf16Copies}) the weight's copies as stored ({@code w16}, for {@code x·Wᵀ})
 * and transposed ({@code w16t [in, out]}, for {@code dy·W}). Absent tensors are null.
 */
public record Projection(Tensor w, Tensor b, Tensor dw, Tensor db, Tensor w16, Tensor w16t) {

    /** The projection {@code prefix + ".weight"} (and {@code ".bias"} where the model has one). */
    public static Projection of(LayerContext ctx, String prefix) {
        ModelParameters p = ctx.params();
        String weight = prefix + ".weight", bias = prefix + ".bias";
        boolean hasBias = p.has(bias);
        boolean copies = ctx.bf16Copies();
        return new Projection(p.param(weight), hasBias ? p.param(bias) : null, p.grad(weight), hasBias ? p.grad(bias) : null,
                copies ? p.bf16(weight) : null, copies ? p.bf16Transposed(weight) : null);
    }

    /** A projection without bf16 copies; {@code b}, {@code dw}, {@code db} may be null. */
    public static Projection of(Tensor w, Tensor b, Tensor dw, Tensor db) { return new Projection(w, b, dw, db, null, null); }
}
