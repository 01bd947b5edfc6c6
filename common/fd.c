/*
 * Closing and marking descriptors in bulk: see fd.h.
 *
 * The fast path is one close_range(2) per gap between kept descriptors.
 * When the kernel or a seccomp filter refuses it, the slow path lists
 * /proc/self/fd (skipping the listing's own descriptor) and acts on each
 * entry; closing entries while listing is safe, the kernel walks the
 * table by number. Without /proc (a container's init before it mounts
 * one, say) it tries every number below the hard descriptor limit.
 */
#include "common/fd.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <unistd.h>

/* Past this, the brute-force fallback stops: a limit of millions would
 * make it take seconds, and no Shoal process opens that many. */
#define FD_SCAN_MAX (1 << 20)

static bool kept(int fd, const int *keep, size_t n_keep)
{
	for (size_t i = 0; i < n_keep; i++)
		if (keep[i] == fd)
			return true;
	return false;
}

/* The smallest kept descriptor at or above @from, or -1. */
static int next_kept(int from, const int *keep, size_t n_keep)
{
	int best = -1;

	for (size_t i = 0; i < n_keep; i++)
		if (keep[i] >= from && (best < 0 || keep[i] < best))
			best = keep[i];
	return best;
}

static int act(int fd, bool cloexec)
{
	int flags;

	if (!cloexec) {
		/* Linux frees the number even when close() says EINTR. */
		if (close(fd) < 0 && errno != EINTR && errno != EBADF)
			return -errno;
		return 0;
	}
	flags = fcntl(fd, F_GETFD);
	if (flags < 0)
		return errno == EBADF ? 0 : -errno;
	if (!(flags & FD_CLOEXEC) && fcntl(fd, F_SETFD, flags | FD_CLOEXEC) < 0)
		return -errno;
	return 0;
}

static int scan_limit(void)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) < 0 || rl.rlim_max == RLIM_INFINITY ||
	    rl.rlim_max > FD_SCAN_MAX)
		return FD_SCAN_MAX;
	return (int)rl.rlim_max;
}

/* The slow path: every open descriptor >= @first but the kept ones. */
static int walk(int first, const int *keep, size_t n_keep, bool cloexec)
{
	DIR *d = opendir("/proc/self/fd");
	struct dirent *e;
	int rc = 0, self;

	if (!d) {
		int limit = scan_limit();
		for (int fd = first; fd < limit; fd++)
			if (!kept(fd, keep, n_keep)) {
				int r = act(fd, cloexec);
				if (r < 0 && rc == 0)
					rc = r;
			}
		return rc;
	}
	self = dirfd(d);
	while ((e = readdir(d))) {
		char *end;
		long fd = strtol(e->d_name, &end, 10);
		if (*end || end == e->d_name || fd < first || fd == self ||
		    fd > FD_SCAN_MAX || kept((int)fd, keep, n_keep))
			continue;
		int r = act((int)fd, cloexec);
		if (r < 0 && rc == 0)
			rc = r;
	}
	closedir(d);
	return rc;
}

static int in_bulk(int first, const int *keep, size_t n_keep, bool cloexec)
{
	unsigned flags = cloexec ? CLOSE_RANGE_CLOEXEC : 0;
	int from = first;

	if (first < 0)
		return -EINVAL;
	for (;;) {
		int k = next_kept(from, keep, n_keep);
		unsigned last = k < 0 ? ~0U : (unsigned)k - 1;
		if ((k < 0 || k > from) &&
		    close_range((unsigned)from, last, flags) < 0)
			return walk(first, keep, n_keep, cloexec);
		if (k < 0)
			return 0;
		from = k + 1;
	}
}

int fd_close_from(int first, const int *keep, size_t n_keep)
{
	return in_bulk(first, keep, n_keep, false);
}

int fd_cloexec_from(int first)
{
	return in_bulk(first, NULL, 0, true);
}

int fd_write_all(int fd, const void *data, size_t len)
{
	const char *p = data;
	while (len) {
		ssize_t w = write(fd, p, len);
		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0)
			return -errno;
		if (w == 0)
			return -EIO;
		p += w;
		len -= (size_t)w;
	}
	return 0;
}
