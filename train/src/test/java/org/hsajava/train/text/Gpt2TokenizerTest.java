package org.hsajava.train.text;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

class Gpt2TokenizerTest {

    private final Gpt2Tokenizer tokenizer = new Gpt2Tokenizer();

    @Test
    void knownEncodings() {
        // ids from GPT-2's published vocabulary (r50k_base)
        assertArrayEquals(new int[] {15496, 995}, tokenizer.encode("Hello world"));
        assertArrayEquals(new int[] {464, 2068, 7586, 21831}, tokenizer.encode("The quick brown fox"));
        assertArrayEquals(new int[] {198}, tokenizer.encode("\n"));
    }

    @ParameterizedTest
    @ValueSource(strings = {"", "Hello world", "naïve café — Größe", "日本語のテキスト", "emoji 😀👍🏽 family 👨‍👩‍👧", "  spaces\n\n\ttabs"})
    void roundTrips(String text) {
        assertEquals(text, tokenizer.decode(tokenizer.encode(text)));
    }

    @Test
    void endOfTextIsTheOnlySpecialToken() {
        assertEquals(50257, tokenizer.vocabSize());
        assertEquals(50256, tokenizer.eos());
        assertEquals(50256, tokenizer.special("endoftext"));
        assertEquals("a<|endoftext|>b", tokenizer.decode(new int[] {64, 50256, 65}));
        int[] asText = tokenizer.encode("<|endoftext|>");
        assertTrue(asText.length > 1, "special token text must be encoded as ordinary text");
        for (int id : asText) {
            assertTrue(id != 50256);
        }
    }

    @Test
    void halfACharacterDecodesWithoutThrowing() {
        int[] ids = tokenizer.encode("😀");
        assertTrue(ids.length > 1, "the emoji spans several byte tokens");
        String partial = tokenizer.decode(new int[] {ids[0]});
        assertTrue(partial.contains("\uFFFD"), partial);
    }

    @Test
    void outOfRangeIdNamesItsPosition() {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> tokenizer.decode(new int[] {64, 50257}));
        assertTrue(e.getMessage().contains("50257") && e.getMessage().contains("position 1"), e.getMessage());
    }
}
