#!/bin/bash
# compose.sh: the integration suite against the compose stack
# (deploy/compose/docker-compose.yml).
#
#   integration/compose.sh run    make sure Docker runs (installing docker.io and
#                                 docker-compose and starting dockerd when missing),
#                                 build the images (local stand-ins when no image
#                                 registry answers), start the stack, run the suite,
#                                 and take the stack down, also on failure
#   integration/compose.sh up     build and start the stack; print its RB_* variables
#   integration/compose.sh down   take it down (containers, network, volumes)
#
# The stack runs as compose project RB_PROJECT (default rpcbridge-it) with its
# ports published on 127.0.0.1: RB_HTTP_PORT (28080), RB_ADMIN_PORT (29901),
# RB_ZK_PORT (22181).
set -eu

root=$(cd "$(dirname "$0")/.." && pwd)
GO=${GO:-go}
file=$root/deploy/compose/docker-compose.yml
project=${RB_PROJECT:-rpcbridge-it}
export RB_HTTP_PORT=${RB_HTTP_PORT:-28080} RB_ADMIN_PORT=${RB_ADMIN_PORT:-29901} RB_ZK_PORT=${RB_ZK_PORT:-22181}
export RPCBRIDGE_ADMIN_TOKEN=${RPCBRIDGE_ADMIN_TOKEN:-integration-token}

say() { echo "compose: $*" >&2; }
compose() { docker-compose -f "$file" -p "$project" "$@"; }

ensure_docker() {
	if ! command -v dockerd >/dev/null 2>&1 || ! command -v docker-compose >/dev/null 2>&1; then
		[ "$(id -u)" -eq 0 ] || { say "docker.io and docker-compose are missing; installing them needs root"; return 1; }
		say "installing docker.io and docker-compose"
		export DEBIAN_FRONTEND=noninteractive
		apt-get update >&2 && apt-get install -y docker.io docker-compose >&2
	fi
	docker info >/dev/null 2>&1 && return 0
	[ "$(id -u)" -eq 0 ] || { say "dockerd is not running; starting it needs root"; return 1; }
	say "starting dockerd (log: /var/log/rpcbridge-dockerd.log)"
	nohup dockerd >>/var/log/rpcbridge-dockerd.log 2>&1 &
	for _ in $(seq 300); do
		docker info >/dev/null 2>&1 && return 0
		sleep 0.1
	done
	say "dockerd did not answer within 30 s"
	tail -20 /var/log/rpcbridge-dockerd.log >&2
	return 1
}

# registry_answers: Docker Hub's API answers (401 without a token) within 5 s.
registry_answers() {
	code=$(curl -s -m 5 -o /dev/null -w '%{http_code}' https://registry-1.docker.io/v2/ 2>/dev/null) || return 1
	[ "$code" = 401 ] || [ "$code" = 200 ]
}

images() {
	if registry_answers; then
		say "building the images (the registry answers)"
		compose build >&2
	else
		say "no image registry answers: building local images"
		eval "$(FORCE=1 GO="$GO" "$root/deploy/compose/local-images.sh")"
	fi
}

up() {
	ensure_docker
	images
	start=$(date +%s.%N)
	compose up -d >&2
	# Ready when every backend answers through the gateway.
	for _ in $(seq 900); do
		ok=1
		for p in /v1/people/1 /v1/orders/1 /v1/quotes/600000 /v1/users/1 /v1/items/A-1; do
			code=$(curl -s -m 2 -o /dev/null -w '%{http_code}' "http://127.0.0.1:$RB_HTTP_PORT$p") || code=000
			[ "$code" = 200 ] || { ok=; break; }
		done
		[ -n "$ok" ] && break
		sleep 0.1
	done
	if [ -z "$ok" ]; then
		say "the stack did not answer on every route within 90 s"
		compose ps >&2
		compose logs --tail 20 >&2
		return 1
	fi
	say "stack up and answering in $(awk "BEGIN {printf \"%.1f\", $(date +%s.%N) - $start}") s"
}

down() {
	compose down -v --remove-orphans -t 15 >&2 || :
}

vars() {
	gw=$(docker network inspect "${project}_default" -f '{{(index .IPAM.Config 0).Gateway}}')
	cat <<VARS
export RB_DATA=http://127.0.0.1:$RB_HTTP_PORT
export RB_ADMIN=http://127.0.0.1:$RB_ADMIN_PORT
export RB_ADMIN_HOST=127.0.0.1:9901
export RB_ADMIN_TOKEN=$RPCBRIDGE_ADMIN_TOKEN
export RB_ZK=127.0.0.1:$RB_ZK_PORT
export RB_SELF_HOST=$gw
export RB_STOP='docker-compose -f $file -p $project stop -t 15 "\$RB_BACKEND"'
export RB_START='docker-compose -f $file -p $project start "\$RB_BACKEND"'
VARS
}

case ${1:-} in
run)
	trap 'down' EXIT
	trap 'exit 1' INT TERM
	up
	eval "$(vars)"
	(cd "$root" && CGO_ENABLED=0 "$GO" test -trimpath -tags integration -count=1 -timeout 10m ${RB_TESTFLAGS:-} ./integration/) || {
		st=$?
		compose logs --tail 20 rpcbridge people users >&2 || :
		exit $st
	}
	;;
up) up && vars ;;
down) down ;;
*)
	echo "usage: $0 run|up|down" >&2
	exit 2
	;;
esac
