# The KafScale image: the broker (/kafscale) and the operator (/kafscale-operator), both
# static (CGO_ENABLED=0), on an empty base with CA certificates only, run as user 65532.
# The operator's Deployment and the KafscaleCluster examples name this image.
#
#   docker build -t kafscale/kafscale:dev .
#   buildah build -t kafscale/kafscale:dev .     # or podman build: no Docker daemon needed
#
# Where no Go image can be pulled, `make image` builds the binaries on the host and only
# the last stage here (--build-arg BINARIES=prebuilt, context .image/ holding out/):
# tests/deploy builds it that way with buildah.
#
# docs/kubernetes.md, "Images", says more, and how to build without any container tool.
ARG BINARIES=build

FROM golang:1.26 AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
RUN CGO_ENABLED=0 go build -trimpath -ldflags="-s -w" -o /out/kafscale ./cmd/kafscale && \
    CGO_ENABLED=0 go build -trimpath -ldflags="-s -w" -o /out/kafscale-operator ./cmd/kafscale-operator && \
    cp /etc/ssl/certs/ca-certificates.crt /out/

# The binaries and CA bundle built elsewhere (make image): the context's out/.
FROM scratch AS prebuilt
COPY out/ /out/

FROM ${BINARIES} AS binaries

FROM scratch
COPY --from=binaries /out/ca-certificates.crt /etc/ssl/certs/ca-certificates.crt
COPY --from=binaries /out/kafscale /out/kafscale-operator /
USER 65532:65532
ENTRYPOINT ["/kafscale"]
