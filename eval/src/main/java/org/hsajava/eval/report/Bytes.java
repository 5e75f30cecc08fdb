package org.hsajava.eval.report;

import java.util.Locale;

/** Sizes as people read them: bytes in KiB/MiB/GiB, token counts as 1K / 64K / 1M when exact. */
public final class Bytes {
    private Bytes() {}

    public static String human(long bytes) {
        if (bytes < 1024) return bytes + " B";
        String[] units = {"KiB", "MiB", "GiB", "TiB"};
        double v = bytes;
        int u = -1;
        while (v >= 1024 && u < units.length - 1) {
            v /= 1024;
            u++;
        }
        String number = String.format(Locale.ROOT, v >= 100 ? "%.0f" : v >= 10 ? "%.1f" : "%.2f", v);
        if (number.contains(".")) number = number.replaceAll("\\.?0+$", "");  // 64.0 → 64, 1.50 → 1.5
        return number + " " + units[u];
    }

    /** 1024 → "1K", 65536 → "64K", 1048576 → "1M", 1000 → "1000". */
    public static String tokens(long n) {
        if (n >= 1 << 20 && n % (1 << 20) == 0) return n / (1 << 20) + "M";
        if (n >= 1024 && n % 1024 == 0) return n / 1024 + "K";
        return Long.toString(n);
    }

    /** "8G", "512M", "1.5G", "4096" (bytes) → bytes; suffixes are binary (K = 1024). */
    public static long parse(String spec, String option) {
        String s = spec.trim().toUpperCase(Locale.ROOT).replace("IB", "").replace("B", "");
        long mult = 1;
        if (s.endsWith("K")) mult = 1L << 10;
        else if (s.endsWith("M")) mult = 1L << 20;
        else if (s.endsWith("G")) mult = 1L << 30;
        else if (s.endsWith("T")) mult = 1L << 40;
        if (mult > 1) s = s.substring(0, s.length() - 1);
        try {
            double v = Double.parseDouble(s);
            if (!(v > 0)) throw new NumberFormatException();
            return (long) (v * mult);
        } catch (NumberFormatException e) {
            throw new IllegalArgumentException(option + ": not a size: '" + spec + "' (use e.g. 8G, 512M)");
        }
    }
}
