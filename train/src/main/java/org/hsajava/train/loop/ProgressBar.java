package org.hsajava.train.loop;

import java.io.PrintStream;
import java.util.Locale;

/**
 * Console progress: on a terminal one line redrawn in place ({@code \r}) with a bar; otherwise
 * (logs, CI) one plain line every {@code every} steps and at the last step, never control characters.
 */
public final class ProgressBar {
    private static final int WIDTH = 24;
    private final PrintStream out;
    private final boolean terminal;
    private final long total;
    private final long every;
    private final double timeLimitSeconds;
    private boolean open;

    public ProgressBar(PrintStream out, boolean terminal, long total) {
        this(out, terminal, total, Double.POSITIVE_INFINITY);
    }

    /**
     * @param timeLimitSeconds the run stops after this many seconds of training even before
     *                         {@code total} (the ETA is then the sooner of the two); infinity for none
     */
    public ProgressBar(PrintStream out, boolean terminal, long total, double timeLimitSeconds) {
        this.out = out;
        this.terminal = terminal;
        this.total = total;
        this.every = Math.max(1, total / 100);
        this.timeLimitSeconds = timeLimitSeconds;
    }

    /** True when the JVM's stdout is an interactive console. */
    public static boolean stdoutIsTerminal() {
        java.io.Console c = System.console();
        return c != null && c.isTerminal();
    }

    public void update(StepMetrics m, long firstStep) {
        long done = m.step() - firstStep + 1;
        double perStep = done > 0 ? m.elapsed() / done : 0;
        String text = String.format(Locale.ROOT, "step %d/%d  loss %.4f  lr %.2e  |g| %.3g  %s tok/s  ETA %s",
                m.step(), total, m.loss(), m.lr(), m.gradNorm(), tokens(m.tokensPerS()), duration(eta(perStep * (total - m.step()), m.elapsed())))
                + (m.evaluated() ? String.format(Locale.ROOT, "  val %.4f", m.valLoss()) : "");
        if (terminal) {
            int filled = (int) Math.min(WIDTH, WIDTH * m.step() / Math.max(1, total));
            out.print("\r[" + "#".repeat(filled) + ".".repeat(WIDTH - filled) + "] " + text + "   ");
            open = true;
            if (m.step() >= total) finish();
        } else if (m.step() % every == 0 || m.step() >= total || done == 1 || m.evaluated()) {
            out.println(text);
        }
        out.flush();
    }

    /** Ends the redrawn line (before other output, or at the end). */
    public void finish() {
        if (open) {
            out.println();
            open = false;
        }
    }

    /** Seconds left: until the last step, or until the time limit when that comes first. */
    double eta(double untilLastStep, double elapsed) {
        return Math.min(untilLastStep, timeLimitSeconds - elapsed);
    }

    static String tokens(double perS) {
        if (perS >= 1e6) return String.format(Locale.ROOT, "%.2fM", perS / 1e6);
        if (perS >= 1e4) return String.format(Locale.ROOT, "%.1fk", perS / 1e3);
        return String.format(Locale.ROOT, "%.0f", perS);
    }

    static String duration(double seconds) {
        long s = Math.round(Math.max(0, seconds));
        if (s >= 3600) return String.format(Locale.ROOT, "%dh%02dm", s / 3600, s % 3600 / 60);
        if (s >= 60) return String.format(Locale.ROOT, "%dm%02ds", s / 60, s % 60);
        return s + "s";
    }
}
