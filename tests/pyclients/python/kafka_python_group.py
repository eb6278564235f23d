"""kafka-python (PyPI): produce, or consume in a group and commit.

Run by ../kafka_python_test.go with the venv's python; the job and result are described in
jobio.py. The producer keeps kafka-python 3's defaults (enable_idempotence=True) with
acks='all' said explicitly; the consumer subscribes with auto_offset_reset='earliest' and
enable_auto_commit=False and commits with commit().
"""

import sys

from kafka import KafkaConsumer, KafkaProducer

import jobio


def produce(job, res):
    producer = KafkaProducer(
        bootstrap_servers=job["bootstrap"],
        client_id="kafscale-pyclients-kafka-python",
        acks="all",
        linger_ms=5,
    )
    futures = []
    for r in job["records"]:
        futures.append(producer.send(
            job["topic"],
            key=jobio.unhex(r["key"]),
            value=jobio.unhex(r["value"]),
            partition=r["partition"],
            timestamp_ms=r["timestamp"],
            headers=[(k, jobio.unhex(v)) for k, v in r["headers"]],
        ))
    producer.flush(timeout=jobio.left(job))
    for f in futures:
        try:
            md = f.get(timeout=jobio.left(job))
            res["delivered"].append({"partition": md.partition, "offset": md.offset, "error": None})
        except Exception as e:
            res["delivered"].append({"partition": -1, "offset": -1, "error": "%s: %s" % (type(e).__name__, e)})
    producer.close(timeout=jobio.left(job))


def consume(job, res):
    consumer = KafkaConsumer(
        job["topic"],
        bootstrap_servers=job["bootstrap"],
        client_id="kafscale-pyclients-kafka-python",
        group_id=job["group"],
        auto_offset_reset="earliest",
        enable_auto_commit=False,
    )
    while len(res["consumed"]) < job["count"]:
        if jobio.left(job) <= 0:
            res["errors"].append("consumed %d of %d records before the deadline" % (len(res["consumed"]), job["count"]))
            break
        # max_records bounds the batch so that the run stops at exactly count records,
        # and so commits exactly what it read.
        batches = consumer.poll(timeout_ms=int(min(jobio.left(job), 0.5) * 1000),
                                max_records=job["count"] - len(res["consumed"]))
        for tp, msgs in sorted(batches.items(), key=lambda kv: kv[0].partition):
            for m in msgs:
                res["consumed"].append(jobio.record(m.partition, m.offset, m.key, m.value, m.headers, m.timestamp))
    if res["consumed"]:
        consumer.commit()
        for tp in sorted(consumer.assignment(), key=lambda tp: tp.partition):
            off = consumer.committed(tp)
            if off is not None:
                res["committed"].append({"partition": tp.partition, "offset": off})
    consumer.close(autocommit=False)


def main():
    job = jobio.read_job()
    res = jobio.new_result()
    try:
        if job["mode"] == "produce":
            produce(job, res)
        else:
            consume(job, res)
    except Exception as e:  # reported to the Go test with the rest
        res["errors"].append("%s: %s" % (type(e).__name__, e))
    jobio.emit(res)


if __name__ == "__main__":
    sys.exit(main())
