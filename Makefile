# Top-level build targets. `make proto` regenerates the committed protobuf Go code.

GOBIN_DIR     ?= $(shell go env GOPATH)/bin
PROTOC        ?= protoc
PROTOC_GEN_GO ?= $(GOBIN_DIR)/protoc-gen-go
PROTOC_GEN_GO_GRPC ?= $(GOBIN_DIR)/protoc-gen-go-grpc
GO_MODULE     := github.com/kafscale/kafscale
PROTO_FILES   := meta/metadata.proto meta/groups.proto meta/scram.proto
GRPC_FILES    := control/control.proto

.PHONY: proto
proto: ## Regenerate Go code from .proto files (needs protoc (Debian: protobuf-compiler), protoc-gen-go and protoc-gen-go-grpc).
	@test -x "$(PROTOC_GEN_GO)" || { echo "protoc-gen-go not found at $(PROTOC_GEN_GO); run: GOBIN=$(GOBIN_DIR) go install google.golang.org/protobuf/cmd/protoc-gen-go@v1.36.12"; exit 1; }
	@test -x "$(PROTOC_GEN_GO_GRPC)" || { echo "protoc-gen-go-grpc not found at $(PROTOC_GEN_GO_GRPC); run: GOBIN=$(GOBIN_DIR) go install google.golang.org/grpc/cmd/protoc-gen-go-grpc@v1.6.2"; exit 1; }
	$(PROTOC) --plugin=protoc-gen-go=$(PROTOC_GEN_GO) \
		--go_out=. --go_opt=module=$(GO_MODULE) $(PROTO_FILES)
	$(PROTOC) --plugin=protoc-gen-go=$(PROTOC_GEN_GO) --plugin=protoc-gen-go-grpc=$(PROTOC_GEN_GO_GRPC) \
		--go_out=. --go_opt=module=$(GO_MODULE) --go-grpc_out=. --go-grpc_opt=module=$(GO_MODULE) $(GRPC_FILES)

.PHONY: test build
test: ## Install test dependencies and run every check and test (what CI runs).
	bash scripts/test.sh

build: ## Build the kafscale binary into bin/.
	go build -o bin/kafscale ./cmd/kafscale

.PHONY: crds
crds: ## Regenerate the operator's deepcopy code and CRDs (deploy/crds) from operator/api, and its ClusterRole (deploy/operator/role.yaml) from operator/reconcile, with their copies in the Helm chart (controller-gen, a go tool of go.mod).
	go tool controller-gen object paths=./operator/api/...
	go tool controller-gen crd:crdVersions=v1 paths=./operator/api/... output:crd:dir=deploy/crds
	go tool controller-gen rbac:roleName=kafscale-operator paths=./operator/reconcile/... output:rbac:dir=deploy/operator
	cp deploy/crds/*.yaml deploy/helm/kafscale-operator/crds/
	cp deploy/operator/role.yaml deploy/helm/kafscale-operator/templates/role.yaml

IMAGE ?= kafscale/kafscale:dev

.PHONY: image
image: ## Build the image $(IMAGE) from binaries built here (buildah, podman or docker; no Go image pulled).
	bash scripts/build-image.sh $(IMAGE)

.PHONY: demo-platform
demo-platform: ## KafScale on a local kind cluster: image, operator, MinIO, a 3-broker cluster (needs docker, kind, kubectl).
	bash scripts/demo-platform-apply.sh
