// Creates a topic and produces records with kafkajs 2.2.4, then reads the topic's offsets.
//
// Run by tests/compat/kafkajs_test.go with node. Reads one JSON job on stdin:
//
//   {"bootstrap": "127.0.0.1:9092", "topic": "t", "partitions": 2, "timeout_s": 30,
//    "records": [{"partition": 0, "key": "<hex>"|null, "value": "<hex>"|null,
//                 "headers": [["name", "<hex>"]], "timestamp": <unix ms>}]}
//
// and prints one JSON result on stdout: {"created", "metadata", "send", "offsets"}. The Go
// test does all the checking.
//
// kafkajs has no consumer without a consumer group (its Consumer always joins one), so this
// script reads no records back; it checks the high watermarks through
// admin.fetchTopicOffsets. tests/groups/kafkajs runs kafkajs's group consumer.
'use strict';

const { Kafka, logLevel, CompressionTypes, Partitioners } = require('kafkajs');

function unhex(s) {
  return s === null ? null : Buffer.from(s, 'hex');
}

async function readStdin() {
  const chunks = [];
  for await (const c of process.stdin) chunks.push(c);
  return JSON.parse(Buffer.concat(chunks).toString('utf8'));
}

async function main() {
  const job = await readStdin();
  const kafka = new Kafka({
    clientId: 'kafscale-compat-kafkajs',
    brokers: [job.bootstrap],
    logLevel: logLevel.ERROR,
    connectionTimeout: 5000,
    requestTimeout: job.timeout_s * 1000,
    retry: { retries: 2 },
  });
  const admin = kafka.admin();
  const producer = kafka.producer({
    // kafkajs's idempotent producer: it requires acks=-1 (set on send) and at most one
    // request in flight.
    idempotent: true,
    maxInFlightRequests: 1,
    allowAutoTopicCreation: false,
    createPartitioner: Partitioners.DefaultPartitioner,
  });
  await admin.connect();
  try {
    const created = await admin.createTopics({
      topics: [{ topic: job.topic, numPartitions: job.partitions, replicationFactor: 1 }],
      waitForLeaders: true,
      timeout: job.timeout_s * 1000,
    });
    const metadata = await admin.fetchTopicMetadata({ topics: [job.topic] });

    await producer.connect();
    const send = await producer.send({
      topic: job.topic,
      acks: -1,
      compression: CompressionTypes.GZIP,
      messages: job.records.map((r) => ({
        partition: r.partition,
        key: unhex(r.key),
        value: unhex(r.value),
        timestamp: String(r.timestamp),
        headers: Object.fromEntries(r.headers.map(([k, v]) => [k, unhex(v)])),
      })),
    });
    const offsets = await admin.fetchTopicOffsets(job.topic);
    process.stdout.write(JSON.stringify({ created, metadata, send, offsets }) + '\n');
  } finally {
    await producer.disconnect();
    await admin.disconnect();
  }
}

main().catch((err) => {
  process.stderr.write(`roundtrip.js: ${err && err.stack ? err.stack : err}\n`);
  process.exit(1);
});
