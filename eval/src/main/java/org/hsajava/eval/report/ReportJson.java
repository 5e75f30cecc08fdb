package org.hsajava.eval.report;

import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;

/** {@code report.json}: writing, reading (with a clear error for anything else), and merging several into one. */
public final class ReportJson {
    public static final String FILE = "report.json";
    private static final ObjectMapper JSON = new ObjectMapper()
            .enable(SerializationFeature.INDENT_OUTPUT)
            .disable(DeserializationFeature.FAIL_ON_UNKNOWN_PROPERTIES);  // newer files may carry more fields

    private ReportJson() {}

    /** Writes {@code report} to {@code file} through a temporary file, so a crash never leaves half a report. */
    public static void write(EvalReport report, Path file) throws IOException {
        Path tmp = file.resolveSibling(file.getFileName() + ".tmp");
        JSON.writeValue(tmp.toFile(), report);
        Files.move(tmp, file, java.nio.file.StandardCopyOption.REPLACE_EXISTING, java.nio.file.StandardCopyOption.ATOMIC_MOVE);
    }

    /**
     * Renames an existing report at {@code file} to {@code report-<its modification time>.json} next to
     * it, so a new evaluation never destroys an earlier (possibly hours-long) one. Returns the new
     * name, or null when there was nothing to keep.
     */
    public static Path keepPrevious(Path file) throws IOException {
        if (!Files.exists(file)) return null;
        String stamp = java.time.format.DateTimeFormatter.ofPattern("yyyyMMdd-HHmmss").withZone(java.time.ZoneOffset.UTC)
                .format(Files.getLastModifiedTime(file).toInstant());
        Path kept = file.resolveSibling("report-" + stamp + ".json");
        for (int k = 2; Files.exists(kept); k++) kept = file.resolveSibling("report-" + stamp + "-" + k + ".json");
        Files.move(file, kept);
        return kept;
    }

    /** Reads a report from {@code path}: the file, or a folder holding {@value #FILE}. */
    public static EvalReport read(Path path) throws IOException {
        Path file = Files.isDirectory(path) ? path.resolve(FILE) : path;
        if (!Files.isRegularFile(file)) throw new IllegalArgumentException("no report at " + path + (Files.isDirectory(path) ? " (the folder has no " + FILE + ")" : ""));
        JsonNode root;
        try {
            root = JSON.readTree(file.toFile());
        } catch (IOException e) {
            throw new IllegalArgumentException(file + " is not JSON: " + e.getMessage(), e);
        }
        if (root == null || !EvalReport.FORMAT.equals(root.path("format").asText()))
            throw new IllegalArgumentException(file + " is not an " + EvalReport.FORMAT + " (its \"format\" field is " + (root == null ? "missing" : root.path("format")) + ")");
        int version = root.path("version").asInt(-1);
        if (version != EvalReport.VERSION)
            throw new IllegalArgumentException(file + ": report version " + version + ", this program reads version " + EvalReport.VERSION);
        return JSON.treeToValue(root, EvalReport.class);
    }

    /**
     * One report holding every run of {@code reports}, in order. A run keeps its label unless
     * {@code labels} gives one (non-null entries, one per report with a single run); labels that
     * collide get a suffix {@code #2}, {@code #3}, ...
     */
    public static EvalReport merge(List<EvalReport> reports, List<String> labels, String created, String commandLine) {
        List<RunReport> runs = new ArrayList<>();
        Set<String> used = new HashSet<>();
        for (int i = 0; i < reports.size(); i++) {
            EvalReport r = reports.get(i);
            String given = labels == null ? null : labels.get(i);
            if (given != null && r.runs().size() != 1)
                throw new IllegalArgumentException("a label names one run, but input " + (i + 1) + " holds " + r.runs().size() + " runs");
            for (RunReport run : r.runs()) {
                String label = given != null ? given : run.label();
                String unique = label;
                for (int k = 2; !used.add(unique); k++) unique = label + " #" + k;
                runs.add(run.withLabel(unique));
            }
        }
        if (runs.isEmpty()) throw new IllegalArgumentException("nothing to merge: the inputs hold no runs");
        return EvalReport.of(created, commandLine, runs);
    }
}
