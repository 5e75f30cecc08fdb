package org.hsajava.compute.opencl;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;

import org.junit.jupiter.api.Test;

class OpenClBackendTest {

    /** Depth of a recursion that needs far more than a default 1 MiB thread stack. */
    private static int depth(int n) { return n == 0 ? 0 : 1 + depth(n - 1); }

    @Test
    void compilersRunOnALargeStack() {
        // 2M frames of at least 32 bytes each: over 60 MiB, a StackOverflowError on a default thread
        assertEquals(2_000_000, OpenClBackend.onLargeStack("deep", () -> depth(2_000_000)));
    }

    @Test
    void theCallersSeeTheCompilersFailures() {
        ClException e = new ClException("boom");
        assertSame(e, assertThrows(ClException.class, () -> OpenClBackend.onLargeStack("failing", () -> {
            throw e;
        })));
    }
}
