package org.hsajava.train.data;

/**
 * One document of a corpus. {@code id} is stable across machines (a path relative to the corpus
 * root, {@code file:line} for JSONL), so the train/validation split does not depend on where the
 * corpus lies.
 */
public record Document(String id, String text) {
}
