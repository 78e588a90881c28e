/* SPDX-License-Identifier: MIT */
/* The agent's footprint settings (agent/daemon/memfoot.c): the environment switch, the
 * GnuTLS hook's answer, and that a trim gives freed heap pages back to the kernel. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "memfoot.h"

int _gnutls_global_init_skip(void);

#if defined(__SANITIZE_ADDRESS__)
#define MG_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define MG_ASAN 1
#endif
#endif

/* RSS of the [heap] mapping in kB */
static long heap_rss_kb(void)
{
	FILE *f = fopen("/proc/self/smaps", "r");
	char line[512];
	bool in_heap = false;
	long kb = 0, v;

	assert_non_null(f);
	while (fgets(line, sizeof(line), f)) {
		if (!(line[0] >= 'A' && line[0] <= 'Z')) /* a mapping's first line */
			in_heap = strstr(line, "[heap]") != NULL;
		else if (in_heap && sscanf(line, "Rss: %ld", &v) == 1)
			kb += v;
	}
	fclose(f);
	return kb;
}

static void test_switch(void **state)
{
	(void)state;
	assert_int_equal(unsetenv("MESHGATE_MALLOC_DEFAULTS"), 0);
	assert_true(memfoot_enabled());
	assert_int_equal(_gnutls_global_init_skip(), 1);
	assert_int_equal(setenv("MESHGATE_MALLOC_DEFAULTS", "1", 1), 0);
	assert_false(memfoot_enabled());
	assert_int_equal(_gnutls_global_init_skip(), 0);
	assert_int_equal(setenv("MESHGATE_MALLOC_DEFAULTS", "0", 1), 0);
	assert_true(memfoot_enabled());
	assert_int_equal(unsetenv("MESHGATE_MALLOC_DEFAULTS"), 0);
}

/* What a big config leaves behind: many small blocks freed below one that stays (the
 * heap's top cannot shrink past it). The trim returns the pages in between. */
static void test_trim(void **state)
{
	enum { N = 40000, SZ = 200 }; /* ~8 MiB */
	static void *blocks[N];
	void *pin;
	long before, after;

	(void)state;
#ifdef MG_ASAN
	skip(); /* the sanitizer's allocator has no glibc heap to trim */
#endif
	memfoot_setup();
	for (int i = 0; i < N; i++) {
		blocks[i] = malloc(SZ);
		assert_non_null(blocks[i]);
		memset(blocks[i], 0x5a, SZ);
	}
	pin = malloc(SZ);
	assert_non_null(pin);
	for (int i = 0; i < N; i++)
		free(blocks[i]);
	before = heap_rss_kb();
	memfoot_trim();
	after = heap_rss_kb();
	print_message("heap RSS %ld kB before the trim, %ld kB after\n", before, after);
	assert_true(before > 4096);
	assert_true(after < before / 4);
	free(pin);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_switch),
	    cmocka_unit_test(test_trim),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
