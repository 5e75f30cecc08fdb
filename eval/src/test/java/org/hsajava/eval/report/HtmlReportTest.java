package org.hsajava.eval.report;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;

class HtmlReportTest {
    private static int count(String html, String regex) {
        Matcher m = Pattern.compile(regex).matcher(html);
        int n = 0;
        while (m.find()) n++;
        return n;
    }

    @Test
    void oneHeatmapPerTaskAndRunWithEveryCell() {
        String html = HtmlReport.render(SampleReports.twoRuns());
        assertEquals(4, count(html, "<svg [^>]*class=\"heatmap\""), "2 tasks x 2 runs");
        for (String task : List.of("passkey", "niah_single"))
            for (String run : List.of("hsa", "swa_only"))
                assertEquals(1, count(html, "class=\"heatmap\"[^>]* data-task=\"" + task + "\" data-run=\"" + run + "\""), task + "/" + run);
        // 3 lengths x 3 depths per heatmap; the 16K column did not run
        assertEquals(4 * 6, count(html, "<g class=\"cell\">"));
        assertEquals(4 * 3, count(html, "<g class=\"cell not-run\">"));
        assertTrue(html.contains("fill=\"url(#hsa-hatch)\"") && html.contains("<pattern id=\"hsa-hatch\""), "not-run cells are hatched");
        assertTrue(html.contains("needs 9.5 GiB of device memory"), "the reason is shown");
    }

    @Test
    void cellsShowPooledAccuracyWithTheSpreadInTheTooltip() {
        EvalReport one = EvalReport.of("t", "c", List.of(SampleReports.run("hsa", "hsa", 0.1)));
        String html = HtmlReport.render(one);
        // 1K, depth 0.1: seed 1 gets round(10·(1 − 0.1·ln 1.1)) = 10, seed 2 round(10·(0.9 − 0.1·ln 1.1)) = 9 → 19/20
        assertTrue(html.contains("passkey · 1K tokens · depth 0.10: exact match 95.0% (19/20), per cell 90–100% over 2 cells"), html);
        assertTrue(html.contains(">95%</text>"));
    }

    @Test
    void hasTheChartsTheIssueAsksFor() {
        String html = HtmlReport.render(SampleReports.twoRuns());
        assertEquals(2, count(html, "class=\"chart accuracy\""), "accuracy vs length per task");
        assertEquals(1, count(html, "class=\"chart perplexity\""));
        assertEquals(1, count(html, "class=\"chart seconds\""));
        assertEquals(1, count(html, "class=\"chart memory\""));
        assertEquals(3, count(html, "training length 1K</text>"), "the training length is marked on accuracy and perplexity charts");
        assertEquals(5, count(html, "<g class=\"series\" data-run=\"swa_only\""), "the baseline is its own line in every chart");
    }

    @Test
    void isSelfContainedAndEscapesText() {
        String html = HtmlReport.render(SampleReports.twoRuns());
        assertFalse(html.contains("<script") || html.contains("http://www.w3.org/1999/xlink") || html.matches("(?s).*(src|href)=\"https?:.*"),
                "no scripts, no external resources");
        assertTrue(html.contains("bundled &lt;corpus&gt; &amp; co") && !html.contains("<corpus>"), "text is escaped");
        assertTrue(html.startsWith("<!DOCTYPE html>") && html.trim().endsWith("</html>"));
    }

    @Test
    void axisNumbersReadWell() {
        assertEquals("0.1", HtmlReport.compact(0.1));
        assertEquals("10", HtmlReport.compact(10));
        assertEquals("2.35", HtmlReport.compact(2.3456));
        assertEquals("64 MiB", Bytes.human(64L << 20));
        assertEquals("1.5 GiB", Bytes.human(3L << 29));
        assertEquals("64K", Bytes.tokens(65536));
        assertEquals("1M", Bytes.tokens(1 << 20));
        assertEquals("1000", Bytes.tokens(1000));
        assertEquals(8L << 30, Bytes.parse("8G", "--max-memory"));
        assertEquals(512L << 20, Bytes.parse("512MiB", "--max-memory"));
        assertEquals("2026-01-02 03:04 UTC", HtmlReport.displayDate("2026-01-02T03:04:05Z"));
    }
}
