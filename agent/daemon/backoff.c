/* SPDX-License-Identifier: MIT */
#include "backoff.h"

uint64_t backoff_delay_ms(unsigned fails, bool down, unsigned max_s, uint32_t rnd)
{
	uint64_t base = down ? BACKOFF_DOWN_FIRST_MS : BACKOFF_ERROR_FIRST_MS;
	uint64_t cap = down ? BACKOFF_DOWN_CAP_MS : (uint64_t)max_s * 1000;

	if (cap < 2)
		cap = 2;
	for (unsigned i = 1; i < fails && base < cap; i++)
		base *= 2;
	if (base > cap)
		base = cap;
	return base / 2 + rnd % (base / 2 + 1);
}
