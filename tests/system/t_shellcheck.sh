#!/usr/bin/env bash
# Lint the installer and the packaging scripts with shellcheck: install.sh (run as root on
# servers, often from a pipe), scripts/deps, the .deb's maintainer scripts (POSIX sh:
# dpkg runs them with /bin/sh) and the system tests themselves.
set -euo pipefail
MG_SRC=${MG_SRC:-$(cd "$(dirname "$0")/../.." && pwd)}
command -v shellcheck >/dev/null || { echo "t_shellcheck: SKIP: no shellcheck (scripts/deps)"; exit 77; }
cd "$MG_SRC"
rc=0
shellcheck install.sh scripts/deps || rc=1
shellcheck -s sh dist/deb/postinst dist/deb/prerm dist/deb/postrm || rc=1
shellcheck -x tests/system/*.sh || rc=1
[ $rc -eq 0 ] && echo "[shellcheck] PASS: install.sh, scripts/deps, dist/deb/*inst/*rm, tests/system/*.sh"
exit $rc
