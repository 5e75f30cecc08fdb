package org.hsajava.eval.report;

import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.TreeSet;
import java.util.function.DoubleFunction;

/**
 * A line chart over context length: x on a log₂ scale with a tick at every length that has data,
 * y linear or log₁₀, one line per run (colour from the run, markers with tooltips), dashed vertical
 * markers (the training length), axis labels and a legend.
 */
final class LineChart {
    private static final double W = 520, H = 312, LEFT = 76, RIGHT = 16, TOP = 44, BOTTOM = 52;

    record Point(double x, double y, String tooltip) {}

    record Series(String label, String color, List<Point> points) {}

    record Marker(double x, String label, String color) {}

    /**
     * How the y axis is scaled and labelled: {@code logBase} 0 = linear, 10 or 2 (bytes: ticks at
     * powers of two); {@code min}/{@code max} null = from the data.
     */
    record YAxis(String label, int logBase, Double min, Double max, DoubleFunction<String> format) {
        boolean log() { return logBase > 0; }

        double toAxis(double y) { return log() ? Math.log(y) / Math.log(logBase) : y; }

        double fromAxis(double v) { return log() ? Math.pow(logBase, v) : v; }
    }

    private LineChart() {}

    static String render(String cssClass, String xLabel, YAxis yAxis, List<Series> series, List<Marker> markers) {
        Svg svg = new Svg(W, H, "chart " + cssClass, "aria-label", yAxis.label() + " vs " + xLabel);
        TreeSet<Double> xs = new TreeSet<>();
        List<Double> ys = new ArrayList<>();
        for (Series s : series) for (Point p : s.points()) if (Double.isFinite(p.y()) && (!yAxis.log() || p.y() > 0)) {
            xs.add(p.x());
            ys.add(p.y());
        }
        for (Marker m : markers) xs.add(m.x());
        double plotW = W - LEFT - RIGHT, plotH = H - TOP - BOTTOM;
        if (ys.isEmpty()) {
            svg.rect(LEFT, TOP, plotW, plotH, "#fafafa", "stroke", Palette.GRID);
            svg.text(LEFT + plotW / 2, TOP + plotH / 2, "no data", "middle", "axis-label");
            return svg.toString();
        }
        double xMin = Math.log(xs.first()) / Math.log(2), xMax = Math.log(xs.last()) / Math.log(2);
        if (xMax - xMin < 1e-9) { xMin -= 1; xMax += 1; }
        double[] yRange = yRange(yAxis, ys);
        final double x0 = xMin, x1 = xMax, y0 = yRange[0], y1 = yRange[1];
        DoubleFunction<Double> px = x -> LEFT + (Math.log(x) / Math.log(2) - x0) / (x1 - x0) * plotW;
        DoubleFunction<Double> py = y -> TOP + plotH - (yAxis.toAxis(y) - y0) / (y1 - y0) * plotH;

        // grid and y ticks
        for (double t : yTicks(yAxis, y0, y1)) {
            double y = py.apply(t);
            svg.line(LEFT, y, LEFT + plotW, y, Palette.GRID, 1);
            svg.text(LEFT - 6, y + 4, yAxis.format().apply(t), "end", "tick");
        }
        // x ticks: every length with data, thinned when crowded
        List<Double> ticks = new ArrayList<>(xs);
        int every = Math.max(1, (int) Math.ceil(ticks.size() / 9.0));
        for (int i = 0; i < ticks.size(); i += every) {
            double x = px.apply(ticks.get(i));
            svg.line(x, TOP + plotH, x, TOP + plotH + 4, Palette.AXIS, 1);
            svg.text(x, TOP + plotH + 18, Bytes.tokens(Math.round(ticks.get(i))), "middle", "tick");
        }
        svg.line(LEFT, TOP + plotH, LEFT + plotW, TOP + plotH, Palette.AXIS, 1);
        svg.line(LEFT, TOP, LEFT, TOP + plotH, Palette.AXIS, 1);
        svg.text(LEFT + plotW / 2, H - 10, xLabel, "middle", "axis-label");
        svg.text(14, TOP + plotH / 2, yAxis.label(), "middle", "axis-label",
                "transform", String.format(Locale.ROOT, "rotate(-90 14 %s)", Svg.num(TOP + plotH / 2)));

        for (Marker m : markers) {
            double x = px.apply(m.x());
            svg.open("g", "class", "marker");
            svg.title(m.label());
            svg.line(x, TOP - 16, x, TOP + plotH, m.color(), 1.5, "stroke-dasharray", "5 4");
            boolean rightHalf = x > LEFT + plotW / 2;  // label on the side with room
            svg.text(rightHalf ? x - 4 : x + 4, TOP - 6, m.label(), rightHalf ? "end" : "start", "marker-label", "fill", m.color());
            svg.close("g");
        }
        for (Series s : series.reversed()) {  // the first run (the model under study) is drawn last, on top
            StringBuilder pts = new StringBuilder();
            List<Point> shown = s.points().stream().filter(p -> Double.isFinite(p.y()) && (!yAxis.log() || p.y() > 0)).toList();
            for (Point p : shown) pts.append(Svg.num(px.apply(p.x()))).append(',').append(Svg.num(py.apply(clamp(p.y(), yAxis)))).append(' ');
            svg.open("g", "class", "series", "data-run", s.label());
            if (shown.size() > 1) svg.empty("polyline", "points", pts.toString().trim(), "fill", "none", "stroke", s.color(), "stroke-width", "2.2",
                    "stroke-linejoin", "round", "stroke-linecap", "round");
            for (Point p : shown) {
                svg.open("circle", "cx", Svg.num(px.apply(p.x())), "cy", Svg.num(py.apply(clamp(p.y(), yAxis))), "r", "4.5",
                        "fill", "#ffffff", "stroke", s.color(), "stroke-width", "2");
                svg.title(s.label() + " · " + Bytes.tokens(Math.round(p.x())) + " tokens: " + p.tooltip());
                svg.close("circle");
            }
            svg.close("g");
        }
        legend(svg, series);
        return svg.toString();
    }

    private static double clamp(double y, YAxis a) {
        if (a.min() != null && y < a.min()) return a.min();
        if (a.max() != null && y > a.max()) return a.max();
        return y;
    }

    /** The legend across the top: a swatch and label per run. */
    private static void legend(Svg svg, List<Series> series) {
        double x = LEFT;
        svg.open("g", "class", "legend");
        for (Series s : series) {
            svg.line(x, 14, x + 18, 14, s.color(), 2.5);
            svg.empty("circle", "cx", Svg.num(x + 9), "cy", "14", "r", "3.5", "fill", "#ffffff", "stroke", s.color(), "stroke-width", "2");
            svg.text(x + 24, 18, s.label(), "start", "legend-label");
            x += 36 + 7.5 * s.label().length();
        }
        svg.close("g");
    }

    /** Plot range in axis units (log₁₀ for a log axis), padded, honouring fixed ends. */
    private static double[] yRange(YAxis a, List<Double> ys) {
        double lo = Double.POSITIVE_INFINITY, hi = Double.NEGATIVE_INFINITY;
        for (double y : ys) {
            double v = a.toAxis(y);
            lo = Math.min(lo, v);
            hi = Math.max(hi, v);
        }
        if (a.log()) {
            lo = Math.floor(lo + 1e-9);
            hi = Math.max(lo + 1, Math.ceil(hi - 1e-9));
        } else {
            double pad = hi - lo < 1e-12 ? Math.max(Math.abs(hi) * 0.1, 1) : (hi - lo) * 0.08;
            lo -= pad;
            hi += pad;
        }
        if (a.min() != null) lo = a.toAxis(a.min());
        if (a.max() != null) hi = a.toAxis(a.max());
        return new double[] {lo, hi};
    }

    /** Ticks in data units: round steps (1, 2, 5 × 10^k) on a linear axis, whole powers of the base (at most 7) on a log one. */
    private static List<Double> yTicks(YAxis a, double lo, double hi) {
        List<Double> out = new ArrayList<>();
        if (a.log()) {
            double first = Math.ceil(lo - 1e-9), step = Math.max(1, Math.ceil((Math.floor(hi + 1e-9) - first) / 6));
            for (double e = first; e <= hi + 1e-9; e += step) out.add(a.fromAxis(e));
            return out;
        }
        double raw = (hi - lo) / 5, mag = Math.pow(10, Math.floor(Math.log10(raw)));
        double step = raw / mag < 1.5 ? mag : raw / mag < 3.5 ? 2 * mag : raw / mag < 7.5 ? 5 * mag : 10 * mag;
        for (double t = Math.ceil(lo / step) * step; t <= hi + step * 1e-6; t += step) out.add(Math.abs(t) < step * 1e-9 ? 0 : t);
        return out;
    }
}
