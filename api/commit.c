/*
 * POST /commit (Docker Engine API v1.45, "ImageCommit") and GET
 * /images/{name}/history ("ImageHistory"): what `docker commit` and
 * `docker history` use. Commit is a thin route over eng_commit_async()
 * (engine/commit.c): the query's container, repo, tag, comment, author,
 * pause and changes (repeated), and the body's container Config, whose
 * non-empty fields go over the container's. The answer is Docker's 201
 * {"Id": "sha256:..."}; errors are Docker's texts and statuses (404 "No
 * such container", 400 for a bad change line or reference). A client
 * that leaves does not stop the commit: the image is still made.
 */
#define LOG_MODULE "api"
#include "api/internal.h"
#include "common/alloc.h"
#include "common/error.h"
#include "common/jsonx.h"
#include "common/log.h"
#include "image/image.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#define MAX_CHANGES 256

struct commit_call {
	struct http_response *res; /* NULL once the client left */
	struct eng *eng;
	struct img_store *img;
	char ref[512];
};

static int status_of(int rc)
{
	return rc == SHOAL_ENOTFOUND   ? 404
	       : rc == SHOAL_ECONFLICT ? 409
	       : rc == -EINVAL	       ? 400
				       : 500;
}

static void gone(struct http_response *res, void *arg)
{
	struct commit_call *c = arg;
	c->res = NULL;
}

static void committed(int rc, const char *msg, const char *image_id, void *arg)
{
	struct commit_call *c = arg;
	if (rc == 0 && c->ref[0])
		eng_event_post(c->eng, "image", "tag", image_id,
			       json_pack("{s:s}", "name", c->ref));
	if (c->res) {
		http_response_on_close(c->res, NULL, NULL);
		if (rc < 0) {
			http_response_send_error(c->res, status_of(rc),
						 msg ? msg
						     : shoal_strerror(rc));
		} else {
			json_t *o = json_pack("{s:s}", "Id", image_id);
			size_t len;
			char *s = o ? jsonx_dump(o, &len) : NULL;
			json_decref(o);
			if (s)
				http_response_send(c->res, 201,
						   "application/json", s, len);
			else
				http_response_send_error(c->res, 500,
							 "out of memory");
			shoal_free(s);
		}
	}
	shoal_free(c);
}

/* The body's Config (or null / absent / {}): 0, or 400 answered. */
static int body_config(struct api_call *call, json_t **out)
{
	*out = NULL;
	const char *b = call->req->body;
	if (!b || !*b || !strcmp(b, "null"))
		return 0;
	char err[256];
	if (jsonx_parse_object(b, strlen(b), out, err, sizeof(err)) < 0) {
		api_reply_error(call, 400, "invalid commit config: %s", err);
		return -1;
	}
	return 0;
}

static int collect_changes(struct api_call *call, const char **changes,
			   size_t *n)
{
	*n = 0;
	for (size_t i = 0; i < call->req->nquery; i++) {
		if (strcmp(call->req->query[i].name, "changes") != 0 ||
		    !*call->req->query[i].value)
			continue;
		if (*n == MAX_CHANGES) {
			api_reply_error(call, 400, "too many changes");
			return -1;
		}
		changes[(*n)++] = call->req->query[i].value;
	}
	return 0;
}

static void commit(struct api_call *call)
{
	struct api__state *st = api__need(call);
	if (!st)
		return;
	const char *ctr = http_request_query(call->req, "container");
	const char *repo = http_request_query(call->req, "repo");
	const char *tag = http_request_query(call->req, "tag");
	if (!ctr || !*ctr) {
		api_reply_error(call, 400,
				"Bad parameters: container is "
				"required");
		return;
	}
	if (tag && *tag && !(repo && *repo)) {
		api_reply_error(call, 400,
				"invalid reference format: a tag "
				"needs a repository");
		return;
	}
	const char *changes[MAX_CHANGES];
	size_t nc;
	json_t *cfg;
	if (collect_changes(call, changes, &nc) < 0 ||
	    body_config(call, &cfg) < 0)
		return;
	struct commit_call *c = shoal_calloc(1, sizeof(*c));
	if (!c) {
		json_decref(cfg);
		api_reply_error(call, 500, "out of memory");
		return;
	}
	if (repo && *repo)
		snprintf(c->ref, sizeof(c->ref), "%s%s%s", repo,
			 tag && *tag ? ":" : "", tag ? tag : "");
	c->res = call->res;
	c->eng = st->eng;
	c->img = st->img;
	const char *comment = http_request_query(call->req, "comment");
	const char *author = http_request_query(call->req, "author");
	struct eng_commit_opts o = {
		.reference = c->ref[0] ? c->ref : NULL,
		.comment = comment && *comment ? comment : NULL,
		.author = author && *author ? author : NULL,
		.changes = changes,
		.n_changes = nc,
		.config = cfg,
		.pause = api__query_bool(call, "pause", true),
	};
	struct shoal_err err = {""};
	int rc = eng_commit_async(st->eng, ctr, &o, committed, c, &err);
	json_decref(cfg);
	if (rc < 0) {
		shoal_free(c);
		api_reply_error(call, status_of(rc), "%s",
				err.msg[0] ? err.msg : shoal_strerror(rc));
		return;
	}
	http_response_on_close(call->res, gone, c);
}

static void history(struct api_call *call)
{
	struct api__state *st = api__need(call);
	if (!st)
		return;
	char name[512];
	const char *repo = api_param(call, "repo");
	snprintf(name, sizeof(name), "%s%s%s", repo ? repo : "",
		 repo ? "/" : "", api_param(call, "name"));
	json_t *o = NULL;
	struct shoal_err e = {""};
	int rc = img_history_json(st->img, name, &o, &e);
	if (rc < 0) {
		api_reply_error(call, status_of(rc), "%s",
				e.msg[0] ? e.msg : shoal_strerror(rc));
		return;
	}
	api_reply_json(call, 200, o);
}

static const struct api_route routes[] = {
	{"POST", "/commit", commit},
	{"GET", "/images/{name}/history", history},
	{"GET", "/images/{repo}/{name}/history", history},
};

const struct api_route_table api_commit_table = {
	.name = "commit",
	.routes = routes,
	.nroutes = sizeof(routes) / sizeof(routes[0]),
};
