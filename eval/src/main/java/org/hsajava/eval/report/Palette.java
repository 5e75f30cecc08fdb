package org.hsajava.eval.report;

import java.util.Locale;

/**
 * The report's colours: one per run (Okabe–Ito, distinguishable with colour-blindness), and a
 * sequential scale for accuracy (viridis stops: dark purple = 0 %, yellow = 100 %) with the text
 * colour that stays readable on each.
 */
final class Palette {
    static final String TEXT = "#1f2937";
    static final String MUTED = "#6b7280";
    static final String GRID = "#e5e7eb";
    static final String AXIS = "#9ca3af";
    static final String NOT_RUN = "url(#hsa-hatch)";

    private static final String[] RUNS = {"#0072B2", "#E69F00", "#009E73", "#D55E00", "#CC79A7", "#56B4E9", "#000000"};
    private static final int[][] VIRIDIS = {{68, 1, 84}, {59, 82, 139}, {33, 145, 140}, {94, 201, 98}, {253, 231, 37}};

    private Palette() {}

    static String run(int index) { return RUNS[index % RUNS.length]; }

    /** Colour of accuracy {@code a} in [0, 1]. */
    static String accuracy(double a) {
        int[] c = rgb(a);
        return String.format(Locale.ROOT, "#%02x%02x%02x", c[0], c[1], c[2]);
    }

    /** Black or white, whichever reads better on {@link #accuracy(double)}. */
    static String textOn(double a) {
        int[] c = rgb(a);
        double luminance = (0.2126 * c[0] + 0.7152 * c[1] + 0.0722 * c[2]) / 255;
        return luminance > 0.45 ? "#111827" : "#ffffff";
    }

    private static int[] rgb(double a) {
        double t = Math.max(0, Math.min(1, a)) * (VIRIDIS.length - 1);
        int i = Math.min(VIRIDIS.length - 2, (int) Math.floor(t));
        double f = t - i;
        int[] out = new int[3];
        for (int k = 0; k < 3; k++) out[k] = (int) Math.round(VIRIDIS[i][k] + f * (VIRIDIS[i + 1][k] - VIRIDIS[i][k]));
        return out;
    }
}
