package org.hsajava.eval.report;

import com.fasterxml.jackson.annotation.JsonInclude;
import java.util.List;
import java.util.Map;

/**
 * The evaluation of one checkpoint over a grid.
 *
 * @param label       how the report names this model ("hsa", "swa_only", or the user's label)
 * @param checkpoint  the folder evaluated
 * @param step        its training step
 * @param modelKind   attention kind: hsa, swa_only or full_causal
 * @param trainLength the checkpoint's {@code train.seq_len}: the context it was trained at
 * @param parameters  parameter count
 * @param model       config highlights (hidden size, layers, chunk size, ...), for the report's summary
 * @param device      the device the cells ran on
 * @param date        when the evaluation started (ISO-8601, UTC)
 * @param commandLine the command that produced it
 * @param heldOutText what the perplexity cells scored (absent without ppl)
 * @param cells       every cell, in grid order
 */
@JsonInclude(JsonInclude.Include.NON_NULL)
public record RunReport(String label, String checkpoint, long step, String modelKind, int trainLength, long parameters,
                        Map<String, Object> model, String device, String date, String commandLine, String heldOutText,
                        List<CellResult> cells) {
    public RunReport {
        cells = List.copyOf(cells);
        model = model == null ? Map.of() : model;
    }

    public RunReport withLabel(String newLabel) {
        return new RunReport(newLabel, checkpoint, step, modelKind, trainLength, parameters, model, device, date, commandLine, heldOutText, cells);
    }
}
