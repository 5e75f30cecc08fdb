package org.hsajava.compute;

import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/** What one {@link ExecutionPlan#execute()} measured (empty unless profiling is on). */
public record ExecutionResult(List<TaskTiming> timings) {

    /** One task's time: kernel time from OpenCL events, or host wall time for transfers and Java kernels. */
    public record TaskTiming(String task, String kind, long nanos) {}

    public long totalNanos() { return timings.stream().mapToLong(TaskTiming::nanos).sum(); }

    /** A per-task table: task, kind, time in ms and share of the total. */
    public String table() { return table(timings); }

    /** Aggregates timings of many executions into one table (calls, total, mean). */
    public static String table(List<TaskTiming> all) {
        Map<String, long[]> agg = new LinkedHashMap<>();
        Map<String, String> kinds = new LinkedHashMap<>();
        for (TaskTiming t : all) {
            long[] a = agg.computeIfAbsent(t.task(), k -> new long[2]);
            a[0]++;
            a[1] += t.nanos();
            kinds.put(t.task(), t.kind());
        }
        long total = agg.values().stream().mapToLong(a -> a[1]).sum();
        int w = Math.max(4, agg.keySet().stream().mapToInt(String::length).max().orElse(4));
        int kw = Math.max(4, kinds.values().stream().mapToInt(String::length).max().orElse(4));
        StringBuilder sb = new StringBuilder();
        sb.append(String.format("%-" + w + "s  %-" + kw + "s %6s %11s %10s %6s%n", "task", "kind", "calls", "total ms", "mean ms", "share"));
        agg.forEach((task, a) -> sb.append(String.format("%-" + w + "s  %-" + kw + "s %6d %11.3f %10.4f %5.1f%%%n",
                task, kinds.get(task), a[0], a[1] / 1e6, a[1] / 1e6 / a[0], total == 0 ? 0 : 100.0 * a[1] / total)));
        sb.append(String.format("%-" + w + "s  %-" + kw + "s %6s %11.3f%n", "total", "", "", total / 1e6));
        return sb.toString();
    }
}
