/* SPDX-License-Identifier: MIT */
/*
 * Unit tests for lib/settings (the settings file's syntax, line numbers in errors,
 * did-you-mean) and agent/cli/run_opts (the one table behind flags and file: values,
 * flags over the file, the shipped commented file covering every key).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "run_opts.h"
#include "settings.h"

#define SHIPPED MG_TESTDATA_DIR "/../../dist/meshgate/meshgate.conf"

struct seen {
	char keys[16][64], vals[16][256];
	int lines[16];
	int n;
	const char *refuse; /* a key the callback refuses */
};

static int collect(void *ctx, const struct settings_line *l, mg_err *e)
{
	struct seen *s = ctx;
	if (s->refuse && !strcmp(l->key, s->refuse))
		return mg_err_set(e, "%s refused", l->key);
	if (s->n < 16) {
		snprintf(s->keys[s->n], 64, "%s", l->key);
		snprintf(s->vals[s->n], 256, "%s", l->value);
		s->lines[s->n++] = l->line;
	}
	return 0;
}

static int parse(const char *text, struct seen *s, mg_err *e)
{
	return settings_parse(text, strlen(text), "t.conf", collect, s, e);
}

static void test_syntax(void **state)
{
	struct seen s = {0};
	mg_err e = {""};
	(void)state;

	assert_int_equal(parse("# comment\n\n  a = 1\nb=two words  # note\n"
			       "c = x#y\nd = \"\"\ne = \" q # r \"  # c\n; also a comment\n"
			       "[cloud]\ntakeover = yes\n[ net ]\nif = eth1\r\nlast = z",
			       &s, &e),
			 0);
	assert_int_equal(s.n, 8);
	assert_string_equal(s.keys[0], "a");
	assert_string_equal(s.vals[0], "1");
	assert_int_equal(s.lines[0], 3);
	assert_string_equal(s.vals[1], "two words");
	assert_string_equal(s.vals[2], "x#y");
	assert_string_equal(s.vals[3], "");
	assert_string_equal(s.vals[4], " q # r ");
	assert_string_equal(s.keys[5], "cloud_takeover");
	assert_string_equal(s.vals[5], "yes");
	assert_int_equal(s.lines[5], 10);
	assert_string_equal(s.keys[6], "net_if");
	assert_string_equal(s.vals[6], "eth1");
	assert_string_equal(s.keys[7], "net_last");
	assert_int_equal(s.lines[7], 13);
}

static void test_errors(void **state)
{
	static const struct {
		const char *text, *want;
	} bad[] = {
	    {"a = 1\nb 2\n", "t.conf:2: expected `=` after \"b\""},
	    {"\n\nKey = 1\n", "t.conf:3: expected `key = value`"},
	    {"a = \"open\n", "t.conf:1: unterminated quote"},
	    {"a = \"x\" y\n", "t.conf:1: text after the quoted value"},
	    {"[cloud\n", "t.conf:1: a section header is [name]"},
	    {"[Cloud]\n", "t.conf:1: a section name is"},
	    {"a = x\x01y\n", "t.conf:1: control character"},
	    {"= 1\n", "t.conf:1: expected `key = value`"},
	    {"x\n#\nrefused = 1\n", "t.conf:1: expected `=`"},
	    {"ok = 1\nrefused = 2\n", "t.conf:2: refused refused"},
	};
	(void)state;

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct seen s = {.refuse = "refused"};
		mg_err e = {""};
		assert_int_equal(parse(bad[i].text, &s, &e), -1);
		if (strncmp(e.msg, bad[i].want, strlen(bad[i].want))) {
			fprintf(stderr, "case %zu: got \"%s\", want \"%s...\"\n", i, e.msg,
				bad[i].want);
			fail();
		}
	}
	/* a NUL byte, an overlong line */
	struct seen s = {0};
	mg_err e = {""};
	assert_int_equal(settings_parse("a = 1\0b", 7, "t.conf", collect, &s, &e), -1);
	assert_non_null(strstr(e.msg, "NUL"));
	char *longl = malloc(SETTINGS_MAX_LINE + 16);
	assert_non_null(longl);
	memset(longl, 'x', SETTINGS_MAX_LINE + 10);
	memcpy(longl, "k = ", 4);
	longl[SETTINGS_MAX_LINE + 10] = '\0';
	assert_int_equal(parse(longl, &s, &e), -1);
	assert_non_null(strstr(e.msg, "t.conf:1: line longer"));
	free(longl);
}

static void test_bool_and_suggest(void **state)
{
	static const char *const known[] = {"cloud_takeover", "log_level", "metrics_listen",
					    "lan_if"};
	bool b = false;
	(void)state;

	assert_int_equal(settings_bool("yes", &b), 0);
	assert_true(b);
	assert_int_equal(settings_bool("off", &b), 0);
	assert_false(b);
	assert_int_equal(settings_bool("Yes", &b), -1);
	assert_int_equal(settings_bool("", &b), -1);
	assert_string_equal(settings_suggest("log_levl", known, 4), "log_level");
	assert_string_equal(settings_suggest("cloud_takover", known, 4), "cloud_takeover");
	assert_string_equal(settings_suggest("takeover", known, 4), "cloud_takeover");
	assert_string_equal(settings_suggest("metrics", known, 4), "metrics_listen");
	assert_string_equal(settings_suggest("cloud_lan_if", known, 4), "lan_if");
	assert_null(settings_suggest("zzzzzz", known, 4));
}

static char *write_tmp(const char *text)
{
	char *p = strdup("/tmp/mg_settings_XXXXXX");
	int fd;
	assert_non_null(p);
	fd = mkstemp(p);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
	close(fd);
	return p;
}

static void test_run_settings_file_then_flags(void **state)
{
	char *path = write_tmp("lan_if = eth1, eth2\nlog_level = debug\nmss_clamp = no\n"
			       "metrics_listen = 127.0.0.1:9586\nwg_mode = userspace\n"
			       "[cloud]\ntakeover = yes\nroute_tables = rtb-1,rtb-2\n");
	struct run_settings s;
	(void)state;

	char *argv1[] = {"run", "--config", path, NULL};
	assert_int_equal(run_settings_from_argv(&s, 3, argv1, RUN_CMD_RUN), 0);
	assert_true(s.have_file);
	assert_int_equal(s.o.dp.n_lan_ifs, 2);
	assert_string_equal(s.o.dp.lan_ifs[1], "eth2");
	assert_int_equal(s.o.log_level, 3);
	assert_true(s.o.cloud.takeover);
	assert_int_equal(s.o.cloud.n_tables, 2);
	assert_string_equal(s.o.cloud.tables[1], "rtb-2");
	assert_true(s.o.dp.no_mss_clamp);
	assert_string_equal(s.o.metrics_listen, "127.0.0.1:9586");
	assert_int_equal(s.o.dp.wg_mode, WG_MODE_USERSPACE);
	assert_int_equal(s.o.poll_wait_s, 25); /* untouched: the default */
	struct run_settings first = s;

	/* flags win; a repeated --lan-if replaces the file's list, not adds to it */
	char *argv2[] = {"run",  "--lan-if",    "eth9", "--config",         path, "--lan-if",
			 "eth8", "--log-level", "warn", "--metrics-listen", "",   NULL};
	assert_int_equal(run_settings_from_argv(&s, 11, argv2, RUN_CMD_RUN), 0);
	assert_int_equal(s.o.dp.n_lan_ifs, 2);
	assert_string_equal(s.o.dp.lan_ifs[0], "eth9");
	assert_string_equal(s.o.dp.lan_ifs[1], "eth8");
	assert_int_equal(s.o.log_level, 1);
	assert_string_equal(s.o.metrics_listen, "");
	assert_true(s.o.cloud.takeover);
	run_settings_free(&s);
	run_settings_free(&first);

	/* a missing --config file is an error; the default path may be missing */
	char *argv3[] = {"run", "-c", "/nonexistent/meshgate.conf", NULL};
	assert_int_equal(run_settings_from_argv(&s, 3, argv3, RUN_CMD_RUN), -1);
	run_settings_free(&s);
	unlink(path);
	free(path);
}

static void test_run_settings_errors(void **state)
{
	static const struct {
		const char *text, *want;
	} bad[] = {
	    {"log_level = loud\n", ":1: log_level is error, warn, info or debug"},
	    {"\nmetrics_lisen = 1.2.3.4:1\n", ":2: unknown key \"metrics_lisen\" (did you mean "
					      "\"metrics_listen\"?)"},
	    {"poll_wait = 5\npoll_wait = 6\n", ":2: poll_wait is set twice (first on line 1)"},
	    {"cloud = azur\n", ":1: cloud is auto, none or a provider"},
	    {"metrics_listen = 9586\n", ":1: metrics_listen is ADDRESS:PORT"},
	    {"lan_if = eth1, bad/name\n", ":1: lan_if is not an interface name"},
	    {"forget = yes\n", ":1: unknown key \"forget\""},
	    {"cloud_interval = 1\n", ":1: cloud_interval is 5..86400 seconds"},
	};
	(void)state;

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		char *path = write_tmp(bad[i].text);
		struct run_settings s;
		mg_err e = {""};
		assert_int_equal(run_settings_load_file(&s, path, false, &e), -1);
		if (strncmp(e.msg, path, strlen(path)) ||
		    strncmp(e.msg + strlen(path), bad[i].want, strlen(bad[i].want))) {
			fprintf(stderr, "case %zu: got \"%s\", want \"PATH%s...\"\n", i, e.msg,
				bad[i].want);
			fail();
		}
		run_settings_free(&s);
		unlink(path);
		free(path);
	}
}

static int n_live;
static void count_live(void *ctx, const char *key, bool live)
{
	(void)ctx;
	(void)key;
	n_live += live ? 1 : 100;
}

static void test_diff(void **state)
{
	char *a = write_tmp("log_level = info\nwg_mode = auto\ncloud_takeover = no\n");
	char *b = write_tmp("log_level = debug\nwg_mode = kernel\ncloud_takeover = no\n"
			    "metrics_listen = 127.0.0.1:1\n");
	struct run_settings sa, sb;
	mg_err e = {""};
	(void)state;

	assert_int_equal(run_settings_load_file(&sa, a, false, &e), 0);
	assert_int_equal(run_settings_load_file(&sb, b, false, &e), 0);
	n_live = 0;
	run_settings_diff(&sa, &sb, count_live, NULL);
	/* log_level and metrics_listen live, wg_mode needs a restart */
	assert_int_equal(n_live, 102);
	run_settings_free(&sb);
	/* a key a flag sets is not the file's to change: not reported */
	char *argv[] = {"run", "--log-level", "warn", "-c", b, NULL};
	assert_int_equal(run_settings_from_argv(&sb, 5, argv, RUN_CMD_RUN), 0);
	n_live = 0;
	run_settings_diff(&sa, &sb, count_live, NULL);
	assert_int_equal(n_live, 101);
	run_settings_free(&sa);
	run_settings_free(&sb);
	unlink(a);
	unlink(b);
	free(a);
	free(b);
}

/* The shipped file names every key, commented, and its values are valid defaults. */
static void test_shipped_file(void **state)
{
	const char *keys[RUN_OPTS_MAX];
	size_t n = run_opts_keys(keys, RUN_OPTS_MAX);
	char *text = NULL, *un, *p;
	size_t len = 0;
	FILE *f = fopen(SHIPPED, "r");
	struct run_settings s;
	mg_err e = {""};
	(void)state;

	assert_non_null(f);
	text = calloc(1, 1 << 16);
	assert_non_null(text);
	len = fread(text, 1, (1 << 16) - 1, f);
	fclose(f);
	assert_true(len > 0);
	/* as shipped, everything is commented: the defaults apply */
	assert_int_equal(run_settings_load_file(&s, SHIPPED, false, &e), 0);
	for (size_t i = 0; i < RUN_OPTS_MAX; i++)
		assert_null(s.file_val[i]);
	run_settings_free(&s);
	/* every key is there, as "#key =" at a line start */
	for (size_t i = 0; i < n; i++) {
		char pat[96];
		snprintf(pat, sizeof(pat), "\n#%s =", keys[i]);
		if (!strstr(text, pat)) {
			fprintf(stderr, "%s does not document \"%s\"\n", SHIPPED, keys[i]);
			fail();
		}
	}
	/* uncomment the first example of each key: the example values are valid */
	un = calloc(1, len + 1);
	assert_non_null(un);
	char seen[RUN_OPTS_MAX][64];
	size_t n_seen = 0;
	p = text;
	while (*p) {
		char *nl = strchr(p, '\n'), key[64];
		size_t ll = nl ? (size_t)(nl - p + 1) : strlen(p);
		bool take = false;
		if (p[0] == '#' && sscanf(p + 1, "%63[a-z0-9_] =", key) == 1 && strchr(p, '=') &&
		    strchr(p, '=') < p + ll) {
			take = true;
			for (size_t i = 0; i < n_seen; i++)
				take &= strcmp(seen[i], key) != 0;
			if (take && n_seen < RUN_OPTS_MAX)
				snprintf(seen[n_seen++], 64, "%s", key);
		}
		strncat(un, take ? p + 1 : p, take ? ll - 1 : ll);
		p += ll;
	}
	assert_int_equal(n_seen, n);
	char *path = write_tmp(un);
	if (run_settings_load_file(&s, path, false, &e) != 0) {
		fprintf(stderr, "uncommented shipped file: %s\n", e.msg);
		fail();
	}
	assert_int_equal(s.o.cloud_interval_s, 60);
	assert_string_equal(s.o.metrics_listen, "127.0.0.1:9586");
	run_settings_free(&s);
	unlink(path);
	free(path);
	free(un);
	free(text);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_syntax),
	    cmocka_unit_test(test_errors),
	    cmocka_unit_test(test_bool_and_suggest),
	    cmocka_unit_test(test_run_settings_file_then_flags),
	    cmocka_unit_test(test_run_settings_errors),
	    cmocka_unit_test(test_diff),
	    cmocka_unit_test(test_shipped_file),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
