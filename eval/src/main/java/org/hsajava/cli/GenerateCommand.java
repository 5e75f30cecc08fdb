package org.hsajava.cli;

import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.Locale;
import java.util.concurrent.Callable;
import org.hsajava.compute.Device;
import org.hsajava.eval.Checkpoints;
import org.hsajava.eval.Sampler;
import org.hsajava.model.ModelParameters;
import org.hsajava.model.config.ParameterLayout;
import org.hsajava.model.stream.IncrementalDecoder;
import org.hsajava.train.checkpoint.CheckpointState;
import org.hsajava.train.text.Tokenizer;
import org.hsajava.train.text.Tokenizers;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

/**
 * {@code ./hsa generate}: continues a prompt with a checkpoint, one token at a time (ring-buffer KV
 * caches, a chunk memory that grows every chunk_size tokens), printing the text as it comes. Stops
 * after {@code --max-tokens} tokens or at the end-of-text token.
 */
@Command(name = "generate", description = "Continue a prompt with a checkpoint (incremental decoding), printing tokens as they are produced.")
public final class GenerateCommand implements Callable<Integer> {
    @Option(names = "--checkpoint", required = true, description = "a checkpoint folder, or a run folder (its latest checkpoint)")
    Path checkpoint;

    @Option(names = "--prompt-file", required = true, description = "UTF-8 text to continue")
    Path promptFile;

    @Option(names = "--max-tokens", defaultValue = "200", description = "tokens to generate at most (default ${DEFAULT-VALUE})")
    int maxTokens;

    @Option(names = "--temperature", defaultValue = "0", description = "sampling temperature; 0 = greedy (default ${DEFAULT-VALUE})")
    double temperature;

    @Option(names = "--top-k", defaultValue = "0", description = "sample among the K most likely tokens; 0 = all (default ${DEFAULT-VALUE})")
    int topK;

    @Option(names = "--seed", defaultValue = "1", description = "sampling seed (default ${DEFAULT-VALUE})")
    long seed;

    @Mixin
    DeviceOption device;

    @Override
    public Integer call() throws Exception {
        if (maxTokens < 1) throw new IllegalArgumentException("--max-tokens must be >= 1, got " + maxTokens);
        Sampler sampler = new Sampler(temperature, topK, seed);
        if (!Files.isRegularFile(promptFile)) throw new IllegalArgumentException("--prompt-file " + promptFile + " is not a readable file");
        String prompt = Files.readString(promptFile, StandardCharsets.UTF_8);
        CheckpointState state = Checkpoints.load(checkpoint);
        Tokenizer tokenizer = Tokenizers.create(state.train().tokenizer());
        int[] ids = tokenizer.encode(prompt);
        if (ids.length == 0) throw new IllegalArgumentException("--prompt-file " + promptFile + " is empty: there is nothing to continue");
        ModelParameters p = ModelParameters.of(ParameterLayout.of(state.model()));
        p.all().set(state.parameters());
        Device d = device.device();
        PrintStream err = System.err;
        err.printf(Locale.ROOT, "Checkpoint %s (step %d) on %s: %d prompt tokens%n", checkpoint, state.step(), d, ids.length);
        long t0 = System.nanoTime();
        int[] generated = new int[maxTokens];
        int n = 0;
        try (IncrementalDecoder decoder = new IncrementalDecoder(state.model(), p, d, ids.length + maxTokens)) {
            float[] logits = null;
            for (int id : ids) logits = decoder.step(id);
            long t1 = System.nanoTime();
            TextStream out = new TextStream(tokenizer, System.out);
            while (n < maxTokens) {
                int next = sampler.next(logits);
                if (next == tokenizer.eos()) break;
                generated[n++] = next;
                out.show(Arrays.copyOf(generated, n));
                if (n < maxTokens) logits = decoder.step(next);
            }
            out.finish(Arrays.copyOf(generated, n));
            long t2 = System.nanoTime();
            err.printf(Locale.ROOT, "prompt %.1f tokens/s, generation %.1f tokens/s, device memory %s%n",
                    ids.length / ((t1 - t0) / 1e9), n / Math.max(1e-9, (t2 - t1) / 1e9), DevicesCommand.bytes(decoder.deviceBytes()));
        }
        return 0;
    }

    /**
     * Prints the decoded continuation as it grows. A token can end in the middle of a UTF-8
     * character (byte tokenizer): a trailing replacement character is held back until the next
     * token completes it, or printed at the end.
     */
    static final class TextStream {
        private final Tokenizer tokenizer;
        private final PrintStream out;
        private int printed;

        TextStream(Tokenizer tokenizer, PrintStream out) {
            this.tokenizer = tokenizer;
            this.out = out;
        }

        void show(int[] ids) {
            String text = tokenizer.decode(ids);
            int upTo = text.length();
            while (upTo > printed && text.charAt(upTo - 1) == '\uFFFD') upTo--;
            emit(text, upTo);
        }

        void finish(int[] ids) {
            String text = tokenizer.decode(ids);
            emit(text, text.length());
            out.println();
            out.flush();
        }

        private void emit(String text, int upTo) {
            if (upTo <= printed) return;
            out.print(text.substring(printed, upTo));
            out.flush();
            printed = upTo;
        }
    }
}
