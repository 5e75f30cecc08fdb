package org.hsajava.eval.report;

import java.util.Locale;

/**
 * A small inline-SVG writer: elements are appended in order, attribute values and text are escaped,
 * numbers are written with one decimal in the root locale. {@link #title} adds a tooltip to the
 * element opened before it (browsers show an SVG {@code <title>} child on hover).
 */
final class Svg {
    private final StringBuilder sb = new StringBuilder();

    /** An {@code <svg>} of {@code width × height} user units, scaled to its container's width, with a CSS class and extra attributes. */
    Svg(double width, double height, String cssClass, String... attributes) {
        sb.append("<svg xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 ").append(num(width)).append(' ').append(num(height))
                .append("\" width=\"").append(num(width)).append("\" class=\"").append(esc(cssClass)).append("\" role=\"img\"");
        attrs(attributes);
        sb.append('>');
    }

    /** Opens an element; {@code attributes} alternate name, value. */
    Svg open(String tag, String... attributes) {
        sb.append('<').append(tag);
        attrs(attributes);
        sb.append('>');
        return this;
    }

    Svg close(String tag) {
        sb.append("</").append(tag).append('>');
        return this;
    }

    /** A childless element. */
    Svg empty(String tag, String... attributes) {
        sb.append('<').append(tag);
        attrs(attributes);
        sb.append("/>");
        return this;
    }

    Svg rect(double x, double y, double w, double h, String fill, String... more) {
        return empty("rect", concat(new String[] {"x", num(x), "y", num(y), "width", num(w), "height", num(h), "fill", fill}, more));
    }

    Svg line(double x1, double y1, double x2, double y2, String stroke, double width, String... more) {
        return empty("line", concat(new String[] {"x1", num(x1), "y1", num(y1), "x2", num(x2), "y2", num(y2), "stroke", stroke, "stroke-width", num(width)}, more));
    }

    /**
     * Text at (x, y); {@code anchor} is start, middle or end. A {@code fill} among {@code more} is
     * written as an inline style, which (unlike the attribute) wins over the page's style sheet.
     */
    Svg text(double x, double y, String text, String anchor, String cssClass, String... more) {
        String[] extra = more.clone();
        for (int i = 0; i < extra.length; i += 2) if (extra[i].equals("fill")) { extra[i] = "style"; extra[i + 1] = "fill:" + extra[i + 1]; }
        open("text", concat(new String[] {"x", num(x), "y", num(y), "text-anchor", anchor, "class", cssClass}, extra));
        sb.append(esc(text));
        return close("text");
    }

    /** A tooltip for the enclosing element. */
    Svg title(String text) {
        sb.append("<title>").append(esc(text)).append("</title>");
        return this;
    }

    @Override
    public String toString() { return sb + "</svg>"; }

    static String num(double v) {
        if (v == Math.rint(v) && Math.abs(v) < 1e9) return Long.toString((long) v);
        return String.format(Locale.ROOT, "%.1f", v);
    }

    static String esc(String s) {
        StringBuilder out = new StringBuilder(s.length());
        for (char c : s.toCharArray()) {
            switch (c) {
                case '<' -> out.append("&lt;");
                case '>' -> out.append("&gt;");
                case '&' -> out.append("&amp;");
                case '"' -> out.append("&quot;");
                case '\'' -> out.append("&#39;");
                default -> out.append(c);
            }
        }
        return out.toString();
    }

    private void attrs(String[] attributes) {
        if (attributes.length % 2 != 0) throw new IllegalArgumentException("attributes come in name/value pairs");
        for (int i = 0; i < attributes.length; i += 2)
            sb.append(' ').append(attributes[i]).append("=\"").append(esc(attributes[i + 1])).append('"');
    }

    private static String[] concat(String[] a, String[] b) {
        String[] out = java.util.Arrays.copyOf(a, a.length + b.length);
        System.arraycopy(b, 0, out, a.length, b.length);
        return out;
    }
}
