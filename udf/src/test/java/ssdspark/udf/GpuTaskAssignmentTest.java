package ssdspark.udf;

import org.apache.spark.TaskContext;
import org.apache.spark.TaskContext$;
import org.apache.spark.TaskContextImpl;
import org.apache.spark.executor.TaskMetrics;
import org.apache.spark.resource.ResourceInformation;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.RowFactory;
import org.junit.jupiter.api.Test;
import scala.jdk.javaapi.CollectionConverters;

import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.concurrent.Callable;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;

import static org.junit.jupiter.api.Assertions.*;

/**
 * Tasks on an executor with two GPUs: each task runs on the GPU address Spark assigned it (the task's
 * TaskContext resources, faked here as Spark's executor sets them), and every task on one device shares one
 * engine. The engines are fakes put in the cache per device, as a GPU load would leave them.
 */
class GpuTaskAssignmentTest {
    private static final String MODEL = "/nonexistent/two-gpus";

    /** A TaskContext like the one Spark's executor sets for a task assigned the given GPU addresses. */
    private static TaskContext task(int partition, String... gpus) {
        scala.collection.immutable.Map<String, ResourceInformation> resources = scala.collection.immutable.Map$.MODULE$.from(
                CollectionConverters.asScala(Map.of(GpuAssignment.GPU, new ResourceInformation(GpuAssignment.GPU, gpus))));
        return new TaskContextImpl(0, 0, partition, partition, 0, 8, null, new Properties(), null, new TaskMetrics(), 1, resources);
    }

    /** Runs body on the calling pool thread as that task (TaskContext is per thread). */
    private static <T> Callable<T> as(TaskContext tc, Callable<T> body) {
        return () -> {
            TaskContext$.MODULE$.setTaskContext(tc);
            try {
                return body.call();
            } finally {
                TaskContext$.MODULE$.unset();
            }
        };
    }

    @Test
    void eachTaskUsesItsAssignedGpuAndTasksShareOneEnginePerDevice() throws Exception {
        FakeEngine gpu1 = new FakeEngine(), gpu3 = new FakeEngine();
        ModelCache.put(MODEL, "gpu", 1, "bf16", gpu1);
        ModelCache.put(MODEL, "gpu", 3, "bf16", gpu3);
        JobSpec spec = JobSpec.score(MODEL, "gpu", 8, -1, false);
        ExecutorService slots = Executors.newFixedThreadPool(4); // four task slots sharing the executor's two GPUs
        try {
            List<Callable<Object>> tasks = new ArrayList<>();
            for (int p = 0; p < 16; p++) tasks.add(as(task(p, p % 2 == 0 ? "1" : "3"), () -> ModelCache.forTask(spec)));
            List<Future<Object>> got = slots.invokeAll(tasks);
            for (int p = 0; p < 16; p++) assertSame(p % 2 == 0 ? gpu1 : gpu3, got.get(p).get(), "task " + p);

            // A partition function run as a task on GPU 3 runs on that device's engine only.
            Row a = RowFactory.create("a", CollectionConverters.asScala(List.<Object>of(1, 2, 3)).toSeq());
            List<Row> out = slots.submit(as(task(16, "3", "1"), () -> {
                List<Row> rows = new ArrayList<>();
                Iterator<Row> it = new DocumentFunction(spec, null).call(List.of(a).iterator());
                it.forEachRemaining(rows::add);
                return rows;
            })).get();
            assertEquals(1, out.size());
            assertNull(out.get(0).get(out.get(0).length() - 1), "no error");
            assertTrue(gpu3.forwards.get() + gpu3.packed.get() > 0, "ran on GPU 3, the task's first address");
            assertEquals(0, gpu1.forwards.get() + gpu1.packed.get(), "nothing ran on GPU 1");

            // The CPU engine ignores the assignment; outside a task the GPU is device 0.
            FakeEngine cpu = new FakeEngine();
            ModelCache.put(MODEL, "cpu", cpu);
            assertSame(cpu, slots.submit(as(task(17, "3"), () -> ModelCache.forTask(JobSpec.score(MODEL, "cpu", 8, -1, false)))).get());
            assertEquals(0, GpuAssignment.ordinal());
        } finally {
            slots.shutdown();
            ModelCache.evict(MODEL, "gpu");
            ModelCache.evict(MODEL, "cpu");
        }
    }
}
