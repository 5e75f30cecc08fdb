package org.hsajava.eval.report;

import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * Accuracy of one task for one run as a grid: context length across (left to right, increasing),
 * needle depth down (0 = needle at the start of the filler), each cell coloured by exact-match
 * accuracy pooled over seeds and labelled with it; cells that did not run are hatched. A colour
 * legend sits underneath. Each cell's tooltip has the counts, the spread over seeds and the time.
 */
final class Heatmap {
    private static final double CELL_W = 60, CELL_H = 32, LEFT = 64, TOP = 12, BOTTOM = 92, RIGHT = 16;

    /** A grid cell's key: sorted by length, then depth. */
    record Key(int length, double depth) implements Comparable<Key> {
        @Override
        public int compareTo(Key o) {
            return length != o.length ? Integer.compare(length, o.length) : Double.compare(depth, o.depth);
        }
    }

    private Heatmap() {}

    /** The heatmap of {@code task} for {@code run}, over the report's {@code lengths} and {@code depths} (ascending). */
    static String render(RunReport run, String task, List<Integer> lengths, List<Double> depths) {
        Map<Key, Pooled> cells = Pooled.group(run, task, c -> new Key(c.length(), c.depth()));
        double legendWidth = Math.min(200, Math.max(120, lengths.size() * CELL_W));
        double w = Math.max(LEFT + lengths.size() * CELL_W + RIGHT, LEFT + legendWidth + 100), h = TOP + depths.size() * CELL_H + BOTTOM;
        Svg svg = new Svg(w, h, "heatmap", "data-task", task, "data-run", run.label(),
                "aria-label", "exact-match accuracy of " + run.label() + " on " + task + " by context length and needle depth");
        for (int j = 0; j < depths.size(); j++) {
            double y = TOP + j * CELL_H;
            svg.text(LEFT - 8, y + CELL_H / 2 + 4, String.format(Locale.ROOT, "%.2f", depths.get(j)), "end", "tick");
            for (int i = 0; i < lengths.size(); i++) {
                double x = LEFT + i * CELL_W;
                Pooled p = cells.get(new Key(lengths.get(i), depths.get(j)));
                String where = String.format(Locale.ROOT, "%s · %s tokens · depth %.2f: ", task, Bytes.tokens(lengths.get(i)), depths.get(j));
                svg.open("g", "class", p != null && p.ran() ? "cell" : "cell not-run");
                if (p == null) {
                    svg.title(where + "not in this run's grid");
                    svg.rect(x + 1, y + 1, CELL_W - 2, CELL_H - 2, "#ffffff", "stroke", Palette.GRID);
                } else if (!p.ran()) {
                    svg.title(where + p.describe());
                    svg.rect(x + 1, y + 1, CELL_W - 2, CELL_H - 2, Palette.NOT_RUN, "rx", "3");
                    svg.text(x + CELL_W / 2, y + CELL_H / 2 + 4, "n/a", "middle", "cell-na");
                } else {
                    double a = p.accuracy();
                    svg.title(where + p.describe());
                    svg.rect(x + 1, y + 1, CELL_W - 2, CELL_H - 2, Palette.accuracy(a), "rx", "3");
                    svg.text(x + CELL_W / 2, y + CELL_H / 2 + 4, String.format(Locale.ROOT, "%.0f%%", 100 * a), "middle", "cell-value", "fill", Palette.textOn(a));
                }
                svg.close("g");
            }
        }
        double gridBottom = TOP + depths.size() * CELL_H;
        for (int i = 0; i < lengths.size(); i++) {
            boolean trained = lengths.get(i) == run.trainLength();
            svg.text(LEFT + i * CELL_W + CELL_W / 2, gridBottom + 16, Bytes.tokens(lengths.get(i)), "middle", trained ? "tick strong" : "tick");
            if (trained) svg.title("the training length");
        }
        svg.text(LEFT + lengths.size() * CELL_W / 2, gridBottom + 34, "context length (tokens)", "middle", "axis-label");
        svg.text(14, TOP + depths.size() * CELL_H / 2, "needle depth", "middle", "axis-label",
                "transform", String.format(Locale.ROOT, "rotate(-90 14 %s)", Svg.num(TOP + depths.size() * CELL_H / 2)));
        legend(svg, LEFT, gridBottom + 50, legendWidth);
        return svg.toString();
    }

    /** The colour scale, 0 % to 100 %, and the not-run swatch. */
    private static void legend(Svg svg, double x, double y, double width) {
        int steps = 20;
        svg.open("g", "class", "legend");
        for (int k = 0; k < steps; k++) svg.rect(x + k * width / steps, y, width / steps + 0.5, 10, Palette.accuracy((k + 0.5) / steps));
        svg.text(x, y + 24, "0%", "start", "tick");
        svg.text(x + width / 2, y + 24, "accuracy", "middle", "tick");
        svg.text(x + width, y + 24, "100%", "end", "tick");
        svg.rect(x + width + 16, y, 14, 10, Palette.NOT_RUN, "stroke", Palette.AXIS, "stroke-width", "0.5");
        svg.text(x + width + 34, y + 9, "not run", "start", "tick");
        svg.close("g");
    }
}
