#!/usr/bin/env bash
# test.sh runs every check KafScale's CI runs, in order, stopping at the first failure:
#
#   1. scripts/test-deps.sh   install what the tests need (cached; seconds when warm); MinIO
#                             builds in the background until step 5b needs it
#   2. gofmt                  list unformatted files and fail
#   3. go vet ./...
#   4. staticcheck ./...
#   5. go test -race ./...    every package, race detector on, bounded by a timeout: (a) the
#                             packages that do not start MinIO, (b) those that do
#   6. go test -fuzz          each fuzz target of the frame, record-batch and object
#                             decoders (FUZZ_PACKAGES), each for a bounded count
#
# It needs no Makefile; `make test` calls it. Extra arguments go to test-deps.sh (for
# example --with-minio).
set -Eeuo pipefail # -E: the ERR trap also fires inside functions

readonly TEST_TIMEOUT=5m # per test binary; packages aim for under a minute each
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

# MinIO takes minutes to build on a fresh machine (seconds to skip once cached), so it builds
# in the background while the checks and the test packages that do not use it run; the
# packages that start MinIO (those importing internal/testinfra) run after it is there.
minio_log=$(mktemp)
minio_pid=
start_minio_build() {
	bash scripts/test-deps.sh --only-minio "$@" >"$minio_log" 2>&1 &
	minio_pid=$!
}
wait_minio_build() {
	local rc=0
	wait "$minio_pid" || rc=$?
	minio_pid=
	cat "$minio_log"
	return "$rc"
}
stop_minio_build() {
	if [[ -n $minio_pid ]]; then
		kill "$minio_pid" 2>/dev/null || true
	fi
	rm -f "$minio_log"
}
trap stop_minio_build EXIT

# split_packages fills minio_pkgs (packages that import internal/testinfra, in their code or
# their tests) and other_pkgs (the rest).
minio_pkgs=()
other_pkgs=()
split_packages() {
	local line
	while read -r line; do
		if [[ " $line " == *" $module/internal/testinfra "* ]]; then
			minio_pkgs+=("${line%% *}")
		else
			other_pkgs+=("${line%% *}")
		fi
	done < <(go list -f '{{.ImportPath}}{{range .Imports}} {{.}}{{end}}{{range .TestImports}} {{.}}{{end}}{{range .XTestImports}} {{.}}{{end}}' ./...)
}
module=$(go list -m)

run_step deps bash scripts/test-deps.sh --skip-minio "$@"
start_minio_build "$@"
run_step gofmt check_gofmt
run_step vet go vet ./...
run_step staticcheck staticcheck ./...
split_packages
run_step test go test -race -count=1 -timeout "$TEST_TIMEOUT" "${other_pkgs[@]}"
run_step minio wait_minio_build
run_step test-minio go test -race -count=1 -timeout "$TEST_TIMEOUT" "${minio_pkgs[@]}"
run_step fuzz run_fuzz

summary=$(printf '%s, ' "${timings[@]}")
summary=${summary%, }
echo "test.sh: PASS in $(secs "$t_all") ($summary; $fuzz_targets fuzz targets)"
