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
 * Remove the temporaries fs_write_atomic left for `path` when its writer died mid-write
 * (kill -9, power loss): files in the same directory named exactly "<name>.tmp.<pid>"
 * (decimal digits only) whose pid is not a live process. A live pid (a writer at work,
 * or a recycled pid) keeps its file; fs_write_atomic removes a leftover of its own pid
 * before writing. Only regular files are removed, symbolic links are not followed.
 * Chosen over "remove them all under a lock" because the writers here hold no lock
 * on their files. A writer in another pid namespace sharing the directory would look
 * dead: its write then fails at the rename and says so, nothing is corrupted.
 * `*removed` (may be NULL) counts what was removed. Returns 0, or -1 with `e` set when
 * the directory cannot be read or a file cannot be removed.
 */
int fs_clean_stale_temps(const char *path, unsigned *removed, mg_err *e);

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
