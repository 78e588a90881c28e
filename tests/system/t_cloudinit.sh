#!/usr/bin/env bash
# mg-labels: long
# The four cloud/*/user-data.yaml files run by cloud-init itself (issue 17, part 4).
#
# For each provider (MG_CLOUDINIT_PROVIDERS, default "aws azure gcp oracle"): a fresh
# copy of the cloud-init root (lib_cloudinit.sh: the cached minbase root plus Debian's
# cloud-init, systemd and the build dependencies, cached once) boots with systemd in
# systemd-nspawn, inside the namespace of a VM on the provider's fake network
# (tests/fake/PROVIDER: its instance metadata on 169.254.169.254, its API on
# 198.18.1.1). Its NoCloud seed is the template rendered by cloud/render-user-data.sh
# with a connection string of the controller-mock on the "internet"; the source is a
# git repository of this checkout served by `git daemon`, the package archive a mirror
# of the cached .debs. cloud-init runs at boot as on a VM: package_update, packages,
# write_files, runcmd -> meshgate-firstboot -> install.sh (build, package, enrol,
# systemctl enable --now). At the end of the boot it passes only when:
#   cloud-init status is done, with no errors (result.json, status.json, --long)
#   the meshgate package is installed, meshgate.service enabled and active
#   `meshgate status` says enrolled, tunnel up with a handshake with the hub, and the
#   provider's metadata read (cloud: PROVIDER); the controller lists it enrolled
#   the connection string is gone from /etc/meshgate, first boot marked done
# Then (unless MG_CLOUDINIT_MUTANT=0) a broken copy of the first provider's template
# (its runcmd names a script that does not exist) must fail the same verdict.
#
# Environment: MG_CLOUDINIT_PROVIDERS, MG_CLOUDINIT_MUTANT (1 = runcmd, noinstall, 0;
# see lib_cloudinit.sh).
# shellcheck source-path=SCRIPTDIR
. "$(dirname "$0")/lib_cloudinit.sh"
ci_main cloudinit "${MG_CLOUDINIT_PROVIDERS:-aws azure gcp oracle}" "${MG_CLOUDINIT_MUTANT:-1}"
