/* SPDX-License-Identifier: MIT */
#include "cli.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fsutil.h"

void cli_scrub_arg(char *arg)
{
	/* /proc/<pid>/cmdline reads our argv memory: overwrite the secret in place */
	size_t n = strlen(arg);
	memset(arg, 'x', n);
}

int cli_read_connect_file(const char *path, char *out, size_t outlen, mg_err *e)
{
	char *buf = NULL;
	size_t len = 0;

	if (!strcmp(path, "-")) {
		size_t n = fread(out, 1, outlen - 1, stdin);
		out[n] = '\0';
		if (ferror(stdin))
			return mg_err_set(e, "read connection string from stdin: %s",
					  strerror(errno));
		return 0;
	}
	if (fs_read_bounded(path, outlen - 1, &buf, &len, e) < 0)
		return mg_err_prefix(e, "connection string file");
	memcpy(out, buf, len + 1);
	free(buf);
	return 0;
}

int cli_parse_int(const char *s, int min, int max, int *out)
{
	char *end;
	long v = strtol(s, &end, 10);
	if (!*s || *end || v < min || v > max)
		return -1;
	*out = (int)v;
	return 0;
}

int cli_cloud_select_opt(const char *cmd, struct cloud_select *s, const char *name,
			 const char *value)
{
	mg_err e = {""};

	if (cloud_select_set(s, name, value, &e) > 0)
		return 0;
	fprintf(stderr, "meshgate %s: --%s %s\n", cmd, name,
		e.msg[0] ? e.msg : "is no cloud option");
	return -1;
}
