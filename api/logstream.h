/*
 * Internal to api/: a container's json-file log streamed to a response
 * (see logstream.c). The owner fills the fields marked "in", calls
 * api__logstream_start(), gets done() once, then calls
 * api__logstream_close() and frees its memory in freed().
 */
#ifndef SHOAL_API_LOGSTREAM_H
#define SHOAL_API_LOGSTREAM_H

#include <stdbool.h>
#include <stdint.h>
#include <uv.h>

#include "common/buf.h"
#include "common/http.h"
#include "runtime/runtime.h"

struct api__logstream {
	/* in */
	struct rt_log_reader *r; /* owned from start on */
	struct http_response *res;
	bool hijacked; /* write with http_response_hijack_write */
	bool tty;      /* raw bytes, no 8-byte headers */
	bool timestamps;
	bool follow;
	int64_t until_ns; /* 0: none */
	void (*done)(struct api__logstream *ls, int rc);
	void (*freed)(struct api__logstream *ls);
	void *arg;
	/* private */
	uv_timer_t timer;
	uv_poll_t poll;
	int handles;
	bool polling;
	bool blocked;
	bool finished;
	struct buf pending;
};

int api__logstream_start(struct api__logstream *ls, uv_loop_t *loop);
void api__logstream_pump(struct api__logstream *ls);
/* Stop for good (also before done()); freed() runs when closed. */
void api__logstream_close(struct api__logstream *ls);

#endif
