/**
 * Training text, streamed. Corpora ({@link org.hsajava.train.data.Corpus}): a UTF-8 text file
 * (one document, cut at line breaks past 4 Mi characters), a JSONL file (one document per line,
 * from its {@code text} string field), a folder of both (recursive, sorted by relative path), and
 * the bundled public-domain corpus ({@link org.hsajava.train.data.Corpora#bundled()}).
 * {@link org.hsajava.train.data.Split} assigns each document to train or validation by a stable
 * hash of its id. {@link org.hsajava.train.data.SequencePacker} packs documents GPT-style
 * (eos after each, sequences crossing documents) into rows of {@code length + 1} tokens, handed out
 * as flat {@link org.hsajava.train.data.Batch}es in a seeded block-shuffled order, and resumes
 * exactly from a {@link org.hsajava.train.data.PackingPosition} (a JSON-serialisable record).
 */
package org.hsajava.train.data;
