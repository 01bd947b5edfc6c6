/*
 * GET, HEAD and PUT /containers/{id}/archive (Docker Engine API v1.45,
 * "ContainerArchive", "ContainerArchiveInfo", "PutContainerArchive"): what
 * `docker cp` uses. A thin route over rt_archive_* (runtime.h): the
 * runtime runs a helper confined to the container (its namespaces, a few
 * capabilities, seccomp; see docs/archive.md) and this file only turns
 * its results into HTTP.
 *
 * The path's stat goes back in the X-Docker-Container-Path-Stat header:
 * base64 of {"name","size","mode","mtime","linkTarget"}, mode in Go's
 * os.FileMode bits, as the docker CLI decodes it. GET streams the tar as
 * it comes out of the helper (chunked): a piece the connection cannot
 * take (http_response_write() says -ENOBUFS) is kept, the helper paused
 * until the drain callback, so the daemon holds at most the server's
 * queue plus one piece per transfer, whatever the size of the tree. A
 * failure after the head is sent ends the stream without its last chunk
 * (http_response_abort()), so the client sees a truncated archive, never
 * a complete one. PUT hands the helper the spooled request body (the
 * route takes archives: api/routes.c). A client that leaves kills the
 * helper; a helper killed by anyone is an error answer, never the
 * daemon's problem.
 */
#define LOG_MODULE "api"
#include "api/internal.h"
#include "common/alloc.h"
#include "common/clock.h"
#include "common/error.h"
#include "common/jsonx.h"
#include "common/log.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#define GO_MODE_DIR (1u << 31)
#define GO_MODE_SYMLINK (1u << 27)

struct xfer {
	struct http_response *res;
	struct rt_archive *ar;
	char id[RT_ID_LEN + 1];
	char *ref;  /* as the client named the container */
	char *path; /* as the client named the file */
	bool head;
	bool began; /* the 200 head went out */
	char *held; /* a piece the connection could not take yet */
	size_t held_len;
};

static void b64(const unsigned char *in, size_t n, char *out, size_t cap)
{
	static const char t[] =
		"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuv"
		"wxyz0123456789+/";
	size_t o = 0;
	for (size_t i = 0; i < n && o + 5 < cap; i += 3) {
		unsigned v = (unsigned)in[i] << 16;
		if (i + 1 < n)
			v |= (unsigned)in[i + 1] << 8;
		if (i + 2 < n)
			v |= in[i + 2];
		out[o++] = t[v >> 18 & 63];
		out[o++] = t[v >> 12 & 63];
		out[o++] = i + 1 < n ? t[v >> 6 & 63] : '=';
		out[o++] = i + 2 < n ? t[v & 63] : '=';
	}
	out[o] = '\0';
}

/* The X-Docker-Container-Path-Stat header of @st. */
static int stat_header(struct http_response *res, const struct rt_path_stat *st)
{
	char mt[48], hdr[8192];
	unsigned mode = st->mode & 0777;
	if (S_ISDIR(st->mode))
		mode |= GO_MODE_DIR;
	if (S_ISLNK(st->mode))
		mode |= GO_MODE_SYMLINK;
	time_format_rfc3339(st->mtime_ns, mt, sizeof(mt));
	json_t *o =
		json_pack("{s:s, s:I, s:I, s:s, s:s}", "name", st->name, "size",
			  (json_int_t)st->size, "mode", (json_int_t)mode,
			  "mtime", mt, "linkTarget", st->link_target);
	size_t len = 0;
	char *s = o ? jsonx_dump(o, &len) : NULL;
	json_decref(o);
	if (!s)
		return -ENOMEM;
	b64((const unsigned char *)s, len, hdr, sizeof(hdr));
	shoal_free(s);
	return http_response_header(res, "X-Docker-Container-Path-Stat", hdr);
}

static void xfer_free(struct xfer *x)
{
	rt_archive_close(x->ar);
	shoal_free(x->held);
	shoal_free(x->ref);
	shoal_free(x->path);
	shoal_free(x);
}

/* The client left: stop the helper, forget the transfer. */
static void on_gone(struct http_response *res, void *arg)
{
	xfer_free(arg);
}

/* Docker's status for a failure before any byte of the answer. */
static void reply_failure(struct xfer *x, int rc, const char *msg)
{
	struct http_response *res = x->res;
	int status = rc == SHOAL_ENOTFOUND		     ? 404
		     : rc == -ENOTDIR || rc == -EINVAL	     ? 400
		     : rc == -EEXIST			     ? 400
		     : rc == -EROFS || rc == -EACCES	     ? 403
		     : rc == SHOAL_ECONFLICT || rc == -ESRCH ? 409
							     : 500;
	char text[768];
	if (rc == SHOAL_ENOTFOUND)
		snprintf(text, sizeof(text),
			 "Could not find the file %s in container %s", x->path,
			 x->ref);
	else
		snprintf(text, sizeof(text), "%s", msg);
	if (status == 500)
		log_warn("container=%s archive of %s: %s", x->id, x->path, msg);
	http_response_send_error(res, status, text);
}

static void on_stat(struct rt_archive *a, const struct rt_path_stat *st,
		    void *arg)
{
	struct xfer *x = arg;
	int rc = stat_header(x->res, st);
	if (rc == 0 && !x->head) {
		rc = http_response_begin(x->res, 200, "application/x-tar");
		x->began = rc == 0;
	}
	if (rc < 0) {
		/* Answered now; the helper is stopped by xfer_free. */
		http_response_on_close(x->res, NULL, NULL);
		http_response_send_error(x->res, 500, "out of memory");
		xfer_free(x);
	}
}

static void on_data(struct rt_archive *a, const char *data, size_t len,
		    void *arg)
{
	struct xfer *x = arg;
	int rc = http_response_write(x->res, data, len);
	if (rc != -ENOBUFS)
		return; /* sent, or the close callback is on its way */
	x->held = shoal_malloc(len);
	if (!x->held) {
		http_response_on_close(x->res, NULL, NULL);
		http_response_on_drain(x->res, NULL, NULL);
		http_response_abort(x->res);
		xfer_free(x);
		return;
	}
	memcpy(x->held, data, len);
	x->held_len = len;
	rt_archive_pause(x->ar);
}

static void on_drain(struct http_response *res, void *arg)
{
	struct xfer *x = arg;
	if (!x->held)
		return;
	int rc = http_response_write(res, x->held, x->held_len);
	if (rc == -ENOBUFS)
		return; /* wait for the next drain */
	shoal_free(x->held);
	x->held = NULL;
	rt_archive_resume(x->ar);
}

static void on_done(struct rt_archive *a, int rc, const char *msg, void *arg)
{
	struct xfer *x = arg;
	http_response_on_close(x->res, NULL, NULL);
	http_response_on_drain(x->res, NULL, NULL);
	if (x->began && rc == 0) {
		http_response_end(x->res);
	} else if (x->began) {
		log_warn("container=%s archive of %s failed midway: %s", x->id,
			 x->path, msg);
		http_response_abort(x->res);
	} else if (rc < 0) {
		reply_failure(x, rc, msg);
	} else {
		/* HEAD (stat) and PUT: the header, or nothing, and 200. */
		http_response_send(x->res, 200, NULL, NULL, 0);
	}
	xfer_free(x);
}

static void start(struct api_call *call, enum rt_archive_op op)
{
	struct api__state *st = api__need(call);
	char id[RT_ID_LEN + 1];
	if (!st || api__resolve(call, st, api_param(call, "id"), id) < 0)
		return;
	const char *path = http_request_query(call->req, "path");
	if (!path || !*path) {
		api_reply_error(call, 400, "Bad parameters: path is required");
		return;
	}
	struct rt_archive_req req = {
		.op = op,
		.path = path,
		.input_fd = call->req->body_fd,
		.no_overwrite_dir_non_dir =
			api__query_bool(call, "noOverwriteDirNonDir", false),
		.copy_uid_gid = api__query_bool(call, "copyUIDGID", false),
	};
	if (op == RT_ARCHIVE_PUT && req.input_fd < 0) {
		api_reply_error(call, 500, "the archive was not spooled");
		return;
	}
	struct xfer *x = shoal_calloc(1, sizeof(*x));
	if (x) {
		x->ref = shoal_strdup(api_param(call, "id"));
		x->path = shoal_strdup(path);
	}
	if (!x || !x->ref || !x->path) {
		if (x)
			xfer_free(x);
		api_reply_error(call, 500, "out of memory");
		return;
	}
	memcpy(x->id, id, sizeof(id));
	x->res = call->res;
	x->head = op == RT_ARCHIVE_STAT;
	struct rt_archive_cbs cbs = {on_stat, on_data, on_done, x};
	struct shoal_err err = {""};
	int rc = rt_archive_start(st->rt, st->loop, id, &req, &cbs, &x->ar,
				  &err);
	if (rc == SHOAL_ENOTFOUND) /* the container itself, just removed */
		api_reply_error(call, 404, "No such container: %s", x->ref);
	else if (rc < 0)
		reply_failure(x, rc, err.msg);
	if (rc < 0) {
		xfer_free(x);
		return;
	}
	http_response_on_close(call->res, on_gone, x);
	http_response_on_drain(call->res, on_drain, x);
}

static void archive_get(struct api_call *call)
{
	start(call, strcmp(call->req->method, "HEAD") ? RT_ARCHIVE_GET
						      : RT_ARCHIVE_STAT);
}

static void archive_head(struct api_call *call)
{
	start(call, RT_ARCHIVE_STAT);
}

static void archive_put(struct api_call *call)
{
	start(call, RT_ARCHIVE_PUT);
}

static const struct api_route routes[] = {
	{"GET", "/containers/{id}/archive", archive_get},
	{"HEAD", "/containers/{id}/archive", archive_head},
	{"PUT", "/containers/{id}/archive", archive_put},
};

const struct api_route_table api_containers_archive_table = {
	.name = "containers-archive",
	.routes = routes,
	.nroutes = sizeof(routes) / sizeof(routes[0]),
};
