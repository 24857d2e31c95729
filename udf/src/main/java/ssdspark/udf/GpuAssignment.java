package ssdspark.udf;

import org.apache.spark.TaskContext;
import org.apache.spark.resource.ResourceInformation;

import java.util.Map;

/**
 * The CUDA device a Spark task should use: the first GPU address Spark assigned to the task
 * ({@code spark.task.resource.gpu.amount}, addresses from the executor's discovery script), else device 0
 * (local mode, or a cluster without GPU scheduling).
 *
 * <p>Discovery scripts print the driver's device indices. When the executor's environment narrows the
 * visible devices ({@code CUDA_VISIBLE_DEVICES=2,3}), CUDA renumbers them from 0, so an assigned address that
 * appears in that list is translated to its position in it.
 */
public final class GpuAssignment {
    /** Spark's resource name for GPUs. */
    public static final String GPU = "gpu";

    private GpuAssignment() {}

    /** The current task's GPU ordinal; 0 outside a task or without an assignment. */
    public static int ordinal() {
        TaskContext tc = TaskContext.get();
        return tc == null ? 0 : ordinal(tc.resourcesJMap(), System.getenv("CUDA_VISIBLE_DEVICES"));
    }

    /** The assigned address as a CUDA ordinal (see the class comment); 0 when resources holds no GPU. */
    public static int ordinal(Map<String, ResourceInformation> resources, String cudaVisibleDevices) {
        ResourceInformation gpu = resources == null ? null : resources.get(GPU);
        if (gpu == null || gpu.addresses() == null || gpu.addresses().length == 0) return 0;
        String address = gpu.addresses()[0].trim();
        if (cudaVisibleDevices != null && !cudaVisibleDevices.isBlank()) {
            String[] visible = cudaVisibleDevices.split(",");
            for (int i = 0; i < visible.length; i++)
                if (visible[i].trim().equals(address)) return i;
        }
        try {
            int o = Integer.parseInt(address);
            if (o < 0) throw new NumberFormatException();
            return o;
        } catch (NumberFormatException e) {
            throw new IllegalStateException("Spark assigned GPU address '" + address + "' to this task, which is not a CUDA device"
                    + " index; the GPU discovery script (spark.executor.resource.gpu.discoveryScript) must print indices such as"
                    + " {\"name\":\"gpu\",\"addresses\":[\"0\",\"1\"]}");
        }
    }
}
