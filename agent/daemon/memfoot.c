/* SPDX-License-Identifier: MIT */
#include "memfoot.h"

#include <malloc.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"

/* Blocks from this size on are mmap()ed (glibc's default start; fixed, it no longer
 * grows after the first big free, which would leave every later document in the heap). */
#define MEMFOOT_MMAP_THRESHOLD (128 * 1024)

bool memfoot_enabled(void)
{
	const char *v = getenv("MESHGATE_MALLOC_DEFAULTS");

	return !v || strcmp(v, "1") != 0;
}

/*
 * GnuTLS's documented hook (gnutls.h: GNUTLS_SKIP_GLOBAL_INIT): when the program defines
 * this function and it returns 1, the library's constructor does not initialise it. The
 * agent never speaks TLS through GnuTLS (libcurl uses OpenSSL; librtmp, the one user of
 * GnuTLS, serves rtmp:// URLs that httpc_setup() never allows), so the initialisation
 * only touched pages: ~0.7 MiB of RSS. The executable exports the symbol (GNU ld does
 * since libgnutls refers to it; agent/CMakeLists.txt says so explicitly) and libgnutls
 * binds to it (tests/integration/t_footprint.sh).
 */
int _gnutls_global_init_skip(void);
int _gnutls_global_init_skip(void)
{
	return memfoot_enabled() ? 1 : 0;
}

void memfoot_setup(void)
{
	if (!memfoot_enabled())
		return;
	if (mallopt(M_ARENA_MAX, 1) != 1 || mallopt(M_MMAP_THRESHOLD, MEMFOOT_MMAP_THRESHOLD) != 1)
		log_debug(
		    "malloc settings for a small footprint were refused (mallopt; a sanitizer's "
		    "allocator has none)");
}

void memfoot_trim(void)
{
	if (memfoot_enabled())
		(void)malloc_trim(0);
}
