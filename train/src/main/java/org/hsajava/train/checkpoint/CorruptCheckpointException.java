package org.hsajava.train.checkpoint;

import java.io.IOException;
import java.nio.file.Path;

/** A checkpoint that cannot be trusted: missing, truncated, altered or inconsistent. Names the file. */
public final class CorruptCheckpointException extends IOException {
    private final Path file;

    public CorruptCheckpointException(Path file, String problem) {
        super(file + ": " + problem);
        this.file = file;
    }

    public CorruptCheckpointException(Path file, String problem, Throwable cause) {
        super(file + ": " + problem, cause);
        this.file = file;
    }

    /** The file (or folder) at fault. */
    public Path file() { return file; }
}
