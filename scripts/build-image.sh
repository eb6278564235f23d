#!/usr/bin/env bash
# build-image.sh builds the KafScale image (Dockerfile) from static binaries built here,
# so that no Go image has to be pulled: the Dockerfile's last stage alone, with
# --build-arg BINARIES=prebuilt and a context holding out/ (the two binaries and the CA
# bundle). `make image` runs it.
#
#   scripts/build-image.sh [image]        # default kafscale/kafscale:dev
#
# IMAGE_TOOL picks the builder (default: the first of buildah, podman, docker on PATH);
# IMAGE_CONTEXT the build context directory (default .image/ in the repository, emptied
# first). buildah and podman need no daemon; CONTAINERS_STORAGE_CONF chooses where they
# keep images (tests/deploy uses a vfs store under its temporary directory).
set -euo pipefail

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
image="${1:-kafscale/kafscale:dev}"
tool="${IMAGE_TOOL:-}"
if [[ -z "$tool" ]]; then
	for t in buildah podman docker; do
		if command -v "$t" >/dev/null; then
			tool="$t"
			break
		fi
	done
fi
if [[ -z "$tool" ]]; then
	echo "build-image: none of buildah, podman, docker is installed (Debian: apt-get install buildah)" >&2
	exit 1
fi
ca=/etc/ssl/certs/ca-certificates.crt
if [[ ! -f "$ca" ]]; then
	echo "build-image: no CA bundle at $ca (Debian: apt-get install ca-certificates)" >&2
	exit 1
fi

ctx="${IMAGE_CONTEXT:-$repo/.image}"
rm -rf "$ctx/out"
mkdir -p "$ctx/out"
for cmd in kafscale kafscale-operator; do
	(cd "$repo" && CGO_ENABLED=0 go build -trimpath -ldflags="-s -w" -o "$ctx/out/$cmd" "./cmd/$cmd")
done
cp "$ca" "$ctx/out/ca-certificates.crt"

isolation=()
if [[ "$tool" == buildah ]]; then
	# The build runs no command (the last stage only copies), so chroot isolation needs
	# no user namespaces.
	isolation=(--isolation chroot)
fi
"$tool" build "${isolation[@]}" -f "$repo/Dockerfile" --build-arg BINARIES=prebuilt -t "$image" "$ctx"
echo "build-image: built $image with $tool"
