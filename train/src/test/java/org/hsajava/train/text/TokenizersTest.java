package org.hsajava.train.text;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;

class TokenizersTest {

    @Test
    void createsByName() {
        assertInstanceOf(ByteTokenizer.class, Tokenizers.create("byte"));
        assertInstanceOf(Gpt2Tokenizer.class, Tokenizers.create("GPT2"));
        for (String name : Tokenizers.NAMES) {
            assertEquals(name, Tokenizers.create(name).name());
        }
    }

    @Test
    void unknownNameListsTheChoices() {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> Tokenizers.create("llama"));
        assertTrue(e.getMessage().contains("llama") && e.getMessage().contains("byte, gpt2"), e.getMessage());
    }
}
