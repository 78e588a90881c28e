#!/usr/bin/env bash
# meshgate.service under a real systemd (issue 6): a Debian 12 root with systemd boots in
# systemd-nspawn inside the connector's network namespace, with this build's binary and
# the unit exactly as shipped (dist/systemd/meshgate.service, hardening included). Then:
#   - `systemctl start` returns only after READY=1, and by then the tunnel, its routes
#     and the firewall table exist; `systemctl status` shows the daemon's STATUS= line;
#     the tunnel carries traffic (userspace WireGuard under the sandbox: TUN allowed,
#     seccomp filter, CapabilityBoundingSet=CAP_NET_ADMIN only);
#   - with WatchdogSec=2s the loop's pings keep it alive (no restart in 6 s);
#   - SIGKILL: ExecStopPost `meshgate cleanup` runs, Restart=on-failure brings it back;
#   - revocation: exit 3, everything removed, and no restart (RestartPreventExitStatus).
# The root is made once with debootstrap (root namespace, Debian's archive only) and
# cached as a tarball in $MG_ROOT_CACHE (default /var/cache/meshgate-test).
. "$(dirname "$0")/../integration/lib.sh"
. "$(dirname "$0")/../integration/topo.sh"
mg_setup systemd

CACHE=${MG_ROOT_CACHE:-/var/cache/meshgate-test}
TAR=$CACHE/bookworm-systemd.tar
# what the agent links, plus systemd itself and the tools the test uses inside
PKGS=systemd,systemd-sysv,dbus,iproute2,nftables,wireguard-go,iputils-ping,libcurl4,libcjson1,libmnl0,libnftnl11,libexpat1
for t in systemd-nspawn debootstrap; do
	command -v "$t" >/dev/null || mg_fail "$t missing (scripts/deps installs it)"
done

if [ ! -s "$TAR" ]; then
	mg_log "making the Debian 12 root (debootstrap, once; cached in $TAR)"
	mkdir -p "$CACHE"
	t0=$(date +%s)
	if ! debootstrap --variant=minbase --include="$PKGS" bookworm "$MG_TMP/boot" \
		>"$MG_TMP/debootstrap.log" 2>&1; then
		if [ "${CI:-}" = true ]; then mg_fail "debootstrap: $(tail -5 "$MG_TMP/debootstrap.log")"; fi
		mg_log "SKIP: debootstrap failed (no package archive?): $(tail -2 "$MG_TMP/debootstrap.log")"
		exit 77
	fi
	tar -C "$MG_TMP/boot" -cf "$TAR.tmp" . && mv "$TAR.tmp" "$TAR"
	rm -rf "$MG_TMP/boot"
	mg_log "root made in $(($(date +%s) - t0)) s"
fi
R=$MG_TMP/root
mkdir -p "$R"
tar -C "$R" -xf "$TAR"

# the product as installed: binary, unit, defaults, route protocol names
install -m 0755 "$MESHGATE" "$R/usr/sbin/meshgate"
install -m 0644 "$MG_SRC/dist/systemd/meshgate.service" "$R/etc/systemd/system/meshgate.service"
install -m 0644 "$MG_SRC/dist/default/meshgate" "$R/etc/default/meshgate"
sed -i 's/^MESHGATE_RUN_OPTS=.*/MESHGATE_RUN_OPTS="--cloud none --log-level debug"/' "$R/etc/default/meshgate"
mkdir -p "$R/etc/iproute2/rt_protos.d"
install -m 0644 "$MG_SRC/dist/iproute2/meshgate.conf" "$R/etc/iproute2/rt_protos.d/meshgate.conf"
missing=$(chroot "$R" ldd /usr/sbin/meshgate | grep "not found" || true)
[ -z "$missing" ] || mg_fail "libraries missing in the root: $missing"
# a short watchdog, so a loop that stopped pinging would be killed within the test
mkdir -p "$R/etc/systemd/system/meshgate.service.d"
printf '[Service]\nWatchdogSec=2s\n' >"$R/etc/systemd/system/meshgate.service.d/test.conf"
echo "mgtest$MG_ID" >"$R/etc/hostname"

topo_internet
topo_site a 192.0.2 10
topo_site b 198.51.100 20
topo_route_via_connector a 198.51.100.0/24
topo_route_via_connector b 192.0.2.0/24
na=$(topo_network site-a '"subnets":["192.0.2.0/24"],"access":[{"cidr":"192.0.2.0/24","mode":"full"}]')
nb=$(topo_network site-b '"subnets":["198.51.100.0/24"],"access":[{"cidr":"198.51.100.0/24","mode":"full"}]')
topo_connector b "$nb"
out=$(api "$INET" POST "/api/v1/networks/$na/connectors" '{"name":"site-a"}')
cid=$(jq -r .id <<<"$out")
install -m 0600 /dev/null "$R/root/cs"
jq -r .connection_string <<<"$out" >"$R/root/cs"

mg_log "booting the root with systemd in site A's connector namespace"
# not through `ip netns exec`: it remounts /sys, hiding the cgroup hierarchy nspawn needs
(
	rc=0
	systemd-nspawn --register=no --keep-unit --quiet -D "$R" --capability=CAP_NET_ADMIN \
		--network-namespace-path="/run/netns/$C_a" -b --console=pipe \
		</dev/null >"$MG_TMP/nspawn.log" 2>&1 &
	echo $! >"$MG_TMP/nspawn.pid"
	wait $! || rc=$?
	echo $rc >"$MG_TMP/nspawn.log.rc"
) &
wait_until 5 test -s "$MG_TMP/nspawn.pid" || mg_fail "nspawn did not start"
NSPAWN=$(cat "$MG_TMP/nspawn.pid")
bg_track "$NSPAWN"
_init() { INIT=$(pgrep -P "$NSPAWN" | head -1) && [ -n "$INIT" ]; }
wait_until 20 _init || mg_fail "nspawn did not start: $(cat "$MG_TMP/nspawn.log")"
cx() { nsenter -t "$INIT" -a "$@"; }
_booted() { s=$(cx systemctl is-system-running 2>/dev/null); [ "$s" = running ] || [ "$s" = degraded ]; }
wait_until 60 _booted || mg_fail "the container did not boot: $(cx systemctl is-system-running 2>&1; cx systemctl --failed --no-pager 2>&1)"
shutdown_container() { cx systemctl poweroff >/dev/null 2>&1 || true; wait_until 20 test -s "$MG_TMP/nspawn.log.rc" || true; }
trap 'shutdown_container; mg_cleanup' EXIT

mg_log "enrol with the installed binary, then start the service"
cx meshgate up --connect-file /root/cs >"$MG_TMP/up.log" 2>&1 || mg_fail "up: $(cat "$MG_TMP/up.log")"
t0=$(now_ms)
cx systemctl enable --now meshgate.service >"$MG_TMP/start.log" 2>&1 ||
	mg_fail "start: $(cat "$MG_TMP/start.log"; cx journalctl -u meshgate --no-pager | tail -20)"
mg_log "systemctl start returned after $(($(now_ms) - t0)) ms (Type=notify: after READY=1)"
# checked right after start returned: READY=1 came after the work was done
routes=$(nsx "$C_a" ip route show proto 109)
[ -n "$routes" ] || mg_fail "no routes when start returned"
# the installed rt_protos.d name: `ip route show proto meshgate` inside the root
assert_eq "$(cx ip route show proto meshgate)" "$routes" "routes by protocol name"
assert_contains "$(cx ip route show dev mg0)" "proto meshgate"
nsx "$C_a" nft list table inet meshgate >/dev/null || mg_fail "no firewall table when start returned"
assert_eq "$(cx systemctl is-active meshgate)" active "service state"
st=$(cx systemctl show -p StatusText --value meshgate)
mg_log "StatusText: $st"
assert_contains "$st" "config v"
assert_contains "$(cx systemctl status --no-pager meshgate 2>&1)" "Status: \"config v"
ping_ok "$S_b" 192.0.2.10 10 || mg_fail "site B cannot reach site A's server through the service's tunnel"

mg_log "the sandbox: capabilities and the userspace WireGuard it runs"
pid=$(cx systemctl show -p MainPID --value meshgate)
bnd=$(cx awk '/^CapBnd/ {print $2}' "/proc/$pid/status")
assert_eq "$bnd" 0000000000001000 "daemon bounding set (CAP_NET_ADMIN only)"
wgpid=""
for p in $(pgrep -x wireguard-go); do
	[ "$(ip netns identify "$p" 2>/dev/null)" = "$C_a" ] && wgpid=$p
done
[ -n "$wgpid" ] || mg_fail "no userspace WireGuard under the service"
assert_eq "$(awk '/^Seccomp:/ {print $2}' "/proc/$wgpid/status")" 2 "wireguard-go runs under the seccomp filter"
assert_eq "$(awk '/^CapBnd/ {print $2}' "/proc/$wgpid/status")" 0000000000001000 "wireguard-go bounding set"
assert_eq "$(cx awk '/^NoNewPrivs:/ {print $2}' "/proc/$pid/status")" 1 "NoNewPrivileges"

mg_log "watchdog 2 s: the loop keeps pinging"
wd0=$(cx systemctl show -p WatchdogTimestampMonotonic --value meshgate)
sleep 6
assert_eq "$(cx systemctl show -p NRestarts --value meshgate)" 0 "restarts with a 2 s watchdog"
wd1=$(cx systemctl show -p WatchdogTimestampMonotonic --value meshgate)
[ "$wd1" -gt "$wd0" ] || mg_fail "watchdog timestamp did not move ($wd0 -> $wd1)"

mg_log "SIGKILL: ExecStopPost cleanup, then Restart=on-failure"
cx systemctl kill -s KILL --kill-whom=main meshgate
_restarted() { [ "$(cx systemctl show -p NRestarts --value meshgate)" = 1 ] && [ "$(cx systemctl is-active meshgate)" = active ]; }
wait_until 30 _restarted || mg_fail "not restarted: $(cx systemctl status --no-pager meshgate 2>&1 | tail -20)"
cx journalctl -u meshgate --no-pager | grep -q "Cleaned up after an unclean stop" ||
	mg_fail "ExecStopPost cleanup did not run: $(cx journalctl -u meshgate --no-pager | tail -20)"
[ -n "$(nsx "$C_a" ip route show proto 109)" ] || mg_fail "no routes after the restart"
ping_ok "$S_b" 192.0.2.10 10 || mg_fail "no traffic after the restart"

mg_log "revocation: exit 3, everything removed, not restarted"
api "$INET" DELETE "/api/v1/connectors/$cid" >/dev/null
_exited() { [ "$(cx systemctl show -p ExecMainStatus --value meshgate)" = 3 ]; }
wait_until 30 _exited || mg_fail "no exit 3 after revocation: $(cx systemctl status --no-pager meshgate 2>&1 | tail)"
sleep 3
assert_eq "$(cx systemctl show -p NRestarts --value meshgate)" 1 "restarts after revocation"
assert_eq "$(cx systemctl is-active meshgate || true)" failed "state after revocation"
assert_eq "$(nsx "$C_a" ip route show proto 109)" "" "routes after revocation"
if nsx "$C_a" nft list table inet meshgate >/dev/null 2>&1; then mg_fail "table left after revocation"; fi
mg_pass
