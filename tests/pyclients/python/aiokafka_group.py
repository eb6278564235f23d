"""aiokafka (PyPI): produce, or consume in a group and commit, with asyncio.

Run by ../aiokafka_test.go with the venv's python; the job and result are described in
jobio.py. The producer sets acks='all' (aiokafka's default is acks=1 without idempotence);
the consumer subscribes with auto_offset_reset='earliest' and enable_auto_commit=False and
commits with commit().
"""

import asyncio
import sys

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.structs import TopicPartition

import jobio


async def produce(job, res):
    producer = AIOKafkaProducer(
        bootstrap_servers=job["bootstrap"],
        client_id="kafscale-pyclients-aiokafka",
        acks="all",
        linger_ms=5,
        request_timeout_ms=int(job["timeout_s"] * 1000),
    )
    await producer.start()
    try:
        futures = []
        for r in job["records"]:
            futures.append(await producer.send(
                job["topic"],
                key=jobio.unhex(r["key"]),
                value=jobio.unhex(r["value"]),
                partition=r["partition"],
                timestamp_ms=r["timestamp"],
                headers=[(k, jobio.unhex(v)) for k, v in r["headers"]],
            ))
        done = await asyncio.wait_for(asyncio.gather(*futures, return_exceptions=True), jobio.left(job))
        for md in done:
            if isinstance(md, Exception):
                res["delivered"].append({"partition": -1, "offset": -1, "error": "%s: %s" % (type(md).__name__, md)})
            else:
                res["delivered"].append({"partition": md.partition, "offset": md.offset, "error": None})
    finally:
        await producer.stop()


async def consume(job, res):
    consumer = AIOKafkaConsumer(
        job["topic"],
        bootstrap_servers=job["bootstrap"],
        client_id="kafscale-pyclients-aiokafka",
        group_id=job["group"],
        auto_offset_reset="earliest",
        enable_auto_commit=False,
    )
    await consumer.start()
    try:
        while len(res["consumed"]) < job["count"]:
            if jobio.left(job) <= 0:
                res["errors"].append("consumed %d of %d records before the deadline" % (len(res["consumed"]), job["count"]))
                break
            # max_records bounds the batch so that the run stops at exactly count records,
            # and so commits exactly what it read.
            batches = await consumer.getmany(timeout_ms=int(min(jobio.left(job), 0.5) * 1000),
                                             max_records=job["count"] - len(res["consumed"]))
            for tp, msgs in sorted(batches.items(), key=lambda kv: kv[0].partition):
                for m in msgs:
                    res["consumed"].append(jobio.record(m.partition, m.offset, m.key, m.value, m.headers, m.timestamp))
        if res["consumed"]:
            await consumer.commit()
            for tp in sorted(consumer.assignment(), key=lambda tp: tp.partition):
                off = await consumer.committed(TopicPartition(tp.topic, tp.partition))
                if off is not None:
                    res["committed"].append({"partition": tp.partition, "offset": off})
    finally:
        await consumer.stop()


async def run(job, res):
    if job["mode"] == "produce":
        await produce(job, res)
    else:
        await consume(job, res)


def main():
    job = jobio.read_job()
    res = jobio.new_result()
    try:
        asyncio.run(asyncio.wait_for(run(job, res), jobio.left(job) + 5))
    except Exception as e:  # reported to the Go test with the rest
        res["errors"].append("%s: %s" % (type(e).__name__, e))
    jobio.emit(res)


if __name__ == "__main__":
    sys.exit(main())
