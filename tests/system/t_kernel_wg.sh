#!/usr/bin/env bash
# Kernel WireGuard on a real kernel, the CI core (issue 16 part 3): Debian's
# linux-image-amd64 booted under QEMU (KVM when it boots the kernel, else TCG) with a
# Debian 12 root, running tests/system/kvm_core.sh short there (lib_kvm.sh,
# docs/TESTING.md): --wg-mode auto picks the kernel with the module loaded, site A <->
# site B and a remote user over kernel WireGuard (agents, hub and wg-quick), and a
# 4,096-route update of the hub peer split across netlink messages, read back by wg(8).
# t_kernel_wg_full.sh (label long) runs the rest: t_flows, t_lifecycle, the adoption of
# the kernel interface after kill -9, auto with the module unloaded.
# shellcheck source-path=SCRIPTDIR
. "$(dirname "$0")/lib_kvm.sh"
root_setup kernel_wg
command -v qemu-system-x86_64 >/dev/null || { mg_log "SKIP: no qemu-system-x86_64 (scripts/deps)"; exit 77; }

kvm_root_cache
accel=$(kvm_accel)
mg_log "accelerator: $accel"
kvm_run "$accel" "${MG_KVM_TIMEOUT:-600}" "core tests/system/kvm_core.sh short" ||
	mg_fail "the VM did not run to the end"
kvm_report || mg_fail "a test failed in the VM"
mg_pass
