package org.hsajava.eval;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import org.junit.jupiter.api.Test;

class TaskNamesTest {
    @Test
    void shortAliasesAndFullNames() {
        assertEquals("niah_single", TaskNames.canonical("niah"));
        assertEquals("niah_multikey", TaskNames.canonical("mk-niah"));
        assertEquals("niah_multikey", TaskNames.canonical("mk_niah"));
        assertEquals("variable_tracking", TaskNames.canonical("vt"));
        assertEquals("associative_recall", TaskNames.canonical("ar"));
        assertEquals("ppl", TaskNames.canonical("ppl"));
        assertEquals("ppl", TaskNames.canonical("perplexity"));
        for (String full : List.of("passkey", "niah_single", "niah_multikey", "variable_tracking", "associative_recall"))
            assertEquals(full, TaskNames.canonical(full));
        assertEquals("niah_single", TaskNames.canonical(" NIAH-Single "));
    }

    @Test
    void listsAreCanonicalOrderedAndWithoutRepeats() {
        assertEquals(List.of("passkey", "niah_single", "ppl"), TaskNames.canonical(List.of("passkey", "niah", "niah_single", "ppl")));
    }

    @Test
    void anUnknownNameListsTheChoices() {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> TaskNames.canonical("needle"));
        assertTrue(e.getMessage().startsWith("--tasks: unknown task 'needle'") && e.getMessage().contains("mk-niah") && e.getMessage().contains("ppl"), e.getMessage());
    }
}
