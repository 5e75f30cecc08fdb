package org.hsajava.train.loop;

import com.fasterxml.jackson.databind.JsonNode;
import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.hsajava.train.checkpoint.SafeTensor;
import org.hsajava.train.checkpoint.Safetensors;

/**
 * A {@link BatchSource} that passes another one's rows through unchanged and keeps a copy of every
 * micro-batch, so that the exact rows a run trained on can be written out ({@link #write}) and fed
 * to another implementation: {@code interop/parity/train_parity.py} trains the authors' PyTorch
 * model on them and compares the loss curve step by step.
 *
 * <p>The file is safetensors with {@code inputs} and {@code targets}, I32 {@code [rows, length]},
 * rows in the order they were drawn (micro-batch after micro-batch); a target of -100 carries no
 * loss. Metadata: {@code batch} (rows per micro-batch) and {@code length}.
 */
public final class RecordingBatchSource implements BatchSource {
    private final BatchSource source;
    private final List<int[]> inputs = new ArrayList<>(), targets = new ArrayList<>();
    private int batch = -1, length = -1;

    public RecordingBatchSource(BatchSource source) {
        this.source = source;
    }

    @Override
    public int next(int[] in, int[] out, int batch, int length) {
        if (this.batch >= 0 && (batch != this.batch || length != this.length)) {
            throw new IllegalStateException("recorded micro-batches must all be " + this.batch + " x " + this.length + ", got " + batch + " x " + length);
        }
        this.batch = batch;
        this.length = length;
        int valid = source.next(in, out, batch, length);
        inputs.add(java.util.Arrays.copyOf(in, batch * length));
        targets.add(java.util.Arrays.copyOf(out, batch * length));
        return valid;
    }

    /** Micro-batches recorded so far. */
    public int microBatches() { return inputs.size(); }

    /** Writes every recorded micro-batch (replacing the file). */
    public void write(Path file) throws IOException {
        if (inputs.isEmpty()) throw new IllegalStateException("no micro-batch was drawn, nothing to write to " + file);
        long rows = (long) inputs.size() * batch;
        Safetensors.write(file, List.of(
                SafeTensor.ofInts("inputs", new long[] {rows, length}, concat(inputs)),
                SafeTensor.ofInts("targets", new long[] {rows, length}, concat(targets))),
                Map.of("batch", Integer.toString(batch), "length", Integer.toString(length)));
    }

    private static int[] concat(List<int[]> parts) {
        int n = parts.get(0).length;
        int[] all = new int[Math.multiplyExact(parts.size(), n)];
        for (int i = 0; i < parts.size(); i++) System.arraycopy(parts.get(i), 0, all, i * n, n);
        return all;
    }

    @Override
    public JsonNode position() { return source.position(); }

    @Override
    public void restore(JsonNode position) { source.restore(position); }

    @Override
    public void close() { source.close(); }
}
