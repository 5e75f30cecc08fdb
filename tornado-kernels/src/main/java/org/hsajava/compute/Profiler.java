package org.hsajava.compute;

import java.util.ArrayList;
import java.util.List;

/**
 * The process-wide profiling switch (TornadoVM's {@code --enableProfiler console}): when on, every
 * {@link ExecutionPlan} times each task (OpenCL events for kernels, wall time for transfers) and
 * records it here, so a command can print one per-task table at the end ({@code --profile}).
 * Also switched on by {@code -Dhsa.profile=true}.
 */
public final class Profiler {
    private static volatile boolean enabled = Boolean.getBoolean("hsa.profile");
    private static final List<ExecutionResult.TaskTiming> TIMINGS = new ArrayList<>();

    private Profiler() {}

    public static void enable(boolean on) { enabled = on; }

    public static boolean enabled() { return enabled; }

    static synchronized void record(List<ExecutionResult.TaskTiming> timings) { TIMINGS.addAll(timings); }

    /** Everything recorded so far, aggregated per task (calls, total, mean, share). */
    public static synchronized String table() { return ExecutionResult.table(TIMINGS); }

    public static synchronized boolean isEmpty() { return TIMINGS.isEmpty(); }

    public static synchronized void reset() { TIMINGS.clear(); }
}
