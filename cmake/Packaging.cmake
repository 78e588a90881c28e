# The meshgate Debian package (CPack DEB).
#
#   cmake --build build && (cd build && cpack -G DEB)     or     cmake --build build --target package
#   -> build/meshgate_<version>_<arch>.deb
#
# Depends is computed by dpkg-shlibdeps from the programs' shared libraries (libcurl4,
# libnftnl11, libmnl0, libcjson1, libssl3, libexpat1, libmicrohttpd12, libsqlite3-0, libc6, ...).
# The maintainer scripts (dist/deb) work in a chroot or container without systemd:
# postinst reloads systemd only where it runs and never starts the service (it needs an
# enrolment first); prerm on removal stops and disables it and runs `meshgate down` when
# enrolled; postrm on purge removes /var/lib/meshgate and /etc/default/meshgate.

set(CPACK_GENERATOR DEB)
set(CPACK_PACKAGE_NAME meshgate)
set(CPACK_PACKAGE_VERSION ${PROJECT_VERSION})
set(CPACK_PACKAGE_VENDOR "meshgate")
# MG_PACKAGE_MAINTAINER: a cache variable set in dist/CMakeLists.txt (the changelog too)
set(CPACK_PACKAGE_CONTACT "${MG_PACKAGE_MAINTAINER}")
set(CPACK_PACKAGE_DESCRIPTION_SUMMARY "connector agent for a WireGuard VPN mesh")
# the summary is the Description's first line; this is the rest
set(CPACK_DEBIAN_PACKAGE_DESCRIPTION "meshgate enrols a host with a mesh controller from one connection
string, brings up a WireGuard tunnel to the hub (kernel WireGuard, or
wireguard-go), installs the routes the controller hands out, turns the host
into a router for its LAN (forwarding, reverse-path filtering, NAT and access
rules in an nftables table of its own) and, on AWS, writes the VPC routes. It
keeps all of this true through config changes, drift, restarts and controller
outages.
.
The package also ships meshgate-controller-mock, a small controller and
WireGuard hub for tests and demos.")

set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)  # meshgate_<version>_<arch>.deb
set(CPACK_DEBIAN_PACKAGE_SECTION net)
set(CPACK_DEBIAN_PACKAGE_PRIORITY optional)
set(CPACK_DEBIAN_COMPRESSION_TYPE xz)
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)
# the userspace WireGuard where the kernel has none; the tools to look at things
set(CPACK_DEBIAN_PACKAGE_RECOMMENDS "wireguard-go")
set(CPACK_DEBIAN_PACKAGE_SUGGESTS "wireguard-tools, nftables")
set(CPACK_STRIP_FILES ON)
# root:root, 0755 directories and 0644/0755 files whatever the build tree's umask
set(CPACK_INSTALL_DEFAULT_DIRECTORY_PERMISSIONS
    OWNER_READ OWNER_WRITE OWNER_EXECUTE GROUP_READ GROUP_EXECUTE WORLD_READ WORLD_EXECUTE)

set(_mg_deb "${PROJECT_SOURCE_DIR}/dist/deb")
set(CPACK_DEBIAN_PACKAGE_CONTROL_EXTRA
    "${_mg_deb}/postinst;${_mg_deb}/prerm;${_mg_deb}/postrm;${_mg_deb}/conffiles")
# 0755 for the scripts, 0644 for conffiles, as dpkg expects
set(CPACK_DEBIAN_PACKAGE_CONTROL_STRICT_PERMISSION TRUE)

include(CPack)
