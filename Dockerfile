# The KafScale image: the broker (/kafscale) and the operator (/kafscale-operator), both
# static (CGO_ENABLED=0), on an empty base with CA certificates only, run as user 65532.
# The operator's Deployment and the KafscaleCluster examples name this image.
#
#   docker build -t kafscale/kafscale:dev .
#   buildah build -t kafscale/kafscale:dev .     # or podman build: no Docker daemon needed
#
# docs/kubernetes.md, "Images", says more, and how to build without any container tool.
FROM golang:1.26 AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
RUN CGO_ENABLED=0 go build -trimpath -ldflags="-s -w" -o /out/kafscale ./cmd/kafscale && \
    CGO_ENABLED=0 go build -trimpath -ldflags="-s -w" -o /out/kafscale-operator ./cmd/kafscale-operator

FROM scratch
COPY --from=build /etc/ssl/certs/ca-certificates.crt /etc/ssl/certs/ca-certificates.crt
COPY --from=build /out/kafscale /out/kafscale-operator /
USER 65532:65532
ENTRYPOINT ["/kafscale"]
