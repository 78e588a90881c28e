#!/usr/bin/env bash
# t_cloud_templates: the cloud/ templates are valid and say what they should.
#
#  1. every cloud/*/user-data.yaml passes cloud-init's own schema validator (`cloud-init
#     schema`, run from the cloud-init .deb unpacked under the build directory, never
#     installed), as written and as rendered by cloud/render-user-data.sh; the validator
#     is shown to reject broken cloud-configs, so this step can fail
#  2. every JSON and YAML file parses (CloudFormation short-form tags allowed); the
#     structure: SourceDestCheck false, ManageRoutes parameter and condition, NoEcho,
#     enableIPForwarding and the custom role, --can-ip-forward, Oracle's statements;
#     every file says at its top what it creates and grants (tests/system/cloud_checks.py)
#  3. the EC2 actions in both AWS policies equal those the code calls (aws_ec2_call /
#     route_call in agent/cloud/*.c), and the Azure custom role's actions equal the
#     driver's table (az_permissions in agent/cloud/azure/*.c), no wildcards; mutated
#     copies must fail the check
#  4. no literal connection string or key anywhere; the user data reads the connection
#     from a root-only 0600 file passed with --connect-file
#  5. the shell scripts (and the first-boot script inside the user data) pass bash/sh -n
#     and shellcheck; create-instance.sh --help and --dry-run work and keep the secret off
#     the command lines
#
# Needs: python3 with yaml, jsonschema, jinja2, configobj, jsonpatch, requests, netifaces
# (scripts/deps), shellcheck, and apt-get to fetch the cloud-init package once (cached in
# $MG_BUILD/cache). Without them: exit 77 (skip), except under CI=true, where it fails.
# Touches no network but the package download, and nothing outside its temp directory
# and that cache.
set -euo pipefail

MG_SRC=${MG_SRC:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}
MG_BUILD=${MG_BUILD:-$MG_SRC/build}
CLOUD=$MG_SRC/cloud
NAME=t_cloud_templates

checks=0
fails=0
tmp=$(mktemp -d "${TMPDIR:-/tmp}/mg-cloudtpl.XXXXXX")
cleanup() {
	local rc=$?
	rm -rf "$tmp"
	exit $rc
}
trap cleanup EXIT
trap 'exit 130' INT TERM

ok() {
	checks=$((checks + 1))
	echo "ok: $*"
}
bad() {
	checks=$((checks + 1))
	fails=$((fails + 1))
	echo "FAIL: $*"
}
check() { # check MESSAGE CMD...: ok when CMD succeeds
	local msg=$1
	shift
	if "$@" >"$tmp/out" 2>&1; then ok "$msg"; else
		bad "$msg"
		sed 's/^/    /' "$tmp/out"
	fi
}
check_fails() { # check_fails MESSAGE CMD...: ok when CMD fails
	local msg=$1
	shift
	if "$@" >"$tmp/out" 2>&1; then
		bad "$msg"
		sed 's/^/    /' "$tmp/out"
	else ok "$msg"; fi
}
# a missing tool: skip on a developer's machine, fail in CI (scripts/deps installs it)
unavailable() {
	if [ "${CI:-}" = true ]; then
		echo "FAIL: $NAME: $* (CI=true: not skipped; scripts/deps installs the tools)" >&2
		exit 1
	fi
	echo "SKIP: $NAME: $*" >&2
	exit 77
}

# Debian's python3, whose modules scripts/deps installs (not a pyenv or venv shim)
PY=/usr/bin/python3
[ -x "$PY" ] || PY=$(command -v python3 || true)
[ -n "$PY" ] || unavailable "python3 not found"
"$PY" -c 'import yaml, jsonschema, jinja2, configobj, jsonpatch, requests, netifaces' 2>/dev/null ||
	unavailable "$PY lacks cloud-init's libraries (python3-yaml, -jsonschema, -jinja2, -configobj, -jsonpatch, -requests, -netifaces: run scripts/deps)"
command -v shellcheck >/dev/null || unavailable "shellcheck not found (run scripts/deps)"

echo "== $NAME: sources $MG_SRC"

# ---- cloud-init's validator, from the package, unpacked, not installed ----
cache=$MG_BUILD/cache/cloud-init
mkdir -p "$cache" 2>/dev/null || cache=$tmp/cloud-init-cache
mkdir -p "$cache"
deb=$(find "$cache" -maxdepth 1 -name 'cloud-init_*_all.deb' | sort | tail -n 1)
if [ -z "$deb" ]; then
	command -v apt-get >/dev/null || unavailable "apt-get not found: cannot fetch the cloud-init package"
	dl=$tmp/dl
	mkdir -p "$dl"
	# (apt's sandbox user cannot write into our private directory: apt then downloads
	# as root and logs a warning, which is harmless here)
	fetch() { (cd "$dl" && apt-get download -q cloud-init) >"$tmp/apt.log" 2>&1; }
	if ! fetch; then
		# the package lists may never have been fetched on this machine
		if [ "$(id -u)" -eq 0 ] && apt-get update -qq >>"$tmp/apt.log" 2>&1 && fetch; then :; else
			sed 's/^/    /' "$tmp/apt.log" >&2
			unavailable "apt-get download cloud-init failed (no network or no package lists)"
		fi
	fi
	deb=$(find "$dl" -maxdepth 1 -name 'cloud-init_*_all.deb' | head -n 1)
	[ -n "$deb" ] || unavailable "apt-get download cloud-init left no .deb"
	mv "$deb" "$cache/"
	deb=$cache/$(basename "$deb")
fi
root=$cache/root
if [ ! -f "$root/.from" ] || [ "$(cat "$root/.from")" != "$(basename "$deb")" ]; then
	rm -rf "$root"
	mkdir -p "$root"
	dpkg-deb -x "$deb" "$root"
	basename "$deb" >"$root/.from"
fi
ci_py=$root/usr/lib/python3/dist-packages
[ -d "$ci_py/cloudinit" ] || unavailable "$(basename "$deb") has no cloudinit module"
echo "== cloud-init validator: $(basename "$deb") (unpacked in $root)"

# cloud_init_schema FILE: `cloud-init schema --config-file FILE` from the unpacked tree
cloud_init_schema() {
	HOME=$tmp PYTHONPATH=$ci_py PYTHONDONTWRITEBYTECODE=1 "$PY" -c '
import sys
from cloudinit.cmd.main import main
sys.argv = ["cloud-init", "schema", "--config-file", sys.argv[1]]
sys.exit(main())' "$1"
}

# the validator must be able to say no, or step 1 proves nothing
cat >"$tmp/bad.yaml" <<'EOF'
#cloud-config
packages: git
write_files:
  - path: /etc/meshgate/connect
    permissions: 600
    contents: typo
runcmd: not-a-list
EOF
check_fails "the validator rejects a broken cloud-config" cloud_init_schema "$tmp/bad.yaml"
cp "$tmp/out" "$tmp/rejected"
check "... and names what is wrong (write_files)" grep -q "write_files" "$tmp/rejected"
sed 's/^    permissions: .0600./    permissions: 384/' "$CLOUD/aws/user-data.yaml" >"$tmp/mutated.yaml"
if cmp -s "$tmp/mutated.yaml" "$CLOUD/aws/user-data.yaml"; then
	bad "could not mutate cloud/aws/user-data.yaml for the negative check"
else
	check_fails "the validator rejects aws/user-data.yaml with a numeric file mode" cloud_init_schema "$tmp/mutated.yaml"
fi

fake_conn="mg1:$(printf 'meshgate-test-only-%s' "$$" | base64 | tr '+/' '-_' | tr -d '=\n')"
install -m 600 /dev/null "$tmp/conn.txt"
printf '%s\n' "$fake_conn" >"$tmp/conn.txt"

for ud in "$CLOUD"/*/user-data.yaml; do
	prov=$(basename "$(dirname "$ud")")
	check "cloud-init schema: cloud/$prov/user-data.yaml" cloud_init_schema "$ud"
	out=$tmp/rendered-$prov.yaml
	check "render-user-data.sh renders cloud/$prov/user-data.yaml" \
		"$CLOUD/render-user-data.sh" --template "$ud" --connect-file "$tmp/conn.txt" \
		--source "https://git.example.com/mesh&gate.git" --ref v1.0 --run-opts "--cloud none" --out "$out"
	[ -f "$out" ] || continue
	check "cloud-init schema: cloud/$prov/user-data.yaml as rendered" cloud_init_schema "$out"
	check "rendered $prov user data is mode 0600 ($(stat -c %a "$out"))" test "$(stat -c %a "$out")" = 600
	n=$(grep -c -F "$fake_conn" "$out" || true)
	check "rendered $prov user data holds the connection string once ($n)" test "$n" = 1
	check_fails "rendered $prov user data has no placeholder left" grep '[$][{]' "$out"
	cat >"$tmp/connect-check.py" <<'EOF'
import sys, yaml
doc = yaml.safe_load(open(sys.argv[1]))
files = {w["path"]: w for w in doc["write_files"]}
w = files["/etc/meshgate/connect"]
assert w["content"].strip() == sys.argv[2], w["content"]
assert w["permissions"] == "0600"
assert all(sys.argv[2] not in str(v.get("content")) for p, v in files.items() if p != "/etc/meshgate/connect")
assert "MESHGATE_SOURCE='https://git.example.com/mesh&gate.git'" in files["/etc/meshgate/firstboot.env"]["content"]
EOF
	check "rendered $prov: the string lands in /etc/meshgate/connect (0600) only" \
		"$PY" "$tmp/connect-check.py" "$out" "$fake_conn"
	# the first-boot script inside the user data
	"$PY" -c '
import sys, yaml
for w in yaml.safe_load(open(sys.argv[1]))["write_files"]:
    if w["path"] == "/usr/local/sbin/meshgate-firstboot":
        sys.stdout.write(w["content"])' "$ud" >"$tmp/firstboot-$prov.sh"
	check "cloud/$prov: meshgate-firstboot passes sh -n" sh -n "$tmp/firstboot-$prov.sh"
	check "cloud/$prov: meshgate-firstboot passes shellcheck -s sh" shellcheck -s sh "$tmp/firstboot-$prov.sh"
done

install -m 600 /dev/null "$tmp/notconn.txt"
echo "hello" >"$tmp/notconn.txt"
check_fails "render-user-data.sh refuses a file that holds no connection string" \
	"$CLOUD/render-user-data.sh" --template "$CLOUD/aws/user-data.yaml" --connect-file "$tmp/notconn.txt" \
	--source https://git.example.com/m.git --out "$tmp/x.yaml"
check_fails "render-user-data.sh refuses a quote in --source" \
	"$CLOUD/render-user-data.sh" --template "$CLOUD/aws/user-data.yaml" --connect-file "$tmp/conn.txt" \
	--source "https://x/'; reboot; '" --out "$tmp/x.yaml"
check_fails "a refused render leaves no output file" test -e "$tmp/x.yaml"

# ---- structure, headers, secrets, IAM against the code ----
echo "== structure (tests/system/cloud_checks.py)"
if "$PY" "$MG_SRC/tests/system/cloud_checks.py" "$MG_SRC" >"$tmp/checks.out" 2>&1; then :; fi
cat "$tmp/checks.out"
n_ok=$(grep -c '^ok: ' "$tmp/checks.out" || true)
n_bad=$(grep -c '^FAIL: ' "$tmp/checks.out" || true)
checks=$((checks + n_ok + n_bad))
fails=$((fails + n_bad))
if ! grep -q '^ok: agent/cloud/\*.c: found' "$tmp/checks.out"; then
	bad "cloud_checks.py did not report the actions found in the code (crashed?)"
fi

# the IAM check must be able to fail: mutated copies of the tree
mutant() { # mutant NAME: a copy of cloud/ and agent/cloud/ under $tmp/NAME
	rm -rf "${tmp:?}/$1"
	mkdir -p "$tmp/$1/agent"
	cp -r "$CLOUD" "$tmp/$1/cloud"
	cp -r "$MG_SRC/agent/cloud" "$tmp/$1/agent/cloud"
}
expect_fail() { # expect_fail NAME PATTERN MESSAGE
	if "$PY" "$MG_SRC/tests/system/cloud_checks.py" "$tmp/$1" >"$tmp/m.out" 2>&1; then
		bad "$3 (the checks passed)"
	elif grep -q "^FAIL: .*$2" "$tmp/m.out"; then
		ok "$3"
	else
		bad "$3 (failed, but not on: $2)"
		grep '^FAIL' "$tmp/m.out" | sed 's/^/    /'
	fi
}
mutant extra
sed -i 's/"ec2:DeleteRoute"/"ec2:DeleteRoute", "ec2:DescribeInstances"/' "$tmp/extra/cloud/aws/iam-policy.json"
expect_fail extra "iam-policy.json: allows exactly the code's EC2 actions" \
	"an extra action in iam-policy.json is caught"
mutant newcall
printf '\nstatic void probe(struct aws_ec2 *c) { aws_ec2_call(c, "DescribeInstances", NULL, 0, NULL, NULL, NULL, NULL); }\n' \
	>>"$tmp/newcall/agent/cloud/aws_ec2.c"
expect_fail newcall "the role's policy allows exactly the code's EC2 actions" \
	"a new EC2 call in the code without a policy change is caught"
mutant ociextra
printf 'Allow dynamic-group meshgate-connectors to manage vnics in compartment <instance-compartment> where request.permission = %s\n' "'VNIC_CREATE'" \
	>>"$tmp/ociextra/cloud/oracle/iam-policy.txt"
expect_fail ociextra "iam-policy.txt: grants exactly the OCI driver's oci_grants" \
	"an extra statement in oracle/iam-policy.txt is caught"
mutant ocirow
sed -i 's/{"GetVcn", "read vcns", ""},/&\n\t{"ListInstances", "read instances", ""},/' "$tmp/ocirow/agent/cloud/oci/oci_api.c"
expect_fail ocirow "iam-policy.txt: grants exactly the OCI driver's oci_grants" \
	"a new row in the OCI driver's oci_grants without a policy change is caught"
mutant azextra
sed -i 's|"Microsoft.Network/routeTables/routes/delete",|&\n      "Microsoft.Network/routeTables/write",|' "$tmp/azextra/cloud/azure/meshgate.arm.json"
expect_fail azextra "the custom role allows exactly the driver's ARM actions" \
	"an extra action in the ARM template's custom role is caught"
mutant aznew
sed -i 's|^\(.*\)"Microsoft.Network/routeTables/routes/delete",$|&\n\1"Microsoft.Network/routeTables/write",|' \
	"$tmp/aznew/agent/cloud/azure/azure_perms.c"
expect_fail aznew "the custom role allows exactly the driver's ARM actions" \
	"a new action in the Azure driver's table without a template change is caught"
mutant gcpextra
sed -i 's/^\tcompute.routes.delete$/&\n\tcompute.routes.get/' "$tmp/gcpextra/cloud/gcp/create-instance.sh"
expect_fail gcpextra "grants exactly the driver's gcp_permissions" \
	"an extra permission in the GCP script's role is caught"
mutant gcpnewperm
sed -i 's/^\(\s*\)\(\[GCP_PERM_ROUTES_LIST\] = "compute.routes.list",\)$/&\n\1"compute.routes.get",/' \
	"$tmp/gcpnewperm/agent/cloud/gcp/gcp_compute.c"
expect_fail gcpnewperm "grants exactly the driver's gcp_permissions" \
	"a new permission in the GCP driver's table without a script change is caught"
mutant wild
sed -i 's/"ec2:DescribeRouteTables"/"ec2:Describe*"/' "$tmp/wild/cloud/aws/iam-policy.json"
expect_fail wild "without wildcards" "a wildcard action is caught"
mutant srcdst
sed -i 's/SourceDestCheck: false/SourceDestCheck: true/' "$tmp/srcdst/cloud/aws/meshgate.cfn.yaml"
expect_fail srcdst "SourceDestCheck: false" "SourceDestCheck true is caught"
mutant ipfwd
sed -i 's/"enableIPForwarding": true/"enableIPForwarding": false/' "$tmp/ipfwd/cloud/azure/meshgate.arm.json"
expect_fail ipfwd "enableIPForwarding" "enableIPForwarding false is caught"
mutant secret
sed -i "s/[\$]{MESHGATE_CONNECT}/$fake_conn/" "$tmp/secret/cloud/gcp/user-data.yaml"
expect_fail secret "no literal connection string" "a literal connection string in a user data is caught"
mutant drift
sed -i 's/^package_update: true$/package_update: false/' "$tmp/drift/cloud/aws/user-data.yaml"
expect_fail drift "UserData is cloud/aws/user-data.yaml verbatim" "a stack whose user data drifted is caught"

# ---- scripts ----
echo "== scripts"
for sh in "$CLOUD"/*.sh "$CLOUD"/*/*.sh "$MG_SRC/tests/system/t_cloud_templates.sh"; do
	r=${sh#"$MG_SRC"/}
	check "$r: bash -n" bash -n "$sh"
	check "$r: shellcheck" shellcheck "$sh"
done
check "cloud/sync-user-data.py --check: embedded user data in sync" "$PY" "$CLOUD/sync-user-data.py" --check
gcp=$CLOUD/gcp/create-instance.sh
check "cloud/gcp/create-instance.sh --help" "$gcp" --help
cp "$tmp/out" "$tmp/help"
check "... --help lists --manage-routes" grep -q -- '--manage-routes BOOL' "$tmp/help"
check "... --help lists --dry-run" grep -q -- '--dry-run ' "$tmp/help"
# a gcloud that records being called: a dry run must never call it
mkdir -p "$tmp/bin"
printf '#!/bin/sh\necho "$*" >>"%s/gcloud.called"\nexit 1\n' "$tmp" >"$tmp/bin/gcloud"
chmod 755 "$tmp/bin/gcloud"
if PATH=$tmp/bin:$PATH "$gcp" --project p-test --zone europe-west1-b --connect-file "$tmp/conn.txt" \
	--source https://git.example.com/m.git --lan-cidr 10.0.0.0/16 --dry-run >"$tmp/gcp.out" 2>&1; then
	ok "create-instance.sh --dry-run runs"
else
	bad "create-instance.sh --dry-run failed"
	sed 's/^/    /' "$tmp/gcp.out"
fi
check "dry run: the instance is created with --can-ip-forward" \
	grep -q -- '^+ gcloud compute instances create .*--can-ip-forward' "$tmp/gcp.out"
check "dry run: the user data goes in from a file" grep -q -- '--metadata-from-file user-data=' "$tmp/gcp.out"
check_fails "dry run: the connection string is on no command line" grep -q -F "$fake_conn" "$tmp/gcp.out"
check "dry run: the custom role is created with its permission list" \
	grep -q -- '^+ gcloud iam roles create meshgateRouteWriter .*--permissions compute.routes.list' "$tmp/gcp.out"
if PATH=$tmp/bin:$PATH "$gcp" --project p-test --connect-file "$tmp/conn.txt" \
	--source https://git.example.com/m.git --manage-routes false --dry-run >"$tmp/gcp2.out" 2>&1 &&
	grep -q -- '--no-service-account' "$tmp/gcp2.out" && ! grep -q 'gcloud iam' "$tmp/gcp2.out"; then
	ok "dry run, --manage-routes false: no service account, no role"
else
	bad "dry run, --manage-routes false"
	sed 's/^/    /' "$tmp/gcp2.out"
fi
check_fails "dry runs call no gcloud" test -e "$tmp/gcloud.called"
leftover=$(grep -o '/[^ ]*/user-data.yaml' "$tmp/gcp.out" | head -n 1 || true)
check "dry run: the rendered user data (${leftover:-none}) was removed on exit" \
	test -n "$leftover" -a ! -e "$leftover"

echo
echo "$NAME: $((checks - fails)) passed, $fails failed"
[ "$fails" -eq 0 ]
