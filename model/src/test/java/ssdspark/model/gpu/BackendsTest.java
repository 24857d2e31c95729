package ssdspark.model.gpu;

import org.junit.jupiter.api.Test;
import ssdspark.kernels.gpu.Cuda;
import ssdspark.kernels.gpu.CudaUnavailableException;
import ssdspark.model.Backends;
import ssdspark.model.Engine;
import ssdspark.model.Mamba2Weights;

import static org.junit.jupiter.api.Assertions.*;

/** Backend choice: runs everywhere (CI has no GPU: auto falls back to the CPU, gpu says why it cannot). */
class BackendsTest {
    @Test
    void cpuGpuAuto() {
        Mamba2Weights w = RandomMamba2.weights(RandomMamba2.config(32, 1, 100, 8, 8, 1, 16, ""), 1, 0.5);
        try (Engine e = Backends.open(w, "cpu", 0, null)) {
            assertEquals("cpu", e.backend());
        }
        String why = Cuda.unavailableReason(0);
        try (Engine e = Backends.open(w, "auto", 0, Precision.BF16)) {
            if (why == null) assertTrue(e.backend().startsWith("gpu:0"), e.backend());
            else assertEquals("cpu", e.backend());
        }
        if (why != null) {
            CudaUnavailableException ex = assertThrows(CudaUnavailableException.class, () -> Backends.open(w, "gpu", 0, null));
            assertEquals(why, ex.getMessage());
            assertEquals(why, Backends.gpuUnavailableReason(0));
        } else {
            try (Engine e = Backends.open(w, "GPU", 0, Precision.FP32)) {
                assertTrue(e.backend().endsWith("fp32"), e.backend());
            }
        }
        assertThrows(IllegalArgumentException.class, () -> Backends.open(w, "tpu", 0, null));
        assertEquals(Precision.FP32, Precision.parse("float32"));
        assertEquals(Precision.BF16, Precision.parse(null));
        assertThrows(IllegalArgumentException.class, () -> Precision.parse("fp8"));
    }
}
