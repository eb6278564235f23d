#!/usr/bin/env bash
# test.sh runs every check KafScale's CI runs, in order, stopping at the first failure:
#
#   1. scripts/test-deps.sh   install what the tests need (cached; seconds when warm)
#   2. gofmt                  list unformatted files and fail
#   3. staticcheck ./...
#   4. go build               the kafscale binaries the integration tests start, once for
#                             all test packages (with and without the race detector)
#   5. go test -race -vet=all ./...
#                             every package, race detector on, bounded by a timeout; go
#                             vet with all its analyzers runs on every package as part of
#                             it (on the race build's compiled packages, so a fresh
#                             machine does not compile every dependency twice)
#   6. go test -fuzz          each fuzz target of the frame, record-batch and object
#                             decoders (FUZZ_PACKAGES), each for a bounded count
#   7. the librdkafka test tool's module (tests/groups/rdkafka): go vet and staticcheck
#
# It needs no Makefile; `make test` calls it. Extra arguments go to test-deps.sh (for
# example --with-minio).
set -Eeuo pipefail # -E: the ERR trap also fires inside functions

readonly TEST_TIMEOUT=10m # per test binary; packages aim for under a minute each (tests/s3 takes 3-5 min on a loaded machine)
# Fuzzing budgets are counts, not durations: with a duration, Go 1.26's fuzz coordinator
# can fail a target with "context deadline exceeded" when the time runs out on a busy
# machine (go.dev/issue/75804, fixed in Go 1.27); a count has no deadline to race. Each
# package's count gives its targets about 4-10 s each on the CI machine (the footer decoder
# runs ~900 inputs/s, the codec's 7,000-12,000).
readonly FUZZ_PACKAGES=(./codec/:40000x ./segment/:8000x)

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$repo"
export PATH="${XDG_CACHE_HOME:-$HOME/.cache}/kafscale/bin:$PATH"

now_us() { echo "${EPOCHREALTIME/./}"; }
secs() {
	local us=$(($(now_us) - $1))
	printf '%d.%01ds' $((us / 1000000)) $((us % 1000000 / 100000))
}
t_all=$(now_us)
step=setup
timings=()
fail() {
	trap - ERR # report once, not again from each enclosing function
	echo "test.sh: FAIL in step \"$step\" after $(secs "$t_all")" >&2
}
trap fail ERR

# run_step NAME CMD... runs one step and records its time for the summary.
run_step() {
	step=$1
	shift
	echo "=== test.sh: $step"
	local t
	t=$(now_us)
	"$@"
	timings+=("$step $(secs "$t")")
}

check_gofmt() {
	local files
	files=$(find . \( -name .git -o -name node_modules -o -name testdata \) -prune -o -name '*.go' -print0 |
		xargs -0 -r gofmt -l)
	if [[ -n $files ]]; then
		echo "gofmt: these files need gofmt -w:" >&2
		echo "$files" >&2
		return 1
	fi
}

fuzz_targets=0
run_fuzz() {
	local entry pkg budget target targets
	for entry in "${FUZZ_PACKAGES[@]}"; do
		pkg=${entry%%:*}
		budget=${entry#*:}
		if [[ ! -d $pkg ]]; then
			echo "fuzz: no package $pkg, nothing to fuzz there"
			continue
		fi
		targets=$(go test -list '^Fuzz' "$pkg" | grep '^Fuzz' || true)
		for target in $targets; do
			echo "fuzz: $pkg $target for $budget"
			go test -run '^$' -fuzz "^${target}\$" -fuzztime "$budget" "$pkg"
			fuzz_targets=$((fuzz_targets + 1))
		done
	done
}

# build_brokers builds the two kafscale binaries internal/testbroker starts and names them
# in its variables; without them each test package would link its own.
bin_dir=
build_brokers() {
	bin_dir=$(mktemp -d "${TMPDIR:-/tmp}/kafscale-test-bin.XXXXXX")
	go build -race -o "$bin_dir/kafscale-race" ./cmd/kafscale
	go build -o "$bin_dir/kafscale" ./cmd/kafscale
	export TESTBROKER_RACE_BINARY=$bin_dir/kafscale-race TESTBROKER_PLAIN_BINARY=$bin_dir/kafscale
}
cleanup() { [[ -z $bin_dir ]] || rm -rf "$bin_dir"; }
trap cleanup EXIT

# check_tool_module vets the librdkafka test tool, a module of its own (see its main.go);
# the test that runs it builds it.
check_tool_module() {
	(cd tests/groups/rdkafka && go vet ./... && staticcheck ./...)
}

run_step deps bash scripts/test-deps.sh "$@"
run_step gofmt check_gofmt
run_step staticcheck staticcheck ./...
run_step build build_brokers
run_step test go test -race -vet=all -count=1 -timeout "$TEST_TIMEOUT" ./...
run_step fuzz run_fuzz
run_step tool-module check_tool_module

summary=$(printf '%s, ' "${timings[@]}")
summary=${summary%, }
echo "test.sh: PASS in $(secs "$t_all") ($summary; $fuzz_targets fuzz targets)"
