#!/usr/bin/env bash
# controller-mock: every answer body is valid JSON (strict UTF-8) whatever the request
# carries: a non-UTF-8 id on every route (issue 19: the 404 echoed "\xff\xfe"), a
# non-UTF-8 method, path, query or body, and the error paths of the HTTP layer (404, 405,
# 401, 400, 413 before and after the body). The few refusals microhttpd makes before a
# request exists (431, 505, malformed framing) keep their documented statuses.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/ctl_common.sh"
mg_setup ctl_json
ctl_ns_start --no-hub

call POST /api/v1/networks '{"name":"A","subnets":["198.51.100.0/24"]}'
A=$(jq -r .id <<<"$BODY")
call POST "/api/v1/networks/$A/connectors" '{"name":"a1"}'
enroll "$(jq -r .token <<<"$BODY")"
sa=$(jq -r .device_secret <<<"$BODY")

H='Host: 192.0.2.1\r\nConnection: close\r\n'
AUTH="Authorization: Bearer $ADMIN_TOKEN\\r\\n"
# raw REQUEST...: one JSON line per request (tests/tools/ctl_raw.py)
raw() {
	nsx "$CNS" python3 "$MG_SRC/tests/tools/ctl_raw.py" --url "$CTL_URL" \
		--cafile "$CTL_DIR/cert.pem" "$@"
}
# req METHOD PATH [BODY]: an admin request as ctl_raw.py text
req() {
	local body=${3:-}
	printf '%s %s HTTP/1.1\\r\\n%s%sContent-Length: %s\\r\\n\\r\\n%s' "$1" "$2" "$H" "$AUTH" \
		"$(printf '%b' "$body" | wc -c)" "$body"
}
# Requests are queued with `q LABEL STATUS CODE REQUEST` and sent by one run of the tool
# (python's start is slow on a loaded machine): every answer must have STATUS and CODE
# and a JSON body.
REQS=()
EXP=()
q() {
	EXP+=("$1|$2|$3")
	REQS+=("$4")
}
BAD='%ff%fe'
# every route with an id segment, in its own method (404) and in the others (405)
for p in "networks/$BAD" "networks/$BAD/connectors" "connectors/$BAD" \
	"connectors/$BAD/disable" "connectors/$BAD/enable" "users/$BAD" "users/$BAD/disable" \
	"users/$BAD/enable" "users/$BAD/config"; do
	case $p in
	networks/*/connectors | connectors/*/disable | connectors/*/enable) own="POST" ;;
	users/*/disable | users/*/enable) own="POST" ;;
	users/*/config) own="GET" ;;
	networks/*) own="GET PATCH" ;;
	connectors/*) own="GET DELETE" ;;
	users/*) own="GET PATCH DELETE" ;;
	esac
	for m in GET POST PATCH DELETE PUT; do
		body=""
		if [ "$m" = POST ] || [ "$m" = PATCH ]; then body='{}'; fi
		if [[ " $own " == *" $m "* ]]; then
			q "$m $p" 404 not_found "$(req "$m" "/api/v1/$p" "$body")"
		else
			q "$m $p" 405 method_not_allowed "$(req "$m" "/api/v1/$p" "$body")"
		fi
	done
done
# routes without an id: a non-UTF-8 path, method, query, body or field name
q "path" 404 not_found "$(req GET "/api/v1/$BAD")"
q "path 2" 404 not_found "$(req GET "/api/v1/networks/$A/$BAD")"
q "method" 405 method_not_allowed "$(req '\xff\xfe' /api/v1/hub)"
DEV="Authorization: Bearer $sa\\r\\n"
for p in /api/v1/networks /api/v1/users "/api/v1/networks/$A" "/api/v1/networks/$A/connectors" \
	/api/v1/enroll /api/v1/device/status; do
	m=POST
	[ "$p" != "/api/v1/networks/$A" ] || m=PATCH
	for b in '{"name":"\xff\xfe"}' '{"\xff":1}' '{"name":"\xed\xa0\x80"}'; do
		r=$(req $m "$p" "$b")
		[ "$p" != /api/v1/device/status ] || r=${r/"$AUTH"/"$DEV"}
		q "$m $p $b" 400 invalid_json "$r"
	done
done
q "query" 400 invalid_request "GET /api/v1/device/config?wait=$BAD HTTP/1.1\\r\\n$H$DEV\\r\\n"
# the HTTP layer's own errors
q "no token" 401 unauthorized "GET /api/v1/hub HTTP/1.1\\r\\n$H\\r\\n"
q "unknown path" 404 not_found "$(req GET /api/v1/nowhere)"
q "bad JSON" 400 invalid_json "$(req POST /api/v1/networks '{')"
# the body limit is docs/LIMITS.md's "request body" (2 MiB); past twice that, no reading
q "Content-Length over 4 MiB" 413 body_too_large \
	"POST /api/v1/networks HTTP/1.1\\r\\n$H${AUTH}Content-Length: 5000000\\r\\n\\r\\n"
# 2.2 MB bodies: through files (far past the limit of one argument)
big=$(head -c 2200000 /dev/zero | tr '\0' a)
printf '%s' "POST /api/v1/networks HTTP/1.1\\r\\n$H${AUTH}Content-Length: 2200000\\r\\n\\r\\n$big" >"$MG_TMP/big1.req"
q "2.2 MB body" 413 body_too_large "@$MG_TMP/big1.req"
printf '%s' "POST /api/v1/networks HTTP/1.1\\r\\n$H${AUTH}Transfer-Encoding: chunked\\r\\n\\r\\n2191c0\\r\\n$big\\r\\n0\\r\\n\\r\\n" >"$MG_TMP/big2.req"
q "2.2 MB chunked body" 413 body_too_large "@$MG_TMP/big2.req"
q "after 100 Continue" 400 invalid_json \
	"POST /api/v1/networks HTTP/1.1\\r\\n$H${AUTH}Expect: 100-continue\\r\\nContent-Length: 1\\r\\n\\r\\n{"
# refused by microhttpd before a request exists (documented in docs/API.md): status only
hdr=$(head -c 70000 /dev/zero | tr '\0' h)
q "header block over the buffer" 431 - "GET /api/v1/hub HTTP/1.1\\r\\n${H}X-Big: $hdr\\r\\n\\r\\n"
q "HTTP/2.0 request line" 505 - "GET /api/v1/hub HTTP/2.0\\r\\n$H\\r\\n"
q "bad Content-Length" 400 - "POST /api/v1/networks HTTP/1.1\\r\\n${H}Content-Length: abc\\r\\n\\r\\n"
q "bad chunk" 400 - "POST /api/v1/networks HTTP/1.1\\r\\n$H${AUTH}Transfer-Encoding: chunked\\r\\n\\r\\nzz\\r\\n"

raw "${REQS[@]}" >"$MG_TMP/answers"
jq -r '[.status, .code, .json] | map(tostring) | join("|")' "$MG_TMP/answers" >"$MG_TMP/got"
i=0
while IFS='|' read -r gstatus gcode gjson; do
	IFS='|' read -r label status code <<<"${EXP[$i]}"
	i=$((i + 1))
	if [ "$gstatus" != "$status" ] || { [ "$code" != - ] &&
		{ [ "$gjson" != true ] || [ "$gcode" != "$code" ]; }; }; then
		mg_fail "$label: expected $status $code and a JSON body, got: $(sed -n "${i}p" "$MG_TMP/answers" | cut -c1-300)"
	fi
done <"$MG_TMP/got"
assert_eq "$i" "${#REQS[@]}" "answers"
mg_log "$i answers checked"
# the message names the id, with each stray byte as U+FFFD
assert_eq "$(head -1 "$MG_TMP/answers" | jq -r '.body | fromjson | .error.message')" \
	"no network "$'\uFFFD\uFFFD' "404 message"
call GET /api/v1/networks
assert_eq "$(jq '.networks | length' <<<"$BODY")" 1 "nothing was created by the sweep"

kill -0 "$CTL_PID" || mg_fail "controller died"
call GET /api/v1/hub
expect 200
mg_pass
