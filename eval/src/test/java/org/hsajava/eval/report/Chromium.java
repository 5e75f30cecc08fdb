package org.hsajava.eval.report;

import static org.junit.jupiter.api.Assertions.fail;

import java.io.File;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

/**
 * Headless Chromium for the render tests. Missing Chromium FAILS the test (CI installs it), with the
 * command that installs it. Runs with {@code --no-sandbox} (containers run as root), its own profile,
 * HOME and caches under a temporary folder (a read-only or missing HOME breaks it), and a time limit.
 */
final class Chromium {
    private static final String[] NAMES = {"chromium", "chromium-browser", "google-chrome", "google-chrome-stable"};
    private final Path binary;
    private final Path work;

    private Chromium(Path binary, Path work) {
        this.binary = binary;
        this.work = work;
    }

    /** The browser named by {@code $HSA_CHROMIUM}, else the first of chromium, chromium-browser, google-chrome on the PATH; fails the test without one. */
    static Chromium find(Path work) {
        String env = System.getenv("HSA_CHROMIUM");
        if (env != null && !env.isBlank() && !Files.isExecutable(Path.of(env))) fail("HSA_CHROMIUM=" + env + " is not an executable file");
        Path binary = locate(env, System.getenv().getOrDefault("PATH", ""));
        if (binary == null) fail(MISSING);
        return new Chromium(binary, work);
    }

    static final String MISSING = "headless Chromium is needed to check that report.html renders, and none is on the PATH: install it with "
            + "'sudo apt-get install -y chromium' (Debian/Ubuntu; .ci/run does this on CI) or point HSA_CHROMIUM at a chromium/chrome binary";

    /** {@code override} if executable, else the first browser found along {@code path}; null when there is none. */
    static Path locate(String override, String path) {
        if (override != null && !override.isBlank() && Files.isExecutable(Path.of(override))) return Path.of(override);
        for (String dir : path.split(File.pathSeparator))
            for (String name : NAMES) {
                if (dir.isEmpty()) continue;
                Path p = Path.of(dir, name);
                if (Files.isRegularFile(p) && Files.isExecutable(p)) return p;
            }
        return null;
    }

    /** The DOM after loading {@code html} (Chromium's --dump-dom). */
    String dumpDom(Path html) throws Exception {
        return run("dom", List.of("--dump-dom", html.toUri().toString()));
    }

    /** Renders {@code html} at {@code width × height} into {@code png}. */
    void screenshot(Path html, Path png, int width, int height) throws Exception {
        run("shot", List.of("--screenshot=" + png.toAbsolutePath(), "--window-size=" + width + "," + height, html.toUri().toString()));
    }

    private String run(String tag, List<String> args) throws Exception {
        Path home = Files.createDirectories(work.resolve("home")), out = work.resolve(tag + ".out"), err = work.resolve(tag + ".err");
        List<String> cmd = new ArrayList<>(List.of(binary.toString(), "--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                "--no-first-run", "--no-default-browser-check", "--disable-extensions", "--hide-scrollbars",
                "--user-data-dir=" + work.resolve("profile-" + tag)));
        cmd.addAll(args);
        ProcessBuilder pb = new ProcessBuilder(cmd).redirectOutput(out.toFile()).redirectError(err.toFile());
        pb.environment().put("HOME", home.toString());
        pb.environment().put("XDG_CONFIG_HOME", home.resolve(".config").toString());
        pb.environment().put("XDG_CACHE_HOME", home.resolve(".cache").toString());
        Process p = pb.start();
        if (!p.waitFor(120, TimeUnit.SECONDS)) {
            p.descendants().forEach(ProcessHandle::destroyForcibly);
            p.destroyForcibly();
            fail(binary + " did not finish in 120 s; its stderr: " + tail(err));
        }
        if (p.exitValue() != 0) fail(binary + " exited with " + p.exitValue() + "; its stderr: " + tail(err));
        return Files.readString(out);
    }

    private static String tail(Path f) throws IOException {
        String s = Files.exists(f) ? Files.readString(f) : "";
        return s.length() > 4000 ? s.substring(s.length() - 4000) : s;
    }
}
