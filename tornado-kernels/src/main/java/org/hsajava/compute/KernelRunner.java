package org.hsajava.compute;

import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Set;

/**
 * Runs one kernel on a device outside any long-lived plan: uploads every tensor argument, launches,
 * downloads every tensor the kernel writes. For tests, quick experiments and one-off work; real
 * models build task graphs and keep data on the device.
 */
public final class KernelRunner {
    private KernelRunner() {}

    public static void run(Device device, KernelDef kernel, Object... args) { run(device, kernel, null, args); }

    /** As {@link #run(Device, KernelDef, Object...)} with an explicit grid (null: the kernel's default). */
    public static void run(Device device, KernelDef kernel, WorkerGrid grid, Object... args) {
        Set<Tensor> inputs = new LinkedHashSet<>();
        List<Tensor> outputs = new ArrayList<>();
        for (int i = 0; i < args.length && i < kernel.params().size(); i++) {
            if (args[i] instanceof Tensor t) {
                inputs.add(t.root());
                if (kernel.params().get(i).writes()) outputs.add(t);
            }
        }
        TaskGraph g = new TaskGraph("run")
                .transferToDevice(DataTransferMode.EVERY_EXECUTION, inputs.toArray(Tensor[]::new))
                .task("k", kernel, args)
                .transferToHost(DataTransferMode.EVERY_EXECUTION, outputs.toArray(Tensor[]::new));
        GridScheduler gs = new GridScheduler();
        if (grid != null) gs.set("run.k", grid);
        try (ExecutionPlan plan = new ExecutionPlan(g.snapshot()).withDevice(device).withGridScheduler(gs)) {
            plan.execute();
        }
    }
}
