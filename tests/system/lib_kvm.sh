# shellcheck shell=bash source-path=SCRIPTDIR
# Kernel WireGuard on a real kernel: Debian's linux-image-amd64 booted under
# qemu-system-x86_64 (KVM when /dev/kvm works, TCG otherwise) with a Debian 12 root as
# its file system, running the namespace tests there with MG_WG_MODE=kernel
# (t_kernel_wg.sh, t_kernel_wg_full.sh; docs/TESTING.md).
#
#   kvm_root_cache       make $KVM_ROOT unless it is there: the cached minbase root
#                        (lib_root.sh) plus kvm_pkgs, installed with apt over the host's
#                        network once, kept as a directory (the package list's hash in
#                        its name) that every VM shares read-only
#   kvm_accel            "kvm" when /dev/kvm opens and QEMU boots the kernel with it,
#                        else "tcg"; MG_KVM_ACCEL=tcg (or kvm) forces one
#   kvm_run ACCEL SECS TEST...  boot the kernel once and run each TEST in it (a path
#                        under the checkout: tests/integration/t_flows.sh, ...,
#                        with "NAME=VALUE" words before a test adding to its
#                        environment); every test's log and status land in $KVM_OUT
#                        (results: "name rc seconds" lines); 0 when the VM ran to the
#                        end, 1 when it did not (timeout, panic: console in
#                        $KVM_OUT/console.log)
#
# The VM: `-kernel` from the root's /boot with our initramfs (_kvm_initrd: busybox
# inserting virtio_pci, 9pnet_virtio, 9p, mounting the root, switch_root), virtio-9p
# shares: the root (read-only, tag mgroot), the checkout (read-only, mgsrc), the build
# tree (read-only, mgbuild) and $KVM_OUT (read-write, mgout); no network device.
# /sbin/mgvm-init, a stub written into the root, mounts the checkout and runs
# tests/system/kvm_guest.sh from it (what runs in the VM lives in the
# checkout, not in the cached root). The guest mounts its own /proc, /sys, /dev,
# tmpfs /run, /tmp, /var/tmp, /root, loads wireguard, runs the tests, writes results,
# and powers off. The host binaries run there: the root is Debian 12 like the host.

# shellcheck source=lib_root.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib_root.sh"

KVM_ROOT=""
KVM_OUT=""

kvm_pkgs() {
	# the kernel (its postinst makes an initramfs, unused), modprobe, and the static
	# busybox of our own initramfs (_kvm_initrd)
	echo linux-image-amd64 initramfs-tools kmod busybox-static cpio
	# what meshgate and meshgate-controller-mock link against
	echo libcurl4 libcjson1 libnftnl11 libmnl0 libexpat1 libmicrohttpd12 libsqlite3-0 libssl3
	# what the namespace tests run
	echo bash coreutils procps psmisc util-linux iproute2 nftables wireguard-tools \
		iputils-ping netcat-openbsd curl jq openssl ca-certificates
	# the userspace fallback (kvm_auto.sh absent)
	echo wireguard-go
}

# The init stub in the root (part of the cache key: change it and a new root is made).
_kvm_stub() {
	cat <<'EOF'
#!/bin/sh
# meshgate test VM (tests/system/lib_kvm.sh): the checkout's kvm_guest.sh does the rest
mount -t proc proc /proc
mount -t tmpfs -o mode=755 tmpfs /mnt
mkdir /mnt/src
mount -t 9p -o ro,trans=virtio,version=9p2000.L,msize=262144 mgsrc /mnt/src ||
	{ echo "mgvm: cannot mount the checkout"; echo o >/proc/sysrq-trigger; }
exec /bin/bash /mnt/src/tests/system/kvm_guest.sh
EOF
}

# The /init of our initramfs: the modules a 9p root needs (/modules: their paths, in
# dependency order), the root mounted read-only, then the root's /sbin/mgvm-init.
# Debian's initramfs (initramfs-tools) does the same with udev, 15 s slower under TCG.
_kvm_initrd_init() {
	cat <<'EOF'
#!/bin/busybox sh
b=/bin/busybox
$b mkdir -p /proc /sys /dev /root
$b mount -t proc proc /proc
$b mount -t devtmpfs devtmpfs /dev
for m in $($b cat /modules); do $b insmod "$m" || echo "mgvm initramfs: insmod $m failed"; done
if ! $b mount -t 9p -o ro,trans=virtio,version=9p2000.L,msize=262144,cache=loose mgroot /root; then
	echo "mgvm initramfs: cannot mount the root"
	echo o >/proc/sysrq-trigger
fi
$b mount --move /dev /root/dev
$b umount /proc
exec $b switch_root /root /sbin/mgvm-init
EOF
}
# _kvm_initrd: $ROOT/boot/mgvm-initrd, our initramfs (busybox, /init, the modules)
_kvm_initrd() {
	local kver
	kver=$(find "$ROOT/lib/modules" -mindepth 1 -maxdepth 1 -printf '%f\n' | sort -V | tail -n 1)
	[ -n "$kver" ] || mg_fail "no kernel modules in the kernel root"
	_kvm_initrd_init >"$ROOT/tmp/mgvm-init"
	# shellcheck disable=SC2016 # the script runs in the root
	root_run none sh -c '
		set -eu
		kver=$1 d=/tmp/mgvm-initrd
		rm -rf "$d"
		mkdir -p "$d/bin"
		cp /bin/busybox "$d/bin/busybox"
		install -m 755 /tmp/mgvm-init "$d/init"
		for m in virtio_pci 9pnet_virtio 9p; do
			modprobe -S "$kver" --show-depends "$m"
		done >"$d/deps"
		: >"$d/modules"
		while read -r w m _; do
			[ "$w" = insmod ] || continue
			grep -qxF "$m" "$d/modules" && continue
			mkdir -p "$d$(dirname "$m")"
			cp "$m" "$d$m"
			echo "$m" >>"$d/modules"
		done <"$d/deps"
		rm "$d/deps"
		grep -q 9pnet_virtio "$d/modules"
		(cd "$d" && find . | cpio -o -H newc --quiet) | gzip -1 >/boot/mgvm-initrd
		rm -rf "$d" /tmp/mgvm-init
	' mgvm-initrd "$kver" >>"$MG_TMP/kvm-apt.log" 2>&1 ||
		mg_fail "making the initramfs: $(tail -5 "$MG_TMP/kvm-apt.log")"
}

# kvm_root_cache: make $KVM_ROOT unless it is there (one maker at a time)
kvm_root_cache() {
	local key lk t0 d
	key=$(
		{
			kvm_pkgs
			echo "v1 $ROOT_SUITE MODULES=list 9p 9pnet_virtio virtio_pci"
			_kvm_stub
			_kvm_initrd_init
			declare -f _kvm_initrd
		} | sha256sum | cut -c1-12
	)
	KVM_ROOT=$ROOT_CACHE/$ROOT_SUITE-kvm-$key
	root_cache
	[ -s "$KVM_ROOT/.done" ] && return 0
	exec {lk}>"$ROOT_CACHE/.lock-kvm"
	flock "$lk"
	if [ ! -s "$KVM_ROOT/.done" ]; then
		t0=$(date +%s)
		mg_log "making the kernel root ($(kvm_pkgs | tr '\n' ' '))"
		root_new
		# before the kernel's postinst makes the initramfs: only the modules listed,
		# those a 9p root needs
		mkdir -p "$ROOT/etc/initramfs-tools/conf.d"
		echo MODULES=list >"$ROOT/etc/initramfs-tools/conf.d/meshgate-test.conf"
		printf '%s\n' virtio_pci 9p 9pnet_virtio >>"$ROOT/etc/initramfs-tools/modules"
		# shellcheck disable=SC2046 # one package a word
		root_run host sh -c 'apt-get update -q && DEBIAN_FRONTEND=noninteractive \
			apt-get install -q -y --no-install-recommends "$@"' apt $(kvm_pkgs) \
			>"$MG_TMP/kvm-apt.log" 2>&1 || mg_fail "apt in the kernel root: $(tail -20 "$MG_TMP/kvm-apt.log")"
		_kvm_stub >"$ROOT/sbin/mgvm-init"
		chmod 755 "$ROOT/sbin/mgvm-init"
		_kvm_initrd
		ls "$ROOT"/boot/vmlinuz-* "$ROOT"/boot/initrd.img-* >/dev/null ||
			mg_fail "no kernel or initramfs in the kernel root: $(tail -20 "$MG_TMP/kvm-apt.log")"
		rm -rf "$ROOT"/var/lib/apt/lists/* "$ROOT"/var/cache/apt/*.bin
		date -u +%FT%TZ >"$ROOT/.done"
		d=$KVM_ROOT.tmp$$
		rm -rf --one-file-system "$d"
		mv "$ROOT" "$d" 2>/dev/null || { cp -a "$ROOT" "$d" && rm -rf --one-file-system "$ROOT"; }
		rm -rf --one-file-system "$KVM_ROOT"
		mv "$d" "$KVM_ROOT"
		rm -rf --one-file-system "$ROOT.apt"
		rm -f "$ROOT.pid"
		ROOT=""
		mg_log "kernel root: $(($(date +%s) - t0)) s, cached as $KVM_ROOT"
		# roots of other package lists made more than a day ago go
		find "$ROOT_CACHE" -maxdepth 1 -name "$ROOT_SUITE-kvm-*" ! -name "$ROOT_SUITE-kvm-$key" \
			-mmin +1440 -exec rm -rf --one-file-system {} + 2>/dev/null || true
	fi
	exec {lk}>&-
}

# kvm_kernel: KVM_KERNEL and KVM_INITRD, the root's kernel and its initramfs
kvm_kernel() {
	KVM_KERNEL=$(find "$KVM_ROOT/boot" -maxdepth 1 -name 'vmlinuz-*' | sort -V | tail -n 1)
	KVM_INITRD=$KVM_ROOT/boot/mgvm-initrd
	if [ ! -f "$KVM_KERNEL" ] || [ ! -f "$KVM_INITRD" ]; then
		mg_fail "no kernel/initramfs in $KVM_ROOT/boot"
	fi
}

# kvm_accel: see the top of this file. /dev/kvm opening is not enough: nested under
# some hypervisors KVM starts QEMU and then never gets the guest kernel past its
# real-mode setup. So the probe boots the root's kernel under KVM with no root file
# system and waits (10 s at most) for its first line ("Linux version"). The verdict is
# kept in $ROOT_CACHE per host kernel, QEMU and guest kernel (a broken KVM costs its
# 10 s once).
kvm_accel() {
	local kernel key f out pid verdict=tcg
	case ${MG_KVM_ACCEL:-} in
	kvm | tcg)
		echo "$MG_KVM_ACCEL"
		return 0
		;;
	esac
	if ! { [ -c /dev/kvm ] && [ -r /dev/kvm ] && [ -w /dev/kvm ]; }; then
		echo tcg
		return 0
	fi
	kvm_kernel
	kernel=$KVM_KERNEL
	key=$({ uname -r; qemu-system-x86_64 --version; echo "$kernel"; } | sha256sum | cut -c1-12)
	f=$ROOT_CACHE/kvm-probe-$key
	if [ -s "$f" ]; then
		cat "$f"
		return 0
	fi
	out=$MG_TMP/kvm-probe.log
	: >"$out"
	timeout -s KILL 15 qemu-system-x86_64 -accel kvm -M q35 -cpu host,-arch-capabilities -m 256 \
		-nodefaults -no-user-config -display none -monitor none -no-reboot -nic none \
		-serial "file:$out" -kernel "$kernel" -append "console=ttyS0 panic=-1" \
		</dev/null >"$MG_TMP/kvm-probe.qemu" 2>&1 &
	pid=$!
	bg_track "$pid"
	if wait_until 10 grep -q "Linux version" "$out"; then
		verdict=kvm
	else
		mg_log "KVM cannot boot the guest kernel here (QEMU: $(tail -n 2 "$MG_TMP/kvm-probe.qemu" | tr '\n' ' '); console: $(head -c 200 "$out" | tr '\n' ' ')): TCG"
	fi
	kill -KILL "$pid" 2>/dev/null
	wait "$pid" 2>/dev/null
	echo "$verdict" >"$f.tmp$$" && mv "$f.tmp$$" "$f"
	echo "$verdict"
}

# kvm_run ACCEL SECS TEST...: see the top of this file
kvm_run() {
	local accel=$1 secs=$2 kernel initrd cpu rc=0 pid t0
	shift 2
	KVM_OUT=$MG_TMP/vm
	rm -rf "$KVM_OUT"
	mkdir -p "$KVM_OUT"
	printf '%s\n' "$@" >"$KVM_OUT/tests"
	# the tests' deadlines (lib.sh): TCG emulates every instruction
	local scale=2
	[ "$accel" = kvm ] || scale=10
	echo "MG_TIME_SCALE=${MG_KVM_TIME_SCALE:-$scale}" >"$KVM_OUT/env"
	kvm_kernel
	kernel=$KVM_KERNEL initrd=$KVM_INITRD
	cpu=host,-arch-capabilities
	[ "$accel" = kvm ] || cpu=max
	t0=$(now_ms)
	timeout -s KILL "$secs" qemu-system-x86_64 -accel "$accel" -M q35 -cpu "$cpu" -m 1536 -smp 2 \
		-nodefaults -no-user-config -display none -monitor none -no-reboot \
		-serial "file:$KVM_OUT/console.log" -nic none -device virtio-rng-pci \
		-kernel "$kernel" -initrd "$initrd" \
		-append "console=ttyS0 panic=-1 ${MG_KVM_APPEND:-quiet}" \
		-virtfs "local,path=$KVM_ROOT,mount_tag=mgroot,security_model=none,readonly=on" \
		-virtfs "local,path=$MG_SRC,mount_tag=mgsrc,security_model=none,readonly=on" \
		-virtfs "local,path=$MG_BUILD,mount_tag=mgbuild,security_model=none,readonly=on" \
		-virtfs "local,path=$KVM_OUT,mount_tag=mgout,security_model=none" \
		</dev/null >"$KVM_OUT/qemu.log" 2>&1 &
	pid=$!
	bg_track "$pid"
	wait "$pid" || rc=$?
	KVM_SECS=$((($(now_ms) - t0) / 100))
	KVM_SECS="$((KVM_SECS / 10)).$((KVM_SECS % 10))"
	mg_log "VM ($accel) ran $KVM_SECS s (exit $rc)"
	if [ $rc -ne 0 ] || [ ! -s "$KVM_OUT/done" ]; then
		mg_log "the VM did not finish (exit $rc; $(cat "$KVM_OUT/qemu.log")); console:"
		tail -n 40 "$KVM_OUT/console.log" >&2
		return 1
	fi
	return 0
}

# kvm_report: every test's line, and the log of each that failed; 0 when every test
# listed ran and passed
kvm_report() {
	local name rest got rc secs bad=0
	mg_log "boot to the first test: $(cat "$KVM_OUT/boot" 2>/dev/null || echo '?') s (kernel uptime)"
	while read -r name rest; do
		got=$(awk -v n="$name" '$1 == n { print $2, $3 }' "$KVM_OUT/results" 2>/dev/null)
		if [ -z "$got" ]; then
			mg_log "in the VM: $name: did not run"
			bad=1
			continue
		fi
		read -r rc secs <<<"$got"
		mg_log "in the VM: $name: exit $rc, $secs s"
		if [ "$rc" -ne 0 ]; then
			bad=1
			tail -n 40 "$KVM_OUT/$name.log" >&2
		fi
	done <"$KVM_OUT/tests"
	return $bad
}
