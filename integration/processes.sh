#!/bin/bash
# processes.sh: the integration stack as processes on this machine, and the
# suite run against it.
#
#   integration/processes.sh run          start ZooKeeper, the five sample backends and
#                                         the gateway, run the suite, stop everything
#   integration/processes.sh up           start the stack and print its RB_* variables
#   integration/processes.sh down         stop it
#   integration/processes.sh stop|start BACKEND
#                                         stop or start one backend (the suite's RB_STOP
#                                         and RB_START hooks)
#
# The gateway takes its config from ZooKeeper (deploy/compose/gateway.yaml
# with local addresses), as in the compose stack. Ports (all on 127.0.0.1)
# are fixed below the ephemeral range; RB_STATE (default
# /tmp/rpcbridge-integration) holds logs, pids and the binaries.
set -eu

root=$(cd "$(dirname "$0")/.." && pwd)
GO=${GO:-go}
RB_STATE=${RB_STATE:-/tmp/rpcbridge-integration}
export RB_STATE
ZK_PORT=${RB_ZK_PORT:-12181}
HTTP_PORT=${RB_HTTP_PORT:-18080}
ADMIN_PORT=${RB_ADMIN_PORT:-19901}
PEOPLE_PORT=15051 ORDERS_PORT=19090 STOCK_PORT=17890 USERS_PORT=20880 USERS_META_PORT=20881 CATALOG_PORT=18081
TOKEN=${RPCBRIDGE_ADMIN_TOKEN:-integration-token}
export RPCBRIDGE_ADMIN_TOKEN=$TOKEN

say() { echo "processes: $*" >&2; }

# wait_port PORT SECONDS: until something accepts on 127.0.0.1:PORT.
wait_port() {
	i=0
	while ! (exec 3<>/dev/tcp/127.0.0.1/"$1") 2>/dev/null; do
		i=$((i + 1))
		[ "$i" -le $(($2 * 10)) ] || { say "nothing listens on 127.0.0.1:$1 after $2 s"; return 1; }
		sleep 0.1
	done
}

# launch NAME CMD...: run CMD in the background, logging to NAME.log.
launch() {
	name=$1
	shift
	"$@" >>"$RB_STATE/$name.log" 2>&1 &
	echo $! >"$RB_STATE/$name.pid"
}

# halt NAME: SIGTERM, then SIGKILL after 15 s.
halt() {
	f=$RB_STATE/$1.pid
	[ -f "$f" ] || return 0
	pid=$(cat "$f")
	rm -f "$f"
	kill "$pid" 2>/dev/null || return 0
	i=0
	while kill -0 "$pid" 2>/dev/null; do
		i=$((i + 1))
		if [ "$i" -gt 150 ]; then kill -9 "$pid" 2>/dev/null || :; break; fi
		sleep 0.1
	done
}

start_backend() {
	b=$RB_STATE/bin
	case $1 in
	people) launch people "$b/peopled" -addr 127.0.0.1:$PEOPLE_PORT -zk 127.0.0.1:$ZK_PORT -drain 1s ;;
	orders) launch orders "$b/ordersd" -addr 127.0.0.1:$ORDERS_PORT ;;
	stock) launch stock "$b/stockd" -addr 127.0.0.1:$STOCK_PORT ;;
	users) launch users "$b/usersd" -zk 127.0.0.1:$ZK_PORT -host 127.0.0.1 -port $USERS_PORT -metadata-port $USERS_META_PORT ;;
	catalog) launch catalog "$b/catalogd" -addr 127.0.0.1:$CATALOG_PORT ;;
	*) say "no backend $1 (people, orders, stock, users, catalog)"; return 2 ;;
	esac
	case $1 in
	people) wait_port $PEOPLE_PORT 30 ;;
	orders) wait_port $ORDERS_PORT 30 ;;
	stock) wait_port $STOCK_PORT 30 ;;
	users) wait_port $USERS_PORT 60 ;;
	catalog) wait_port $CATALOG_PORT 30 ;;
	esac
}

up() {
	sh "$root/scripts/zookeeper.sh" check >&2
	for p in $ZK_PORT $HTTP_PORT $ADMIN_PORT $PEOPLE_PORT $ORDERS_PORT $STOCK_PORT $USERS_PORT $USERS_META_PORT $CATALOG_PORT; do
		if (exec 3<>/dev/tcp/127.0.0.1/"$p") 2>/dev/null; then
			say "127.0.0.1:$p is taken (a stack left running? integration/processes.sh down)"
			return 1
		fi
	done
	rm -rf "$RB_STATE"
	mkdir -p "$RB_STATE/bin" "$RB_STATE/zk/data" "$RB_STATE/gw/idl"
	say "build into $RB_STATE/bin"
	(cd "$root" && CGO_ENABLED=0 "$GO" build -trimpath -o "$RB_STATE/bin/" ./cmd/rpcbridge ./examples/people/cmd/peopled \
		./examples/orders/cmd/ordersd ./examples/stock/cmd/stockd ./examples/users/cmd/usersd ./examples/catalog/cmd/catalogd)
	printf '%s\n' tickTime=500 initLimit=10 syncLimit=5 "dataDir=$RB_STATE/zk/data" clientPort=$ZK_PORT \
		clientPortAddress=127.0.0.1 maxClientCnxns=0 admin.enableServer=false >"$RB_STATE/zk/zoo.cfg"
	launch zookeeper java -Xmx256m -XX:+UseSerialGC -XX:TieredStopAtLevel=1 -Dzookeeper.admin.enableServer=false \
		-cp /usr/share/java/zookeeper.jar:/usr/share/java/slf4j-simple.jar \
		org.apache.zookeeper.server.quorum.QuorumPeerMain "$RB_STATE/zk/zoo.cfg"
	wait_port $ZK_PORT 60
	say "zookeeper on 127.0.0.1:$ZK_PORT"
	for b in orders stock catalog people users; do start_backend $b; done
	say "backends up"
	cp "$root/examples/stock/Stock.tars" "$root/examples/orders/order.thrift" "$RB_STATE/gw/idl/"
	sed -e "s|listen: ':8080'|listen: '127.0.0.1:$HTTP_PORT'|" -e "s|admin: ':9901'|admin: '127.0.0.1:$ADMIN_PORT'|" \
		-e "s|zookeeper:2181|127.0.0.1:$ZK_PORT|" -e "s|stock:17890|127.0.0.1:$STOCK_PORT|" \
		-e "s|orders:9090|127.0.0.1:$ORDERS_PORT|" -e "s|catalog:8081|127.0.0.1:$CATALOG_PORT|" \
		"$root/deploy/compose/gateway.yaml" >"$RB_STATE/gw/gateway.yaml"
	(cd "$RB_STATE/gw" && "$RB_STATE/bin/rpcbridge" config push -c gateway.yaml -zk 127.0.0.1:$ZK_PORT) >&2
	(cd "$RB_STATE/gw" && launch rpcbridge "$RB_STATE/bin/rpcbridge" serve -config-zk 127.0.0.1:$ZK_PORT -node gw-1)
	i=0
	until "$RB_STATE/bin/rpcbridge" health -admin 127.0.0.1:$ADMIN_PORT >/dev/null 2>&1; do
		i=$((i + 1))
		[ "$i" -le 300 ] || { say "the gateway is not ready after 30 s"; tail -20 "$RB_STATE/rpcbridge.log" >&2; return 1; }
		sleep 0.1
	done
	say "gateway on 127.0.0.1:$HTTP_PORT (control plane 127.0.0.1:$ADMIN_PORT)"
}

down() {
	for n in rpcbridge users people catalog stock orders zookeeper; do halt $n; done
}

vars() {
	cat <<VARS
export RB_DATA=http://127.0.0.1:$HTTP_PORT
export RB_ADMIN=http://127.0.0.1:$ADMIN_PORT
export RB_ADMIN_TOKEN=$TOKEN
export RB_ZK=127.0.0.1:$ZK_PORT
export RB_SELF_HOST=127.0.0.1
export RB_STATE=$RB_STATE
export RB_STOP='bash $root/integration/processes.sh stop "\$RB_BACKEND"'
export RB_START='bash $root/integration/processes.sh start "\$RB_BACKEND"'
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
		for n in rpcbridge users people; do say "last lines of $n.log:"; tail -15 "$RB_STATE/$n.log" >&2 || :; done
		exit $st
	}
	;;
up) up && vars ;;
down) down ;;
stop) halt "$2" ;;
start) start_backend "$2" ;;
*)
	echo "usage: $0 run|up|down|stop BACKEND|start BACKEND" >&2
	exit 2
	;;
esac
