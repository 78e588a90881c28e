#!/bin/bash
# What runs in the test VM (tests/system/lib_kvm.sh), started by the root's init stub
# as PID 1 with /proc and the checkout (/mnt/src) mounted: the rest of the mounts,
# `modprobe wireguard`, the tests listed in /mnt/out/tests, one a line:
#   NAME [VAR=VALUE ...] PATH [ARG ...]   PATH relative to the checkout
# each run with MG_SRC=/mnt/src MG_BUILD=/mnt/build, /mnt/out/env's VAR=VALUE lines (and
# its own VAR=VALUEs), its output in
# /mnt/out/NAME.log and "NAME RC SECONDS" appended to /mnt/out/results; then
# /mnt/out/done, and the VM powers off. Never returns (PID 1 must not exit).
set -uo pipefail
export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin HOME=/root LC_ALL=C.UTF-8 TERM=dumb

off() {
	sync
	echo o >/proc/sysrq-trigger
	sleep 30
}
die() {
	echo "mgvm: $*"
	[ -d /mnt/out ] && echo "$*" >>/mnt/out/error
	off
}

p9=trans=virtio,version=9p2000.L,msize=262144
# (the initramfs moved its /sys and /dev here; /proc the stub mounted)
mnt() { mountpoint -q "$3" || mount -t "$1" -o "$2" "$1" "$3" || die "mount $3"; }
mnt sysfs rw /sys
mnt devtmpfs mode=755 /dev
mkdir -p /dev/pts /dev/shm
# what udev makes on a booted system (wg-quick reads its config through /dev/fd/N)
[ -e /dev/fd ] || ln -s /proc/self/fd /dev/fd
for n in 0:stdin 1:stdout 2:stderr; do
	[ -e "/dev/${n#*:}" ] || ln -s "/proc/self/fd/${n%%:*}" "/dev/${n#*:}"
done
mnt devpts rw /dev/pts
mnt tmpfs mode=1777 /dev/shm
for d in /run /tmp /var/tmp /root /var/log /var/lib/wireguard; do
	[ -d "$d" ] || continue
	mount -t tmpfs -o mode=755 tmpfs "$d" || die "mount $d"
done
chmod 1777 /tmp /var/tmp
mkdir -p /run/lock /mnt/build /mnt/out
mount -t 9p -o "ro,$p9" mgbuild /mnt/build || die "mount the build tree"
mount -t 9p -o "$p9" mgout /mnt/out || die "mount the output directory"
awk '{ print $1 }' /proc/uptime >/mnt/out/boot
ip link set lo up
hostname mgvm

echo "kernel $(uname -r)" >/mnt/out/guest.log
# wireguard-go needs /dev/net/tun (no systemd here to make its static node)
for m in wireguard tun; do
	modprobe "$m" >>/mnt/out/guest.log 2>&1 || die "modprobe $m failed: $(cat /mnt/out/guest.log)"
	echo "$m module loaded" >>/mnt/out/guest.log
done
# the build's programs must find their libraries in this root
for b in /mnt/build/agent/meshgate /mnt/build/controller-mock/meshgate-controller-mock; do
	libs=$(ldd "$b" 2>&1) || die "ldd $b: $libs"
	if grep -q 'not found' <<<"$libs"; then
		die "$b: missing libraries in the VM root: $(grep 'not found' <<<"$libs")"
	fi
done

# the environment of every test (VAR=VALUE lines: MG_TIME_SCALE)
while read -r kv; do
	[[ $kv == *=* ]] && export "${kv?}"
done </mnt/out/env
while read -r name rest; do
	[ -n "$name" ] || continue
	read -r -a words <<<"$rest"
	envs=()
	while [ ${#words[@]} -gt 0 ] && [[ ${words[0]} == *=* ]]; do
		envs+=("${words[0]}")
		words=("${words[@]:1}")
	done
	t0=$(date +%s%N)
	rc=0
	env MG_SRC=/mnt/src MG_BUILD=/mnt/build "${envs[@]}" \
		bash "/mnt/src/${words[0]}" "${words[@]:1}" </dev/null >"/mnt/out/$name.log" 2>&1 || rc=$?
	ms=$((($(date +%s%N) - t0) / 1000000))
	echo "$name $rc $((ms / 1000)).$((ms % 1000 / 100))" >>/mnt/out/results
done </mnt/out/tests
echo ok >/mnt/out/done
off
