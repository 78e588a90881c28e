/* SPDX-License-Identifier: MIT */
/* The delay before the next controller request after a failure. */
#ifndef MG_BACKOFF_H
#define MG_BACKOFF_H

#include <stdbool.h>
#include <stdint.h>

/* While the controller is down (nothing listens: refused, or the connection cut), a
 * retry costs it nothing and the first one after it is back must come soon: the delay
 * doubles from 250 ms and is capped here. */
#define BACKOFF_DOWN_FIRST_MS 250u
#define BACKOFF_DOWN_CAP_MS   2000u
/* Any other failure (the controller answered an error, 503 busy, TLS, timeouts): from
 * 1 s, doubling, up to max_s. */
#define BACKOFF_ERROR_FIRST_MS 1000u

/*
 * The delay after `fails` consecutive failures (1 for the first): base doubling per
 * failure from the kind's first value up to its cap, jittered uniformly in [base/2,
 * base] by `rnd` (a random number) so that a fleet does not retry in step.
 */
uint64_t backoff_delay_ms(unsigned fails, bool down, unsigned max_s, uint32_t rnd);

#endif
