package org.hsajava.eval.report;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.awt.image.BufferedImage;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashSet;
import java.util.Set;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import javax.imageio.ImageIO;
import org.hsajava.cli.HsaCli;
import org.hsajava.eval.TestCheckpoints;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import picocli.CommandLine;

/**
 * {@code ./hsa eval} writes a report for a tiny random-init model and a baseline (Java backend, tiny
 * lengths), and headless Chromium renders it: the DOM holds every heatmap and chart as SVG, and the
 * screenshot shows the heatmaps' colours.
 */
class ReportRenderTest {
    @TempDir Path dir;

    @Test
    void theReportRendersInHeadlessChromium() throws Exception {
        Chromium chromium = Chromium.find(Files.createDirectories(dir.resolve("chromium")));
        Path hsa = TestCheckpoints.write(dir, "tiny-cpu"), swa = TestCheckpoints.write(dir, "tiny-swa");
        StringWriter err = new StringWriter();
        CommandLine cl = HsaCli.commandLine();
        cl.setErr(new PrintWriter(err, true));
        int rc = cl.execute("eval", "--checkpoint", hsa.toString(), "--baseline", "swa_only=" + swa, "--tasks", "passkey,ppl",
                "--lengths", "128,256", "--depths", "0.25,0.75", "--samples", "1", "--ppl-tokens", "16", "--device", "java", "--out", dir.resolve("out").toString());
        assertEquals(0, rc, err.toString());
        Path html = dir.resolve("out").resolve("report.html");
        String source = Files.readString(html);

        String dom = chromium.dumpDom(html);
        assertTrue(dom.contains("<title>Extrapolation report — hsa vs swa_only</title>"), "the page loaded: " + head(dom));
        assertEquals(2, count(dom, "<svg[^>]*class=\"heatmap\""), "one heatmap per run for passkey");
        assertEquals(count(source, "<svg"), count(dom, "<svg"), "every inline SVG survived parsing");
        assertEquals(count(source, "<rect"), count(dom, "<rect"), "every SVG rect survived parsing");
        for (String chart : new String[] {"accuracy", "perplexity", "seconds", "memory"})
            assertEquals(1, count(dom, "class=\"chart " + chart + "\""), chart + " chart");

        Path png = dir.resolve("report.png");
        chromium.screenshot(html, png, 1200, 1600);
        BufferedImage image = ImageIO.read(png.toFile());
        assertEquals(1200, image.getWidth());
        int[] scale = new int[101];
        for (int k = 0; k <= 100; k++) scale[k] = Integer.parseInt(Palette.accuracy(k / 100.0).substring(1), 16);
        Set<Integer> colours = new HashSet<>();
        int heatmapPixels = 0;
        for (int y = 0; y < image.getHeight(); y++)
            for (int x = 0; x < image.getWidth(); x++) {
                int rgb = image.getRGB(x, y) & 0xffffff;
                colours.add(rgb);
                if (onScale(rgb, scale)) heatmapPixels++;
            }
        assertTrue(colours.size() > 50, "not a blank page: " + colours.size() + " colours");
        // 2 heatmaps x 2 x 2 cells of 58 x 30 px, less the labels drawn on them
        assertTrue(heatmapPixels > 4000, "heatmap cells are painted in the accuracy colours: " + heatmapPixels + " pixels");
    }

    /** Is this pixel one of the accuracy scale's colours (within rounding)? */
    private static boolean onScale(int rgb, int[] scale) {
        for (int c : scale) {
            if (Math.abs((c >> 16) - (rgb >> 16)) <= 3 && Math.abs((c >> 8 & 255) - (rgb >> 8 & 255)) <= 3 && Math.abs((c & 255) - (rgb & 255)) <= 3) return true;
        }
        return false;
    }

    private static int count(String s, String regex) {
        Matcher m = Pattern.compile(regex).matcher(s);
        int n = 0;
        while (m.find()) n++;
        return n;
    }

    private static String head(String s) { return s.length() > 500 ? s.substring(0, 500) : s; }
}
