# shellcheck shell=bash source-path=SCRIPTDIR
# cloud-init runs the cloud/*/user-data.yaml templates in a booted Debian root
# (t_cloudinit.sh, t_cloudinit_core.sh; docs/TESTING.md).
#
#   ci_main NAME "PROVIDERS" MUTANT [DEB]   the whole test (see t_cloudinit.sh); MUTANT
#       1 (or runcmd): then the first provider's template with its runcmd naming a missing
#       script must fail (on cloud-init's status); noinstall: with its first-boot script
#       skipping install.sh and exiting 0 it must fail (cloud-init is content, meshgate is
#       not there); 0: no broken template. DEB 1: the templates install the build's .deb
#       (MESHGATE_DEB_URL) instead of building the clone in the VM
#
# The cloud-init root: the cached minbase root (lib_root.sh) plus ci_pkgs, installed
# with apt over the host's network once and cached as $CI_TAR (the package list's hash
# in its name: a new list makes a new root). Next to it, $CI_MIRROR: the .debs apt
# downloaded, with a Packages index (dpkg-scanpackages) and a Release file: the root's
# only package archive, served in the test's "internet" namespace, so cloud-init's
# package_update and packages steps and install.sh's apt calls run for real and find
# everything there. The image's own configuration (what a cloud image ships in
# /etc/cloud/cloud.cfg.d), written into the root:
#   datasource_list [NoCloud, None]   the seed in /var/lib/cloud/seed/nocloud
#   apt: preserve_sources_list true   keep the mirror (a cloud image keeps its cloud's)
#   network: config: disabled         the namespace's interface is set up by the test
# and one test-only unit: systemd-nspawn leaves /proc/sys/net read-only in a network
# namespace given by path, where a VM's is writable; mgtest-procsys.service makes it
# writable again before cloud-init starts (as t_install does by hand).

# shellcheck source=lib_root.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib_root.sh"

CI_MIRROR_ADDR=203.0.113.1
CI_REF=mgtest
CI_SRCURL=git://$CI_MIRROR_ADDR/meshgate.git

ci_pkgs() {
	# locales: cloud-init's locale module runs update-locale (Debian's cloud images have it)
	echo cloud-init locales systemd iproute2 ca-certificates curl git wireguard-go
	bash "$MG_SRC/scripts/deps" --list --build
}

# ci_root_cache: make $CI_TAR and $CI_MIRROR unless they are there (one maker at a time)
ci_root_cache() {
	local key lk d t0
	key=$(
		{
			ci_pkgs
			echo "v2 $ROOT_SUITE en_US.UTF-8"
			declare -f _ci_root_config
		} | sha256sum | cut -c1-12
	)
	CI_TAR=$ROOT_CACHE/$ROOT_SUITE-cloudinit-$key.tar
	CI_MIRROR=$ROOT_CACHE/$ROOT_SUITE-cloudinit-$key.mirror
	root_cache
	[ -s "$CI_TAR" ] && [ -s "$CI_MIRROR/Release" ] && return 0
	exec {lk}>"$ROOT_CACHE/.lock-cloudinit"
	flock "$lk"
	if [ ! -s "$CI_TAR" ] || [ ! -s "$CI_MIRROR/Release" ]; then
		t0=$(date +%s)
		mg_log "making the cloud-init root ($(ci_pkgs | tr '\n' ' '))"
		root_new
		# shellcheck disable=SC2046 # one package a word
		root_run host sh -c 'apt-get update -q && DEBIAN_FRONTEND=noninteractive \
			apt-get install -q -y --no-install-recommends "$@"' apt $(ci_pkgs) \
			>"$MG_TMP/ci-apt.log" 2>&1 || mg_fail "apt in the cloud-init root: $(tail -20 "$MG_TMP/ci-apt.log")"
		# the locale cloud-init's default configuration sets (LANG=en_US.UTF-8), generated
		# as in Debian's cloud images: without it cc_locale's update-locale fails
		root_run none sh -c "sed -i 's/^# *en_US.UTF-8 UTF-8/en_US.UTF-8 UTF-8/' /etc/locale.gen && locale-gen" \
			>>"$MG_TMP/ci-apt.log" 2>&1 || mg_fail "locale-gen in the cloud-init root: $(tail -5 "$MG_TMP/ci-apt.log")"
		d=$CI_MIRROR.tmp$$
		rm -rf "$d"
		mkdir -p "$d"
		find "$ROOT.apt" -maxdepth 1 -name '*.deb' -exec cp -l -t "$d" {} + 2>/dev/null ||
			find "$ROOT.apt" -maxdepth 1 -name '*.deb' -exec cp -t "$d" {} +
		(cd "$d" && dpkg-scanpackages -m . >Packages 2>/dev/null) || mg_fail "dpkg-scanpackages failed"
		{
			echo "Origin: meshgate-test"
			echo "Label: meshgate-test"
			echo "Date: $(LC_ALL=C date -u '+%a, %d %b %Y %H:%M:%S UTC')"
			echo "SHA256:"
			printf ' %s %s Packages\n' "$(sha256sum <"$d/Packages" | cut -d' ' -f1)" "$(stat -c %s "$d/Packages")"
		} >"$d/Release"
		_ci_root_config "$ROOT"
		rm -rf "${CI_MIRROR:?}"
		mv "$d" "$CI_MIRROR"
		tar -C "$ROOT" --numeric-owner -cf "$CI_TAR.tmp" . && mv "$CI_TAR.tmp" "$CI_TAR"
		mg_log "cloud-init root: $(($(date +%s) - t0)) s, cached as $CI_TAR"
		# roots of other package lists made more than a day ago go
		find "$ROOT_CACHE" -maxdepth 1 -name "$ROOT_SUITE-cloudinit-*" ! -name "$ROOT_SUITE-cloudinit-$key.*" \
			-mmin +1440 -exec rm -rf {} + 2>/dev/null || true
		rm -rf --one-file-system "$ROOT" "$ROOT.apt"
		rm -f "$ROOT.pid"
		ROOT=""
	fi
	exec {lk}>&-
}

# _ci_root_config ROOT: the image's configuration (see the top of this file)
_ci_root_config() {
	local r=$1
	rm -f "$r"/etc/apt/sources.list.d/*.list "$r"/etc/apt/sources.list.d/*.sources
	echo "deb [trusted=yes] http://$CI_MIRROR_ADDR:8080/ ./" >"$r/etc/apt/sources.list"
	rm -rf "$r"/var/lib/apt/lists/*
	mkdir -p "$r/var/lib/apt/lists/partial"
	cat >"$r/etc/cloud/cloud.cfg.d/90-meshgate-test.cfg" <<'EOF'
# the test image: a NoCloud seed, the package mirror in sources.list, the network
# configured from outside (tests/system/lib_cloudinit.sh)
datasource_list: [NoCloud, None]
apt:
  preserve_sources_list: true
network:
  config: disabled
EOF
	cat >"$r/etc/systemd/system/mgtest-procsys.service" <<'EOF'
[Unit]
Description=test only: /proc/sys/net writable, as on a VM (systemd-nspawn in a given netns)
DefaultDependencies=no
Before=cloud-init-local.service sysinit.target

[Service]
Type=oneshot
RemainAfterExit=yes
ExecStart=/bin/sh -c 'mount --bind /proc/sys/net /proc/sys/net && mount -o remount,bind,rw /proc/sys/net'

[Install]
WantedBy=sysinit.target
EOF
	mkdir -p "$r/etc/systemd/system/sysinit.target.wants"
	ln -sf ../mgtest-procsys.service "$r/etc/systemd/system/sysinit.target.wants/mgtest-procsys.service"
}

# ci_source: a git repository of this checkout (tracked and new files, as t_install
# copies them) on branch $CI_REF, under $MG_TMP/git, for `git daemon`
ci_source() {
	local s=$MG_TMP/src
	mkdir -p "$s" "$MG_TMP/git"
	(cd "$MG_SRC" && git ls-files -z -co --exclude-standard | tar --null -T - -cf -) | tar -C "$s" -xf -
	git -C "$s" init -q -b "$CI_REF"
	git -C "$s" add -A
	git -C "$s" -c user.name=mgtest -c user.email=mgtest@invalid commit -q -m snapshot
	git clone -q --bare "$s" "$MG_TMP/git/meshgate.git"
}

# --- the providers -------------------------------------------------------------------

# ci_vm PROVIDER N: its fake (in a VPC router namespace V, with the IMDS address on lo,
# 203.0.113.(40+N) on the internet) and the VM's namespace VM (eth0 with the MAC and
# address the fake knows). Sets V VM CLOUD (meshgate's --cloud) CI_FAKE_PID.
ci_vm() {
	local p=$1 n=$2 mac ip st=$MG_TMP/fake-$1-$2 fake=$MG_SRC/tests/fake
	V=$(ns_add "v$n$p")
	VM=$(ns_add "vm$n$p")
	case $p in
	aws) CLOUD=aws mac=02:00:c6:12:01:0a ip=198.18.1.10 ;;
	azure) CLOUD=azure mac=00:0d:3a:12:01:0a ip=198.18.1.10 ;;
	gcp) CLOUD=gcp mac=42:01:c6:12:01:0b ip=198.18.1.11 ;;
	oracle) CLOUD=oci mac=02:00:17:12:01:0a ip=198.18.1.10 ;;
	*) mg_fail "unknown provider $p" ;;
	esac
	_inet_port "$V" wan "203.0.113.$((40 + n))"
	nsx "$V" sysctl -qw net.ipv4.ip_forward=1
	nsx "$V" nft add table ip vpcnat
	nsx "$V" nft add chain ip vpcnat post '{ type nat hook postrouting priority srcnat; policy accept; }'
	nsx "$V" nft add rule ip vpcnat post oifname wan masquerade
	veth "$V" s1 "$VM" eth0
	ip -n "$VM" link set eth0 address "$mac"
	ip -n "$V" addr add 198.18.1.1/24 dev s1
	ip -n "$V" addr add 169.254.169.254/32 dev lo
	ip -n "$VM" addr add "$ip/24" dev eth0
	ip -n "$VM" route add default via 198.18.1.1
	ip -n "$VM" link set lo up
	case $p in
	aws) bg_start "$V" "$st.log" /usr/bin/python3 "$fake/aws/fake_aws.py" --state-dir "$st" \
		--imds-listen 169.254.169.254:80 --ec2-listen 198.18.1.1:443 --ec2-san 198.18.1.1 \
		--control-listen 127.0.0.1:8799 ;;
	azure) bg_start "$V" "$st.log" /usr/bin/python3 "$fake/azure/fake_azure.py" --state-dir "$st" \
		--imds-listen 169.254.169.254:80 --arm-listen 198.18.1.1:443 --arm-host 198.18.1.1 \
		--arm-san 198.18.1.1 --control-listen 127.0.0.1:8799 --retry-after 0 --lro-polls 1 ;;
	gcp)
		echo '{"routes": []}' >"$MG_TMP/gcp-topo.json"
		bg_start "$V" "$st.log" /usr/bin/python3 "$fake/gcp/fake_gcp.py" --state-dir "$st" \
			--topology "$MG_TMP/gcp-topo.json" --compute-listen 198.18.1.1:443 --compute-san 198.18.1.1 \
			--control-listen 127.0.0.1:8797
		;;
	oracle) bg_start "$V" "$st.log" /usr/bin/python3 "$fake/oci/fake_oci.py" --state-dir "$st" \
		--imds-listen 169.254.169.254:80 --api-listen 198.18.1.1:443 --api-san 198.18.1.1 \
		--control-listen 127.0.0.1:8798 ;;
	esac
	CI_FAKE_PID=$BG_PID CI_FAKE_LOG=$st.log
	wait_until 30 test -s "$st/ready.json" || mg_fail "fake $p did not start: $(cat "$st.log")"
	CI_FAKE_CA=$st/ca.pem
}

# ci_vm_del: the fake ends, the two namespaces go (with the VPC's port on the internet)
ci_vm_del() {
	local ns p
	kill "$CI_FAKE_PID" 2>/dev/null || true
	wait_until 5 test -s "$CI_FAKE_LOG.rc" || true
	for ns in "$VM" "$V"; do
		for p in $(ip netns pids "$ns" 2>/dev/null); do kill -KILL "$p" 2>/dev/null; done
		for _ in $(seq 1 40); do [ -z "$(ip netns pids "$ns" 2>/dev/null)" ] && break; sleep 0.05; done
		ip netns del "$ns" 2>/dev/null || true
	done
}

# ci_boot PROVIDER USERDATA: a fresh cloud-init root with USERDATA as its NoCloud seed,
# booted in $VM; 1 when systemd did not come up (or the boot never ended)
ci_boot() {
	local p=$1 ud=$2 seed t0
	t0=$(date +%s)
	root_new "$CI_TAR"
	CI_T_COPY=$(($(date +%s) - t0))
	seed=$ROOT/var/lib/cloud/seed/nocloud
	mkdir -p "$seed" "$ROOT/usr/local/share/mgtest"
	install -m 600 "$ud" "$seed/user-data"
	printf 'instance-id: i-mgtest-%s-%s\nlocal-hostname: mg-%s\n' "$p" "$MG_ID" "$p" >"$seed/meta-data"
	cp "$CI_FAKE_CA" "$ROOT/usr/local/share/mgtest/cloud-ca.pem"
	if [ -n "${CI_CA:-}" ]; then
		cp "$CI_CA" "$ROOT/usr/local/share/ca-certificates/mgtest-ca.crt"
		root_run none update-ca-certificates >/dev/null 2>&1 || mg_fail "update-ca-certificates in the root failed"
	fi
	root_boot "$VM"
}

# ci_deb: the build's .deb (cpack, as t_deb.sh makes it) served over HTTPS in the
# internet namespace with a certificate of a test CA, which ci_boot adds to the root's
# trust store; sets CI_DEB_URL
ci_deb() {
	local d=$MG_TMP/deb t0
	t0=$(date +%s)
	mkdir -p "$d/www"
	(cd "$MG_TMP" && cpack -G DEB --config "$MG_BUILD/CPackConfig.cmake" -B "$MG_TMP/pkg") \
		>"$MG_TMP/cpack.log" 2>&1 || mg_fail "cpack: $(tail -20 "$MG_TMP/cpack.log")"
	find "$MG_TMP/pkg" -maxdepth 1 -name 'meshgate_*.deb' -exec cp {} "$d/www/meshgate.deb" \;
	[ -s "$d/www/meshgate.deb" ] || mg_fail "cpack made no .deb: $(tail -5 "$MG_TMP/cpack.log")"
	if ! openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 -subj /CN=mgtest-ca \
		-addext basicConstraints=critical,CA:TRUE -keyout "$d/ca.key" -out "$d/ca.pem" 2>/dev/null ||
		! openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj /CN=$CI_MIRROR_ADDR \
			-keyout "$d/srv.key" -out "$d/srv.csr" 2>/dev/null ||
		! openssl x509 -req -in "$d/srv.csr" -CA "$d/ca.pem" -CAkey "$d/ca.key" -CAcreateserial -days 2 \
			-extfile <(printf 'subjectAltName=IP:%s\nextendedKeyUsage=serverAuth\n' "$CI_MIRROR_ADDR") \
			-out "$d/srv.pem" 2>/dev/null; then
		mg_fail "openssl: cannot make the test certificates"
	fi
	bg_start "$INET" "$MG_TMP/https.log" /usr/bin/python3 -c '
import http.server, ssl, sys, functools
h = functools.partial(http.server.SimpleHTTPRequestHandler, directory=sys.argv[1])
s = http.server.ThreadingHTTPServer((sys.argv[2], 4443), h)
c = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
c.load_cert_chain(sys.argv[3], sys.argv[4])
s.socket = c.wrap_socket(s.socket, server_side=True)
s.serve_forever()' "$d/www" "$CI_MIRROR_ADDR" "$d/srv.pem" "$d/srv.key"
	CI_DEB_URL=https://$CI_MIRROR_ADDR:4443/meshgate.deb
	wait_until 10 nsx "$INET" curl -sf --cacert "$d/ca.pem" -o /dev/null "$CI_DEB_URL" ||
		mg_fail "HTTPS server not answering: $(cat "$MG_TMP/https.log")"
	CI_CA=$d/ca.pem
	mg_log "the build's .deb, served at $CI_DEB_URL ($(($(date +%s) - t0)) s)"
}

# ci_render PROVIDER_DIR CONNFILE OUT: the template as a user would render it
ci_render() {
	"$MG_SRC/cloud/render-user-data.sh" --template "$1" --connect-file "$2" \
		--source "$CI_SRCURL" --ref "$CI_REF" --out "$3" ${CI_DEB_URL:+--deb-url "$CI_DEB_URL"} --run-opts "--cloud $CLOUD \
--cloud-metadata http://169.254.169.254 --cloud-api https://198.18.1.1 \
--cloud-ca-file /usr/local/share/mgtest/cloud-ca.pem" >/dev/null
}

# shellcheck disable=SC2317 # called by wait_until
_ci_handshake() {
	root_in meshgate status --json --state-dir /var/lib/meshgate >"$1" 2>&1 &&
		jq -e '.daemon.tunnel.state == "up" and .daemon.tunnel.handshake_age >= 0 and
			.daemon.cloud.state == "ok"' "$1"
}

# ci_verdict PROVIDER CONN_ID: prints every failed condition; 0 when there are none
ci_verdict() {
	local p=$1 id=$2 bad=0 out st n
	no() {
		echo "  $p: $*"
		bad=1
	}
	out=$(root_in cloud-init status --long 2>&1 || true)
	echo "$out" >"$MG_TMP/$p-status-long.txt"
	grep -qx 'status: done' <<<"$out" || no "cloud-init status: $(grep '^status:' <<<"$out" || echo "$out")"
	if st=$(root_in cat /run/cloud-init/result.json 2>/dev/null); then
		n=$(jq '.v1.errors | length' <<<"$st")
		[ "$n" = 0 ] || no "result.json errors: $(jq -c .v1.errors <<<"$st")"
	else
		no "no /run/cloud-init/result.json (cloud-init never finished)"
	fi
	if st=$(root_in cat /run/cloud-init/status.json 2>/dev/null); then
		n=$(jq '[.v1 | to_entries[] | select(.value | type == "object") | (.value.errors // [])[]] | length' <<<"$st")
		[ "$n" = 0 ] || no "status.json stage errors: $(jq -c '[.v1 | to_entries[] | select(.value | type == "object") | {(.key): .value.errors}]' <<<"$st")"
	else
		no "no /run/cloud-init/status.json"
	fi
	# `--format json` (cloud-init 22.4 and later; exit status 1 on an error): its errors
	st=$(root_in cloud-init status --format json 2>/dev/null || true)
	if jq -e . >/dev/null 2>&1 <<<"$st"; then
		echo "$st" >"$MG_TMP/$p-status.json"
		[ "$(jq -r '.status // .extended_status' <<<"$st")" = "done" ] || no "cloud-init status --format json: $(jq -c . <<<"$st")"
		[ "$(jq '(.errors // []) | length' <<<"$st")" = 0 ] || no "cloud-init errors: $(jq -c .errors <<<"$st")"
	fi
	# shellcheck disable=SC2016 # dpkg-query's format
	st=$(root_in dpkg-query -W -f='${Status}' meshgate 2>/dev/null || true)
	[ "$st" = "install ok installed" ] || no "meshgate package: ${st:-not installed}"
	st=$(root_in systemctl is-enabled meshgate.service 2>/dev/null || true)
	[ "$st" = enabled ] || no "meshgate.service is-enabled: ${st:-?}"
	st=$(root_in systemctl is-active meshgate.service 2>/dev/null || true)
	[ "$st" = active ] || no "meshgate.service is-active: ${st:-?}"
	if [ "$st" = active ]; then
		# the tunnel: up, with a handshake with the hub (the agent's keepalive makes one);
		# the cloud driver: the instance found through the metadata, forwarding checked
		wait_until 60 _ci_handshake "$MG_TMP/$p-mgstatus.json" || true
	fi
	st=$(root_in meshgate status --json --state-dir /var/lib/meshgate 2>&1 || true)
	echo "$st" >"$MG_TMP/$p-mgstatus.json"
	if jq -e . >/dev/null 2>&1 <<<"$st"; then
		[ "$(jq -r .enrolled <<<"$st")" = true ] || no "meshgate status: not enrolled"
		[ "$(jq -r '.daemon.tunnel.state // "none"' <<<"$st")" = up ] ||
			no "meshgate status: tunnel $(jq -r '.daemon.tunnel.state // "not running"' <<<"$st")"
		jq -e '.daemon.tunnel.handshake_age >= 0' >/dev/null <<<"$st" ||
			no "meshgate status: no handshake with the hub ($(jq -c '.daemon.tunnel // {}' <<<"$st"))"
		jq -e --arg c "$CLOUD" '.daemon.cloud.provider == $c and .daemon.cloud.state == "ok" and
			(.daemon.cloud.instance // "") != ""' >/dev/null <<<"$st" ||
			no "meshgate status: cloud $(jq -c '.daemon.cloud // "none"' <<<"$st"), not $CLOUD, ok, with the instance"
	else
		no "meshgate status --json: ${st:0:300}"
	fi
	out=$(root_in meshgate status --state-dir /var/lib/meshgate 2>&1 || true)
	echo "$out" >"$MG_TMP/$p-mgstatus.txt"
	grep -Eq '^Tunnel: +up,' <<<"$out" || no "meshgate status does not show the tunnel up"
	st=$(api "$INET" GET "/api/v1/connectors/$id" | jq -r .state)
	[ "$st" = enrolled ] || no "the controller lists the connector as ${st:-?}"
	root_in test ! -e /etc/meshgate/connect || no "the connection string is still in /etc/meshgate/connect"
	root_in test -e /var/lib/meshgate-firstboot.done || no "first boot not marked done"
	return $bad
}

# ci_show PROVIDER: what the boot left, for a failure
ci_show() {
	root_in tail -n 40 /var/log/cloud-init-output.log 2>/dev/null | sed 's/^/    output| /' >&2 || true
	root_in grep -E 'WARNING|ERROR|Traceback' /var/log/cloud-init.log 2>/dev/null | tail -n 20 |
		sed 's/^/    log| /' >&2 || true
	root_in systemctl --failed --no-legend 2>/dev/null | sed 's/^/    failed| /' >&2 || true
	root_in journalctl -u meshgate.service --no-pager -n 20 2>/dev/null | sed 's/^/    meshgate| /' >&2 || true
}

# ci_drop: power the booted root off and remove it (the next provider gets a fresh one)
ci_drop() {
	root_halt
	BOOT_PID="" BOOT_INIT=""
	if [ -n "$ROOT" ]; then
		awk -v r="$ROOT/" 'index($5, r) == 1 { print $5 }' /proc/self/mountinfo | sort -r |
			while read -r m; do umount -l "$m" 2>/dev/null; done
		rm -rf --one-file-system "$ROOT" "$ROOT.apt"
		rm -f "$ROOT.pid"
	fi
	ROOT=""
}

# ci_provider PROVIDER N [MUTATE]: VM number N, of PROVIDER, booted with its template
# (or, with MUTATE, a broken copy); its verdict's status. Sets CI_T (seconds). Its
# connector is revoked afterwards (one network, 198.18.0.0/16, for all of them).
ci_provider() {
	local p=$1 n=$2 mutate=${3:-} tpl out id cs t0 rc=0
	tpl=$MG_SRC/cloud/$p/user-data.yaml
	ci_vm "$p" "$n"
	out=$(api "$INET" POST "/api/v1/networks/$CI_NET/connectors" "{\"name\":\"vm$n-$p$mutate\"}")
	[ "$(api_st)" = 201 ] || mg_fail "create connector: $(api_st) $out"
	id=$(jq -r .id <<<"$out")
	cs=$MG_TMP/cs-$p
	(umask 077 && jq -r .connection_string <<<"$out" >"$cs")
	if [ -n "$mutate" ]; then
		case $mutate in
		runcmd) sed 's|^  - \[/usr/local/sbin/meshgate-firstboot\]$|  - [/usr/local/sbin/meshgate-first-boot]|' ;;
		noinstall) sed 's|^      \./install\.sh "\$@"$|      true "$@"|' ;;
		*) mg_fail "unknown mutation $mutate" ;;
		esac <"$tpl" >"$MG_TMP/mutant.yaml"
		cmp -s "$tpl" "$MG_TMP/mutant.yaml" && mg_fail "could not mutate $tpl"
		tpl=$MG_TMP/mutant.yaml
	fi
	ci_render "$tpl" "$cs" "$MG_TMP/ud-$p.yaml" || mg_fail "render-user-data.sh $tpl failed"
	t0=$(date +%s)
	mg_log "$p${mutate:+ (mutant: $mutate)}: booting with cloud/$p/user-data.yaml as its NoCloud seed"
	if ! ci_boot "$p" "$MG_TMP/ud-$p.yaml"; then
		tail -n 30 "$MG_TMP/boot.log" >&2
		mg_fail "$p: systemd did not boot in systemd-nspawn"
	fi
	CI_T=$(($(date +%s) - t0))
	ci_verdict "$p" "$id" >"$MG_TMP/verdict-$p" || rc=1
	if [ $rc -ne 0 ] && [ -z "$mutate" ]; then ci_show "$p"; fi
	ci_drop
	ci_vm_del
	api "$INET" DELETE "/api/v1/connectors/$id" >/dev/null
	return $rc
}

ci_main() {
	local name=$1 provs=$2 mutant=$3 deb=${4:-0} p t out
	root_setup "$name"
	for t in systemd-nspawn dpkg-scanpackages git jq python3; do
		command -v "$t" >/dev/null || { mg_log "SKIP: no $t (scripts/deps)"; exit 77; }
	done
	[ -x "$CTLMOCK" ] || mg_fail "no $CTLMOCK (build first)"
	t=$(date +%s)
	local t_start=$t
	ci_root_cache
	local t_root=$(($(date +%s) - t))
	# the internet: the controller and its hub, the package mirror, the git server
	. "$MG_SRC/tests/integration/topo.sh"
	topo_internet
	ci_source
	bg_start "$INET" "$MG_TMP/mirror.log" /usr/bin/python3 -m http.server --bind "$CI_MIRROR_ADDR" \
		--directory "$CI_MIRROR" 8080
	# git-daemon itself (`git daemon` would run it as a child, which cleanup's kill would miss)
	bg_start "$INET" "$MG_TMP/gitd.log" "$(git --exec-path)/git-daemon" --reuseaddr --export-all --base-path="$MG_TMP/git" \
		--listen="$CI_MIRROR_ADDR" --port=9418
	wait_until 10 nsx "$INET" curl -sf -o /dev/null "http://$CI_MIRROR_ADDR:8080/Release" ||
		mg_fail "mirror not answering: $(cat "$MG_TMP/mirror.log")"
	wait_until 10 nsx "$INET" git ls-remote "$CI_SRCURL" ||
		mg_fail "git daemon not answering: $(cat "$MG_TMP/gitd.log")"
	CI_DEB_URL="" CI_CA=""
	if [ "$deb" = 1 ]; then
		command -v cpack >/dev/null || { mg_log "SKIP: no cpack"; exit 77; }
		ci_deb
	fi
	out=$(api "$INET" POST /api/v1/networks '{"name":"vpc","subnets":["198.18.0.0/16"],"manage_cloud_routes":true,"access":[{"cidr":"198.18.0.0/16","mode":"full"}]}')
	[ "$(api_st)" = 201 ] || mg_fail "create network: $(api_st) $out"
	CI_NET=$(jq -r .id <<<"$out")
	local times="root ${t_root} s" n=0
	for p in $provs; do
		n=$((n + 1))
		if ! ci_provider "$p" "$n"; then
			sed 's/^/    /' "$MG_TMP/verdict-$p" >&2
			mg_fail "cloud/$p/user-data.yaml under cloud-init: the conditions above failed"
		fi
		mg_log "$p: cloud-init done without errors, meshgate installed, enrolled, running, tunnel up ($CI_T s: root copied in $CI_T_COPY s, the rest booting)"
		times="$times, $p $CI_T s (copy $CI_T_COPY s)"
	done
	[ "$mutant" = 1 ] && mutant=runcmd
	if [ "$mutant" != 0 ]; then
		p=${provs%% *}
		if ci_provider "$p" $((n + 1)) "$mutant"; then
			mg_fail "a broken cloud/$p/user-data.yaml (mutation $mutant) passed"
		fi
		mg_log "a broken cloud/$p/user-data.yaml (mutation $mutant) fails ($CI_T s):"
		sed 's/^/    /' "$MG_TMP/verdict-$p" >&2
		case $mutant in
		runcmd) grep -q "cloud-init status: status: error" "$MG_TMP/verdict-$p" ||
			mg_fail "the broken template's failure is not cloud-init's" ;;
		noinstall) grep -q "meshgate package: not installed" "$MG_TMP/verdict-$p" ||
			mg_fail "the broken template's failure is not the missing package" ;;
		esac
		times="$times, mutant $CI_T s"
	fi
	mg_log "timings: $times; $(($(date +%s) - t_start)) s in all"
	mg_pass
}
