package org.hsajava.train.checkpoint;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.hsajava.model.config.ParameterLayout;
import org.hsajava.model.config.ParameterSpec;

/**
 * {@code model.safetensors}: every parameter under its authors' state-dict name, so
 * {@code DRTForCausalLM.load_state_dict(safetensors.torch.load_file(...))} sees the keys it
 * expects. Tied models store only the embedding (PyTorch re-ties lm_head on load).
 */
public final class ModelWeights {
    /** Hugging Face's loader refuses safetensors files without {@code format} in their metadata. */
    public static final Map<String, String> METADATA = Map.of("format", "pt");

    private ModelWeights() {}

    /** The parameters of the flat buffer as safetensors tensors (F32, BF16 or F16), in layout order. */
    public static List<SafeTensor> tensors(ParameterLayout layout, float[] parameters, SafeDType dtype) {
        checkLength(layout, parameters);
        List<SafeTensor> out = new ArrayList<>();
        for (ParameterSpec s : layout.specs()) {
            out.add(SafeTensor.ofFloats(s.name(), dtype, toLongs(s.shape()), parameters, Math.toIntExact(s.offset())));
        }
        return out;
    }

    public static byte[] encode(ParameterLayout layout, float[] parameters, SafeDType dtype) {
        return Safetensors.encode(tensors(layout, parameters, dtype), METADATA);
    }

    /**
     * Copies every parameter of the layout from a parsed file into {@code dst} (any float dtype is
     * converted). Every layout tensor must be present with its exact shape; any other tensor is an
     * error, except {@code lm_head.weight} of a tied model when it equals the embedding (PyTorch's
     * state_dict of a tied model holds both keys, the same tensor); a different one would be lost in
     * the tie, so it is refused.
     */
    public static void readInto(SafetensorsContent file, ParameterLayout layout, float[] dst) throws SafetensorsFormatException {
        checkLength(layout, dst);
        Set<String> expected = new HashSet<>();
        for (ParameterSpec s : layout.specs()) {
            expected.add(s.name());
            SafeTensor t = file.get(s.name());
            requireShape(file.source(), t, s.shape());
            if (!t.dtype().isFloat()) {
                throw new SafetensorsFormatException(file.source(), "tensor '" + s.name() + "' is " + t.dtype() + ", expected a float type");
            }
            t.copyFloatsTo(dst, Math.toIntExact(s.offset()));
        }
        for (SafeTensor t : file.tensors().values()) {
            if (expected.contains(t.name())) continue;
            if (t.name().equals(ParameterLayout.LM_HEAD) && layout.config().tieWordEmbeddings()) {
                requireTiedCopy(file, t, layout);
                continue;
            }
            throw new SafetensorsFormatException(file.source(), "tensor '" + t.name() + "' is not a parameter of this model");
        }
    }

    /** A tied model's file may carry lm_head.weight only as a copy of the embedding (compared after conversion to float). */
    static void requireTiedCopy(SafetensorsContent file, SafeTensor head, ParameterLayout layout) throws SafetensorsFormatException {
        ParameterSpec emb = layout.get(ParameterLayout.EMBEDDINGS);
        requireShape(file.source(), head, emb.shape());
        float[] a = head.toFloats(), b = file.get(ParameterLayout.EMBEDDINGS).toFloats();
        for (int i = 0; i < a.length; i++) {
            if (Float.floatToIntBits(a[i]) != Float.floatToIntBits(b[i])) {
                throw new SafetensorsFormatException(file.source(), "tensor '" + ParameterLayout.LM_HEAD + "' differs from '" + ParameterLayout.EMBEDDINGS
                        + "' (first at element " + i + ": " + a[i] + " vs " + b[i] + ") but tie_word_embeddings is true: the head would be lost; "
                        + "set tie_word_embeddings to false in config.json if the head is trained separately");
            }
        }
    }

    static void requireShape(String source, SafeTensor t, int[] shape) throws SafetensorsFormatException {
        if (!Arrays.equals(t.shape(), toLongs(shape))) {
            throw new SafetensorsFormatException(source, "tensor '" + t.name() + "' has shape " + Arrays.toString(t.shape())
                    + ", the model expects " + Arrays.toString(shape));
        }
    }

    static long[] toLongs(int[] shape) {
        long[] l = new long[shape.length];
        for (int i = 0; i < shape.length; i++) l[i] = shape[i];
        return l;
    }

    static void checkLength(ParameterLayout layout, float[] buffer) {
        if (buffer.length != layout.totalSize()) {
            throw new IllegalArgumentException("buffer has " + buffer.length + " floats, the layout needs " + layout.totalSize());
        }
    }
}
