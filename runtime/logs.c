/*
 * The json-file log, in Docker's format: one JSON object per line,
 *   {"log":"text\n","stream":"stdout","time":"2026-11-27T22:10:00.123456789Z"}
 * written by the monitor with one write(2) per record on an O_APPEND fd, so
 * a reader never sees half a record (records are below PIPE_BUF only in
 * practice; the reader skips a torn last line until it is complete).
 *
 * The writer (log_write.c, linked into the monitor) escapes by hand;
 * this reader parses each record with jansson and serves tail, since,
 * stream filters and follow.
 */
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <stdio.h>
#include <string.h>
#include <sys/inotify.h>
#include <time.h>
#include <unistd.h>

#include "common/alloc.h"
#include "common/clock.h"
#include "common/error.h"
#include "runtime/internal.h"

#define RECORD_MAX (16384 * 6 + 256)

/* ------------------------------------------------------------ reader */

struct rt_log_reader {
	struct rt *rt;
	char id[RT_ID_LEN + 1];
	struct rt_log_options opt;
	int fd;
	int ino;
	char *buf; /* unread bytes of the file */
	size_t len, cap;
	char *line; /* the current entry's text (owned) */
	off_t pos;
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

static int fill(struct rt_log_reader *r)
{
	ssize_t n;

	if (r->cap - r->len < 65536) {
		char *nb = shoal_realloc(r->buf, r->cap + 65536);
		if (!nb)
			return -ENOMEM;
		r->buf = nb;
		r->cap += 65536;
	}
	n = pread(r->fd, r->buf + r->len, r->cap - r->len - 1, r->pos);
	if (n < 0)
		return -errno;
	r->pos += n;
	r->len += (size_t)n;
	return (int)(n > 0);
}

/* Position at the start of the last @tail records. */
static int seek_tail(struct rt_log_reader *r)
{
	off_t end = lseek(r->fd, 0, SEEK_END), p = end;
	int64_t lines = 0;
	char chunk[4096];

	if (r->opt.tail == 0) {
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
			    ++lines == r->opt.tail) {
				r->pos = p + (off_t)i + 1;
				return 0;
			}
	}
	r->pos = 0;
	return 0;
}

int rt__log_open_path(struct rt *rt, const char *id, const char *path,
		      const struct rt_log_options *opt,
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
	r->fd = open(path, O_RDONLY | O_CLOEXEC);
	if (r->fd < 0 && errno == ENOENT)
		r->fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
	if (r->fd < 0) {
		rc = -errno;
		goto err_free;
	}
	if (opt->tail >= 0 && (rc = seek_tail(r)) < 0)
		goto err_close;
	r->ino = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
	if (r->ino >= 0)
		inotify_add_watch(r->ino, path, IN_MODIFY);
	*out = r;
	return 0;
err_close:
	close(r->fd);
err_free:
	shoal_free(r);
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
	close(r->fd);
	if (r->ino >= 0)
		close(r->ino);
	shoal_free(r->buf);
	shoal_free(r->line);
	shoal_free(r);
}
