package ssdspark.udf;

import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;

/** A {@link GpuEngineSetup} registered for the udf tests (src/test/resources/META-INF/services): records its calls. */
public final class RecordingGpuSetup implements GpuEngineSetup {
    static final List<Integer> ORDINALS = new CopyOnWriteArrayList<>();

    @Override public void beforeGpuEngine(int ordinal) { ORDINALS.add(ordinal); }
}
