#!/usr/bin/env bash
# The systemd unit (dist/systemd/meshgate.service): `systemd-analyze verify` accepts it
# (and rejects a broken copy, so the check can fail), `systemd-analyze security` rates
# its exposure (printed; must stay at or under MG_UNIT_MAX_EXPOSURE, default 3.0), and
# the directives the daemon's behaviour depends on are there: Type=notify with a
# watchdog, ExecStopPost cleanup, no restart after revocation or when not enrolled (the
# exit codes are read from agent/cli/cli.h), the capability and address-family limits.
set -euo pipefail
MG_SRC=${MG_SRC:-$(cd "$(dirname "$0")/../.." && pwd)}
MG_BUILD=${MG_BUILD:-$MG_SRC/build}
UNIT=$MG_SRC/dist/systemd/meshgate.service
MAX=${MG_UNIT_MAX_EXPOSURE:-3.0}
log() { printf '[unit] %s\n' "$*" >&2; }
fail() { log "FAIL: $*"; exit 1; }
command -v systemd-analyze >/dev/null || { log "systemd-analyze missing (scripts/deps installs systemd)"; exit 1; }
[ -x "$MG_BUILD/agent/meshgate" ] || fail "no agent binary in $MG_BUILD"

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
# verify checks that ExecStart's program exists: point it at this build
sed "s#/usr/sbin/meshgate#$MG_BUILD/agent/meshgate#g" "$UNIT" >"$tmp/meshgate.service"

log "systemd-analyze verify"
out=$(systemd-analyze verify --man=no "$tmp/meshgate.service" 2>&1) || fail "verify: $out"
[ -z "$out" ] || fail "verify warnings: $out"
mkdir -p "$tmp/broken"
sed 's/^Type=notify/Tpye=notify/; s/^RestartSec=2/RestartSec=soon/' "$tmp/meshgate.service" \
	>"$tmp/broken/meshgate.service"
bad=$(systemd-analyze verify --man=no "$tmp/broken/meshgate.service" 2>&1 || true)
grep -q "Tpye" <<<"$bad" || fail "verify did not notice an unknown directive: $bad"
grep -q "Failed to parse sec value" <<<"$bad" || fail "verify did not notice a bad value: $bad"

log "systemd-analyze security"
sec=$(systemd-analyze security --offline=yes "$tmp/meshgate.service" 2>&1) || true
score=$(sed -n 's/.*Overall exposure level for meshgate.service: \([0-9.]*\).*/\1/p' <<<"$sec")
[ -n "$score" ] || fail "no exposure score: $sec"
log "exposure level: $score (0 = fully sandboxed, 10 = none; limit $MAX)"
awk -v s="$score" -v m="$MAX" 'BEGIN { exit !(s <= m) }' || fail "exposure $score above $MAX:
$(grep '✗' <<<"$sec")"

log "directives the daemon relies on"
val() { sed -n "s/^$1=//p" "$UNIT" | tail -1; }
revoked=$(sed -n 's/^[[:space:]]*EXIT_REVOKED = \([0-9]*\),.*/\1/p' "$MG_SRC/agent/cli/cli.h")
notenrolled=$(sed -n 's/^[[:space:]]*EXIT_NOTENROLLED = \([0-9]*\),.*/\1/p' "$MG_SRC/agent/cli/cli.h")
usage=$(sed -n 's/^[[:space:]]*EXIT_USAGE = \([0-9]*\),.*/\1/p' "$MG_SRC/agent/cli/cli.h")
[ -n "$revoked" ] && [ -n "$notenrolled" ] && [ -n "$usage" ] || fail "exit codes not found in agent/cli/cli.h"
[ "$(val Type)" = notify ] || fail "Type is $(val Type)"
[ "$(val NotifyAccess)" = main ] || fail "NotifyAccess is $(val NotifyAccess)"
[ -n "$(val WatchdogSec)" ] || fail "no WatchdogSec"
[ "$(val Restart)" = on-failure ] || fail "Restart is $(val Restart)"
for code in "$revoked" "$notenrolled" "$usage"; do
	grep -qw "$code" <<<"$(val RestartPreventExitStatus)" || fail "exit $code restarts (RestartPreventExitStatus=$(val RestartPreventExitStatus))"
done
grep -q "^ExecStopPost=/usr/sbin/meshgate cleanup" "$UNIT" || fail "no ExecStopPost cleanup"
# `systemctl reload` re-reads the settings file (SIGHUP), never a restart
grep -q "^ExecReload=/bin/sh -c 'kill -HUP \\\$MAINPID'\$" "$UNIT" || fail "no ExecReload sending SIGHUP"
grep -q "^ExecStart=/usr/sbin/meshgate run " "$UNIT" || fail "ExecStart is not meshgate run"
[ "$(val CapabilityBoundingSet)" = "CAP_NET_ADMIN" ] || fail "CapabilityBoundingSet=$(val CapabilityBoundingSet)"
[ "$(val RestrictAddressFamilies)" = "AF_UNIX AF_INET AF_INET6 AF_NETLINK" ] || fail "RestrictAddressFamilies=$(val RestrictAddressFamilies)"
for d in NoNewPrivileges=yes ProtectSystem=strict ProtectHome=yes PrivateTmp=yes \
	StateDirectory=meshgate SystemCallFilter=@system-service; do
	grep -qx "$d" "$UNIT" || fail "missing $d"
done
# the commands the unit runs exist and take the options it passes
"$MG_BUILD/agent/meshgate" cleanup --help >/dev/null || fail "meshgate has no cleanup command"
"$MG_BUILD/agent/meshgate" run --help | grep -q -- "--state-dir" || fail "run --state-dir"
log "PASS"
