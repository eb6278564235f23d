#!/usr/bin/python3
"""A confluent-kafka (librdkafka) consumer group member for tests/groups/python_test.go.

Run with Debian's /usr/bin/python3 (the package python3-confluent-kafka). Reads one JSON
job on stdin:

  {"bootstrap": "127.0.0.1:9092", "topic": "t", "partitions": 4, "group": "g",
   "timeout_s": 45}

subscribes to the topic in the group, reads until it has been assigned every partition
and has reached the end of each (partition EOF), commits what it consumed with one
synchronous commit, closes (leaving the group) and prints one JSON result on stdout:

  {"seen":      [{"partition": 0, "offset": 0, "value": "v0"}],    # read order
   "eof":       [{"partition": 0, "offset": 100}],                # where each partition ended
   "committed": [{"partition": 0, "offset": 100, "error": null}], # what the commit answered
   "errors":    ["..."]}

Offsets are stored as records are delivered (librdkafka's default) and committed only
by the explicit commit: auto commit is off, so close() commits nothing. The Go test
does all the checking.
"""

import json
import sys
import time

from confluent_kafka import Consumer, KafkaError, KafkaException


def main():
    job = json.load(sys.stdin)
    deadline = time.monotonic() + job["timeout_s"]
    topic, partitions = job["topic"], set(range(job["partitions"]))
    errors = []

    def on_error(err):
        errors.append("client error: %s" % err)

    consumer = Consumer({
        "bootstrap.servers": job["bootstrap"],
        "client.id": "kafscale-groups-python",
        "group.id": job["group"],
        "auto.offset.reset": "earliest",
        "enable.auto.commit": False,
        "enable.partition.eof": True,
        "session.timeout.ms": 6000,
        "heartbeat.interval.ms": 500,
        "fetch.wait.max.ms": 200,
        "error_cb": on_error,
    })
    assigned, seen, eof = set(), [], {}

    def on_assign(_, tps):
        assigned.update(tp.partition for tp in tps if tp.topic == topic)

    def on_revoke(_, tps):
        for tp in tps:
            if tp.topic == topic:
                assigned.discard(tp.partition)
                eof.pop(tp.partition, None)

    consumer.subscribe([topic], on_assign=on_assign, on_revoke=on_revoke)
    while not (assigned >= partitions and set(eof) >= partitions):
        left = deadline - time.monotonic()
        if left <= 0:
            errors.append("assigned %s, at the end of %s of partitions %s before the deadline"
                          % (sorted(assigned), sorted(eof), sorted(partitions)))
            break
        msg = consumer.poll(min(left, 0.5))
        if msg is None:
            continue
        if msg.error() is not None:
            if msg.error().code() == KafkaError._PARTITION_EOF:
                eof[msg.partition()] = msg.offset()
            else:
                errors.append("consume error: %s" % msg.error())
            continue
        eof.pop(msg.partition(), None)
        seen.append({"partition": msg.partition(), "offset": msg.offset(),
                     "value": (msg.value() or b"").decode()})

    committed = []
    try:
        for tp in consumer.commit(asynchronous=False) or []:
            committed.append({"partition": tp.partition, "offset": tp.offset,
                              "error": None if tp.error is None else str(tp.error)})
    except KafkaException as e:
        # Nothing consumed, nothing stored: librdkafka has no offset to commit.
        if e.args[0].code() != KafkaError._NO_OFFSET:
            errors.append("commit: %s" % e)
    consumer.close()

    json.dump({
        "seen": seen,
        "eof": [{"partition": p, "offset": o} for p, o in sorted(eof.items())],
        "committed": committed,
        "errors": errors,
    }, sys.stdout)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
