package org.hsajava.compute;

import java.util.HashMap;
import java.util.Map;
import java.util.Optional;

/** Grids chosen by the caller, keyed by {@code "graphName.taskName"} as in TornadoVM. */
public final class GridScheduler {
    private final Map<String, WorkerGrid> grids = new HashMap<>();

    public GridScheduler set(String graphDotTask, WorkerGrid grid) {
        if (!graphDotTask.contains(".")) throw new IllegalArgumentException("grid key must be 'graph.task', got '" + graphDotTask + "'");
        grids.put(graphDotTask, grid);
        return this;
    }

    public Optional<WorkerGrid> get(String graphDotTask) { return Optional.ofNullable(grids.get(graphDotTask)); }
}
