/**
 * Tokenizers: {@link org.hsajava.train.text.Tokenizer} and its two implementations, chosen by
 * name through {@link org.hsajava.train.text.Tokenizers#create}: {@code byte} (UTF-8 bytes 0–255
 * plus pad 256, bos 257, eos 258, sep 259; vocabulary 260) and {@code gpt2} (r50k_base through
 * JTokkit, 50 257 ids, {@code <|endoftext|>} = 50256 as eos/bos/pad). Encoding never produces a
 * special id from text; decoding never throws on invalid UTF-8.
 */
package org.hsajava.train.text;
