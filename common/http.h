/*
 * HTTP/1.1 over libuv: a server for the Docker Engine API and a small client
 * for the CLI and the tests. Requests are parsed by http-parser (RFC 7230
 * framing: Content-Length and chunked bodies, keep-alive, pipelining).
 *
 * Server model. A connection handles one request at a time: once a request
 * is complete the parser is paused and reading stops until the response has
 * been written out, so pipelined requests wait in the input buffer and a
 * client that never reads its answers cannot make the server queue more than
 * one response for it. Every connection is bounded: header bytes (431),
 * body bytes (413), an idle timeout between requests, a slow-request timeout
 * from the first byte of a request to its last (answered 408), and the
 * number of open connections (past it a new connection gets a 503 with a
 * JSON message and is closed). A malformed request gets a 400 with a JSON
 * message and its connection is closed; no other connection notices.
 *
 * Bodies. When a request's head is complete, the body policy callback (if
 * any) sees the request without its body and decides two things for it: the
 * body's limit (past it: 413 naming the limit, connection closed; a
 * Content-Length over it is refused before a byte of the body is read) and
 * where the body goes: into memory (req->body), or spooled into an
 * unlinked temporary file in opts.spool_dir (req->body_fd), so that large
 * uploads (image archives, docker cp) never sit in the daemon's memory.
 * The server knows nothing of routes: the application's policy does. Spool
 * writes are plain buffered write(2)s on the loop's thread, without fsync,
 * as nginx writes its client body files: the page cache absorbs them.
 *
 * Handlers. The server calls the handler once per request with a request
 * (borrowed) and a response object. The handler finishes the response in
 * exactly one of four ways, at once or later from any callback on the
 * loop's thread:
 *
 *   1. whole:   http_response_send() (or _send_error()),
 *   2. async:   keep @res and call (1) or (3) later, e.g. when a container
 *               exits (/containers/{id}/wait),
 *   3. stream:  http_response_begin(), http_response_write()..., then
 *               http_response_end() (chunked transfer; logs, stats, events),
 *   4. hijack:  http_response_hijack(), then raw bytes both ways with
 *               http_response_hijack_write() until
 *               http_response_hijack_close() (attach, exec start).
 *
 * If the connection dies before the response is finished (client gone,
 * server shutting down) the close callback set with http_response_on_close()
 * runs once. A client that closes its sending side (EOF) before its answer
 * is finished counts as gone, as Go's server cancels the request; once
 * hijacked, EOF is only the end of the client's input. After the
 * callback returns, @res and the request are freed and must not be
 * touched. A handler that finishes its response never sees the close
 * callback. Everything here runs on the loop's thread; nothing is
 * thread-safe. The process must ignore SIGPIPE (libuv writes with write(2)),
 * or a client that leaves mid-answer kills it. Allocation failures are
 * answered (500 or 503) or close the one connection concerned, except where
 * libuv itself aborts (growing its table of fd watchers).
 */
#ifndef SHOAL_COMMON_HTTP_H
#define SHOAL_COMMON_HTTP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <uv.h>

struct http_server;
struct http_response;

struct http_header {
	const char *name;
	const char *value;
};

/*
 * A parsed request. Everything is borrowed from the connection and valid
 * until the response is finished or its close callback has returned.
 */
struct http_request {
	const char *method;	   /* "GET", "POST", ... */
	const char *url;	   /* as sent: "/v1.45/containers/json?all=1" */
	const char *path;	   /* percent-decoded, without the query */
	struct http_header *query; /* decoded name/value pairs, in order */
	size_t nquery;
	struct http_header *headers; /* as sent (names keep their case) */
	size_t nheaders;
	/* In memory: NUL-terminated; "" when there is none or when the body
	 * was spooled (then see @body_fd). */
	const char *body;
	size_t body_len; /* bytes of the body, in memory or spooled */
	/* Spooled: an unlinked file (O_RDWR, O_CLOEXEC) holding the body, at
	 * offset 0 when the handler is called; -1 otherwise. Owned by the
	 * server, closed when the response is finished: dup() it to keep it. */
	int body_fd;
	unsigned short http_major;
	unsigned short http_minor;
	bool upgrade; /* the client asked for "Connection: Upgrade" */
};

/** http_request_header() - a header's value (name case-insensitive), or NULL.
 */
const char *http_request_header(const struct http_request *req,
				const char *name);
/** http_request_query() - the first value of query parameter @name, or NULL. */
const char *http_request_query(const struct http_request *req,
			       const char *name);

/**
 * http_handler_fn - called once per complete request on the loop's thread.
 * The handler owns the duty to finish @res (see the file comment).
 */
typedef void http_handler_fn(struct http_request *req,
			     struct http_response *res, void *arg);

/*
 * What the server does with one request's body. The policy callback gets
 * it filled with the server's defaults (max_body_bytes, in memory).
 */
struct http_body_policy {
	uint64_t max_bytes; /* past it: 413; 0 means the server's default */
	bool spool;	    /* into an unlinked file in spool_dir, not memory */
};

/**
 * http_body_policy_fn - decide the body policy of @req, called once per
 * request on the loop's thread when its head is complete: method, url,
 * path, query and headers are set, the body is not (body_len 0). @req is
 * borrowed for the call; @arg is the handler's. Must not block. Not called
 * for a request whose target cannot be decoded (it gets a 400 anyway).
 */
typedef void http_body_policy_fn(const struct http_request *req,
				 struct http_body_policy *policy, void *arg);

struct http_server_opts {
	size_t max_header_bytes; /* request line + headers; default 64 KiB */
	/* The body limit when no policy says otherwise; default 16 MiB. */
	size_t max_body_bytes;
	/* Per-request body policy; NULL: every body in memory up to
	 * max_body_bytes. */
	http_body_policy_fn *body_policy;
	/* Folder of spooled bodies (copied; files there are unlinked at
	 * once). NULL: a policy asking to spool gets its request a 500. */
	const char *spool_dir;
	uint64_t idle_timeout_ms;    /* between requests; default 60 s */
	uint64_t request_timeout_ms; /* first byte to last; default 30 s */
	unsigned max_conns;	     /* default 1024 */
	size_t max_queued_bytes;     /* per stream response; default 4 MiB */
	uint64_t shutdown_grace_ms;  /* in-flight responses at close; 2 s */
};

/**
 * http_server_new() - a server on @loop calling @handler(.., @arg).
 * @opts may be NULL (defaults); zero fields take their default.
 * Returns 0 and *@out (free with http_server_close()), or -ENOMEM.
 */
int http_server_new(uv_loop_t *loop, const struct http_server_opts *opts,
		    http_handler_fn *handler, void *arg,
		    struct http_server **out);

/**
 * http_server_listen_unix() - listen on a unix socket at @path, created with
 * @mode (e.g. 0660). An existing socket file at @path is replaced only when
 * nobody answers on it; otherwise -EADDRINUSE. Returns 0 or a negative code.
 */
int http_server_listen_unix(struct http_server *srv, const char *path,
			    int mode);

/**
 * http_server_listen_tcp() - listen on @addr (numeric IPv4 or IPv6) and
 * @port (0: any; see http_server_port()). Returns 0 or a negative code.
 */
int http_server_listen_tcp(struct http_server *srv, const char *addr, int port);

/** http_server_port() - the bound TCP port, or -ENOTCONN. */
int http_server_port(const struct http_server *srv);

/** http_server_conns() - connections currently open. */
unsigned http_server_conns(const struct http_server *srv);

/**
 * http_server_close() - stop listening (unlinking the unix socket), close
 * idle connections now, let in-flight responses finish for up to
 * shutdown_grace_ms, then close the rest (their close callbacks run). @cb
 * runs once everything is closed and the server freed; it may be NULL.
 */
void http_server_close(struct http_server *srv, void (*cb)(void *arg),
		       void *arg);

/* --- responses ---------------------------------------------------------- */

/**
 * http_response_header() - add a response header before the head is sent.
 * Returns 0, -EINVAL (CR or LF in it), -EALREADY (head already sent) or
 * -ENOMEM.
 */
int http_response_header(struct http_response *res, const char *name,
			 const char *value);

/**
 * http_response_send() - answer with @status and a whole body (@len bytes;
 * @content_type may be NULL when @len is 0). HEAD requests get the headers
 * only. @res is finished by this call whatever it returns: 0, -ENOMEM (the
 * connection is closed instead), -EALREADY (misuse).
 */
int http_response_send(struct http_response *res, int status,
		       const char *content_type, const void *body, size_t len);

/**
 * http_response_send_error() - Docker's error shape: @status with
 * {"message": @message} as JSON. Finishes @res like http_response_send().
 */
int http_response_send_error(struct http_response *res, int status,
			     const char *message);

/**
 * http_response_begin() - start a streamed response: the head goes out with
 * chunked transfer encoding (close-delimited for HTTP/1.0 clients). Returns
 * 0 or a negative code (then the response is not started and the handler
 * still owns it).
 */
int http_response_begin(struct http_response *res, int status,
			const char *content_type);

/**
 * http_response_write() - send @len bytes of a streamed body (copied).
 * Returns 0; -ENOBUFS when more than max_queued_bytes wait unsent (drop or
 * wait for the drain callback); -ECONNRESET once the connection is gone (the
 * close callback has been scheduled); -ENOMEM.
 */
int http_response_write(struct http_response *res, const void *data,
			size_t len);

/**
 * http_response_end() - finish a streamed response. @res is finished
 * whatever it returns (0 or -ENOMEM: then the connection is closed).
 */
int http_response_end(struct http_response *res);

/**
 * http_response_abort() - end a streamed response that failed midway: the
 * connection is closed (after what is queued) without the last chunk, so
 * a client sees a truncated body rather than a complete one, as with
 * Docker's server. @res is finished. Returns 0 or -EINVAL (not streaming).
 */
int http_response_abort(struct http_response *res);

/**
 * http_response_on_close() - @cb runs once if the connection closes before
 * the response is finished; @res and its request are freed when it returns.
 */
void http_response_on_close(struct http_response *res,
			    void (*cb)(struct http_response *res, void *arg),
			    void *arg);

/**
 * http_response_on_drain() - @cb runs when a stream's unsent bytes fall back
 * under half of max_queued_bytes after a write returned -ENOBUFS, never
 * once the response is finished.
 */
void http_response_on_drain(struct http_response *res,
			    void (*cb)(struct http_response *res, void *arg),
			    void *arg);

/**
 * http_hijack_read_fn - raw bytes from the client after a hijack. @nread > 0:
 * @data holds them (borrowed for the call). @nread == UV_EOF: the client
 * closed its sending side (output may still be written). Other negative
 * values are socket errors; the close callback follows.
 */
typedef void http_hijack_read_fn(struct http_response *res, const char *data,
				 ssize_t nread, void *arg);

/**
 * http_response_hijack() - take the connection over for raw bytes, as
 * Docker's attach and exec start do. With @status 101 the head carries
 * "Connection: Upgrade" and "Upgrade: tcp"; with 200 it is a plain head
 * without a length (older clients). Bytes the client sent after the request
 * are handed to @on_read first. Returns 0 or a negative code (then nothing
 * was sent and the handler still owns @res).
 */
int http_response_hijack(struct http_response *res, int status,
			 const char *content_type, http_hijack_read_fn *on_read,
			 void *arg);

/** http_response_hijack_write() - raw bytes to the client; as _write(). */
int http_response_hijack_write(struct http_response *res, const void *data,
			       size_t len);

/**
 * http_response_hijack_close() - flush what is queued and close the
 * connection; @res is finished (no close callback).
 */
void http_response_hijack_close(struct http_response *res);

/** http_response_request() - the request @res answers (borrowed). */
struct http_request *http_response_request(struct http_response *res);

/** http_status_text() - "OK", "Not Found", ...; "Unknown" otherwise. */
const char *http_status_text(int status);

/* --- client -------------------------------------------------------------- */

/*
 * A host address in Docker's forms: "unix:///run/shoal/shoald.sock",
 * "tcp://127.0.0.1:2375", "tcp://[::1]:2375". Only numeric addresses are
 * accepted (no DNS on the loop); "localhost" means 127.0.0.1.
 */
struct http_addr {
	bool is_unix;
	char path[108];
	struct sockaddr_storage sa;
};

/** http_addr_parse() - parse @host; 0 or -EINVAL. */
int http_addr_parse(const char *host, struct http_addr *out);

struct http_client_req {
	const char *method;
	const char *path; /* with the query: "/v1.45/info?x=1" */
	const struct http_header *headers; /* extra request headers */
	size_t nheaders;
	const void *body;
	size_t body_len;
	const char *content_type; /* for a body; NULL: application/json */
	uint64_t timeout_ms;	  /* whole exchange; 0: none */
	size_t max_body_bytes;	  /* collected body limit; 0: 64 MiB */
};

/*
 * Callbacks of an asynchronous exchange. on_head runs once the status line
 * and headers are in; on_data for each body piece (if NULL the body is
 * collected and given to on_done); on_done exactly once, last, with 0 or a
 * negative code (-ETIMEDOUT, -ECONNREFUSED, SHOAL_EHTTP for a malformed
 * answer, -ENOBUFS for a body past its limit, ...).
 */
struct http_client_cbs {
	void (*on_head)(int status, const struct http_header *headers,
			size_t nheaders, void *arg);
	void (*on_data)(const char *data, size_t len, void *arg);
	void (*on_done)(int rc, int status, const char *body, size_t len,
			void *arg);
	void *arg;
};

/**
 * http_client_start() - send @req to @addr on @loop (one request, then the
 * connection closes). @req and its strings are copied. Returns 0 (then
 * on_done runs exactly once) or a negative code (then no callback runs,
 * though handles opened before the failure still close, and are freed, on
 * @loop's next run).
 */
int http_client_start(uv_loop_t *loop, const struct http_addr *addr,
		      const struct http_client_req *req,
		      const struct http_client_cbs *cbs);

/* The result of a synchronous exchange: free with http_result_fini(). */
struct http_result {
	int status;
	struct http_header *headers; /* owned */
	size_t nheaders;
	char *body; /* NUL-terminated, owned */
	size_t body_len;
};

/**
 * http_client_fetch() - run one exchange on a private loop and wait for it.
 * Returns 0 and fills @out (any status), or a negative code.
 */
int http_client_fetch(const char *host, const struct http_client_req *req,
		      struct http_result *out);

/** http_result_header() - a header of @r (case-insensitive), or NULL. */
const char *http_result_header(const struct http_result *r, const char *name);
void http_result_fini(struct http_result *r);

#endif
