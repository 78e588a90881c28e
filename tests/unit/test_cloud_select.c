/* SPDX-License-Identifier: MIT */
/* The cloud selection shared by run, check and doctor: one parser (both spellings of a
 * name, the same checks and messages), the getopt entries naming the same options, and
 * the resolver (none, a named provider, an unknown one, detection finding no cloud). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli.h"
#include "cloud_select.h"

static void test_set_each_option(void **state)
{
	struct cloud_select s = {{0}};
	mg_err e = {""};
	(void)state;

	assert_int_equal(cloud_select_set(&s, "cloud", "aws", &e), 1);
	assert_string_equal(s.provider, "aws");
	assert_int_equal(cloud_select_set(&s, "cloud_metadata", "http://127.0.0.1:9", &e), 1);
	assert_string_equal(s.ep.metadata, "http://127.0.0.1:9");
	assert_int_equal(cloud_select_set(&s, "cloud-api", "https://api.test", &e), 1);
	assert_string_equal(s.ep.api, "https://api.test");
	assert_int_equal(cloud_select_set(&s, "cloud_ca_file", "/etc/ca.pem", &e), 1);
	assert_string_equal(s.ep.ca_file, "/etc/ca.pem");
	assert_int_equal(cloud_select_set(&s, "cloud-sysfs", "/tmp/sys", &e), 1);
	assert_string_equal(s.sysfs_root, "/tmp/sys");
	assert_int_equal(cloud_select_set(&s, "cloud-azure-client-id",
					  "0123abcd-ef00-4a5b-9c8d-0e1f2a3b4c5d", &e),
			 1);
	assert_string_equal(s.ep.identity, "0123abcd-ef00-4a5b-9c8d-0e1f2a3b4c5d");
	assert_int_equal(cloud_select_set(&s, "cloud_azure_client_id", "", &e), 1);
	assert_string_equal(s.ep.identity, "");
	/* not ours: left to the caller, nothing changed */
	assert_int_equal(cloud_select_set(&s, "cloud-takeover", "yes", &e), 0);
	assert_int_equal(cloud_select_set(&s, "cloudy", "aws", &e), 0);
	assert_string_equal(s.provider, "aws");
}

static void test_set_refuses(void **state)
{
	struct cloud_select s = {{0}};
	char long_url[CLOUD_URL_LEN + 8];
	mg_err e = {""};
	(void)state;

	assert_int_equal(cloud_select_set(&s, "cloud", "azur", &e), -1);
	assert_non_null(strstr(e.msg, "is auto, none or a provider ("));
	assert_non_null(strstr(e.msg, "not \"azur\""));
	assert_string_equal(s.provider, "");
	assert_int_equal(cloud_select_set(&s, "cloud-azure-client-id", "not a guid", &e), -1);
	assert_string_equal(e.msg, "is a client id (GUID), not \"not a guid\"");
	memset(long_url, 'a', sizeof(long_url) - 1);
	long_url[sizeof(long_url) - 1] = '\0';
	assert_int_equal(cloud_select_set(&s, "cloud-api", long_url, &e), -1);
	assert_non_null(strstr(e.msg, "is longer than"));
	assert_string_equal(s.ep.api, "");
}

/* every getopt entry is a selection option and every selection option has an entry */
static void test_getopt_entries(void **state)
{
	static const struct option opts[] = {CLI_CLOUD_SELECT_OPTS(7), {0, 0, 0, 0}};
	struct cloud_select s = {{0}};
	size_t n = 0, k = 0;
	mg_err e = {""};
	(void)state;

	for (; opts[n].name; n++) {
		assert_int_equal(opts[n].val, 7);
		assert_int_equal(opts[n].has_arg, required_argument);
		assert_int_equal(cloud_select_set(&s, opts[n].name, "", &e) == 0, 0);
	}
	for (; cloud_select_options[k]; k++) {
		bool found = false;
		for (size_t i = 0; i < n; i++)
			found |= !strcmp(opts[i].name, cloud_select_options[k]);
		assert_true(found);
	}
	assert_int_equal(n, k);
}

static void test_resolve(void **state)
{
	struct cloud_select s = {{0}};
	const struct cloud_provider_ops *ops = NULL;
	char dir[] = "/tmp/mg-csel-XXXXXX", p[96];
	mg_err e = {""};
	FILE *f;
	(void)state;

	snprintf(s.provider, sizeof(s.provider), "none");
	assert_int_equal(cloud_select_resolve(&s, 100, &ops, &e), CLOUD_SELECT_OFF);
	assert_null(ops);
	snprintf(s.provider, sizeof(s.provider), "aws");
	assert_int_equal(cloud_select_resolve(&s, 100, &ops, &e), CLOUD_SELECT_FOUND);
	assert_non_null(ops);
	assert_string_equal(ops->name, "aws");
	snprintf(s.provider, sizeof(s.provider), "ibm");
	assert_int_equal(cloud_select_resolve(&s, 100, &ops, &e), CLOUD_SELECT_UNKNOWN);
	assert_non_null(strstr(e.msg, "unknown cloud provider ibm (this build has "));

	/* auto on a laptop: DMI names no cloud and no metadata endpoint is given */
	assert_non_null(mkdtemp(dir));
	snprintf(p, sizeof(p), "%s/class", dir);
	assert_int_equal(mkdir(p, 0755), 0);
	snprintf(p, sizeof(p), "%s/class/dmi", dir);
	assert_int_equal(mkdir(p, 0755), 0);
	snprintf(p, sizeof(p), "%s/class/dmi/id", dir);
	assert_int_equal(mkdir(p, 0755), 0);
	snprintf(p, sizeof(p), "%s/class/dmi/id/sys_vendor", dir);
	f = fopen(p, "w");
	assert_non_null(f);
	fputs("LENOVO\n", f);
	fclose(f);
	s.provider[0] = '\0';
	snprintf(s.sysfs_root, sizeof(s.sysfs_root), "%s", dir);
	e.msg[0] = '\0';
	assert_int_equal(cloud_select_resolve(&s, 100, &ops, &e), CLOUD_SELECT_NOCLOUD);
	assert_null(ops);
	assert_true(e.msg[0] != '\0');
	assert_int_equal(unlink(p), 0);
	for (int i = 0; i < 3; i++) {
		*strrchr(p, '/') = '\0';
		assert_int_equal(rmdir(p), 0);
	}
	assert_int_equal(rmdir(dir), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_set_each_option),
	    cmocka_unit_test(test_set_refuses),
	    cmocka_unit_test(test_getopt_entries),
	    cmocka_unit_test(test_resolve),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
