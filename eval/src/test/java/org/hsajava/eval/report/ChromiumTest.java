package org.hsajava.eval.report;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.File;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** How the render test finds its browser (and that a missing one is a failure that says how to install it). */
class ChromiumTest {
    @TempDir Path dir;

    @Test
    void findsTheFirstBrowserOnThePathOrTheOverride() throws Exception {
        Path empty = Files.createDirectories(dir.resolve("empty")), bin = Files.createDirectories(dir.resolve("bin"));
        assertNull(Chromium.locate(null, empty.toString()), "no browser: the test fails with Chromium.MISSING");
        Path fake = Files.writeString(bin.resolve("chromium-browser"), "#!/bin/sh\n");
        Files.setPosixFilePermissions(fake, PosixFilePermissions.fromString("rwxr-xr-x"));
        assertEquals(fake, Chromium.locate(null, empty + File.pathSeparator + bin));
        assertEquals(fake, Chromium.locate(fake.toString(), empty.toString()));
        assertTrue(Chromium.MISSING.contains("apt-get install -y chromium"));
    }
}
