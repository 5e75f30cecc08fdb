package org.hsajava.train.data;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * JSON Lines: one object per line, its {@code text} string is one document (other fields are
 * ignored); blank lines are skipped. A line that is not a JSON object with a string {@code text}
 * is an error naming the file and line. Document ids are {@code name:line}.
 */
public final class JsonlCorpus implements Corpus {

    /** Opens the bytes again for every pass (a file, a class-path resource). */
    @FunctionalInterface
    public interface Opener {
        InputStream open() throws IOException;
    }

    private static final ObjectMapper JSON = new ObjectMapper();

    private final String name;
    private final Opener opener;

    public JsonlCorpus(Path file) {
        this(file.getFileName().toString(), () -> Files.newInputStream(file));
    }

    /** {@code name}: used in ids and messages (for a file in a folder corpus: its relative path). */
    public JsonlCorpus(String name, Opener opener) {
        this.name = name;
        this.opener = opener;
    }

    @Override
    public String name() {
        return name;
    }

    @Override
    public DocumentReader open() throws IOException {
        Utf8Lines lines = new Utf8Lines(name, opener.open());
        return new DocumentReader() {
            @Override
            public Document next() throws IOException {
                String line;
                do {
                    line = lines.next();
                } while (line != null && line.isBlank());
                if (line == null) {
                    return null;
                }
                long number = lines.lineNumber();
                JsonNode node;
                try {
                    node = JSON.readTree(line);
                } catch (JsonProcessingException e) {
                    throw new CorpusFormatException(name, number, "not valid JSON: " + e.getOriginalMessage(), e);
                }
                if (node == null || !node.isObject()) {
                    throw new CorpusFormatException(name, number, "expected a JSON object with a \"text\" field", null);
                }
                JsonNode text = node.get("text");
                if (text == null) {
                    throw new CorpusFormatException(name, number, "no \"text\" field", null);
                }
                if (!text.isTextual()) {
                    throw new CorpusFormatException(name, number,
                            "\"text\" must be a string, found " + text.getNodeType().toString().toLowerCase(java.util.Locale.ROOT), null);
                }
                return new Document(name + ":" + number, text.asText());
            }

            @Override
            public void close() throws IOException {
                lines.close();
            }
        };
    }
}
