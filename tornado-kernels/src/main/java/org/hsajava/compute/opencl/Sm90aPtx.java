package org.hsajava.compute.opencl;

import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Turns the PTX NVIDIA's OpenCL compiler wrote for a program with Hopper-only instructions into PTX for
 * {@code sm_90a}. The compiler targets {@code .target sm_90}, where {@code wgmma} does not exist, and
 * {@code -cl-nv-arch sm_90a} does not change that; so such instructions are written in the kernels'
 * inline PTX behind the comment marker {@value #MARKER} (with their operands substituted as usual, see
 * {@code kernels/wgmma.h}), the source builds, and {@link OpenClBackend} rebuilds the program from this
 * patched PTX with {@code clCreateProgramWithBinary}, which takes PTX text on NVIDIA.
 */
final class Sm90aPtx {
    private Sm90aPtx() {}

    /** What precedes every sm_90a-only instruction in the inline PTX. */
    static final String MARKER = "//@sm_90a ";

    private static final Pattern TARGET = Pattern.compile("^\\.target sm_90(?=[,\\s])", Pattern.MULTILINE);

    /** Whether a program's source has instructions behind {@link #MARKER}. */
    static boolean needed(String source) { return source.contains(MARKER); }

    /** The PTX with the markers removed and the target set to sm_90a; fails where the PTX is not for sm_90. */
    static String patch(String ptx) {
        Matcher m = TARGET.matcher(ptx);
        if (!m.find()) {
            String target = ptx.lines().filter(l -> l.startsWith(".target")).findFirst().orElse("no .target line");
            throw new IllegalStateException("sm_90a instructions need a device of compute capability 9.0; the compiler wrote PTX for '" + target + "'");
        }
        return m.replaceFirst(".target sm_90a").replace(MARKER, "");
    }
}
