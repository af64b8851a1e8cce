#!/bin/sh
# local-images.sh: build the compose stack's images with no image registry.
#
# Builds, and skips what already exists:
#   rpcbridge-local/debian:bookworm   a minimal Debian (debootstrap + docker import),
#                                     from the apt mirror this machine uses
#   rpcbridge-local/static:nonroot    FROM scratch with a nonroot user (uid 65532) and
#                                     Debian's CA bundle: the stand-in for distroless/static
#   rpcbridge-zookeeper:local         ZooKeeper from Debian's packages
#   rpcbridge:local, rpcbridge-<backend>:local
#                                     the gateway and the sample backends, from
#                                     static binaries built here (bin/docker/)
# then prints the build arguments it used, as shell assignments:
#   eval "$(deploy/compose/local-images.sh)"
# Progress goes to stderr. FORCE=1 rebuilds the rpcbridge images (after a
# code change); the base images are kept unless removed.
set -eu

here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
DEBIAN_IMAGE=rpcbridge-local/debian:bookworm
RUNTIME_IMAGE=rpcbridge-local/static:nonroot
GO=${GO:-go}
FORCE=${FORCE:-}

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

say() { echo "local-images: $*" >&2; }
have() { docker image inspect "$1" >/dev/null 2>&1; }
need_root() { [ "$(id -u)" -eq 0 ] || { say "$1 needs root"; exit 1; }; }

# The first http(s) mirror apt uses (deb822 URIs: or one-line deb entries).
mirror() {
	m=$(cat /etc/apt/sources.list.d/*.sources 2>/dev/null | awk '/^URIs:/ && $2 !~ /security/ {print $2; exit}')
	[ -n "$m" ] || m=$(cat /etc/apt/sources.list /etc/apt/sources.list.d/*.list 2>/dev/null | awk '$1 == "deb" && $0 !~ /security/ {for (i = 2; i <= NF; i++) if ($i ~ /^https?:/) {print $i; exit}}')
	echo "${m:-http://deb.debian.org/debian}"
}

if ! have "$DEBIAN_IMAGE"; then
	need_root "debootstrap"
	command -v debootstrap >/dev/null 2>&1 || DEBIAN_FRONTEND=noninteractive apt-get install -y debootstrap >&2
	dir=$work/debian
	mkdir -p "$dir"
	say "debootstrap bookworm from $(mirror)"
	debootstrap --variant=minbase --include=ca-certificates bookworm "$dir/root" "$(mirror)" >"$dir/debootstrap.log" 2>&1 || { cat "$dir/debootstrap.log" >&2; exit 1; }
	rm -rf "$dir"/root/var/cache/apt/archives/*.deb "$dir"/root/var/lib/apt/lists/*
	tar -C "$dir/root" -c . | docker import - "$DEBIAN_IMAGE" >&2
	rm -rf "$dir"
	say "built $DEBIAN_IMAGE"
fi

if ! have "$RUNTIME_IMAGE"; then
	dir=$work/static
	mkdir -p "$dir/etc" "$dir/tmp"
	printf 'root:x:0:0:root:/root:/sbin/nologin\nnonroot:x:65532:65532:nonroot:/home/nonroot:/sbin/nologin\n' >"$dir/etc/passwd"
	printf 'root:x:0:\nnonroot:x:65532:\n' >"$dir/etc/group"
	# Debian's CA bundle, as distroless/static carries it.
	docker run --rm "$DEBIAN_IMAGE" cat /etc/ssl/certs/ca-certificates.crt >"$dir/ca-certificates.crt"
	cat >"$dir/Dockerfile" <<'DOCKERFILE'
FROM scratch
COPY etc/ /etc/
COPY ca-certificates.crt /etc/ssl/certs/ca-certificates.crt
COPY --chown=65532:65532 tmp/ /tmp/
USER 65532:65532
DOCKERFILE
	docker build -q -t "$RUNTIME_IMAGE" "$dir" >&2
	say "built $RUNTIME_IMAGE"
fi

if ! have rpcbridge-zookeeper:local; then
	docker build -q --build-arg DEBIAN_IMAGE="$DEBIAN_IMAGE" -t rpcbridge-zookeeper:local "$here/zookeeper" >&2
	say "built rpcbridge-zookeeper:local"
fi

missing=$FORCE
for t in rpcbridge people orders stock users catalog; do
	img=rpcbridge-$t:local
	[ "$t" = rpcbridge ] && img=rpcbridge:local
	have "$img" || missing=1
done
if [ -n "$missing" ]; then
	say "static binaries into bin/docker/"
	mkdir -p "$root/bin/docker"
	(cd "$root" && CGO_ENABLED=0 GOOS=linux "$GO" build -trimpath -buildvcs=auto -ldflags "-s -w" -o bin/docker/ \
		./cmd/rpcbridge ./examples/people/cmd/peopled ./examples/orders/cmd/ordersd \
		./examples/stock/cmd/stockd ./examples/users/cmd/usersd ./examples/catalog/cmd/catalogd) >&2
	for t in people orders stock users catalog rpcbridge; do
		img=rpcbridge-$t:local
		[ "$t" = rpcbridge ] && img=rpcbridge:local
		old=$(docker image inspect -f '{{.Id}}' "$img" 2>/dev/null || :)
		docker build -q --target "$t" --build-arg GO_IMAGE="$DEBIAN_IMAGE" --build-arg RUNTIME_IMAGE="$RUNTIME_IMAGE" \
			--build-arg PREBUILT=bin/docker -t "$img" "$root" >&2
		say "built $img"
		# The image it replaced, unless a container still uses it.
		[ -z "$old" ] || [ "$old" = "$(docker image inspect -f '{{.Id}}' "$img")" ] || docker rmi "$old" >/dev/null 2>&1 || :
	done
	# The build stage's image (a copy of the build context) is not needed.
	docker image prune -f --filter label=org.rpcbridge.stage=build >/dev/null
fi

cat <<ARGS
export GO_IMAGE=$DEBIAN_IMAGE
export RUNTIME_IMAGE=$RUNTIME_IMAGE
export DEBIAN_IMAGE=$DEBIAN_IMAGE
export PREBUILT=bin/docker
ARGS
