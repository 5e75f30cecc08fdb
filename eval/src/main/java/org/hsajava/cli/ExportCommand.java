package org.hsajava.cli;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.Callable;
import org.hsajava.eval.Checkpoints;
import org.hsajava.model.config.ParameterLayout;
import org.hsajava.train.checkpoint.Checkpoint;
import org.hsajava.train.checkpoint.CheckpointState;
import org.hsajava.train.checkpoint.ModelWeights;
import org.hsajava.train.checkpoint.SafeDType;
import org.hsajava.train.checkpoint.Safetensors;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/**
 * {@code ./hsa export --checkpoint DIR --format hf --out DIR2}: the authors' layout, for their
 * {@code DRTForCausalLM}: {@code config.json} (their field names) and {@code model.safetensors}
 * (their state-dict names and shapes; a tied {@code lm_head.weight} is left to the tie).
 * {@code --format weights}: our own checkpoint without the optimizer state (a third of the size, for
 * shipping a trained model: {@code checkpoints/tiny-passkey}); it evaluates and starts runs
 * ({@code --init-from}) like the original, but cannot be resumed.
 */
@Command(name = "export", description = "Write a checkpoint in the authors' PyTorch layout (config.json + model.safetensors), or as a weights-only checkpoint.")
public final class ExportCommand implements Callable<Integer> {
    @Option(names = "--checkpoint", required = true, description = "a checkpoint folder, or a run folder (its latest checkpoint)")
    Path checkpoint;

    @Option(names = "--format", defaultValue = "hf", description = "hf: the authors' layout (default); weights: a weights-only checkpoint of ours")
    String format;

    @Option(names = "--dtype", defaultValue = "float32", description = "float32 (lossless, default) or bfloat16 (as their training saves)")
    String dtype;

    @Option(names = "--out", required = true, description = "output folder (hf: created, existing files of the same names are replaced; weights: written atomically, replacing an earlier checkpoint there)")
    Path out;

    @Override
    public Integer call() throws Exception {
        if (!format.equals("hf") && !format.equals("weights")) throw new IllegalArgumentException("--format: 'hf' or 'weights', got '" + format + "'");
        if (format.equals("weights")) {
            if (!dtype.equals("float32")) throw new IllegalArgumentException("--dtype: a weights-only checkpoint is float32, got '" + dtype + "'");
            CheckpointState state = Checkpoints.load(checkpoint).weightsOnly();
            Checkpoint.write(out, state);
            System.out.printf("Exported step %d (%,d parameters, weights only) to %s%n", state.step(), ParameterLayout.of(state.model()).parameterCount(), out);
            return 0;
        }
        SafeDType type = switch (dtype) {
            case "float32" -> SafeDType.F32;
            case "bfloat16" -> SafeDType.BF16;
            default -> throw new IllegalArgumentException("--dtype: float32 or bfloat16, got '" + dtype + "'");
        };
        CheckpointState state = Checkpoints.load(checkpoint);
        Files.createDirectories(out);
        ParameterLayout layout = ParameterLayout.of(state.model());
        Safetensors.write(out.resolve("model.safetensors"), ModelWeights.tensors(layout, state.parameters(), type), ModelWeights.METADATA);
        new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT).writeValue(out.resolve("config.json").toFile(), state.model().toAuthorsConfigJson());
        System.out.printf("Exported step %d (%,d parameters, %s) to %s%n", state.step(), layout.parameterCount(), dtype, out);
        return 0;
    }
}
