package org.hsajava.cli;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.Callable;
import org.hsajava.compute.Device;
import org.hsajava.eval.Checkpoints;
import org.hsajava.eval.TokenScores;
import org.hsajava.train.checkpoint.CheckpointState;
import org.hsajava.train.checkpoint.SafeDType;
import org.hsajava.train.checkpoint.SafeTensor;
import org.hsajava.train.checkpoint.Safetensors;
import org.hsajava.train.checkpoint.SafetensorsContent;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

/**
 * {@code ./hsa score --checkpoint DIR --tokens FILE --out FILE}: a checkpoint's logits, per-token
 * losses and chunk selections on given token ids, for comparison with another implementation (the
 * parity harness in interop/parity runs the authors' PyTorch model on the same ids).
 *
 * <p>Both files are safetensors. In: {@code input_ids}, I32 or I64, {@code [B, L]} (or {@code [L]}
 * for one sequence). Out: {@code logits} F32 {@code [B, L, V]}; {@code token_losses} F32
 * {@code [B, L]} (cross-entropy of position p predicting token p+1, 0 at the last position);
 * {@code loss} F32 {@code [1]} (their mean); for each retrieval layer {@code layers.N.retrieval.indices}
 * I32 and {@code .weights} F32, {@code [B, L, Hk, K']}; metadata: checkpoint, step, device.
 */
@Command(name = "score", description = "Logits, per-token losses and chunk selections of a checkpoint on given token ids (safetensors in and out).")
public final class ScoreCommand implements Callable<Integer> {
    static final String INPUT_IDS = "input_ids";

    @Option(names = "--checkpoint", required = true, description = "a checkpoint folder, or a run folder (its latest checkpoint)")
    Path checkpoint;

    @Option(names = "--tokens", required = true, description = "safetensors file with input_ids (I32 or I64, [B, L] or [L])")
    Path tokens;

    @Option(names = "--out", required = true, description = "safetensors file to write (replaced if it exists)")
    Path out;

    @Option(names = "--batch", defaultValue = "8", description = "sequences per forward pass (default ${DEFAULT-VALUE})")
    int batch;

    @Mixin
    DeviceOption device;

    @Override
    public Integer call() throws Exception {
        if (!Files.isRegularFile(tokens)) throw new IllegalArgumentException("--tokens: no file " + tokens);
        int[][] ids = readTokens(Safetensors.read(tokens));
        CheckpointState state = Checkpoints.load(checkpoint);
        Device d = device.device();
        long t0 = System.nanoTime();
        TokenScores s = TokenScores.compute(state.model(), state.parameters(), d, ids, batch);
        double seconds = (System.nanoTime() - t0) / 1e9;

        long b = s.sequences(), l = s.length();
        List<SafeTensor> outTensors = new ArrayList<>();
        outTensors.add(SafeTensor.ofFloats("logits", SafeDType.F32, new long[] {b, l, s.vocab()}, s.logits()));
        outTensors.add(SafeTensor.ofFloats("token_losses", SafeDType.F32, new long[] {b, l}, s.tokenLosses()));
        outTensors.add(SafeTensor.ofFloats("loss", SafeDType.F32, new long[] {1}, new float[] {(float) s.loss()}));
        s.selections().forEach((name, sel) -> {
            long[] shape = {b, l, sel.heads(), sel.slots()};
            outTensors.add(SafeTensor.ofInts(name + ".indices", shape, sel.indices()));
            outTensors.add(SafeTensor.ofFloats(name + ".weights", SafeDType.F32, shape, sel.weights()));
        });
        Map<String, String> metadata = new LinkedHashMap<>();
        metadata.put("checkpoint", checkpoint.toString());
        metadata.put("step", Long.toString(state.step()));
        metadata.put("device", d.name());
        if (out.toAbsolutePath().getParent() != null) Files.createDirectories(out.toAbsolutePath().getParent());
        Safetensors.write(out, outTensors, metadata);
        System.out.printf(Locale.ROOT, "Scored %d x %d tokens with step %d on %s in %.1f s: loss %.6f; wrote %s%n",
                b, l, state.step(), d.name(), seconds, s.loss(), out);
        return 0;
    }

    /** The {@code input_ids} tensor as B rows of L ids; errors name the tensor and what is wrong. */
    static int[][] readTokens(SafetensorsContent content) {
        SafeTensor t = content.tensors().get(INPUT_IDS);
        if (t == null) throw new IllegalArgumentException("--tokens: " + content.source() + " has no tensor '" + INPUT_IDS + "' (it has " + content.tensors().keySet() + ")");
        long[] shape = t.shape();
        if (shape.length < 1 || shape.length > 2) {
            throw new IllegalArgumentException("--tokens: " + INPUT_IDS + " must be [B, L] or [L], got shape " + java.util.Arrays.toString(shape));
        }
        if (t.dtype() != SafeDType.I32 && t.dtype() != SafeDType.I64) {
            throw new IllegalArgumentException("--tokens: " + INPUT_IDS + " must be I32 or I64, got " + t.dtype());
        }
        int rows = shape.length == 2 ? Math.toIntExact(shape[0]) : 1, cols = Math.toIntExact(shape[shape.length - 1]);
        long[] values = t.dtype() == SafeDType.I64 ? t.toLongs() : java.util.Arrays.stream(t.toInts()).asLongStream().toArray();
        int[][] ids = new int[rows][cols];
        for (int r = 0; r < rows; r++) {
            for (int c = 0; c < cols; c++) {
                long v = values[r * cols + c];
                if (v < Integer.MIN_VALUE || v > Integer.MAX_VALUE) throw new IllegalArgumentException("--tokens: " + INPUT_IDS + " value " + v + " at [" + r + ", " + c + "] is out of range");
                ids[r][c] = (int) v;
            }
        }
        return ids;
    }
}
