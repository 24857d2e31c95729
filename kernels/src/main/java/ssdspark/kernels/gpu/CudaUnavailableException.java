package ssdspark.kernels.gpu;

/** The GPU backend cannot run here; the message says why (no driver, no device, kernels not compiled, ...). */
public class CudaUnavailableException extends RuntimeException {
    public CudaUnavailableException(String message) { super(message); }

    public CudaUnavailableException(String message, Throwable cause) { super(message, cause); }
}
