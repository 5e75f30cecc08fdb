package org.hsajava.train.checkpoint;

import java.io.IOException;

/** A safetensors file that breaks the format; the message names the file and the problem. */
public final class SafetensorsFormatException extends IOException {
    private final String source;

    public SafetensorsFormatException(String source, String problem) {
        super(source + ": " + problem);
        this.source = source;
    }

    /** The file name (or other description) of the offending data. */
    public String source() { return source; }
}
