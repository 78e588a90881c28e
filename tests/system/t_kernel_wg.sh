#!/usr/bin/env bash
# mg-labels: long
# Kernel WireGuard on a real kernel, the short set (issue 16 part 3; label long: in a
# clean CI run its TCG guest printed nothing in 600 s, so CI leaves it to scripts/test): Debian's
# linux-image-amd64 booted under QEMU (KVM when it boots the kernel, else TCG) with a
# Debian 12 root, running tests/system/kvm_core.sh there (lib_kvm.sh, docs/TESTING.md):
#   under KVM ("short"): --wg-mode auto picks the kernel with the module loaded, site A
#     <-> site B and a remote user over kernel WireGuard (agents, hub and wg-quick), and a
#     4,096-route update of the hub peer split across netlink messages, read back by
#     wg(8), with traffic to the first and the last new subnet;
#   under TCG ("small": everything runs several times slower there): auto picks the
#     kernel, A's connector reaches the hub through it, and the same 4,096-route update
#     read back by wg(8), with site A alone.
# t_kernel_wg_full.sh (label long) runs the rest: all of kvm_core.sh, the adoption of the
# kernel interface after kill -9, auto with the module unloaded, t_lifecycle, t_flows.
# shellcheck source-path=SCRIPTDIR
. "$(dirname "$0")/lib_kvm.sh"
root_setup kernel_wg
command -v qemu-system-x86_64 >/dev/null || { mg_log "SKIP: no qemu-system-x86_64 (scripts/deps)"; exit 77; }

kvm_root_cache
accel=$(kvm_accel)
level=small
[ "$accel" = kvm ] && level=short
mg_log "accelerator: $accel (kvm_core.sh $level)"
kvm_run "$accel" "${MG_KVM_TIMEOUT:-600}" "core tests/system/kvm_core.sh $level" ||
	mg_fail "the VM did not run to the end"
kvm_report || mg_fail "a test failed in the VM"
mg_pass
