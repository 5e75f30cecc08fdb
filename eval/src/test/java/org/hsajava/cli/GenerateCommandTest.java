package org.hsajava.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import org.hsajava.compute.Devices;
import org.hsajava.eval.TestModels;
import org.hsajava.model.ModelParameters;
import org.hsajava.model.config.ConfigFile;
import org.hsajava.train.checkpoint.CheckpointState;
import org.hsajava.train.checkpoint.CheckpointStore;
import org.hsajava.train.text.ByteTokenizer;
import org.hsajava.train.text.Tokenizer;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import picocli.CommandLine;

/** {@code ./hsa generate}: greedy output is the argmax chain of full forward passes; bad input is named. */
class GenerateCommandTest {
    @TempDir Path dir;

    private Path checkpoint(ConfigFile file, ModelParameters p) throws Exception {
        int n = p.all().size();
        new CheckpointStore(dir.resolve("run").resolve("checkpoints"), 1)
                .save(new CheckpointState(file.model(), file.train(), 7, new long[] {1}, null, p.all().toF32Array(), new float[n], new float[n]));
        return dir.resolve("run");
    }

    private record Run(int rc, String out, String err) {}

    private Run run(String... args) {
        StringWriter err = new StringWriter();
        CommandLine cl = HsaCli.commandLine();
        cl.setErr(new PrintWriter(err, true));
        PrintStream keep = System.out;
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        System.setOut(new PrintStream(out, true, StandardCharsets.UTF_8));
        try {
            return new Run(cl.execute(args), out.toString(StandardCharsets.UTF_8), err.toString());
        } finally {
            System.setOut(keep);
        }
    }

    @Test
    void greedyGenerationIsTheFullForwardArgmaxChain() throws Exception {
        ConfigFile file = TestModels.config("tiny-cpu");
        ModelParameters p = TestModels.params(file.model(), 9);
        Path run = checkpoint(file, p);
        String prompt = "The passkey is 31415. Remember it. ";
        Files.writeString(dir.resolve("prompt.txt"), prompt);
        int tokens = 40;
        Run r = run("generate", "--checkpoint", run.toString(), "--prompt-file", dir.resolve("prompt.txt").toString(),
                "--max-tokens", String.valueOf(tokens), "--device", "java");
        assertEquals(0, r.rc(), r.err());

        Tokenizer tok = new ByteTokenizer();
        int[] seq = tok.encode(prompt);
        int[] generated = new int[0];
        for (int i = 0; i < tokens; i++) {
            float[] logits = TestModels.fullLogits(file.model(), p, Devices.select("java"), seq);
            int v = file.model().vocabSize(), best = 0, row = seq.length - 1;
            for (int k = 1; k < v; k++) if (logits[row * v + k] > logits[row * v + best]) best = k;
            if (best == tok.eos()) break;
            generated = Arrays.copyOf(generated, generated.length + 1);
            generated[generated.length - 1] = best;
            seq = Arrays.copyOf(seq, seq.length + 1);
            seq[seq.length - 1] = best;
        }
        assertEquals(tok.decode(generated) + System.lineSeparator(), r.out());
    }

    @Test
    void badInputIsNamed() throws Exception {
        ConfigFile file = TestModels.config("tiny-cpu");
        Path run = checkpoint(file, TestModels.params(file.model(), 1));
        Files.writeString(dir.resolve("empty.txt"), "");
        Run r = run("generate", "--checkpoint", run.toString(), "--prompt-file", dir.resolve("empty.txt").toString(), "--device", "java");
        assertEquals(2, r.rc());
        assertTrue(r.err().contains("--prompt-file") && r.err().contains("empty"), r.err());
        r = run("generate", "--checkpoint", run.toString(), "--prompt-file", dir.resolve("missing.txt").toString(), "--device", "java");
        assertEquals(2, r.rc());
        assertTrue(r.err().contains("--prompt-file"), r.err());
        Files.writeString(dir.resolve("p.txt"), "hi");
        r = run("generate", "--checkpoint", run.toString(), "--prompt-file", dir.resolve("p.txt").toString(), "--temperature", "-1", "--device", "java");
        assertEquals(2, r.rc());
        assertTrue(r.err().contains("--temperature"), r.err());
    }

    @Test
    void textStreamHoldsBackAHalfWrittenCharacter() {
        Tokenizer tok = new ByteTokenizer();
        ByteArrayOutputStream bytes = new ByteArrayOutputStream();
        PrintStream out = new PrintStream(bytes, true, StandardCharsets.UTF_8);
        GenerateCommand.TextStream s = new GenerateCommand.TextStream(tok, out);
        int[] ids = tok.encode("aé");   // 'a', then two bytes for é
        s.show(Arrays.copyOf(ids, 1));
        s.show(Arrays.copyOf(ids, 2));
        assertEquals("a", bytes.toString(StandardCharsets.UTF_8), "half of é must not print as a replacement character");
        s.show(ids);
        s.finish(ids);
        assertEquals("aé" + System.lineSeparator(), bytes.toString(StandardCharsets.UTF_8));
    }
}
