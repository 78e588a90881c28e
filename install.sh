#!/usr/bin/env bash
# meshgate installer: checks the host, installs the build dependencies, builds the
# meshgate .deb from source and installs it with apt, enrols with the controller and
# starts meshgate.service. `install.sh --help` says everything; the README's
# "Install on a server" section is the short version.
#
# The whole script is one function called on its last line, so that `curl ... | bash`
# runs only a completely downloaded script.

# Where the source comes from when this script runs from a pipe without --source. Empty:
# whoever publishes install.sh next to a source archive or repository sets it.
MESHGATE_DEFAULT_SOURCE=""

set -euo pipefail
set -E
umask 022

PROG=meshgate-install
STATE_DIR=/var/lib/meshgate
DEFAULTS=/etc/default/meshgate
UNIT=meshgate.service
CACHE=/var/cache/meshgate-install
SBIN=/usr/sbin/meshgate

# exit codes (documented in --help)
E_FAIL=1 E_USAGE=2
E_ROOT=10 E_OS=11 E_NFT=12 E_NET=13 E_SOURCE=14
E_DEPS=20 E_BUILD=21 E_PKG=22 E_CHECK=23 E_ENROLL=24 E_SERVICE=25 E_UNINSTALL=26

usage() {
	cat <<'EOF'
Usage:
  curl -fsSL <url>/install.sh | sudo bash -s -- --connect 'mg1:...' [--source URL] [options]
  sudo ./install.sh (--connect STRING | --connect-file FILE) [options]   (from a checkout)
  sudo ./install.sh --uninstall [--purge]

Installs meshgate on Debian 12 or Ubuntu 22.04/24.04 and makes this host the mesh's
connector for its LAN:
  1. checks the host: root, the OS, nftables in the kernel, a TCP path to the controller
     named in the connection string (before changing anything);
  2. installs the build dependencies with apt (and wireguard-go when the kernel has no
     WireGuard); the ones it installs are marked automatic, so `apt-get autoremove`
     takes them away again once you no longer want to build here;
  3. builds meshgate with cmake in /var/cache/meshgate-install/build and makes the .deb
     with cpack (or takes the one given with --deb);
  4. runs `meshgate check` (when this meshgate has it): root, nftables, WireGuard, and
     HTTPS to the controller with the pinned key;
  5. installs the package with apt-get, so dpkg tracks every file:
       /usr/sbin/meshgate, /usr/sbin/meshgate-controller-mock
       /lib/systemd/system/meshgate.service   (/usr/lib/... on Ubuntu 24.04)
       /etc/default/meshgate                  (MESHGATE_RUN_OPTS, a conffile)
       /etc/meshgate/meshgate.conf            (the local settings, commented; a
                                              conffile: an edited copy is kept)
       /etc/iproute2/rt_protos.d/meshgate.conf (`ip route show proto meshgate`)
       man pages meshgate(8), meshgate-controller-mock(8) and bash completion
  6. enrols once (`meshgate up --connect-file`): the identity and keys stay in
     /var/lib/meshgate (0700); a host already enrolled is never enrolled again;
  7. `systemctl enable --now meshgate` (returns once the agent reports ready: tunnel,
     routes and firewall in place) and prints `meshgate status`.
Running it again changes nothing and says so; a new build of changed source is
installed over the old one (the service restarts).

Options:
  -c, --connect STRING     the connection string (mg1:...) from the controller. It holds
                           a single-use token: it is written to a 0600 file for
                           `meshgate up`, removed afterwards, and never printed.
                           (It is visible in this script's own command line while it
                           runs: prefer --connect-file on shared hosts.)
  -f, --connect-file FILE  read the connection string from FILE
      --deb FILE           install this meshgate .deb instead of building one
      --source SRC         where the source is: a directory, a git repository URL
                           (URL#REF for a branch or tag) or a .tar.gz/.tar.xz URL of
                           it. Default: the checkout this script is in; needed when the
                           script comes from a pipe (curl | bash)
      --build-dir DIR      build here instead of /var/cache/meshgate-install/build
                           (which --uninstall removes; a DIR of yours stays)
      --run-opts "OPTS"    options for `meshgate run`, written to /etc/default/meshgate
                           as MESHGATE_RUN_OPTS (e.g. "--lan-if eth1 --cloud none");
                           the service restarts when they change. Without it the file
                           is left as it is
      --no-start           install and enrol, but neither enable nor start the service.
                           Automatic when systemd is not running (a chroot, a container):
                           then the unit is enabled for the next boot where systemctl
                           exists, and not started
      --deps-only          only check the host and install the dependencies (to prepare
                           an image, or a host that reaches the package archive only now)
      --uninstall          stop and disable the service, run `meshgate down` (removes the
                           tunnel, routes, nftables table and owned cloud routes, restores
                           the sysctls), remove the package and the build cache. The
                           state (/var/lib/meshgate: this host's identity) is kept
      --purge              with --uninstall: also purge the package's configuration
                           and remove /var/lib/meshgate (revoke the connector on the
                           controller too)
  -y, --yes                accepted for familiarity: the installer never asks anything
  -h, --help               this text

The state directory is /var/lib/meshgate (the unit's StateDirectory=); it is not an
option. Every step prints one line; build output goes to <build dir>/build.log.

Exit codes: 0 done (or nothing to do), 1 unexpected failure, 2 bad usage,
  10 not root, 11 unsupported OS, 12 kernel without nftables,
  13 controller unreachable, 14 source not found or not fetched,
  20 apt failed, 21 build or packaging failed, 22 package installation failed,
  23 `meshgate check` failed, 24 enrolment failed, 25 the service did not start,
  26 uninstall failed.
EOF
}

say() { printf '%s: %s\n' "$PROG" "$*"; }
warn() { printf '%s: warning: %s\n' "$PROG" "$*" >&2; }
die() {
	local code=$1
	shift
	printf '%s: error: %s\n' "$PROG" "$*" >&2
	exit "$code"
}
have() { command -v "$1" >/dev/null 2>&1; }
# indent a command's output under the step's line
indent() { sed 's/^/    /'; }

on_err() {
	local rc=$? line=$1 cmd=$2
	trap - ERR
	printf '%s: error: unexpected failure (exit %s) at line %s: %s\n' "$PROG" "$rc" "$line" "$cmd" >&2
	printf '%s:   the steps above this one are done; fix the cause and run install.sh again\n' "$PROG" >&2
	exit "$E_FAIL"
}

TMPD=""
cleanup() {
	# the connection string's file lives here
	[ -n "$TMPD" ] && rm -rf "$TMPD"
	return 0
}

# --- checks (change nothing) -------------------------------------------------------

check_root() {
	[ "$(id -u)" -eq 0 ] || die $E_ROOT "must run as root: sudo $0 ... (or: curl ... | sudo bash -s -- ...)"
}

check_os() {
	local osr=()
	[ -r /etc/os-release ] || die $E_OS "cannot read /etc/os-release: unsupported system (supported: Debian 12, Ubuntu 22.04, Ubuntu 24.04)"
	mapfile -t osr < <(
		# shellcheck disable=SC1091
		. /etc/os-release
		printf '%s\n%s\n%s\n' "${ID:-}" "${VERSION_ID:-}" "${PRETTY_NAME:-${ID:-unknown}}"
	)
	case "${osr[0]:-} ${osr[1]:-}" in
	"debian 12" | "ubuntu 22.04" | "ubuntu 24.04")
		say "system: ${osr[2]}"
		;;
	*)
		die $E_OS "unsupported system: ${osr[2]:-unknown} (supported: Debian 12, Ubuntu 22.04, Ubuntu 24.04); on others build by hand, see README.md"
		;;
	esac
}

# kernel_has FEATURE MODULE: 0 yes, 1 no, 2 cannot tell (CONFIG_FEATURE, MODULE.ko)
kernel_has() {
	local opt=$1 mod=$2 rel cfg conf
	[ -d "/sys/module/$mod" ] && return 0
	rel=$(uname -r)
	for cfg in /proc/config.gz "/boot/config-$rel" "/lib/modules/$rel/config"; do
		[ -r "$cfg" ] || continue
		case $cfg in
		*.gz) conf=$(zcat "$cfg" 2>/dev/null || true) ;;
		*) conf=$(cat "$cfg" 2>/dev/null || true) ;;
		esac
		# a config that cannot be read (a container may hide it) tells nothing
		grep -q '^CONFIG_' <<<"$conf" || continue
		grep -qE "^CONFIG_$opt=(y|m)\$" <<<"$conf" && return 0
		return 1
	done
	for cfg in "/lib/modules/$rel/modules.builtin" "/lib/modules/$rel/modules.dep"; do
		[ -r "$cfg" ] && grep -q "/$mod\.ko" "$cfg" && return 0
	done
	return 2
}

check_nftables() {
	local r=0
	kernel_has NF_TABLES nf_tables || r=$?
	case $r in
	0) say "kernel $(uname -r): nftables present" ;;
	1) die $E_NFT "the kernel ($(uname -r)) has no nftables (CONFIG_NF_TABLES): meshgate keeps its firewall and NAT in an nftables table; boot a distribution kernel" ;;
	*) warn "cannot tell whether kernel $(uname -r) has nftables (no kernel config here); \`meshgate check\` will" ;;
	esac
}

# The controller's URL from a connection string file (mg1:<base64url JSON>); empty if
# the string is malformed. The string itself is never printed.
connstr_url() {
	local s
	s=$(tr -d ' \t\r\n' <"$1")
	case $s in
	mg1:?*) ;;
	*) return 0 ;;
	esac
	s=$(printf '%s' "${s#mg1:}" | tr '_-' '/+')
	while [ $((${#s} % 4)) -ne 0 ]; do s="$s="; done
	printf '%s' "$s" | base64 -d 2>/dev/null |
		grep -o '"url"[[:space:]]*:[[:space:]]*"[^"]*"' | head -n 1 | sed 's/.*"\([^"]*\)"$/\1/' || true
}

# TCP to the controller named in the connection string (HTTPS and the pin are checked
# by `meshgate check` once built, and by `meshgate up`).
check_controller() {
	local url hp host port err
	url=$(connstr_url "$CS_FILE")
	case $url in
	https://*) ;;
	*) die $E_USAGE "the connection string is not valid (expected one line mg1:... as the controller gives it); ask for a new one" ;;
	esac
	hp=${url#https://}
	hp=${hp%%/*}
	if [ "${hp#\[}" != "$hp" ]; then # [v6]:port
		host=${hp%%]*}
		host=${host#\[}
		port=${hp#*]}
		port=${port#:}
	else
		host=${hp%%:*}
		port=${hp#"$host"}
		port=${port#:}
	fi
	port=${port:-443}
	# shellcheck disable=SC2016 # $1 and $2 are the inner shell's
	if err=$(timeout 10 bash -c 'exec 3<>"/dev/tcp/$1/$2"' _ "$host" "$port" 2>&1); then
		say "controller $url: reachable"
	else
		err=${err##*: }
		[ -n "$err" ] || err="no answer within 10 s"
		die $E_NET "cannot reach the controller at $host port $port ($err): check this host's DNS, routes and firewall (outbound TCP $port), then run install.sh again"
	fi
}

systemd_running() { [ -d /run/systemd/system ]; }
unit_present() {
	local d
	for d in /etc/systemd/system /lib/systemd/system /usr/lib/systemd/system; do
		[ -e "$d/$UNIT" ] && return 0
	done
	return 1
}

# --- dependencies --------------------------------------------------------------------

pkg_installed() { [ "$(dpkg-query -W -f='${Status}' "$1" 2>/dev/null)" = "install ok installed" ]; }

# wait for the dpkg lock (a fresh cloud VM runs unattended-upgrades at first boot); keep
# an admin's edited conffiles; no Recommends (wireguard-go is chosen explicitly)
APT_LOCK=(-o DPkg::Lock::Timeout=600)
APT_OPTS=(-y -q --no-install-recommends "${APT_LOCK[@]}"
	-o Dpkg::Options::=--force-confdef -o Dpkg::Options::=--force-confold)

# apt_install WHY PKG...: install the missing ones, mark them automatic
apt_install() {
	local why=$1 p missing=()
	shift
	for p in "$@"; do pkg_installed "$p" || missing+=("$p"); done
	if [ ${#missing[@]} -eq 0 ]; then
		say "$why: all present"
		return 0
	fi
	say "$why: installing ${missing[*]}"
	CHANGED=1
	export DEBIAN_FRONTEND=noninteractive
	if ! apt-get update -q "${APT_LOCK[@]}" >"$TMPD/apt.log" 2>&1 ||
		! apt-get install "${APT_OPTS[@]}" "${missing[@]}" >>"$TMPD/apt.log" 2>&1; then
		tail -n 15 "$TMPD/apt.log" | indent >&2
		die $E_DEPS "apt-get could not install ${missing[*]}: check the package sources (apt-get update) and the network path to the archive, then run install.sh again"
	fi
	# only needed to build: `apt-get autoremove` may take them away again
	apt-mark auto "${missing[@]}" >/dev/null 2>&1 || true
}

# wireguard-go when the kernel has no WireGuard (the agent's userspace fallback)
wg_packages() {
	local r=0
	kernel_has WIREGUARD wireguard || r=$?
	case $r in
	0) ;;
	1) echo wireguard-go ;;
	*) have modinfo && modinfo wireguard >/dev/null 2>&1 || echo wireguard-go ;;
	esac
}

# --- source and build ----------------------------------------------------------------

is_checkout() { [ -f "$1/CMakeLists.txt" ] && grep -q 'project(meshgate' "$1/CMakeLists.txt"; }

fetch_source() {
	local url=$1 ref="" dst=$CACHE/src
	mkdir -p "$CACHE"
	case $url in
	*.tar.gz | *.tgz | *.tar.xz | *.tar)
		have curl || apt_install "tools to fetch the source" curl ca-certificates
		say "source: downloading $url"
		rm -rf "$dst" "$CACHE/src.tar"
		mkdir -p "$dst"
		curl -fsSL -o "$CACHE/src.tar" "$url" ||
			die $E_SOURCE "could not download $url: check the URL and the network"
		tar -xf "$CACHE/src.tar" -C "$dst" --strip-components=1 --no-same-owner ||
			die $E_SOURCE "$url is not a source archive (tar)"
		rm -f "$CACHE/src.tar"
		;;
	*)
		case $url in *'#'*) ref=${url##*#} url=${url%#*} ;; esac
		have git || apt_install "tools to fetch the source" git ca-certificates
		if [ -d "$dst/.git" ] && [ "$(git -C "$dst" remote get-url origin 2>/dev/null)" = "$url" ]; then
			say "source: updating $url${ref:+ ($ref)}"
			if ! git -C "$dst" fetch -q --depth 1 origin "${ref:-HEAD}" ||
				! git -C "$dst" reset -q --hard FETCH_HEAD; then
				die $E_SOURCE "could not fetch $url${ref:+ $ref}: check the URL, the ref and the network"
			fi
		else
			say "source: cloning $url${ref:+ ($ref)}"
			rm -rf "$dst"
			git clone -q --depth 1 ${ref:+--branch "$ref"} "$url" "$dst" ||
				die $E_SOURCE "could not clone $url${ref:+ $ref}: check the URL, the ref and the network"
		fi
		;;
	esac
	is_checkout "$dst" || die $E_SOURCE "$url does not hold meshgate's source (no CMakeLists.txt with project(meshgate))"
	SRC=$dst
}

resolve_source() {
	if [ -n "$SOURCE" ]; then
		if [ -d "$SOURCE" ]; then
			is_checkout "$SOURCE" || die $E_SOURCE "$SOURCE is not a meshgate source tree"
			SRC=$(cd "$SOURCE" && pwd)
		else
			fetch_source "$SOURCE"
		fi
	elif [ -n "$SELF_DIR" ] && is_checkout "$SELF_DIR"; then
		SRC=$SELF_DIR
	elif [ -n "$MESHGATE_DEFAULT_SOURCE" ]; then
		fetch_source "$MESHGATE_DEFAULT_SOURCE"
	else
		die $E_SOURCE "no meshgate source here (install.sh runs from a pipe or outside a checkout): give --source URL (a git repository or a .tar.gz of the source) or --deb FILE"
	fi
	say "source: $SRC"
}

build_deb() {
	local log="$BUILD/build.log" cached
	mkdir -p "$BUILD"
	# a build directory made from another source tree cannot be re-used
	if [ -f "$BUILD/CMakeCache.txt" ]; then
		cached=$(sed -n 's/^CMAKE_HOME_DIRECTORY:INTERNAL=//p' "$BUILD/CMakeCache.txt")
		if [ "$cached" != "$SRC" ]; then
			find "$BUILD" -mindepth 1 -delete
		fi
	fi
	say "build: cmake in $BUILD (log: $log)"
	: >"$log"
	if ! { cmake -S "$SRC" -B "$BUILD" -DCMAKE_BUILD_TYPE=RelWithDebInfo \
		-DMG_BUILD_TESTS=OFF -DCMAKE_INSTALL_PREFIX=/usr &&
		cmake --build "$BUILD" -j"$(nproc 2>/dev/null || echo 2)"; } >>"$log" 2>&1; then
		tail -n 20 "$log" | indent >&2
		die $E_BUILD "the build failed (full log: $log); the dependencies are in scripts/deps --build"
	fi
	rm -f "$BUILD"/meshgate_*.deb
	if ! (cd "$BUILD" && cpack -G DEB) >>"$log" 2>&1; then
		tail -n 20 "$log" | indent >&2
		die $E_BUILD "cpack could not make the .deb (full log: $log)"
	fi
	DEB=$(find "$BUILD" -maxdepth 1 -name 'meshgate_*.deb' -print -quit)
	[ -n "$DEB" ] || die $E_BUILD "cpack made no meshgate_*.deb in $BUILD (full log: $log)"
	say "package: $DEB"
}

# --- the package ---------------------------------------------------------------------

# 0 when the installed meshgate is exactly this .deb: same version, same files
# (md5sums), and no installed file changed since (dpkg --verify; edited conffiles such
# as /etc/default/meshgate are the admin's and do not count)
deb_is_installed() {
	local deb=$1 st v out
	st=$(dpkg-query -W -f='${Status} ${Version}' meshgate 2>/dev/null) || return 1
	case $st in "install ok installed "*) ;; *) return 1 ;; esac
	v=$(dpkg-deb -f "$deb" Version)
	[ "${st##* }" = "$v" ] || return 1
	[ -r /var/lib/dpkg/info/meshgate.md5sums ] || return 1
	cmp -s <(dpkg-deb --ctrl-tarfile "$deb" | tar -xO ./md5sums | sort) \
		<(sort /var/lib/dpkg/info/meshgate.md5sums) || return 1
	out=$(dpkg --verify meshgate 2>&1 || true)
	# (grep -c counts, and exits 1 on zero: not a failure here)
	[ "$(printf '%s\n' "$out" | grep -c -v -e '^[^ ]* c /' -e '^$' || true)" = 0 ]
}

install_deb() {
	local deb=$1 v how=install extra=()
	deb=$(cd "$(dirname "$deb")" && pwd)/$(basename "$deb")
	v=$(dpkg-deb -f "$deb" Version 2>/dev/null) || die $E_PKG "$deb is not a Debian package"
	[ "$(dpkg-deb -f "$deb" Package)" = meshgate ] || die $E_PKG "$deb is not the meshgate package"
	if deb_is_installed "$deb"; then
		say "package: meshgate $v already installed, identical to $(basename "$deb"): unchanged"
		return 0
	fi
	if [ "$(dpkg-query -W -f='${Status} ${Version}' meshgate 2>/dev/null)" = "install ok installed $v" ]; then
		how=reinstall # same version, other files: a rebuild of changed source
		extra=(--reinstall)
	fi
	say "package: ${how}ing meshgate $v with apt-get"
	CHANGED=1
	export DEBIAN_FRONTEND=noninteractive
	if ! apt-get install "${APT_OPTS[@]}" "${extra[@]}" "$deb" >"$TMPD/apt.log" 2>&1; then
		tail -n 15 "$TMPD/apt.log" | indent >&2
		die $E_PKG "apt-get could not install $deb (see above); its dependencies come from the package archive"
	fi
	PKG_CHANGED=1
}

run_opts_current() {
	sed -n 's/^[[:space:]]*MESHGATE_RUN_OPTS=//p' "$DEFAULTS" 2>/dev/null | tail -n 1 |
		sed 's/^"\(.*\)"[[:space:]]*$/\1/; s/^'"'"'\(.*\)'"'"'[[:space:]]*$/\1/' || true
}

write_run_opts() {
	[ $HAVE_RUN_OPTS -eq 1 ] || return 0
	if [ "$(run_opts_current)" = "$RUN_OPTS" ]; then
		say "run options: unchanged in $DEFAULTS"
		return 0
	fi
	if grep -q '^[[:space:]]*MESHGATE_RUN_OPTS=' "$DEFAULTS" 2>/dev/null; then
		sed -i "s|^[[:space:]]*MESHGATE_RUN_OPTS=.*|MESHGATE_RUN_OPTS=\"$RUN_OPTS\"|" "$DEFAULTS"
	else
		printf 'MESHGATE_RUN_OPTS="%s"\n' "$RUN_OPTS" >>"$DEFAULTS"
	fi
	say "run options: MESHGATE_RUN_OPTS=\"$RUN_OPTS\" written to $DEFAULTS"
	CHANGED=1
	OPTS_CHANGED=1
}

# --- enrolment and service -----------------------------------------------------------

enrolled() { [ -x "$SBIN" ] && "$SBIN" status --state-dir "$STATE_DIR" >/dev/null 2>&1; }
# an identity kept by `--uninstall` (no meshgate to ask yet): a reinstall re-uses it
identity_kept() { [ -s "$STATE_DIR/device.json" ] && [ -s "$STATE_DIR/private.key" ]; }
device_id() {
	"$SBIN" status --json --state-dir "$STATE_DIR" 2>/dev/null |
		sed -n 's/^[[:space:]]*"device_id":[[:space:]]*"\([^"]*\)".*/\1/p' | head -n 1 || true
}

# meshgate check BINARY: the agent's own preflight, when it has one
agent_check() {
	local bin=$1 args=(--state-dir "$STATE_DIR")
	if ! "$bin" check --help >/dev/null 2>&1; then
		say "check: this meshgate has no 'check' command; the installer's own checks passed"
		return 0
	fi
	[ -n "$CS_FILE" ] && args+=(--connect-file "$CS_FILE")
	if "$bin" check "${args[@]}" >"$TMPD/check.log" 2>&1; then
		say "check: meshgate check passed"
		indent <"$TMPD/check.log"
	else
		indent <"$TMPD/check.log" >&2
		die $E_CHECK "meshgate check failed (see the lines above): fix what it names and run install.sh again"
	fi
}

enrol() {
	if enrolled; then
		say "enrolment: already enrolled as $(device_id) (state in $STATE_DIR): not enrolling again"
		return 0
	fi
	[ -n "$CS_FILE" ] || die $E_USAGE "not enrolled yet: give --connect STRING or --connect-file FILE"
	say "enrolment: meshgate up (state in $STATE_DIR)"
	if ! "$SBIN" up --state-dir "$STATE_DIR" --connect-file "$CS_FILE" >"$TMPD/up.log" 2>&1; then
		indent <"$TMPD/up.log" >&2
		die $E_ENROLL "enrolment failed (see above); a used or expired token needs a new connection string from the controller"
	fi
	indent <"$TMPD/up.log"
	CHANGED=1
}

service_logs() {
	systemctl --no-pager status "$UNIT" 2>&1 | tail -n 12 | indent >&2 || true
	if have journalctl; then journalctl --no-pager -u "$UNIT" -n 15 2>&1 | indent >&2 || true; fi
}

start_service() {
	if ! systemd_running; then
		say "service: systemd is not running here (PID 1 is '$(cat /proc/1/comm 2>/dev/null || echo unknown)'): $UNIT is installed and the host enrolled, but the service is not started"
		if [ $NO_START -eq 0 ] && have systemctl; then
			if systemctl is-enabled -q "$UNIT" 2>/dev/null; then
				say "service: $UNIT already enabled for the next boot"
			elif systemctl enable -q "$UNIT" >/dev/null 2>&1; then
				say "service: $UNIT enabled for the next boot"
				CHANGED=1
			fi
		fi
		say "service: on a host booted with systemd run: systemctl enable --now meshgate (or in the foreground: meshgate run)"
		return 0
	fi
	if [ $NO_START -eq 1 ]; then
		say "service: --no-start: $UNIT neither enabled nor started; later: systemctl enable --now meshgate"
		return 0
	fi
	if systemctl is-active -q "$UNIT"; then
		if [ $OPTS_CHANGED -eq 1 ]; then
			say "service: restarting $UNIT for the new run options"
			systemctl restart "$UNIT" 2>"$TMPD/systemctl.log" || {
				service_logs
				die $E_SERVICE "$UNIT did not come back with the new options (see above; journalctl -u meshgate)"
			}
		elif [ $PKG_CHANGED -eq 1 ]; then
			say "service: $UNIT running the new package (restarted by its postinst)"
		else
			say "service: $UNIT already running: left alone"
		fi
		if ! systemctl is-enabled -q "$UNIT"; then
			systemctl enable -q "$UNIT"
			say "service: $UNIT enabled at boot"
			CHANGED=1
		fi
		return 0
	fi
	say "service: systemctl enable --now $UNIT (waits until the agent reports ready)"
	if ! systemctl enable -q --now "$UNIT" 2>"$TMPD/systemctl.log"; then
		indent <"$TMPD/systemctl.log" >&2
		service_logs
		die $E_SERVICE "$UNIT did not start (see above; journalctl -u meshgate): fix the cause, then systemctl restart meshgate"
	fi
	CHANGED=1
}

# --- uninstall -----------------------------------------------------------------------

uninstall() {
	local st opts
	st=$(dpkg-query -W -f='${Status}' meshgate 2>/dev/null || true)
	say "uninstall: meshgate${PURGE:+ (purge)}"
	if have systemctl && unit_present; then
		if systemd_running; then
			systemctl disable -q --now "$UNIT" 2>/dev/null || warn "could not stop $UNIT; continuing"
			say "service: $UNIT stopped and disabled"
		else
			systemctl disable -q "$UNIT" 2>/dev/null || true
			say "service: $UNIT disabled (systemd is not running here)"
		fi
	fi
	if [ -x "$SBIN" ] && [ -d "$STATE_DIR" ]; then
		opts=$(run_opts_current)
		# shellcheck disable=SC2086 # the run options are words
		if (set -f && "$SBIN" down --state-dir "$STATE_DIR" $opts) >"$TMPD/down.log" 2>&1; then
			say "meshgate down: tunnel, routes, nftables table, owned cloud routes removed; sysctls restored"
		else
			indent <"$TMPD/down.log" >&2
			die $E_UNINSTALL "meshgate down failed (see above); nothing was removed yet: fix it (is 'meshgate run' still running outside systemd?) and run install.sh --uninstall again"
		fi
	fi
	export DEBIAN_FRONTEND=noninteractive
	case $st in
	"install ok installed" | "deinstall ok config-files" | *" half-"* | *" unpacked")
		if [ -n "$PURGE" ] || [ "$st" != "deinstall ok config-files" ]; then
			say "package: apt-get ${PURGE:-remove} meshgate"
			if ! apt-get "${PURGE:-remove}" -y -q "${APT_LOCK[@]}" meshgate >"$TMPD/apt.log" 2>&1; then
				tail -n 15 "$TMPD/apt.log" | indent >&2
				die $E_UNINSTALL "apt-get ${PURGE:-remove} meshgate failed (see above)"
			fi
		else
			say "package: meshgate already removed (its configuration stays until --purge)"
		fi
		;;
	*) say "package: meshgate is not installed" ;;
	esac
	if [ -n "$PURGE" ]; then
		rm -rf "$STATE_DIR"
		say "state: $STATE_DIR removed (revoke this connector on the controller: it still lists it)"
	elif [ -d "$STATE_DIR" ]; then
		say "state: kept $STATE_DIR (this host's identity: a reinstall re-uses it; --uninstall --purge removes it)"
	fi
	if [ -d "$CACHE" ]; then
		rm -rf "$CACHE"
		say "build cache: $CACHE removed"
	fi
	say "uninstall: done (build dependencies stay; apt-get autoremove removes the ones install.sh added)"
}

# --- main ----------------------------------------------------------------------------

main() {
	local connect="" have_connect=0 a
	CS_FILE="" DEB="" SOURCE="" RUN_OPTS="" HAVE_RUN_OPTS=0 NO_START=0 DEPS_ONLY=0
	UNINSTALL=0 PURGE="" BUILD="$CACHE/build" SRC="" CHANGED=0 PKG_CHANGED=0 OPTS_CHANGED=0
	# the checkout this script sits in (nothing when it comes from a pipe)
	SELF_DIR=""
	if [ -n "${BASH_SOURCE[0]:-}" ] && [ -f "${BASH_SOURCE[0]}" ]; then
		SELF_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
	fi

	need_arg() { [ $# -ge 2 ] || die $E_USAGE "$1 needs a value (see --help)"; }
	while [ $# -gt 0 ]; do
		a=$1
		case $a in
		-c | --connect)
			need_arg "$@"
			connect=$2 have_connect=1
			shift
			;;
		--connect=*) connect=${a#*=} have_connect=1 ;;
		-f | --connect-file)
			need_arg "$@"
			CS_FILE=$2
			shift
			;;
		--connect-file=*) CS_FILE=${a#*=} ;;
		--deb)
			need_arg "$@"
			DEB=$2
			shift
			;;
		--deb=*) DEB=${a#*=} ;;
		--source)
			need_arg "$@"
			SOURCE=$2
			shift
			;;
		--source=*) SOURCE=${a#*=} ;;
		--build-dir)
			need_arg "$@"
			BUILD=$2
			shift
			;;
		--build-dir=*) BUILD=${a#*=} ;;
		--run-opts)
			need_arg "$@"
			RUN_OPTS=$2 HAVE_RUN_OPTS=1
			shift
			;;
		--run-opts=*) RUN_OPTS=${a#*=} HAVE_RUN_OPTS=1 ;;
		--no-start) NO_START=1 ;;
		--deps-only) DEPS_ONLY=1 ;;
		--uninstall) UNINSTALL=1 ;;
		--purge) PURGE=purge ;;
		-y | --yes) ;;
		-h | --help)
			usage
			exit 0
			;;
		*) die $E_USAGE "unknown option '$a' (see --help)" ;;
		esac
		shift
	done
	unset -f need_arg
	if [ $have_connect -eq 1 ] && [ -n "$CS_FILE" ]; then
		die $E_USAGE "give --connect or --connect-file, not both"
	fi
	if [ -n "$PURGE" ] && [ $UNINSTALL -eq 0 ]; then die $E_USAGE "--purge goes with --uninstall"; fi
	if [ -n "$DEB" ] && [ -n "$SOURCE" ]; then die $E_USAGE "give --deb or --source, not both"; fi
	if [ $HAVE_RUN_OPTS -eq 1 ] && ! [[ $RUN_OPTS =~ ^[A-Za-z0-9\ ._,:/=@+-]*$ ]]; then
		die $E_USAGE "--run-opts may hold letters, digits, spaces and . _ , : / = @ + - only"
	fi

	check_root
	if [ -n "$CS_FILE" ] && [ ! -r "$CS_FILE" ]; then die $E_USAGE "cannot read $CS_FILE"; fi
	if [ -n "$DEB" ] && [ ! -r "$DEB" ]; then die $E_USAGE "cannot read $DEB"; fi
	case $BUILD in /*) ;; *) BUILD=$PWD/$BUILD ;; esac
	trap cleanup EXIT
	trap 'on_err $LINENO "$BASH_COMMAND"' ERR
	# nothing below reads the terminal or the pipe this script may come from
	exec </dev/null

	# temporary files (the connection string's among them): tmpfs where there is one
	TMPD=$(mktemp -d "$(test -w /run && echo /run || echo /tmp)/meshgate-install.XXXXXX")
	if [ $UNINSTALL -eq 1 ]; then
		uninstall
		exit 0
	fi

	# 1. checks: nothing changes before they pass
	check_os
	check_nftables
	if [ $have_connect -eq 1 ]; then
		# the single-use token goes to a 0600 file, never to a command line or a log
		(umask 077 && printf '%s\n' "$connect" >"$TMPD/connection")
		connect=""
		CS_FILE=$TMPD/connection
	fi
	if [ -n "$CS_FILE" ]; then
		check_controller
	elif [ $DEPS_ONLY -eq 0 ] && ! enrolled && ! identity_kept; then
		die $E_USAGE "not enrolled yet: give --connect STRING or --connect-file FILE (see --help)"
	fi

	# 2. dependencies (and the source they are listed in)
	local deps=()
	if [ -z "$DEB" ]; then
		resolve_source
		mapfile -t deps < <(bash "$SRC/scripts/deps" --list --build)
		[ ${#deps[@]} -gt 0 ] || die $E_SOURCE "$SRC/scripts/deps --list --build named no packages"
	fi
	mapfile -t -O "${#deps[@]}" deps < <(wg_packages)
	if [ ${#deps[@]} -gt 0 ]; then
		apt_install "dependencies" "${deps[@]}"
	fi
	if [ $DEPS_ONLY -eq 1 ]; then
		say "--deps-only: dependencies in place; stopping before the build"
		exit 0
	fi

	# 3. build and check
	if [ -z "$DEB" ]; then
		build_deb
		agent_check "$BUILD/agent/meshgate"
	fi

	# 4. package, options, enrolment, service
	install_deb "$DEB"
	if [ -z "$SRC" ]; then agent_check "$SBIN"; fi
	write_run_opts
	enrol
	start_service

	say "status:"
	"$SBIN" status --state-dir "$STATE_DIR" 2>&1 | indent || true
	if [ $CHANGED -eq 0 ]; then
		say "nothing changed: meshgate is installed, enrolled and as configured"
	else
		say "done"
	fi
}

main "$@"
