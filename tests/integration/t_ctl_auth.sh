#!/usr/bin/env bash
# controller-mock: a bearer token is compared byte for byte (issue 19): extra spaces, a
# tab, trailing bytes after a NUL or a space, a second Authorization header are refused
# with 401 for the admin token and a device secret alike; the exact token works, in any
# header position, with the scheme in any case.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/ctl_common.sh"
mg_setup ctl_auth
ctl_ns_start --no-hub

call POST /api/v1/networks '{"name":"A","subnets":["198.51.100.0/24"]}'
A=$(jq -r .id <<<"$BODY")
call POST "/api/v1/networks/$A/connectors" '{"name":"a1"}'
enroll "$(jq -r .token <<<"$BODY")"
sa=$(jq -r .device_secret <<<"$BODY")

H='Host: 192.0.2.1\r\nConnection: close\r\n'
REQS=()
EXP=()
# q LABEL STATUS PATH AUTH-LINES: AUTH-LINES go between the other headers and the end
q() {
	EXP+=("$1|$2")
	REQS+=("GET $3 HTTP/1.1\\r\\n$H$4\\r\\n")
}
# and once with the Authorization line first (then it is not the block's last line)
q1() {
	EXP+=("$1 (first)|$2")
	REQS+=("GET $3 HTTP/1.1\\r\\n$4$H\\r\\n")
}
for who in admin device; do
	if [ $who = admin ]; then
		t=$ADMIN_TOKEN path=/api/v1/hub
	else
		t=$sa path=/api/v1/device/config
	fi
	for f in q q1; do
		$f "$who exact" 200 $path "Authorization: Bearer $t\\r\\n"
		$f "$who scheme in lower case" 200 $path "authorization: bearer $t\\r\\n"
		$f "$who two spaces" 401 $path "Authorization: Bearer  $t\\r\\n"
		$f "$who tab" 401 $path "Authorization: Bearer\\t$t\\r\\n"
		$f "$who NUL and junk" 401 $path "Authorization: Bearer $t\\x00junk\\r\\n"
		$f "$who trailing NUL" 401 $path "Authorization: Bearer $t\\x00\\r\\n"
		$f "$who trailing space" 401 $path "Authorization: Bearer $t \\r\\n"
		$f "$who trailing junk" 401 $path "Authorization: Bearer ${t}x\\r\\n"
		$f "$who cut short" 401 $path "Authorization: Bearer ${t%?}\\r\\n"
		$f "$who twice" 401 $path "Authorization: Bearer $t\\r\\nAuthorization: Bearer $t\\r\\n"
		$f "$who no scheme" 401 $path "Authorization: $t\\r\\n"
		$f "$who other scheme" 401 $path "Authorization: Basic $t\\r\\n"
	done
done

nsx "$CNS" python3 "$MG_SRC/tests/tools/ctl_raw.py" --url "$CTL_URL" \
	--cafile "$CTL_DIR/cert.pem" "${REQS[@]}" >"$MG_TMP/answers"
jq -r '[.status, .code, .json] | map(tostring) | join("|")' "$MG_TMP/answers" >"$MG_TMP/got"
i=0
while IFS='|' read -r gstatus gcode gjson; do
	IFS='|' read -r label status <<<"${EXP[$i]}"
	i=$((i + 1))
	if [ "$gstatus" != "$status" ] || [ "$gjson" != true ]; then
		mg_fail "$label: expected $status, got: $(sed -n "${i}p" "$MG_TMP/answers")"
	fi
	if [ "$status" = 401 ]; then
		case $label in
		admin*) [ "$gcode" = unauthorized ] || mg_fail "$label: code $gcode" ;;
		device*) [ "$gcode" = invalid_credentials ] || mg_fail "$label: code $gcode" ;;
		esac
	fi
done <"$MG_TMP/got"
assert_eq "$i" "${#REQS[@]}" "answers"
mg_log "$i requests checked"
mg_pass
