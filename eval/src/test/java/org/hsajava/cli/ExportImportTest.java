package org.hsajava.cli;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import org.hsajava.eval.Checkpoints;
import org.hsajava.model.ModelParameters;
import org.hsajava.model.config.ConfigFile;
import org.hsajava.model.config.ParameterLayout;
import org.hsajava.train.checkpoint.CheckpointState;
import org.hsajava.train.checkpoint.CheckpointStore;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;
import picocli.CommandLine;

/** Checkpoint → the authors' layout → checkpoint is lossless, for the HSA model and both baselines. */
class ExportImportTest {
    @TempDir Path dir;

    private final StringWriter err = new StringWriter();

    private int hsa(String... args) {
        CommandLine cl = HsaCli.commandLine();
        cl.setErr(new PrintWriter(err, true));
        return cl.execute(args);
    }

    @ParameterizedTest
    @ValueSource(strings = {"tiny-cpu", "tiny-swa", "tiny-full"})
    void roundTripIsLossless(String config) throws Exception {
        ConfigFile file = ConfigFile.read(Path.of("..", "configs", config + ".json"));
        float[] params = ModelParameters.of(ParameterLayout.of(file.model())).initialize(17).all().toF32Array();
        int n = params.length;
        new CheckpointStore(dir.resolve("run").resolve("checkpoints"), 1)
                .save(new CheckpointState(file.model(), file.train(), 9, new long[] {1}, null, params, new float[n], new float[n]));

        assertEquals(0, hsa("export", "--checkpoint", dir.resolve("run").toString(), "--out", dir.resolve("hf").toString()), err.toString());
        assertTrue(Files.exists(dir.resolve("hf").resolve("config.json")) && Files.exists(dir.resolve("hf").resolve("model.safetensors")));
        assertEquals(0, hsa("import", "--hf", dir.resolve("hf").toString(), "--out", dir.resolve("back").toString(),
                "--config", Path.of("..", "configs", config + ".json").toString()), err.toString());

        CheckpointState back = Checkpoints.load(dir.resolve("back"));
        assertEquals(file.model().toAuthorsConfigJson(), back.model().toAuthorsConfigJson(), "the authors' config after the round trip");
        // full_causal has no window (the authors write -1): every other field must come back exactly.
        if (!config.equals("tiny-full")) assertEquals(file.model(), back.model(), "model config after the round trip");
        assertArrayEquals(params, back.parameters(), 0f);
        assertEquals(0, back.step());

        // Exporting the imported checkpoint gives the same bytes again.
        assertEquals(0, hsa("export", "--checkpoint", dir.resolve("back").toString(), "--out", dir.resolve("hf2").toString()), err.toString());
        assertArrayEquals(Files.readAllBytes(dir.resolve("hf").resolve("model.safetensors")), Files.readAllBytes(dir.resolve("hf2").resolve("model.safetensors")));
    }

    @org.junit.jupiter.api.Test
    void optionsWeDoNotModelAreNamed() throws Exception {
        ConfigFile file = ConfigFile.read(Path.of("..", "configs", "tiny-cpu.json"));
        float[] params = ModelParameters.of(ParameterLayout.of(file.model())).initialize(1).all().toF32Array();
        new CheckpointStore(dir.resolve("run").resolve("checkpoints"), 1)
                .save(new CheckpointState(file.model(), file.train(), 1, new long[0], null, params, new float[params.length], new float[params.length]));
        assertEquals(0, hsa("export", "--checkpoint", dir.resolve("run").toString(), "--out", dir.resolve("hf").toString()), err.toString());
        ObjectMapper json = new ObjectMapper();
        ObjectNode c = (ObjectNode) json.readTree(dir.resolve("hf").resolve("config.json").toFile());
        c.put("enable_pos_decay", true);
        json.writeValue(dir.resolve("hf").resolve("config.json").toFile(), c);
        assertEquals(2, hsa("import", "--hf", dir.resolve("hf").toString(), "--out", dir.resolve("back").toString()));
        assertTrue(err.toString().contains("enable_pos_decay"), err.toString());
    }
}
