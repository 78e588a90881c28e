#!/usr/bin/env bash
# mg-labels: long
# (out of the CI core for time: t_install builds and installs this package too)
# The meshgate .deb (issue 6, Packaging): cpack makes it from the normal build; dpkg-deb
# shows the right files, modes, Depends (every shared library's package, computed by
# dpkg-shlibdeps), Recommends/Suggests, conffiles and maintainer scripts; then in a fresh
# Debian 12 root: `dpkg -i` stops for the missing dependencies, `apt-get -f install`
# completes it, the programs run, the unit passes `systemd-analyze verify`, and
# `apt-get purge` (plus autoremove of what came with it) gives back the exact tree.
# apt reaches the archive from the host's network (downloads only); everything else
# runs in the root without network.
# shellcheck source-path=SCRIPTDIR disable=SC2016 # dpkg-query's ${Field} formats
. "$(dirname "$0")/lib_root.sh"
root_setup deb

for t in cpack dpkg-deb readelf; do
	command -v "$t" >/dev/null || { mg_log "SKIP: no $t (scripts/deps)"; exit 77; }
done
[ -f "$MG_BUILD/CPackConfig.cmake" ] || mg_fail "no CPackConfig.cmake in $MG_BUILD (configure first)"
ver=$(sed -n 's/^CMAKE_PROJECT_VERSION:STATIC=//p' "$MG_BUILD/CMakeCache.txt")
arch=$(dpkg --print-architecture)

mg_log "cpack -G DEB from $MG_BUILD"
t0=$(now_ms)
(cd "$MG_TMP" && cpack -G DEB --config "$MG_BUILD/CPackConfig.cmake" -B "$MG_TMP/pkg") \
	>"$MG_TMP/cpack.log" 2>&1 || mg_fail "cpack: $(tail -20 "$MG_TMP/cpack.log")"
DEB=$MG_TMP/pkg/meshgate_${ver}_${arch}.deb
[ -f "$DEB" ] || mg_fail "no $(basename "$DEB"): $(ls "$MG_TMP/pkg")"
mg_log "cpack: $(($(now_ms) - t0)) ms, $(stat -c %s "$DEB") bytes"

# --- the package as dpkg-deb shows it -------------------------------------------------
f() { dpkg-deb -f "$DEB" "$1"; }
assert_eq "$(f Package)" meshgate "Package"
assert_eq "$(f Version)" "$ver" "Version (the project's)"
assert_eq "$(f Architecture)" "$arch" "Architecture"
assert_eq "$(f Recommends)" wireguard-go "Recommends"
assert_contains "$(f Suggests)" wireguard-tools
assert_contains "$(f Suggests)" nftables
[ -n "$(f Maintainer)" ] || mg_fail "no Maintainer"
[ -n "$(f Description)" ] || mg_fail "no Description"

unitdir=$(pkg-config --variable=systemdsystemunitdir systemd 2>/dev/null || true)
unitdir=${unitdir:-/lib/systemd/system}
# every file and link (directories aside), with mode and owner: exactly these
expect=(
	"-rwxr-xr-x root/root ./usr/sbin/meshgate"
	"-rwxr-xr-x root/root ./usr/sbin/meshgate-controller-mock"
	"-rw-r--r-- root/root .$unitdir/meshgate.service"
	"-rw-r--r-- root/root .$unitdir/meshgate-controller-mock.service"
	"-rw-r--r-- root/root ./etc/default/meshgate"
	"-rw-r--r-- root/root ./etc/meshgate/meshgate.conf"
	"-rw-r--r-- root/root ./etc/iproute2/rt_protos.d/meshgate.conf"
	"-rw-r--r-- root/root ./usr/share/doc/meshgate/copyright"
	"-rw-r--r-- root/root ./usr/share/doc/meshgate/changelog.gz"
)
pages=()
for m in "$MG_SRC"/man/*.8; do
	[ -f "$m" ] || continue
	pages+=("$(basename "$m")")
	expect+=("-rw-r--r-- root/root ./usr/share/man/man8/$(basename "$m").gz")
done
if [ -f "$MG_SRC/dist/bash-completion/meshgate" ]; then
	expect+=("-rw-r--r-- root/root ./usr/share/bash-completion/completions/meshgate"
		"lrwxrwxrwx root/root ./usr/share/bash-completion/completions/meshgate-controller-mock -> meshgate")
else
	mg_log "no dist/bash-completion/meshgate in the source: no completion expected"
fi
[ ${#pages[@]} -gt 0 ] || mg_log "no man/*.8 in the source: no man pages expected"
dpkg-deb -c "$DEB" | awk '$1 !~ /^d/ { $3 = $4 = $5 = ""; print }' | tr -s ' ' >"$MG_TMP/files"
printf '%s\n' "${expect[@]}" | sort >"$MG_TMP/files.want"
sort -o "$MG_TMP/files" "$MG_TMP/files"
diff "$MG_TMP/files.want" "$MG_TMP/files" >"$MG_TMP/files.diff" ||
	mg_fail "package contents (want < > have): $(cat "$MG_TMP/files.diff")"
dpkg-deb -c "$DEB" | awk '$1 ~ /^d/ && ($1 != "drwxr-xr-x" || $2 != "root/root") { print }' >"$MG_TMP/baddirs"
[ ! -s "$MG_TMP/baddirs" ] || mg_fail "directories not 0755 root: $(cat "$MG_TMP/baddirs")"

mkdir -p "$MG_TMP/x" "$MG_TMP/ctl"
dpkg-deb -x "$DEB" "$MG_TMP/x"
dpkg-deb -e "$DEB" "$MG_TMP/ctl"
for p in "${pages[@]}"; do
	gz="$MG_TMP/x/usr/share/man/man8/$p.gz"
	cmp -s <(gzip -dc "$gz") "$MG_SRC/man/$p" || mg_fail "$p.gz is not man/$p"
	# gzip -n: no file name (flag bit 3) and no time stamp in the header
	hdr=$(od -An -tu1 -N8 "$gz" | tr -s ' ')
	assert_eq "$hdr" " 31 139 8 0 0 0 0 0" "$p.gz header (gzip -9n)"
done
assert_contains "$(gzip -dc "$MG_TMP/x/usr/share/doc/meshgate/changelog.gz" | sed -n 1p)" \
	"meshgate ($ver) " "changelog's version"
cmp -s "$MG_TMP/x$unitdir/meshgate.service" "$MG_SRC/dist/systemd/meshgate.service" ||
	mg_fail "the packaged unit is not dist/systemd/meshgate.service"

# Depends: the package of every shared library the programs need (read from the ELF
# files, independently of dpkg-shlibdeps), and the ones the design names
deps=$(f Depends)
mg_log "Depends: $deps"
needed=$(for b in meshgate meshgate-controller-mock; do
	readelf -d "$MG_TMP/x/usr/sbin/$b" | sed -n 's/.*(NEEDED).*\[\(.*\)\]/\1/p'
done | sort -u)
# (no reader that stops early, like head or awk's exit: under pipefail the writer's
# SIGPIPE would fail the assignment and end the test without a word)
# the package owning a library file (dpkg knows it under /lib or /usr/lib: usrmerge)
owner() {
	local p real c
	p=$1
	real=$(readlink -f "$p")
	for c in "$p" "$real" "${p#/usr}" "/usr${p#/usr}" "${real#/usr}" "/usr${real#/usr}"; do
		dpkg -S "$c" 2>/dev/null | sed -n "1s/:.*//p" | grep . && return 0
	done
	return 0
}
for lib in $needed; do
	path=$(ldconfig -p | awk -v l="$lib" '$1 == l && !f { print $NF; f = 1 }')
	[ -n "$path" ] || mg_fail "cannot find $lib on this host"
	pkg=$(owner "$path")
	[ -n "$pkg" ] || mg_fail "no package owns $path"
	grep -qE "(^|, )$pkg( |,|$)" <<<"$deps" || mg_fail "Depends lacks $pkg (for $lib): $deps"
done
# (t64: the names Ubuntu 24.04 gave these libraries)
for pkg in libc6 libcurl4 libnftnl11 libmnl0 libcjson1 libssl3 libexpat1 libmicrohttpd12 libsqlite3-0; do
	grep -qE "(^|, )$pkg(t64)?( |,|$)" <<<"$deps" || mg_fail "Depends lacks $pkg: $deps"
done
if grep -q '^libsystemd.so' <<<"$needed"; then
	grep -qE "(^|, )libsystemd0( |,|$)" <<<"$deps" || mg_fail "Depends lacks libsystemd0: $deps"
fi

# conffiles: exactly the files under /etc
awk '$NF ~ /^\.\/etc\// && $1 !~ /^d/ { sub(/^\./, "", $NF); print $NF }' <(dpkg-deb -c "$DEB") |
	sort >"$MG_TMP/etc.want"
sort "$MG_TMP/ctl/conffiles" >"$MG_TMP/etc.have"
diff "$MG_TMP/etc.want" "$MG_TMP/etc.have" >/dev/null ||
	mg_fail "conffiles ($(tr '\n' ' ' <"$MG_TMP/etc.have")) are not the /etc files ($(tr '\n' ' ' <"$MG_TMP/etc.want"))"
for s in postinst prerm postrm; do
	[ -x "$MG_TMP/ctl/$s" ] || mg_fail "no executable $s"
	sh -n "$MG_TMP/ctl/$s" || mg_fail "$s: syntax"
	cmp -s "$MG_TMP/ctl/$s" "$MG_SRC/dist/deb/$s" || mg_fail "$s is not dist/deb/$s"
done
# md5sums covers every regular file
(cd "$MG_TMP/x" && find . -type f | sed 's|^\./||' | sort) >"$MG_TMP/md5.want"
awk '{ print $2 }' "$MG_TMP/ctl/md5sums" | sort >"$MG_TMP/md5.have"
diff -q "$MG_TMP/md5.want" "$MG_TMP/md5.have" >/dev/null || mg_fail "md5sums does not list every file"
(cd "$MG_TMP/x" && md5sum -c --quiet "$MG_TMP/ctl/md5sums") || mg_fail "md5sums wrong"
if command -v lintian >/dev/null; then
	lintian --no-tag-display-limit "$DEB" >"$MG_TMP/lintian.log" 2>&1 || true
	mg_log "lintian (for information): $(grep -c '^E:' "$MG_TMP/lintian.log") errors, $(grep -c '^W:' "$MG_TMP/lintian.log") warnings"
fi

# --- a fresh Debian 12 root -----------------------------------------------------------
t0=$(now_ms)
root_new
mg_log "fresh root in $ROOT: $(($(now_ms) - t0)) ms"
apt_host() { root_run host env DEBIAN_FRONTEND=noninteractive apt-get -q "$@" >>"$MG_TMP/apt.log" 2>&1; }
apt_off() { root_run none env DEBIAN_FRONTEND=noninteractive apt-get -q "$@" >>"$MG_TMP/apt.log" 2>&1; }
t0=$(now_ms)
apt_host update || mg_fail "apt-get update in the root: $(tail -5 "$MG_TMP/apt.log")"
mg_log "apt-get update in the root: $(($(now_ms) - t0)) ms"
# first without systemd at all (a minimal chroot or container): the maintainer scripts
# must work without systemctl
cp "$DEB" "$ROOT/root/"
DEBIN=/root/$(basename "$DEB")
root_snapshot "$MG_TMP/before"

mg_log "dpkg -i stops for the missing dependencies"
out=$(root_run none dpkg -i "$DEBIN" 2>&1) && mg_fail "dpkg -i succeeded without the libraries: $out"
assert_contains "$out" "dependency problems"
assert_contains "$out" "libcurl4"

mg_log "apt-get -f install completes it (downloads with the host's network, installs without)"
t0=$(now_ms)
# (no Recommends: ca-certificates, which libraries recommend, would stay after
# autoremove because apt in the base root recommends it too)
apt_host -f install -y --no-install-recommends --download-only ||
	mg_fail "apt-get -f install --download-only: $(tail -5 "$MG_TMP/apt.log")"
apt_off -f install -y --no-install-recommends || mg_fail "apt-get -f install: $(tail -10 "$MG_TMP/apt.log")"
mg_log "apt-get -f install: $(($(now_ms) - t0)) ms"
st=$(root_run none dpkg-query -W -f='${Status} ${Version}' meshgate)
assert_eq "$st" "install ok installed $ver" "meshgate's status"
out=$(root_run none dpkg --verify meshgate 2>&1) || mg_fail "dpkg --verify: $out"
assert_eq "$out" "" "dpkg --verify"
cf=$(root_run none dpkg-query -W -f='${Conffiles}' meshgate)
assert_contains "$cf" "/etc/default/meshgate"
assert_contains "$cf" "/etc/iproute2/rt_protos.d/meshgate.conf"
assert_contains "$cf" "/etc/meshgate/meshgate.conf"

mg_log "the programs run in the root"
out=$(root_run none meshgate --help) || mg_fail "meshgate --help: $out"
assert_contains "$out" "Usage: meshgate"
out=$(root_run none meshgate version) || mg_fail "meshgate version: $out"
assert_eq "$out" "meshgate $ver" "meshgate version"
out=$(root_run none meshgate-controller-mock --help 2>&1) || mg_fail "meshgate-controller-mock --help: $out"
out=$(root_run none sh -c 'ldd /usr/sbin/meshgate /usr/sbin/meshgate-controller-mock')
assert_not_contains "$out" "not found" "a library the Depends did not bring"
rc=0
out=$(root_run none meshgate status 2>&1) || rc=$?
assert_eq "$rc" 4 "meshgate status before enrolment (4: not enrolled)"
if [ ${#pages[@]} -gt 0 ]; then
	out=$(root_run none sh -c 'zcat /usr/share/man/man8/meshgate.8.gz | grep -m1 "^\.TH"')
	assert_contains "$out" ".TH"
fi
if [ -f "$ROOT/usr/share/bash-completion/completions/meshgate" ]; then
	root_run none bash -n /usr/share/bash-completion/completions/meshgate || mg_fail "completion: syntax"
fi

[ ! -e "$ROOT/var/lib/meshgate" ] || mg_fail "the package made /var/lib/meshgate (enrolment does)"

mg_log "apt-get purge, then autoremove what came with it: the tree as before"
t0=$(now_ms)
apt_off purge -y meshgate || mg_fail "apt-get purge: $(tail -10 "$MG_TMP/apt.log")"
apt_off autoremove --purge -y || mg_fail "apt-get autoremove: $(tail -10 "$MG_TMP/apt.log")"
mg_log "purge + autoremove: $(($(now_ms) - t0)) ms"
st=$(root_run none dpkg-query -W -f='${Status}' meshgate 2>/dev/null || true)
case $st in "" | "unknown ok not-installed" | "purge ok not-installed") ;; *) mg_fail "meshgate after purge: $st" ;; esac
left=$(cd "$ROOT" && find . -xdev -name '*meshgate*' ! -path "./root/$(basename "$DEB")" \
	! -path './var/log/*' ! -path './var/cache/apt/*' | sed -n 1,10p)
[ -z "$left" ] || mg_fail "left after purge: $left"
root_snapshot "$MG_TMP/after"
root_diff "$MG_TMP/before" "$MG_TMP/after" || mg_fail "the tree changed (< before, > after purge)"

# --- again with systemd installed (not running: a chroot) --------------------------------
mg_log "with systemd installed: systemd-analyze verify, nothing enabled, purge leaves nothing"
t0=$(now_ms)
if ! apt_host install -y --no-install-recommends --download-only systemd ||
	! apt_off install -y --no-install-recommends systemd; then
	mg_fail "installing systemd in the root: $(tail -5 "$MG_TMP/apt.log")"
fi
root_snapshot "$MG_TMP/before2"
apt_host install -y --no-install-recommends --download-only "$DEBIN" ||
	mg_fail "apt-get install --download-only: $(tail -5 "$MG_TMP/apt.log")"
apt_off install -y --no-install-recommends "$DEBIN" || mg_fail "apt-get install: $(tail -10 "$MG_TMP/apt.log")"
out=$(root_run none systemd-analyze verify --man=no "$unitdir/meshgate.service" 2>&1) ||
	mg_fail "systemd-analyze verify: $out"
assert_not_contains "$out" "meshgate.service" "systemd-analyze verify warnings"
# installing enabled nothing and started nothing
[ ! -e "$ROOT/etc/systemd/system/multi-user.target.wants/meshgate.service" ] ||
	mg_fail "the package enabled meshgate.service by itself"
assert_eq "$(root_run none systemctl is-enabled meshgate.service 2>&1 || true)" disabled "unit state"
apt_off purge -y meshgate || mg_fail "apt-get purge: $(tail -10 "$MG_TMP/apt.log")"
apt_off autoremove --purge -y || mg_fail "apt-get autoremove: $(tail -10 "$MG_TMP/apt.log")"
root_snapshot "$MG_TMP/after2"
root_diff "$MG_TMP/before2" "$MG_TMP/after2" || mg_fail "with systemd: the tree changed (< before, > after purge)"
mg_log "with systemd: $(($(now_ms) - t0)) ms"
mg_pass
