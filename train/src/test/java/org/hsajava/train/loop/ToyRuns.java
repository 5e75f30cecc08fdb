package org.hsajava.train.loop;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.hsajava.compute.Device;
import org.hsajava.model.config.LossTokens;
import org.hsajava.model.config.TrainConfig;
import org.hsajava.train.text.Tokenizers;
import org.hsajava.train.toy.BigramModel;

/** Tiny bigram training runs over a tiny corpus, shared by the trainer tests. */
final class ToyRuns {
    static final int VOCAB = 260, DIM = 16;

    private ToyRuns() {}

    /** A JSONL corpus of 24 short documents with strong bigram structure. */
    static Path corpus(Path dir) throws IOException {
        List<String> lines = new ArrayList<>();
        String[] words = {"the cat sat on the mat", "a dog ran to the log", "the sun is hot", "we see a red hen"};
        for (int i = 0; i < 24; i++) {
            lines.add("{\"text\": \"" + words[i % words.length] + ". " + words[(i * 7 + 1) % words.length] + ".\"}");
        }
        Path p = dir.resolve("tiny.jsonl");
        Files.write(p, lines);
        return p;
    }

    static TrainConfig config(int batch, int length, long steps, int accum, Path corpus, long checkpointInterval) {
        return config(batch, length, steps, accum, corpus, checkpointInterval, 0.01);
    }

    static TrainConfig config(int batch, int length, long steps, int accum, Path corpus, long checkpointInterval, double lr) {
        return new TrainConfig(batch, length, steps, lr, 3, 0.2, 0.01, 0.9, 0.95, 1e-8, 1.0, accum, 7,
                "byte", corpus.toString(), Map.of("corpus", 1.0), LossTokens.ALL, checkpointInterval, 3, 1000);
    }

    static Trainer trainer(Device d, TrainConfig t, Path runDir) {
        BigramModel m = BigramModel.create(BigramModel.config(VOCAB, DIM, 0.02), d, t.batchSize(), t.seqLen(), t.seed());
        MixedBatchSource data = new MixedBatchSource(t, Tokenizers.create(t.tokenizer()), t.seqLen(), null);
        return new Trainer(m, t, data, runDir);
    }

    /** Runs steps until {@code last} and returns their losses (steps already taken excluded). */
    static double[] losses(Trainer tr, long last) throws IOException {
        List<Double> out = new ArrayList<>();
        tr.withListener((t, m) -> out.add(m.loss()));
        tr.runUntil(last);
        return out.stream().mapToDouble(Double::doubleValue).toArray();
    }
}
