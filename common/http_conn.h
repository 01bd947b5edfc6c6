/*
 * Internal to common/http_server.c and http_response.c: a server
 * connection, its one response object, the server, and the calls between
 * the two files. Not part of the public contract (see http.h). Each
 * connection answers one request at a time, so the response is embedded in
 * the connection and never allocated.
 */
#ifndef SHOAL_COMMON_HTTP_CONN_H
#define SHOAL_COMMON_HTTP_CONN_H

#include <http_parser.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#include "common/buf.h"
#include "common/http.h"
#include "common/list.h"

#define HTTP_READ_CHUNK (64 * 1024)
#define HTTP_MAX_HEADERS 128

enum res_state {
	RES_IDLE,      /* no request being answered */
	RES_PENDING,   /* handler owns it, nothing sent */
	RES_STREAMING, /* head sent, chunks follow */
	RES_HIJACKED,  /* raw bytes both ways */
};

struct http_response {
	enum res_state state;
	struct http_request req;
	struct buf extra; /* "Name: value\r\n" lines */
	bool chunked;
	bool need_drain;
	void (*close_cb)(struct http_response *, void *);
	void *close_arg;
	void (*drain_cb)(struct http_response *, void *);
	void *drain_arg;
	http_hijack_read_fn *on_read;
	void *read_arg;
};

struct conn {
	struct http_server *srv;
	struct list_node link;
	union {
		uv_handle_t handle;
		uv_stream_t stream;
		uv_tcp_t tcp;
		uv_pipe_t pipe;
	} h;
	uv_timer_t timer;
	uv_shutdown_t shutdown;
	bool socketless;
	struct buf *sink; /* socketless output */
	int handles;	  /* open uv handles */
	http_parser parser;
	struct buf in;
	size_t in_off;
	/* the request being read */
	struct buf raw; /* url NUL, then name NUL value NUL ... */
	size_t hoff[HTTP_MAX_HEADERS];
	size_t nh;
	int last;	    /* 0 none, 1 field, 2 value */
	struct buf body;    /* an in-memory body */
	int spool_fd;	    /* a spooled body's file, or -1 */
	uint64_t body_max;  /* this request's body limit */
	uint64_t body_seen; /* body bytes received so far */
	char *dec;	    /* decoded path and query strings */
	bool in_request;
	bool headers_done; /* later header callbacks are trailers */
	int build_rc;	   /* of build_request() at the end of the head */
	bool complete;
	int fail_status;
	const char *fail_msg;
	char fail_text[96]; /* a fail_msg made for this request */
	/* the response */
	struct http_response res;
	bool keep_alive;
	bool flushing; /* response done, writes in flight */
	bool reading;
	bool pumping;
	bool closing;
	bool shutting; /* uv_shutdown in flight; closes when done */
	bool eof;
	size_t queued;
};

struct http_server {
	uv_loop_t *loop;
	struct http_server_opts o;
	http_handler_fn *handler;
	void *arg;
	char *spool_dir; /* owned copy of o.spool_dir, or NULL */
	uv_pipe_t upipe;
	uv_tcp_t tcp;
	bool has_unix, has_tcp;
	char *unix_path;
	struct list_node conns;
	unsigned nconns;
	bool closing;
	int pending; /* handles still closing */
	uv_timer_t grace;
	bool grace_init;
	void (*close_cb)(void *);
	void *close_arg;
	union {
		uv_stream_t stream;
		uv_tcp_t tcp;
		uv_pipe_t pipe;
	} spare; /* for refusing connections without allocating */
	bool spare_busy;
	uv_stream_t *reject_pending;
};

struct wreq {
	uv_write_t req;
	struct conn *c;
	size_t len;
	char data[];
};

static inline struct conn *res_conn(struct http_response *res)
{
	return container_of(res, struct conn, res);
}

/* http_response.c */
/** http__conn_write() - queue @n pieces as one write; 0, -ECONNRESET,
 * -ENOMEM. Socketless connections copy into their sink at once. */
int http__conn_write(struct conn *c, const uv_buf_t *bufs, int n);

/* http_server.c */
/** http__response_done() - the response is finished; go on once flushed. */
void http__response_done(struct conn *c);
/** http__conn_flushed() - the last write of a finished response is out. */
void http__conn_flushed(struct conn *c);
/** http__conn_close() - close the connection (idempotent, async free). */
void http__conn_close(struct conn *c);
void http__timer_set(struct conn *c, uint64_t ms);
void http__timer_stop(struct conn *c);

#endif
