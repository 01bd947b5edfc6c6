/*
 * POST /build (Docker Engine API v1.45, "ImageBuild"), the classic
 * builder: what `docker build` sends with DOCKER_BUILDKIT=0 and what
 * `shoal build` sends. The request body, the context tar, is spooled to
 * a file (api/routes.c lists the route); the build itself is
 * eng_build_start() (engine/build.c). The answer is Docker's stream of
 * JSON objects, one per line: {"stream": "Step 1/3 : FROM busybox\n"},
 * ..., {"aux": {"ID": "sha256:..."}}, {"stream": "Successfully built
 * ...\n"}, {"stream": "Successfully tagged ...\n"}; a failure after the
 * head is {"errorDetail": {"message": m}, "error": m}, as the docker CLI
 * prints it.
 *
 * Every query parameter the docker CLI sends is either applied (t,
 * dockerfile, target, q, nocache, rm, forcerm, buildargs, networkmode
 * default/none) or must hold its default; anything else is refused with
 * a 400 naming the flag (a build with --memory, --label, --pull,
 * --cache-from, ... would otherwise silently differ). version=2
 * (BuildKit) is refused.
 */
#define LOG_MODULE "api"
#include "engine/build.h"
#include "api/internal.h"
#include "common/alloc.h"
#include "common/buf.h"
#include "common/error.h"
#include "common/jsonx.h"
#include "common/log.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#define MAX_TAGS 64

struct build_call {
	struct http_response *res; /* NULL once the client left */
	struct eng_build *b;
	int fd; /* the spooled context, kept until the end */
	bool quiet;
	char **tags;
	size_t n_tags;
	struct buf pending; /* output the connection could not take yet */
};

static void call_free(struct build_call *c)
{
	if (c->fd >= 0)
		close(c->fd);
	for (size_t i = 0; i < c->n_tags; i++)
		shoal_free(c->tags[i]);
	shoal_free(c->tags);
	buf_fini(&c->pending);
	shoal_free(c);
}

static void send_obj(struct build_call *c, json_t *o)
{
	size_t len;
	char *s = o ? jsonx_dump(o, &len) : NULL;
	json_decref(o);
	char *line = s ? shoal_malloc(len + 3) : NULL;
	if (line && c->res) {
		memcpy(line, s, len);
		memcpy(line + len, "\r\n", 3);
		/* Behind a full connection, in order: queued here until the
		 * drain callback (bounded by the buffer's limit). */
		if (c->pending.len ||
		    http_response_write(c->res, line, len + 2) == -ENOBUFS)
			buf_append(&c->pending, line, len + 2);
	}
	shoal_free(line);
	shoal_free(s);
}

static void on_drain(struct http_response *res, void *arg)
{
	struct build_call *c = arg;
	if (!c->pending.len)
		return;
	if (http_response_write(res, c->pending.data, c->pending.len) ==
	    -ENOBUFS)
		return;
	buf_reset(&c->pending);
}

static void on_out(const char *text, void *arg)
{
	send_obj(arg, json_pack("{s:s}", "stream", text));
}

static void on_gone(struct http_response *res, void *arg)
{
	struct build_call *c = arg;
	c->res = NULL;
	eng_build_detach(c->b);
	call_free(c);
}

static void on_done(int rc, const char *msg, const char *id, void *arg)
{
	struct build_call *c = arg;
	char line[256];
	if (rc < 0) {
		send_obj(c, json_pack("{s:{s:s},s:s}", "errorDetail", "message",
				      msg ? msg : shoal_strerror(rc), "error",
				      msg ? msg : shoal_strerror(rc)));
	} else {
		send_obj(c, json_pack("{s:{s:s}}", "aux", "ID", id));
		if (c->quiet)
			snprintf(line, sizeof(line), "%s\n", id);
		else
			snprintf(line, sizeof(line),
				 "Successfully built %.12s\n", id + 7);
		on_out(line, c);
		for (size_t i = 0; !c->quiet && i < c->n_tags; i++) {
			snprintf(line, sizeof(line), "Successfully tagged %s\n",
				 c->tags[i]);
			on_out(line, c);
		}
	}
	if (c->res) {
		http_response_on_close(c->res, NULL, NULL);
		http_response_on_drain(c->res, NULL, NULL);
		if (c->pending.len)
			http_response_write(c->res, c->pending.data,
					    c->pending.len);
		http_response_end(c->res);
	}
	call_free(c);
}

/* A query parameter that must hold its default (any of @ok), or 400. */
static int must_default(struct api_call *call, const char *name,
			const char *flag, const char *const *ok)
{
	const char *v = http_request_query(call->req, name);
	if (!v)
		return 0;
	for (size_t i = 0; ok[i]; i++)
		if (!strcmp(v, ok[i]))
			return 0;
	api_reply_error(call, 400,
			"docker build %s is not supported by Shoal's builder",
			flag);
	return -1;
}

static int check_defaults(struct api_call *call)
{
	static const char *const zero[] = {"", "0", NULL};
	static const char *const no[] = {"", "0", "false", NULL};
	static const char *const empty[] = {"", NULL};
	static const char *const none[] = {"", "null", "[]", "{}", NULL};
	static const char *const iso[] = {"", "default", NULL};
	static const char *const plat[] = {"", "linux", "linux/amd64", NULL};
	static const struct {
		const char *name, *flag;
		const char *const *ok;
	} d[] = {
		{"pull", "--pull", no},
		{"squash", "--squash", no},
		{"remote", "with a remote context", empty},
		{"extrahosts", "--add-host", empty},
		{"isolation", "--isolation", iso},
		{"cpusetcpus", "--cpuset-cpus", empty},
		{"cpusetmems", "--cpuset-mems", empty},
		{"cgroupparent", "--cgroup-parent", empty},
		{"cpushares", "--cpu-shares", zero},
		{"cpuquota", "--cpu-quota", zero},
		{"cpuperiod", "--cpu-period", zero},
		{"memory", "--memory", zero},
		{"memswap", "--memory-swap", zero},
		{"shmsize", "--shm-size", zero},
		{"ulimits", "--ulimit", none},
		{"labels", "--label", none},
		{"cachefrom", "--cache-from", none},
		{"outputs", "--output", none},
		{"platform", "--platform", plat},
		{"session", "with a BuildKit session", empty},
	};
	for (size_t i = 0; i < sizeof(d) / sizeof(d[0]); i++)
		if (must_default(call, d[i].name, d[i].flag, d[i].ok) < 0)
			return -1;
	const char *v = http_request_query(call->req, "version");
	if (v && *v && strcmp(v, "1")) {
		api_reply_error(
			call, 400,
			"BuildKit (builder version %s) is not supported "
			"by Shoal: build with DOCKER_BUILDKIT=0",
			v);
		return -1;
	}
	const char *net = http_request_query(call->req, "networkmode");
	if (net && *net && strcmp(net, "default") && strcmp(net, "none")) {
		api_reply_error(call, 400,
				"docker build --network=%s is not supported by "
				"Shoal's builder: RUN steps have no network",
				net);
		return -1;
	}
	return 0;
}

static int build_args(struct api_call *call, json_t **out)
{
	*out = NULL;
	const char *v = http_request_query(call->req, "buildargs");
	if (!v || !*v || !strcmp(v, "null"))
		return 0;
	char err[256];
	if (jsonx_parse_object(v, strlen(v), out, err, sizeof(err)) < 0) {
		api_reply_error(call, 400, "invalid buildargs: %s", err);
		return -1;
	}
	const char *k;
	json_t *x;
	json_object_foreach(*out, k, x)
	{
		if (!json_is_string(x) && !json_is_null(x)) {
			api_reply_error(call, 400,
					"invalid buildargs: %s is not a string",
					k);
			json_decref(*out);
			*out = NULL;
			return -1;
		}
	}
	return 0;
}

static struct build_call *make_call(struct api_call *call)
{
	struct build_call *c = shoal_calloc(1, sizeof(*c));
	if (!c)
		return NULL;
	c->fd = -1;
	buf_init(&c->pending, 64u << 20);
	c->tags = shoal_calloc(MAX_TAGS + 1, sizeof(char *));
	if (!c->tags) {
		call_free(c);
		return NULL;
	}
	for (size_t i = 0; i < call->req->nquery; i++) {
		if (strcmp(call->req->query[i].name, "t") ||
		    !*call->req->query[i].value)
			continue;
		if (c->n_tags == MAX_TAGS ||
		    !(c->tags[c->n_tags] =
			      shoal_strdup(call->req->query[i].value))) {
			call_free(c);
			return NULL;
		}
		c->n_tags++;
	}
	return c;
}

static void build(struct api_call *call)
{
	struct api__state *st = api__need(call);
	if (!st || check_defaults(call) < 0)
		return;
	if (call->req->body_fd < 0) {
		api_reply_error(call, 500, "the build context was not spooled");
		return;
	}
	json_t *args;
	if (build_args(call, &args) < 0)
		return;
	struct build_call *c = make_call(call);
	char path[64];
	if (c) {
		snprintf(path, sizeof(path), "/proc/self/fd/%d",
			 call->req->body_fd);
		c->fd = open(path, O_RDONLY | O_CLOEXEC);
		snprintf(path, sizeof(path), "/proc/self/fd/%d", c->fd);
	}
	if (!c || c->fd < 0) {
		json_decref(args);
		if (c)
			call_free(c);
		api_reply_error(call, 500, "cannot start the build: %s",
				c ? strerror(errno) : "out of memory");
		return;
	}
	c->quiet = api__query_bool(call, "q", false);
	struct eng_build_opts o = {
		.context = path,
		.dockerfile = http_request_query(call->req, "dockerfile"),
		.tags = (const char *const *)c->tags,
		.n_tags = c->n_tags,
		.build_args = args,
		.target = http_request_query(call->req, "target"),
		.no_cache = api__query_bool(call, "nocache", false),
		.quiet = c->quiet,
		.rm = api__query_bool(call, "rm", true),
		.force_rm = api__query_bool(call, "forcerm", false),
	};
	struct shoal_err err = {""};
	int rc = eng_build_start(st->eng, &o, on_out, on_done, c, &c->b, &err);
	json_decref(args);
	if (rc < 0) {
		call_free(c);
		api_reply_error(call, rc == -EINVAL ? 400 : 500, "%s",
				err.msg[0] ? err.msg : shoal_strerror(rc));
		return;
	}
	c->res = call->res;
	if (http_response_begin(call->res, 200, "application/json") < 0) {
		/* Nothing sent: the build runs on, unseen. */
		c->res = NULL;
		eng_build_detach(c->b); /* no callback runs after this */
		call_free(c);
		api_reply_error(call, 500, "out of memory");
		return;
	}
	http_response_on_close(call->res, on_gone, c);
	http_response_on_drain(call->res, on_drain, c);
}

static const struct api_route routes[] = {
	{"POST", "/build", build},
};

const struct api_route_table api_build_table = {
	.name = "build",
	.routes = routes,
	.nroutes = sizeof(routes) / sizeof(routes[0]),
};
