/*
 * One daemon per pair of roots. exec-root/shoald.pid holds the pid and an
 * open-file-description lock (F_OFD_SETLK) for as long as the daemon
 * lives, and data-root/shoald.lock the same, so a second daemon on either
 * root is refused with the pid of the first. The kernel drops the locks if
 * the daemon dies, so a stale pid file never blocks a restart.
 *
 * The engine id (Docker's "ID" in /info) is a random UUID kept in
 * data-root/engine-id, created on first start.
 */
#define LOG_MODULE "daemon"
#include "common/crypto.h"
#include "common/log.h"
#include "daemon/daemon.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static int lock_fd(int fd)
{
	struct flock fl = {
		.l_type = F_WRLCK,
		.l_whence = SEEK_SET,
	};
	return fcntl(fd, F_OFD_SETLK, &fl) < 0 ? -errno : 0;
}

static long read_pid(int fd)
{
	char buf[32];
	ssize_t n = pread(fd, buf, sizeof(buf) - 1, 0);
	if (n <= 0)
		return 0;
	buf[n] = '\0';
	return strtol(buf, NULL, 10);
}

static int write_pid(int fd)
{
	char buf[32];
	int n = snprintf(buf, sizeof(buf), "%ld\n", (long)getpid());
	if (ftruncate(fd, 0) < 0 || pwrite(fd, buf, (size_t)n, 0) != n)
		return -errno;
	return 0;
}

/* Open and lock @path; on contention log who holds it and -EBUSY. */
static int take(const char *path, const char *what, const char *root)
{
	int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0644);
	if (fd < 0) {
		int rc = -errno;
		log_error("cannot open %s: %s", path, strerror(-rc));
		return rc;
	}
	int rc = lock_fd(fd);
	if (rc == -EAGAIN || rc == -EACCES) {
		long pid = read_pid(fd);
		log_error("another shoald (pid %ld) is running with %s %s; "
			  "stop it first or give other roots",
			  pid, what, root);
		close(fd);
		return -EBUSY;
	}
	if (rc < 0) {
		log_error("cannot lock %s: %s", path, strerror(-rc));
		close(fd);
		return rc;
	}
	rc = write_pid(fd);
	if (rc < 0) {
		log_error("cannot write %s: %s", path, strerror(-rc));
		close(fd);
		return rc;
	}
	return fd;
}

int daemon__lock_roots(struct daemon *d)
{
	char path[DAEMON_PATH_MAX + 16];
	snprintf(path, sizeof(path), "%s/shoald.lock", d->cfg.data_root);
	int fd = take(path, "data-root", d->cfg.data_root);
	if (fd < 0)
		return fd;
	d->lock_fd = fd;
	snprintf(d->pid_path, sizeof(d->pid_path), "%s/shoald.pid",
		 d->cfg.exec_root);
	fd = take(d->pid_path, "exec-root", d->cfg.exec_root);
	if (fd < 0) {
		close(d->lock_fd);
		d->lock_fd = -1;
		d->pid_path[0] = '\0';
		return fd;
	}
	d->pid_fd = fd;
	return 0;
}

void daemon__unlock_roots(struct daemon *d)
{
	if (d->pid_fd >= 0) {
		unlink(d->pid_path); /* while still holding the lock */
		close(d->pid_fd);
		d->pid_fd = -1;
	}
	if (d->lock_fd >= 0) {
		char path[DAEMON_PATH_MAX + 16];
		snprintf(path, sizeof(path), "%s/shoald.lock",
			 d->cfg.data_root);
		unlink(path);
		close(d->lock_fd);
		d->lock_fd = -1;
	}
}

static bool valid_id(const char *s)
{
	size_t n = strlen(s);
	if (n != 36)
		return false;
	for (size_t i = 0; i < n; i++) {
		bool dash = i == 8 || i == 13 || i == 18 || i == 23;
		if (dash ? s[i] != '-' : !strchr("0123456789abcdef", s[i]))
			return false;
	}
	return true;
}

/* Write the id to @path.tmp, sync, rename: never a torn id file. */
static int write_id(struct daemon *d, const char *path)
{
	char tmp[DAEMON_PATH_MAX + 32];
	char line[64];
	bool ok;
	int n = snprintf(line, sizeof(line), "%s\n", d->engine_id);
	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0)
		goto err_log;
	ok = write(fd, line, (size_t)n) == n && fsync(fd) == 0;
	close(fd);
	if (!ok || rename(tmp, path) < 0)
		goto err_unlink;
	return 0;
err_unlink:
	unlink(tmp);
err_log:
	log_error("cannot write %s: %s", path, strerror(errno));
	return -errno;
}

int daemon__engine_id(struct daemon *d)
{
	char path[DAEMON_PATH_MAX + 16];
	snprintf(path, sizeof(path), "%s/engine-id", d->cfg.data_root);
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd >= 0) {
		ssize_t n = read(fd, d->engine_id, sizeof(d->engine_id) - 1);
		close(fd);
		d->engine_id[n > 0 ? n : 0] = '\0';
		d->engine_id[strcspn(d->engine_id, "\n")] = '\0';
		if (valid_id(d->engine_id))
			return 0;
		log_warn("%s is corrupt; making a new engine id", path);
	}
	uint8_t r[16];
	shoal_random(r, sizeof(r));
	r[6] = (r[6] & 0x0f) | 0x40; /* version 4 */
	r[8] = (r[8] & 0x3f) | 0x80; /* RFC 4122 variant */
	char hex[33];
	shoal_hex(r, sizeof(r), hex);
	snprintf(d->engine_id, sizeof(d->engine_id),
		 "%.8s-%.4s-%.4s-%.4s-%.12s", hex, hex + 8, hex + 12, hex + 16,
		 hex + 20);
	return write_id(d, path);
}
