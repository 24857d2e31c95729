package ssdspark.jobs;

/** A command line or input the user has to change; Main prints the message and exits with status 2. */
public final class UsageException extends IllegalArgumentException {
    public UsageException(String message) { super(message); }

    public UsageException(String message, Throwable cause) { super(message, cause); }
}
