package ssdspark.pipeline.text;

import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.*;

class TokenizerThreadsTest {
    @Test
    void autoGivesEachTaskItsShareOfTheCores() {
        assertEquals(4, TokenizerThreads.auto("local[4]", 1, 16), "four slots on 16 cores");
        assertEquals(1, TokenizerThreads.auto("local[*]", 1, 16), "a slot per core");
        assertEquals(16, TokenizerThreads.auto("local", 1, 16), "one slot");
        assertEquals(8, TokenizerThreads.auto("local[4,3]", 2, 16), "two tasks of two cpus at once (retries do not count)");
        assertEquals(3, TokenizerThreads.auto("local[32]", 3, 16), "never fewer than the task's cpus");
        assertEquals(TokenizerThreads.MAX_AUTO, TokenizerThreads.auto("local", 1, 500));
        assertEquals(2, TokenizerThreads.auto("yarn", 2, 64), "a cluster: spark.task.cpus");
        assertEquals(1, TokenizerThreads.auto("spark://host:7077", 1, 64));
        assertEquals(1, TokenizerThreads.auto("local-cluster[2,1,1024]", 1, 16), "separate executor JVMs: spark.task.cpus");
    }

    @Test
    void aGivenCountIsKeptAndAutoOutsideATaskIsOne() {
        assertEquals(3, TokenizerThreads.resolve(3));
        assertEquals(1, TokenizerThreads.resolve(0));
        assertTrue(assertThrows(IllegalArgumentException.class, () -> TokenizerThreads.resolve(-1)).getMessage().contains("0 (auto) or more"));
    }
}
