#!/usr/bin/env bash
# test-deps.sh installs what KafScale's tests need and skips whatever is already there, so
# that a second run takes seconds. Meant for a fresh Debian 12 machine, as root (or with
# sudo); see ../shared/TESTING.md for where each part comes from.
#
#   Debian packages  kcat librdkafka-dev python3-confluent-kafka prometheus (promtool, and the server tests/metrics runs),
#                    gcc libc6-dev (cgo, for the librdkafka test tool in tests/groups/rdkafka),
#                    postgresql (tests/connect), buildah (tests/deploy builds the image),
#                    and nodejs npm if node is missing;
#                    apt-get update runs only when a package is missing
#   npm              kafkajs 2.2.4 into tests/compat/kafkajs/node_modules (npm ci, from
#                    the committed package-lock.json)
#   Go               the module's dependencies, and staticcheck
#   etcd             etcd and etcdctl server binaries (~1.5 min to build once), for the tests
#                    that run `kafscale broker` on a real etcd server (internal/testinfra)
#   MinIO            the MinIO server (~5 min to build once on 2 cores), for the S3 tests
#   kube-apiserver   Kubernetes' API server (~10 min to build once on 2 cores), which with
#                    the etcd above is what the operator's envtest tests run against
#                    (KUBEBUILDER_ASSETS=bin/)
#   helm             Helm, to lint and render the operator's chart (built with kube-apiserver
#                    in one module, ~7 min for both)
#   Maven Central    the jars of the Java test programs (tests/jvm): kafka-clients at each
#                    version of KAFKA_CLIENT_VERSIONS with their dependencies, copied into
#                    jvm/clients-<version>/, and Apache Kafka KAFKA_VERSION (the broker and
#                    its command line tools, 91 jars, 54 MB) into jvm/kafka-<version>/
#                    (Maven's own repository is m2/), and Flink FLINK_VERSION with its Kafka
#                    connector into jvm/flink-<version>/ (tests/flink); needs java, javac and mvn (Debian:
#                    openjdk-17-jdk-headless maven if missing)
#   PyPI             confluent-kafka, kafka-python and aiokafka in a venv (tests/pyclients)
#
# Maven Central and PyPI run in the background while the Go tools compile. The Go tools
# are built without cgo, stripped, and without DWARF, as their releases are.
#
# --with-etcd and --with-minio are accepted and ignored (both are always installed now).
#
# Downloads and binaries are cached under ${XDG_CACHE_HOME:-$HOME/.cache}/kafscale; the
# binaries land in its bin/ directory, which scripts/test.sh puts first on PATH.
set -euo pipefail

readonly STATICCHECK_VERSION=v0.8.2 # staticcheck 2026.2.2
readonly KAFKAJS_VERSION=2.2.4      # must match tests/compat/kafkajs/package-lock.json
readonly ETCD_VERSION=v3.5.35
readonly KUBE_VERSION=v1.37.2 # k8s.io/kubernetes; its staging modules at v0.37.2
readonly HELM_VERSION=v4.3.2
readonly MINIO_VERSION=v0.0.0-20260212201848-7aac2a2c5b7c # newest on the Go proxy, 2026-02
readonly APT_PACKAGES=(kcat librdkafka-dev python3-confluent-kafka prometheus gcc libc6-dev postgresql buildah)
# The newest 4.x kafka-clients Maven Central serves and the last 3.x; tests/jvm lists the
# same versions.
readonly KAFKA_CLIENT_VERSIONS=(4.4.0 3.9.2)
# Apache Kafka itself (tests/jvm/kafka/pom.xml): the broker as an oracle and benchmark
# target, and its CLI tools; internal/jvm names the same version.
readonly KAFKA_VERSION=4.4.0

usage() {
	sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'
	echo "usage: $0"
}

for arg in "$@"; do
	case $arg in
	--with-etcd | --with-minio) ;; # kept so older callers still work
	-h | --help)
		usage
		exit 0
		;;
	*)
		echo "test-deps: unknown flag $arg" >&2
		usage >&2
		exit 2
		;;
	esac
done

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cache=${XDG_CACHE_HOME:-$HOME/.cache}/kafscale
bin=$cache/bin
stamps=$cache/stamps
mkdir -p "$bin" "$stamps"

# installed_file lists what this run installed, one name per line; a file rather than an
# array because the Maven and PyPI part runs in a background subshell (see below).
installed_file=$(mktemp)
bg_log=$(mktemp)
bg_pid=
# On a failure, the background Maven and PyPI part (below) is stopped rather than left
# running. (Each command guarded: under set -e a failing command in an EXIT trap would
# end the script with status 1 after a success.)
cleanup() {
	if [[ -n $bg_pid ]]; then kill "$bg_pid" 2>/dev/null || true; fi
	rm -f "$installed_file" "$bg_log" || true
}
trap cleanup EXIT
now_us() { echo "${EPOCHREALTIME/./}"; }
t_all=$(now_us)
t_step=0
begin() {
	t_step=$(now_us)
	echo "test-deps: $*"
}
# done_step NAME records NAME as installed and prints how long its step took.
done_step() {
	echo "$1" >>"$installed_file"
	local us=$(($(now_us) - t_step))
	printf 'test-deps: installed %s in %d.%01ds\n' "$1" $((us / 1000000)) $((us % 1000000 / 100000))
}
skip() { echo "test-deps: $1 present, skipping"; }

# The Go tools (staticcheck, etcd, MinIO, kube-apiserver, helm) are the bulk of a fresh
# machine's install time (about 20 of its 23 minutes, all compiling, on 2 cores). They are
# built as their projects' releases are, without cgo and stripped, and without the
# compiler's DWARF output that stripping would throw away: less to compile and link.
readonly TOOL_LDFLAGS="-s -w"
tool_build() { CGO_ENABLED=0 go build -trimpath -gcflags=all=-dwarf=false "$@"; }

# stamped NAME VERSION BINARY... is true if every BINARY exists and NAME was last
# installed at VERSION (go-installed binaries cannot always tell their own version).
stamped() {
	local name=$1 version=$2
	shift 2
	[[ -f $stamps/$name && $(<"$stamps/$name") == "$version" ]] || return 1
	local b
	for b in "$@"; do [[ -x $b ]] || return 1; done
}
stamp() { echo "$2" >"$stamps/$1"; }

sudo=()
if [[ $EUID -ne 0 ]]; then
	if command -v sudo >/dev/null; then
		sudo=(sudo)
	fi
fi

command -v go >/dev/null || {
	echo "test-deps: go is not on PATH; install Go $(sed -n 's/^go //p' "$repo/go.mod") first" >&2
	exit 1
}

# --- Debian packages -----------------------------------------------------------------
missing=()
for p in "${APT_PACKAGES[@]}"; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
command -v node >/dev/null || missing+=(nodejs)
command -v npm >/dev/null || missing+=(npm)
command -v javac >/dev/null || missing+=(openjdk-17-jdk-headless)
command -v mvn >/dev/null || missing+=(maven)
if ((${#missing[@]} > 0)); then
	begin "apt-get install ${missing[*]}"
	command -v apt-get >/dev/null || {
		echo "test-deps: no apt-get; install ${missing[*]} by hand" >&2
		exit 1
	}
	"${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update -q
	"${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${missing[@]}"
	done_step "${missing[*]}"
else
	skip "${APT_PACKAGES[*]} node npm"
fi

# --- kafkajs -------------------------------------------------------------------------
kafkajs_dir=$repo/tests/compat/kafkajs
kafkajs_pkg=$kafkajs_dir/node_modules/kafkajs/package.json
if [[ -f $kafkajs_pkg ]] && grep -q "\"version\": \"$KAFKAJS_VERSION\"" "$kafkajs_pkg"; then
	skip "kafkajs $KAFKAJS_VERSION"
else
	begin "npm ci (kafkajs $KAFKAJS_VERSION) in tests/compat/kafkajs"
	(cd "$kafkajs_dir" && npm ci --cache "$cache/npm" --prefer-offline --no-audit --no-fund --loglevel=error)
	done_step "kafkajs $KAFKAJS_VERSION"
fi

# --- Maven Central and PyPI, in the background -----------------------------------------
# install_jvm_and_python downloads the JVM test programs' jars and the Python clients. It
# is mostly waiting on the network and on JVM start-ups, so it runs in a background
# subshell while the Go tools compile (which keep both cores busy); its output is printed
# when it ends, and a failure fails this script there.
install_jvm_and_python() {
	# --- Maven Central: the Java test programs' jars ---------------------------------------
	# Maven resolves them (into $cache/m2) and copies each set into its own folder, which the
	# Go tests compile and run the programs against (internal/jvm).
	# jvm_jars NAME POM VERSION ARTIFACT [PROPERTY] copies POM's dependencies at
	# -DPROPERTY=VERSION (kafka.version unless given) into $cache/jvm/NAME-VERSION unless
	# they are there for this POM already.
	jvm_jars() {
		local name=$1 pom=$2 v=$3 artifact=$4 property=${5:-kafka.version}
		local dir=$cache/jvm/$name-$v key
		key="$v $(sha256sum "$pom" | cut -c1-16)"
		if [[ -f $dir/$artifact-$v.jar ]] && stamped "jvm-$name-$v" "$key"; then
			skip "$name $v jars"
			return
		fi
		begin "mvn dependency:copy-dependencies ($name $v)"
		rm -rf "$dir"
		mvn -q -B -Dstyle.color=never -Dmaven.repo.local="$cache/m2" -f "$pom" -D"$property=$v" \
			dependency:copy-dependencies -DincludeScope=runtime -DoutputDirectory="$dir"
		stamp "jvm-$name-$v" "$key"
		done_step "$name $v jars"
	}
	for v in "${KAFKA_CLIENT_VERSIONS[@]}"; do
		jvm_jars clients "$repo/tests/jvm/clients/pom.xml" "$v" kafka-clients
	done
	jvm_jars kafka "$repo/tests/jvm/kafka/pom.xml" "$KAFKA_VERSION" kafka_2.13
	# Spring Boot 4.0.7 with spring-kafka (tests/jvm/spring/pom.xml), at the kafka-clients
	# version that Spring Boot manages, and Kafka Streams at the newest kafka-clients tested
	# (tests/jvm/streams/pom.xml).
	jvm_jars spring "$repo/tests/jvm/spring/pom.xml" 4.1.2 kafka-clients
	jvm_jars streams "$repo/tests/jvm/streams/pom.xml" "${KAFKA_CLIENT_VERSIONS[0]}" kafka-streams

	# --- Kafka Connect and Debezium for tests/connect (issue 15, acceptance 4) -------------
	# The distributed worker (connect-runtime), the file connectors and the Debezium
	# PostgreSQL connector (tests/connect/pom.xml) into jvm/connect-<version>/, for each
	# Connect version tests/connect runs: Kafka's newest and the 4.3 that Debezium is built
	# against. The PostgreSQL server comes from Debian (postgresql, in APT_PACKAGES); as root
	# the test runs it as the package's postgres user, which must therefore exist.
	readonly CONNECT_VERSIONS=("$KAFKA_VERSION" 4.3.1)
	for v in "${CONNECT_VERSIONS[@]}"; do
		jvm_jars connect "$repo/tests/connect/pom.xml" "$v" connect-runtime
	done
	# --- end of Kafka Connect and Debezium for tests/connect --------------------------------

	# --- Flink for tests/flink (issue 15, acceptance 5) ------------------------------------
	# flink-streaming-java and flink-clients (the local mini cluster) with the
	# flink-connector-kafka built for that Flink line (tests/flink/pom.xml): 48 jars, 83 MB,
	# into jvm/flink-<version>/; tests/flink names the same version.
	readonly FLINK_VERSION=2.2.1
	jvm_jars flink "$repo/tests/flink/pom.xml" "$FLINK_VERSION" flink-streaming-java flink.version
	# --- end of Flink for tests/flink --------------------------------------------------------

	# --- PyPI: the Python clients of tests/pyclients (issue 15) ---------------------------
	# confluent-kafka (with its own librdkafka), kafka-python and aiokafka, as users install
	# them: a venv made with the machine's python3, pip's downloads cached in $cache/pip. The
	# venv is stamped with the requirements file's hash and the interpreter's version
	# (tests/pyclients checks the same stamp) and made anew when either changes.
	pyclients_reqs=$repo/tests/pyclients/requirements.txt
	pyclients_venv=$cache/pyclients-venv
	pyclients_key="$(sha256sum "$pyclients_reqs" | cut -d' ' -f1) $(python3 -c 'import sys; print(sys.version.split()[0])')"
	if [[ -x $pyclients_venv/bin/python && -f $pyclients_venv/requirements.stamp &&
		$(<"$pyclients_venv/requirements.stamp") == "$pyclients_key" ]]; then
		skip "Python clients venv ($pyclients_venv)"
	else
		begin "pip install -r tests/pyclients/requirements.txt into $pyclients_venv"
		rm -rf "$pyclients_venv"
		python3 -m venv "$pyclients_venv"
		"$pyclients_venv/bin/pip" install -q --cache-dir "$cache/pip" --disable-pip-version-check \
			--no-input -r "$pyclients_reqs"
		echo "$pyclients_key" >"$pyclients_venv/requirements.stamp"
		done_step "Python clients ($(grep -E '^(confluent-kafka|kafka-python|aiokafka)==' "$pyclients_reqs" | cut -d' ' -f1 | paste -sd' '))"
	fi
	# --- end of PyPI: the Python clients of tests/pyclients ---------------------------------
}

if [[ $EUID -eq 0 ]] && ! id -u postgres >/dev/null 2>&1; then
	echo "test-deps: Debian's postgresql package left no postgres user; tests/connect needs one" >&2
	exit 1
fi

(install_jvm_and_python) >"$bg_log" 2>&1 &
bg_pid=$!

# --- Go modules and tools --------------------------------------------------------------
# Cheap when the module cache already holds everything.
t_step=$(now_us)
(cd "$repo" && go mod download)
us=$(($(now_us) - t_step))
printf 'test-deps: go mod download took %d.%01ds\n' $((us / 1000000)) $((us % 1000000 / 100000))

if stamped staticcheck "$STATICCHECK_VERSION" "$bin/staticcheck"; then
	skip "staticcheck $STATICCHECK_VERSION"
else
	begin "go install staticcheck@$STATICCHECK_VERSION"
	GOBIN=$bin CGO_ENABLED=0 go install -trimpath -gcflags=all=-dwarf=false -ldflags "$TOOL_LDFLAGS" \
		"honnef.co/go/tools/cmd/staticcheck@$STATICCHECK_VERSION"
	stamp staticcheck "$STATICCHECK_VERSION"
	done_step "staticcheck $STATICCHECK_VERSION"
fi

# etcd's modules carry replace directives, so `go install module@version` refuses them;
# a scratch module that requires them as tools builds them (../shared/TESTING.md).
if stamped etcd "$ETCD_VERSION" "$bin/etcd" "$bin/etcdctl"; then
	skip "etcd $ETCD_VERSION"
else
	begin "build etcd and etcdctl $ETCD_VERSION (about a minute)"
	src=$cache/src/etcd-$ETCD_VERSION
	rm -rf "$src"
	mkdir -p "$src"
	(
		cd "$src"
		export GOWORK=off
		go mod init kafscale.local/etcd-tools
		go get -tool "go.etcd.io/etcd/server/v3@$ETCD_VERSION" "go.etcd.io/etcd/etcdctl/v3@$ETCD_VERSION"
		tool_build -ldflags "$TOOL_LDFLAGS" -o "$bin/etcd" go.etcd.io/etcd/server/v3
		tool_build -ldflags "$TOOL_LDFLAGS" -o "$bin/etcdctl" go.etcd.io/etcd/etcdctl/v3
	)
	"$bin/etcd" --version
	stamp etcd "$ETCD_VERSION"
	done_step "etcd $ETCD_VERSION"
fi

if stamped minio "$MINIO_VERSION" "$bin/minio"; then
	skip "minio $MINIO_VERSION"
else
	begin "go install minio@$MINIO_VERSION (about 2.5 minutes, 150 MB)"
	GOBIN=$bin GOWORK=off CGO_ENABLED=0 go install -trimpath -gcflags=all=-dwarf=false -ldflags "$TOOL_LDFLAGS" \
		"github.com/minio/minio@$MINIO_VERSION"
	stamp minio "$MINIO_VERSION"
	done_step "minio $MINIO_VERSION"
fi

# --- kube-apiserver (the operator's envtest tests) and helm (the operator's chart) ---------
# k8s.io/kubernetes requires its staging modules (k8s.io/api, k8s.io/apiserver, ...) at
# v0.0.0 and replaces them with ./staging/..., which only works inside its own repository:
# a scratch module replaces each one with its published v0.<minor>.<patch> instead, read
# from k8s.io/kubernetes' own go.mod so that the list never goes stale. The version is
# stamped into the binary as Kubernetes' release build does (the API server refuses to
# start as v0.0.0). Helm (`helm lint` and `helm template` of deploy/helm/kafscale-operator)
# is built in the same module: one module means one version of each shared dependency, so
# the Kubernetes libraries both use (client-go, apimachinery, ...) compile once, which
# saves most of helm's own 3.5 minutes on a fresh 2-core machine. HELM_VERSION must
# therefore use Kubernetes libraries of KUBE_VERSION's minor or older (helm v4.3 uses
# v0.37, the replace directives pin them).
need_kube=false need_helm=false
stamped kube-apiserver "$KUBE_VERSION" "$bin/kube-apiserver" || need_kube=true
stamped helm "$HELM_VERSION" "$bin/helm" || need_helm=true
if ! $need_kube && ! $need_helm; then
	skip "kube-apiserver $KUBE_VERSION and helm $HELM_VERSION"
else
	what=()
	$need_kube && what+=("kube-apiserver $KUBE_VERSION")
	$need_helm && what+=("helm $HELM_VERSION")
	begin "build ${what[*]} (about 7 minutes for both)"
	src=$cache/src/k8s-tools-$KUBE_VERSION-$HELM_VERSION
	rm -rf "$src"
	mkdir -p "$src"
	(
		cd "$src"
		export GOWORK=off
		staging=v0.${KUBE_VERSION#v1.}
		go mod init kafscale.local/k8s-tools
		kube_mod=$(go mod download -json "k8s.io/kubernetes@$KUBE_VERSION" | sed -n 's/^[[:space:]]*"GoMod": "\(.*\)",$/\1/p')
		for m in $(sed -n 's#^[[:space:]]*\(k8s\.io/[^ ]*\) => \./staging/.*#\1#p' "$kube_mod"); do
			go mod edit -replace="$m=$m@$staging"
		done
		go get -tool "k8s.io/kubernetes/cmd/kube-apiserver@$KUBE_VERSION" "helm.sh/helm/v4/cmd/helm@$HELM_VERSION"
		minor=${KUBE_VERSION#v1.}
		minor=${minor%%.*}
		if $need_kube; then
			tool_build -o "$bin/kube-apiserver" -ldflags "$TOOL_LDFLAGS -X k8s.io/component-base/version.gitVersion=$KUBE_VERSION \
-X k8s.io/component-base/version.gitMajor=1 -X k8s.io/component-base/version.gitMinor=$minor \
-X k8s.io/component-base/version.gitTreeState=clean" k8s.io/kubernetes/cmd/kube-apiserver
		fi
		if $need_helm; then
			tool_build -o "$bin/helm" -ldflags "$TOOL_LDFLAGS -X helm.sh/helm/v4/internal/version.version=$HELM_VERSION" \
				helm.sh/helm/v4/cmd/helm
		fi
	)
	"$bin/kube-apiserver" --version
	"$bin/helm" version
	stamp kube-apiserver "$KUBE_VERSION"
	stamp helm "$HELM_VERSION"
	done_step "$(IFS=,; echo "${what[*]}")"
fi


bg_status=0
wait "$bg_pid" || bg_status=$?
bg_pid=
echo "test-deps: Maven Central and PyPI (run alongside the Go tools):"
cat "$bg_log"
if ((bg_status != 0)); then
	echo "test-deps: installing the jars or the Python clients failed (exit $bg_status), see above" >&2
	exit 1
fi

us=$(($(now_us) - t_all))
if [[ -s $installed_file ]]; then
	what=$(paste -sd, "$installed_file")
else
	what="nothing"
fi
printf 'test-deps: done in %d.%01ds; installed: %s; binaries in %s\n' \
	$((us / 1000000)) $((us % 1000000 / 100000)) "$what" "$bin"
