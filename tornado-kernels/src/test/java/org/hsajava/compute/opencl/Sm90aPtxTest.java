package org.hsajava.compute.opencl;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;

class Sm90aPtxTest {
    private static final String PTX = """
            .version 9.0
            .target sm_90, texmode_independent
            .address_size 64
            \t// begin inline asm
            //@sm_90a wgmma.fence.sync.aligned;
            \t// end inline asm
            \t// begin inline asm
            {
             .reg .pred p;
             setp.ne.b32 p, %r5, 0;
            //@sm_90a wgmma.mma_async.sync.aligned.m64n64k16.f32.bf16.bf16 {%f1, %f2}, %rd1, %rd2, p, 1, 1, 0, 0;
            }
            // a comment that stays
            """;

    @Test
    void uncommentsTheMarkedInstructionsAndRetargets() {
        String out = Sm90aPtx.patch(PTX);
        assertTrue(out.contains("\n.target sm_90a, texmode_independent\n"), out);
        assertTrue(out.contains("\nwgmma.fence.sync.aligned;\n"), out);
        assertTrue(out.contains("\nwgmma.mma_async.sync.aligned.m64n64k16.f32.bf16.bf16 {%f1, %f2}, %rd1, %rd2, p, 1, 1, 0, 0;\n"), out);
        assertTrue(out.contains("// a comment that stays"), out);
        assertFalse(out.contains(Sm90aPtx.MARKER), out);
        assertEquals(PTX.lines().count(), out.lines().count());
    }

    @Test
    void refusesPtxForAnotherTarget() {
        IllegalStateException e = assertThrows(IllegalStateException.class, () -> Sm90aPtx.patch(PTX.replace("sm_90,", "sm_89,")));
        assertTrue(e.getMessage().contains("sm_89"), e.getMessage());
        assertThrows(IllegalStateException.class, () -> Sm90aPtx.patch(PTX.replace("sm_90,", "sm_100,")));
    }

    @Test
    void findsTheMarkerInSources() {
        assertTrue(Sm90aPtx.needed("__asm__(\"//@sm_90a wgmma.fence.sync.aligned;\");"));
        assertFalse(Sm90aPtx.needed("__asm__(\"mma.sync.aligned.m16n8k16...\");"));
    }
}
