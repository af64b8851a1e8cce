#!/bin/sh
# zookeeper.sh: helpers for the real ZooKeeper the registry tests start.
#
#   scripts/zookeeper.sh install   install the Debian package "zookeeper" when
#                                  /usr/share/java/zookeeper.jar is missing
#   scripts/zookeeper.sh check     exit 0 when the jar and java are present
set -eu

JAR=/usr/share/java/zookeeper.jar

need_sudo() {
	if [ "$(id -u)" -eq 0 ]; then
		"$@"
	else
		sudo "$@"
	fi
}

case "${1:-}" in
install)
	if [ -f "$JAR" ] && command -v java >/dev/null 2>&1; then
		echo "zookeeper: $JAR present"
		exit 0
	fi
	export DEBIAN_FRONTEND=noninteractive
	need_sudo env DEBIAN_FRONTEND=noninteractive apt-get update
	need_sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y zookeeper
	if [ ! -f "$JAR" ]; then
		echo "zookeeper: $JAR still missing after apt-get install" >&2
		exit 1
	fi
	echo "zookeeper: installed $JAR"
	;;
check)
	if [ ! -f "$JAR" ]; then
		echo "zookeeper: $JAR missing; run: scripts/zookeeper.sh install" >&2
		exit 1
	fi
	if ! command -v java >/dev/null 2>&1; then
		echo "zookeeper: java missing; run: scripts/zookeeper.sh install" >&2
		exit 1
	fi
	echo "zookeeper: ok"
	;;
*)
	echo "usage: $0 install|check" >&2
	exit 2
	;;
esac
