package io.kafscale.connecttest;

import java.io.IOException;
import java.io.RandomAccessFile;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

import org.apache.kafka.connect.data.Schema;
import org.apache.kafka.connect.errors.ConnectException;
import org.apache.kafka.connect.source.SourceRecord;
import org.apache.kafka.connect.source.SourceTask;

/** The task of LineSourceConnector: polls the file for complete lines past its offset. */
public class LineSourceTask extends SourceTask {
    private static final int MAX_LINES = 100;
    private static final String POSITION = "position";

    private String file;
    private String topic;
    private Map<String, String> partition;
    private long position;

    @Override
    public String version() {
        return "1";
    }

    @Override
    public void start(Map<String, String> props) {
        file = props.get(LineSourceConnector.FILE);
        topic = props.get(LineSourceConnector.TOPIC);
        partition = Map.of("filename", file);
        Map<String, Object> stored = context.offsetStorageReader().offset(partition);
        if (stored != null && stored.get(POSITION) instanceof Long p) {
            position = p;
        }
    }

    @Override
    public List<SourceRecord> poll() throws InterruptedException {
        List<SourceRecord> records = new ArrayList<>();
        if (Files.exists(Path.of(file))) {
            try (RandomAccessFile f = new RandomAccessFile(file, "r")) {
                f.seek(position);
                byte[] buf = new byte[64 << 10];
                int n = f.read(buf);
                int start = 0;
                for (int i = 0; i < n && records.size() < MAX_LINES; i++) {
                    if (buf[i] != '\n') {
                        continue;
                    }
                    String line = new String(buf, start, i - start, StandardCharsets.UTF_8);
                    long next = position + i + 1;
                    records.add(new SourceRecord(partition, Map.of(POSITION, next), topic, null,
                            null, null, Schema.STRING_SCHEMA, line, System.currentTimeMillis()));
                    start = i + 1;
                }
                position += start;
            } catch (IOException e) {
                throw new ConnectException("cannot read " + file, e);
            }
        }
        if (records.isEmpty()) {
            Thread.sleep(100); // nothing new: poll again soon, as FileStreamSourceTask waits
            return null;
        }
        return records;
    }

    @Override
    public void stop() {}
}
