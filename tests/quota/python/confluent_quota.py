"""confluent-kafka under a client quota: reads a JSON job on stdin, prints one JSON result.

job: {"conf": {...librdkafka settings...}, "mode": "produce" | "consume", "topic": str,
      "n": int, "size": int}
produce: produce n records of size bytes and flush (60 s at most);
         result {"errors": [...], "unflushed": int, "throttles": [ms, ...]}.
consume: read n records from the start of partition 0 (assigned, no group membership;
         60 s at most); result {"errors": [...], "read": int, "throttles": [ms, ...]}.
throttles are the throttle times throttle_cb reported (librdkafka calls it for each
response whose throttle_time_ms is above 0, and once more when it falls back to 0).
"""
import json
import sys
import time

from confluent_kafka import Consumer, Producer, TopicPartition, OFFSET_BEGINNING

job = json.load(sys.stdin)
conf = job["conf"]
errors = []
throttles = []
conf["error_cb"] = lambda err: errors.append(str(err))
conf["throttle_cb"] = lambda ev: throttles.append(int(ev.throttle_time * 1000))


def delivered(err, _msg):
    if err is not None:
        errors.append(str(err))


if job["mode"] == "produce":
    p = Producer(conf)
    value = b"q" * job["size"]
    for _ in range(job["n"]):
        p.produce(job["topic"], value=value, partition=0, on_delivery=delivered)
        p.poll(0)
    unflushed = p.flush(60)
    print(json.dumps({"errors": errors, "unflushed": unflushed, "throttles": throttles}))
    sys.exit(0)

c = Consumer({**conf, "group.id": "confluent-quota", "enable.auto.commit": False})
c.assign([TopicPartition(job["topic"], 0, OFFSET_BEGINNING)])
read = 0
deadline = time.time() + 60
while read < job["n"] and time.time() < deadline:
    m = c.poll(0.5)
    if m is None:
        continue
    if m.error():
        errors.append(str(m.error()))
        continue
    read += 1
c.close()
print(json.dumps({"errors": errors, "read": read, "throttles": throttles}))
