# shellcheck shell=bash source-path=SCRIPTDIR
# Fresh Debian 12 roots for the system tests (see docs/TESTING.md).
#
#   root_setup NAME        mg_setup (lib.sh) plus the clean-up of the roots made here
#   root_new [TAR]         $ROOT: a fresh copy of the cached minbase root (or of TAR, a
#                          root derived from it: lib_cloudinit.sh)
#   root_run NET CMD...    run CMD chrooted in $ROOT, NET being
#                            host  the host's network: for apt only
#                            none  a new, empty network namespace
#                            NS    a namespace made with ns_add
#   root_boot NS           boot the root's systemd (systemd-nspawn in namespace NS);
#                          root_in CMD... runs CMD in it, root_halt shuts it down
#   root_snapshot FILE     the tree of $ROOT (type, mode, owner, size, md5, link target)
#                          minus ROOT_EXCLUDES, sorted: compare two with root_diff
#
# The minbase root comes from `debootstrap --variant=minbase bookworm` (the archive the
# host's apt uses for bookworm, read from /etc/apt/sources* now; debootstrap's default if
# none) and is cached as $ROOT_TAR; delete it to make a new one. Downloaded .debs are
# kept in $ROOT_CACHE/apt-archives: each root gets its own archives directory ($ROOT.apt,
# bind-mounted as /var/cache/apt/archives) seeded from it with hard links, and what apt
# downloads there goes back to it; so runs of several checkouts at once never share
# apt's lock.
#
# root_run mounts nothing in the caller's mount namespace: every command gets its own
# mount and PID namespaces (unshare), with /proc, a read-only /sys, a /dev holding only
# null zero full random urandom tty (and net/tun), and an empty tmpfs /run. When the
# command ends, its mounts and every process it started in the root go with it. Roots
# live under /var/tmp and are removed on every exit path.

# shellcheck source=../integration/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/../integration/lib.sh"

ROOT_SUITE=bookworm
ROOT_CACHE=${MG_ROOT_CACHE:-/var/cache/meshgate-test}
ROOT_TAR=$ROOT_CACHE/$ROOT_SUITE-minbase.tar
ROOT_APT=$ROOT_CACHE/apt-archives
ROOT=""

# What legitimately changes in a root when a package is installed and purged again,
# left out of root_snapshot; everything else (dpkg's status file included) must come
# back byte for byte.
ROOT_EXCLUDES=(
	./var/cache/apt/pkgcache.bin    # apt's binary caches, rebuilt whenever apt runs
	./var/cache/apt/srcpkgcache.bin
	./var/cache/ldconfig/aux-cache  # ldconfig's record of library file times
	./var/lib/dpkg/status-old       # dpkg's backup of its previous status file
	./var/lib/apt/extended_states   # apt's automatic-install marks (left empty, not removed)
	./var/log                       # dpkg.log, apt/history.log, apt/term.log, apt/eipp.log.xz
)

# root_setup NAME: like mg_setup; the EXIT trap also removes the roots made here
root_setup() {
	mg_setup "$1"
	trap '_root_exit' EXIT
	[ -x "$(command -v debootstrap)" ] || { echo "$1: no debootstrap (scripts/deps)" >&2; exit 77; }
	_root_reap
}
# Roots of runs that were killed outright (SIGKILL runs no trap): each root has an
# owner file (ROOT.pid) naming the test's PID; gone owner, nothing mounted: removed.
_root_reap() {
	local d pid
	for d in /var/tmp/mgt*-root.* /var/tmp/mgt*-debootstrap.*; do
		case $d in *.pid | *.apt) continue ;; esac
		{ [ -d "$d" ] && [ -f "$d.pid" ]; } || continue
		pid=$(cat "$d.pid")
		kill -0 "$pid" 2>/dev/null && continue
		if awk -v r="$d/" 'index($5, r) == 1 { f = 1 } END { exit !f }' /proc/self/mountinfo; then
			continue
		fi
		mg_log "removing $d (left by a killed run, pid $pid)"
		rm -rf --one-file-system "$d" "$d.apt"
		rm -f "$d.pid"
	done
}
_root_exit() {
	local rc=$? p
	set +e
	# first what runs in a root (a booted container among them), then the roots
	if [ -f "$MG_TMP/.pids" ]; then
		local pids
		pids=$(cat "$MG_TMP/.pids")
		for p in $pids; do kill -TERM "$p" 2>/dev/null; done
		for p in $pids; do
			for _ in $(seq 1 30); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
			kill -KILL "$p" 2>/dev/null
		done
	fi
	root_cleanup "$rc"
	(exit "$rc")
	mg_cleanup
}

# The Debian archive the host's apt uses for $ROOT_SUITE (deb822 or one-line sources).
root_host_mirror() {
	local f
	{
		for f in /etc/apt/sources.list.d/*.sources; do
			[ -r "$f" ] || continue
			awk -v suite="$ROOT_SUITE" 'BEGIN { RS = ""; FS = "\n" }
				{
					types = ""; uris = ""; suites = ""; enabled = "yes"
					for (i = 1; i <= NF; i++) {
						line = $i
						if (line ~ /^#/) continue
						k = tolower(line); sub(/:.*/, "", k)
						v = line; sub(/^[^:]*:[ \t]*/, "", v)
						if (k == "types") types = v
						else if (k == "uris") uris = v
						else if (k == "suites") suites = v
						else if (k == "enabled") enabled = tolower(v)
					}
					if (enabled == "no" || (" " types " ") !~ / deb /) next
					if ((" " suites " ") !~ (" " suite " ")) next
					split(uris, u, /[ \t]+/); print u[1]; exit
				}' "$f"
		done
		for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list; do
			[ -r "$f" ] || continue
			awk -v suite="$ROOT_SUITE" '$1 == "deb" {
					i = 2
					if ($i ~ /^\[/) { while ($i !~ /\]$/ && i < NF) i++; i++ }
					if ($(i + 1) == suite) print $i
				}' "$f"
		done
	} | sed -n 1p
}

# root_cache: make $ROOT_TAR unless it is there (one maker at a time)
root_cache() {
	local lk d mirror t0
	mkdir -p "$ROOT_CACHE" "$ROOT_APT"
	[ -s "$ROOT_TAR" ] && return 0
	exec {lk}>"$ROOT_CACHE/.lock"
	flock "$lk"
	if [ ! -s "$ROOT_TAR" ]; then
		d=$(mktemp -d "/var/tmp/mgt$MG_ID-debootstrap.XXXXXX")
		echo "$d" >>"$MG_TMP/.roots"
		echo $$ >"$d.pid"
		mirror=$(root_host_mirror)
		local from="debootstrap's default archive"
		[ -n "$mirror" ] && from="the archive the host's apt uses"
		mg_log "debootstrap --variant=minbase $ROOT_SUITE from $from; cached as $ROOT_TAR"
		t0=$(date +%s)
		# its own mount namespace: debootstrap mounts /proc and /sys in the target
		if ! unshare --mount debootstrap --variant=minbase "$ROOT_SUITE" "$d/root" ${mirror:+"$mirror"} \
			>"$d/log" 2>&1; then
			tail -n 20 "$d/log" >&2
			mg_fail "debootstrap failed (full log in $d/log while the test runs)"
		fi
		tar -C "$d/root" --numeric-owner -cf "$ROOT_TAR.tmp" . && mv "$ROOT_TAR.tmp" "$ROOT_TAR"
		mg_log "debootstrap + tarball: $(($(date +%s) - t0)) s"
		rm -rf --one-file-system "$d"
		rm -f "$d.pid"
	fi
	exec {lk}>&-
}

# root_new [TAR]: $ROOT is a fresh root, removed when the test ends
# shellcheck disable=SC2120 # TAR is optional
root_new() {
	local tar=${1:-$ROOT_TAR}
	root_cache
	ROOT=$(mktemp -d "/var/tmp/mgt$MG_ID-root.XXXXXX")
	echo "$ROOT" >>"$MG_TMP/.roots"
	echo $$ >"$ROOT.pid"
	mkdir -p "$ROOT.apt/partial"
	find "$ROOT_APT" -maxdepth 1 -name '*.deb' -exec cp -l -t "$ROOT.apt" {} + 2>/dev/null ||
		find "$ROOT_APT" -maxdepth 1 -name '*.deb' -exec cp -t "$ROOT.apt" {} +
	tar -C "$ROOT" --numeric-owner -xpf "$tar"
	chmod 755 "$ROOT"
}

# Runs inside the new mount (and PID) namespace: $1 root, $2 net mode, then the command.
# ROOT_BINDS="HOSTFILE:PATH ..." mounts files over paths of the root (PATH resolved
# inside the root) for this command only.
# shellcheck disable=SC2016 # a script for the inner shell
_ROOT_ENTER='
set -eu
r=$1 net=$2 apt=$3
shift 3
mount -t proc -o nosuid,nodev,noexec proc "$r/proc"
mount -t sysfs -o ro,nosuid,nodev,noexec sysfs "$r/sys"
mount -t tmpfs -o mode=755,nosuid tmpfs "$r/dev"
for n in null zero full random urandom tty; do
	: >"$r/dev/$n"
	mount --bind "/dev/$n" "$r/dev/$n"
done
mkdir "$r/dev/shm" "$r/dev/pts" "$r/dev/net"
mount -t tmpfs -o mode=1777,nosuid,nodev tmpfs "$r/dev/shm"
if [ -c /dev/net/tun ]; then
	: >"$r/dev/net/tun"
	mount --bind /dev/net/tun "$r/dev/net/tun"
fi
ln -s /proc/self/fd "$r/dev/fd"
ln -s /proc/self/fd/0 "$r/dev/stdin"
ln -s /proc/self/fd/1 "$r/dev/stdout"
ln -s /proc/self/fd/2 "$r/dev/stderr"
mount -t tmpfs -o mode=755,nosuid,nodev tmpfs "$r/run"
mkdir -m 1777 "$r/run/lock"
if [ -d "$r/var/cache/apt/archives" ]; then
	mount --bind "$apt" "$r/var/cache/apt/archives"
fi
if [ "$net" = host ] && [ -f "$r/etc/resolv.conf" ] && [ ! -L "$r/etc/resolv.conf" ]; then
	mount --bind -o ro /etc/resolv.conf "$r/etc/resolv.conf"
fi
for b in ${ROOT_BINDS:-}; do
	dst=$(chroot "$r" realpath -m "${b#*:}")
	mount --bind "${b%%:*}" "$r$dst"
done
exec chroot "$r" /usr/bin/env -i PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
	HOME=/root LC_ALL=C.UTF-8 TERM=dumb "$@"
'

# root_run NET CMD...: see the top of this file
root_run() {
	local net=$1 pre=() flags=(--mount --pid --fork --kill-child)
	shift
	case $net in
	host) ;;
	none) flags+=(--net) ;;
	*) pre=(ip netns exec "$net") ;;
	esac
	local rc=0
	"${pre[@]}" unshare "${flags[@]}" bash -c "$_ROOT_ENTER" root-enter "$ROOT" "$net" "$ROOT.apt" "$@" ||
		rc=$?
	[ "$net" != host ] || _root_apt_save
	return $rc
}
# what apt downloaded into $ROOT.apt goes to the shared cache (hard link or copy, then
# an atomic rename: a concurrent reader never sees half a file)
_root_apt_save() {
	local f b
	for f in "$ROOT.apt"/*.deb; do
		[ -f "$f" ] || continue
		b=${f##*/}
		[ -e "$ROOT_APT/$b" ] && continue
		{ ln "$f" "$ROOT_APT/.$b.$$" 2>/dev/null || cp "$f" "$ROOT_APT/.$b.$$"; } &&
			mv -f "$ROOT_APT/.$b.$$" "$ROOT_APT/$b"
	done
	return 0
}

# root_boot NS: boot $ROOT's systemd as PID 1 with systemd-nspawn in namespace NS (its
# network; /dev/net/tun for userspace WireGuard). The container lives in a PID namespace
# of its own under `unshare --kill-child`, so ending that one process (BOOT_PID) ends
# everything in it. Sets BOOT_PID and BOOT_INIT (the container's PID 1, as the host sees
# it); returns 1 when systemd did not come up within 60 s.
root_boot() {
	local ns=$1 p q
	BOOT_INIT=""
	unshare --pid --fork --kill-child --mount-proc systemd-nspawn -q --register=no --keep-unit \
		--console=read-only -D "$ROOT" --network-namespace-path="/run/netns/$ns" \
		--bind=/dev/net/tun --capability=CAP_NET_ADMIN --boot </dev/null >"$MG_TMP/boot.log" 2>&1 &
	BOOT_PID=$!
	bg_track "$BOOT_PID"
	for _ in $(seq 1 100); do
		for p in $(pgrep -x systemd); do
			# the container's init is the systemd whose parent is systemd-nspawn, not a
			# child it forked (named systemd until it execs: it may be gone at once)
			q=$(awk '/^PPid:/ { print $2 }' "/proc/$p/status" 2>/dev/null)
			[ "$(cat "/proc/$q/comm" 2>/dev/null)" = systemd-nspawn ] || continue
			q=$p
			while [ "${q:-1}" -gt 1 ]; do
				q=$(awk '/^PPid:/ { print $2 }' "/proc/$q/status" 2>/dev/null)
				if [ "$q" = "$BOOT_PID" ]; then
					BOOT_INIT=$p
					break 3
				fi
			done
		done
		sleep 0.1
	done
	[ -n "$BOOT_INIT" ] || return 1
	# systemctl answers once the manager's socket is up; --wait then waits for the boot
	for _ in $(seq 1 300); do
		case $(timeout 60 nsenter -t "$BOOT_INIT" -a systemctl is-system-running --wait 2>&1) in
		running | degraded) return 0 ;;
		stopping | maintenance) return 1 ;;
		esac
		kill -0 "$BOOT_PID" 2>/dev/null || return 1
		sleep 0.2
	done
	return 1
}
# root_in CMD...: run CMD in the booted root (all of its namespaces; a clean environment)
root_in() {
	nsenter -t "$BOOT_INIT" -a env -i PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
		HOME=/root LC_ALL=C.UTF-8 TERM=dumb "$@"
}
# root_halt: power the booted root off (and make sure it is gone)
root_halt() {
	[ -n "${BOOT_PID:-}" ] || return 0
	[ -z "${BOOT_INIT:-}" ] || root_in systemctl --no-block poweroff >/dev/null 2>&1 || true
	for _ in $(seq 1 200); do kill -0 "$BOOT_PID" 2>/dev/null || break; sleep 0.1; done
	kill -KILL "$BOOT_PID" 2>/dev/null || true
	wait "$BOOT_PID" 2>/dev/null || true
	return 0
}

# root_pids: processes whose root directory is $ROOT
root_pids() {
	local p
	for p in /proc/[0-9]*; do
		[ "$(readlink "$p/root" 2>/dev/null)" = "$ROOT" ] && echo "${p#/proc/}"
	done
	return 0
}

# root_snapshot FILE
root_snapshot() {
	local out=$1 e prune=()
	for e in "${ROOT_EXCLUDES[@]}"; do prune+=(-path "$e" -prune -o); done
	(
		cd "$ROOT" || exit 1
		# (no size for directories: ext4 never shrinks one)
		find . -xdev "${prune[@]}" \( -type d -printf 'M %y %m %U:%G %p\n' -o \
			-printf 'M %y %m %U:%G %s %p -> %l\n' \)
		find . -xdev "${prune[@]}" -type f -print0 | xargs -0 -r md5sum | sed 's/^/H /'
	) | LC_ALL=C sort >"$out"
}

# root_diff A B: prints the differences; 0 when none
root_diff() {
	diff "$1" "$2" >"$MG_TMP/.rootdiff" && return 0
	grep '^[<>]' "$MG_TMP/.rootdiff" | head -n 60
	return 1
}

# root_cleanup RC: every root made by this test: its processes end, then it goes (only
# when nothing is mounted below it in this namespace: never rm through a mount)
root_cleanup() {
	local rc=${1:-0} r p
	[ -n "${MG_TMP:-}" ] && [ -f "$MG_TMP/.roots" ] || return 0
	while read -r r; do
		[ -d "$r" ] || continue
		for p in /proc/[0-9]*; do
			case $(readlink "$p/root" 2>/dev/null) in
			"$r" | "$r"/*) kill -KILL "${p#/proc/}" 2>/dev/null ;;
			esac
		done
		sleep 0.1
		awk -v r="$r/" 'index($5, r) == 1 { print $5 }' /proc/self/mountinfo | sort -r |
			while read -r m; do umount -l "$m" 2>/dev/null; done
		if awk -v r="$r/" 'index($5, r) == 1 { f = 1 } END { exit !f }' /proc/self/mountinfo; then
			mg_log "not removing $r: something is still mounted below it"
			continue
		fi
		if [ "$rc" -ne 0 ] && [ -n "${MG_KEEP_TMP:-}" ]; then
			rm -f "$r.pid" # kept on purpose: no later run reaps it
			mg_log "kept $r"
			continue
		fi
		rm -rf --one-file-system "$r" "$r.apt"
		rm -f "$r.pid"
	done <"$MG_TMP/.roots"
}
