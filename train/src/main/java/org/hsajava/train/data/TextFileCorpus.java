package org.hsajava.train.data;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * A UTF-8 text file as one document (line ends normalised to {@code \n}). A file longer than
 * {@code maxDocumentChars} is cut at line breaks into consecutive documents {@code id#1, id#2, ...}
 * so that no more than about that many characters are ever held at once.
 */
public final class TextFileCorpus implements Corpus {

    /** Default cut: 4 Mi characters, a few MB of text per document at most. */
    public static final int DEFAULT_MAX_DOCUMENT_CHARS = 1 << 22;

    private final Path file;
    private final String id;
    private final int maxDocumentChars;

    public TextFileCorpus(Path file) {
        this(file, file.getFileName().toString(), DEFAULT_MAX_DOCUMENT_CHARS);
    }

    /** {@code id}: the document id (for a file inside a folder corpus, its relative path). */
    public TextFileCorpus(Path file, String id, int maxDocumentChars) {
        if (maxDocumentChars < 1) {
            throw new IllegalArgumentException("maxDocumentChars must be positive, got " + maxDocumentChars);
        }
        this.file = file;
        this.id = id;
        this.maxDocumentChars = maxDocumentChars;
    }

    @Override
    public String name() {
        return file.toString();
    }

    @Override
    public DocumentReader open() throws IOException {
        Utf8Lines lines = new Utf8Lines(file.toString(), Files.newInputStream(file));
        return new DocumentReader() {
            private int part;
            private String pendingLine;
            private boolean done;

            @Override
            public Document next() throws IOException {
                if (done) {
                    return null;
                }
                StringBuilder text = new StringBuilder();
                String line = pendingLine != null ? pendingLine : lines.next();
                pendingLine = null;
                boolean first = true;
                while (line != null) {
                    if (!first && text.length() + 1 + line.length() > maxDocumentChars) {
                        pendingLine = line;
                        break;
                    }
                    if (!first) {
                        text.append('\n');
                    }
                    text.append(line);
                    first = false;
                    line = lines.next();
                }
                if (pendingLine == null) {
                    done = true;
                    if (first && part > 0) {
                        return null;
                    }
                }
                part++;
                boolean split = part > 1 || pendingLine != null;
                return new Document(split ? id + "#" + part : id, text.toString());
            }

            @Override
            public void close() throws IOException {
                lines.close();
            }
        };
    }
}
