# Python side of ssdspark, shipped inside the jar: `--py-files ssdspark-jobs-VERSION-spark.jar` puts it on sys.path.
