package org.hsajava.cli;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import org.hsajava.model.ModelParameters;
import org.hsajava.model.config.ConfigFile;
import org.hsajava.model.config.ParameterLayout;
import org.hsajava.train.checkpoint.CheckpointState;
import org.hsajava.train.checkpoint.CheckpointStore;
import org.hsajava.train.checkpoint.SafeDType;
import org.hsajava.train.checkpoint.SafeTensor;
import org.hsajava.train.checkpoint.Safetensors;
import org.hsajava.train.checkpoint.SafetensorsContent;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import picocli.CommandLine;

/** {@code ./hsa score} on a freshly initialised tiny-cpu checkpoint (S=16, K=4), on the Java backend. */
class ScoreCommandTest {
    private static final int V = 260, L = 64, S = 16;

    @TempDir Path dir;

    private final StringWriter err = new StringWriter();

    @BeforeEach
    void checkpoint() throws Exception {
        ConfigFile file = org.hsajava.eval.TestModels.unmasked("tiny-cpu");  // the selection checks below use the plain eligibility rule
        ModelParameters p = ModelParameters.of(ParameterLayout.of(file.model())).initialize(7);
        int n = p.all().size();
        new CheckpointStore(dir.resolve("run").resolve("checkpoints"), 1)
                .save(new CheckpointState(file.model(), file.train(), 3, new long[] {1}, null, p.all().toF32Array(), new float[n], new float[n]));
    }

    private int hsa(String... args) {
        CommandLine cl = HsaCli.commandLine();
        cl.setErr(new PrintWriter(err, true));
        return cl.execute(args);
    }

    private static long[] randomIds(int b, int l, long seed) {
        SplittableRandom r = new SplittableRandom(seed);
        long[] ids = new long[b * l];
        for (int i = 0; i < ids.length; i++) ids[i] = r.nextInt(V);
        return ids;
    }

    private Path tokens(String name, SafeTensor t) throws Exception {
        Path f = dir.resolve(name);
        Safetensors.write(f, List.of(t), Map.of());
        return f;
    }

    private SafetensorsContent score(Path tokens, String out, String... extra) throws Exception {
        String[] base = {"score", "--checkpoint", dir.resolve("run").toString(), "--tokens", tokens.toString(), "--out", dir.resolve(out).toString(), "--device", "java"};
        String[] args = java.util.Arrays.copyOf(base, base.length + extra.length);
        System.arraycopy(extra, 0, args, base.length, extra.length);
        assertEquals(0, hsa(args), err.toString());
        return Safetensors.read(dir.resolve(out));
    }

    @Test
    void writesLogitsTheirCrossEntropyAndTheSelections() throws Exception {
        long[] ids = randomIds(2, L, 1);
        SafetensorsContent out = score(tokens("ids.safetensors", SafeTensor.ofLongs("input_ids", new long[] {2, L}, ids)), "scores.safetensors");

        assertArrayEquals(new long[] {2, L, V}, out.get("logits").shape());
        float[] logits = out.get("logits").toFloats(), losses = out.get("token_losses").toFloats();
        double sum = 0;
        for (int b = 0; b < 2; b++) {
            for (int p = 0; p < L; p++) {
                int row = b * L + p;
                if (p == L - 1) {
                    assertEquals(0f, losses[row], "the last position has no target");
                    continue;
                }
                // Cross-entropy recomputed in double from the written logits, target = the next token.
                double max = Double.NEGATIVE_INFINITY, z = 0;
                for (int v = 0; v < V; v++) max = Math.max(max, logits[row * V + v]);
                for (int v = 0; v < V; v++) z += Math.exp(logits[row * V + v] - max);
                double ce = max + Math.log(z) - logits[row * V + (int) ids[row + 1]];
                assertEquals(ce, losses[row], 1e-5, "token loss at " + row);
                sum += ce;
            }
        }
        assertEquals(sum / (2 * (L - 1)), out.get("loss").toFloats()[0], 1e-5);
        assertEquals("3", out.metadata().get("step"));

        // tiny-cpu has one retrieval layer, module 3 of the authors' list (2 SWA layers, the chunking layer).
        int slots = Math.min(4, L / S);
        int[] idx = out.get("layers.3.retrieval.indices").toInts();
        float[] w = out.get("layers.3.retrieval.weights").toFloats();
        assertArrayEquals(new long[] {2, L, 1, slots}, out.get("layers.3.retrieval.indices").shape());
        for (int b = 0; b < 2; b++) {
            for (int t = 0; t < L; t++) {
                double total = 0;
                for (int k = 0; k < slots; k++) {
                    int i = (b * L + t) * slots + k;
                    boolean valid = k < t / S;
                    assertTrue(valid ? idx[i] >= 0 && (idx[i] + 1) * S <= t : idx[i] == 0 && w[i] == 0f, "slot " + k + " of token " + t);
                    if (k > 0 && valid) assertTrue(idx[i] < idx[i - 1], "most recent chunk first");
                    total += w[i];
                }
                assertTrue(total <= 1 + 1e-6, "stick-breaking weights sum to at most 1");
            }
        }
    }

    @Test
    void batchSplittingAndOneDimensionalIdsGiveTheSameScores() throws Exception {
        long[] ids = randomIds(2, L, 2);
        SafetensorsContent together = score(tokens("ids.safetensors", SafeTensor.ofLongs("input_ids", new long[] {2, L}, ids)), "together.safetensors");
        SafetensorsContent apart = score(tokens("ids.safetensors", SafeTensor.ofLongs("input_ids", new long[] {2, L}, ids)), "apart.safetensors", "--batch", "1");
        assertArrayEquals(together.get("logits").toFloats(), apart.get("logits").toFloats(), 1e-6f);
        assertArrayEquals(together.get("layers.3.retrieval.indices").toInts(), apart.get("layers.3.retrieval.indices").toInts());

        int[] second = new int[L];
        for (int p = 0; p < L; p++) second[p] = (int) ids[L + p];
        SafetensorsContent one = score(tokens("one.safetensors", SafeTensor.ofInts("input_ids", new long[] {L}, second)), "one.safetensors.out");
        float[] all = together.get("logits").toFloats();
        assertArrayEquals(java.util.Arrays.copyOfRange(all, L * V, 2 * L * V), one.get("logits").toFloats(), 1e-6f);
    }

    @Test
    void laterTokensDoNotChangeEarlierLogits() throws Exception {
        int cut = 37;
        long[] a = randomIds(1, L, 3), b = a.clone();
        long[] tail = randomIds(1, L, 4);
        System.arraycopy(tail, cut, b, cut, L - cut);
        float[] la = score(tokens("a.safetensors", SafeTensor.ofLongs("input_ids", new long[] {1, L}, a)), "a.out").get("logits").toFloats();
        float[] lb = score(tokens("b.safetensors", SafeTensor.ofLongs("input_ids", new long[] {1, L}, b)), "b.out").get("logits").toFloats();
        assertArrayEquals(java.util.Arrays.copyOf(la, cut * V), java.util.Arrays.copyOf(lb, cut * V), 1e-6f, "rows before the change");
        boolean differs = false;
        for (int i = cut * V; i < L * V; i++) differs |= la[i] != lb[i];
        assertTrue(differs, "rows from the change on see the new tokens");
    }

    @Test
    void badTokenFilesAreNamed() throws Exception {
        Path noIds = tokens("x.safetensors", SafeTensor.ofInts("ids", new long[] {4}, new int[] {1, 2, 3, 4}));
        assertEquals(2, hsa("score", "--checkpoint", dir.resolve("run").toString(), "--tokens", noIds.toString(), "--out", dir.resolve("o").toString(), "--device", "java"));
        assertTrue(err.toString().contains("no tensor 'input_ids'"), err.toString());

        Path floats = tokens("f.safetensors", SafeTensor.ofFloats("input_ids", SafeDType.F32, new long[] {4}, new float[] {1, 2, 3, 4}));
        assertEquals(2, hsa("score", "--checkpoint", dir.resolve("run").toString(), "--tokens", floats.toString(), "--out", dir.resolve("o").toString(), "--device", "java"));
        assertTrue(err.toString().contains("must be I32 or I64"), err.toString());

        Path outside = tokens("v.safetensors", SafeTensor.ofInts("input_ids", new long[] {4}, new int[] {1, 2, V, 4}));
        assertEquals(2, hsa("score", "--checkpoint", dir.resolve("run").toString(), "--tokens", outside.toString(), "--out", dir.resolve("o").toString(), "--device", "java"));
        assertTrue(err.toString().contains("token 260 at [0, 2] is outside the vocabulary [0, 260)"), err.toString());

        assertEquals(2, hsa("score", "--checkpoint", dir.resolve("run").toString(), "--tokens", dir.resolve("missing").toString(), "--out", dir.resolve("o").toString()));
        assertTrue(err.toString().contains("--tokens: no file"), err.toString());
    }
}
