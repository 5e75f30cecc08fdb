package org.hsajava.compute.opencl;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.util.List;
import org.junit.jupiter.api.Test;
import org.lwjgl.system.Platform;

class OpenClPlatformsTest {
    /**
     * Debian's runtime package (ocl-icd-libopencl1) installs only libOpenCL.so.1; the unversioned
     * name LWJGL asks for comes with the -dev package. A machine set up as the README says must work.
     */
    @Test
    void onLinuxTheLoadersSonameIsTriedBeforeTheUnversionedName() {
        assertEquals(List.of("libOpenCL.so.1", ""), OpenClPlatforms.loaderNames(null, Platform.LINUX));
        assertEquals(List.of(""), OpenClPlatforms.loaderNames(null, Platform.WINDOWS));
        assertEquals(List.of(""), OpenClPlatforms.loaderNames(null, Platform.MACOSX));
    }

    @Test
    void anExplicitlyNamedLibraryIsTheOnlyOneTried() {
        assertEquals(List.of("/usr/lib/oclgrind/liboclgrind-rt.so"), OpenClPlatforms.loaderNames("/usr/lib/oclgrind/liboclgrind-rt.so", Platform.LINUX));
    }
}
