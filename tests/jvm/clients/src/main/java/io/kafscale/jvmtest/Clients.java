package io.kafscale.jvmtest;

import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collection;
import java.util.Collections;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicReference;
import java.util.function.Supplier;

import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.AlterConfigOp;
import org.apache.kafka.clients.admin.AdminClientConfig;
import org.apache.kafka.clients.admin.Config;
import org.apache.kafka.clients.admin.ConfigEntry;
import org.apache.kafka.clients.admin.ConsumerGroupDescription;
import org.apache.kafka.clients.admin.ConsumerGroupListing;
import org.apache.kafka.clients.admin.DescribeClusterResult;
import org.apache.kafka.clients.admin.ListOffsetsResult;
import org.apache.kafka.clients.admin.NewPartitions;
import org.apache.kafka.clients.admin.NewTopic;
import org.apache.kafka.clients.admin.OffsetSpec;
import org.apache.kafka.clients.admin.RecordsToDelete;
import org.apache.kafka.clients.admin.TopicDescription;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.ConsumerRebalanceListener;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.ConsumerRecords;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.consumer.OffsetAndMetadata;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.clients.producer.RecordMetadata;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.config.ConfigResource;
import org.apache.kafka.common.serialization.StringDeserializer;
import org.apache.kafka.common.serialization.StringSerializer;

/**
 * The Java client against a broker, with the client's default configuration (idempotent
 * producer, acks=all) unless a scenario names a setting. Usage:
 *
 * <pre>
 *   Clients &lt;bootstrap&gt; &lt;run-id&gt; all                  every scenario of the suite, in one JVM
 *   Clients &lt;bootstrap&gt; &lt;run-id&gt; &lt;scenario&gt;...          the named ones
 *   Clients &lt;bootstrap&gt; &lt;run-id&gt; follow-leader &lt;topic&gt; &lt;records&gt; &lt;pause-at&gt;
 * </pre>
 *
 * Each scenario prints "PASS name: details" or "FAIL name: why" on stdout; the exit status
 * is 1 if any failed. Topic and group names carry run-id, so that runs never meet. Every
 * wait has a deadline.
 */
public final class Clients {
    private static final Duration DEADLINE = Duration.ofSeconds(60);

    private final String bootstrap;
    private final String run;

    private Clients(String bootstrap, String run) {
        this.bootstrap = bootstrap;
        this.run = run;
    }

    public static void main(String[] args) throws Exception {
        if (args.length < 3) {
            System.err.println("usage: Clients <bootstrap> <run-id> all|<scenario>...|follow-leader <topic> <records> <pause-at>");
            System.exit(2);
        }
        Clients c = new Clients(args[0], args[1]);
        Map<String, Scenario> all = new LinkedHashMap<>();
        all.put("guide", c::guide);
        all.put("codecs", c::codecs);
        all.put("group-classic", () -> c.group("classic"));
        all.put("group-consumer", () -> c.group("consumer"));
        all.put("admin", c::adminCalls);
        List<String> names = new ArrayList<>();
        if (args[2].equals("follow-leader")) {
            if (args.length != 6) {
                System.err.println("usage: Clients <bootstrap> <run-id> follow-leader <topic> <records> <pause-at>");
                System.exit(2);
            }
            String topic = args[3];
            int records = Integer.parseInt(args[4]), pauseAt = Integer.parseInt(args[5]);
            all.put("follow-leader", () -> c.followLeader(topic, records, pauseAt));
            names.add("follow-leader");
        } else if (args[2].equals("all")) {
            names.addAll(all.keySet());
        } else {
            for (int i = 2; i < args.length; i++) {
                if (!all.containsKey(args[i])) {
                    System.err.println("unknown scenario " + args[i] + "; known: " + all.keySet());
                    System.exit(2);
                }
                names.add(args[i]);
            }
        }
        boolean failed = false;
        for (String name : names) {
            long start = System.nanoTime();
            try {
                String details = all.get(name).run();
                System.out.printf("PASS %s: %s (%d ms)%n", name, details, (System.nanoTime() - start) / 1_000_000);
            } catch (Throwable e) {
                failed = true;
                System.out.printf("FAIL %s: %s%n", name, e.toString().replace('\n', ' '));
                e.printStackTrace();
            }
            System.out.flush();
        }
        System.exit(failed ? 1 : 0);
    }

    @FunctionalInterface
    private interface Scenario {
        String run() throws Exception;
    }

    // The user guide's Java producer and consumer, without enable.idempotence=false and
    // acks=1: the client's defaults (idempotence on, acks=all). One send waited on with
    // get(), as the guide does, then 99 more; the guide's consumer in a group reads all
    // 100 back in order and commits.
    private String guide() throws Exception {
        String topic = "orders-" + run;
        createTopic(topic, 1);
        Properties props = new Properties();
        props.put("bootstrap.servers", bootstrap);
        props.put("key.serializer", "org.apache.kafka.common.serialization.StringSerializer");
        props.put("value.serializer", "org.apache.kafka.common.serialization.StringSerializer");
        RecordMetadata first;
        try (KafkaProducer<String, String> producer = new KafkaProducer<>(props)) {
            first = producer.send(new ProducerRecord<>(topic, "key-1", "value-1")).get();
            for (int i = 2; i <= 100; i++) {
                producer.send(new ProducerRecord<>(topic, "key-" + i, "value-" + i));
            }
            producer.flush();
        }
        check(first.offset() == 0, "the first record was stored at offset %d, want 0", first.offset());

        props = new Properties();
        props.put("bootstrap.servers", bootstrap);
        props.put("group.id", "orders-consumer-" + run);
        props.put("auto.offset.reset", "earliest");
        props.put("key.deserializer", "org.apache.kafka.common.serialization.StringDeserializer");
        props.put("value.deserializer", "org.apache.kafka.common.serialization.StringDeserializer");
        List<String> values = new ArrayList<>();
        try (KafkaConsumer<String, String> consumer = new KafkaConsumer<>(props)) {
            consumer.subscribe(Collections.singletonList(topic));
            long deadline = System.nanoTime() + DEADLINE.toNanos();
            while (values.size() < 100) {
                check(System.nanoTime() < deadline, "read %d of 100 records within %s", values.size(), DEADLINE);
                ConsumerRecords<String, String> records = consumer.poll(Duration.ofSeconds(5));
                for (ConsumerRecord<String, String> record : records) {
                    values.add(record.value());
                }
            }
            consumer.commitSync();
            OffsetAndMetadata committed = consumer.committed(Set.of(new TopicPartition(topic, 0))).get(new TopicPartition(topic, 0));
            check(committed != null && committed.offset() == 100, "committed offset %s, want 100", committed);
        }
        for (int i = 0; i < 100; i++) {
            check(values.get(i).equals("value-" + (i + 1)), "record %d is %s, want value-%d", i, values.get(i), i + 1);
        }
        check(values.size() == 100, "read %d records, want 100", values.size());
        return "100 records produced with the default (idempotent, acks=all) producer and read back in order by a group, offset 100 committed";
    }

    // A producer per codec writes 200 records; a consumer reads them back in order.
    private String codecs() throws Exception {
        StringBuilder out = new StringBuilder();
        for (String codec : List.of("gzip", "snappy", "lz4", "zstd")) {
            String topic = "codec-" + codec + "-" + run;
            createTopic(topic, 1);
            Properties props = producerProps();
            props.put(ProducerConfig.COMPRESSION_TYPE_CONFIG, codec);
            props.put(ProducerConfig.LINGER_MS_CONFIG, "20");
            try (KafkaProducer<String, String> producer = new KafkaProducer<>(props)) {
                for (int i = 0; i < 200; i++) {
                    producer.send(new ProducerRecord<>(topic, "k" + (i % 7), codec + "-" + i + "-" + "x".repeat(100)));
                }
                producer.flush();
            }
            TopicPartition tp = new TopicPartition(topic, 0);
            List<String> values = new ArrayList<>();
            try (KafkaConsumer<String, String> consumer = new KafkaConsumer<>(consumerProps(null))) {
                consumer.assign(List.of(tp));
                consumer.seekToBeginning(List.of(tp));
                long deadline = System.nanoTime() + DEADLINE.toNanos();
                while (values.size() < 200) {
                    check(System.nanoTime() < deadline, "%s: read %d of 200 records within %s", codec, values.size(), DEADLINE);
                    for (ConsumerRecord<String, String> r : consumer.poll(Duration.ofMillis(500))) {
                        check(r.offset() == values.size(), "%s: record at offset %d, want %d", codec, r.offset(), values.size());
                        values.add(r.value());
                    }
                }
            }
            for (int i = 0; i < 200; i++) {
                check(values.get(i).startsWith(codec + "-" + i + "-"), "%s: record %d is %s", codec, i, values.get(i));
            }
            out.append(codec).append(" ");
        }
        return "200 records each with " + out.toString().trim() + " read back in order";
    }

    // Two members of one group with group.protocol=classic or consumer (KIP-848): the first
    // takes all four partitions and commits; the second joins, the partitions are split
    // (a rebalance), both commit on every poll and on revocation; every record is read
    // exactly once and the committed offsets end at the log ends.
    private String group(String protocol) throws Exception {
        String topic = "group-" + protocol + "-" + run;
        String group = "g-" + protocol + "-" + run;
        createTopic(topic, 4);
        produce(topic, 0, 400);
        Map<String, Integer> seen = new ConcurrentHashMap<>();
        AtomicReference<Throwable> error = new AtomicReference<>();
        AtomicBoolean stop = new AtomicBoolean();
        Member a = new Member("a", topic, group, protocol, seen, error, stop);
        Member b = new Member("b", topic, group, protocol, seen, error, stop);
        a.start();
        waitFor("member a to own all 4 partitions and read 100 records", () -> a.assigned.size() == 4 && seen.size() >= 100, error);
        b.start();
        waitFor("both members to own partitions", () -> !a.assigned.isEmpty() && !b.assigned.isEmpty()
                && a.assigned.size() + b.assigned.size() == 4, error);
        int aOwned = a.assigned.size(), bOwned = b.assigned.size();
        produce(topic, 400, 100);
        waitFor("all 500 records to be read", () -> seen.size() == 500, error);
        stop.set(true);
        a.join(DEADLINE.toMillis());
        b.join(DEADLINE.toMillis());
        if (error.get() != null) {
            throw new AssertionError("a member failed", error.get());
        }
        List<String> dups = new ArrayList<>();
        seen.forEach((v, n) -> {
            if (n > 1) {
                dups.add(v + "x" + n);
            }
        });
        check(dups.isEmpty(), "records read more than once: %s", dups);
        try (Admin admin = admin()) {
            Map<TopicPartition, OffsetAndMetadata> committed = admin.listConsumerGroupOffsets(group)
                    .partitionsToOffsetAndMetadata().get();
            Map<TopicPartition, OffsetSpec> latest = new HashMap<>();
            for (int p = 0; p < 4; p++) {
                latest.put(new TopicPartition(topic, p), OffsetSpec.latest());
            }
            Map<TopicPartition, ListOffsetsResult.ListOffsetsResultInfo> ends = admin.listOffsets(latest).all().get();
            for (TopicPartition tp : latest.keySet()) {
                OffsetAndMetadata c = committed.get(tp);
                check(c != null && c.offset() == ends.get(tp).offset(), "%s committed %s, log end %d", tp, c, ends.get(tp).offset());
            }
            ConsumerGroupDescription d = admin.describeConsumerGroups(List.of(group)).all().get().get(group);
            check(d.members().isEmpty(), "group %s still has members %s after both closed", group, d.members());
        }
        return String.format("members split the partitions %d/%d after the rebalance; 500 records read once each; committed offsets at the log ends",
                aOwned, bOwned);
    }

    // One group member on its own thread: polls, commits after each poll and before its
    // partitions are revoked, notes each record value read.
    private final class Member extends Thread {
        final Set<TopicPartition> assigned = ConcurrentHashMap.newKeySet();
        private final String topic, group, protocol;
        private final Map<String, Integer> seen;
        private final AtomicReference<Throwable> error;
        private final AtomicBoolean stop;

        Member(String name, String topic, String group, String protocol, Map<String, Integer> seen,
                AtomicReference<Throwable> error, AtomicBoolean stop) {
            super("member-" + name);
            this.topic = topic;
            this.group = group;
            this.protocol = protocol;
            this.seen = seen;
            this.error = error;
            this.stop = stop;
        }

        @Override
        public void run() {
            Properties props = consumerProps(group);
            props.put(ConsumerConfig.GROUP_PROTOCOL_CONFIG, protocol);
            props.put(ConsumerConfig.ENABLE_AUTO_COMMIT_CONFIG, "false");
            props.put(ConsumerConfig.MAX_POLL_RECORDS_CONFIG, "20");
            try (KafkaConsumer<String, String> consumer = new KafkaConsumer<>(props)) {
                consumer.subscribe(List.of(topic), new ConsumerRebalanceListener() {
                    @Override
                    public void onPartitionsRevoked(Collection<TopicPartition> partitions) {
                        consumer.commitSync();
                        assigned.removeAll(partitions);
                    }

                    @Override
                    public void onPartitionsAssigned(Collection<TopicPartition> partitions) {
                        assigned.addAll(partitions);
                    }

                    @Override
                    public void onPartitionsLost(Collection<TopicPartition> partitions) {
                        assigned.removeAll(partitions);
                    }
                });
                while (!stop.get()) {
                    ConsumerRecords<String, String> records = consumer.poll(Duration.ofMillis(200));
                    for (ConsumerRecord<String, String> r : records) {
                        seen.merge(r.value(), 1, Integer::sum);
                    }
                    if (!records.isEmpty()) {
                        consumer.commitSync();
                    }
                }
            } catch (Throwable e) {
                error.compareAndSet(null, e);
            }
        }
    }

    // AdminClient calls that a cluster answers: topics, cluster, offsets, groups, configs.
    // listConsumerGroups is deprecated in 4.x for listGroups, which 3.x lacks: both
    // versions are tested with the one they share.
    @SuppressWarnings("removal")
    private String adminCalls() throws Exception {
        String topic = "admin-" + run;
        String group = "admin-group-" + run;
        try (Admin admin = admin()) {
            admin.createTopics(List.of(new NewTopic(topic, 3, (short) -1)
                    .configs(Map.of("retention.ms", "3600000")))).all().get();
            TopicDescription td = admin.describeTopics(List.of(topic)).allTopicNames().get().get(topic);
            check(td.partitions().size() == 3, "describeTopics: %d partitions, want 3", td.partitions().size());
            td.partitions().forEach(p -> check(p.leader() != null && p.leader().id() >= 0, "partition %d has no leader", p.partition()));

            DescribeClusterResult dc = admin.describeCluster();
            int nodes = dc.nodes().get().size();
            check(nodes >= 1, "describeCluster: no nodes");
            check(dc.controller().get() != null, "describeCluster: no controller");
            String clusterId = dc.clusterId().get();
            check(clusterId != null && !clusterId.isEmpty(), "describeCluster: no cluster id");

            produce(topic, 0, 30);
            Map<TopicPartition, OffsetSpec> latest = new HashMap<>(), earliest = new HashMap<>();
            for (int p = 0; p < 3; p++) {
                latest.put(new TopicPartition(topic, p), OffsetSpec.latest());
                earliest.put(new TopicPartition(topic, p), OffsetSpec.earliest());
            }
            long total = 0;
            for (ListOffsetsResult.ListOffsetsResultInfo i : admin.listOffsets(latest).all().get().values()) {
                total += i.offset();
            }
            check(total == 30, "listOffsets latest: the partitions end at %d records in all, want 30", total);
            for (ListOffsetsResult.ListOffsetsResultInfo i : admin.listOffsets(earliest).all().get().values()) {
                check(i.offset() == 0, "listOffsets earliest: %d, want 0", i.offset());
            }

            // A group with committed offsets, so that the group calls have something to list.
            Properties props = consumerProps(group);
            try (KafkaConsumer<String, String> consumer = new KafkaConsumer<>(props)) {
                consumer.subscribe(List.of(topic));
                int read = 0;
                long deadline = System.nanoTime() + DEADLINE.toNanos();
                while (read < 30) {
                    check(System.nanoTime() < deadline, "read %d of 30 records within %s", read, DEADLINE);
                    read += consumer.poll(Duration.ofMillis(500)).count();
                }
                consumer.commitSync();
            }
            boolean listed = false;
            for (ConsumerGroupListing l : admin.listConsumerGroups().all().get()) {
                listed |= l.groupId().equals(group);
            }
            check(listed, "listConsumerGroups does not list %s", group);
            ConsumerGroupDescription gd = admin.describeConsumerGroups(List.of(group)).all().get().get(group);
            check(gd.groupId().equals(group), "describeConsumerGroups: %s", gd);
            Map<TopicPartition, OffsetAndMetadata> offsets = admin.listConsumerGroupOffsets(group).partitionsToOffsetAndMetadata().get();
            long committed = 0;
            for (OffsetAndMetadata o : offsets.values()) {
                committed += o.offset();
            }
            check(committed == 30, "listConsumerGroupOffsets: %d in all, want 30 (%s)", committed, offsets);

            ConfigResource tr = new ConfigResource(ConfigResource.Type.TOPIC, topic);
            Config tc = admin.describeConfigs(List.of(tr)).all().get().get(tr);
            ConfigEntry retention = tc.get("retention.ms");
            check(retention != null && retention.value().equals("3600000"), "describeConfigs: retention.ms %s, want 3600000", retention);
            check(retention.source() == ConfigEntry.ConfigSource.DYNAMIC_TOPIC_CONFIG, "describeConfigs: retention.ms source %s, want DYNAMIC_TOPIC_CONFIG", retention.source());
            admin.incrementalAlterConfigs(Map.of(tr, List.of(new AlterConfigOp(new ConfigEntry("retention.ms", "7200000"), AlterConfigOp.OpType.SET))))
                    .all().get();
            ConfigEntry altered = admin.describeConfigs(List.of(tr)).all().get().get(tr).get("retention.ms");
            check(altered.value().equals("7200000") && altered.source() == ConfigEntry.ConfigSource.DYNAMIC_TOPIC_CONFIG,
                    "incrementalAlterConfigs: retention.ms %s (%s), want 7200000", altered.value(), altered.source());
            ConfigResource br = new ConfigResource(ConfigResource.Type.BROKER, String.valueOf(td.partitions().get(0).leader().id()));
            Config bc = admin.describeConfigs(List.of(br)).all().get().get(br);
            check(!bc.entries().isEmpty(), "describeConfigs of broker %s: no entries", br.name());

            TopicPartition p0 = new TopicPartition(topic, 0);
            long low = admin.deleteRecords(Map.of(p0, RecordsToDelete.beforeOffset(5))).lowWatermarks().get(p0).get().lowWatermark();
            check(low == 5, "deleteRecords before 5: low watermark %d", low);
            long earliestAfter = admin.listOffsets(Map.of(p0, OffsetSpec.earliest())).all().get().get(p0).offset();
            check(earliestAfter == 5, "listOffsets earliest after deleteRecords: %d, want 5", earliestAfter);

            admin.createPartitions(Map.of(topic, NewPartitions.increaseTo(5))).all().get();
            waitFor("describeTopics to show 5 partitions", () -> {
                try {
                    return admin.describeTopics(List.of(topic)).allTopicNames().get().get(topic).partitions().size() == 5;
                } catch (Exception e) {
                    return false;
                }
            }, null);

            admin.deleteTopics(List.of(topic)).all().get();
            waitFor("listTopics to leave the deleted topic out", () -> {
                try {
                    return !admin.listTopics().names().get().contains(topic);
                } catch (Exception e) {
                    return false;
                }
            }, null);
            return String.format("createTopics, describeTopics, describeCluster (%d nodes, id %s), listOffsets, listConsumerGroups, describeConsumerGroups, listConsumerGroupOffsets, describeConfigs (topic and broker), incrementalAlterConfigs, deleteRecords, createPartitions, deleteTopics",
                    nodes, clusterId);
        }
    }

    // A consumer reading a topic written beforehand (no group: assigned every partition
    // from the beginning) pauses after pauseAt records, printing "PAUSED", until a line on
    // stdin (meanwhile the test moves partition leaders); then it reads the rest. Every
    // offset of every partition must be read exactly once, in order: after the leader
    // change the consumer validates its positions (OffsetForLeaderEpoch, KIP-320) and goes
    // on where it was, neither resetting nor skipping.
    private String followLeader(String topic, int records, int pauseAt) throws Exception {
        Properties props = consumerProps(null);
        props.put(ConsumerConfig.MAX_POLL_RECORDS_CONFIG, "10");
        // One batch per partition per fetch: most of the log is fetched after the move.
        props.put(ConsumerConfig.MAX_PARTITION_FETCH_BYTES_CONFIG, "1");
        props.put(ConsumerConfig.AUTO_OFFSET_RESET_CONFIG, "none");
        Map<TopicPartition, Long> next = new HashMap<>();
        int read = 0;
        try (KafkaConsumer<String, String> consumer = new KafkaConsumer<>(props)) {
            List<TopicPartition> tps = new ArrayList<>();
            consumer.partitionsFor(topic, DEADLINE).forEach(p -> tps.add(new TopicPartition(topic, p.partition())));
            consumer.assign(tps);
            consumer.seekToBeginning(tps);
            tps.forEach(tp -> next.put(tp, 0L));
            boolean paused = false;
            long deadline = System.nanoTime() + DEADLINE.toNanos();
            while (read < records) {
                check(System.nanoTime() < deadline, "read %d of %d records within %s", read, records, DEADLINE);
                if (!paused && read >= pauseAt) {
                    paused = true;
                    System.out.println("PAUSED " + read);
                    System.out.flush();
                    String line = new BufferedReader(new InputStreamReader(System.in, StandardCharsets.UTF_8)).readLine();
                    check(line != null, "stdin closed while paused");
                    deadline = System.nanoTime() + DEADLINE.toNanos();
                }
                for (ConsumerRecord<String, String> r : consumer.poll(Duration.ofMillis(200))) {
                    TopicPartition tp = new TopicPartition(r.topic(), r.partition());
                    check(r.offset() == next.get(tp), "%s: read offset %d, want %d (a reset or a skip)", tp, r.offset(), next.get(tp));
                    next.put(tp, r.offset() + 1);
                    read++;
                }
            }
        }
        return String.format("read %d records once each in order across the leader change; next offsets %s", read, next);
    }

    // --- helpers ---------------------------------------------------------------------------

    private Properties producerProps() {
        Properties props = new Properties();
        props.put(ProducerConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap);
        props.put(ProducerConfig.KEY_SERIALIZER_CLASS_CONFIG, StringSerializer.class.getName());
        props.put(ProducerConfig.VALUE_SERIALIZER_CLASS_CONFIG, StringSerializer.class.getName());
        return props;
    }

    private Properties consumerProps(String group) {
        Properties props = new Properties();
        props.put(ConsumerConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap);
        props.put(ConsumerConfig.KEY_DESERIALIZER_CLASS_CONFIG, StringDeserializer.class.getName());
        props.put(ConsumerConfig.VALUE_DESERIALIZER_CLASS_CONFIG, StringDeserializer.class.getName());
        props.put(ConsumerConfig.AUTO_OFFSET_RESET_CONFIG, "earliest");
        if (group != null) {
            props.put(ConsumerConfig.GROUP_ID_CONFIG, group);
        }
        return props;
    }

    private Admin admin() {
        Properties props = new Properties();
        props.put(AdminClientConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap);
        return Admin.create(props);
    }

    private void createTopic(String topic, int partitions) throws Exception {
        try (Admin admin = admin()) {
            admin.createTopics(List.of(new NewTopic(topic, partitions, (short) -1))).all().get();
        }
    }

    // produce writes n records "v<from+i>" round-robin over the topic's partitions with the
    // default producer and waits for every acknowledgement.
    private void produce(String topic, int from, int n) throws Exception {
        try (KafkaProducer<String, String> producer = new KafkaProducer<>(producerProps())) {
            int partitions = producer.partitionsFor(topic).size();
            List<java.util.concurrent.Future<RecordMetadata>> acks = new ArrayList<>();
            for (int i = from; i < from + n; i++) {
                acks.add(producer.send(new ProducerRecord<>(topic, i % partitions, null, "v" + i)));
            }
            for (java.util.concurrent.Future<RecordMetadata> f : acks) {
                f.get();
            }
        }
    }

    private static void waitFor(String what, Supplier<Boolean> cond, AtomicReference<Throwable> error) throws Exception {
        long deadline = System.nanoTime() + DEADLINE.toNanos();
        while (!cond.get()) {
            if (error != null && error.get() != null) {
                throw new AssertionError("while waiting for " + what, error.get());
            }
            check(System.nanoTime() < deadline, "timed out after %s waiting for %s", DEADLINE, what);
            Thread.sleep(50);
        }
    }

    private static void check(boolean ok, String format, Object... args) {
        if (!ok) {
            throw new AssertionError(String.format(format, args));
        }
    }
}
