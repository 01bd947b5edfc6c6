/*
 * Small file, path and process helpers shared by the runtime and the
 * monitor. Every function returns 0 or -errno and allocates through the
 * project's hooks.
 */
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "common/alloc.h"
#include "runtime/internal.h"

void rt__err(struct shoal_err *err, const char *fmt, ...)
{
	va_list ap;

	if (!err)
		return;
	va_start(ap, fmt);
	vsnprintf(err->msg, sizeof(err->msg), fmt, ap);
	va_end(ap);
}

char *rt__path(const char *fmt, ...)
{
	va_list ap;
	char *s;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	if (n < 0)
		return NULL;
	s = shoal_malloc((size_t)n + 1);
	if (!s)
		return NULL;
	va_start(ap, fmt);
	vsnprintf(s, (size_t)n + 1, fmt, ap);
	va_end(ap);
	return s;
}

static int rm_one(const char *path, const struct stat *st, int flag,
		  struct FTW *ftw)
{
	if (flag == FTW_DP || flag == FTW_D)
		return rmdir(path) < 0 && errno != ENOENT ? -1 : 0;
	return unlink(path) < 0 && errno != ENOENT ? -1 : 0;
}

int rt__rm_rf(const char *path)
{
	struct stat st;

	if (lstat(path, &st) < 0)
		return errno == ENOENT ? 0 : -errno;
	if (nftw(path, rm_one, 32, FTW_DEPTH | FTW_PHYS | FTW_MOUNT) < 0)
		return -(errno ? errno : EIO);
	return 0;
}

int rt__write_file(const char *path, const void *data, size_t len, mode_t mode)
{
	int fd, rc = 0;
	const char *p = data;

	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
	if (fd < 0)
		return -errno;
	while (len > 0) {
		ssize_t n = write(fd, p, len);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			rc = -errno;
			break;
		}
		p += n;
		len -= (size_t)n;
	}
	if (close(fd) < 0 && rc == 0)
		rc = -errno;
	return rc;
}

int rt__write_atomic(const char *path, const void *data, size_t len)
{
	char tmp[4096];
	int rc;

	if ((size_t)snprintf(tmp, sizeof(tmp), "%s.tmp", path) >= sizeof(tmp))
		return -ENAMETOOLONG;
	rc = rt__write_file(tmp, data, len, 0644);
	if (rc < 0)
		return rc;
	if (rename(tmp, path) < 0) {
		rc = -errno;
		unlink(tmp);
		return rc;
	}
	return 0;
}

int rt__write_str(const char *path, const char *s)
{
	int fd, rc = 0;
	size_t len = strlen(s);

	fd = open(path, O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	if (write(fd, s, len) != (ssize_t)len)
		rc = errno ? -errno : -EIO;
	close(fd);
	return rc;
}

int rt__read_file(const char *path, size_t max, char **out, size_t *len)
{
	int fd, rc;
	size_t cap = 4096, n = 0;
	char *buf;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	buf = shoal_malloc(cap);
	if (!buf) {
		close(fd);
		return -ENOMEM;
	}
	for (;;) {
		ssize_t got;
		if (n + 1 >= cap) {
			char *nb;
			if (cap >= max + 1) {
				rc = -EFBIG;
				goto err_free;
			}
			cap = cap * 2 > max + 1 ? max + 1 : cap * 2;
			nb = shoal_realloc(buf, cap);
			if (!nb) {
				rc = -ENOMEM;
				goto err_free;
			}
			buf = nb;
		}
		got = read(fd, buf + n, cap - n - 1);
		if (got < 0) {
			if (errno == EINTR)
				continue;
			rc = -errno;
			goto err_free;
		}
		if (got == 0)
			break;
		n += (size_t)got;
	}
	close(fd);
	buf[n] = '\0';
	*out = buf;
	if (len)
		*len = n;
	return 0;
err_free:
	shoal_free(buf);
	close(fd);
	return rc;
}

uint64_t rt__proc_start_time(pid_t pid)
{
	return rt__proc_live_start_time(pid, NULL);
}

uint64_t rt__proc_live_start_time(pid_t pid, char *state)
{
	char path[64], buf[1024], *p;
	unsigned long long start = 0;
	ssize_t n;
	int fd;

	if (state)
		*state = '\0';
	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return 0;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return 0;
	buf[n] = '\0';
	/* The command may hold spaces and parentheses: skip to the last ')'. */
	p = strrchr(buf, ')');
	if (!p)
		return 0;
	/* Field 3 (state) follows; starttime is field 22. */
	p++;
	if (state && p[0] == ' ')
		*state = p[1];
	for (int field = 3; field < 22 && p; field++)
		p = strchr(p + 1, ' ');
	if (!p || sscanf(p, " %llu", &start) != 1)
		return 0;
	return start;
}

int rt__pidfd_open_checked(pid_t pid, uint64_t start, int *fd)
{
	int pfd;

	if (pid <= 0)
		return -ESRCH;
	pfd = (int)syscall(SYS_pidfd_open, pid, 0);
	if (pfd < 0)
		return -errno;
	/* Opened first, checked second: a pid reused after the check could
	 * not slip in, since the pidfd pins the process we checked. */
	if (start && rt__proc_start_time(pid) != start) {
		close(pfd);
		return -ESRCH;
	}
	*fd = pfd;
	return 0;
}

size_t rt__strv_len(const char *const *v)
{
	size_t n = 0;

	while (v && v[n])
		n++;
	return n;
}

void rt__strv_free(char **v, size_t n)
{
	if (!v)
		return;
	for (size_t i = 0; i < n; i++)
		shoal_free(v[i]);
	shoal_free(v);
}

char **rt__strv_dup(const char *const *v, size_t *n)
{
	size_t len = rt__strv_len(v);
	char **out = shoal_calloc(len + 1, sizeof(char *));

	if (!out)
		return NULL;
	for (size_t i = 0; i < len; i++) {
		out[i] = shoal_strdup(v[i]);
		if (!out[i]) {
			rt__strv_free(out, i);
			return NULL;
		}
	}
	*n = len;
	return out;
}

int rt__stdio_dup(const int fds[3])
{
	for (int i = 0; i < 3; i++) {
		int rc = fds[i] == i ? fcntl(i, F_SETFD, 0) : dup2(fds[i], i);
		if (rc < 0)
			return -errno;
	}
	return 0;
}

int rt__send_fd(int sock, int fd)
{
	char dummy = 'F';
	struct iovec iov = {.iov_base = &dummy, .iov_len = 1};
	union {
		char buf[CMSG_SPACE(sizeof(int))];
		struct cmsghdr align;
	} u;
	struct msghdr msg = {
		.msg_iov = &iov,
		.msg_iovlen = 1,
		.msg_control = u.buf,
		.msg_controllen = sizeof(u.buf),
	};
	struct cmsghdr *cm;

	memset(&u, 0, sizeof(u));
	cm = CMSG_FIRSTHDR(&msg);
	cm->cmsg_level = SOL_SOCKET;
	cm->cmsg_type = SCM_RIGHTS;
	cm->cmsg_len = CMSG_LEN(sizeof(int));
	memcpy(CMSG_DATA(cm), &fd, sizeof(int));
	if (sendmsg(sock, &msg, MSG_NOSIGNAL) < 0)
		return -errno;
	return 0;
}

ssize_t rt__recv_msg(int sock, char *buf, size_t cap, int *fd)
{
	struct iovec iov = {.iov_base = buf, .iov_len = cap};
	union {
		char b[CMSG_SPACE(sizeof(int))];
		struct cmsghdr align;
	} u;
	struct msghdr msg = {
		.msg_iov = &iov,
		.msg_iovlen = 1,
		.msg_control = u.b,
		.msg_controllen = sizeof(u.b),
	};
	struct cmsghdr *cm;
	ssize_t n;

	*fd = -1;
	do
		n = recvmsg(sock, &msg, MSG_CMSG_CLOEXEC);
	while (n < 0 && errno == EINTR);
	if (n < 0)
		return -errno;
	cm = CMSG_FIRSTHDR(&msg);
	if (cm && cm->cmsg_type == SCM_RIGHTS &&
	    cm->cmsg_len == CMSG_LEN(sizeof(int)))
		memcpy(fd, CMSG_DATA(cm), sizeof(int));
	return n;
}

int rt__wait_sync(int sock, int *fd, struct shoal_err *err)
{
	char buf[sizeof(err->msg) + 1];

	*fd = -1;
	for (;;) {
		int got;
		ssize_t n = rt__recv_msg(sock, buf, sizeof(buf) - 1, &got);
		if (n < 0) {
			rt__err(err, "lost the container's init: %s",
				strerror((int)-n));
			return (int)n;
		}
		if (n == 0)
			return 0;
		if (got >= 0) {
			if (*fd >= 0)
				close(*fd);
			*fd = got;
			continue;
		}
		buf[n] = '\0';
		if (buf[0] == 'E') {
			rt__err(err, "%s", buf + 1);
			return -EINVAL;
		}
	}
}

unsigned long long rt__proc_scan(const char *path, const char *key)
{
	unsigned long long v = 0;
	size_t klen = strlen(key);
	char line[256];
	FILE *f = fopen(path, "re");

	while (f && fgets(line, sizeof(line), f))
		if (strncmp(line, key, klen) == 0) {
			v = strtoull(line + klen, NULL, 10);
			break;
		}
	if (f)
		fclose(f);
	return v;
}
