/* SPDX-License-Identifier: MIT */
/* Unit tests for the metrics endpoint's request routing (agent/daemon/metrics.c). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "metrics.h"

static int route(const char *req, bool *head)
{
	return metrics_route(req, strlen(req), head);
}

static void test_route(void **state)
{
	static const struct {
		const char *req;
		int want;
		bool head;
	} cases[] = {
	    {"GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n", 200, false},
	    {"GET /metrics?name[]=x HTTP/1.0\n\n", 200, false},
	    {"HEAD /metrics HTTP/1.1\r\n\r\n", 200, true},
	    {"GET /metrics/ HTTP/1.1\r\n\r\n", 404, false},
	    {"GET /metricsx HTTP/1.1\r\n\r\n", 404, false},
	    {"GET / HTTP/1.1\r\n\r\n", 404, false},
	    {"POST /metrics HTTP/1.1\r\n\r\n", 405, false},
	    {"DELETE /metrics HTTP/1.1\r\n\r\n", 405, false},
	    {"GET /metrics HTTP/2.0\r\n\r\n", 400, false},
	    {"GET /metrics\r\n\r\n", 400, false},
	    {"GET metrics HTTP/1.1\r\n\r\n", 400, false},
	    {"\r\n\r\n", 400, false},
	    {"GET /metrics HTTP/1.1", 400, false}, /* no end of line */
	    /* found by fuzz_metrics_req: other blanks, a version with a byte after "1." */
	    {"HEAD\x0b /metrics?& HTTP/1.\x88\n", 400, false},
	    {"GET  /metrics HTTP/1.1\r\n", 400, false},
	    {"GET /metrics HTTP/1.1 \r\n", 400, false},
	    {"get /metrics HTTP/1.1\r\n", 400, false},
	};
	(void)state;

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		bool head = !cases[i].head;
		int got = route(cases[i].req, &head);
		if (got != cases[i].want || head != cases[i].head) {
			fprintf(stderr, "case %zu: %d (head %d), want %d\n", i, got, head,
				cases[i].want);
			fail();
		}
	}
	/* a NUL inside the request line is no request */
	bool head;
	assert_int_equal(metrics_route("GET /metrics\0 HTTP/1.1\r\n", 25, &head), 400);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_route),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
