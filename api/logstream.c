/*
 * A json-file log streamed to an HTTP response: the body of GET
 * /containers/{id}/logs, and the output of an attach made before the
 * container started (the log has every byte from the first instant, where
 * the monitor's attach socket only has what comes after the connection).
 *
 * Each entry becomes Docker's 8-byte header (stream, 0, 0, 0, big-endian
 * length) and the bytes, or the bytes alone for a tty; with timestamps the
 * RFC 3339 time and a space come first. Following waits on the reader's
 * inotify fd and, as a safety net for an exit that writes nothing, a
 * timer. Backpressure: when the response's queue is full the pending frame
 * is kept and the stream resumes on the drain callback. The stream ends
 * (done callback, once) at the end of the log when not following, at the
 * end of an exited container's log when following, or after a write error.
 */
#define LOG_MODULE "api"
#include "api/logstream.h"
#include "common/alloc.h"
#include "common/clock.h"
#include "common/error.h"

#include <errno.h>
#include <string.h>
#include <unistd.h>

#define RETRY_MS 250

static int out(struct api__logstream *ls, const void *d, size_t n)
{
	return ls->hijacked ? http_response_hijack_write(ls->res, d, n)
			    : http_response_write(ls->res, d, n);
}

static void finish(struct api__logstream *ls, int rc)
{
	if (ls->finished)
		return;
	ls->finished = true;
	uv_timer_stop(&ls->timer);
	if (ls->polling)
		uv_poll_stop(&ls->poll);
	ls->done(ls, rc);
}

static int frame(struct api__logstream *ls, const struct rt_log_entry *e)
{
	char ts[64] = "";
	size_t tl = 0;
	buf_reset(&ls->pending);
	if (ls->timestamps) {
		time_format_rfc3339(e->time_ns, ts, sizeof(ts) - 1);
		tl = strlen(ts);
		ts[tl++] = ' ';
	}
	if (!ls->tty) {
		uint32_t n = (uint32_t)(e->len + tl);
		unsigned char h[8] = {(unsigned char)e->stream,
				      0,
				      0,
				      0,
				      n >> 24,
				      n >> 16 & 0xff,
				      n >> 8 & 0xff,
				      n & 0xff};
		if (buf_append(&ls->pending, h, 8) < 0)
			return -ENOMEM;
	}
	if (buf_append(&ls->pending, ts, tl) < 0 ||
	    buf_append(&ls->pending, e->line, e->len) < 0)
		return -ENOMEM;
	return 0;
}

/* Send the pending frame: 0 sent, -ENOBUFS wait for drain, <0 error. */
static int flush(struct api__logstream *ls)
{
	if (!ls->pending.len)
		return 0;
	int rc = out(ls, ls->pending.data, ls->pending.len);
	if (rc == 0)
		buf_reset(&ls->pending);
	return rc;
}

static void drain_inotify(struct api__logstream *ls)
{
	char b[4096];
	int fd = rt_log_fd(ls->r);
	while (fd >= 0 && read(fd, b, sizeof(b)) > 0)
		;
}

void api__logstream_pump(struct api__logstream *ls)
{
	if (ls->finished || ls->blocked)
		return;
	for (;;) {
		int rc = flush(ls);
		if (rc == -ENOBUFS) {
			ls->blocked = true;
			return;
		}
		if (rc < 0) {
			finish(ls, rc);
			return;
		}
		struct rt_log_entry e;
		rc = rt_log_next(ls->r, &e);
		if (rc == -EAGAIN && ls->follow)
			return; /* the poll or the timer calls again */
		if (rc == -EAGAIN || rc == SHOAL_ECLOSED) {
			finish(ls, 0);
			return;
		}
		if (rc < 0) {
			finish(ls, rc);
			return;
		}
		if (ls->until_ns > 0 && e.time_ns > ls->until_ns) {
			finish(ls, 0);
			return;
		}
		if ((rc = frame(ls, &e)) < 0) {
			finish(ls, rc);
			return;
		}
	}
}

static void on_drain(struct http_response *res, void *arg)
{
	struct api__logstream *ls = arg;
	ls->blocked = false;
	api__logstream_pump(ls);
}

static void on_poll(uv_poll_t *p, int status, int events)
{
	struct api__logstream *ls = p->data;
	drain_inotify(ls);
	api__logstream_pump(ls);
}

static void on_timer(uv_timer_t *t)
{
	api__logstream_pump(t->data);
}

int api__logstream_start(struct api__logstream *ls, uv_loop_t *loop)
{
	buf_init(&ls->pending, 1 << 20);
	ls->timer.data = ls;
	ls->poll.data = ls;
	uv_timer_init(loop, &ls->timer);
	ls->handles = 1;
	if (ls->follow) {
		int fd = rt_log_fd(ls->r);
		if (fd >= 0 && uv_poll_init(loop, &ls->poll, fd) == 0) {
			ls->handles++;
			ls->polling = uv_poll_start(&ls->poll, UV_READABLE,
						    on_poll) == 0;
		}
		uv_timer_start(&ls->timer, on_timer, RETRY_MS, RETRY_MS);
	}
	http_response_on_drain(ls->res, on_drain, ls);
	api__logstream_pump(ls);
	return 0;
}

static void closed(uv_handle_t *h)
{
	struct api__logstream *ls = h->data;
	if (--ls->handles == 0) {
		rt_log_close(ls->r);
		buf_fini(&ls->pending);
		ls->freed(ls);
	}
}

void api__logstream_close(struct api__logstream *ls)
{
	ls->finished = true;
	ls->poll.data = ls;
	if (ls->handles == 2)
		uv_close((uv_handle_t *)&ls->poll, closed);
	uv_close((uv_handle_t *)&ls->timer, closed);
}
