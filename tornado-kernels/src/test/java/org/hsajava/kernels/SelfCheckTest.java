package org.hsajava.kernels;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeFalse;

import java.util.List;
import org.hsajava.compute.testing.TestDevices;
import org.junit.jupiter.api.Test;

/** {@code ./hsa selfcheck} on the test OpenCL device: every case runs and passes, as it must for users. */
class SelfCheckTest {

    @Test
    void everyCasePassesOnTheTestDevice() {
        assumeFalse(TestDevices.underOclgrind(), "the cases are sized for real devices");
        List<SelfCheck.Result> results = SelfCheck.run(TestDevices.opencl(), null);
        assertEquals(SelfCheck.cases().size(), results.size());
        for (SelfCheck.Result r : results) {
            assertTrue(r.ok(), r.name() + ": " + (r.error() != null ? r.error() : "max rel. error " + r.maxRelError() + " > " + r.tolerance()));
            assertTrue(r.maxRelError() >= 0, r.name() + ": no error measured");
        }
    }
}
