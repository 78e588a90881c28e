/* SPDX-License-Identifier: MIT */
/*
 * The userspace WireGuard backend (the UAPI text protocol of wireguard-go on
 * <sock_dir>/<ifname>.sock): its ops, and its text writer and reader (exposed for the
 * unit tests and the fuzzer).
 */
#ifndef MG_WG_UAPI_H
#define MG_WG_UAPI_H

#include "wg_backend.h"

extern const struct wg_backend_ops wg_uapi_ops;

/* UAPI "set=1" request text (ends with an empty line). *out is malloc'ed; wipe+free it
 * with wg_text_free. */
int wg_uapi_set_text(const struct wg_device *dev, char **out, size_t *len, mg_err *e);
void wg_text_free(char *text, size_t len);
/* Parse a "get=1" reply (device keys, peer blocks, errno=N, empty line). */
int wg_uapi_parse_get(const char *text, size_t len, struct wg_device *dev, mg_err *e);

#endif
