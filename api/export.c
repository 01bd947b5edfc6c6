/*
 * GET /containers/{id}/export (Docker Engine API v1.45, "ContainerExport"):
 * `docker export`, the container's whole filesystem as a tar stream.
 *
 * The tar comes from the confined archive helper docker cp uses
 * (rt_archive_*, docs/archive.md), asked for the root's contents ("/."),
 * so entries are named "./bin", "./etc/passwd", ... (relative, as
 * docker export's are, and what docker import and img_import() take).
 * A stopped container's overlay is mounted by the helper for the time of
 * the copy; a running one is read through its mount namespace, so, unlike
 * Docker's export, the volumes mounted in it are part of the tar (kernel
 * filesystems such as /proc and /sys stay empty). The stream is chunked
 * with back-pressure: a piece the connection cannot take pauses the
 * helper until the drain callback. A failure after the head ends the
 * stream without its last chunk, so the client sees a truncated archive.
 */
#define LOG_MODULE "api"
#include "api/internal.h"
#include "common/alloc.h"
#include "common/error.h"
#include "common/log.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

struct export
{
	struct http_response *res;
	struct rt_archive *ar;
	char id[RT_ID_LEN + 1];
	bool began;
	char *held; /* a piece the connection could not take yet */
	size_t held_len;
};

static void export_free(struct export *x)
{
	rt_archive_close(x->ar);
	shoal_free(x->held);
	shoal_free(x);
}

static void on_gone(struct http_response *res, void *arg)
{
	export_free(arg);
}

static void stop(struct export *x)
{
	http_response_on_close(x->res, NULL, NULL);
	http_response_on_drain(x->res, NULL, NULL);
}

static void on_stat(struct rt_archive *a, const struct rt_path_stat *st,
		    void *arg)
{
	struct export *x = arg;
	int rc = http_response_begin(x->res, 200, "application/x-tar");
	x->began = rc == 0;
	if (rc < 0) {
		stop(x);
		http_response_send_error(x->res, 500, "out of memory");
		export_free(x);
	}
}

static void on_data(struct rt_archive *a, const char *data, size_t len,
		    void *arg)
{
	struct export *x = arg;
	if (http_response_write(x->res, data, len) != -ENOBUFS)
		return;
	x->held = shoal_malloc(len);
	if (!x->held) {
		stop(x);
		http_response_abort(x->res);
		export_free(x);
		return;
	}
	memcpy(x->held, data, len);
	x->held_len = len;
	rt_archive_pause(x->ar);
}

static void on_drain(struct http_response *res, void *arg)
{
	struct export *x = arg;
	if (!x->held ||
	    http_response_write(res, x->held, x->held_len) == -ENOBUFS)
		return;
	shoal_free(x->held);
	x->held = NULL;
	rt_archive_resume(x->ar);
}

static void on_done(struct rt_archive *a, int rc, const char *msg, void *arg)
{
	struct export *x = arg;
	stop(x);
	if (x->began && rc == 0) {
		http_response_end(x->res);
	} else if (x->began) {
		log_warn("container=%s export failed midway: %s", x->id, msg);
		http_response_abort(x->res);
	} else {
		log_warn("container=%s export failed: %s", x->id, msg);
		http_response_send_error(
			x->res, rc == SHOAL_ECONFLICT ? 409 : 500, msg);
	}
	export_free(x);
}

static void export_(struct api_call *call)
{
	struct api__state *st = api__need(call);
	char id[RT_ID_LEN + 1];
	if (!st || api__resolve(call, st, api_param(call, "id"), id) < 0)
		return;
	struct export *x = shoal_calloc(1, sizeof(*x));
	if (!x) {
		api_reply_error(call, 500, "out of memory");
		return;
	}
	memcpy(x->id, id, sizeof(id));
	x->res = call->res;
	struct rt_archive_req req = {
		.op = RT_ARCHIVE_GET, .path = "/.", .input_fd = -1};
	struct rt_archive_cbs cbs = {on_stat, on_data, on_done, x};
	struct shoal_err err = {""};
	int rc = rt_archive_start(st->rt, st->loop, id, &req, &cbs, &x->ar,
				  &err);
	if (rc < 0) {
		int status = rc == SHOAL_ENOTFOUND   ? 404
			     : rc == SHOAL_ECONFLICT ? 409
						     : 500;
		if (rc == SHOAL_ENOTFOUND)
			api_reply_error(call, 404, "No such container: %s",
					api_param(call, "id"));
		else
			api_reply_error(call, status, "cannot export: %s",
					err.msg[0] ? err.msg
						   : shoal_strerror(rc));
		export_free(x);
		return;
	}
	http_response_on_close(call->res, on_gone, x);
	http_response_on_drain(call->res, on_drain, x);
}

static const struct api_route routes[] = {
	{"GET", "/containers/{id}/export", export_},
};

const struct api_route_table api_export_table = {
	.name = "export",
	.routes = routes,
	.nroutes = sizeof(routes) / sizeof(routes[0]),
};
