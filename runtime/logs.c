/*
 * The json-file log, in Docker's format: one JSON object per line,
 *   {"log":"text\n","stream":"stdout","time":"2026-11-27T22:10:00.123456789Z"}
 * written by the monitor with one write(2) per record on an O_APPEND fd, so
 * a reader never sees half a record (records are below PIPE_BUF only in
 * practice; the reader skips a torn last line until it is complete).
 *
 * The writer (log_write.c, log_rotate.c, linked into the monitor) escapes
 * by hand; this reader parses each record with jansson and serves tail,
 * since, stream filters and follow. It spans the rotated files
 * (<log>.<n>[.gz], oldest first, gzip read through zlib) before the live
 * one, and follows the live file across a rotation: at its end it checks
 * whether the path now names a new file (or the file was truncated) and
 * goes on from that file's start.
 */
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <stdio.h>
#include <string.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <zlib.h>

#include "common/alloc.h"
#include "common/clock.h"
#include "common/error.h"
#include "runtime/internal.h"

#define RECORD_MAX (16384 * 6 + 256)

/* ------------------------------------------------------------ reader */

#define ROTATED_MAX 64 /* files a reader spans at most */

struct rt_log_reader {
	struct rt *rt;
	char id[RT_ID_LEN + 1];
	struct rt_log_options opt;
	char *path; /* the live file */
	int fd;	    /* the live file (or /dev/null while it is missing) */
	int ino;
	/* Rotated files, oldest first, opened at rt_log_open() so that a
	 * rotation meanwhile renames nothing under us; read through zlib,
	 * which reads plain files as they are. */
	int rot[ROTATED_MAX];
	size_t n_rot;
	size_t cur; /* the rotated file being read; n_rot: the live one */
	gzFile gz;
	int64_t skip; /* records to pass over first (tail) */
	char *buf;    /* unread bytes */
	size_t len, cap;
	char *line; /* the current entry's text (owned) */
	off_t pos;  /* in the live file */
};

static int parse_ns(const char *s, int64_t *out)
{
	struct tm tm;
	const char *p;
	long frac = 0;
	int digits = 0;

	memset(&tm, 0, sizeof(tm));
	p = strptime(s, "%Y-%m-%dT%H:%M:%S", &tm);
	if (!p)
		return -EINVAL;
	if (*p == '.')
		for (p++; *p >= '0' && *p <= '9'; p++, digits++)
			if (digits < 9)
				frac = frac * 10 + (*p - '0');
	while (digits++ < 9)
		frac *= 10;
	*out = (int64_t)timegm(&tm) * NSEC_PER_SEC + frac;
	return 0;
}

static int grow(struct rt_log_reader *r)
{
	if (r->cap - r->len < 65536) {
		char *nb = shoal_realloc(r->buf, r->cap + 65536);
		if (!nb)
			return -ENOMEM;
		r->buf = nb;
		r->cap += 65536;
	}
	return 0;
}

/* The next bytes of the rotated file r->cur: >0, or 0 at its end (the
 * reader then moves to the next file). */
static int fill_rotated(struct rt_log_reader *r)
{
	int n, fd;

	if (!r->gz) {
		fd = fcntl(r->rot[r->cur], F_DUPFD_CLOEXEC, 3);
		if (fd < 0)
			return -errno;
		r->gz = gzdopen(fd, "rb");
		if (!r->gz) {
			close(fd);
			return -ENOMEM;
		}
	}
	n = gzread(r->gz, r->buf + r->len, (unsigned)(r->cap - r->len - 1));
	if (n > 0) {
		r->len += (size_t)n;
		return n;
	}
	/* End (or a damaged gzip tail: what was read is kept). */
	gzclose(r->gz);
	r->gz = NULL;
	r->cur++;
	return 0;
}

/* The live file was rotated (renamed, a new one made) or truncated
 * since we opened it: move to the new one. True when we did. */
static bool live_moved(struct rt_log_reader *r)
{
	struct stat now, ours;
	int fd;

	if (fstat(r->fd, &ours) < 0)
		return false;
	if (ours.st_size < r->pos) { /* truncated (max-file 1) */
		r->pos = 0;
		return true;
	}
	if (stat(r->path, &now) < 0 ||
	    (now.st_ino == ours.st_ino && now.st_dev == ours.st_dev))
		return false;
	fd = open(r->path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return false;
	close(r->fd);
	r->fd = fd;
	r->pos = 0;
	if (r->ino >= 0)
		inotify_add_watch(r->ino, r->path, IN_MODIFY | IN_MOVE_SELF);
	return true;
}

static int fill(struct rt_log_reader *r)
{
	ssize_t n;
	int rc = grow(r);

	if (rc < 0)
		return rc;
	while (r->cur < r->n_rot)
		if ((rc = fill_rotated(r)) != 0)
			return rc < 0 ? rc : 1;
	n = pread(r->fd, r->buf + r->len, r->cap - r->len - 1, r->pos);
	if (n < 0)
		return -errno;
	if (n == 0 && live_moved(r))
		return 1;
	r->pos += n;
	r->len += (size_t)n;
	return (int)(n > 0);
}

/* Position at the start of the last @want records of the live file;
 * the records it holds when fewer (then from its start). */
static int64_t seek_tail(struct rt_log_reader *r, int64_t want)
{
	off_t end = lseek(r->fd, 0, SEEK_END), p = end;
	int64_t lines = 0;
	char chunk[4096];

	if (want == 0) {
		r->pos = end;
		return 0;
	}
	while (p > 0) {
		size_t n = p > (off_t)sizeof(chunk) ? sizeof(chunk) : (size_t)p;
		p -= (off_t)n;
		if (pread(r->fd, chunk, n, p) != (ssize_t)n)
			return -EIO;
		for (size_t i = n; i-- > 0;)
			if (chunk[i] == '\n' && p + (off_t)i != end - 1 &&
			    ++lines == want) {
				r->pos = p + (off_t)i + 1;
				return want;
			}
	}
	r->pos = 0;
	return end > 0 ? lines + 1 : 0;
}

/* Records in a rotated file (gzip or plain). */
static int64_t count_records(int fd)
{
	char buf[65536];
	int64_t lines = 0;
	int n, dfd = fcntl(fd, F_DUPFD_CLOEXEC, 3);
	gzFile gz;

	if (dfd < 0)
		return 0;
	gz = gzdopen(dfd, "rb");
	if (!gz) {
		close(dfd);
		return 0;
	}
	while ((n = gzread(gz, buf, sizeof(buf))) > 0)
		for (int i = 0; i < n; i++)
			lines += buf[i] == '\n';
	gzclose(gz);
	lseek(fd, 0, SEEK_SET);
	return lines;
}

/* <path>.<max_file-1> ... <path>.1, each plain or gzipped. */
static void open_rotated(struct rt_log_reader *r, int max_file)
{
	char name[4200];

	for (int i = max_file - 1; i >= 1 && r->n_rot < ROTATED_MAX; i--)
		for (int gz = 1; gz >= 0; gz--) {
			int fd;
			snprintf(name, sizeof(name), "%s.%d%s", r->path, i,
				 gz ? ".gz" : "");
			fd = open(name, O_RDONLY | O_CLOEXEC);
			if (fd >= 0) {
				r->rot[r->n_rot++] = fd;
				break;
			}
		}
}

/* --tail across files: the live one first, then older ones. */
static int place_tail(struct rt_log_reader *r)
{
	int64_t need = r->opt.tail, got = seek_tail(r, need);

	if (got < 0)
		return (int)got;
	r->cur = r->n_rot;
	if (got >= need)
		return 0;
	need -= got;
	while (r->cur > 0) {
		int64_t n = count_records(r->rot[r->cur - 1]);
		r->cur--;
		if (n >= need) {
			r->skip = n - need;
			return 0;
		}
		need -= n;
	}
	return 0;
}

int rt__log_open_path(struct rt *rt, const char *id, const char *path,
		      int max_file, const struct rt_log_options *opt,
		      struct rt_log_reader **out)
{
	struct rt_log_reader *r = shoal_calloc(1, sizeof(*r));
	int rc;

	if (!r)
		return -ENOMEM;
	r->rt = rt;
	snprintf(r->id, sizeof(r->id), "%s", id);
	r->opt = *opt;
	r->ino = -1;
	r->fd = -1;
	r->path = shoal_strdup(path);
	if (!r->path) {
		rc = -ENOMEM;
		goto err_free;
	}
	open_rotated(r, max_file);
	r->fd = open(path, O_RDONLY | O_CLOEXEC);
	if (r->fd < 0 && errno == ENOENT)
		r->fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
	if (r->fd < 0) {
		rc = -errno;
		goto err_free;
	}
	if (opt->tail >= 0 && (rc = place_tail(r)) < 0)
		goto err_free;
	r->ino = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
	if (r->ino >= 0)
		inotify_add_watch(r->ino, path, IN_MODIFY | IN_MOVE_SELF);
	*out = r;
	return 0;
err_free:
	rt_log_close(r);
	return rc;
}

int rt_log_fd(struct rt_log_reader *r)
{
	return r->ino;
}

int rt_log_next(struct rt_log_reader *r, struct rt_log_entry *e)
{
	char ev[4096];

	/* Drain the growth notifications: the caller polls for new ones. */
	while (r->ino >= 0 && read(r->ino, ev, sizeof(ev)) > 0)
		;
	for (;;) {
		char *nl = memchr(r->buf ? r->buf : "", '\n', r->len);
		json_t *o;
		const char *stream, *log, *time;
		size_t used;
		int rc;

		if (!nl || !r->buf) {
			bool running = rt__container_running(r->rt, r->id);
			rc = fill(r);
			if (rc < 0)
				return rc;
			if (rc > 0)
				continue;
			return running ? -EAGAIN : SHOAL_ECLOSED;
		}
		used = (size_t)(nl - r->buf) + 1;
		if (r->skip > 0) {
			r->skip--;
			memmove(r->buf, r->buf + used, r->len - used);
			r->len -= used;
			continue;
		}
		o = json_loadb(r->buf, used,
			       JSON_DISABLE_EOF_CHECK | JSON_ALLOW_NUL, NULL);
		memmove(r->buf, r->buf + used, r->len - used);
		r->len -= used;
		stream = json_string_value(json_object_get(o, "stream"));
		log = json_string_value(json_object_get(o, "log"));
		time = json_string_value(json_object_get(o, "time"));
		if (!stream || !log || !time ||
		    parse_ns(time, &e->time_ns) < 0) {
			json_decref(o);
			continue; /* a damaged record: skip, as docker */
		}
		e->stream = !strcmp(stream, "stderr") ? 2 : 1;
		if ((e->stream == 1 && !r->opt.stdout_on) ||
		    (e->stream == 2 && !r->opt.stderr_on) ||
		    e->time_ns < r->opt.since_ns) {
			json_decref(o);
			continue;
		}
		shoal_free(r->line);
		e->len = json_string_length(json_object_get(o, "log"));
		r->line = shoal_memdup(log, e->len + 1);
		json_decref(o);
		if (!r->line)
			return -ENOMEM;
		e->line = r->line;
		return 0;
	}
}

void rt_log_close(struct rt_log_reader *r)
{
	if (!r)
		return;
	if (r->fd >= 0)
		close(r->fd);
	if (r->gz)
		gzclose(r->gz);
	for (size_t i = 0; i < r->n_rot; i++)
		close(r->rot[i]);
	shoal_free(r->path);
	if (r->ino >= 0)
		close(r->ino);
	shoal_free(r->buf);
	shoal_free(r->line);
	shoal_free(r);
}
