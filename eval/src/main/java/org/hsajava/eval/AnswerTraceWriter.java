package org.hsajava.eval;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.BufferedWriter;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.function.Consumer;

/**
 * {@code ./hsa eval --trace FILE}: one JSON object per line and answer token ({@link TeacherForcedEval.AnswerTrace}),
 * e.g. {@code {"task":"passkey","length":65536,"depth":0.5,"seed":99,"sample":13,"token":1,"position":65531,
 * "expected":49,"predicted":50,"right":false,"copyPosition":32756,"chunks":[2048,2047,2003,1958],"weights":[0.108,0.890,1e-5,1e-5]}}
 * (chunks and weights absent when the scorer cannot tell). Token ids are the tokenizer's.
 */
public final class AnswerTraceWriter implements Consumer<TeacherForcedEval.AnswerTrace>, AutoCloseable {
    private static final ObjectMapper JSON = new ObjectMapper();
    private final BufferedWriter out;

    public AnswerTraceWriter(Path file) throws IOException {
        Path parent = file.toAbsolutePath().getParent();
        if (parent != null) Files.createDirectories(parent);
        this.out = Files.newBufferedWriter(file, StandardCharsets.UTF_8);
    }

    @Override
    public void accept(TeacherForcedEval.AnswerTrace t) {
        ObjectNode o = JSON.createObjectNode().put("task", t.task()).put("length", t.length()).put("depth", t.depth()).put("seed", t.seed())
                .put("sample", t.sample()).put("token", t.token()).put("position", t.position())
                .put("expected", t.expected()).put("predicted", t.predicted()).put("right", t.expected() == t.predicted())
                .put("copyPosition", t.copyPosition());
        if (t.chunks() != null) {
            ArrayNode c = o.putArray("chunks"), w = o.putArray("weights");
            for (int x : t.chunks()) c.add(x);
            for (float x : t.weights()) w.add(x);
        }
        try {
            out.write(JSON.writeValueAsString(o));
            out.newLine();
        } catch (IOException e) {
            throw new UncheckedIOException("cannot write the answer trace: " + e.getMessage(), e);
        }
    }

    @Override
    public void close() throws IOException { out.close(); }
}
