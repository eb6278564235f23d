package io.kafscale.connecttest;

import java.util.List;
import java.util.Map;

import org.apache.kafka.common.config.ConfigDef;
import org.apache.kafka.connect.connector.Task;
import org.apache.kafka.connect.source.ExactlyOnceSupport;
import org.apache.kafka.connect.source.SourceConnector;

/**
 * Reads the lines appended to a file into a topic, one record per line, and stores the
 * byte position after each line as its source offset: a restarted task resumes there.
 * The behaviour of Kafka's FileStreamSourceConnector, whose connect-file jar Maven Central
 * serves here only up to 4.3.1, which does not load on connect-runtime 4.4.0 (it calls
 * org.apache.kafka.common.utils.AppInfoParser, moved to utils.internals in 4.4).
 */
public class LineSourceConnector extends SourceConnector {
    static final String FILE = "file";
    static final String TOPIC = "topic";
    static final ConfigDef CONFIG = new ConfigDef()
            .define(FILE, ConfigDef.Type.STRING, ConfigDef.Importance.HIGH, "The file to read lines from.")
            .define(TOPIC, ConfigDef.Type.STRING, ConfigDef.Importance.HIGH, "The topic to write them to.");

    private Map<String, String> props;

    @Override
    public String version() {
        return "1";
    }

    @Override
    public void start(Map<String, String> props) {
        CONFIG.parse(props);
        this.props = props;
    }

    @Override
    public Class<? extends Task> taskClass() {
        return LineSourceTask.class;
    }

    @Override
    public List<Map<String, String>> taskConfigs(int maxTasks) {
        return List.of(props);
    }

    @Override
    public void stop() {}

    @Override
    public ConfigDef config() {
        return CONFIG;
    }

    @Override
    public ExactlyOnceSupport exactlyOnceSupport(Map<String, String> props) {
        return ExactlyOnceSupport.UNSUPPORTED;
    }
}
