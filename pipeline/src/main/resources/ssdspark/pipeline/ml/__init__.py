"""PySpark wrappers of ssdspark's Mamba-2 Transformers, shipped inside the ssdspark jar.

    spark-submit --jars ssdspark-jobs-VERSION-spark.jar --py-files ssdspark-jobs-VERSION-spark.jar app.py

    from ssdspark.pipeline.ml import Mamba2Scorer, Mamba2Embedder
    scorer = Mamba2Scorer(modelPath="/models/mamba2-130m", tokenizerPath="/models/mamba2-130m", textCol="text")
    scored = scorer.transform(df)              # df's columns + num_tokens, num_scored, sum_logprob, mean_nll, ...
    Pipeline(stages=[scorer]).fit(df).write().save("/tmp/p"); PipelineModel.load("/tmp/p")

Params are the Java classes' (ssdspark.pipeline.ml.Mamba2Scorer / Mamba2Embedder), given by name as keyword
arguments or with set(name, value); the module path mirrors the Java class names so that PySpark's
Pipeline/PipelineModel loading finds these wrappers.
"""
from pyspark import SparkContext
from pyspark.ml.util import JavaMLWritable
from pyspark.ml.wrapper import JavaTransformer

__all__ = ["Mamba2Scorer", "Mamba2Embedder"]


class _Mamba2Transformer(JavaTransformer, JavaMLWritable):
    _java_class = None

    def __init__(self, **params):
        super().__init__()
        self._java_obj = self._new_java_obj(self._java_class)
        for name, value in params.items():
            self.set(name, value)

    def set(self, name, value):
        """Sets the Java param `name` (e.g. "modelPath", "chunkTokens") through its setter; returns self."""
        setter = "set" + name[0].upper() + name[1:]
        if not hasattr(self._java_obj, setter):
            raise ValueError("%s has no param %r; its params: %s" % (type(self).__name__, name, self.param_names()))
        getattr(self._java_obj, setter)(value)
        return self

    def get(self, name):
        """The Java param's value (set or default)."""
        return getattr(self._java_obj, "get" + name[0].upper() + name[1:])()

    def param_names(self):
        return [p.name() for p in self._java_obj.params()]

    def explainParams(self):
        return self._java_obj.explainParams()

    @classmethod
    def load(cls, path):
        """Loads a transformer saved with write().save(path) (Java or Python)."""
        jvm = SparkContext._active_spark_context._jvm
        java_class = jvm
        for part in cls._java_class.split("."):
            java_class = getattr(java_class, part)
        return cls._from_java(java_class.load(path))

    @classmethod
    def _from_java(cls, java_obj):
        py = cls.__new__(cls)
        JavaTransformer.__init__(py)
        py._java_obj = java_obj
        py._resetUid(java_obj.uid())
        return py

    def _transfer_params_to_java(self):
        pass  # the params live on the Java object

    def _transfer_params_from_java(self):
        pass

    def copy(self, extra=None):
        return self._from_java(self._java_obj.copy(self._empty_java_param_map()))


class Mamba2Scorer(_Mamba2Transformer):
    """Appends num_tokens, num_scored, sum_logprob, mean_nll, perplexity, [token_logprobs,] error."""
    _java_class = "ssdspark.pipeline.ml.Mamba2Scorer"


class Mamba2Embedder(_Mamba2Transformer):
    """Appends num_tokens, embedding, error."""
    _java_class = "ssdspark.pipeline.ml.Mamba2Embedder"
