package jvm

import (
	"os/exec"
	"path/filepath"
	"testing"
)

// KafkaVersion is the Apache Kafka whose broker and tools the tests run
// (tests/jvm/kafka/pom.xml; scripts/test-deps.sh installs the same).
const KafkaVersion = "4.4.0"

// kafkaTools are the main classes behind Apache Kafka's bin/kafka-*.sh scripts.
var kafkaTools = map[string]string{
	"kafka-acls":                "org.apache.kafka.tools.AclCommand",
	"kafka-broker-api-versions": "org.apache.kafka.tools.BrokerApiVersionsCommand",
	"kafka-configs":             "org.apache.kafka.tools.ConfigCommand",
	"kafka-console-consumer":    "org.apache.kafka.tools.consumer.ConsoleConsumer",
	"kafka-console-producer":    "org.apache.kafka.tools.ConsoleProducer",
	"kafka-consumer-groups":     "org.apache.kafka.tools.consumer.group.ConsumerGroupCommand",
	"kafka-consumer-perf-test":  "org.apache.kafka.tools.ConsumerPerformance",
	"kafka-delete-records":      "org.apache.kafka.tools.DeleteRecordsCommand",
	"kafka-get-offsets":         "org.apache.kafka.tools.GetOffsetShell",
	"kafka-leader-election":     "org.apache.kafka.tools.LeaderElectionCommand",
	"kafka-log-dirs":            "org.apache.kafka.tools.LogDirsCommand",
	"kafka-producer-perf-test":  "org.apache.kafka.tools.ProducerPerformance",
	"kafka-reassign-partitions": "org.apache.kafka.tools.reassign.ReassignPartitionsCommand",
	"kafka-server-start":        "kafka.Kafka",
	"kafka-storage":             "kafka.tools.StorageTool",
	"kafka-topics":              "org.apache.kafka.tools.TopicCommand",
}

// KafkaClasspath returns the class path of Apache Kafka's jars (broker and tools).
func KafkaClasspath(t testing.TB) string {
	t.Helper()
	return filepath.Join(Deps(t, "kafka-"+KafkaVersion), "*")
}

// KafkaCommand returns the command that runs Apache Kafka's tool (named as its bin/ script
// without .sh, such as "kafka-topics") with args, as the script would: the tool's main
// class on Kafka's jars, logging errors only.
func KafkaCommand(t testing.TB, tool string, args ...string) *exec.Cmd {
	t.Helper()
	return KafkaCommandJVM(t, nil, tool, args...)
}

// KafkaCommandJVM is KafkaCommand with extra JVM flags (such as -Xmx512m or
// -Dlog4j2.configurationFile=...), placed after the defaults so that they override them.
func KafkaCommandJVM(t testing.TB, jvmFlags []string, tool string, args ...string) *exec.Cmd {
	t.Helper()
	main, ok := kafkaTools[tool]
	if !ok {
		t.Fatalf("jvm: unknown Kafka tool %s", tool)
	}
	jargs := []string{"-cp", KafkaClasspath(t)}
	if tool != "kafka-server-start" {
		// A tool runs for a second or two: the quick compiler alone starts it sooner. The
		// broker gets the JVM's defaults, as bin/kafka-server-start.sh gives it.
		jargs = append(jargs, "-XX:TieredStopAtLevel=1")
	}
	jargs = append(append(append(jargs, jvmFlags...), main), args...)
	return exec.Command(Tool(t, "java"), jargs...)
}
