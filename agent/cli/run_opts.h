/* SPDX-License-Identifier: MIT */
/*
 * The local settings of `meshgate run` and `down`, in one table: each setting has its
 * command-line flag and/or its key in the settings file (/etc/meshgate/meshgate.conf),
 * one parser, and whether SIGHUP applies it without a restart. Defaults, then the file,
 * then the flags (flags win). Adding a setting is one line in the table (run_opts.c).
 */
#ifndef MG_RUN_OPTS_H
#define MG_RUN_OPTS_H

#include <stdbool.h>

#include "daemon.h"

#define RUN_OPTS_MAX 48 /* table entries */

struct run_settings {
	struct daemon_opts o;
	char state_dir[256];
	char dropin[256];
	bool forget;                  /* down --forget */
	char config[256];             /* the settings file */
	bool config_given;            /* --config: a missing file is then an error */
	bool have_file;               /* the file existed and was read */
	char *file_val[RUN_OPTS_MAX]; /* each key's value as the file gave it (NULL: not) */
	int file_line[RUN_OPTS_MAX];
	bool flag_set[RUN_OPTS_MAX]; /* a command-line flag set it (and wins) */
};

enum run_cmd { RUN_CMD_RUN = 1, RUN_CMD_DOWN = 2 };

/*
 * Parse argv (defaults, then the settings file, then the flags). 0, 1 for --help,
 * -1 after printing the error to stderr ("meshgate CMD: ..."). Call run_settings_free.
 */
int run_settings_from_argv(struct run_settings *s, int argc, char **argv, enum run_cmd cmd);
void run_settings_free(struct run_settings *s);

/* Only the file: defaults, then `path` (missing_ok as the default path is). For
 * `meshgate check` and tests. 0, 1 (no file), or -1 with e = "PATH:LINE: key: why". */
int run_settings_load_file(struct run_settings *s, const char *path, bool missing_ok, mg_err *e);

/* The same from text in memory (the fuzzer). */
int run_settings_load_text(struct run_settings *s, const char *text, size_t len, const char *path,
			   mg_err *e);

/* The options help text shared by run and down, and run's own (with the file's keys). */
extern const char run_opts_help[];
extern const char run_opts_help_run[];

/* The keys of the settings file, for messages and tests. */
size_t run_opts_keys(const char **out, size_t max);

/* For SIGHUP: each key whose value in the file differs between a and b (and that no
 * flag overrides), and whether the daemon applies it live. */
void run_settings_diff(const struct run_settings *a, const struct run_settings *b,
		       void (*cb)(void *ctx, const char *key, bool live), void *ctx);

#endif
