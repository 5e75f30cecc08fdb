package org.hsajava.compute;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashSet;
import java.util.List;
import java.util.Set;

/**
 * An ordered list of tasks over named tensors, shaped like TornadoVM's {@code TaskGraph}:
 * <pre>{@code
 * TaskGraph g = new TaskGraph("gemm")
 *     .transferToDevice(DataTransferMode.FIRST_EXECUTION, a, b)
 *     .task("mm", Gemm.NN, a, b, c, m, n, k, ...)
 *     .transferToHost(DataTransferMode.EVERY_EXECUTION, c);
 * try (ExecutionPlan plan = new ExecutionPlan(g.snapshot()).withDevice(device)) { plan.execute(); }
 * }</pre>
 * Arguments are checked against the kernel's parameters as each task is added: a wrong count,
 * kind or element type is an error naming the task and the argument.
 */
public final class TaskGraph {
    private final String name;
    private final List<Task> tasks = new ArrayList<>();
    private final Set<String> taskNames = new HashSet<>();
    private int transfers;

    public TaskGraph(String name) {
        if (name == null || name.isBlank() || name.contains(".")) throw new IllegalArgumentException("graph name must be non-empty and contain no '.', got '" + name + "'");
        this.name = name;
    }

    public String name() { return name; }

    public TaskGraph transferToDevice(DataTransferMode mode, Tensor... tensors) {
        tasks.add(new Task.ToDevice("toDevice" + (transfers++), mode, List.of(tensors)));
        return this;
    }

    public TaskGraph transferToHost(DataTransferMode mode, Tensor... tensors) {
        tasks.add(new Task.ToHost("toHost" + (transfers++), mode, List.of(tensors)));
        return this;
    }

    /** Adds a kernel launch; {@code args} follow the kernel's parameter order. */
    public TaskGraph task(String taskName, KernelDef kernel, Object... args) {
        if (taskName == null || taskName.isBlank()) throw new IllegalArgumentException("graph '" + name + "': task name must be non-empty");
        if (!taskNames.add(taskName)) throw new IllegalArgumentException("graph '" + name + "' already has a task '" + taskName + "'");
        String where = "task '" + name + "." + taskName + "' (kernel " + kernel.name() + ")";
        List<Param> params = kernel.params();
        if (args.length != params.size()) {
            throw new IllegalArgumentException(where + ": expected " + params.size() + " arguments " + paramNames(params) + ", got " + args.length);
        }
        List<Object> values = new ArrayList<>(args.length);
        for (int i = 0; i < args.length; i++) values.add(coerce(where, params.get(i), i, args[i]));
        try {
            kernel.check(new KernelArgs(kernel, values, null));
        } catch (IllegalArgumentException e) {
            throw new IllegalArgumentException(where + ": " + e.getMessage(), e);
        }
        tasks.add(new Task.Launch(taskName, kernel, List.copyOf(values)));
        return this;
    }

    /** Freezes the graph; later changes to this builder do not affect the snapshot. */
    public ImmutableTaskGraph snapshot() { return new ImmutableTaskGraph(name, List.copyOf(tasks)); }

    private static Object coerce(String where, Param p, int index, Object arg) {
        String argName = "argument '" + p.name() + "' (#" + index + ")";
        if (arg == null) throw new IllegalArgumentException(where + ": " + argName + " is null");
        switch (p.kind()) {
            case BUFFER -> {
                if (!(arg instanceof Tensor t)) throw new IllegalArgumentException(where + ": " + argName + " expects " + p.describe() + ", got " + arg.getClass().getSimpleName() + " " + arg);
                if (t.dtype() != p.dtype()) throw new IllegalArgumentException(where + ": " + argName + " expects " + p.describe() + ", got " + t);
                return t;
            }
            case INT -> {
                if (arg instanceof Scalar s) return s;
                if (arg instanceof Integer || arg instanceof Short || arg instanceof Byte) return ((Number) arg).intValue();
                if (arg instanceof Long l && l == l.intValue()) return l.intValue();
                throw new IllegalArgumentException(where + ": " + argName + " expects an int, got " + arg.getClass().getSimpleName() + " " + arg);
            }
            case FLOAT -> {
                if (arg instanceof Scalar s) return s;
                if (arg instanceof Number n && !(arg instanceof Long)) return n.floatValue();
                throw new IllegalArgumentException(where + ": " + argName + " expects a float, got " + arg.getClass().getSimpleName() + " " + arg);
            }
            default -> throw new AssertionError(p.kind());
        }
    }

    private static String paramNames(List<Param> params) {
        return Arrays.toString(params.stream().map(Param::name).toArray());
    }
}
