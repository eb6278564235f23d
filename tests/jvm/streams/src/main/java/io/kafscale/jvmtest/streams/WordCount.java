package io.kafscale.jvmtest.streams;

import java.time.Duration;
import java.util.Arrays;
import java.util.Locale;
import java.util.Properties;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.atomic.AtomicReference;

import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.serialization.Serdes;
import org.apache.kafka.streams.CloseOptions;
import org.apache.kafka.streams.KafkaStreams;
import org.apache.kafka.streams.StreamsBuilder;
import org.apache.kafka.streams.StreamsConfig;
import org.apache.kafka.streams.errors.StreamsUncaughtExceptionHandler.StreamThreadExceptionResponse;
import org.apache.kafka.streams.kstream.Materialized;
import org.apache.kafka.streams.kstream.Produced;
import org.apache.kafka.streams.processor.StateRestoreListener;

/**
 * Kafka Streams' word count: lines from the input topic are split into words
 * (flatMapValues), grouped by word (groupBy: a repartition topic) and counted (count: a
 * state store named "counts" with its changelog topic); each new count goes to the output
 * topic as word -> count (a long). Usage:
 *
 * <pre>
 *   WordCount &lt;bootstrap&gt; &lt;application-id&gt; &lt;state-dir&gt; &lt;processing.guarantee&gt; &lt;input&gt; &lt;output&gt; [&lt;property&gt;=&lt;value&gt;...]
 * </pre>
 *
 * The trailing arguments are further Streams properties, such as group.instance.id.
 *
 * It runs until SIGTERM, whose shutdown hook closes the application cleanly (committing
 * and leaving the group), or until the application fails. It prints "STATE s" on each
 * state change, "RESTORED store partition n" when a state store partition was restored
 * from its changelog, "CLOSED" after a clean close, and "ERROR class: message" for each
 * exception of the chain that stopped it (then exits with status 1).
 */
public final class WordCount {
    public static void main(String[] args) throws Exception {
        if (args.length < 6) {
            System.err.println("usage: WordCount <bootstrap> <application-id> <state-dir> <processing.guarantee> <input> <output> [<property>=<value>...]");
            System.exit(2);
        }
        Properties props = new Properties();
        props.put(StreamsConfig.BOOTSTRAP_SERVERS_CONFIG, args[0]);
        props.put(StreamsConfig.APPLICATION_ID_CONFIG, args[1]);
        props.put(StreamsConfig.STATE_DIR_CONFIG, args[2]);
        props.put(StreamsConfig.PROCESSING_GUARANTEE_CONFIG, args[3]);
        props.put(StreamsConfig.DEFAULT_KEY_SERDE_CLASS_CONFIG, Serdes.StringSerde.class);
        props.put(StreamsConfig.DEFAULT_VALUE_SERDE_CLASS_CONFIG, Serdes.StringSerde.class);
        // Under at_least_once the default is 30 s: counts reach the output (and the
        // changelog) at each commit, and the test should not wait that long for them.
        props.put(StreamsConfig.COMMIT_INTERVAL_MS_CONFIG, 500);
        for (int i = 6; i < args.length; i++) {
            String[] kv = args[i].split("=", 2);
            if (kv.length != 2) {
                System.err.println("not a property=value: " + args[i]);
                System.exit(2);
            }
            props.put(kv[0], kv[1]);
        }

        StreamsBuilder builder = new StreamsBuilder();
        builder.<String, String>stream(args[4])
                .flatMapValues(line -> Arrays.asList(line.toLowerCase(Locale.ROOT).split("\\W+")))
                .filter((key, word) -> !word.isEmpty())
                .groupBy((key, word) -> word)
                .count(Materialized.as("counts"))
                .toStream()
                .to(args[5], Produced.with(Serdes.String(), Serdes.Long()));

        KafkaStreams streams = new KafkaStreams(builder.build(), props);
        CountDownLatch stopped = new CountDownLatch(1);
        AtomicReference<Throwable> failure = new AtomicReference<>();
        streams.setStateListener((now, before) -> {
            System.out.println("STATE " + now);
            if (now == KafkaStreams.State.ERROR || now == KafkaStreams.State.NOT_RUNNING) {
                stopped.countDown();
            }
        });
        streams.setUncaughtExceptionHandler(e -> {
            failure.compareAndSet(null, e);
            return StreamThreadExceptionResponse.SHUTDOWN_CLIENT;
        });
        streams.setGlobalStateRestoreListener(new StateRestoreListener() {
            @Override
            public void onRestoreStart(TopicPartition tp, String store, long start, long end) {
            }

            @Override
            public void onBatchRestored(TopicPartition tp, String store, long batchEnd, long n) {
            }

            @Override
            public void onRestoreEnd(TopicPartition tp, String store, long total) {
                System.out.printf("RESTORED %s %d %d%n", store, tp.partition(), total);
            }
        });
        Thread hook = new Thread(() -> {
            boolean clean = streams.close(CloseOptions.groupMembershipOperation(CloseOptions.GroupMembershipOperation.LEAVE_GROUP)
                    .withTimeout(Duration.ofSeconds(30)));
            System.out.println(clean ? "CLOSED" : "CLOSE TIMED OUT");
            System.out.flush();
        });
        Runtime.getRuntime().addShutdownHook(hook);

        try {
            streams.start();
        } catch (RuntimeException e) {
            failure.compareAndSet(null, e);
        }
        if (failure.get() == null) {
            stopped.await();
        }
        if (failure.get() == null) {
            return; // closed by the shutdown hook, which ends the JVM
        }
        Runtime.getRuntime().removeShutdownHook(hook);
        streams.close(Duration.ofSeconds(10));
        for (Throwable e = failure.get(); e != null; e = e.getCause()) {
            System.out.printf("ERROR %s: %s%n", e.getClass().getName(), String.valueOf(e.getMessage()).replace('\n', ' '));
        }
        failure.get().printStackTrace();
        System.out.flush();
        System.exit(1);
    }
}
