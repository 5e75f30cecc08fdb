package org.hsajava.train.data;

import java.io.BufferedReader;
import java.io.Closeable;
import java.io.IOException;
import java.io.InputStream;
import java.io.InputStreamReader;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;

/**
 * Lines of a UTF-8 stream with a strict decoder: invalid bytes are an error naming the source
 * and line instead of being silently replaced, so a wrongly encoded file is noticed.
 */
final class Utf8Lines implements Closeable {

    private final String source;
    private final BufferedReader reader;
    private long lineNumber;

    Utf8Lines(String source, InputStream in) {
        this.source = source;
        this.reader = new BufferedReader(new InputStreamReader(in, StandardCharsets.UTF_8.newDecoder()
                .onMalformedInput(CodingErrorAction.REPORT)
                .onUnmappableCharacter(CodingErrorAction.REPORT)), 1 << 16);
    }

    /** The next line without its terminator, or {@code null} at the end. */
    String next() throws IOException {
        try {
            String line = reader.readLine();
            if (line != null) {
                lineNumber++;
            }
            return line;
        } catch (CharacterCodingException e) {
            throw new CorpusFormatException(source, lineNumber + 1, "invalid UTF-8", e);
        }
    }

    /** 1-based number of the line {@link #next()} returned last. */
    long lineNumber() {
        return lineNumber;
    }

    String source() {
        return source;
    }

    @Override
    public void close() throws IOException {
        reader.close();
    }
}
