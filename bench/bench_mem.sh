#!/usr/bin/env bash
# bench_mem: the agent's memory (`meshgate run`), read from /proc/PID/smaps_rollup once
# its config is applied: USS (private: Private_Clean + Private_Dirty, what this process
# alone costs), PSS (shared pages divided among their users) and RSS; plus the mapped
# libraries' share of RSS. Two configs, in namespaces of its own (tests/integration's
# topology: controller-mock with its hub, one site):
#   small: one network, one subnet, no exclusions
#   large: ROUTES routes (other networks' subnets, default 10000) and EXCL NAT
#          exclusions (default 10000): issue 18's goal is set at that size
#
# Each config is measured twice, one run after the other (the same pages of the same
# files, the first agent gone before the second starts):
#   defaults:  MESHGATE_MALLOC_DEFAULTS=1, glibc's malloc as it comes and GnuTLS's
#              implicit initialisation (what the agent did before agent/daemon/memfoot.c)
#   footprint: the agent as shipped (one arena, a fixed mmap threshold, malloc_trim after
#              a config, GnuTLS left uninitialised)
# and the RSS is split by who maps the pages: the heap, meshgate itself, libc, OpenSSL,
# libcurl, the libraries only libcurl needs (GnuTLS via librtmp, Kerberos, LDAP, ...),
# and the agent's other libraries. BREAKDOWN=1 also lists every mapping (MEM_DUMP=DIR
# keeps a copy of smaps); MEM_WRAP=PROGRAM stands in for the agent binary (a wrapper
# that runs it under heaptrack, say).
# Usage: bench/bench_mem.sh [build-dir]   (as root)
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
if [ -z "${MEM_MODE:-}" ]; then
	for MEM_MODE in defaults footprint; do
		export MEM_MODE
		"$0" "$@"
	done
	exit 0
fi
if [ "$MEM_MODE" = defaults ]; then export MESHGATE_MALLOC_DEFAULTS=1; else unset MESHGATE_MALLOC_DEFAULTS; fi
export MG_BUILD=${1:-$ROOT/build}
ROUTES=${ROUTES:-10000}
EXCL=${EXCL:-10000}
# shellcheck source=../tests/integration/lib.sh
source "$ROOT/tests/integration/lib.sh"
# shellcheck source=../tests/integration/topo.sh
source "$ROOT/tests/integration/topo.sh"
mg_setup bench_mem
MESHGATE=${MEM_WRAP:-$MESHGATE}

# kB figures of one process: "uss pss rss dirty". USS counts the clean pages of files no
# other process maps (libcurl, libnftnl, meshgate itself, ...): it moves with what else
# runs on the host. Private_Dirty ("dirty": heap, stacks, relocated library data) does not.
mem_of() {
	local pid=$1
	awk '/^Rss:/ {rss=$2} /^Pss:/ {pss=$2} /^Private_Clean:/ {pc=$2} /^Private_Dirty:/ {pd=$2}
	     END {print pc+pd, pss, rss, pd}' "/proc/$pid/smaps_rollup"
}
libs_of() {
	awk '/^[0-9a-f]+-[0-9a-f]+ / {lib = ($6 ~ /\.so/) ? $6 : ""} /^Rss:/ && lib != "" {s += $2} END {print s+0}' \
		"/proc/$1/smaps"
}
report() {
	local label=$1 pid=$2 m
	m=$(mem_of "$pid")
	read -r uss pss rss dirty <<<"$m"
	printf '%-7s %-9s USS %5.2f MiB  PSS %5.2f MiB  RSS %5.2f MiB  (dirty %.2f MiB, libraries %.2f MiB, %d libraries)\n' \
		"$label" "$MEM_MODE" "$(bc -l <<<"$uss/1024")" "$(bc -l <<<"$pss/1024")" \
		"$(bc -l <<<"$rss/1024")" "$(bc -l <<<"$dirty/1024")" \
		"$(bc -l <<<"$(libs_of "$pid")/1024")" \
		"$(awk '$6 ~ /\.so/ {print $6}' "/proc/$pid/maps" | sort -u | wc -l)"
	groups "$pid"
}
# RSS kB by who maps the pages (one line)
groups() {
	awk '/^[0-9a-f]+-[0-9a-f]+ / {
		n = $6
		g = "other"
		if (n == "[heap]") g = "heap"
		else if (n == "" || n ~ /^\[/) g = "anon"
		else if (n ~ /\/meshgate$/) g = "meshgate"
		else if (n ~ /\/(libc\.so|ld-linux)/) g = "libc"
		else if (n ~ /\/lib(crypto|ssl)\.so/) g = "openssl"
		else if (n ~ /\/libcurl\.so/) g = "curl"
		else if (n ~ /\/lib(gnutls|p11-kit|nettle|hogweed|gmp|tasn1|unistring|ffi|rtmp)\.so/) g = "gnutls"
		else if (n ~ /\/lib(krb5|krb5support|gssapi_krb5|k5crypto|com_err|keyutils|resolv|ldap|lber|sasl2)[-.]/) g = "krb5"
		else if (n ~ /\/lib(ssh2|nghttp2|idn2|psl|brotli(dec|common)|zstd|z)\.so/) g = "curlmisc"
		else if (n ~ /\/lib(nftnl|mnl|cjson|expat)\.so/) g = "own"
	     }
	     /^Rss:/ {r[g] += $2}
	     END {printf "        RSS kB: heap %d, other anonymous %d, meshgate %d, libc+ld.so %d, OpenSSL %d, libcurl %d,\n", r["heap"], r["anon"], r["meshgate"], r["libc"], r["openssl"], r["curl"]
	          printf "        only for libcurl: GnuTLS via librtmp %d, Kerberos+LDAP %d, ssh2/nghttp2/idn2/psl/brotli/zstd/z %d;\n", r["gnutls"], r["krb5"], r["curlmisc"]
	          printf "        nftnl+mnl+cJSON+expat %d, other %d\n", r["own"], r["other"]}' "/proc/$1/smaps"
}
# per-mapping breakdown: RSS (and private) kB per library file, heap, stacks, other
# anonymous mappings; MEM_DUMP=DIR keeps a copy of smaps too
breakdown() {
	local label=$1 pid=$2
	[ -z "${MEM_DUMP:-}" ] || cp "/proc/$pid/smaps" "$MEM_DUMP/smaps-$label"
	awk '/^[0-9a-f]+-[0-9a-f]+ / {
		n = $6
		if (n == "") n = "[anon]"
		else if (n ~ /\.so/) { sub(/.*\//, "", n); sub(/\.so.*/, ".so", n) }
		else if (n !~ /^\[/) { sub(/.*\//, "", n) }
	     }
	     /^Rss:/ {rss[n] += $2}
	     /^Private_(Clean|Dirty):/ {priv[n] += $2}
	     END {for (n in rss) if (rss[n] > 0) printf "%6d %6d  %s\n", rss[n], priv[n], n}' \
		"/proc/$pid/smaps" | sort -rn | awk -v l="$label" '
		BEGIN {printf "%s: RSS kB, private kB, mapping\n", l}
		{printf "    %s\n", $0}'
}

# CIDR number i (0-based) in 10.0.0.0/8 as /24s, and in 172.16.0.0/12 as /28s
route_cidr() { echo "10.$(($1 / 256 % 256)).$(($1 % 256)).0/24"; }
excl_cidr() { local i=$1; echo "172.$((16 + i / 4096)).$((i / 16 % 256)).$((i % 16 * 16))/28"; }

topo_internet
topo_site a 192.168.10 10
A=$(topo_network A '"subnets":["192.168.10.0/24"]')
topo_connector a "$A"
topo_wait_applied a 60
sleep 2
report small "$PID_a"
[ -z "${BREAKDOWN:-}" ] || breakdown small "$PID_a"

# the large config: exclusions on A, ROUTES subnets in other networks (250 each)
# (the body goes through a file: 10,000 exclusions are more than one argument may hold)
for i in $(seq 0 $((EXCL - 1))); do excl_cidr "$i"; done | jq -R . |
	jq -sc '{nat: {enabled: true, exclude: .}}' >"$MG_TMP/excl.json"
st=$(nsx "$INET" curl -sk --pinnedpubkey "$CTL_PIN" -X PATCH -o /dev/null -w '%{http_code}' \
	-H "Authorization: Bearer $ADMIN_TOKEN" -H 'Content-Type: application/json' \
	--data-binary "@$MG_TMP/excl.json" "$CTL_URL/api/v1/networks/$A")
[ "$st" = 200 ] || mg_fail "exclusions: $st"
i=0
k=0
while [ $i -lt "$ROUTES" ]; do
	n=$((ROUTES - i < 250 ? ROUTES - i : 250))
	subs=$(for j in $(seq $i $((i + n - 1))); do route_cidr "$j"; done | jq -R . | jq -sc .)
	topo_network "R$k" "\"subnets\":$subs" >/dev/null
	i=$((i + n))
	k=$((k + 1))
done
v=$(api "$INET" GET /api/v1/connectors | jq '.connectors[0].config_version')
wait_until 120 sh -c "[ \"\$(jq -r '.applied_version // 0' '$STATE_a/status.json')\" -ge $v ]" ||
	mg_fail "large config not applied: $(tail -5 "$MG_TMP/run-a.log")"
sleep 2
got_routes=$(ip -n "$C_a" route show proto 109 | wc -l)
report large "$PID_a"
[ -z "${BREAKDOWN:-}" ] || breakdown large "$PID_a"
echo "        ($got_routes routes of protocol 109, $EXCL exclusions applied)"
