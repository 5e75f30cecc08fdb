package org.hsajava.bench;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import org.hsajava.compute.testing.TestDevices;
import org.junit.jupiter.api.Test;

class GemmBenchTest {
    @Test
    void shapesParseWithTheirTransposes() {
        GemmBench.Shape s = GemmBench.Shape.parse("128x384x4096:tn");
        assertEquals(new GemmBench.Shape(128, 384, 4096, true, false), s);
        assertEquals("128x384x4096:tn", s.toString());
        assertEquals(new GemmBench.Shape(3, 5, 7, false, false), GemmBench.Shape.parse(" 3X5X7 "));
        assertEquals("64", GemmBench.Shape.square(64).toString());
        for (String bad : new String[] {"3x5", "3x5x7:tx", "3x5x-7", "3x5xk", "3x5x7:nn:nn"}) {
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> GemmBench.Shape.parse(bad), bad);
            assertTrue(e.getMessage().contains(bad.trim()), e.getMessage());
        }
    }

    @Test
    void timesEveryShapeWithTheNaiveKernelFirst() {
        List<GemmBench.Row> rows = GemmBench.run(TestDevices.java(), List.of(GemmBench.Shape.parse("9x7x5:nt")), true, null);
        assertEquals(2, rows.size());
        assertEquals("naive", rows.get(0).kernel());
        for (GemmBench.Row r : rows) {
            assertEquals(GemmBench.Shape.parse("9x7x5:nt"), r.shape());
            assertTrue(r.medianMs() > 0 && r.gflops() > 0, r.toString());
        }
        assertFalse(rows.get(1).kernel().equals("naive"));
    }
}
