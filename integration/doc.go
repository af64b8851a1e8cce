// Package integration holds the end-to-end suite (build tag
// "integration"): it drives a running stack — the gateway, ZooKeeper and
// the five sample backends — only through its public interfaces: the data
// plane, the control plane and ZooKeeper. integration/processes.sh runs it
// against processes on this machine and integration/compose.sh against
// deploy/compose; `make integration` runs both.
//
// The stack is named by environment variables:
//
//	RB_DATA          data plane URL (http://127.0.0.1:8080)
//	RB_ADMIN         control plane URL
//	RB_ADMIN_HOST    Host header for the control plane when it is reached
//	                 through a published port (default RB_ADMIN's host:port)
//	RB_ADMIN_TOKEN   the control plane's bearer token
//	RB_ZK            ZooKeeper host:port
//	RB_SELF_HOST     an address of this machine the gateway can reach (for
//	                 the instance the suite registers itself)
//	RB_STOP, RB_START
//	                 shell commands that stop and start the backend named by
//	                 $RB_BACKEND (people, orders, stock, users, catalog)
//
// Without RB_DATA the suite is skipped, unless CI=true, where it fails.
package integration
