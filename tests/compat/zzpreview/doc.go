// Package compat drives a Kafka broker with real Kafka clients: franz-go, kafka-go, sarama,
// kcat (librdkafka), confluent-kafka for Python and kafkajs. It also sends it hostile raw
// frames. The broker under test comes from startBroker in broker_test.go, the one hook to
// change to point the whole suite at another broker.
//
// The clients outside Go are installed by scripts/test-deps.sh.
package compat
