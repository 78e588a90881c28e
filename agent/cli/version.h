/* SPDX-License-Identifier: MIT */
#ifndef MG_VERSION_H
#define MG_VERSION_H
const char *mg_version(void);
#endif
