package ssdspark.kernels.gpu;

/** A {@link DeviceMemory} had no memory left for a request; the message says how much was asked and what was there. */
public final class OutOfDeviceMemoryException extends RuntimeException {
    private static final long serialVersionUID = 1L;

    public OutOfDeviceMemoryException(String message, Throwable cause) { super(message, cause); }
}
