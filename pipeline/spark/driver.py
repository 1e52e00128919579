# The Spark side of `etl models --engine spark`: spark-submit runs this file with a job
# description (JSON) that the Go tool wrote. It registers the exported tables as views,
# runs each model query in order, writes each result as Parquet and reads it back as a
# view for the queries after it. It prints one line per step on standard output, each
# beginning "outcomes:"; a failure is one line beginning "outcomes-error:" and exit
# status 3. Spark's own log goes to standard error.
import json
import sys
import time

from pyspark.sql import SparkSession, Window
from pyspark.sql import functions as F


def say(kind, text):
    print(kind + " " + " ".join(str(text).split()), flush=True)


def main():
    with open(sys.argv[1], encoding="utf-8") as f:
        job = json.load(f)
    spark = SparkSession.builder.appName(job["app"]).getOrCreate()
    spark.sparkContext.setLogLevel("WARN")
    try:
        for t in job["tables"]:
            # The union of the table's parts (one an export), each with only the
            # columns the manifest names: a partition folder that is not a column of
            # the table (quarter, patient_bucket) is not one of the view's.
            df = None
            for i, p in enumerate(t["parts"]):
                part = spark.read.option("basePath", p["base"]).parquet(*p["files"])
                if t.get("columns"):
                    part = part.select(*["`" + c + "`" for c in t["columns"]])
                part = part.withColumn("_part", F.lit(i))
                df = part if df is None else df.unionByName(part)
            key = t.get("first_by")
            if key:
                # A key in several parts (a patient seen at several sites): the
                # first part's row is kept.
                w = Window.partitionBy(key).orderBy("_part")
                df = df.withColumn("_n", F.row_number().over(w)).where("_n = 1").drop("_n")
            df.drop("_part").createOrReplaceTempView(t["name"])
        steps = job["steps"]
        for i, st in enumerate(steps, 1):
            start = time.time()
            say("outcomes:", "step %d of %d: %s" % (i, len(steps), st["name"]))
            spark.sql(st["sql"]).write.mode("errorifexists").parquet(st["out"])
            out = spark.read.parquet(st["out"])
            out.createOrReplaceTempView(st["name"])
            say("outcomes:", "step %d of %d: %s: %d rows in %.1f s" % (i, len(steps), st["name"], out.count(), time.time() - start))
    except Exception as e:  # reported in one line; the Go tool says what it means
        msg = getattr(e, "getMessage", None)
        say("outcomes-error:", msg() if callable(msg) else e)
        spark.stop()
        sys.exit(3)
    spark.stop()


if __name__ == "__main__":
    main()
