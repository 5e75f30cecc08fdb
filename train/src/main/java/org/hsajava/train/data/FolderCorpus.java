package org.hsajava.train.data;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.stream.Stream;

/**
 * Every corpus file under a folder, recursively, in the order of their relative paths ('/'
 * separated, compared as strings) so that the order is the same on every machine. Files ending in
 * {@code .jsonl} are read as {@link JsonlCorpus}, files ending in {@code .txt}, {@code .text} or
 * {@code .md} as {@link TextFileCorpus}; other files and hidden files/folders (name starting with
 * '.') are not corpus files and are passed over. Only the list of paths is held in memory.
 */
public final class FolderCorpus implements Corpus {

    private final Path root;
    private final int maxDocumentChars;

    public FolderCorpus(Path root) {
        this(root, TextFileCorpus.DEFAULT_MAX_DOCUMENT_CHARS);
    }

    public FolderCorpus(Path root, int maxDocumentChars) {
        if (!Files.isDirectory(root)) {
            throw new IllegalArgumentException("corpus folder " + root + " does not exist or is not a folder");
        }
        this.root = root;
        this.maxDocumentChars = maxDocumentChars;
    }

    @Override
    public String name() {
        return root.toString();
    }

    /** The corpus files' paths relative to the root, in reading order. */
    public List<String> files() throws IOException {
        try (Stream<Path> walk = Files.walk(root)) {
            return walk.filter(Files::isRegularFile)
                    .map(p -> root.relativize(p))
                    .filter(FolderCorpus::visible)
                    .map(FolderCorpus::slashed)
                    .filter(FolderCorpus::isCorpusFile)
                    .sorted()
                    .toList();
        } catch (UncheckedIOException e) {
            throw e.getCause();
        }
    }

    static boolean isCorpusFile(String relativePath) {
        String lower = relativePath.toLowerCase(Locale.ROOT);
        return lower.endsWith(".jsonl") || lower.endsWith(".txt") || lower.endsWith(".text") || lower.endsWith(".md");
    }

    private static boolean visible(Path relative) {
        for (Path part : relative) {
            if (part.toString().startsWith(".")) {
                return false;
            }
        }
        return true;
    }

    private static String slashed(Path relative) {
        List<String> parts = new ArrayList<>();
        relative.forEach(p -> parts.add(p.toString()));
        return String.join("/", parts);
    }

    private Corpus fileCorpus(String relativePath) {
        Path file = root.resolve(relativePath);
        if (relativePath.toLowerCase(Locale.ROOT).endsWith(".jsonl")) {
            return new JsonlCorpus(relativePath, () -> Files.newInputStream(file));
        }
        return new TextFileCorpus(file, relativePath, maxDocumentChars);
    }

    @Override
    public DocumentReader open() throws IOException {
        List<String> files = files();
        return new DocumentReader() {
            private int nextFile;
            private DocumentReader current;

            @Override
            public Document next() throws IOException {
                while (true) {
                    if (current == null) {
                        if (nextFile == files.size()) {
                            return null;
                        }
                        current = fileCorpus(files.get(nextFile++)).open();
                    }
                    Document document = current.next();
                    if (document != null) {
                        return document;
                    }
                    current.close();
                    current = null;
                }
            }

            @Override
            public void close() throws IOException {
                if (current != null) {
                    current.close();
                }
            }
        };
    }
}
