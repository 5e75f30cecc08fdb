package org.hsajava.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.charset.StandardCharsets;
import org.junit.jupiter.api.Test;
import picocli.CommandLine;

class SwaBenchCommandTest {

    @Test
    void timesTheGivenHeadsAndReportsTheirMemory() throws Exception {
        JsonNode small = run(0, "--length", "40", "--batch", "1", "--window", "8", "--query-heads", "4", "--kv-heads", "2", "--head-dim", "8");
        JsonNode wide = run(0, "--length", "40", "--batch", "1", "--window", "8", "--query-heads", "4", "--kv-heads", "2", "--head-dim", "16");
        assertEquals(2, small.get("rows").size());
        for (int i = 0; i < 2; i++) {
            assertEquals(40, small.get("rows").get(i).get("length").asInt());
            assertTrue(small.get("rows").get(i).get("medianMs").asDouble() > 0);
        }
        // every tensor of the plan has D floats per head and row: twice the head dim, twice the bytes
        assertEquals(2 * small.get("rows").get(1).get("deviceBytes").asLong(), wide.get("rows").get(1).get("deviceBytes").asLong(), 4096.0);
    }

    @Test
    void headsMustDivide() {
        StringWriter errors = new StringWriter();
        CommandLine cl = HsaCli.commandLine();
        cl.setErr(new PrintWriter(errors, true));
        assertEquals(2, cl.execute("bench", "swa", "--device", "java", "--length", "40", "--query-heads", "16", "--kv-heads", "3"));
        assertTrue(errors.toString().contains("--kv-heads"), errors.toString());
    }

    private static JsonNode run(int expectedCode, String... args) throws Exception {
        ByteArrayOutputStream stdout = new ByteArrayOutputStream();
        PrintStream oldOut = System.out;
        StringWriter errors = new StringWriter();
        int code;
        try {
            System.setOut(new PrintStream(stdout, true, StandardCharsets.UTF_8));
            CommandLine cl = HsaCli.commandLine();
            cl.setErr(new PrintWriter(errors, true));
            String[] all = new String[args.length + 5];
            all[0] = "bench";
            all[1] = "swa";
            all[2] = "--device";
            all[3] = "java";
            all[4] = "--json";
            System.arraycopy(args, 0, all, 5, args.length);
            code = cl.execute(all);
        } finally {
            System.setOut(oldOut);
        }
        assertEquals(expectedCode, code, errors.toString());
        return new ObjectMapper().readTree(stdout.toString(StandardCharsets.UTF_8));
    }
}
