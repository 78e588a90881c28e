#!/usr/bin/env bash
# Lint the installer and the packaging scripts with shellcheck: install.sh (run as root on
# servers, often from a pipe), scripts/deps, the .deb's maintainer scripts (POSIX sh:
# dpkg runs them with /bin/sh) and the package and install tests themselves.
set -euo pipefail
MG_SRC=${MG_SRC:-$(cd "$(dirname "$0")/../.." && pwd)}
command -v shellcheck >/dev/null || { echo "t_shellcheck: SKIP: no shellcheck (scripts/deps)"; exit 77; }
cd "$MG_SRC"
rc=0
shellcheck install.sh scripts/deps || rc=1
shellcheck -s sh dist/deb/postinst dist/deb/prerm dist/deb/postrm || rc=1
shellcheck -x tests/system/lib_root.sh tests/system/t_deb.sh tests/system/t_install.sh \
	tests/system/t_shellcheck.sh || rc=1
shellcheck -x tests/system/lib_cloudinit.sh tests/system/t_cloudinit.sh tests/system/t_cloudinit_core.sh || rc=1
shellcheck -x tests/system/lib_kvm.sh tests/system/t_kernel_wg.sh tests/system/t_kernel_wg_full.sh \
	tests/system/kvm_guest.sh || rc=1
[ $rc -eq 0 ] && echo "[shellcheck] PASS: install.sh, scripts/deps, dist/deb/*inst/*rm, the package and install tests"
exit $rc
