package org.hsajava.compute;

/**
 * When a transfer task of a {@link TaskGraph} moves data, as in TornadoVM.
 * <ul>
 *   <li>{@link #FIRST_EXECUTION}: only the first time the plan executes (weights, constants);</li>
 *   <li>{@link #EVERY_EXECUTION}: every time (inputs that change per step, results read each step);</li>
 *   <li>{@link #UNDER_DEMAND}: never automatically; the caller asks with
 *       {@link ExecutionPlan#transferToHost(Tensor...)} (results read now and then).</li>
 * </ul>
 */
public enum DataTransferMode {
    FIRST_EXECUTION,
    EVERY_EXECUTION,
    UNDER_DEMAND
}
