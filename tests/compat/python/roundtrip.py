#!/usr/bin/python3
"""Produce records with confluent-kafka (librdkafka) and read them back.

Run by tests/compat/python_test.go with Debian's /usr/bin/python3 (the package
python3-confluent-kafka). Reads one JSON job on stdin:

  {"bootstrap": "127.0.0.1:9092", "topic": "t", "timeout_s": 30,
   "records": [{"partition": 0, "key": "<hex>"|null, "value": "<hex>"|null,
                "headers": [["name", "<hex>"]], "timestamp": <unix ms>}]}

and prints one JSON result on stdout:

  {"delivered": [{"partition": 0, "offset": 0, "error": null}],   # produce order
   "consumed":  [<record as above, plus "offset">],               # read order
   "errors":    ["..."]}

The Go test does all the checking. The consumer assigns partitions explicitly and
never joins a group: groups come with a later issue. confluent-kafka 1.7 refuses to
build a Consumer without group.id, so one is set, but nothing is committed.
"""

import json
import sys
import time

from confluent_kafka import OFFSET_BEGINNING, Consumer, KafkaError, Producer, TopicPartition


def unhex(s):
    return None if s is None else bytes.fromhex(s)


def tohex(b):
    return None if b is None else b.hex()


def main():
    job = json.load(sys.stdin)
    deadline = time.monotonic() + job["timeout_s"]
    errors = []

    def on_error(err):
        errors.append("client error: %s" % err)

    producer = Producer({
        "bootstrap.servers": job["bootstrap"],
        "client.id": "kafscale-compat-python",
        # librdkafka 2.0.2 does not default to idempotence; users turn it on like this
        # (it implies acks=all and at most 5 requests in flight).
        "enable.idempotence": True,
        "acks": "all",
        "compression.type": "lz4",
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
            key=unhex(r["key"]),
            value=unhex(r["value"]),
            partition=r["partition"],
            timestamp=r["timestamp"],
            headers=[(k, unhex(v)) for k, v in r["headers"]],
            on_delivery=on_delivery(i),
        )
        producer.poll(0)
    left = producer.flush(max(0.0, deadline - time.monotonic()))
    if left:
        errors.append("%d records not delivered before the deadline" % left)

    want = {}
    for r in records:
        want[r["partition"]] = want.get(r["partition"], 0) + 1
    consumer = Consumer({
        "bootstrap.servers": job["bootstrap"],
        "client.id": "kafscale-compat-python",
        "group.id": "kafscale-compat-assign-only",
        "enable.auto.commit": False,
        "enable.auto.offset.store": False,
        "fetch.wait.max.ms": 200,
        "error_cb": on_error,
    })
    consumer.assign([TopicPartition(job["topic"], p, OFFSET_BEGINNING) for p in sorted(want)])
    consumed = []
    have = {p: 0 for p in want}
    while any(have[p] < want[p] for p in want):
        left = deadline - time.monotonic()
        if left <= 0:
            errors.append("consumed %s of %s before the deadline" % (have, want))
            break
        msg = consumer.poll(min(left, 0.5))
        if msg is None:
            continue
        if msg.error() is not None:
            if msg.error().code() != KafkaError._PARTITION_EOF:
                errors.append("consume error: %s" % msg.error())
            continue
        have[msg.partition()] = have.get(msg.partition(), 0) + 1
        consumed.append({
            "partition": msg.partition(),
            "offset": msg.offset(),
            "key": tohex(msg.key()),
            "value": tohex(msg.value()),
            "headers": [[k, tohex(v)] for k, v in (msg.headers() or [])],
            "timestamp": msg.timestamp()[1],
        })
    consumer.close()

    json.dump({"delivered": delivered, "consumed": consumed, "errors": errors}, sys.stdout)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
