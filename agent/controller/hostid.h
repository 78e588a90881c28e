/* SPDX-License-Identifier: MIT */
/*
 * This host's fingerprint, sent to the controller with every request so that one
 * connector identity copied to a second host (a cloned VM image) is noticed: the
 * controller admits one host per identity. The fingerprint is SHA-256 over the machine
 * id, the boot id and the network namespace's inode (two namespaces on one machine are
 * two hosts), as 32 lowercase hex digits. It never leaves the host in any other form.
 */
#ifndef MG_HOSTID_H
#define MG_HOSTID_H

#include <stddef.h>

#include "err.h"

#define HOSTID_HEX_LEN  32
#define HOSTID_NAME_MAX 64
#define HOSTID_HDR      "Meshgate-Host-Id"
#define HOSTID_NAME_HDR "Meshgate-Host-Name"

struct hostid {
	char id[HOSTID_HEX_LEN + 1];    /* 32 lowercase hex digits */
	char name[HOSTID_NAME_MAX + 1]; /* the host name, printable ASCII, bounded */
};

/* The fingerprint of `parts` (n strings, each may be NULL or ""), as 32 hex digits. */
void hostid_format(const char *const *parts, size_t n, char out[HOSTID_HEX_LEN + 1]);
/* Copy `in` into `out` (size `len`) keeping printable ASCII only (others become '?');
 * an empty result becomes "unknown". */
void hostid_clean_name(const char *in, char *out, size_t len);
/* This host's fingerprint and name; files under `root` ("" for the real ones). Fails
 * only when no part at all could be read. */
int hostid_compute(struct hostid *h, const char *root, mg_err *e);
/* Computed once per process (the first call); NULL if it could not be computed. */
const struct hostid *hostid_self(void);

#endif
