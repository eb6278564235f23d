package io.kafscale.jvmtest.spring;

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;

import org.apache.kafka.clients.admin.NewTopic;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.springframework.boot.ApplicationArguments;
import org.springframework.boot.ApplicationRunner;
import org.springframework.boot.SpringApplication;
import org.springframework.boot.autoconfigure.SpringBootApplication;
import org.springframework.context.ConfigurableApplicationContext;
import org.springframework.context.annotation.Bean;
import org.springframework.kafka.annotation.KafkaListener;
import org.springframework.kafka.config.TopicBuilder;
import org.springframework.kafka.core.KafkaTemplate;
import org.springframework.kafka.support.SendResult;
import org.springframework.stereotype.Component;

/**
 * A Spring Boot application as the user guide configures it (application.yml): a
 * KafkaTemplate sends {@value #RECORDS} records to topic "orders" (which KafkaAdmin
 * creates from the NewTopic bean) and a @KafkaListener in group orders-consumer receives
 * them. Usage:
 *
 * <pre>
 *   OrdersApplication --spring.kafka.bootstrap-servers=&lt;bootstrap&gt;
 * </pre>
 *
 * It prints "SENT partition offset key value" for each acknowledged send, "RECEIVED
 * partition offset key value" for each record the listener gets, then "PASS spring: ..."
 * once every record arrived, or "FAIL spring: why" after its deadline, and exits (status 1
 * on failure). The test checks the lines itself too.
 */
@SpringBootApplication
public class OrdersApplication {
    static final String TOPIC = "orders";
    static final int PARTITIONS = 3;
    static final int RECORDS = 300;
    static final int KEYS = 10;
    static final long DEADLINE_SECONDS = 60;

    public static void main(String[] args) {
        int status = 1;
        try (ConfigurableApplicationContext ctx = SpringApplication.run(OrdersApplication.class, args)) {
            status = ctx.getBean(Orders.class).failed ? 1 : 0;
        } catch (Throwable e) {
            System.out.printf("FAIL spring: %s%n", e.toString().replace('\n', ' '));
            e.printStackTrace();
        }
        System.out.flush();
        System.exit(status);
    }

    /** The topic, created by Spring's KafkaAdmin when the context starts. */
    @Bean
    NewTopic orders() {
        return TopicBuilder.name(TOPIC).partitions(PARTITIONS).replicas(1).build();
    }

    /** Sends the records, waits for the listener to receive them, and reports. */
    @Component
    static class Orders implements ApplicationRunner {
        private final KafkaTemplate<String, String> template;
        private final CountDownLatch received = new CountDownLatch(RECORDS);
        volatile boolean failed;

        Orders(KafkaTemplate<String, String> template) {
            this.template = template;
        }

        @KafkaListener(topics = TOPIC)
        void listen(ConsumerRecord<String, String> r) {
            System.out.printf("RECEIVED %d %d %s %s%n", r.partition(), r.offset(), r.key(), r.value());
            received.countDown();
        }

        @Override
        public void run(ApplicationArguments args) throws Exception {
            long start = System.nanoTime();
            List<CompletableFuture<SendResult<String, String>>> sends = new ArrayList<>();
            for (int i = 0; i < RECORDS; i++) {
                sends.add(template.send(TOPIC, "key-" + (i % KEYS), Integer.toString(i)));
            }
            for (CompletableFuture<SendResult<String, String>> f : sends) {
                SendResult<String, String> r = f.get(DEADLINE_SECONDS, TimeUnit.SECONDS);
                System.out.printf("SENT %d %d %s %s%n", r.getRecordMetadata().partition(), r.getRecordMetadata().offset(),
                        r.getProducerRecord().key(), r.getProducerRecord().value());
            }
            if (received.await(DEADLINE_SECONDS, TimeUnit.SECONDS)) {
                System.out.printf("PASS spring: %d records sent with KafkaTemplate and received by @KafkaListener (%d ms)%n",
                        RECORDS, (System.nanoTime() - start) / 1_000_000);
            } else {
                failed = true;
                System.out.printf("FAIL spring: the listener received %d of %d records within %d s%n",
                        RECORDS - received.getCount(), RECORDS, DEADLINE_SECONDS);
            }
            System.out.flush();
        }
    }
}
