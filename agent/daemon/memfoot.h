/* SPDX-License-Identifier: MIT */
/*
 * The agent's memory footprint (docs/ARCHITECTURE.md, "Footprint"): what `meshgate run`
 * does so that a config of 10,000 routes and 10,000 exclusions costs little memory once
 * it is applied.
 *  - GnuTLS is mapped (libcurl → librtmp → libgnutls) but never used: its implicit
 *    initialisation at load time is skipped (GnuTLS's own GNUTLS_SKIP_GLOBAL_INIT hook).
 *  - one malloc arena: the cloud worker thread allocates little, and a second arena
 *    keeps its own free pages that the main arena's trim never returns;
 *  - big blocks (a config document, its parsed tables) are mmap()ed and so returned to
 *    the kernel when freed, instead of raising glibc's mmap threshold for good;
 *  - after a config was taken or refused, the heap's free pages go back (malloc_trim).
 * MESHGATE_MALLOC_DEFAULTS=1 in the environment turns all of it off, for bench_mem's
 * comparison.
 */
#ifndef MG_MEMFOOT_H
#define MG_MEMFOOT_H

#include <stdbool.h>

/* Before any thread starts. */
void memfoot_setup(void);
/* After a big piece of work (a config parsed and applied or refused). */
void memfoot_trim(void);
/* The switch above is off (the footprint settings are in force). */
bool memfoot_enabled(void);

#endif
