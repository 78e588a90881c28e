#!/usr/bin/env bash
# Kernel WireGuard on a real kernel, the CI core (issue 16 part 3): Debian's
# linux-image-amd64 booted under QEMU (KVM when it works, else TCG) with a Debian 12
# root, running with --wg-mode kernel (tests/system/lib_kvm.sh, docs/TESTING.md):
#  - the site and user flows (t_flows.sh with MG_WG_MODE=kernel: agents, hub and the
#    user's wg-quick all on kernel WireGuard);
#  - a 4,096-route update of the hub peer, split across netlink messages, read back by
#    wg(8) (kvm_routes.sh);
#  - --wg-mode auto picks the kernel with the module loaded (kvm_auto.sh).
# t_kernel_wg_full.sh (label long) adds the other data-path tests and the adoption of the
# kernel interface after kill -9.
# shellcheck source-path=SCRIPTDIR
. "$(dirname "$0")/lib_kvm.sh"
root_setup kernel_wg
command -v qemu-system-x86_64 >/dev/null || { mg_log "SKIP: no qemu-system-x86_64 (scripts/deps)"; exit 77; }

kvm_root_cache
accel=$(kvm_accel)
mg_log "accelerator: $accel"
kvm_run "$accel" "${MG_KVM_TIMEOUT:-600}" \
	"flows MG_WG_MODE=kernel tests/integration/t_flows.sh" \
	"routes MG_WG_MODE=kernel tests/system/kvm_routes.sh" \
	"auto tests/system/kvm_auto.sh" || mg_fail "the VM did not run to the end"
kvm_report || mg_fail "a test failed in the VM"
mg_pass
