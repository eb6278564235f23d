// A kafkajs consumer group member for tests/groups (kafkajs is installed in
// tests/compat/kafkajs by scripts/test-deps.sh; the Go test sets NODE_PATH). It reads a
// job from stdin: {bootstrap, topic, group, expect, timeoutS}, consumes `expect` records
// in the group, committing as it goes, leaves, and prints {"seen": [[partition, offset]...]}.
const { Kafka, logLevel } = require('kafkajs');

async function main() {
  const job = JSON.parse(require('fs').readFileSync(0, 'utf8'));
  const kafka = new Kafka({ clientId: 'kafscale-groups', brokers: [job.bootstrap], logLevel: logLevel.WARN });
  const consumer = kafka.consumer({
    groupId: job.group, sessionTimeout: 6000, heartbeatInterval: 500, rebalanceTimeout: 10000, maxWaitTimeInMs: 200,
  });
  await consumer.connect();
  await consumer.subscribe({ topic: job.topic, fromBeginning: true });
  const seen = [];
  await new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`consumed ${seen.length} of ${job.expect} records in ${job.timeoutS}s`)), job.timeoutS * 1000);
    consumer.run({
      autoCommitInterval: 100,
      autoCommitThreshold: 1,
      eachMessage: async ({ partition, message }) => {
        seen.push([partition, Number(message.offset)]);
        if (seen.length >= job.expect) {
          clearTimeout(timer);
          resolve();
        }
      },
    }).catch(reject);
  });
  await consumer.disconnect();
  process.stdout.write(JSON.stringify({ seen }) + '\n');
}

main().catch((err) => {
  process.stderr.write(`${err.stack || err}\n`);
  process.exit(1);
});
