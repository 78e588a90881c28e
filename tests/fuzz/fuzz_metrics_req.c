/* SPDX-License-Identifier: MIT */
/* The metrics endpoint's request routing: any bytes give one of its four answers, and
 * 200 only for a GET or HEAD of /metrics. */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "metrics.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	bool head = false;
	int r = metrics_route((const char *)data, size, &head);

	if (r != 200 && r != 400 && r != 404 && r != 405)
		abort();
	if (r == 200 &&
	    (size < 13 || (memcmp(data, "GET /metrics", 12) && memcmp(data, "HEAD /metrics", 13))))
		abort();
	if (head && (r != 200 || memcmp(data, "HEAD ", 5)))
		abort();
	return 0;
}
