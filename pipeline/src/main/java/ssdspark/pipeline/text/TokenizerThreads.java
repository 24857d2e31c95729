package ssdspark.pipeline.text;

import org.apache.spark.SparkEnv;
import org.apache.spark.TaskContext;

import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * How many threads tokenize a task's text ({@code --tokenizer-threads}; 0 = auto). Auto gives each task the cores
 * Spark gives it: {@code spark.task.cpus} on a cluster; in local mode, where every task slot shares this machine,
 * the machine's cores over the slots ({@code local[4]} on 16 cores: 4 threads per task). Outside a Spark task: 1.
 */
public final class TokenizerThreads {
    private TokenizerThreads() {}

    /** The most threads auto gives one task. */
    static final int MAX_AUTO = 32;
    private static final Pattern LOCAL = Pattern.compile("local(?:\\[(\\*|\\d{1,9})(?:,\\d+)?])?");

    /** requested when positive; otherwise the auto value for the task running on this thread. */
    public static int resolve(int requested) {
        if (requested < 0) throw new IllegalArgumentException("tokenizer threads must be 0 (auto) or more, got " + requested);
        if (requested > 0) return requested;
        TaskContext task = TaskContext.get();
        if (task == null) return 1;
        SparkEnv env = SparkEnv.get();
        String master = env == null ? "" : env.conf().get("spark.master", "");
        return auto(master, task.cpus(), Runtime.getRuntime().availableProcessors());
    }

    /** Auto for a task of taskCpus cores under master on a machine of cores cores. */
    static int auto(String master, int taskCpus, int cores) {
        Matcher m = LOCAL.matcher(master);
        int n;
        if (m.matches()) {
            int threads = m.group(1) == null ? 1 : m.group(1).equals("*") ? cores : Integer.parseInt(m.group(1));
            int slots = Math.max(1, threads / Math.max(1, taskCpus)); // tasks running at once
            n = Math.max(taskCpus, cores / slots);
        } else {
            n = taskCpus;
        }
        return Math.max(1, Math.min(MAX_AUTO, n));
    }
}
