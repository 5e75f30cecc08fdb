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
        warnWithoutSignalChaining();
        System.exit(commandLine().execute(args));
    }

    /**
     * OpenCL compilers built on LLVM (PoCL's) replace the JVM's SIGSEGV handler when they load, and
     * the JVM, which takes SIGSEGV in normal operation, then dies at random ("Segmentation fault", no
     * hs_err file). Preloading the JDK's libjsig keeps the JVM's handlers first; {@code ./hsa} does it.
     * Started some other way, say so once.
     */
    private static void warnWithoutSignalChaining() {
        if (!System.getProperty("os.name", "").startsWith("Linux")) return;
        String preload = System.getenv("LD_PRELOAD");
        if (preload != null && preload.contains("libjsig")) return;
        java.nio.file.Path jsig = java.nio.file.Path.of(System.getProperty("java.home"), "lib", "libjsig.so");
        System.err.println("hsa: note: started without " + jsig + " preloaded; OpenCL drivers that bring LLVM (PoCL) replace the JVM's"
                + " signal handlers, which can crash the JVM at random. Run through ./hsa, or set LD_PRELOAD=" + jsig + ".");
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
