package org.hsajava.train.data;

import java.io.FileNotFoundException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Locale;

/** Opening corpora by path, and the small corpus shipped with the project. */
public final class Corpora {

    /** Class-path resource of the bundled corpus (see {@code corpus/README.md} next to it). */
    public static final String BUNDLED_RESOURCE = "corpus/austen.jsonl";

    private Corpora() {
    }

    /** A folder → {@link FolderCorpus}; {@code *.jsonl} → {@link JsonlCorpus}; any other file → {@link TextFileCorpus}. */
    public static Corpus open(Path path) {
        if (Files.isDirectory(path)) {
            return new FolderCorpus(path);
        }
        if (!Files.isRegularFile(path)) {
            throw new IllegalArgumentException("corpus " + path + " does not exist");
        }
        if (path.getFileName().toString().toLowerCase(Locale.ROOT).endsWith(".jsonl")) {
            return new JsonlCorpus(path);
        }
        return new TextFileCorpus(path);
    }

    /**
     * Jane Austen's <i>Persuasion</i> and <i>Pride and Prejudice</i> (public domain), one document
     * per chapter (85 documents, about 1.2 MB), streamed from the class path.
     */
    public static Corpus bundled() {
        return new JsonlCorpus("austen.jsonl", () -> {
            InputStream in = Corpora.class.getClassLoader().getResourceAsStream(BUNDLED_RESOURCE);
            if (in == null) {
                throw new FileNotFoundException("class-path resource " + BUNDLED_RESOURCE + " is missing");
            }
            return in;
        });
    }
}
