/*
 * The router: version prefix, pattern matching, Docker's error shapes. See
 * api.h. Patterns are matched segment by segment; the first route whose
 * pattern and method match wins, so tables should not overlap (api_add_
 * routes refuses exact duplicates). Matching is linear in the number of
 * routes, which stays in the low hundreds for the whole Engine API.
 */
#define LOG_MODULE "api"
#include "api/api.h"
#include "api/internal.h"
#include "common/alloc.h"
#include "common/jsonx.h"
#include "common/log.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_TABLES 32

struct api {
	struct api_services svc;
	const struct api_route_table *tables[MAX_TABLES];
	size_t ntables;
	struct api__state *st; /* NULL without a runtime */
};

struct api__state *api__state_of(const struct api_call *call)
{
	return call->api->st;
}

struct api__state *api__state_for(struct api *api)
{
	return api->st;
}

int api_new(const struct api_services *svc, struct api **out)
{
	struct api *api = shoal_calloc(1, sizeof(*api));
	if (!api)
		return -ENOMEM;
	api->svc = *svc;
	if (svc->engine && svc->loop && api__state_new(svc, &api->st) < 0) {
		shoal_free(api);
		return -ENOMEM;
	}
	for (size_t i = 0; i < api__ntables; i++) {
		int rc = api_add_routes(api, api__tables[i]);
		if (rc < 0) {
			api__state_free(api->st);
			shoal_free(api);
			return rc;
		}
	}
	*out = api;
	return 0;
}

void api_free(struct api *api)
{
	if (!api)
		return;
	api__state_free(api->st);
	shoal_free(api);
}

static const struct api_route *
find_exact(const struct api *api, const char *method, const char *pattern)
{
	for (size_t t = 0; t < api->ntables; t++) {
		const struct api_route_table *tb = api->tables[t];
		for (size_t i = 0; i < tb->nroutes; i++)
			if (strcmp(tb->routes[i].method, method) == 0 &&
			    strcmp(tb->routes[i].pattern, pattern) == 0)
				return &tb->routes[i];
	}
	return NULL;
}

int api_add_routes(struct api *api, const struct api_route_table *table)
{
	if (api->ntables == MAX_TABLES)
		return -ENOMEM;
	for (size_t i = 0; i < table->nroutes; i++)
		if (find_exact(api, table->routes[i].method,
			       table->routes[i].pattern))
			return -EEXIST;
	api->tables[api->ntables++] = table;
	return 0;
}

const char *api_param(const struct api_call *call, const char *name)
{
	for (size_t i = 0; i < call->nparams; i++)
		if (strcmp(call->param_names[i], name) == 0)
			return call->param_values[i];
	return NULL;
}

/*
 * Whether @path matches @pattern; captures go into @call, pointing into
 * @scratch (a copy of the path whose separators become NULs) and into the
 * pattern (names are kept as "{id}" minus braces in @names).
 */
struct match {
	size_t n;
	char names[API_MAX_PARAMS][32];
	char *values[API_MAX_PARAMS];
};

static bool match(const char *pattern, char *path, struct match *m)
{
	const char *p = pattern;
	char *s = path;
	m->n = 0;
	while (*p && *s) {
		if (*p != '/' || *s != '/')
			return false;
		p++;
		s++;
		const char *pe = strchrnul(p, '/');
		char *se = strchrnul(s, '/');
		size_t plen = (size_t)(pe - p), slen = (size_t)(se - s);
		if (plen >= 2 && p[0] == '{' && p[plen - 1] == '}') {
			if (slen == 0 || m->n == API_MAX_PARAMS ||
			    plen - 2 >= sizeof(m->names[0]))
				return false;
			memcpy(m->names[m->n], p + 1, plen - 2);
			m->names[m->n][plen - 2] = '\0';
			m->values[m->n++] = s;
		} else if (plen != slen || memcmp(p, s, plen) != 0) {
			return false;
		}
		p = pe;
		s = se;
	}
	return *p == '\0' && *s == '\0';
}

/*
 * Strip "/vMAJOR.MINOR" from @path. Returns the rest (or @path), sets
 * *@minor, or returns NULL with @err filled for an unsupported version.
 */
static const char *strip_version(const char *path, int *minor, char *err,
				 size_t errlen)
{
	*minor = atoi(&API_VERSION[2]);
	if (path[0] != '/' || path[1] != 'v')
		return path;
	const char *v = path + 2;
	size_t n = strspn(v, "0123456789.");
	if (n == 0 || (v[n] != '/' && v[n] != '\0'))
		return path;
	char ver[16];
	if (n >= sizeof(ver))
		n = sizeof(ver) - 1;
	memcpy(ver, v, n);
	ver[n] = '\0';
	char *end;
	long major = strtol(ver, &end, 10);
	long mi = *end == '.' ? strtol(end + 1, &end, 10) : -1;
	if (*end != '\0' || mi < 0) {
		snprintf(err, errlen, "invalid API version: %s", ver);
		return NULL;
	}
	if (major < 1 || (major == 1 && mi < API_MIN_MINOR)) {
		snprintf(err, errlen,
			 "client version %s is too old. Minimum supported API "
			 "version is %s, please upgrade your client to a "
			 "newer version",
			 ver, API_MIN_VERSION);
		return NULL;
	}
	if (major > 1 || mi > API_MAX_MINOR) {
		snprintf(err, errlen,
			 "client version %s is too new. Maximum supported API "
			 "version is 1.%d",
			 ver, API_MAX_MINOR);
		return NULL;
	}
	*minor = (int)mi;
	return v + n;
}

void api_add_common_headers(struct http_response *res)
{
	http_response_header(res, "Api-Version", API_VERSION);
	http_response_header(res, "Docker-Experimental", "false");
	http_response_header(res, "Ostype", "linux");
	http_response_header(res, "Server", "Shoal/" SHOAL_VERSION " (linux)");
}

/* Find the route for @method and @rest; *@path_known if any method fits. */
static const struct api_route *route(const struct api *api, const char *method,
				     const char *rest, char *scratch,
				     struct match *m, bool *path_known)
{
	*path_known = false;
	for (size_t t = 0; t < api->ntables; t++) {
		const struct api_route_table *tb = api->tables[t];
		for (size_t i = 0; i < tb->nroutes; i++) {
			strcpy(scratch, rest);
			if (!match(tb->routes[i].pattern, scratch, m))
				continue;
			*path_known = true;
			if (strcmp(tb->routes[i].method, method) == 0)
				return &tb->routes[i];
		}
	}
	return NULL;
}

/* NUL-terminate captured values inside @scratch. */
static void cut_values(struct match *m)
{
	for (size_t i = 0; i < m->n; i++) {
		char *e = strchrnul(m->values[i], '/');
		*e = '\0';
	}
}

void api_body_policy(const struct http_request *req,
		     struct http_body_policy *policy, void *arg)
{
	struct api *api = arg;
	char err[256];
	int minor;
	policy->max_bytes = API_JSON_BODY_MAX;
	policy->spool = false;
	const char *rest = strip_version(req->path, &minor, err, sizeof(err));
	char *scratch = rest ? shoal_malloc(strlen(rest) + 1) : NULL;
	if (!scratch)
		return; /* answered 400 (or 500) once the body is in */
	struct match m;
	bool known;
	const struct api_route *r =
		route(api, req->method, rest, scratch, &m, &known);
	if (!r && strcmp(req->method, "HEAD") == 0)
		r = route(api, "GET", rest, scratch, &m, &known);
	shoal_free(scratch);
	for (size_t i = 0; r && i < api__narchive_routes; i++)
		if (!strcmp(api__archive_routes[i].method, r->method) &&
		    !strcmp(api__archive_routes[i].pattern, r->pattern)) {
			policy->max_bytes = API_ARCHIVE_BODY_MAX;
			policy->spool = true;
		}
}

void api_http_handler(struct http_request *req, struct http_response *res,
		      void *arg)
{
	struct api *api = arg;
	struct api_call call = {
		.api = api,
		.svc = &api->svc,
		.req = req,
		.res = res,
	};
	char err[256];
	api_add_common_headers(res);
	const char *rest =
		strip_version(req->path, &call.version_minor, err, sizeof(err));
	if (!rest) {
		http_response_send_error(res, 400, err);
		return;
	}
	size_t len = strlen(rest);
	char *scratch = shoal_malloc(len + 1);
	if (!scratch) {
		http_response_send_error(res, 500, "out of memory");
		return;
	}
	struct match m;
	bool known;
	const struct api_route *r =
		route(api, req->method, rest, scratch, &m, &known);
	if (!r && strcmp(req->method, "HEAD") == 0)
		r = route(api, "GET", rest, scratch, &m, &known);
	if (!r) {
		shoal_free(scratch);
		if (known)
			http_response_send_error(res, 405,
						 "method not allowed");
		else
			http_response_send_error(res, 404, "page not found");
		return;
	}
	cut_values(&m);
	call.nparams = m.n;
	for (size_t i = 0; i < m.n; i++) {
		call.param_names[i] = m.names[i];
		call.param_values[i] = m.values[i];
	}
	log_debug("%s %s", req->method, req->url);
	r->fn(&call);
	shoal_free(scratch);
}

int api_reply_json(struct api_call *call, int status, json_t *body)
{
	size_t len = 0;
	char *s = body ? jsonx_dump(body, &len) : NULL;
	json_decref(body);
	if (!s)
		return http_response_send_error(call->res, 500,
						"out of memory");
	int rc = http_response_send(call->res, status, "application/json", s,
				    len);
	shoal_free(s);
	return rc;
}

int api_reply_error(struct api_call *call, int status, const char *fmt, ...)
{
	char msg[512];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	return http_response_send_error(call->res, status, msg);
}
