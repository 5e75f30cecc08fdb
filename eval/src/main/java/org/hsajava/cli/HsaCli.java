package org.hsajava.cli;

import java.util.concurrent.Callable;
import picocli.CommandLine;
import picocli.CommandLine.Command;

/** Entry point of {@code ./hsa}: one subcommand per job. */
@Command(name = "hsa", mixinStandardHelpOptions = true, version = "hsa-java 0.1.0",
        description = "Hierarchical Sparse Attention models in Java, with portable OpenCL kernels.",
        subcommands = {DevicesCommand.class, SelfCheckCommand.class, BenchCommand.class, EvalCommand.class, ReportCommand.class, ScoreCommand.class, GenerateCommand.class, ExportCommand.class, ImportCommand.class, DemoCommand.class, TrainCommand.class, CommandLine.HelpCommand.class})
public final class HsaCli implements Callable<Integer> {

    @Override
    public Integer call() {
        new CommandLine(this).usage(System.out);
        return 0;
    }

    public static void main(String[] args) {
        System.exit(commandLine().execute(args));
    }

    /** The configured command line: errors in user input print one clear line, not a stack trace. */
    public static CommandLine commandLine() {
        CommandLine cl = new CommandLine(new HsaCli());
        cl.setExecutionExceptionHandler((ex, cmd, parsed) -> {
            if (ex instanceof IllegalArgumentException || ex instanceof IllegalStateException) {
                cmd.getErr().println("hsa " + cmd.getCommandName() + ": " + ex.getMessage());
                if (System.getenv("HSA_DEBUG") != null) ex.printStackTrace(cmd.getErr());
                return 2;
            }
            throw ex;
        });
        return cl;
    }
}
