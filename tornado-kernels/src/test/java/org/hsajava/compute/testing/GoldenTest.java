package org.hsajava.compute.testing;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

import org.junit.jupiter.api.Test;

class GoldenTest {
    @Test
    void readsShapesAndMetadata() {
        Golden g = Golden.load("hsa_e2e_stick");
        assertEquals(32, g.metaInt("S"));
        assertEquals("stick", g.meta("mode"));
        assertArrayEquals(new int[] {2, 256, 16, 32}, g.shape("q"));
        assertEquals(2 * 256 * 16 * 32, g.f32("q").length);
        assertEquals(2 * 256 * 1 * 4, g.i32("indices").length);
    }
}
