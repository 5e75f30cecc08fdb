package org.hsajava.train.data;

import java.io.IOException;

/**
 * A streamed collection of documents: {@link #open()} reads them one at a time in a fixed order,
 * so a corpus never has to fit in memory. Each call starts again from the first document.
 */
public interface Corpus {

    /** For messages: the file, folder or resource the documents come from. */
    String name();

    DocumentReader open() throws IOException;
}
