"""confluent-kafka against ACLs: reads a JSON job on stdin, prints one JSON result.

job: {"conf": {...librdkafka settings...}, "mode": "produce" | "consume" | "admin",
      "topic": str, "n": int, "group": str, "new_topic": str}
produce: produce n records v0..v(n-1) and flush (15 s at most);
         result {"errors": [...], "unflushed": int}.
consume: read the topic from its start in group until n records or the first error
         (15 s at most); result {"errors": [...], "values": [...]}.
admin: with the AdminClient, list the topics, then create new_topic, delete topic, add a
       partition to topic, describe every ACL and create one (15 s each); result
       {"errors": [...], "topics": [...], "outcomes": {call: "NONE" ("NONE(n)" for a list of n),
       or the Kafka error's name}}.
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


if job["mode"] == "admin":
    from confluent_kafka.admin import (AclBinding, AclBindingFilter, AclOperation, AclPermissionType, AdminClient,
                                       NewPartitions, NewTopic, ResourcePatternType, ResourceType)

    a = AdminClient(conf)
    outcomes = {}

    def outcome(call, fut):
        try:
            res = fut.result(timeout=15)
            outcomes[call] = "NONE(%d)" % len(res) if isinstance(res, list) else "NONE"
        except Exception as e:  # a KafkaException carries the KafkaError
            err = e.args[0] if e.args else None
            outcomes[call] = err.name() if hasattr(err, "name") else repr(e)

    topics = sorted(a.list_topics(timeout=15).topics)
    outcome("create_topics", a.create_topics([NewTopic(job["new_topic"], 1, 1)])[job["new_topic"]])
    outcome("delete_topics", a.delete_topics([job["topic"]])[job["topic"]])
    outcome("create_partitions", a.create_partitions([NewPartitions(job["topic"], 2)])[job["topic"]])
    outcome("describe_acls", a.describe_acls(AclBindingFilter(ResourceType.ANY, None, ResourcePatternType.ANY,
                                                              None, None, AclOperation.ANY, AclPermissionType.ANY)))
    grant = AclBinding(ResourceType.TOPIC, job["topic"], ResourcePatternType.LITERAL, "User:mallory", "*",
                       AclOperation.ALL, AclPermissionType.ALLOW)
    outcome("create_acls", a.create_acls([grant])[grant])
    print(json.dumps({"errors": errors, "topics": topics, "outcomes": outcomes}))
    sys.exit(0)

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
