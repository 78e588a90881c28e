/* SPDX-License-Identifier: MIT */
#include "fsutil.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static int fsync_dir_of(const char *path, mg_err *e)
{
	char copy[PATH_MAX];
	int fd;

	if (snprintf(copy, sizeof(copy), "%s", path) >= (int)sizeof(copy))
		return mg_err_set(e, "%s: path too long", path);
	fd = open(dirname(copy), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return mg_err_set(e, "open directory of %s: %s", path, strerror(errno));
	if (fsync(fd) < 0) {
		int err = errno;
		close(fd);
		return mg_err_set(e, "fsync directory of %s: %s", path, strerror(err));
	}
	close(fd);
	return 0;
}

int fs_write_atomic(const char *path, const void *data, size_t len, mode_t mode, mg_err *e)
{
	char tmp[PATH_MAX];
	const char *p = data;
	int fd, err;

	if (snprintf(tmp, sizeof(tmp), "%s.tmp.%d", path, (int)getpid()) >= (int)sizeof(tmp))
		return mg_err_set(e, "%s: path too long", path);
	(void)unlink(tmp); /* a leftover from a crashed writer with a recycled pid */
	fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, mode);
	if (fd < 0)
		return mg_err_set(e, "create %s: %s", tmp, strerror(errno));
	if (fchmod(fd, mode) < 0) /* umask must not widen or narrow what we asked */
		goto fail;
	while (len > 0) {
		ssize_t n = write(fd, p, len);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			goto fail;
		}
		p += n;
		len -= (size_t)n;
	}
	if (fsync(fd) < 0)
		goto fail;
	if (close(fd) < 0) {
		fd = -1;
		goto fail;
	}
	fd = -1;
	if (rename(tmp, path) < 0)
		goto fail;
	return fsync_dir_of(path, e);
fail:
	err = errno;
	if (fd >= 0)
		close(fd);
	unlink(tmp);
	return mg_err_set(e, "write %s: %s", path, strerror(err));
}

/* The pid of "<base>.tmp.<digits>", or 0 when `name` is not one. */
static pid_t stale_temp_pid(const char *name, const char *base)
{
	size_t bl = strlen(base);
	const char *d;
	long long pid = 0;

	if (strncmp(name, base, bl) || strncmp(name + bl, ".tmp.", 5))
		return 0;
	d = name + bl + 5;
	if (!*d || strlen(d) > 10 || *d == '0')
		return 0;
	for (; *d; d++) {
		if (*d < '0' || *d > '9')
			return 0;
		pid = pid * 10 + (*d - '0');
	}
	return pid > 0 && pid <= INT_MAX ? (pid_t)pid : 0;
}

int fs_clean_stale_temps(const char *path, unsigned *removed, mg_err *e)
{
	char dcopy[PATH_MAX], bcopy[PATH_MAX];
	const char *base;
	struct dirent *de;
	unsigned n = 0;
	int rc = 0;
	DIR *d;

	if (removed)
		*removed = 0;
	if (snprintf(dcopy, sizeof(dcopy), "%s", path) >= (int)sizeof(dcopy) ||
	    snprintf(bcopy, sizeof(bcopy), "%s", path) >= (int)sizeof(bcopy))
		return mg_err_set(e, "%s: path too long", path);
	base = basename(bcopy);
	d = opendir(dirname(dcopy));
	if (!d)
		return mg_err_set(e, "open directory of %s: %s", path, strerror(errno));
	for (errno = 0; (de = readdir(d)); errno = 0) {
		pid_t pid = stale_temp_pid(de->d_name, base);
		struct stat st;

		if (!pid || (kill(pid, 0) == 0 || errno != ESRCH))
			continue; /* not ours, or its writer lives (EPERM: alive too) */
		if (fstatat(dirfd(d), de->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0 ||
		    !S_ISREG(st.st_mode))
			continue;
		if (unlinkat(dirfd(d), de->d_name, 0) < 0) {
			if (errno == ENOENT)
				continue;
			rc = mg_err_set(e, "remove stale %s in the directory of %s: %s", de->d_name,
					path, strerror(errno));
			break;
		}
		n++;
	}
	if (!de && errno && !rc)
		rc = mg_err_set(e, "read directory of %s: %s", path, strerror(errno));
	closedir(d);
	if (removed)
		*removed = n;
	return rc;
}

int fs_read_bounded(const char *path, size_t max, char **out, size_t *out_len, mg_err *e)
{
	struct stat st;
	char *buf = NULL;
	size_t used = 0;
	int fd, err;

	*out = NULL;
	if (out_len)
		*out_len = 0;
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		err = errno;
		mg_err_set(e, "open %s: %s", path, strerror(err));
		errno = err;
		return -1;
	}
	if (fstat(fd, &st) < 0)
		goto fail;
	if (S_ISREG(st.st_mode) && (size_t)st.st_size > max) {
		close(fd);
		errno = EFBIG;
		return mg_err_set(e, "%s: %lld bytes, more than the %zu allowed", path,
				  (long long)st.st_size, max);
	}
	buf = malloc(max + 1);
	if (!buf)
		goto fail;
	for (;;) {
		ssize_t n = read(fd, buf + used, max + 1 - used);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			goto fail;
		}
		if (n == 0)
			break;
		used += (size_t)n;
		if (used > max) {
			free(buf);
			close(fd);
			errno = EFBIG;
			return mg_err_set(e, "%s: more than the %zu bytes allowed", path, max);
		}
	}
	close(fd);
	buf[used] = '\0';
	*out = buf;
	if (out_len)
		*out_len = used;
	return 0;
fail:
	err = errno;
	free(buf);
	close(fd);
	mg_err_set(e, "read %s: %s", path, strerror(err));
	errno = err;
	return -1;
}

int fs_mkdir_p(const char *path, mode_t mode, mg_err *e)
{
	char buf[PATH_MAX];
	size_t len;

	if (snprintf(buf, sizeof(buf), "%s", path) >= (int)sizeof(buf))
		return mg_err_set(e, "%s: path too long", path);
	len = strlen(buf);
	for (size_t i = 1; i <= len; i++) {
		if (buf[i] != '/' && buf[i] != '\0')
			continue;
		char c = buf[i];
		buf[i] = '\0';
		if (mkdir(buf, mode) < 0 && errno != EEXIST)
			return mg_err_set(e, "create directory %s: %s", buf, strerror(errno));
		buf[i] = c;
	}
	struct stat st;
	if (stat(path, &st) < 0)
		return mg_err_set(e, "%s: %s", path, strerror(errno));
	if (!S_ISDIR(st.st_mode))
		return mg_err_set(e, "%s exists and is not a directory", path);
	return 0;
}

int fs_check_writable_dir(const char *dir, mg_err *e)
{
	char probe[PATH_MAX];
	int fd;

	if (snprintf(probe, sizeof(probe), "%s/.write-probe.%d", dir, (int)getpid()) >=
	    (int)sizeof(probe))
		return mg_err_set(e, "%s: path too long", dir);
	fd = open(probe, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (fd < 0)
		return mg_err_set(e, "state directory %s is not writable: %s", dir,
				  strerror(errno));
	close(fd);
	unlink(probe);
	return 0;
}

bool fs_exists(const char *path)
{
	return access(path, F_OK) == 0;
}

int fs_unlink_if_exists(const char *path, mg_err *e)
{
	if (unlink(path) < 0 && errno != ENOENT)
		return mg_err_set(e, "remove %s: %s", path, strerror(errno));
	return 0;
}
