package org.hsajava.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Path;
import org.hsajava.model.ModelParameters;
import org.hsajava.model.config.ConfigFile;
import org.hsajava.model.config.ParameterLayout;
import org.hsajava.train.checkpoint.CheckpointState;
import org.hsajava.train.checkpoint.CheckpointStore;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;
import picocli.CommandLine;

/** {@code ./hsa eval} on a freshly initialised checkpoint: the grid runs and the report holds every cell. */
class EvalCommandTest {
    @TempDir Path dir;

    @ParameterizedTest
    @ValueSource(strings = {"tiny-cpu", "tiny-swa"})
    void evaluatesAGridAndWritesTheReport(String config) throws Exception {
        ConfigFile file = ConfigFile.read(Path.of("..", "configs", config + ".json"));
        ModelParameters p = ModelParameters.of(ParameterLayout.of(file.model())).initialize(3);
        int n = p.all().size();
        new CheckpointStore(dir.resolve("run").resolve("checkpoints"), 1)
                .save(new CheckpointState(file.model(), file.train(), 5, new long[] {1}, null, p.all().toF32Array(), new float[n], new float[n]));
        StringWriter err = new StringWriter();
        CommandLine cl = HsaCli.commandLine();
        cl.setErr(new PrintWriter(err, true));
        int rc = cl.execute("eval", "--checkpoint", dir.resolve("run").toString(), "--lengths", "128", "--depths", "0.2,0.8",
                "--samples", "3", "--batch", "2", "--device", "java", "--out", dir.resolve("out").toString());
        assertEquals(0, rc, err.toString());
        JsonNode report = new ObjectMapper().readTree(dir.resolve("out").resolve("report.json").toFile());
        assertEquals(5, report.get("step").asInt());
        assertEquals(2, report.get("cells").size());
        for (JsonNode c : report.get("cells")) {
            assertEquals("passkey", c.get("task").asText());
            assertEquals(128, c.get("length").asInt());
            assertEquals(3, c.get("samples").asInt());
            double acc = c.get("accuracy").asDouble(), tokens = c.get("answerTokenAccuracy").asDouble();
            assertTrue(acc >= 0 && acc <= tokens && tokens <= 1, c.toString());
            if (config.equals("tiny-cpu")) {
                double hit = c.get("needleChunkSelected").asDouble();
                assertTrue(hit >= 0 && hit <= 1, c.toString());
            } else {
                assertFalse(c.has("needleChunkSelected"), "a model without retrieval has no selection to report");
            }
        }
    }
}
