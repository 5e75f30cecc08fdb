package org.hsajava.train.data;

import java.io.Closeable;
import java.io.IOException;

/** Documents one at a time, in the corpus's fixed order. */
public interface DocumentReader extends Closeable {

    /** The next document, or {@code null} after the last. */
    Document next() throws IOException;
}
