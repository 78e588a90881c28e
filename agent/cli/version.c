/* SPDX-License-Identifier: MIT */
#include "version.h"
const char *mg_version(void)
{
	return MG_VERSION;
}
