"""confluent-kafka against ACLs: reads a JSON job on stdin, prints one JSON result.

job: {"conf": {...librdkafka settings...}, "mode": "produce" | "consume", "topic": str,
      "n": int, "group": str}
produce: produce n records v0..v(n-1) and flush (15 s at most);
         result {"errors": [...], "unflushed": int}.
consume: read the topic from its start in group until n records or the first error
         (15 s at most); result {"errors": [...], "values": [...]}.
Errors are librdkafka's strings, which name the Kafka error (TOPIC_AUTHORIZATION_FAILED).
"""
import json
import sys
import time

from confluent_kafka import Consumer, Producer

job = json.load(sys.stdin)
conf = job["conf"]
errors = []
conf["error_cb"] = lambda err: errors.append(str(err))


def delivered(err, _msg):
    if err is not None:
        errors.append(str(err))


if job["mode"] == "produce":
    p = Producer(conf)
    for i in range(job["n"]):
        p.produce(job["topic"], value=f"v{i}".encode(), on_delivery=delivered)
    unflushed = p.flush(15)
    print(json.dumps({"errors": errors, "unflushed": unflushed}))
    sys.exit(0)

c = Consumer({**conf, "group.id": job["group"], "auto.offset.reset": "earliest"})
c.subscribe([job["topic"]])
values = []
deadline = time.time() + 15
while len(values) < job["n"] and not errors and time.time() < deadline:
    m = c.poll(0.5)
    if m is None:
        continue
    if m.error():
        errors.append(str(m.error()))
        continue
    values.append(m.value().decode())
c.close()
print(json.dumps({"errors": errors, "values": values}))
