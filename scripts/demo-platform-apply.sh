#!/usr/bin/env bash
# demo-platform-apply.sh brings up KafScale on a local kind cluster: it builds the image
# (Dockerfile), creates the kind cluster (KIND_CLUSTER, default kafscale) unless it exists,
# loads the image into it, installs the CRDs and the operator, then MinIO and the example
# cluster with its topic, and waits until the cluster is Ready. `make demo-platform` runs it.
#
# It needs docker (a running daemon), kind and kubectl on PATH; where one is missing it says
# which and exits with status 3, doing nothing.
set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cluster=${KIND_CLUSTER:-kafscale}
image=${KAFSCALE_IMAGE:-kafscale/kafscale:latest}

missing=()
for tool in docker kind kubectl; do
	command -v "$tool" >/dev/null || missing+=("$tool")
done
if ((${#missing[@]} == 0)) && ! docker info >/dev/null 2>&1; then
	missing+=("a running Docker daemon (docker info fails)")
fi
if ((${#missing[@]} > 0)); then
	{
		echo "demo-platform: cannot run here: missing ${missing[*]}."
		echo "demo-platform: it needs docker with a running daemon, kind (sigs.k8s.io/kind) and kubectl."
		echo "demo-platform: without them, see docs/kubernetes.md to install on an existing cluster."
	} >&2
	exit 3
fi

step() { echo "demo-platform: $*"; }

step "building $image"
docker build -t "$image" "$repo"
if ! kind get clusters | grep -qx "$cluster"; then
	step "creating kind cluster $cluster"
	kind create cluster --name "$cluster"
fi
kubectl config use-context "kind-$cluster" >/dev/null
step "loading $image into kind"
kind load docker-image --name "$cluster" "$image"
step "installing the CRDs and the operator"
kubectl apply -f "$repo/deploy/crds/" -f "$repo/deploy/operator/"
kubectl -n kafscale-system rollout status deployment/kafscale-operator --timeout=180s
step "installing MinIO and the example cluster"
kubectl apply -f "$repo/deploy/examples/minio.yaml"
kubectl -n kafscale wait --for=condition=complete job/minio-bucket --timeout=300s
kubectl apply -f "$repo/deploy/examples/cluster.yaml"
kubectl -n kafscale wait --for=condition=Ready kafscalecluster/kafka --timeout=600s
kubectl -n kafscale wait --for=condition=Ready kafscaletopic/orders --timeout=120s
kubectl -n kafscale get kafscaleclusters,kafscaletopics
step "ready: clients inside the cluster bootstrap from kafka-bootstrap.kafscale.svc:9092"
