package ssdspark.model;

import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The CPU engine against the float64 recurrence, for every fixture (both layouts, all checkpoint
 * formats and dtypes, ngroups 1/2/4, lengths 1, 2, odd, = chunk_size, > chunk_size).
 */
class ReferenceFixtureTest {
    static final double LOGPROB_TOL = 2e-3;
    static final double HIDDEN_REL_TOL = 1e-3;

    static Stream<Fixtures.Case> cases() { return Fixtures.all(); }

    @ParameterizedTest(name = "{0}")
    @MethodSource("cases")
    void cpuEngineMatchesFloat64Recurrence(Fixtures.Case fx) {
        try (Engine e = Mamba2Model.cpu(fx.dir())) {
            assertTrue(fx.docs().size() >= 5, "fixture holds several lengths");
            double worstLp = 0, worstHidden = 0;
            for (Fixtures.Doc doc : fx.docs()) {
                int n = doc.tokens().length;
                float[] hidden = e.forward(doc.tokens(), 0, n, e.newState());
                int d = e.config().dModel;
                for (int t = 0; t < n; t++) {
                    double num = 0, den = 0;
                    for (int i = 0; i < d; i++) {
                        double ref = doc.hidden()[t][i], diff = hidden[t * d + i] - ref;
                        num += diff * diff;
                        den += ref * ref;
                    }
                    double rel = Math.sqrt(num / den);
                    worstHidden = Math.max(worstHidden, rel);
                    assertTrue(rel <= HIDDEN_REL_TOL, fx + " len " + n + " pos " + t + ": hidden relative error " + rel);
                }
                DocumentRunner.ScoreResult r = new DocumentRunner(e).score(doc.tokens(),
                        new DocumentRunner.ScoreOptions(n, -1, true));
                assertEquals(n - 1, r.numScored());
                double sum = 0;
                for (int t = 0; t < n - 1; t++) {
                    double diff = Math.abs(r.tokenLogprobs()[t] - doc.logprobs()[t]);
                    worstLp = Math.max(worstLp, diff);
                    assertTrue(diff <= LOGPROB_TOL, fx + " len " + n + " token " + (t + 1) + ": |Δ log-prob| = " + diff);
                    if (doc.hfLogprobs() != null)
                        assertTrue(Math.abs(r.tokenLogprobs()[t] - doc.hfLogprobs()[t]) <= LOGPROB_TOL, fx + ": vs HF transformers");
                    sum += doc.logprobs()[t];
                }
                assertEquals(sum, r.sumLogprob(), LOGPROB_TOL * Math.max(1, n - 1));
            }
            System.out.printf("reference %-28s max |Δ log-prob| %.2e  max hidden rel err %.2e%n", fx, worstLp, worstHidden);
        }
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("cases")
    void torchTranscriptionOfMambaSsmAttentionAgreesWithOurs(Fixtures.Case fx) {
        // The generator stores the torch transcription of mha.py/mlp.py for hybrids (attention layers, MLP blocks).
        boolean hybrid = fx.name().contains("hybrid");
        for (Fixtures.Doc doc : fx.docs()) {
            if (!hybrid || doc.tokens().length < 2) {
                assertTrue(doc.torchLogprobs() == null, fx + ": torch log-probs only for hybrids");
                continue;
            }
            assertTrue(doc.torchLogprobs() != null, fx + ": a hybrid fixture carries the torch check");
            for (int t = 0; t < doc.logprobs().length; t++)
                assertEquals(doc.logprobs()[t], doc.torchLogprobs()[t], 1e-5, fx + " token " + t);
        }
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("cases")
    void hfReferenceAgreesWithOursForOneGroup(Fixtures.Case fx) {
        // The generator stores HF transformers' log-probs only where HF's semantics are mamba_ssm's (ngroups == 1).
        for (Fixtures.Doc doc : fx.docs()) {
            if (doc.hfLogprobs() == null) continue;
            assertEquals(1, fx.ngroups());
            for (int t = 0; t < doc.logprobs().length; t++)
                assertEquals(doc.logprobs()[t], doc.hfLogprobs()[t], 1e-4, fx + " token " + t);
        }
    }
}
