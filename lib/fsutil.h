/* SPDX-License-Identifier: MIT */
/* Files: bounded reads, atomic durable replace, private directories. */
#ifndef MG_FSUTIL_H
#define MG_FSUTIL_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "err.h"

/*
 * Replace `path` atomically and durably with `len` bytes of `data`, file mode `mode`:
 * write a temporary file in the same directory, fsync it, rename it over `path`,
 * fsync the directory. A crash at any point leaves either the old or the new file.
 */
int fs_write_atomic(const char *path, const void *data, size_t len, mode_t mode, mg_err *e);

/*
 * Read a whole file of at most `max` bytes into a NUL-terminated heap buffer.
 * Returns 0, or -1 with errno kept (ENOENT stays visible to the caller) and `e` set.
 */
int fs_read_bounded(const char *path, size_t max, char **out, size_t *out_len, mg_err *e);

/* Create `path` and its parents with `mode` if missing; an existing directory is fine. */
int fs_mkdir_p(const char *path, mode_t mode, mg_err *e);

/* Check we can create files in `dir` (creates and removes a probe file). */
int fs_check_writable_dir(const char *dir, mg_err *e);

bool fs_exists(const char *path);

/* Remove a file; a missing file is success. */
int fs_unlink_if_exists(const char *path, mg_err *e);

#endif
