"""confluent-kafka (PyPI, librdkafka bundled): produce, or consume in a group and commit.

Run by ../confluent_test.go with the venv's python; the job and result are described in
jobio.py. The producer is configured as users turn on safety: enable.idempotence=true
(which implies acks=all) with acks=all said again; the consumer subscribes with the classic
group protocol, auto.offset.reset=earliest, and commits by hand.
"""

import sys

from confluent_kafka import Consumer, KafkaError, Producer

import jobio


def produce(job, res):
    def on_error(err):
        res["errors"].append("producer error: %s" % err)

    producer = Producer({
        "bootstrap.servers": job["bootstrap"],
        "client.id": "kafscale-pyclients-confluent",
        "enable.idempotence": True,
        "acks": "all",
        "linger.ms": 5,
        "error_cb": on_error,
    })
    records = job["records"]
    delivered = [None] * len(records)

    def on_delivery(i):
        def cb(err, msg):
            delivered[i] = {
                "partition": msg.partition(),
                "offset": msg.offset(),
                "error": None if err is None else str(err),
            }
        return cb

    for i, r in enumerate(records):
        producer.produce(
            job["topic"],
            key=jobio.unhex(r["key"]),
            value=jobio.unhex(r["value"]),
            partition=r["partition"],
            timestamp=r["timestamp"],
            headers=[(k, jobio.unhex(v)) for k, v in r["headers"]],
            on_delivery=on_delivery(i),
        )
        producer.poll(0)
    unsent = producer.flush(jobio.left(job))
    if unsent:
        res["errors"].append("%d records not delivered before the deadline" % unsent)
    res["delivered"] = delivered


def consume(job, res, extra=None):
    def on_error(err):
        res["errors"].append("consumer error: %s" % err)

    conf = {
        "bootstrap.servers": job["bootstrap"],
        "client.id": "kafscale-pyclients-confluent",
        "group.id": job["group"],
        "auto.offset.reset": "earliest",
        "enable.auto.commit": False,
        "error_cb": on_error,
    }
    conf.update(extra or {})
    consumer = Consumer(conf)
    consumer.subscribe([job["topic"]])
    while len(res["consumed"]) < job["count"]:
        if jobio.left(job) <= 0:
            res["errors"].append("consumed %d of %d records before the deadline" % (len(res["consumed"]), job["count"]))
            break
        msg = consumer.poll(min(jobio.left(job), 0.5))
        if msg is None:
            continue
        if msg.error() is not None:
            if msg.error().code() != KafkaError._PARTITION_EOF:
                res["errors"].append("consume error: %s" % msg.error())
            continue
        res["consumed"].append(jobio.record(msg.partition(), msg.offset(), msg.key(), msg.value(),
                                            msg.headers(), msg.timestamp()[1]))
    if res["consumed"]:
        # Commits the position of every assigned partition read from: one past the last
        # record returned. A partition not read from comes back with OFFSET_INVALID (-1001)
        # and is not committed.
        for tp in consumer.commit(asynchronous=False) or []:
            if tp.error is not None:
                res["errors"].append("commit of partition %d failed: %s" % (tp.partition, tp.error))
            if tp.offset >= 0:
                res["committed"].append({"partition": tp.partition, "offset": tp.offset})
    consumer.close()


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
