package org.hsajava.compute;

import java.util.ArrayList;
import java.util.HashSet;
import java.util.IdentityHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * Runs one or more {@link ImmutableTaskGraph}s on a device, as TornadoVM's execution plan does.
 * The plan owns the device copies of every tensor its graphs touch: a tensor that is never
 * transferred lives only on the device (zero-filled on first use). Transfers follow their
 * {@link DataTransferMode}; {@link #transferToHost(Tensor...)} serves {@code UNDER_DEMAND}.
 * Close the plan to free its device memory.
 */
public final class ExecutionPlan implements AutoCloseable {
    private final List<ImmutableTaskGraph> graphs;
    private Device device;
    private GridScheduler grids = new GridScheduler();
    private boolean profiling;
    private final Map<Tensor, Backend.Buffer> buffers = new IdentityHashMap<>();
    private final Set<Task> doneOnce = new HashSet<>();
    private long executions;

    public ExecutionPlan(ImmutableTaskGraph... graphs) {
        if (graphs.length == 0) throw new IllegalArgumentException("an execution plan needs at least one task graph");
        this.graphs = List.of(graphs);
        Set<String> names = new HashSet<>();
        for (ImmutableTaskGraph g : graphs) if (!names.add(g.name())) throw new IllegalArgumentException("two graphs named '" + g.name() + "' in one plan");
    }

    /** Chooses the device; defaults to {@link Devices#preferred()}. Frees buffers held on a previous device. */
    public ExecutionPlan withDevice(Device d) {
        if (device != null && device != d) releaseAll();
        this.device = d;
        return this;
    }

    public ExecutionPlan withGridScheduler(GridScheduler scheduler) {
        this.grids = scheduler;
        return this;
    }

    /** Records per-task device times (OpenCL events; wall time on the Java backend). */
    public ExecutionPlan withProfiling(boolean on) {
        this.profiling = on;
        return this;
    }

    public Device device() {
        if (device == null) device = Devices.preferred();
        return device;
    }

    /** Number of completed {@link #execute()} calls. */
    public long executions() { return executions; }

    /** Runs every graph in order and waits for completion. */
    public ExecutionResult execute() {
        List<ExecutionResult.TaskTiming> timings = new ArrayList<>();
        for (ImmutableTaskGraph g : graphs) run(g, timings);
        backend().finish();
        executions++;
        if (Profiler.enabled()) Profiler.record(timings);
        return new ExecutionResult(timings);
    }

    /** Runs one graph of the plan by name and waits for completion. */
    public ExecutionResult execute(String graphName) {
        ImmutableTaskGraph g = graphs.stream().filter(x -> x.name().equals(graphName)).findFirst()
                .orElseThrow(() -> new IllegalArgumentException("plan has no graph '" + graphName + "'"));
        List<ExecutionResult.TaskTiming> timings = new ArrayList<>();
        run(g, timings);
        backend().finish();
        if (Profiler.enabled()) Profiler.record(timings);
        return new ExecutionResult(timings);
    }

    /** Copies the device contents of {@code tensors} to their host arrays now. */
    public ExecutionPlan transferToHost(Tensor... tensors) {
        for (Tensor t : tensors) {
            Backend.Buffer b = buffers.get(t.root());
            if (b == null) throw new IllegalStateException("tensor '" + t.name() + "' has no device copy in this plan yet");
            backend().download(b, t);
        }
        return this;
    }

    /** Copies the host contents of {@code tensors} to the device now (e.g. after changing a FIRST_EXECUTION input). */
    public ExecutionPlan transferToDevice(Tensor... tensors) {
        for (Tensor t : tensors) backend().upload(buffer(t), t);
        return this;
    }

    /** Device memory held by this plan, in bytes. */
    public long deviceBytes() {
        return buffers.values().stream().mapToLong(Backend.Buffer::bytes).sum();
    }

    @Override
    public void close() { releaseAll(); }

    private Backend backend() { return device().backend(); }

    private Backend.Buffer buffer(Tensor t) {
        return buffers.computeIfAbsent(t.root(), r -> backend().allocate(r));
    }

    private void run(ImmutableTaskGraph g, List<ExecutionResult.TaskTiming> timings) {
        Backend be = backend();
        boolean profiling = this.profiling || Profiler.enabled();
        for (Task task : g.tasks()) {
            long t0 = System.nanoTime();
            long deviceNanos = -1;
            switch (task) {
                case Task.ToDevice d -> {
                    if (!due(d, d.mode())) continue;
                    for (Tensor t : d.tensors()) be.upload(buffer(t), t);
                }
                case Task.ToHost h -> {
                    if (!due(h, h.mode())) continue;
                    for (Tensor t : h.tensors()) be.download(buffer(t), t);
                }
                case Task.Launch l -> deviceNanos = launch(be, g, l);
            }
            if (profiling) {
                if (deviceNanos < 0) {
                    be.finish();
                    deviceNanos = System.nanoTime() - t0;
                }
                timings.add(new ExecutionResult.TaskTiming(g.name() + "." + task.name(), kindOf(task, be.device()), deviceNanos));
            }
        }
    }

    private boolean due(Task t, DataTransferMode mode) {
        return switch (mode) {
            case EVERY_EXECUTION -> true;
            case FIRST_EXECUTION -> doneOnce.add(t);
            case UNDER_DEMAND -> false;
        };
    }

    private long launch(Backend be, ImmutableTaskGraph g, Task.Launch l) {
        String key = g.name() + "." + l.name();
        KernelDef kernel = l.kernel().forDevice(be.device());
        KernelArgs args = new KernelArgs(kernel, l.args(), null);
        try {
            kernel.check(args);
        } catch (IllegalArgumentException e) {
            throw new IllegalArgumentException("task '" + key + "' (kernel " + kernel.name() + "): " + e.getMessage(), e);
        }
        WorkerGrid grid = grids.get(key).orElseGet(() -> kernel.defaultGrid(args));
        checkGrid(key, grid, be.device());
        for (Object a : l.args()) if (a instanceof Tensor t) buffer(t);
        return be.launch(kernel, args, grid, buffers::get, profiling || Profiler.enabled());
    }

    static void checkGrid(String task, WorkerGrid grid, DeviceInfo d) {
        for (int i = 0; i < grid.dims(); i++) {
            long g = grid.global()[i];
            if (g <= 0) throw new IllegalArgumentException("task '" + task + "': global size " + g + " in dimension " + i + " must be positive (" + grid + ")");
            if (grid.local() != null) {
                long l = grid.local()[i];
                if (l <= 0 || g % l != 0) throw new IllegalArgumentException("task '" + task + "': global size " + g + " is not a multiple of local size " + l + " in dimension " + i);
                if (d.maxWorkItems() != null && i < d.maxWorkItems().length && l > d.maxWorkItems()[i]) {
                    throw new IllegalArgumentException("task '" + task + "': local size " + l + " in dimension " + i + " exceeds the device limit " + d.maxWorkItems()[i] + " on " + d.name());
                }
            }
        }
        if (grid.local() != null && grid.workGroupSize() > d.maxWorkGroupSize()) {
            throw new IllegalArgumentException("task '" + task + "': work-group of " + grid.workGroupSize() + " items exceeds the device limit " + d.maxWorkGroupSize() + " on " + d.name());
        }
    }

    private static String kindOf(Task t, DeviceInfo device) {
        return switch (t) {
            case Task.Launch l -> l.kernel().forDevice(device).name();
            case Task.ToDevice d -> "H->D";
            case Task.ToHost h -> "D->H";
        };
    }

    private void releaseAll() {
        for (Backend.Buffer b : buffers.values()) b.close();
        buffers.clear();
        doneOnce.clear();
        executions = 0;
    }
}
