#!/usr/bin/env bash
# bench_fleet: meshgate-controller-mock with a fleet of agents, spoken to over TLS by
# tests/tools/mg_lpload (the agent protocol, non-blocking OpenSSL, one connection per
# poller), in a namespace of its own. For each N (default 1000 and 10000):
#   1. enrolments: 200 connectors created and enrolled through the API by one client
#      (latency of durable commits), then N by 32 clients at once: total time
#   2. long-polls: N pollers hold GET /device/config?wait=55 with their ETag; one admin
#      PATCH of their network; time from the PATCH to each answer (p50/p99/max), the admin
#      API's latency meanwhile (GET /networks back to back), refused connections, and the
#      controller's RSS idle and holding N (memory per connection)
#   3. reconnect storm: N pollers holding, the controller killed (-9) and started again;
#      every poller reconnects with the agent's backoff (jittered, capped at 2 s): time
#      from the controller answering again to the last poller holding again
#   Part 2 runs once per rendering mode in RENDER (default "lazy eager"), the controller
#   restarted between them with the same fleet: lazy (as shipped: the change marks the
#   documents, each is rendered when its long-poll is answered) and eager
#   (--eager-render: the change's own turn renders all of them, the obvious alternative)
# CTL_LOG_LEVEL=debug logs the controller's slow loop turns (where the time went);
# CTL_LOG_KEEP=DIR keeps its logs. SKIP_STORM=1 leaves out part 3.
# Usage: sudo bench/bench_fleet.sh [build-dir] [N...]
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
B=${1:-$ROOT/build}
shift || true
SIZES=("${@:-1000}")
[ $# -gt 0 ] || SIZES=(1000 10000)
CTL=$B/controller-mock/meshgate-controller-mock
LOAD=$B/tests/mg_lpload
[ -x "$CTL" ] && [ -x "$LOAD" ] || { echo "bench_fleet: build first" >&2; exit 1; }
NS=bfl$(printf '%04x' $((RANDOM)))
tmp=$(mktemp -d)
pid=
cleanup() {
	[ -n "$pid" ] && kill -9 "$pid" 2>/dev/null || true
	[ -z "${CTL_LOG_KEEP:-}" ] || cp "$tmp"/state-*.log "$CTL_LOG_KEEP/" 2>/dev/null || true
	for p in $(ip netns pids "$NS" 2>/dev/null); do kill -9 "$p" 2>/dev/null || true; done
	ip netns del "$NS" 2>/dev/null || true
	rm -rf "$tmp"
}
trap cleanup EXIT
ip netns add "$NS"
ip -n "$NS" link set lo up
ip -n "$NS" addr add 192.0.2.1/24 dev lo
ulimit -n "$(ulimit -Hn)"
URL=https://192.0.2.1:8443
now_ms() { echo $(($(date +%s%N) / 1000000)); }
rss_kib() { awk '/^VmRSS/ {print $2}' "/proc/$pid/status"; }
# CPU time the controller used so far, ms (user + system): a figure the machine's other
# load does not inflate the way it does wall-clock times
cpu_ms() { awk -v t="$(getconf CLK_TCK)" '{print int(($14 + $15) * 1000 / t)}' "/proc/$pid/stat"; }

RENDER=(${RENDER:-lazy eager})
start_ctl() { # state-dir [controller options...]
	local d=$1
	shift
	ip netns exec "$NS" "$CTL" --state-dir "$d" --listen 192.0.2.1:8443 --public-url "$URL" \
		--no-hub --log-level "${CTL_LOG_LEVEL:-warn}" "$@" >>"$d.log" 2>&1 &
	pid=$!
	for _ in $(seq 1 300); do
		ip netns exec "$NS" curl -sk -o /dev/null -m 1 "$URL/api/v1/hub" && return 0
		sleep 0.05
	done
	echo "bench_fleet: controller did not start: $(tail -3 "$d.log")" >&2
	exit 1
}
admin() {
	ip netns exec "$NS" curl -sk -X "$1" -H "Authorization: Bearer $(cat "$dir/admin.token")" \
		-H 'Content-Type: application/json' ${3:+--data-binary "$3"} "$URL$2"
}

for N in "${SIZES[@]}"; do
	dir=$tmp/state-$N
	start_ctl "$dir"
	LP=("$LOAD" --addr 192.0.2.1 --port 8443 --ca "$dir/cert.pem")
	# N connectors in one network make it active/standby: the longest lease keeps the polls held
	net=$(admin POST /api/v1/networks '{"name":"bench","subnets":["198.51.100.0/24"],"ha":{"lease_ms":60000}}' | jq -r .id)
	echo "== N=$N (load average: $(cut -d' ' -f1-3 /proc/loadavg))"
	# one client, one after the other: the latency of a durable create + enrol
	out=$(ip netns exec "$NS" "${LP[@]}" enroll --admin-token "$(cat "$dir/admin.token")" \
		--network "$net" --count 200 --out "$tmp/seq-$N")
	ms=$(jq .ms <<<"$out")
	printf 'enrolments, 1 client:   200 in %.2f s (%.2f ms each: create + enrol, two commits)\n' \
		"$(bc -l <<<"$ms/1000")" "$(bc -l <<<"$ms/200")"
	# a fleet enrolling at once: 32 clients (the commits of one loop turn share an fsync)
	out=$(ip netns exec "$NS" "${LP[@]}" enroll --admin-token "$(cat "$dir/admin.token")" \
		--network "$net" --count "$N" --parallel 32 --out "$tmp/secrets-$N")
	ms=$(jq .ms <<<"$out")
	printf 'enrolments, 32 clients: %d in %.2f s (%.0f per second), store then holding %d connectors\n' \
		"$N" "$(bc -l <<<"$ms/1000")" "$(bc -l <<<"$N*1000/$ms")" "$((N + 200))"
	k=0
	for mode in "${RENDER[@]}"; do
	k=$((k + 1))
	if [ "$k" -gt 1 ] || [ "$mode" != lazy ]; then # restart in this mode
		kill -TERM "$pid"
		wait "$pid" 2>/dev/null || true
		opt=()
		[ "$mode" = eager ] && opt=(--eager-render)
		start_ctl "$dir" "${opt[@]}"
	fi
	rss0=$(rss_kib)
	cpu0=$(cpu_ms)
	# RSS while holding: sampled every 100 ms in the background, the highest kept
	( m=0; while kill -0 "$pid" 2>/dev/null; do r=$(rss_kib) || break; [ "$r" -gt "$m" ] && m=$r && echo "$m" >"$tmp/rss"; sleep 0.1; done ) &
	sampler=$!
	# each mode's change: a subnet the network did not have (every document changes)
	out=$(ip netns exec "$NS" "${LP[@]}" hold --secrets "$tmp/secrets-$N" --conns "$N" \
		--wait 55 --timeout 120 --admin-token "$(cat "$dir/admin.token")" \
		--change-path "/api/v1/networks/$net" \
		--change-body "{\"subnets\":[\"198.51.100.0/24\",\"198.18.$k.0/24\"]}")
	kill "$sampler" 2>/dev/null || true
	wait "$sampler" 2>/dev/null || true
	rss1=$(cat "$tmp/rss")
	cpu1=$(cpu_ms)
	echo "long-polls, $mode rendering (load average: $(cut -d' ' -f1-3 /proc/loadavg)):"
	echo "  $(jq -c '{held, held_ms, refused, errors, change_status, answered, statuses}' <<<"$out")"
	echo "  change -> answer ms:   $(jq -c .wake_ms <<<"$out")"
	echo "  admin API latency ms:  $(jq -c .admin_ms <<<"$out") (GET /networks, back to back); the change itself (PATCH): $(jq .change_req_ms <<<"$out") ms"
	printf '  controller RSS: %d KiB idle, %d KiB holding %d: %.1f KiB per connection\n' \
		"$rss0" "$rss1" "$N" "$(bc -l <<<"($rss1-$rss0)/$N")"
	printf '  controller CPU: %d ms for the whole run (%.2f ms per poller: TLS, 2-3 requests, the wake)\n' \
		"$((cpu1 - cpu0))" "$(bc -l <<<"($cpu1-$cpu0)/$N")"
	done

	# reconnect storm
	if [ -n "${SKIP_STORM:-}" ]; then
		kill -TERM "$pid"
		wait "$pid" 2>/dev/null || true
		pid=
		continue
	fi
	ip netns exec "$NS" "${LP[@]}" hold --secrets "$tmp/secrets-$N" --conns "$N" --wait 55 \
		--timeout 180 --reconnect >"$tmp/storm.json" &
	storm=$!
	for _ in $(seq 1 1200); do
		[ -s "$tmp/storm.json" ] && break
		h=$(ip netns exec "$NS" ss -Htn state established '( sport = :8443 )' | wc -l)
		[ "$h" -ge "$N" ] && break
		sleep 0.1
	done
	sleep 2
	t_kill=$(now_ms)
	kill -9 "$pid"
	wait "$pid" 2>/dev/null || true
	sleep 1
	start_ctl "$dir"
	t_up=$(now_ms)
	wait "$storm" || true
	out=$(cat "$tmp/storm.json")
	down=$((t_up - t_kill))
	echo "  (load average: $(cut -d' ' -f1-3 /proc/loadavg))"
	echo "storm:       $(jq -c '{conns, refused, errors}' <<<"$out"), controller down $down ms (kill -9, start, load)"
	echo "  loss -> holding again ms: $(jq -c .back_ms <<<"$out")"
	echo "  after the controller answered again: last poller back in $(( $(jq .back_ms.max <<<"$out") - down )) ms"
	kill -TERM "$pid"
	wait "$pid" 2>/dev/null || true
	pid=
done
