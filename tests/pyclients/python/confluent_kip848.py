"""confluent-kafka (PyPI) with group.protocol=consumer (KIP-848): two members, then one.

Run by ../kip848_test.go with the venv's python. The job is jobio.py's, with the topic
already created empty with 4 partitions, "records" the first batch and "more" the second.
The script:

 1. starts two consumers ("a" and "b") in the group and polls both until the broker has
    split the partitions between them: each holds some, none holds one twice, together all;
 2. produces the first batch (idempotent producer), reads it with both, and each commits;
 3. closes "b" (it leaves the group) and polls "a" until it holds every partition;
 4. produces the second batch, reads it with "a", commits, and closes "a".

It prints one JSON result:

  {"split": {"a": [0, 1], "b": [2, 3]},  "alone": [0, 1, 2, 3],
   "consumed1": {"a": [<record>], "b": [<record>]},  "consumed2": [<record>],
   "delivered": [<as jobio.py, both batches in produce order>], "errors": ["..."]}

Every wait polls until the job's deadline; the Go test checks the rest.
"""

import sys

from confluent_kafka import Consumer, KafkaError, Producer

import jobio


def main():
    job = jobio.read_job()
    res = {"split": {}, "alone": [], "consumed1": {"a": [], "b": []}, "consumed2": [], "delivered": [], "errors": []}
    try:
        run(job, res)
    except Exception as e:  # reported to the Go test with the rest
        res["errors"].append("%s: %s" % (type(e).__name__, e))
    jobio.emit(res)


def run(job, res):
    def on_error(err):
        res["errors"].append("client error: %s" % err)

    def consumer(name):
        c = Consumer({
            "bootstrap.servers": job["bootstrap"],
            "client.id": "kafscale-pyclients-kip848-" + name,
            "group.id": job["group"],
            "group.protocol": "consumer",
            "auto.offset.reset": "earliest",
            "enable.auto.commit": False,
            "error_cb": on_error,
        })
        c.subscribe([job["topic"]])
        return c

    producer = Producer({
        "bootstrap.servers": job["bootstrap"],
        "client.id": "kafscale-pyclients-kip848",
        "enable.idempotence": True,
        "acks": "all",
        "linger.ms": 5,
        "error_cb": on_error,
    })

    def produce(records):
        first = len(res["delivered"])
        res["delivered"].extend([None] * len(records))

        def on_delivery(i):
            def cb(err, msg):
                res["delivered"][i] = {"partition": msg.partition(), "offset": msg.offset(),
                                       "error": None if err is None else str(err)}
            return cb

        for i, r in enumerate(records):
            producer.produce(job["topic"], key=jobio.unhex(r["key"]), value=jobio.unhex(r["value"]),
                             partition=r["partition"], timestamp=r["timestamp"],
                             headers=[(k, jobio.unhex(v)) for k, v in r["headers"]],
                             on_delivery=on_delivery(first + i))
            producer.poll(0)
        unsent = producer.flush(jobio.left(job))
        if unsent:
            raise RuntimeError("%d records not delivered before the deadline" % unsent)

    def poll(c, into):
        msg = c.poll(0.1)
        if msg is None:
            return
        if msg.error() is not None:
            if msg.error().code() != KafkaError._PARTITION_EOF:
                res["errors"].append("consume error: %s" % msg.error())
            return
        into.append(jobio.record(msg.partition(), msg.offset(), msg.key(), msg.value(),
                                 msg.headers(), msg.timestamp()[1]))

    def until(what, cond, step):
        while not cond():
            if jobio.left(job) <= 0:
                raise RuntimeError("deadline passed waiting for " + what())
            step()

    def held(c):
        return sorted(tp.partition for tp in c.assignment())

    partitions = set(range(job["partitions"]))
    a, b = consumer("a"), consumer("b")

    def split():
        ha, hb = held(a), held(b)
        return ha and hb and not set(ha) & set(hb) and set(ha) | set(hb) == partitions

    def both():
        poll(a, res["consumed1"]["a"])
        poll(b, res["consumed1"]["b"])

    until(lambda: "the split (a holds %s, b holds %s)" % (held(a), held(b)), split, both)
    res["split"] = {"a": held(a), "b": held(b)}

    produce(job["records"])
    n1 = len(job["records"])
    until(lambda: "the first batch (a read %d, b %d, of %d)" % (len(res["consumed1"]["a"]), len(res["consumed1"]["b"]), n1),
          lambda: len(res["consumed1"]["a"]) + len(res["consumed1"]["b"]) >= n1, both)
    for c in (a, b):
        for tp in c.commit(asynchronous=False) or []:
            if tp.error is not None:
                res["errors"].append("commit of partition %d failed: %s" % (tp.partition, tp.error))
    b.close()

    until(lambda: "a to hold every partition (it holds %s)" % held(a),
          lambda: set(held(a)) == partitions, lambda: poll(a, res["consumed2"]))
    res["alone"] = held(a)

    produce(job["more"])
    n2 = len(job["more"])
    until(lambda: "the second batch (a read %d of %d)" % (len(res["consumed2"]), n2),
          lambda: len(res["consumed2"]) >= n2, lambda: poll(a, res["consumed2"]))
    for tp in a.commit(asynchronous=False) or []:
        if tp.error is not None:
            res["errors"].append("commit of partition %d failed: %s" % (tp.partition, tp.error))
    a.close()


if __name__ == "__main__":
    sys.exit(main())
