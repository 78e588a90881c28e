#!/usr/bin/env bash
# mg-labels: long
# meshgate doctor's cloud check against the fake Azure, GCP and OCI (t_doctor.sh does
# AWS in the CI core): the NIC's forwarding setting read through each driver's
# read_forwarding (Azure enableIPForwarding, GCP canIpForward, OCI skipSourceDestCheck),
# reported with the provider's own fix, and a refused read naming the permission (on Azure
# and OCI the NIC read is also how the driver learns who it is: refused, it is named in
# the identity finding).
. "$(dirname "$0")/lib.sh"
mg_setup doctor_clouds
export PYTHONDONTWRITEBYTECODE=1
PY=/usr/bin/python3

J=""
finding() {
	jq -e --arg s "$1" --arg c "${2%%/*}" --arg i "${2#*/}" --arg t "${3:-}" \
		'any(.findings[]; .severity==$s and .check==$c and .id==$i and ((.what+" "+.fix)|contains($t)))' <<<"$J" >/dev/null ||
		mg_fail "no $1 finding $2 ${3:+with '$3'}: $(jq -c '[.findings[]|select(.check=="cloud")]' <<<"$J")"
}
# vpc NAME MAC: a provider network namespace with its metadata address and a VM
vpc() {
	V=$(ns_add "v$1")
	CV=$(ns_add "c$1")
	veth "$V" s1 "$CV" eth0
	ip -n "$CV" link set eth0 address "$2"
	ip -n "$V" addr add 198.18.1.1/24 dev s1
	ip -n "$V" addr add 169.254.169.254/32 dev lo
	ip -n "$CV" addr add "$3/24" dev eth0
	ip -n "$CV" route add default via 198.18.1.1
}
cdoc() { # PROVIDER CA
	local rc=0
	J=$(nsx "$CV" "$MESHGATE" doctor --json --state-dir "$MG_TMP/none" --cloud "$1" \
		--cloud-metadata http://169.254.169.254 --cloud-api https://198.18.1.1 \
		--cloud-ca-file "$2" --timeout 3000) || rc=$?
	[ $rc = 2 ] || mg_fail "not enrolled, yet exit $rc"
}

mg_log "Azure: IP forwarding off on the NIC, then the NIC read denied"
vpc az 00:0d:3a:12:01:0a 198.18.1.10
bg_start "$V" "$MG_TMP/az.log" "$PY" "$MG_SRC/tests/fake/azure/fake_azure.py" --state-dir "$MG_TMP/az" \
	--imds-listen 169.254.169.254:80 --arm-listen 198.18.1.1:443 --arm-host 198.18.1.1 \
	--arm-san 198.18.1.1 --control-listen 127.0.0.1:8799 --retry-after 0 --lro-polls 1
wait_until 15 test -s "$MG_TMP/az/ready.json" || mg_fail "fake Azure did not start: $(cat "$MG_TMP/az.log")"
cdoc azure "$MG_TMP/az/ca.pem"
finding fail cloud/forwarding "--ip-forwarding true"
finding ok cloud/routes-readable
nsx "$V" curl -s -X POST -d '{"action":"Microsoft.Network/networkInterfaces/read"}' http://127.0.0.1:8799/deny >/dev/null
cdoc azure "$MG_TMP/az/ca.pem"
# the driver reads the NIC to learn who it is: the refusal comes as the identity's
finding fail cloud/identity "'Microsoft.Network/networkInterfaces/read'"

mg_log "GCP: canIpForward true, then false, then instances.get denied"
vpc gcp 42:01:c6:12:01:0b 198.18.1.11
echo '{"routes": []}' >"$MG_TMP/gtopo.json"
bg_start "$V" "$MG_TMP/gcp.log" "$PY" "$MG_SRC/tests/fake/gcp/fake_gcp.py" --state-dir "$MG_TMP/gcp" \
	--topology "$MG_TMP/gtopo.json" --compute-listen 198.18.1.1:443 --compute-san 198.18.1.1 \
	--control-listen 127.0.0.1:8797
wait_until 15 test -s "$MG_TMP/gcp/ready.json" || mg_fail "fake GCP did not start: $(cat "$MG_TMP/gcp.log")"
gctl() { nsx "$V" curl -s -X POST -d "$2" "http://127.0.0.1:8797$1" >/dev/null; }
cdoc gcp "$MG_TMP/gcp/ca.pem"
finding ok cloud/forwarding "canIpForward"
gctl /instance '{"name":"mg-conn-2","can_ip_forward":false}'
cdoc gcp "$MG_TMP/gcp/ca.pem"
finding fail cloud/forwarding "recreate instance"
gctl /deny '{"permission":"compute.instances.get"}'
cdoc gcp "$MG_TMP/gcp/ca.pem"
finding fail cloud/permission "compute.instances.get"

mg_log "OCI: skipSourceDestCheck false, then GetVnic denied"
vpc oci 02:00:17:12:01:0a 198.18.1.10
bg_start "$V" "$MG_TMP/oci.log" "$PY" "$MG_SRC/tests/fake/oci/fake_oci.py" --state-dir "$MG_TMP/oci" \
	--imds-listen 169.254.169.254:80 --api-listen 198.18.1.1:443 --api-san 198.18.1.1 \
	--control-listen 127.0.0.1:8798
wait_until 30 test -s "$MG_TMP/oci/ready.json" || mg_fail "fake OCI did not start: $(cat "$MG_TMP/oci.log")"
cdoc oci "$MG_TMP/oci/ca.pem"
finding fail cloud/forwarding "--skip-source-dest-check true"
nsx "$V" curl -s -X POST -d '{"operation":"GetVnic"}' http://127.0.0.1:8798/deny >/dev/null
cdoc oci "$MG_TMP/oci/ca.pem"
# GetVnic is also how the driver learns its VNIC: the refusal comes as the identity's
finding fail cloud/identity "read vnics"
mg_pass
