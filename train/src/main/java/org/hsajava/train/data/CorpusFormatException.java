package org.hsajava.train.data;

/** Bad corpus input, with the file (or resource) and line where it was found. */
public final class CorpusFormatException extends RuntimeException {

    private final String source;
    private final long line;

    public CorpusFormatException(String source, long line, String problem, Throwable cause) {
        super(source + ":" + line + ": " + problem, cause);
        this.source = source;
        this.line = line;
    }

    public String source() {
        return source;
    }

    /** 1-based line number. */
    public long line() {
        return line;
    }
}
