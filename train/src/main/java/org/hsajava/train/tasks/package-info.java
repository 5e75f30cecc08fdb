/**
 * Synthetic long-context tasks shared by training and evaluation (DESIGN.md section 3): passkey,
 * single-needle and multi-key NIAH, variable tracking and multi-query associative recall. Each
 * {@link org.hsajava.train.tasks.SyntheticTask} returns a {@link org.hsajava.train.tasks.Sample}
 * of exactly the requested number of tokens: eos, filler (repeated passkey sentences or real text
 * from a {@link org.hsajava.train.tasks.SentencePool}) with the needle(s) snapped to the sentence
 * boundary nearest the requested depth, then the question and the answer span(s) at the very end.
 * Teacher-forced exact match scores the answer positions; the loss mask is answer-only or all tokens.
 */
package org.hsajava.train.tasks;
