package org.hsajava.eval.report;

import java.util.List;

/**
 * A report file: one or more runs (the model under study first, then baselines) evaluated on
 * comparable grids. {@code format} identifies the file; {@code created} and {@code commandLine}
 * describe the command that wrote it (each run keeps its own).
 */
public record EvalReport(String format, int version, String created, String commandLine, List<RunReport> runs) {
    public static final String FORMAT = "hsa-java eval report";
    public static final int VERSION = 1;

    public EvalReport {
        runs = List.copyOf(runs);
    }

    public static EvalReport of(String created, String commandLine, List<RunReport> runs) {
        return new EvalReport(FORMAT, VERSION, created, commandLine, runs);
    }
}
