/* SPDX-License-Identifier: MIT */
#include "cli.h"

#include <string.h>

void cli_scrub_arg(char *arg)
{
	/* /proc/<pid>/cmdline reads our argv memory: overwrite the secret in place */
	size_t n = strlen(arg);
	memset(arg, 'x', n);
}
