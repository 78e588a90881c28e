/* SPDX-License-Identifier: MIT */
/* Command-line plumbing shared by the meshgate commands. */
#ifndef MG_CLI_H
#define MG_CLI_H

#include <stdbool.h>
#include <stddef.h>

#include "cloud_select.h"
#include "err.h"

/* Exit codes (documented in `meshgate --help`). */
enum {
	EXIT_OK = 0,
	EXIT_FAIL = 1,    /* the operation failed; the message says why */
	EXIT_USAGE = 2,   /* bad command line */
	EXIT_REVOKED = 3, /* the controller revoked this connector; everything was removed */
	EXIT_NOTENROLLED = 4,
};

struct cli_common {
	const char *state_dir;
	bool json;
};

/* Each command: argc/argv start at the command name. */
int cmd_up(int argc, char **argv);
int cmd_status(int argc, char **argv);
int cmd_run(int argc, char **argv);
int cmd_down(int argc, char **argv);
int cmd_version(int argc, char **argv);
int cmd_check(int argc, char **argv);
int cmd_cleanup(int argc, char **argv);
int cmd_doctor(int argc, char **argv);

/* Read a connection string from FILE ('-' = stdin) into out (NUL-terminated). */
int cli_read_connect_file(const char *path, char *out, size_t outlen, mg_err *e);

/* A whole decimal number in [min, max] into *out. Returns 0, or -1. */
int cli_parse_int(const char *s, int min, int max, int *out);

/*
 * The cloud selection's getopt entries (agent/cloud/cloud_select.h), all answering `code`:
 * the option is opts[longindex].name, handed to cli_cloud_select_opt().
 */
#define CLI_CLOUD_SELECT_OPTS(code)                                                                \
	{"cloud", required_argument, NULL, code},                                                  \
	    {"cloud-metadata", required_argument, NULL, code},                                     \
	    {"cloud-api", required_argument, NULL, code},                                          \
	    {"cloud-ca-file", required_argument, NULL, code},                                      \
	    {"cloud-sysfs", required_argument, NULL, code},                                        \
	{                                                                                          \
		"cloud-azure-client-id", required_argument, NULL, code                             \
	}

/* Set --NAME VALUE in s; on a bad value say "meshgate CMD: --NAME is ..." and return -1. */
int cli_cloud_select_opt(const char *cmd, struct cloud_select *s, const char *name,
			 const char *value);

/* Overwrite a secret passed on the command line so it no longer shows in ps. */
void cli_scrub_arg(char *arg);

#endif
