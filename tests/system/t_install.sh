#!/usr/bin/env bash
# install.sh end to end in a fresh Debian 12 root (issue 6, install.sh acceptance).
#
# The root reaches either the package archive (the host's network, for apt) or a
# namespace-only controller, never both, so install.sh runs in two phases:
#   1. `install.sh --deps-only` with the host's network: only apt;
#   2. in a namespace of this test (a veth to the controller's namespace, nothing else)
#      `install.sh --connect-file F --run-opts ...`: the dependencies are there, so it
#      builds, makes and installs the .deb, checks, enrols, enables the unit for the
#      next boot and - systemd not being PID 1 here - stops before starting it.
# Before phase 2 it must refuse, changing nothing: a non-root user, a foreign or too
# old os-release, a kernel config without nftables, an unreachable controller.
# After it: files in place, unit verified, state 0700/0600, the controller lists the
# connector as enrolled, `meshgate run` (as the unit runs it) comes up in the namespace,
# a second run changes nothing, `--uninstall` keeps the state, `--uninstall --purge`
# gives back the tree as it was after phase 1.
# shellcheck source-path=SCRIPTDIR disable=SC2016 # dpkg-query's ${Field} formats
. "$(dirname "$0")/lib_root.sh"
root_setup install

for t in dpkg-deb python3 setpriv; do
	command -v "$t" >/dev/null || { mg_log "SKIP: no $t (scripts/deps)"; exit 77; }
done
[ -x "$CTLMOCK" ] || mg_fail "no $CTLMOCK (build first)"
ver=$(sed -n 's/^CMAKE_PROJECT_VERSION:STATIC=//p' "$MG_BUILD/CMakeCache.txt")
SRCDIR=/usr/src/meshgate # the checkout inside the root
INSTALL=(bash "$SRCDIR/install.sh")
declare -A T # timings

# --- the controller, in a namespace; the root's host in another -----------------------
C=$(ns_add ctl)
H=$(ns_add host)
veth "$C" eth0 "$H" eth0
ip -n "$C" addr add 192.0.2.1/24 dev eth0
ip -n "$H" addr add 192.0.2.2/24 dev eth0
ctl_start "$C" "$MG_TMP/ctl" 192.0.2.1 8443 --hub-endpoint 192.0.2.1:51820
out=$(api "$C" POST /api/v1/networks '{"name":"site","subnets":["198.51.100.0/24"],"access":[{"cidr":"198.51.100.0/24","mode":"full"}]}')
assert_eq "$(api_st)" 201 "create network"
net_id=$(jq -r .id <<<"$out")
out=$(api "$C" POST "/api/v1/networks/$net_id/connectors" '{"name":"site-1"}')
assert_eq "$(api_st)" 201 "create connector"
CS=$(jq -r .connection_string <<<"$out")
TOKEN=$(jq -r .token <<<"$out")
CONN_ID=$(jq -r .id <<<"$out")
# the same string with a controller address where nothing listens
b64url_dec() {
	local s=${1#mg1:}
	s=$(tr '_-' '/+' <<<"$s")
	while [ $((${#s} % 4)) -ne 0 ]; do s="$s="; done
	base64 -d <<<"$s"
}
b64url_enc() { printf 'mg1:%s' "$(base64 -w0 | tr '/+' '_-' | tr -d '=')"; }
CS_UNREACH=$(b64url_dec "$CS" | jq -c '.url="https://192.0.2.1:9"' | b64url_enc)
# shellcheck disable=SC2317 # called by wait_until
routes_up() { ip -n "$H" route show proto 109 | grep -q 100.96.0.0/11; }

# --- a fresh root with the checkout in it ----------------------------------------------
t0=$(date +%s)
root_new
mkdir -p "$ROOT$SRCDIR"
if git -C "$MG_SRC" rev-parse --git-dir >/dev/null 2>&1; then
	# what a clone of this working tree would hold: tracked and new files, not ignored ones
	(cd "$MG_SRC" && git ls-files -z -co --exclude-standard | tar --null -T - -cf -) |
		tar -C "$ROOT$SRCDIR" -xf -
else
	tar -C "$MG_SRC" --exclude='./build*' --exclude=./.git -cf - . | tar -C "$ROOT$SRCDIR" -xf -
fi
[ -f "$ROOT$SRCDIR/install.sh" ] || mg_fail "no install.sh in the copied checkout"
(umask 077 && printf '%s\n' "$CS" >"$ROOT/root/cs" && printf '%s\n' "$CS_UNREACH" >"$ROOT/root/cs-unreach")
T[root]=$(($(date +%s) - t0))

# --- phase 1: dependencies, with the host's network (apt only) ------------------------
mg_log "phase 1: install.sh --deps-only (apt, with the host's network)"
t0=$(date +%s)
rc=0
root_run host "${INSTALL[@]}" --deps-only >"$MG_TMP/deps.log" 2>&1 || rc=$?
[ $rc -eq 0 ] || mg_fail "install.sh --deps-only: exit $rc: $(tail -20 "$MG_TMP/deps.log")"
assert_contains "$(cat "$MG_TMP/deps.log")" "dependencies: installing"
assert_contains "$(cat "$MG_TMP/deps.log")" "--deps-only: dependencies in place"
T[deps]=$(($(date +%s) - t0))
for p in $(bash "$MG_SRC/scripts/deps" --list --build); do
	st=$(root_run none dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true)
	assert_eq "$st" "install ok installed" "build dependency $p"
	# marked automatic: apt-get autoremove may take the build tools away later
	root_run none apt-mark showauto "$p" | grep -qx "$p" || mg_fail "$p not marked automatic"
done
# systemd (not running: this is a chroot) for systemd-analyze verify; its systemctl
# also lets install.sh enable the unit for the next boot, which uninstall must undo
root_run host env DEBIAN_FRONTEND=noninteractive apt-get install -q -y --no-install-recommends systemd \
	>>"$MG_TMP/deps.log" 2>&1 || mg_fail "apt-get install systemd: $(tail -5 "$MG_TMP/deps.log")"
mg_log "phase 1: $(grep 'dependencies:' "$MG_TMP/deps.log" | head -1 | cut -c1-150)..."
root_snapshot "$MG_TMP/s0"

# --- refusals: each before changing anything -------------------------------------------
# run_install NET LOG ARGS...: sets RC
run_install() {
	local net=$1 log=$2
	shift 2
	RC=0
	root_run "$net" "${INSTALL[@]}" "$@" >"$log" 2>&1 || RC=$?
}
no_secret() { # LOG: neither the connection string nor its token
	assert_not_contains "$(cat "$1")" "$CS" "connection string printed"
	assert_not_contains "$(cat "$1")" "$TOKEN" "token printed"
	assert_not_contains "$(cat "$1")" "${CS:4:40}" "part of the connection string printed"
}

mg_log "refuses a user other than root (exit 10)"
RC=0
root_run "$H" setpriv --reuid=65534 --regid=65534 --clear-groups --inh-caps=-all \
	"${INSTALL[@]}" --connect-file /root/cs >"$MG_TMP/r-user.log" 2>&1 || RC=$?
assert_eq "$RC" 10 "exit code as nobody: $(cat "$MG_TMP/r-user.log")"
assert_contains "$(cat "$MG_TMP/r-user.log")" "must run as root"

mg_log "refuses a system other than Debian 12 / Ubuntu 22.04, 24.04 (exit 11)"
printf 'NAME="Fedora Linux"\nID=fedora\nVERSION_ID=40\nPRETTY_NAME="Fedora Linux 40 (Server Edition)"\n' >"$MG_TMP/os-fedora"
printf 'NAME="Debian GNU/Linux"\nID=debian\nVERSION_ID="11"\nPRETTY_NAME="Debian GNU/Linux 11 (bullseye)"\n' >"$MG_TMP/os-deb11"
ROOT_BINDS="$MG_TMP/os-fedora:/etc/os-release" run_install "$H" "$MG_TMP/r-os.log" --connect-file /root/cs
assert_eq "$RC" 11 "exit code on Fedora: $(cat "$MG_TMP/r-os.log")"
assert_contains "$(cat "$MG_TMP/r-os.log")" "unsupported system: Fedora Linux 40 (Server Edition)"
ROOT_BINDS="$MG_TMP/os-deb11:/etc/os-release" run_install "$H" "$MG_TMP/r-os11.log" --connect-file /root/cs
assert_eq "$RC" 11 "exit code on Debian 11: $(cat "$MG_TMP/r-os11.log")"

if [ -r /proc/config.gz ] && [ ! -d /sys/module/nf_tables ]; then
	mg_log "refuses a kernel without nftables (exit 12; its config seen through /proc/config.gz)"
	zcat /proc/config.gz | sed 's/^CONFIG_NF_TABLES=.*/# CONFIG_NF_TABLES is not set/' | gzip >"$MG_TMP/config.gz"
	ROOT_BINDS="$MG_TMP/config.gz:/proc/config.gz" run_install "$H" "$MG_TMP/r-nft.log" --connect-file /root/cs
	assert_eq "$RC" 12 "exit code without nftables: $(cat "$MG_TMP/r-nft.log")"
	assert_contains "$(cat "$MG_TMP/r-nft.log")" "has no nftables"
else
	mg_log "(no kernel-without-nftables case: this kernel's nf_tables is a loaded module or its config is not in /proc)"
fi

mg_log "refuses an unreachable controller (exit 13), here on Ubuntu 24.04 (accepted)"
printf 'NAME="Ubuntu"\nID=ubuntu\nVERSION_ID="24.04"\nPRETTY_NAME="Ubuntu 24.04.1 LTS"\n' >"$MG_TMP/os-u24"
ROOT_BINDS="$MG_TMP/os-u24:/etc/os-release" run_install "$H" "$MG_TMP/r-net.log" --connect-file /root/cs-unreach
assert_eq "$RC" 13 "exit code, controller unreachable: $(cat "$MG_TMP/r-net.log")"
assert_contains "$(cat "$MG_TMP/r-net.log")" "system: Ubuntu 24.04.1 LTS"
assert_contains "$(cat "$MG_TMP/r-net.log")" "cannot reach the controller at 192.0.2.1 port 9"
# and given with --connect: not echoed either
run_install "$H" "$MG_TMP/r-net2.log" --connect "$CS_UNREACH"
assert_eq "$RC" 13 "exit code, controller unreachable (--connect)"
assert_not_contains "$(cat "$MG_TMP/r-net2.log")" "${CS_UNREACH:4:40}" "connection string printed"
mg_log "bad usage (exit 2)"
run_install "$H" "$MG_TMP/r-usage.log" --connect "$CS" --connect-file /root/cs
assert_eq "$RC" 2 "--connect with --connect-file"
no_secret "$MG_TMP/r-usage.log"
run_install "$H" "$MG_TMP/r-usage2.log" --purge
assert_eq "$RC" 2 "--purge without --uninstall"
root_snapshot "$MG_TMP/s0b"
root_diff "$MG_TMP/s0" "$MG_TMP/s0b" || mg_fail "a refused install.sh changed the root"

# --- phase 2: install, in the namespace (no path to the archive) ----------------------
mg_log "phase 2: install.sh --connect-file /root/cs --run-opts \"--cloud none\" (namespace only)"
t0=$(date +%s)
run_install "$H" "$MG_TMP/install.log" --connect-file /root/cs --run-opts "--cloud none"
T[install]=$(($(date +%s) - t0))
sed 's/^/    | /' "$MG_TMP/install.log" >&2
[ "$RC" -eq 0 ] || mg_fail "install.sh: exit $RC"
log=$(cat "$MG_TMP/install.log")
no_secret "$MG_TMP/install.log"
assert_contains "$log" "system: Debian GNU/Linux 12"
assert_contains "$log" "controller https://192.0.2.1:8443: reachable"
assert_contains "$log" "dependencies: all present"
assert_contains "$log" "build: cmake in /var/cache/meshgate-install/build"
assert_contains "$log" "package: installing meshgate $ver with apt-get"
if ! grep -q "check: meshgate check passed" <<<"$log"; then
	assert_contains "$log" "check: this meshgate has no 'check' command"
fi
assert_contains "$log" "enrolment: meshgate up"
assert_contains "$log" "Enrolled as"
assert_contains "$log" "systemd is not running here"
assert_contains "$log" "the service is not started"
assert_contains "$log" "meshgate.service enabled for the next boot"
assert_not_contains "$log" "nothing changed"
# the step lines: one line each, all with the installer's prefix
bad=$(grep -v -e '^meshgate-install: ' -e '^    ' <<<"$log" || true)
[ -z "$bad" ] || mg_fail "output lines outside the step format: $bad"

mg_log "files, package, unit, state"
st=$(root_run none dpkg-query -W -f='${Status} ${Version}' meshgate)
assert_eq "$st" "install ok installed $ver" "package status"
for f in /usr/sbin/meshgate /usr/sbin/meshgate-controller-mock /etc/default/meshgate \
	/etc/iproute2/rt_protos.d/meshgate.conf /usr/share/doc/meshgate/copyright; do
	[ -f "$ROOT$f" ] || mg_fail "missing $f"
done
unit=$(root_run none dpkg -L meshgate | grep '/systemd/system/meshgate.service$')
[ -f "$ROOT$unit" ] || mg_fail "no unit file ($unit)"
for m in "$MG_SRC"/man/*.8; do
	[ -f "$m" ] || continue
	[ -f "$ROOT/usr/share/man/man8/$(basename "$m").gz" ] || mg_fail "missing man page $(basename "$m")"
done
if [ -f "$MG_SRC/dist/bash-completion/meshgate" ]; then
	[ -f "$ROOT/usr/share/bash-completion/completions/meshgate" ] || mg_fail "no completion"
	assert_eq "$(readlink "$ROOT/usr/share/bash-completion/completions/meshgate-controller-mock")" meshgate
fi
assert_contains "$(cat "$ROOT/etc/default/meshgate")" 'MESHGATE_RUN_OPTS="--cloud none"'
# dpkg tracks every file; only the conffile holding the run options differs
out=$(root_run none dpkg --verify meshgate || true)
assert_eq "$out" "??5?????? c /etc/default/meshgate" "dpkg --verify"
[ -L "$ROOT/etc/systemd/system/multi-user.target.wants/meshgate.service" ] ||
	mg_fail "unit not enabled for the next boot"
out=$(root_run none systemd-analyze verify --man=no "$unit" 2>&1) || mg_fail "systemd-analyze verify: $out"
assert_not_contains "$out" "meshgate.service" "systemd-analyze verify"
assert_eq "$(stat -c %a "$ROOT/var/lib/meshgate")" 700 "mode of /var/lib/meshgate"
n=$(find "$ROOT/var/lib/meshgate" -mindepth 1 | wc -l)
[ "$n" -gt 0 ] || mg_fail "empty state directory"
bad=$(find "$ROOT/var/lib/meshgate" -mindepth 1 \( -type f ! -perm 600 -o ! -type f \) -printf '%m %p\n')
[ -z "$bad" ] || mg_fail "state not all 0600 files: $bad"
bad=$(find "$ROOT/tmp" "$ROOT/root" -mindepth 1 -newer "$MG_TMP/s0" 2>/dev/null || true)
[ -z "$bad" ] || mg_fail "install.sh left files behind: $bad"

mg_log "the controller lists the connector as enrolled"
st=$(root_run "$H" meshgate status --json)
dev=$(jq -r .device_id <<<"$st")
assert_eq "$(jq -r .enrolled <<<"$st")" true "meshgate status: enrolled"
c=$(api "$C" GET "/api/v1/connectors/$CONN_ID")
assert_eq "$(jq -r .state <<<"$c")" enrolled "connector state on the controller"
assert_eq "$(jq -r .id <<<"$c")" "$dev" "the agent's device id"

# --- the service's command, run by hand (no systemd here) -----------------------------
# As the unit runs it: /etc/default/meshgate's options, a NOTIFY_SOCKET (a datagram
# socket of this test); READY=1 once the tunnel, routes and firewall are there.
mg_log "meshgate run as the unit starts it, with a NOTIFY_SOCKET"
sock=/tmp/mgt-notify.sock
cat >"$MG_TMP/notify.py" <<'EOF'
import os, socket, sys
path, out = sys.argv[1], sys.argv[2]
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(path)
os.chmod(path, 0o777)
with open(out, "a", buffering=1) as f:
    while True:
        d = s.recv(4096).decode(errors="replace")
        for line in d.splitlines():
            f.write(line + "\n")
EOF
bg_start "$C" "$MG_TMP/notify.log" python3 "$MG_TMP/notify.py" "$ROOT$sock" "$MG_TMP/notify.out"
wait_until 5 test -S "$ROOT$sock" || mg_fail "notify socket: $(cat "$MG_TMP/notify.log")"
(
	root_run "$H" bash -c '
		set -a; . /etc/default/meshgate; set +a
		# the daemon ends on SIGTERM, as systemctl stop would do it
		NOTIFY_SOCKET='"$sock"' meshgate run --state-dir /var/lib/meshgate $MESHGATE_RUN_OPTS &
		echo $! >/tmp/mgt-run.pid
		wait $!' >"$MG_TMP/run.log" 2>&1
	echo $? >"$MG_TMP/run.rc"
) &
bg_track $!
wait_until 5 test -s "$ROOT/tmp/mgt-run.pid" || mg_fail "meshgate run did not start: $(cat "$MG_TMP/run.log")"
# the agent speaks the notify protocol itself (no libsystemd): it names $NOTIFY_SOCKET
if grep -qa NOTIFY_SOCKET "$ROOT/usr/sbin/meshgate"; then
	wait_until 30 grep -qx READY=1 "$MG_TMP/notify.out" ||
		mg_fail "no READY=1 within 30 s: $(cat "$MG_TMP/notify.out" 2>/dev/null); $(tail -20 "$MG_TMP/run.log")"
	routes=$(nsx "$H" ip route show proto 109)
	assert_contains "$routes" "100.96.0.0/11" "routes at READY"
	mg_log "READY=1 came; notifications: $(tr '\n' ' ' <"$MG_TMP/notify.out" | cut -c1-200)"
else
	mg_log "(this agent has no sd_notify yet: waiting for its applied config instead of READY=1)"
	wait_until 30 routes_up ||
		mg_fail "meshgate run never applied its routes: $(tail -20 "$MG_TMP/run.log")"
fi
[ -s "$ROOT/etc/sysctl.d/90-meshgate.conf" ] || mg_fail "no sysctl drop-in after meshgate run"
pid=$(cat "$ROOT/tmp/mgt-run.pid")
# the PID inside the root's PID namespace: find the process by its root and name
for p in $(root_pids); do
	[ "$(cat "/proc/$p/comm" 2>/dev/null)" = meshgate ] && kill -TERM "$p"
done
wait_until 15 test -s "$MG_TMP/run.rc" || mg_fail "meshgate run did not stop on SIGTERM"
assert_eq "$(cat "$MG_TMP/run.rc")" 0 "meshgate run's exit status after SIGTERM (pid $pid in the root)"
rm -f "$ROOT/tmp/mgt-run.pid" "$ROOT$sock"

# --- a second run changes nothing (this time as `curl ... | bash -s --` runs it) --------
mg_log "a second run, from a pipe with --source, changes nothing"
root_snapshot "$MG_TMP/s1"
t0=$(date +%s)
RC=0
root_run "$H" bash -c 'cat /usr/src/meshgate/install.sh | bash -s -- --source /usr/src/meshgate \
	--connect-file /root/cs --run-opts "--cloud none"' >"$MG_TMP/install2.log" 2>&1 || RC=$?
T[rerun]=$(($(date +%s) - t0))
sed 's/^/    | /' "$MG_TMP/install2.log" >&2
[ "$RC" -eq 0 ] || mg_fail "second install.sh: exit $RC"
log=$(cat "$MG_TMP/install2.log")
assert_contains "$log" "package: meshgate $ver already installed, identical"
assert_contains "$log" "run options: unchanged"
assert_contains "$log" "enrolment: already enrolled as $dev"
assert_contains "$log" "meshgate.service already enabled for the next boot"
assert_contains "$log" "nothing changed"
root_snapshot "$MG_TMP/s2"
# the build directory is install.sh's cache: cpack writes a new .deb (same files)
grep -v ' \./var/cache/meshgate-install' "$MG_TMP/s1" >"$MG_TMP/s1f"
grep -v ' \./var/cache/meshgate-install' "$MG_TMP/s2" >"$MG_TMP/s2f"
root_diff "$MG_TMP/s1f" "$MG_TMP/s2f" || mg_fail "the second run changed the root (< before, > after)"
mg_log "from a pipe without --source: refused (exit 14), nothing changed"
RC=0
root_run "$H" bash -c 'cat /usr/src/meshgate/install.sh | bash -s -- --connect-file /root/cs' \
	>"$MG_TMP/pipe.log" 2>&1 || RC=$?
assert_eq "$RC" 14 "exit code from a pipe without --source: $(cat "$MG_TMP/pipe.log")"
assert_contains "$(cat "$MG_TMP/pipe.log")" "give --source URL"
root_snapshot "$MG_TMP/s2b"
grep -v ' \./var/cache/meshgate-install' "$MG_TMP/s2b" >"$MG_TMP/s2bf"
root_diff "$MG_TMP/s2f" "$MG_TMP/s2bf" || mg_fail "a refused run changed the root"
cp "$ROOT/var/cache/meshgate-install/build/meshgate_${ver}_"*.deb "$MG_TMP/meshgate.deb"

# --- uninstall: state kept; then purge: the tree after phase 1 -------------------------
mg_log "install.sh --uninstall keeps the state"
t0=$(date +%s)
run_install "$H" "$MG_TMP/uninstall.log" --uninstall
sed 's/^/    | /' "$MG_TMP/uninstall.log" >&2
[ "$RC" -eq 0 ] || mg_fail "install.sh --uninstall: exit $RC"
T[uninstall]=$(($(date +%s) - t0))
log=$(cat "$MG_TMP/uninstall.log")
assert_contains "$log" "meshgate down:"
assert_contains "$log" "kept /var/lib/meshgate"
st=$(root_run none dpkg-query -W -f='${Status}' meshgate)
assert_eq "$st" "deinstall ok config-files" "package after --uninstall"
[ -f "$ROOT/var/lib/meshgate/private.key" ] || mg_fail "--uninstall removed the identity"
[ ! -e "$ROOT/etc/sysctl.d/90-meshgate.conf" ] || mg_fail "sysctl drop-in left by --uninstall"
[ ! -e "$ROOT/etc/systemd/system/multi-user.target.wants/meshgate.service" ] || mg_fail "unit still enabled"
[ ! -e "$ROOT/var/cache/meshgate-install" ] || mg_fail "build cache left by --uninstall"
[ -z "$(nsx "$H" ip route show proto 109)" ] || mg_fail "meshgate routes left"
if nsx "$H" nft list table inet meshgate >/dev/null 2>&1; then mg_fail "nftables table left"; fi

mg_log "install.sh again without a connection string re-uses the kept identity"
t0=$(date +%s)
run_install "$H" "$MG_TMP/reinstall.log" --run-opts "--cloud none"
[ "$RC" -eq 0 ] || mg_fail "reinstall: exit $RC: $(cat "$MG_TMP/reinstall.log")"
assert_contains "$(cat "$MG_TMP/reinstall.log")" "package: installing meshgate $ver"
assert_contains "$(cat "$MG_TMP/reinstall.log")" "enrolment: already enrolled as $dev"
[ -L "$ROOT/etc/systemd/system/multi-user.target.wants/meshgate.service" ] ||
	mg_fail "reinstall: unit not enabled for the next boot"

T[reinstall]=$(($(date +%s) - t0))
mg_log "install.sh --uninstall --purge: the tree as after phase 1"
t0=$(date +%s)
run_install "$H" "$MG_TMP/purge.log" --uninstall --purge
sed 's/^/    | /' "$MG_TMP/purge.log" >&2
[ "$RC" -eq 0 ] || mg_fail "install.sh --uninstall --purge: exit $RC"
assert_contains "$(cat "$MG_TMP/purge.log")" "/var/lib/meshgate removed"
T[purge]=$(($(date +%s) - t0))
root_snapshot "$MG_TMP/s3"
root_diff "$MG_TMP/s0" "$MG_TMP/s3" || mg_fail "left behind after --uninstall --purge (< after phase 1, > now)"
st=$(root_run none dpkg-query -W -f='${Status}' meshgate 2>/dev/null || true)
case $st in "" | "unknown ok not-installed" | "purge ok not-installed") ;; *) mg_fail "meshgate after purge: $st" ;; esac
run_install "$H" "$MG_TMP/purge2.log" --uninstall --purge
assert_eq "$RC" 0 "a second --uninstall --purge"
assert_contains "$(cat "$MG_TMP/purge2.log")" "meshgate is not installed"

# --- --deb: the package as given, a connection string on the command line ------------
mg_log "install.sh --deb FILE --connect STRING --no-start (a second connector)"
out=$(api "$C" POST "/api/v1/networks/$net_id/connectors" '{"name":"site-2"}')
assert_eq "$(api_st)" 201 "create connector 2"
CS=$(jq -r .connection_string <<<"$out")
TOKEN=$(jq -r .token <<<"$out")
CONN_ID=$(jq -r .id <<<"$out")
cp "$MG_TMP/meshgate.deb" "$ROOT/root/meshgate.deb"
t0=$(date +%s)
run_install "$H" "$MG_TMP/deb.log" --deb /root/meshgate.deb --connect "$CS" --no-start
T[deb]=$(($(date +%s) - t0))
sed 's/^/    | /' "$MG_TMP/deb.log" >&2
[ "$RC" -eq 0 ] || mg_fail "install.sh --deb: exit $RC"
log=$(cat "$MG_TMP/deb.log")
no_secret "$MG_TMP/deb.log"
assert_not_contains "$log" "build:" "--deb built anyway"
assert_contains "$log" "package: installing meshgate $ver"
assert_contains "$log" "Enrolled as"
[ ! -e "$ROOT/etc/systemd/system/multi-user.target.wants/meshgate.service" ] ||
	mg_fail "--no-start enabled the unit"
assert_eq "$(api "$C" GET "/api/v1/connectors/$CONN_ID" | jq -r .state)" enrolled "connector 2 state"
run_install "$H" "$MG_TMP/purge3.log" --uninstall --purge
[ "$RC" -eq 0 ] || mg_fail "install.sh --uninstall --purge after --deb: exit $RC: $(cat "$MG_TMP/purge3.log")"
rm -f "$ROOT/root/meshgate.deb"
root_snapshot "$MG_TMP/s4"
root_diff "$MG_TMP/s0" "$MG_TMP/s4" || mg_fail "left behind after --deb and --uninstall --purge"

# --- on a booted systemd: enable --now, left alone, restarted for new options, removed ---
boot_part() {
	local notify=1 dropin cs3 id3 mp mp2 out
	mg_log "on a booted systemd (systemd-nspawn in the namespace): install.sh starts the service"
	# nspawn leaves /proc/sys/net read-only when it is given a network namespace by
	# path; on a real host it is writable (forwarding, rp_filter), so make it so here
	root_in sh -c 'mount --bind /proc/sys/net /proc/sys/net &&
		mount -o remount,bind,rw /proc/sys/net' || mg_fail "cannot make /proc/sys/net writable in the container"
	if ! grep -qa NOTIFY_SOCKET "$MESHGATE"; then
		# this tree's agent sends no READY=1: Type=notify would wait 90 s and fail
		notify=0
		dropin='[Service]\nType=exec\n'
		"$MESHGATE" cleanup --help >/dev/null 2>&1 || dropin="${dropin}ExecStopPost=\n"
		mg_log "(this agent has no sd_notify: a runtime drop-in makes the unit Type=exec here)"
		root_in sh -c "mkdir -p /run/systemd/system/meshgate.service.d &&
			printf '$dropin' >/run/systemd/system/meshgate.service.d/50-test.conf"
	fi
	out=$(api "$C" POST "/api/v1/networks/$net_id/connectors" '{"name":"site-3"}')
	assert_eq "$(api_st)" 201 "create connector 3"
	cs3=$(jq -r .connection_string <<<"$out")
	id3=$(jq -r .id <<<"$out")
	(umask 077 && printf '%s\n' "$cs3" >"$ROOT/root/cs3")
	RC=0
	root_in bash "$SRCDIR/install.sh" --connect-file /root/cs3 --run-opts "--cloud none" \
		>"$MG_TMP/b-install.log" 2>&1 || RC=$?
	sed 's/^/    | /' "$MG_TMP/b-install.log" >&2
	[ "$RC" -eq 0 ] || mg_fail "install.sh under systemd: exit $RC"
	assert_contains "$(cat "$MG_TMP/b-install.log")" "service: systemctl enable --now meshgate.service"
	assert_eq "$(root_in systemctl is-active meshgate.service)" active "service state"
	assert_eq "$(root_in systemctl is-enabled meshgate.service)" enabled "enabled at boot"
	if [ $notify -eq 1 ]; then
		# Type=notify: start returned after READY=1, so the routes are there already
		assert_contains "$(nsx "$H" ip route show proto 109)" "100.96.0.0/11" "routes when start returned"
	else
		wait_until 15 routes_up || mg_fail "the service never installed its routes"
	fi
	assert_eq "$(api "$C" GET "/api/v1/connectors/$id3" | jq -r .state)" enrolled "connector 3 state"
	mp=$(root_in systemctl show -p MainPID --value meshgate.service)

	RC=0
	root_in bash "$SRCDIR/install.sh" --connect-file /root/cs3 --run-opts "--cloud none" \
		>"$MG_TMP/b-install2.log" 2>&1 || RC=$?
	[ "$RC" -eq 0 ] || mg_fail "second install.sh under systemd: exit $RC: $(cat "$MG_TMP/b-install2.log")"
	assert_contains "$(cat "$MG_TMP/b-install2.log")" "meshgate.service already running: left alone"
	assert_contains "$(cat "$MG_TMP/b-install2.log")" "nothing changed"
	assert_eq "$(root_in systemctl show -p MainPID --value meshgate.service)" "$mp" "MainPID after a rerun"

	RC=0
	root_in bash "$SRCDIR/install.sh" --run-opts "--cloud none --log-level debug" \
		>"$MG_TMP/b-install3.log" 2>&1 || RC=$?
	[ "$RC" -eq 0 ] || mg_fail "install.sh with new options: exit $RC: $(cat "$MG_TMP/b-install3.log")"
	assert_contains "$(cat "$MG_TMP/b-install3.log")" "restarting meshgate.service for the new run options"
	mp2=$(root_in systemctl show -p MainPID --value meshgate.service)
	if [ "$mp2" = "$mp" ] || [ "$mp2" = 0 ]; then mg_fail "not restarted: MainPID $mp -> $mp2"; fi
	assert_eq "$(root_in systemctl is-active meshgate.service)" active "service state after the restart"
	assert_contains "$(root_in cat /proc/"$mp2"/cmdline | tr '\0' ' ')" "--log-level debug"

	RC=0
	root_in bash "$SRCDIR/install.sh" --uninstall --purge >"$MG_TMP/b-purge.log" 2>&1 || RC=$?
	sed 's/^/    | /' "$MG_TMP/b-purge.log" >&2
	[ "$RC" -eq 0 ] || mg_fail "install.sh --uninstall --purge under systemd: exit $RC"
	assert_contains "$(cat "$MG_TMP/b-purge.log")" "meshgate.service stopped and disabled"
	[ "$(root_in systemctl is-active meshgate.service)" != active ] || mg_fail "still running"
	[ -z "$(nsx "$H" ip route show proto 109)" ] || mg_fail "routes left after --uninstall"
	if nsx "$H" nft list table inet meshgate >/dev/null 2>&1; then mg_fail "nftables table left"; fi
	[ ! -e "$ROOT/var/lib/meshgate" ] || mg_fail "/var/lib/meshgate left"
	rm -f "$ROOT/root/cs3"
	out=$(cd "$ROOT" && find . -xdev -name '*meshgate*' ! -path ".$SRCDIR*" ! -path './var/log/*' | head)
	[ -z "$out" ] || mg_fail "left on the booted system: $out"
}
t0=$(date +%s)
if ! command -v systemd-nspawn >/dev/null; then
	mg_log "(no systemd-nspawn: the booted-systemd part is skipped; scripts/deps installs systemd-container)"
elif ! root_boot "$H"; then
	mg_log "(systemd did not boot in systemd-nspawn here: the booted-systemd part is skipped): $(tail -3 "$MG_TMP/boot.log")"
	root_halt
else
	boot_part
	root_halt
fi
T[systemd]=$(($(date +%s) - t0))

mg_log "timings: root ${T[root]} s, deps ${T[deps]} s, install (build, package, enrol) ${T[install]} s, second run ${T[rerun]} s, uninstall ${T[uninstall]} s, reinstall with the kept identity ${T[reinstall]} s, purge ${T[purge]} s, --deb install ${T[deb]} s, booted systemd part ${T[systemd]} s"
mg_pass
