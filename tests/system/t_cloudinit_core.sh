#!/usr/bin/env bash
# mg-labels: long
# The short variant of t_cloudinit.sh (issue 17, part 4): cloud/aws/user-data.yaml run by
# cloud-init in a booted Debian root on the fake AWS network, installing the build's .deb
# (MESHGATE_DEB_URL, over HTTPS) instead of building the clone in the VM; then the same
# template broken (its runcmd names a missing script) must fail the same verdict. The
# pass conditions are t_cloudinit.sh's (tests/system/lib_cloudinit.sh, ci_verdict).
# shellcheck source-path=SCRIPTDIR
. "$(dirname "$0")/lib_cloudinit.sh"
ci_main cloudinit_core aws 1 1
