# shellcheck shell=bash
# Helpers for the controller-mock tests (sourced after lib.sh; not a test itself).

# call METHOD PATH [JSON]: admin API call; sets BODY and API_STATUS.
call() {
	api "$CTL_NS" "$@" >"$MG_TMP/body"
	BODY=$(cat "$MG_TMP/body")
}

# expect STATUS [CODE]: the last call answered STATUS (and error code CODE).
expect() {
	assert_eq "$API_STATUS" "$1" "HTTP status (body: $BODY)"
	if [ -n "${2:-}" ]; then
		assert_eq "$(jq -r .error.code <<<"$BODY")" "$2" "error code (body: $BODY)"
	fi
}

# dev SECRET METHOD PATH [curl args...]: device API call; sets BODY, API_STATUS, ETAG.
dev() {
	local secret=$1 method=$2 path=$3
	shift 3
	local out
	out=$(nsx "$CTL_NS" curl -sk --pinnedpubkey "$CTL_PIN" -X "$method" \
		-H "Authorization: Bearer $secret" -D "$MG_TMP/hdr" -w '\n%{http_code}' "$@" \
		"$CTL_URL$path")
	API_STATUS=${out##*$'\n'}
	BODY=${out%$'\n'*}
	ETAG=$(sed -n 's/^[Ee][Tt][Aa][Gg]: *"\([0-9]*\)".*/\1/p' "$MG_TMP/hdr" | tr -d '\r')
}

# enroll TOKEN [PUBKEY]: POST /enroll; sets BODY, API_STATUS.
enroll() {
	local pub=${2:-$(wg genkey | wg pubkey)}
	local out
	out=$(nsx "$CTL_NS" curl -sk --pinnedpubkey "$CTL_PIN" -X POST \
		-H 'Content-Type: application/json' -w '\n%{http_code}' \
		--data-binary "{\"token\":\"$1\",\"public_key\":\"$pub\",\"hostname\":\"h-$RANDOM\",\"agent_version\":\"test\"}" \
		"$CTL_URL/api/v1/enroll")
	API_STATUS=${out##*$'\n'}
	BODY=${out%$'\n'*}
}

# ctl_ns_start: a namespace with the controller on 192.0.2.1:8443.
ctl_ns_start() {
	CNS=$(ns_add ctl)
	ip -n "$CNS" addr add 192.0.2.1/24 dev lo
	ctl_start "$CNS" "$MG_TMP/state" 192.0.2.1 8443 "$@"
}

# ctl_stop: SIGTERM the controller and wait for it to exit.
ctl_stop() {
	kill -TERM "$CTL_PID"
	for _ in $(seq 1 50); do kill -0 "$CTL_PID" 2>/dev/null || return 0; sleep 0.1; done
	mg_fail "controller did not stop on SIGTERM"
}

# ctl_dump [STATEDIR]: the controller's store as one JSON document (--dump-store).
ctl_dump() {
	"$CTLMOCK" --state-dir "${1:-$CTL_DIR}" --dump-store
}
