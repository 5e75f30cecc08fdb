package org.hsajava.compute;

import java.util.LinkedHashSet;
import java.util.List;
import java.util.Set;

/** A frozen {@link TaskGraph}, ready to be run by an {@link ExecutionPlan}. */
public record ImmutableTaskGraph(String name, List<Task> tasks) {

    /** Every root tensor the graph touches, in first-use order. */
    public Set<Tensor> tensors() {
        Set<Tensor> out = new LinkedHashSet<>();
        for (Task t : tasks) {
            switch (t) {
                case Task.Launch l -> l.args().forEach(a -> { if (a instanceof Tensor x) out.add(x.root()); });
                case Task.ToDevice d -> d.tensors().forEach(x -> out.add(x.root()));
                case Task.ToHost h -> h.tensors().forEach(x -> out.add(x.root()));
            }
        }
        return out;
    }
}
