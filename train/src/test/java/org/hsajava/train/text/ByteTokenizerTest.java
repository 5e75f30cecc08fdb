package org.hsajava.train.text;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;
import org.junit.jupiter.api.Test;

class ByteTokenizerTest {

    private final ByteTokenizer tokenizer = new ByteTokenizer();

    @ParameterizedTest
    @ValueSource(strings = {"", "Hello, world!", "naïve café — Größe", "日本語のテキスト", "emoji 😀👍🏽 family 👨‍👩‍👧", "line\nbreak\ttab"})
    void roundTrips(String text) {
        assertEquals(text, tokenizer.decode(tokenizer.encode(text)));
    }

    @Test
    void idsAreUtf8Bytes() {
        assertArrayEquals(new int[] {'A', 0xC3, 0xA9}, tokenizer.encode("Aé"));
        assertArrayEquals(new int[] {0xF0, 0x9F, 0x98, 0x80}, tokenizer.encode("😀"));
        for (int id : tokenizer.encode("digits 0123456789 😀")) {
            assertTrue(id >= 0 && id < 256);
        }
    }

    @Test
    void specialTokensAreNamedAndBeyondBytes() {
        assertEquals(260, tokenizer.vocabSize());
        assertEquals(256, tokenizer.pad());
        assertEquals(257, tokenizer.bos());
        assertEquals(258, tokenizer.eos());
        assertEquals(259, tokenizer.special("sep"));
        assertEquals("a<|eos|>b<|sep|>", tokenizer.decode(new int[] {'a', ByteTokenizer.EOS, 'b', ByteTokenizer.SEP}));
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> tokenizer.special("mask"));
        assertTrue(e.getMessage().contains("mask") && e.getMessage().contains("sep"), e.getMessage());
    }

    @Test
    void specialNamesInTextStayText() {
        int[] ids = tokenizer.encode("<|eos|>");
        assertEquals(7, ids.length);
        for (int id : ids) {
            assertTrue(id < 256);
        }
    }

    @Test
    void invalidUtf8DecodesWithReplacementInsteadOfThrowing() {
        int[] truncatedEmoji = {'o', 'k', 0xF0, 0x9F};
        assertEquals("ok\uFFFD", tokenizer.decode(truncatedEmoji));
        assertEquals("\uFFFDx", tokenizer.decode(new int[] {0xFF, 'x'}));
    }

    @Test
    void outOfRangeIdNamesItsPosition() {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> tokenizer.decode(new int[] {'a', 'b', 300}));
        assertTrue(e.getMessage().contains("300") && e.getMessage().contains("position 2"), e.getMessage());
    }
}
