package org.hsajava.train.checkpoint;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import org.hsajava.model.config.ModelConfig;
import org.hsajava.model.config.ParameterLayout;
import org.hsajava.model.config.TrainConfig;

/**
 * Everything needed to resume training exactly: configs, step, RNG state, where the data stream
 * stands (an opaque JSON object owned by the data loader), the flat parameter buffer laid out by
 * {@link ParameterLayout#of}, and AdamW's first and second moments in the same layout.
 *
 * @param model        model config; determines the layout of the three buffers
 * @param train        training recipe
 * @param step         optimizer steps taken (AdamW's bias-correction step)
 * @param rngState     the trainer's RNG state words
 * @param dataPosition the data loader's resume position, any JSON object
 * @param parameters   flat parameter buffer, {@code layout.totalSize()} floats
 * @param adamM        AdamW first moments (exp_avg), same layout; null in a weights-only state
 * @param adamV        AdamW second moments (exp_avg_sq), same layout; null in a weights-only state
 */
public record CheckpointState(
        ModelConfig model,
        TrainConfig train,
        long step,
        long[] rngState,
        JsonNode dataPosition,
        float[] parameters,
        float[] adamM,
        float[] adamV) {

    public CheckpointState {
        if (model == null || train == null) throw new IllegalArgumentException("model and train configs are required");
        if (step < 0) throw new IllegalArgumentException("step must be >= 0, got " + step);
        rngState = rngState == null ? new long[0] : rngState.clone();
        if (dataPosition == null) dataPosition = JsonNodeFactory.instance.objectNode();
        if (!dataPosition.isObject()) throw new IllegalArgumentException("dataPosition must be a JSON object, got " + dataPosition);
        long size = ParameterLayout.of(model).totalSize();
        checkLength("parameters", parameters, size);
        if ((adamM == null) != (adamV == null)) throw new IllegalArgumentException("adamM and adamV must both be given or both be null");
        if (adamM != null) {
            checkLength("adamM", adamM, size);
            checkLength("adamV", adamV, size);
        }
    }

    /** False for a weights-only checkpoint (shipped models): it can be evaluated or used with --init-from, not resumed. */
    public boolean hasOptimizerState() { return adamM != null; }

    /** This state without the optimizer moments. */
    public CheckpointState weightsOnly() { return new CheckpointState(model, train, step, rngState, dataPosition, parameters, null, null); }

    private static void checkLength(String what, float[] a, long size) {
        if (a == null || a.length != size) {
            throw new IllegalArgumentException(what + " must hold the layout's " + size + " floats, got "
                    + (a == null ? "null" : a.length));
        }
    }

    public ParameterLayout layout() { return ParameterLayout.of(model); }
}
