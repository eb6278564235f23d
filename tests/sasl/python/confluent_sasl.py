"""confluent-kafka over SASL: reads a JSON job on stdin, prints one JSON result.

job: {"conf": {...librdkafka settings...}, "mode": "roundtrip" | "auth" | "paced",
      "topic": str, "n": int, "group": str, "seconds": float,
      "oauth_token": str, "oauth_expiry": seconds since the epoch (OAUTHBEARER only)}
roundtrip: produce n records v0..v(n-1), then consume them back in a group;
           result {"errors": [...], "unflushed": int, "values": [...]}.
auth: ask for metadata; result {"error": str or null}.
paced: produce one record every 50 ms for "seconds", each flushed (so the connection is
       in use across re-authentications); result {"errors": [...], "sent": int}.
"""
import json
import sys
import time

from confluent_kafka import Consumer, KafkaException, Producer

job = json.load(sys.stdin)
conf = job["conf"]
errors = []
conf["error_cb"] = lambda err: errors.append(str(err))


def delivered(err, _msg):
    if err is not None:
        errors.append(str(err))


if "oauth_token" in job:
    # OAUTHBEARER: hand librdkafka the test's signed JWT.
    conf["oauth_cb"] = lambda _config: (job["oauth_token"], job["oauth_expiry"])

if job["mode"] == "auth":
    prod = Producer(conf)
    try:
        prod.list_topics(timeout=2)
        result = None
    except KafkaException as e:
        result = str(e)
    # error_cb runs from poll: serve the errors the metadata request met.
    deadline = time.time() + 10
    while not errors and time.time() < deadline:
        prod.poll(0.5)
    print(json.dumps({"error": result, "errors": errors}))
    sys.exit(0)

p = Producer(conf)

if job["mode"] == "paced":
    sent = 0
    end = time.time() + job["seconds"]
    while time.time() < end:
        p.produce(job["topic"], value=b"paced", on_delivery=delivered)
        if p.flush(10) != 0:
            errors.append("a record was not delivered within 10 s")
            break
        sent += 1
        time.sleep(0.05)
    print(json.dumps({"errors": errors, "sent": sent}))
    sys.exit(0)


for i in range(job["n"]):
    p.produce(job["topic"], value=f"v{i}".encode(), on_delivery=delivered)
unflushed = p.flush(60)

c = Consumer({**conf, "group.id": job["group"], "auto.offset.reset": "earliest"})
c.subscribe([job["topic"]])
values = []
deadline = time.time() + 60
while len(values) < job["n"] and time.time() < deadline:
    m = c.poll(1.0)
    if m is None:
        continue
    if m.error():
        errors.append(str(m.error()))
        continue
    values.append(m.value().decode())
c.close()
print(json.dumps({"errors": errors, "unflushed": unflushed, "values": values}))
