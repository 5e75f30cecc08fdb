package org.hsajava.eval.report;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/** Hand-made reports for the report tests: known numbers, no model needed. */
final class SampleReports {
    private SampleReports() {}

    /**
     * A run with passkey and niah_single over lengths 1K..16K × depths {0.1, 0.5, 0.9} × seeds {1, 2}
     * (accuracy falling with length by {@code decay}), perplexity per length, and the 16K cells not run.
     */
    static RunReport run(String label, String kind, double decay) {
        List<CellResult> cells = new ArrayList<>();
        int[] lengths = {1024, 4096, 16384};
        for (String task : List.of("passkey", "niah_single")) {
            for (int length : lengths) {
                for (double depth : List.of(0.1, 0.5, 0.9)) {
                    for (long seed : List.of(1L, 2L)) {
                        if (length == 16384) {
                            cells.add(CellResult.notRun(task, length, depth, seed, "not run: needs 9.5 GiB of device memory at batch 4, above the 8 GiB limit (--max-memory)"));
                            continue;
                        }
                        int correct = (int) Math.round(10 * Math.max(0, 1 - decay * Math.log(length / 1024.0 + depth) - (seed - 1) * 0.1));
                        cells.add(CellResult.accuracy(task, length, depth, seed, 10, correct, 50, correct * 5, kind.equals("hsa") ? 0.8 : null, kind.equals("hsa") ? 0.25 : null, 1.5, 1L << 26));
                    }
                }
            }
        }
        for (int length : lengths) {
            if (length == 16384) cells.add(CellResult.notRun("ppl", length, null, null, "not run: needs 9.5 GiB"));
            else cells.add(CellResult.perplexity(length, 4, 1024, 2.0 - 0.1 * Math.log(length), 3.0, 1L << 27));
        }
        Map<String, Object> model = new LinkedHashMap<>();
        model.put("hidden_size", 128);
        model.put("chunk_size", 16);
        return new RunReport(label, "runs/" + label, 300, kind, 1024, 1_220_352, model, "Java backend", "2026-01-02T03:04:05Z",
                "./hsa eval --checkpoint runs/" + label, "bundled <corpus> & co", cells);
    }

    static EvalReport twoRuns() {
        return EvalReport.of("2026-01-02T03:04:05Z", "./hsa eval ...", List.of(run("hsa", "hsa", 0.1), run("swa_only", "swa_only", 0.5)));
    }
}
