#!/usr/bin/env bash
# The agent's footprint settings (agent/daemon/memfoot.c) reach the libraries: GnuTLS,
# mapped through libcurl's librtmp, binds its init hook to the agent's own
# _gnutls_global_init_skip (exported by the link), so its implicit initialisation is
# skipped. The figures themselves: bench/bench_mem.sh.
# shellcheck source=tests/integration/lib.sh
source "$(dirname "$0")/lib.sh"
mg_setup footprint

if ! ldd "$MESHGATE" | grep -q libgnutls; then
	mg_log "GnuTLS is not mapped by this agent's libcurl: nothing to skip"
	exit 77
fi
LD_DEBUG=bindings "$MESHGATE" version >"$MG_TMP/out" 2>"$MG_TMP/ld"
grep '_gnutls_global_init_skip' "$MG_TMP/ld" >"$MG_TMP/binding" ||
	mg_fail "nothing binds _gnutls_global_init_skip"
grep -q "libgnutls.*to .*/meshgate .*_gnutls_global_init_skip" "$MG_TMP/binding" ||
	mg_fail "GnuTLS binds its init hook elsewhere: $(cat "$MG_TMP/binding")"
mg_log "GnuTLS's init hook binds to the agent"
mg_pass
