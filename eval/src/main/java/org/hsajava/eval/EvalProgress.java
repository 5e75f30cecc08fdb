package org.hsajava.eval;

import java.io.PrintStream;
import java.util.Locale;

/**
 * Progress of an evaluation grid on the console: cells done / total, the current cell, elapsed time
 * and an ETA. Cells differ in cost by orders of magnitude (a 64K-token sample is not a 1K one), so
 * the ETA weighs each cell by its work, samples × length. On a terminal one line is redrawn in
 * place with a bar; otherwise (logs, CI) one plain line per cell, never control characters.
 */
public final class EvalProgress {
    private static final int WIDTH = 24;
    private final PrintStream out;
    private final boolean terminal;
    private final int totalCells;
    private double totalWork;
    private final long start = System.nanoTime();
    private int cellsDone;
    private double workDone;
    private boolean open;

    public EvalProgress(PrintStream out, boolean terminal, int totalCells, double totalWork) {
        this.out = out;
        this.terminal = terminal;
        this.totalCells = totalCells;
        this.totalWork = Math.max(totalWork, 1e-9);
    }

    /** True when the JVM's console is interactive. */
    public static boolean consoleIsTerminal() {
        java.io.Console c = System.console();
        return c != null && c.isTerminal();
    }

    /** Shows that {@code label} is running (terminal only: a plain log gets one line per finished cell). */
    public void starting(String label) {
        if (terminal) draw("running " + label);
    }

    /** Records a finished cell of {@code work} units. */
    public void done(String label, double work) {
        workDone += work;
        advance("done " + label);
    }

    /** Records {@code cells} cells that were not run: their work leaves the total, so the ETA does not count it as progress. */
    public void skipped(String label, int cells, double work) {
        totalWork = Math.max(totalWork - work, 1e-9);
        cellsDone += cells - 1;
        advance("skipped " + label);
    }

    private void advance(String text) {
        cellsDone++;
        if (terminal) {
            draw(text);
            if (cellsDone >= totalCells) finish();
        } else {
            out.println(status() + "  " + text);
        }
        out.flush();
    }

    /** Ends the redrawn line, before other console output or at the end. */
    public void finish() {
        if (open) {
            out.print("\r" + " ".repeat(WIDTH + 100) + "\r");
            open = false;
            out.flush();
        }
    }

    private void draw(String text) {
        int filled = (int) Math.min(WIDTH, Math.round(WIDTH * workDone / totalWork));
        String line = "[" + "#".repeat(filled) + ".".repeat(WIDTH - filled) + "] " + status() + "  " + text;
        out.print("\r" + line + " ".repeat(Math.max(0, WIDTH + 100 - line.length())));
        out.flush();
        open = true;
    }

    String status() {
        double elapsed = (System.nanoTime() - start) / 1e9;
        String eta = workDone <= 0 ? "?" : duration(elapsed * (totalWork - workDone) / workDone);
        return String.format(Locale.ROOT, "cell %d/%d  elapsed %s  ETA %s", cellsDone, totalCells, duration(elapsed), eta);
    }

    static String duration(double seconds) {
        long s = Math.round(Math.max(0, seconds));
        if (s >= 3600) return String.format(Locale.ROOT, "%dh%02dm", s / 3600, s % 3600 / 60);
        if (s >= 60) return String.format(Locale.ROOT, "%dm%02ds", s / 60, s % 60);
        return s + "s";
    }
}
