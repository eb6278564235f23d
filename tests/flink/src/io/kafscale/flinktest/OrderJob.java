package io.kafscale.flinktest;

import java.nio.charset.StandardCharsets;
import java.util.HashMap;
import java.util.Locale;
import java.util.Map;

import org.apache.flink.api.common.eventtime.WatermarkStrategy;
import org.apache.flink.api.common.functions.MapFunction;
import org.apache.flink.api.common.serialization.SimpleStringSchema;
import org.apache.flink.configuration.Configuration;
import org.apache.flink.connector.base.DeliveryGuarantee;
import org.apache.flink.connector.kafka.sink.HeaderProvider;
import org.apache.flink.connector.kafka.sink.KafkaRecordSerializationSchema;
import org.apache.flink.connector.kafka.sink.KafkaSink;
import org.apache.flink.connector.kafka.sink.KafkaSinkBuilder;
import org.apache.flink.connector.kafka.source.KafkaSource;
import org.apache.flink.connector.kafka.source.enumerator.initializer.OffsetsInitializer;
import org.apache.flink.core.execution.JobClient;
import org.apache.flink.streaming.api.datastream.DataStream;
import org.apache.flink.streaming.api.environment.StreamExecutionEnvironment;
import org.apache.kafka.common.header.Headers;
import org.apache.kafka.common.header.internals.RecordHeaders;

/**
 * The user guide's Flink job (KafkaSource -> map -> KafkaSink, at least once) on a local
 * mini cluster, with checkpoints every 500 ms retained in a folder of the test's. The
 * guide's producer line {@code enable.idempotence=false} is left out: the sink's producer
 * runs with the Kafka client's defaults.
 *
 * <p>Usage: OrderJob BOOTSTRAP INPUT OUTPUT GROUP CHECKPOINT_DIR TMP_DIR RUN GUARANTEE [RESTORE_PATH]
 *
 * <p>GUARANTEE is the sink's delivery guarantee: AT_LEAST_ONCE, as the guide's job, or
 * EXACTLY_ONCE, which needs transactions (KafScale refuses them: the job must fail).
 *
 * <p>Each output record carries a header {@code flink-run: RUN}, so that the test can tell
 * which run wrote it: a record both runs wrote is one the restarted job emitted again.
 *
 * <p>It prints {@code JOB <id>} once the job is submitted, then runs until killed (the
 * test stops it with SIGKILL). RESTORE_PATH, a retained checkpoint (chk-N folder), is
 * restored through execution.state-recovery.path, as {@code flink run -s} does. Any
 * failure ends the job (no restart strategy): the test must see it, not a silent retry.
 * It prints {@code FAILED <cause>} and exits with 1.
 */
public final class OrderJob {
    private OrderJob() {}

    /** The map step: what the test expects to find in the output topic for each order. */
    static final class ProcessOrder implements MapFunction<String, String> {
        private static final long serialVersionUID = 1L;

        @Override
        public String map(String order) {
            return "processed:" + order.toUpperCase(Locale.ROOT);
        }
    }

    /** Names the run that wrote each output record (header flink-run). */
    static final class RunHeader implements HeaderProvider<String> {
        private static final long serialVersionUID = 1L;
        private final String run;

        RunHeader(String run) {
            this.run = run;
        }

        @Override
        public Headers getHeaders(String value) {
            return new RecordHeaders().add("flink-run", run.getBytes(StandardCharsets.UTF_8));
        }
    }

    public static void main(String[] args) throws Exception {
        if (args.length != 8 && args.length != 9) {
            System.err.println("usage: OrderJob BOOTSTRAP INPUT OUTPUT GROUP CHECKPOINT_DIR TMP_DIR RUN GUARANTEE [RESTORE_PATH]");
            System.exit(2);
        }
        String bootstrap = args[0], input = args[1], output = args[2], group = args[3];
        String checkpoints = args[4], tmp = args[5], run = args[6];
        DeliveryGuarantee guarantee = DeliveryGuarantee.valueOf(args[7]);

        // Set as users set them in Flink's config.yaml.
        Map<String, String> settings = new HashMap<>();
        settings.put("execution.checkpointing.interval", "500ms");
        settings.put("execution.checkpointing.storage", "filesystem");
        settings.put("execution.checkpointing.dir", "file://" + checkpoints);
        settings.put("execution.checkpointing.externalized-checkpoint-retention", "RETAIN_ON_CANCELLATION");
        settings.put("execution.checkpointing.num-retained", "3");
        settings.put("restart-strategy.type", "none");
        settings.put("parallelism.default", "2");
        // The mini cluster's RPC system, blobs and local state unpack into this folder
        // rather than /tmp, which a SIGKILL would leave behind.
        settings.put("io.tmp.dirs", tmp);
        if (args.length == 9) {
            settings.put("execution.state-recovery.path", args[8]);
        }
        StreamExecutionEnvironment env =
                StreamExecutionEnvironment.getExecutionEnvironment(Configuration.fromMap(settings));

        KafkaSource<String> source = KafkaSource.<String>builder()
                .setBootstrapServers(bootstrap)
                .setTopics(input)
                .setGroupId(group)
                .setStartingOffsets(OffsetsInitializer.earliest())
                .setValueOnlyDeserializer(new SimpleStringSchema())
                .build();
        DataStream<String> stream = env.fromSource(source, WatermarkStrategy.noWatermarks(), "KafScale Source");

        KafkaSinkBuilder<String> sink = KafkaSink.<String>builder()
                .setBootstrapServers(bootstrap)
                .setRecordSerializer(KafkaRecordSerializationSchema.builder()
                        .setTopic(output)
                        .setValueSerializationSchema(new SimpleStringSchema())
                        .setHeaderProvider(new RunHeader(run))
                        .build())
                .setDeliveryGuarantee(guarantee);
        if (guarantee == DeliveryGuarantee.EXACTLY_ONCE) {
            sink.setTransactionalIdPrefix("orders-" + run);
        }
        stream.map(new ProcessOrder()).name("Process Order").sinkTo(sink.build()).name("KafScale Sink");

        JobClient job = env.executeAsync("Order Processing");
        System.out.println("JOB " + job.getJobID());
        System.out.flush();
        try {
            job.getJobExecutionResult().get();
            System.out.println("FAILED the job finished, but its source is unbounded");
        } catch (Exception e) {
            Throwable cause = e;
            while (cause.getCause() != null) {
                cause = cause.getCause();
            }
            System.out.println("FAILED " + cause);
            e.printStackTrace();
        }
        System.out.flush();
        System.exit(1);
    }
}
