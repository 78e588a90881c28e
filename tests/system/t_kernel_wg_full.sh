#!/usr/bin/env bash
# mg-labels: long
# Kernel WireGuard on a real kernel, the full set (issue 16 part 3; t_kernel_wg.sh is the
# CI core): one boot of Debian's kernel under QEMU (lib_kvm.sh, docs/TESTING.md) runs
# with kernel WireGuard
#   t_flows.sh      the seeds' site and user flows (MG_WG_MODE=kernel); under KVM only:
#                   under TCG it takes 7 minutes (most in its scan of every process's
#                   arguments for secrets), and kvm_core.sh has the same flows
#   kvm_core.sh     auto picks the kernel, flows, 4,096-route updates split across
#                   netlink messages (two sets, then one subnet), read back by wg(8)
#   kvm_adopt.sh    kill -9 of the agent under traffic: the kernel link keeps carrying
#                   it, the restarted agent adopts the link (same ifindex, handshake)
#   kvm_auto.sh     --wg-mode auto with the module loaded, unloaded but loadable, and
#                   unloaded and not loadable (userspace wireguard-go)
#   t_lifecycle.sh  drift repair (the tunnel link deleted and made again), kill -9,
#                   teardown, revocation (MG_WG_MODE=kernel)
# shellcheck source-path=SCRIPTDIR
. "$(dirname "$0")/lib_kvm.sh"
root_setup kernel_wg_full
command -v qemu-system-x86_64 >/dev/null || { mg_log "SKIP: no qemu-system-x86_64 (scripts/deps)"; exit 77; }

kvm_root_cache
accel=$(kvm_accel)
mg_log "accelerator: $accel"
tests=()
[ "$accel" = tcg ] || tests+=("flows MG_WG_MODE=kernel tests/integration/t_flows.sh")
kvm_run "$accel" "${MG_KVM_TIMEOUT:-1150}" "${tests[@]}" \
	"core tests/system/kvm_core.sh" \
	"adopt MG_WG_MODE=kernel tests/system/kvm_adopt.sh" \
	"auto_loaded tests/system/kvm_auto.sh loaded" \
	"auto_autoload tests/system/kvm_auto.sh autoload" \
	"auto_absent tests/system/kvm_auto.sh absent" \
	"lifecycle MG_WG_MODE=kernel tests/integration/t_lifecycle.sh" ||
	mg_fail "the VM did not run to the end"
kvm_report || mg_fail "a test failed in the VM"
mg_pass
