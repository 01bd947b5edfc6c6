/*
 * The container log as the monitor writes it: a driver, a size bound and
 * rotation (docker run --log-driver, --log-opt max-size/max-file/compress).
 *
 *   json-file  <id>-json.log, Docker's records (log_write.c); unbounded
 *              unless max-size is given; max-file defaults to 1.
 *   local      <id>-local.log, the same records (Shoal's choice of format
 *              for this driver: docs/runtime.md) with Docker's local
 *              defaults: max-size 20 MiB, max-file 5, compress on.
 *   none       nothing is written; reading answers Docker's error.
 *
 * Rotation follows Docker's json-file (daemon/logger/loggerutils): before
 * a record would take the live file past max-size, with max-file 1 the
 * file is truncated; otherwise <log>.<n-2> moves to <log>.<n-1> and so on,
 * the live file becomes <log>.1 and a new live file starts, so at most
 * max-file files exist. With compress the rotated file is gzipped to
 * <log>.1.gz (zlib, fastest level) and the plain copy removed; Docker
 * compresses in the background, the monitor does it in line (a 20 MiB file
 * takes a fraction of a second, meanwhile the container's output waits in
 * its pipe). A failure to rotate is logged to monitor.log and the live
 * file kept, so no output is lost; the next record tries again.
 *
 * Readers (logs.c) hold their files open: a rename does not disturb them,
 * and they move on to the new live file when they reach the end of the
 * old one.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include "common/alloc.h"
#include "runtime/internal.h"

char *rt__log_path(const struct rt__config *c)
{
	bool local = c->log_driver && !strcmp(c->log_driver, "local");

	return rt__path("%s/%s-%s.log", c->dir, c->id,
			local ? "local" : "json");
}

int rt__logw_open(struct rt__log_writer *w, const struct rt__config *c)
{
	struct stat st;

	memset(w, 0, sizeof(*w));
	w->fd = -1;
	if (c->log_driver && !strcmp(c->log_driver, "none"))
		return 0;
	w->path = rt__log_path(c);
	if (!w->path)
		return -ENOMEM;
	w->max_size = c->log_max_size;
	w->max_file = c->log_max_file > 0 ? c->log_max_file : 1;
	w->compress = c->log_compress;
	w->fd = open(w->path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0640);
	if (w->fd < 0) {
		int rc = -errno;
		shoal_free(w->path);
		w->path = NULL;
		return rc;
	}
	w->size = fstat(w->fd, &st) == 0 ? st.st_size : 0;
	return 0;
}

void rt__logw_close(struct rt__log_writer *w)
{
	if (w->fd >= 0)
		close(w->fd);
	w->fd = -1;
	shoal_free(w->path);
	w->path = NULL;
}

/* gzip @src into @dst (through @dst.tmp), then remove @src. */
static int gzip_file(const char *src, const char *dst)
{
	char tmp[4200], buf[65536];
	int in = open(src, O_RDONLY | O_CLOEXEC), rc = 0;
	gzFile gz;
	ssize_t n;

	if (in < 0)
		return -errno;
	snprintf(tmp, sizeof(tmp), "%s.tmp", dst);
	gz = gzopen(tmp, "wb1e");
	if (!gz) {
		close(in);
		return -EIO;
	}
	while ((n = read(in, buf, sizeof(buf))) > 0)
		if (gzwrite(gz, buf, (unsigned)n) != (int)n) {
			rc = -EIO;
			break;
		}
	if (n < 0)
		rc = -errno;
	close(in);
	if (gzclose(gz) != Z_OK && rc == 0)
		rc = -EIO;
	if (rc == 0 && rename(tmp, dst) < 0)
		rc = -errno;
	if (rc < 0) {
		unlink(tmp);
		return rc;
	}
	unlink(src);
	return 0;
}

/* <path>.<i>, with ".gz" when @gz. */
static void rotated_name(char *out, size_t cap, const char *path, int i,
			 bool gz)
{
	snprintf(out, cap, "%s.%d%s", path, i, gz ? ".gz" : "");
}

static int rotate(struct rt__log_writer *w)
{
	char from[4096], to[4096];
	int fd;

	if (w->max_file < 2) {
		if (ftruncate(w->fd, 0) < 0)
			return -errno;
		w->size = 0;
		return 0;
	}
	/* Drop the oldest, shift the others up by one. */
	for (int gz = 0; gz < 2; gz++) {
		rotated_name(from, sizeof(from), w->path, w->max_file - 1, gz);
		unlink(from);
	}
	for (int i = w->max_file - 2; i >= 1; i--)
		for (int gz = 0; gz < 2; gz++) {
			rotated_name(from, sizeof(from), w->path, i, gz);
			rotated_name(to, sizeof(to), w->path, i + 1, gz);
			if (rename(from, to) < 0 && errno != ENOENT)
				return -errno;
		}
	rotated_name(to, sizeof(to), w->path, 1, false);
	if (rename(w->path, to) < 0)
		return -errno;
	fd = open(w->path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0640);
	if (fd < 0)
		return -errno;
	close(w->fd);
	w->fd = fd;
	w->size = 0;
	if (w->compress) {
		rotated_name(from, sizeof(from), w->path, 1, false);
		rotated_name(to, sizeof(to), w->path, 1, true);
		int rc = gzip_file(from, to);
		if (rc < 0)
			fprintf(stderr, "cannot compress %s: %s\n", from,
				strerror(-rc));
	}
	return 0;
}

int rt__logw_append(struct rt__log_writer *w, int stream, const char *data,
		    size_t len, int64_t ns)
{
	char *rec;
	size_t n;
	ssize_t wr;
	int rc;

	if (w->fd < 0)
		return 0; /* the "none" driver */
	rc = rt__log_format(stream, data, len, ns, &rec, &n);
	if (rc < 0)
		return rc;
	if (w->max_size > 0 && w->size > 0 &&
	    w->size + (int64_t)n > w->max_size) {
		rc = rotate(w);
		if (rc < 0)
			fprintf(stderr, "cannot rotate %s: %s\n", w->path,
				strerror(-rc));
	}
	wr = write(w->fd, rec, n);
	shoal_free(rec);
	if (wr != (ssize_t)n)
		return -EIO;
	w->size += (int64_t)n;
	return 0;
}
