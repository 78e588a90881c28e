#!/usr/bin/env bash
# Command lines a user gets wrong: every one ends with the documented exit code (agent/cli/cli.h:
# 2 bad usage, 4 not enrolled), an error on the first line of stderr that names the problem,
# and nothing else happening (no crash, no sanitizer report, no state created). Run on both
# builds by ctest, so the ASan+UBSan build sees every parser's error path.
# shellcheck source=tests/integration/lib.sh
source "$(dirname "$0")/lib.sh"
mg_setup cli
CTL=$CTLMOCK

# expect CODE NEEDLE CMD...: exit code CODE, NEEDLE on stderr's first line, no sanitizer noise
expect() {
	local code=$1 needle=$2 rc=0
	shift 2
	"$@" >"$MG_TMP/out" 2>"$MG_TMP/err" </dev/null || rc=$?
	local first
	first=$(sed -n 1p "$MG_TMP/err")
	[ "$rc" -eq "$code" ] || mg_fail "'$*': exit $rc, want $code (stderr: $first)"
	assert_contains "$first" "$needle" "'$*': first line of stderr"
	if grep -qE 'AddressSanitizer|UndefinedBehaviorSanitizer|runtime error|LeakSanitizer' "$MG_TMP/err"; then
		mg_fail "'$*': sanitizer report: $(cat "$MG_TMP/err")"
	fi
	n=$((n + 1))
}
n=0
none=$MG_TMP/no-such-dir/state

mg_log "agent: bad usage exits 2 with the problem on the first line"
expect 2 'Usage: meshgate' "$MESHGATE"
expect 2 'unknown command "bogus"' "$MESHGATE" bogus
expect 2 'unknown command ""' "$MESHGATE" ''
for cmd in up run status down check cleanup; do
	expect 2 "unrecognized option '--bogus'" "$MESHGATE" "$cmd" --bogus
	expect 2 'unexpected argument "extra"' "$MESHGATE" "$cmd" extra
done
expect 2 "requires an argument" "$MESHGATE" status --state-dir
expect 2 "requires an argument" "$MESHGATE" run --state-dir
expect 2 "--ifname must be 1 to 15 characters" "$MESHGATE" up --ifname '' --connect mg1:x
expect 2 "--ifname must be 1 to 15 characters" "$MESHGATE" up --ifname 0123456789abcdef --connect mg1:x
expect 2 "--ifname must be 1 to 15 characters" "$MESHGATE" up --ifname a/b --connect mg1:x
expect 2 "not both" "$MESHGATE" up --connect mg1:x --connect-file /dev/null --state-dir "$none"
expect 2 "--wg-mode is auto, kernel or userspace" "$MESHGATE" run --wg-mode nope --state-dir "$none"
for bad in -1 0 abc 99999999999999999999 1x; do
	expect 2 "--poll-wait" "$MESHGATE" run --poll-wait "$bad" --state-dir "$none"
done
expect 2 "not enrolled yet" "$MESHGATE" up --state-dir "$none"

mg_log "agent: a missing or empty state directory is 'not enrolled' (4), never a lock error"
expect 4 "not enrolled" "$MESHGATE" run --state-dir "$none"
mkdir -m 0700 "$MG_TMP/empty"
expect 4 "not enrolled" "$MESHGATE" run --state-dir "$MG_TMP/empty"
assert_eq "$(ls -A "$MG_TMP/empty")" "" "run left nothing in an empty state directory"
[ ! -e "$MG_TMP/no-such-dir" ] || mg_fail "a command created $MG_TMP/no-such-dir"

mg_log "agent: malformed connection strings: one line, exit 1, nothing written"
for s in 'mg1:' 'mg1:!!!' 'mg2:abc' "mg1:$(printf 'A%.0s' $(seq 1 5000))" 'mg1:e30' 'mg1:bnVsbA'; do
	expect 1 "meshgate up:" "$MESHGATE" up --state-dir "$none" --connect "$s"
	assert_eq "$(wc -l <"$MG_TMP/err")" 1 "one line for connection string '${s:0:20}'"
done
[ ! -e "$MG_TMP/no-such-dir" ] || mg_fail "a refused connection string created a state directory"

mg_log "controller-mock: bad usage exits 2"
expect 2 "unrecognized option '--bogus'" "$CTL" --bogus
expect 2 'must be ADDR:PORT' "$CTL" --listen nonsense --state-dir "$MG_TMP/ctl"
expect 2 'unexpected argument' "$CTL" extra --state-dir "$MG_TMP/ctl"

mg_log "$n command lines checked"
mg_pass
