package ssdspark.pipeline.text;

/**
 * Settings DJL reads from system properties (or the environment) before it loads its native library.
 * Left alone, DJL may (a) phone home to an AWS telemetry endpoint, (b) on a CUDA machine look for a
 * CUDA build of the tokenizers library and try to download it. The tokenizers jar carries the CPU
 * build for linux-x86_64/aarch64, osx-aarch64 and win-x86_64, which DJL extracts to its cache folder
 * (DJL_CACHE_DIR / ENGINE_CACHE_DIR, default ~/.djl.ai, or java.io.tmpdir when home is not writable),
 * so with these settings nothing is fetched from the network. Values the user set win.
 */
final class DjlRuntime {
    private DjlRuntime() {}

    private static volatile boolean done;

    static void configure() {
        if (done) return;
        synchronized (DjlRuntime.class) {
            if (done) return;
            setIfUnset("OPT_OUT_TRACKING", "true");   // no telemetry call
            setIfUnset("RUST_FLAVOR", "cpu");         // the build inside the jar; tokenizing is CPU work anyway
            setIfUnset("ai.djl.offline", "true", "DJL_OFFLINE"); // never download
            done = true;
        }
    }

    private static void setIfUnset(String key, String value) { setIfUnset(key, value, key); }

    private static void setIfUnset(String property, String value, String env) {
        if (System.getProperty(property) == null && System.getenv(env) == null) System.setProperty(property, value);
    }
}
