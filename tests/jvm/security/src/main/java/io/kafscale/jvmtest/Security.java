package io.kafscale.jvmtest;

import java.io.FileInputStream;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collection;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.Future;

import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.AlterConfigOp;
import org.apache.kafka.clients.admin.ConfigEntry;
import org.apache.kafka.clients.admin.NewPartitions;
import org.apache.kafka.clients.admin.NewTopic;
import org.apache.kafka.clients.admin.RecordsToDelete;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.ConsumerRecords;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.KafkaFuture;
import org.apache.kafka.common.Metric;
import org.apache.kafka.common.MetricName;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.acl.AccessControlEntry;
import org.apache.kafka.common.acl.AccessControlEntryFilter;
import org.apache.kafka.common.acl.AclBinding;
import org.apache.kafka.common.acl.AclBindingFilter;
import org.apache.kafka.common.acl.AclOperation;
import org.apache.kafka.common.acl.AclPermissionType;
import org.apache.kafka.common.config.ConfigResource;
import org.apache.kafka.common.errors.ClusterAuthorizationException;
import org.apache.kafka.common.errors.GroupAuthorizationException;
import org.apache.kafka.common.errors.TopicAuthorizationException;
import org.apache.kafka.common.errors.TopicExistsException;
import org.apache.kafka.common.resource.PatternType;
import org.apache.kafka.common.resource.ResourcePattern;
import org.apache.kafka.common.resource.ResourcePatternFilter;
import org.apache.kafka.common.resource.ResourceType;
import org.apache.kafka.common.serialization.StringDeserializer;
import org.apache.kafka.common.serialization.StringSerializer;

/**
 * The Java client's security features against a broker with TLS, SASL, ACLs and quotas
 * (issue 16): one JVM runs every scenario, since each JVM start costs seconds. Usage:
 *
 * <pre>
 *   Security &lt;settings.properties&gt; &lt;scenario&gt;...
 * </pre>
 *
 * The settings (written by tests/jvm/security_test.go) name the listeners, the CA, the
 * client certificate and key, the users' passwords and the OAUTHBEARER token file. Each
 * scenario prints "PASS name: details" or "FAIL name: why" on stdout; the exit status is 1
 * if any failed. Every wait has a deadline.
 */
public final class Security {
    private static final Duration DEADLINE = Duration.ofSeconds(60);

    private final Properties settings;

    private Security(Properties settings) {
        this.settings = settings;
    }

    public static void main(String[] args) throws Exception {
        if (args.length < 2) {
            System.err.println("usage: Security <settings.properties> <scenario>...");
            System.exit(2);
        }
        Properties settings = new Properties();
        try (InputStream in = new FileInputStream(args[0])) {
            settings.load(in);
        }
        // Kafka 4 refuses a token endpoint URL this property does not list (CVE-2025-27817):
        // an application using a file or an identity provider must allow it.
        System.setProperty("org.apache.kafka.sasl.oauthbearer.allowed.urls", settings.getProperty("oauth.token.url"));
        Security s = new Security(settings);
        Map<String, Scenario> all = new LinkedHashMap<>();
        all.put("mtls", () -> s.roundTrip("mtls-orders", "mtls-group", s.mtls()));
        all.put("plain", () -> s.roundTrip("plain-orders", "plain-group", s.sasl("PLAIN", "alice")));
        all.put("scram-sha-256", () -> s.roundTrip("scram-256-orders", "scram-256-group", s.sasl("SCRAM-SHA-256", "scrammer")));
        all.put("scram-sha-512", () -> s.roundTrip("scram-512-orders", "scram-512-group", s.sasl("SCRAM-SHA-512", "scrammer")));
        all.put("oauthbearer", () -> s.roundTrip("oauth-orders", "oauth-group", s.oauth()));
        all.put("acl-producer", s::aclProducer);
        all.put("acl-consumer", s::aclConsumer);
        all.put("acl-admin", s::aclAdmin);
        all.put("quota-producer", s::quotaProducer);
        all.put("quota-consumer", s::quotaConsumer);
        boolean failed = false;
        for (int i = 1; i < args.length; i++) {
            String name = args[i];
            Scenario sc = all.get(name);
            if (sc == null) {
                System.err.println("unknown scenario " + name + "; known: " + all.keySet());
                System.exit(2);
            }
            long start = System.nanoTime();
            try {
                String details = sc.run();
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

    // ---- client settings ----

    // sasl logs in as user over SASL_PLAINTEXT with PLAIN or SCRAM, the JAAS line a user
    // writes.
    private Properties sasl(String mechanism, String user) {
        String module = mechanism.equals("PLAIN")
            ? "org.apache.kafka.common.security.plain.PlainLoginModule"
            : "org.apache.kafka.common.security.scram.ScramLoginModule";
        Properties p = new Properties();
        p.put("bootstrap.servers", settings.getProperty("sasl.bootstrap"));
        p.put("security.protocol", "SASL_PLAINTEXT");
        p.put("sasl.mechanism", mechanism);
        p.put("sasl.jaas.config", module + " required username=\"" + user + "\" password=\"" + settings.getProperty(user + ".password") + "\";");
        return p;
    }

    // mtls connects to the SSL listener with a PEM truststore (the CA) and a PEM keystore
    // (the client certificate and its PKCS #8 key, given inline as Kafka allows).
    private Properties mtls() throws Exception {
        Properties p = new Properties();
        p.put("bootstrap.servers", settings.getProperty("mtls.bootstrap"));
        p.put("security.protocol", "SSL");
        p.put("ssl.truststore.type", "PEM");
        p.put("ssl.truststore.location", settings.getProperty("ca.file"));
        p.put("ssl.keystore.type", "PEM");
        p.put("ssl.keystore.certificate.chain", Files.readString(Path.of(settings.getProperty("client.cert.file")), StandardCharsets.US_ASCII));
        p.put("ssl.keystore.key", Files.readString(Path.of(settings.getProperty("client.key.file")), StandardCharsets.US_ASCII));
        return p;
    }

    // oauth logs in with OAUTHBEARER: Kafka's OAuthBearerLoginCallbackHandler reads the
    // signed JWT from the token endpoint URL, here a file:// URL.
    private Properties oauth() {
        Properties p = new Properties();
        p.put("bootstrap.servers", settings.getProperty("sasl.bootstrap"));
        p.put("security.protocol", "SASL_PLAINTEXT");
        p.put("sasl.mechanism", "OAUTHBEARER");
        p.put("sasl.jaas.config", "org.apache.kafka.common.security.oauthbearer.OAuthBearerLoginModule required;");
        p.put("sasl.login.callback.handler.class", "org.apache.kafka.common.security.oauthbearer.OAuthBearerLoginCallbackHandler");
        p.put("sasl.oauthbearer.token.endpoint.url", settings.getProperty("oauth.token.url"));
        return p;
    }

    private static Properties with(Properties base, String... kv) {
        Properties p = new Properties();
        p.putAll(base);
        for (int i = 0; i + 1 < kv.length; i += 2) {
            p.put(kv[i], kv[i + 1]);
        }
        return p;
    }

    private KafkaProducer<String, String> producer(Properties p) {
        return new KafkaProducer<>(p, new StringSerializer(), new StringSerializer());
    }

    private KafkaConsumer<String, String> consumer(Properties p) {
        return new KafkaConsumer<>(with(p, "auto.offset.reset", "earliest"), new StringDeserializer(), new StringDeserializer());
    }

    private Admin admin(Properties p) {
        return Admin.create(with(p, "default.api.timeout.ms", String.valueOf(DEADLINE.toMillis())));
    }

    // createTopic creates topic as the super user admin (an existing one is fine).
    private void createTopic(String topic) throws Exception {
        try (Admin a = admin(sasl("PLAIN", "admin"))) {
            a.createTopics(List.of(new NewTopic(topic, 1, (short) 1))).all().get();
        } catch (ExecutionException e) {
            if (!(e.getCause() instanceof TopicExistsException)) {
                throw e;
            }
        }
    }

    // ---- authentication: a producer and a group consumer with each login ----

    // roundTrip produces ten records with the client settings p (an idempotent producer,
    // the client's default) and reads them back in group with the same settings.
    private String roundTrip(String topic, String group, Properties p) throws Exception {
        createTopic(topic);
        try (KafkaProducer<String, String> prod = producer(p)) {
            List<Future<?>> sends = new ArrayList<>();
            for (int i = 0; i < 10; i++) {
                sends.add(prod.send(new ProducerRecord<>(topic, "v" + i)));
            }
            for (Future<?> f : sends) {
                f.get();
            }
        }
        List<String> got = new ArrayList<>();
        try (KafkaConsumer<String, String> cons = consumer(with(p, "group.id", group))) {
            cons.subscribe(List.of(topic));
            long end = System.nanoTime() + DEADLINE.toNanos();
            while (got.size() < 10 && System.nanoTime() < end) {
                for (ConsumerRecord<String, String> r : cons.poll(Duration.ofMillis(500))) {
                    got.add(r.value());
                }
            }
            cons.commitSync();
        }
        if (got.size() != 10 || !got.get(0).equals("v0") || !got.get(9).equals("v9")) {
            throw new AssertionError("read back " + got + ", want v0..v9");
        }
        return "10 records produced and read in group " + group;
    }

    // ---- ACLs, as alice: acl-allowed READ and WRITE, group acl-group READ, nothing else ----

    // expect waits for f and wants it to fail with want (the error class the client maps the
    // Kafka error code to).
    private static void expect(String what, Class<? extends Throwable> want, KafkaFuture<?> f) throws Exception {
        try {
            f.get();
        } catch (ExecutionException e) {
            if (want.isInstance(e.getCause())) {
                return;
            }
            throw new AssertionError(what + ": " + e.getCause() + ", want " + want.getSimpleName(), e);
        }
        throw new AssertionError(what + " succeeded, want " + want.getSimpleName());
    }

    private String aclProducer() throws Exception {
        try (KafkaProducer<String, String> prod = producer(sasl("PLAIN", "alice"))) {
            prod.send(new ProducerRecord<>("acl-allowed", "a")).get();
            try {
                prod.send(new ProducerRecord<>("acl-denied", "d")).get();
                throw new AssertionError("alice's send to acl-denied succeeded");
            } catch (ExecutionException e) {
                if (!(e.getCause() instanceof TopicAuthorizationException)) {
                    throw new AssertionError("alice's send to acl-denied: " + e.getCause() + ", want TopicAuthorizationException", e);
                }
            }
        }
        return "alice's idempotent producer writes acl-allowed; acl-denied: TopicAuthorizationException";
    }

    // pollUntil polls c until it returns a record (then null) or throws (then the error).
    private static Throwable pollUntil(KafkaConsumer<String, String> c) {
        long end = System.nanoTime() + DEADLINE.toNanos();
        try {
            while (System.nanoTime() < end) {
                if (!c.poll(Duration.ofMillis(500)).isEmpty()) {
                    return null;
                }
            }
        } catch (RuntimeException e) {
            return e;
        }
        return new AssertionError("no record and no error within " + DEADLINE);
    }

    private String aclConsumer() throws Exception {
        Properties alice = sasl("PLAIN", "alice");
        try (KafkaConsumer<String, String> c = consumer(with(alice, "group.id", "acl-group"))) {
            c.subscribe(List.of("acl-allowed"));
            Throwable err = pollUntil(c);
            if (err != null) {
                throw new AssertionError("alice in group acl-group reading acl-allowed: " + err, err);
            }
            c.commitSync();
        }
        try (KafkaConsumer<String, String> c = consumer(with(alice, "group.id", "acl-denied-group"))) {
            c.subscribe(List.of("acl-allowed"));
            Throwable err = pollUntil(c);
            if (!(err instanceof GroupAuthorizationException)) {
                throw new AssertionError("alice in group acl-denied-group: " + err + ", want GroupAuthorizationException", err);
            }
        }
        try (KafkaConsumer<String, String> c = consumer(alice)) {
            c.assign(List.of(new TopicPartition("acl-denied", 0)));
            Throwable err = pollUntil(c);
            if (!(err instanceof TopicAuthorizationException)) {
                throw new AssertionError("alice fetching acl-denied: " + err + ", want TopicAuthorizationException", err);
            }
        }
        return "group acl-group reads and commits; group acl-denied-group: GroupAuthorizationException; fetch of acl-denied: TopicAuthorizationException";
    }

    private String aclAdmin() throws Exception {
        try (Admin a = admin(sasl("PLAIN", "alice"))) {
            // Allowed: what alice's READ and WRITE imply (DESCRIBE).
            a.describeTopics(List.of("acl-allowed")).allTopicNames().get();
            a.describeCluster().nodes().get();
            expect("createTopics", TopicAuthorizationException.class,
                a.createTopics(List.of(new NewTopic("acl-new", 1, (short) 1))).all());
            expect("deleteTopics", TopicAuthorizationException.class, a.deleteTopics(List.of("acl-allowed")).all());
            expect("createPartitions", TopicAuthorizationException.class,
                a.createPartitions(Map.of("acl-allowed", NewPartitions.increaseTo(2))).all());
            expect("deleteRecords", TopicAuthorizationException.class,
                a.deleteRecords(Map.of(new TopicPartition("acl-allowed", 0), RecordsToDelete.beforeOffset(0))).all());
            expect("describeConfigs", TopicAuthorizationException.class,
                a.describeConfigs(List.of(new ConfigResource(ConfigResource.Type.TOPIC, "acl-denied"))).all());
            Map<ConfigResource, Collection<AlterConfigOp>> alter = Map.of(new ConfigResource(ConfigResource.Type.TOPIC, "acl-allowed"),
                List.of(new AlterConfigOp(new ConfigEntry("retention.ms", "3600000"), AlterConfigOp.OpType.SET)));
            expect("incrementalAlterConfigs", TopicAuthorizationException.class, a.incrementalAlterConfigs(alter).all());
            expect("listConsumerGroupOffsets", GroupAuthorizationException.class,
                a.listConsumerGroupOffsets("acl-denied-group").partitionsToOffsetAndMetadata());
            expect("deleteConsumerGroups", GroupAuthorizationException.class, a.deleteConsumerGroups(List.of("acl-group")).all());
            expect("describeAcls", ClusterAuthorizationException.class, a.describeAcls(AclBindingFilter.ANY).values());
            AclBinding grant = new AclBinding(new ResourcePattern(ResourceType.TOPIC, "acl-denied", PatternType.LITERAL),
                new AccessControlEntry("User:alice", "*", AclOperation.ALL, AclPermissionType.ALLOW));
            expect("createAcls", ClusterAuthorizationException.class, a.createAcls(List.of(grant)).all());
            AclBindingFilter any = new AclBindingFilter(ResourcePatternFilter.ANY, AccessControlEntryFilter.ANY);
            expect("deleteAcls", ClusterAuthorizationException.class, a.deleteAcls(List.of(any)).all());
        }
        return "alice describes acl-allowed and the cluster; createTopics, deleteTopics, createPartitions, deleteRecords, describeConfigs, "
            + "incrementalAlterConfigs: TopicAuthorizationException; listConsumerGroupOffsets, deleteConsumerGroups: GroupAuthorizationException; "
            + "describeAcls, createAcls, deleteAcls: ClusterAuthorizationException";
    }

    // ---- quotas: the client ids java-quota-producer and java-quota-consumer have byte rates
    // (set by the Go test) far below what these scenarios move ----

    private static final int QUOTA_RECORDS = 48;

    // metric returns the value of the client's metric name of group (NaN if it has none).
    private static double metric(Map<MetricName, ? extends Metric> metrics, String group, String name) {
        for (Map.Entry<MetricName, ? extends Metric> e : metrics.entrySet()) {
            if (e.getKey().group().equals(group) && e.getKey().name().equals(name)) {
                return ((Number) e.getValue().metricValue()).doubleValue();
            }
        }
        return Double.NaN;
    }

    private String quotaProducer() throws Exception {
        createTopic("quota");
        String value = "q".repeat(4096);
        try (KafkaProducer<String, String> prod = producer(with(sasl("PLAIN", "admin"), "client.id", "java-quota-producer"))) {
            List<Future<?>> sends = new ArrayList<>();
            for (int i = 0; i < QUOTA_RECORDS; i++) {
                sends.add(prod.send(new ProducerRecord<>("quota", value)));
            }
            for (Future<?> f : sends) {
                f.get();
            }
            double max = metric(prod.metrics(), "producer-metrics", "produce-throttle-time-max");
            if (!(max > 0)) {
                throw new AssertionError("produce-throttle-time-max is " + max + " after " + QUOTA_RECORDS + " records of 4 KiB, want > 0");
            }
            return "produce-throttle-time-max " + max + " ms";
        }
    }

    private String quotaConsumer() throws Exception {
        try (KafkaConsumer<String, String> c = consumer(with(sasl("PLAIN", "admin"), "client.id", "java-quota-consumer"))) {
            c.assign(List.of(new TopicPartition("quota", 0)));
            int got = 0;
            long end = System.nanoTime() + DEADLINE.toNanos();
            while (got < QUOTA_RECORDS && System.nanoTime() < end) {
                ConsumerRecords<String, String> rs = c.poll(Duration.ofMillis(500));
                got += rs.count();
            }
            if (got < QUOTA_RECORDS) {
                throw new AssertionError("read " + got + " of " + QUOTA_RECORDS + " records within " + DEADLINE);
            }
            double max = metric(c.metrics(), "consumer-fetch-manager-metrics", "fetch-throttle-time-max");
            if (!(max > 0)) {
                throw new AssertionError("fetch-throttle-time-max is " + max + " after reading " + got + " records of 4 KiB, want > 0");
            }
            return "fetch-throttle-time-max " + max + " ms";
        }
    }
}
