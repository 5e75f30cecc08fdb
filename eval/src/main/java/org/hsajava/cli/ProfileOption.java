package org.hsajava.cli;

import org.hsajava.compute.Profiler;
import picocli.CommandLine.Option;

/** The shared {@code --profile} option: per-task device times of every plan, printed as one table at the end. */
public final class ProfileOption {
    @Option(names = "--profile", description = "time every task (OpenCL events) and print a per-task table at the end")
    void profile(boolean on) { Profiler.enable(on); }

    /** Prints the table if profiling was on and anything ran. */
    static void printIfEnabled(java.io.PrintStream out) {
        if (Profiler.enabled() && !Profiler.isEmpty()) {
            out.println("\nProfile (every plan execution of this command):");
            out.print(Profiler.table());
        }
    }
}
