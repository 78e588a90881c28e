#!/usr/bin/env bash
# A connector on an instance of a uniform VM scale set, against the fake Azure (issue 12:
# "VM scale-set instances too"): IMDS names the instance under the scale set
# (.../virtualMachineScaleSets/vmss-gw/virtualMachines/3), whose VM and NIC Azure serves only
# under that path (the plain virtualMachines/networkInterfaces paths answer 404). The
# connector finds its NIC there (api-version 2018-10-01), never tries to PUT it: while the
# scale set's model leaves IP forwarding off it says so and how to fix it, and writes no
# route; once forwarding is on, its routes appear in the VNet's tables with its address.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/topo.sh"
mg_setup cloud_azure_vmss
FAKE=$MG_SRC/tests/fake/azure
export PYTHONDONTWRITEBYTECODE=1
PY=/usr/bin/python3
[ -x "$PY" ] || PY=$(command -v python3) || mg_fail "python3 missing (scripts/deps)"

topo_internet
V=$(ns_add vnet)
CV=$(ns_add cv)
_inet_port "$V" wan 203.0.113.41
nsx "$V" sysctl -qw net.ipv4.ip_forward=1 net.ipv4.conf.all.rp_filter=0 net.ipv4.conf.default.rp_filter=0
nsx "$V" nft add table ip vnetnat
nsx "$V" nft add chain ip vnetnat post '{ type nat hook postrouting priority srcnat; policy accept; }'
nsx "$V" nft add rule ip vnetnat post oifname wan masquerade
veth "$V" s1 "$CV" eth0
ip -n "$CV" link set eth0 address 00:0d:3a:12:01:0a
ip -n "$V" addr add 198.18.1.1/24 dev s1
ip -n "$V" addr add 169.254.169.254/32 dev lo
ip -n "$CV" addr add 198.18.1.10/24 dev eth0
ip -n "$CV" route add default via 198.18.1.1

# the default topology with vm-gw-1 as instance 3 of the scale set vmss-gw
cat >"$MG_TMP/topo.json" <<'EOF'
{"vms": [{"name": "vmss-gw_3", "scale_set": "vmss-gw", "instance_id": "3",
  "nic": {"name": "vmss-gw-nic", "mac": "00-0D-3A-12-01-0A", "ip": "198.18.1.10", "subnet": "snet-gw"},
  "system_identity": {"principal_id": "5e6f7a8b-9c0d-4e1f-8a2b-3c4d5e6f7a8c",
                      "client_id": "1a2b3c4d-5e6f-4a7b-8c9d-0e1f2a3b4c5e"},
  "user_identities": []}],
 "default_vm": "vmss-gw_3"}
EOF
bg_start "$V" "$MG_TMP/fake.log" "$PY" "$FAKE/fake_azure.py" --state-dir "$MG_TMP/fake" \
	--topology "$MG_TMP/topo.json" --imds-listen 169.254.169.254:80 --arm-listen 198.18.1.1:443 \
	--arm-host 198.18.1.1 --arm-san 198.18.1.1 --control-listen 127.0.0.1:8799 --retry-after 0 --lro-polls 1
wait_until 15 test -s "$MG_TMP/fake/ready.json" || mg_fail "fake Azure did not start: $(cat "$MG_TMP/fake.log")"
ctl() { nsx "$V" curl -s -X "${2:-GET}" ${3:+-d "$3"} "http://127.0.0.1:8799$1"; }
calls() { ctl /counters | jq -r --arg k "$1" '.calls[$k] // 0'; }
routes_of() {
	ctl /state | jq -c --arg t "$1" '[.route_tables[]|select(.name==$t)|.properties.routes[]|
		{name, dst: .properties.addressPrefix, ip: .properties.nextHopIpAddress}]|sort_by(.dst)'
}
ip -n "$V" rule add iif s1 to 203.0.113.0/24 lookup main pref 100

nv=$(topo_network vnet '"subnets":["198.18.0.0/16"],"manage_cloud_routes":true,"access":[{"cidr":"198.18.0.0/16","mode":"full"}]')
C_v=$CV
topo_connector v "$nv" --cloud azure --cloud-metadata http://169.254.169.254 --cloud-api https://198.18.1.1 \
	--cloud-ca-file "$MG_TMP/fake/ca.pem" --cloud-interval 5

mg_log "forwarding off in the scale set's model: diagnosed, the NIC is not written, no route"
_diag() { jq -e '.daemon.cloud.state|test("scale set vmss-gw.*enableIPForwarding")' "$STATE_v/status.json" >/dev/null 2>&1; }
wait_until 20 _diag || mg_fail "no scale-set forwarding diagnosis: $(jq -c .daemon.cloud "$STATE_v/status.json" 2>&1) $(tail -5 "$MG_TMP/run-v.log")"
mg_log "status: $(jq -r .daemon.cloud.state "$STATE_v/status.json")"
assert_eq "$(jq -r '.daemon.cloud|[.instance,.nic,.network]|join(" ")' "$STATE_v/status.json")" \
	"vmss-gw_3 vmss-gw-nic vnet-mesh" "status identity of the scale-set instance"
[ "$(calls "GET vmssVirtualMachines")" -ge 1 ] && [ "$(calls "GET vmssNetworkInterfaces")" -ge 1 ] ||
	mg_fail "the scale-set paths were not used: $(ctl /counters | jq -c .calls)"
assert_eq "$(ctl /counters | jq '.mutating')" 0 "writes while forwarding is off"

mg_log "forwarding turned on in the model: the routes appear, to this instance's address"
ctl /nic/ip-forwarding POST '{"nic":"vmss-gw-nic","enabled":true}' >/dev/null
_routes() {
	for t in rt-gw rt-app; do
		routes_of $t | jq -e 'any(.dst=="100.96.0.0/11" and .ip=="198.18.1.10")' >/dev/null || return 1
	done
}
wait_until 20 _routes || mg_fail "no routes after forwarding came on: $(routes_of rt-gw) $(routes_of rt-app) $(tail -5 "$MG_TMP/run-v.log")"
_fwd() { jq -e '.daemon.cloud.forwarding==true' "$STATE_v/status.json" >/dev/null 2>&1; }
wait_until 10 _fwd || mg_fail "status does not show forwarding on: $(jq -c .daemon.cloud "$STATE_v/status.json")"
assert_eq "$(ctl /counters | jq '[.calls|to_entries[]|select(.key|test("^(PUT|DELETE|PATCH) (networkInterfaces|vmss)"))|.value]|add // 0')" \
	0 "NIC writes"
assert_eq "$(ctl /counters | jq '[.calls|to_entries[]|select(.key|test("^GET (virtualMachines|networkInterfaces)$"))|.value]|add // 0')" \
	0 "reads under the plain VM/NIC paths"
mg_pass
