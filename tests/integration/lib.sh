# shellcheck shell=bash
# Shared helpers for the namespace integration tests (see docs/TESTING.md).
# Every test: sources this file, calls mg_setup, creates namespaces with ns_add,
# starts daemons with bg_start (so cleanup kills exactly those PIDs), and ends with
# mg_pass. Cleanup runs on every exit path and never touches the root namespace
# beyond deleting the namespaces it created.
set -euo pipefail

MG_BUILD=${MG_BUILD:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)/build}
MG_SRC=${MG_SRC:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}
MESHGATE=$MG_BUILD/agent/meshgate
MG_TOOLS=$MG_BUILD/tests
CTLMOCK=$MG_BUILD/controller-mock/meshgate-controller-mock

_mg_tmp=""

mg_log() { printf '[%s] %s\n' "${MG_TEST_NAME:-test}" "$*" >&2; }
mg_fail() {
	mg_log "FAIL: $*"
	exit 1
}

mg_cleanup() {
	local rc=$?
	set +e
	# PIDs and namespaces are listed in files: helpers often run inside $(...)
	local pids="" nss=""
	[ -n "$_mg_tmp" ] && [ -f "$_mg_tmp/.pids" ] && pids=$(cat "$_mg_tmp/.pids")
	for pid in $pids; do
		kill -TERM "$pid" 2>/dev/null
	done
	for pid in $pids; do
		for _ in $(seq 1 30); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
		kill -KILL "$pid" 2>/dev/null
	done
	[ -n "${MG_ID:-}" ] && nss=$(ip netns list 2>/dev/null | awk -v p="mgt$MG_ID-" 'index($1, p) == 1 {print $1}')
	for ns in $nss; do
		# whatever still lives in our namespaces (wireguard-go daemons, servers) ends too
		for p in $(ip netns pids "$ns" 2>/dev/null); do kill -KILL "$p" 2>/dev/null; done
	done
	for ns in $nss; do
		for _ in $(seq 1 20); do [ -z "$(ip netns pids "$ns" 2>/dev/null)" ] && break; sleep 0.05; done
		ip netns del "$ns" 2>/dev/null
	done
	# sockets of our (uniquely named) WireGuard interfaces that a SIGKILL left behind
	[ -n "${MG_ID:-}" ] && rm -f /var/run/wireguard/*"$MG_ID"*.sock
	if [ -n "$_mg_tmp" ] && [ -z "${MG_KEEP_TMP:-}" ]; then rm -rf "$_mg_tmp"; fi
	if [ $rc -ne 0 ] && [ -n "$_mg_tmp" ] && [ -n "${MG_KEEP_TMP:-}" ]; then
		mg_log "kept $_mg_tmp"
	fi
	exit $rc
}

# mg_setup NAME: root check, unique id, temp dir, traps.
mg_setup() {
	MG_TEST_NAME=$1
	if [ "$(id -u)" -ne 0 ]; then
		echo "$MG_TEST_NAME: needs root (network namespaces); run scripts/test with sudo" >&2
		exit 1
	fi
	[ -x "$MESHGATE" ] || mg_fail "no agent binary at $MESHGATE (build first)"
	# 4 hex chars from the pid and randomness: short enough for 15-char ifnames
	# 4 hex chars, not used by a namespace already (a leftover of a killed run)
	while :; do
		MG_ID=$(printf '%04x' $(((RANDOM << 1 ^ $$ ^ RANDOM) & 0xffff)))
		ip netns list 2>/dev/null | grep -q "^mgt$MG_ID-" && continue
		compgen -G "/var/run/wireguard/*$MG_ID*" >/dev/null || break
	done
	_mg_tmp=$(mktemp -d "/tmp/mgt-$MG_TEST_NAME.XXXXXX")
	MG_TMP=$_mg_tmp
	trap mg_cleanup EXIT
	trap 'exit 130' INT TERM
}

# ns_add SHORT: creates namespace "mgt<id>-SHORT", prints its name; loopback up.
ns_add() {
	local ns="mgt$MG_ID-$1"
	ip netns add "$ns"
	ip -n "$ns" link set lo up
	echo "$ns"
}

# nsx NS CMD...: run in a namespace
nsx() {
	local ns=$1
	shift
	ip netns exec "$ns" "$@"
}

# veth NS1 IF1 NS2 IF2: a veth pair between two namespaces (both up).
veth() {
	local tmpa="v$MG_ID$RANDOM"
	local tmpb="w$MG_ID$RANDOM"
	ip link add "${tmpa:0:15}" type veth peer name "${tmpb:0:15}"
	ip link set "${tmpa:0:15}" netns "$1" name "$2"
	ip link set "${tmpb:0:15}" netns "$3" name "$4"
	ip -n "$1" link set "$2" up
	ip -n "$3" link set "$4" up
}

# bg_start NS LOGFILE CMD...: start a daemon in a namespace. Call it directly (not in
# $(...)): it sets BG_PID to the daemon's PID and records it for cleanup. The exit
# status lands in LOGFILE.rc when the daemon ends.
bg_start() {
	local ns=$1 log=$2
	shift 2
	rm -f "$log.rc" "$log.pid"
	(
		rc=0
		ip netns exec "$ns" sh -c 'echo $$ >"$0"; exec "$@"' "$log.pid" "$@" >"$log" 2>&1 || rc=$?
		echo $rc >"$log.rc"
	) &
	local i
	for i in $(seq 1 100); do [ -s "$log.pid" ] && break; sleep 0.02; done
	BG_PID=$(cat "$log.pid")
	echo "$BG_PID" >>"$MG_TMP/.pids"
}
# bg_wait LOGFILE SECONDS: wait for a bg_start daemon to end; prints its exit status.
bg_wait() {
	wait_until "$2" test -s "$1.rc" || return 1
	cat "$1.rc"
}
# Record a PID started another way.
bg_track() { echo "$1" >>"$MG_TMP/.pids"; }

# MG_TIME_SCALE (a whole number, default 1) multiplies every wait_until deadline and
# the few time bounds tests assert: tests/system/t_kernel_wg.sh sets it when the tests
# run in a VM under QEMU's TCG emulator, several times slower than the host.
MG_TIME_SCALE=${MG_TIME_SCALE:-1}

# wait_until SECONDS CMD...: poll (every 50 ms) until CMD succeeds (SECONDS times
# MG_TIME_SCALE at most); 1 on timeout.
wait_until() {
	local secs=$1
	shift
	local end=$(($(date +%s%N) + secs * MG_TIME_SCALE * 1000000000))
	while [ "$(date +%s%N)" -lt $end ]; do
		"$@" >/dev/null 2>&1 && return 0
		sleep 0.05
	done
	return 1
}

now_ms() { echo $(($(date +%s%N) / 1000000)); }

assert_eq() {
	[ "$1" = "$2" ] || mg_fail "${3:-values differ}: expected '$2', got '$1'"
}
assert_contains() {
	grep -qF -- "$2" <<<"$1" || mg_fail "${3:-missing text}: '$2' not in: $1"
}
assert_not_contains() {
	if grep -qF -- "$2" <<<"$1"; then mg_fail "${3:-unexpected text}: '$2' in: $1"; fi
}

mg_pass() {
	mg_log "PASS"
	exit 0
}

# --- controller-mock helpers ----------------------------------------------------------

# ctl_start NS STATEDIR LISTEN_ADDR PORT [extra args]: start the mock controller,
# wait until it answers; sets CTL_PID CTL_URL CTL_PIN ADMIN_TOKEN.
ctl_start() {
	local ns=$1 dir=$2 addr=$3 port=$4
	shift 4
	CTL_NS=$ns
	CTL_DIR=$dir
	CTL_URL="https://$addr:$port"
	# a unique hub interface: wireguard-go's sockets are shared by all namespaces
	case " $* " in
	*" --hub-ifname "* | *" --no-hub "*) ;;
	*) set -- --hub-ifname "mgh$MG_ID" "$@" ;;
	esac
	bg_start "$ns" "$dir.log" "$CTLMOCK" --state-dir "$dir" \
		--listen "$addr:$port" --public-url "$CTL_URL" "$@"
	CTL_PID=$BG_PID
	wait_until 10 test -s "$dir/admin.token" || mg_fail "controller did not start: $(cat "$dir.log")"
	wait_until 10 nsx "$ns" curl -sk -o /dev/null "$CTL_URL/api/v1/hub" ||
		mg_fail "controller not answering: $(cat "$dir.log")"
	ADMIN_TOKEN=$(cat "$dir/admin.token")
	CTL_PIN=$(cat "$dir/pin")
}

# api NS METHOD PATH [JSON]: admin API call; prints the body. The HTTP status of the
# last call is then `api_st` (a file, so it survives `x=$(api ...)` subshells), and
# $API_STATUS when api ran in this shell (not inside $(...)).
api() {
	local ns=$1 method=$2 path=$3 body=${4:-}
	local out
	out=$(nsx "$ns" curl -sk --pinnedpubkey "$CTL_PIN" -X "$method" \
		-H "Authorization: Bearer $ADMIN_TOKEN" -H 'Content-Type: application/json' \
		${body:+--data-binary "$body"} -w '\n%{http_code}' "$CTL_URL$path")
	API_STATUS=${out##*$'\n'}
	printf '%s' "$API_STATUS" >"$MG_TMP/.api_status"
	printf '%s' "${out%$'\n'*}"
}
api_st() { cat "$MG_TMP/.api_status"; }
