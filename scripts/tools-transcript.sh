#!/usr/bin/env bash
# tools-transcript.sh starts `kafscale dev` on a free loopback port and runs, against it,
# each tool docs/operations.md ("Tools") shows: Apache Kafka's CLI tools (Kafka 4.4.0's
# jars, as tests/kafkacli runs them) and `kafscale topics|groups|cluster`. It prints a
# transcript (each command as typed, then its output) to paste into the docs.
#
#   usage: scripts/tools-transcript.sh [KAFSCALE_BINARY]   (default: build ./cmd/kafscale)
#
# Needs what scripts/test-deps.sh installs (java and Kafka's jars under the cache folder).
set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cache=${XDG_CACHE_HOME:-$HOME/.cache}/kafscale
readonly KAFKA_VERSION=4.4.0 # internal/jvm.KafkaVersion
jars=$cache/jvm/kafka-$KAFKA_VERSION
[[ -d $jars ]] || {
	echo "tools-transcript: $jars is missing: run scripts/test-deps.sh" >&2
	exit 1
}

work=$(mktemp -d)
broker_pid=
cleanup() {
	[[ -n $broker_pid ]] && kill "$broker_pid" 2>/dev/null && wait "$broker_pid" 2>/dev/null
	rm -rf "$work"
}
trap cleanup EXIT

kafscale=${1:-}
if [[ -z $kafscale ]]; then
	kafscale=$work/kafscale
	(cd "$repo" && go build -o "$kafscale" ./cmd/kafscale)
fi

port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
B=127.0.0.1:$port
"$kafscale" dev --listen "$B" --metrics-listen 127.0.0.1:0 --data-dir "$work/data" >"$work/broker.log" 2>&1 &
broker_pid=$!
deadline=$((SECONDS + 60))
until "$kafscale" cluster describe -b "$B" --timeout 2s >/dev/null 2>&1; do
	if ((SECONDS > deadline)) || ! kill -0 "$broker_pid" 2>/dev/null; then
		echo "tools-transcript: kafscale dev did not answer on $B within 60 s:" >&2
		cat "$work/broker.log" >&2
		exit 1
	fi
done

# The main classes behind Kafka's bin/*.sh scripts (internal/jvm names the same).
declare -A main=(
	[kafka-broker-api-versions.sh]=org.apache.kafka.tools.BrokerApiVersionsCommand
	[kafka-topics.sh]=org.apache.kafka.tools.TopicCommand
	[kafka-configs.sh]=org.apache.kafka.tools.ConfigCommand
	[kafka-console-producer.sh]=org.apache.kafka.tools.ConsoleProducer
	[kafka-console-consumer.sh]=org.apache.kafka.tools.consumer.ConsoleConsumer
	[kafka-consumer-groups.sh]=org.apache.kafka.tools.consumer.group.ConsumerGroupCommand
	[kafka-get-offsets.sh]=org.apache.kafka.tools.GetOffsetShell
	[kafka-delete-records.sh]=org.apache.kafka.tools.DeleteRecordsCommand
	[kafka-log-dirs.sh]=org.apache.kafka.tools.LogDirsCommand
	[kafka-producer-perf-test.sh]=org.apache.kafka.tools.ProducerPerformance
	[kafka-consumer-perf-test.sh]=org.apache.kafka.tools.ConsumerPerformance
)

# run prints "$ command" and runs it: a Kafka script name runs its main class on Kafka's
# jars, `kafscale` runs the binary. A failing command ends the transcript with its status.
run() {
	printf '$ %s\n' "$*"
	local name=$1
	shift
	if [[ $name == kafscale ]]; then
		"$kafscale" "$@" 2>&1
	else
		java -cp "$jars/*" -XX:TieredStopAtLevel=1 "${main[$name]}" "$@" 2>&1
	fi
}

# run_in is run with standard input, shown as a here-document.
run_in() {
	local input=$1
	shift
	printf '$ %s <<EOF\n%sEOF\n' "$*" "$input"
	java -cp "$jars/*" -XX:TieredStopAtLevel=1 "${main[$1]}" "${@:2}" <<<"${input%$'\n'}" 2>&1
}

echo "# kafscale dev on $B"
run kafka-broker-api-versions.sh --bootstrap-server "$B" | head -9
echo '... (one line per API)'
run kafka-topics.sh --bootstrap-server "$B" --create --topic orders --partitions 3 --config retention.ms=86400000
run kafka-topics.sh --bootstrap-server "$B" --list
# Headers, key and value are separated by tabs (the reader's defaults).
run_in $'h1:v1\tk1\thello\nh2:v2\tk2\tworld\nh3:v3\tk1\tagain\n' \
	kafka-console-producer.sh --bootstrap-server "$B" --topic orders \
	--reader-property parse.key=true --reader-property parse.headers=true
run kafka-console-consumer.sh --bootstrap-server "$B" --topic orders --group orders-etl --from-beginning --max-messages 3 \
	--formatter-property print.key=true --formatter-property print.headers=true --formatter-property print.partition=true
run kafka-topics.sh --bootstrap-server "$B" --describe --topic orders
run kafka-topics.sh --bootstrap-server "$B" --alter --topic orders --partitions 4
run kafka-configs.sh --bootstrap-server "$B" --entity-type topics --entity-name orders --alter --add-config max.message.bytes=2097152
run kafka-configs.sh --bootstrap-server "$B" --entity-type topics --entity-name orders --describe
run kafka-configs.sh --bootstrap-server "$B" --entity-type brokers --entity-name 0 --describe --all | head -6
echo '... (one line per broker setting)'
run kafka-consumer-groups.sh --bootstrap-server "$B" --list
run kafka-consumer-groups.sh --bootstrap-server "$B" --describe --group orders-etl
run kafka-consumer-groups.sh --bootstrap-server "$B" --reset-offsets --group orders-etl --topic orders --to-earliest --execute
run kafka-get-offsets.sh --bootstrap-server "$B" --topic orders
printf '%s\n' '{"partitions":[{"topic":"orders","partition":0,"offset":1}],"version":1}' >"$work/offsets.json"
echo "\$ cat offsets.json"
cat "$work/offsets.json"
run kafka-delete-records.sh --bootstrap-server "$B" --offset-json-file "$work/offsets.json" | sed "s|$work/||"
run kafka-log-dirs.sh --bootstrap-server "$B" --describe --topic-list orders
run kafka-producer-perf-test.sh --topic perf --num-records 20000 --record-size 100 --throughput -1 \
	--command-property bootstrap.servers="$B" acks=all
run kafka-consumer-perf-test.sh --bootstrap-server "$B" --topic perf --num-records 20000
run kafscale topics list -b "$B"
run kafscale topics describe -b "$B" orders
run kafscale groups list -b "$B"
run kafscale groups describe -b "$B" orders-etl
run kafscale cluster describe -b "$B"
