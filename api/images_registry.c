/*
 * Registry routes of the Docker Engine API v1.45: POST
 * /images/create?fromImage= (docker pull, and the pull the docker CLI does
 * itself for `docker run` of an image this node lacks), with Docker's
 * progress JSON lines. Credentials come with each request in the
 * X-Registry-Auth header and are never stored by the daemon.
 *
 * A pull that fails before the registry answered its manifest gets an HTTP
 * error status (404 for an unknown repository or tag), as Docker's does: the
 * first progress line ("Pulling from ...") is held back until the next one
 * arrives. After that, errors are an {"error", "errorDetail"} line in the
 * stream.
 *
 * POST /images/{name}/push?tag= (docker push) sends a local image, with
 * Docker's push progress and its closing digest and aux lines.
 *
 * GET /distribution/{name}/json describes what the registry holds under a
 * reference (Docker's Descriptor and Platforms), for `service create`'s
 * digest pinning.
 *
 * POST /auth checks a login against the registry; GET /images/search
 * searches a registry's catalog (Docker Hub's search is refused: it has
 * no catalog).
 */
#define LOG_MODULE "api"
#include "api/internal.h"
#include "common/alloc.h"
#include "common/jsonx.h"
#include "common/log.h"
#include "image/registry.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct pull_job {
	struct http_response *res; /* NULL once the client left */
	struct eng *eng;
	bool begun;
	json_t *held;	/* the first line, until a second one comes */
	char name[600]; /* familiar repository name, for messages */
	char certs[4096];
};

static void pull_gone(struct http_response *res, void *arg)
{
	struct pull_job *j = arg;
	j->res = NULL;
}

static void write_line(struct http_response *res, json_t *o)
{
	size_t len;
	char *s = o ? jsonx_dump(o, &len) : NULL;
	if (s)
		http_response_write(res, s, len);
	shoal_free(s);
}

/*
 * Docker's progress text (pkg/jsonmessage JSONProgress.String() at the
 * daemon's width of 200): "[" + percent/2 '=' + ">" + the rest in spaces +
 * "] " + "%8v/%v" in units.HumanSize (4 significant digits, powers of
 * 1000); only "%8v" of the current count without a total.
 */
static void human(uint64_t n, char *out, size_t cap)
{
	static const char *const u[] = {"B", "kB", "MB", "GB", "TB", "PB"};
	double v = (double)n;
	int i = 0;
	while (v >= 1000 && i < 5) {
		v /= 1000;
		i++;
	}
	snprintf(out, cap, "%.4g%s", v, u[i]);
}

static void bar(const struct img_pull_msg *m, char *out, size_t cap)
{
	char cur[32], tot[32];
	human(m->current, cur, sizeof(cur));
	if (!m->total) {
		snprintf(out, cap, "%8s", cur);
		return;
	}
	human(m->total, tot, sizeof(tot));
	unsigned pct =
		(unsigned)(100.0 * (double)m->current / (double)m->total) / 2;
	if (pct > 50)
		pct = 50;
	char b[53];
	memset(b, '=', pct);
	b[pct] = '>';
	memset(b + pct + 1, ' ', 50 - pct);
	b[51] = '\0';
	if (m->current > m->total)
		snprintf(out, cap, "[%s] ", b);
	else
		snprintf(out, cap, "[%s] %8s/%s", b, cur, tot);
}

static json_t *msg_json(const struct img_pull_msg *m)
{
	json_t *o = json_pack("{s:s}", "status", m->status);
	if (!o)
		return NULL;
	if (m->detail) {
		json_t *d = json_object();
		if (m->current || m->total) {
			char b[128];
			jsonx_set(d, "current",
				  json_integer((json_int_t)m->current));
			if (m->total)
				jsonx_set(d, "total",
					  json_integer((json_int_t)m->total));
			bar(m, b, sizeof(b));
			jsonx_set(o, "progress", json_string(b));
		}
		jsonx_set(o, "progressDetail", d);
	}
	if (m->id[0])
		jsonx_set(o, "id", json_string(m->id));
	return o;
}

static int begin(struct pull_job *j)
{
	if (j->begun)
		return 0;
	j->begun = true;
	int rc = http_response_begin(j->res, 200, "application/json");
	if (rc == 0 && j->held)
		write_line(j->res, j->held);
	json_decref(j->held);
	j->held = NULL;
	return rc;
}

static void on_msg(const struct img_pull_msg *m, void *arg)
{
	struct pull_job *j = arg;
	if (!j->res)
		return;
	json_t *o = msg_json(m);
	if (!j->begun && !j->held) {
		j->held = o;
		return;
	}
	if (begin(j) == 0)
		write_line(j->res, o);
	json_decref(o);
}

static int status_of(int rc)
{
	/* A refused pull is a 404, as moby's (distribution/errors.go): a 401
	 * would make the docker CLI prompt for a login. */
	return rc == SHOAL_ENOTFOUND || rc == -EACCES ? 404
	       : rc == -EINVAL			      ? 400
						      : 500;
}

static void status_line(struct http_response *res, const char *text)
{
	json_t *o = json_pack("{s:s}", "status", text);
	write_line(res, o);
	json_decref(o);
}

static void pull_done(int status, const char *errmsg, json_t *result, void *arg)
{
	struct pull_job *j = arg;
	const char *ref = jsonx_str(result, "ref", NULL);
	if (status >= 0 && j->eng)
		eng_event_post(j->eng, "image", "pull", ref ? ref : "",
			       json_pack("{s:s}", "name", ref ? ref : ""));
	if (j->res) {
		http_response_on_close(j->res, NULL, NULL);
		char denied[SHOAL_ERR_MAX + 700];
		const char *msg =
			errmsg && *errmsg ? errmsg : shoal_strerror(status);
		if (status == -EACCES) {
			snprintf(denied, sizeof(denied),
				 "pull access denied for %s, repository does "
				 "not exist or may require 'docker login': %s",
				 j->name, msg);
			msg = denied;
		}
		if (status < 0 && !j->begun) {
			http_response_send_error(j->res, status_of(status),
						 msg);
		} else if (status < 0) {
			json_t *o = json_pack("{s:{s:s}, s:s}", "errorDetail",
					      "message", msg, "error", msg);
			write_line(j->res, o);
			json_decref(o);
			http_response_end(j->res);
		} else if (begin(j) == 0) {
			char line[1024];
			snprintf(line, sizeof(line), "Digest: %s",
				 jsonx_str(result, "digest", ""));
			/* --all-tags: each tag had its Digest line. */
			if (!jsonx_bool(result, "all_tags", false))
				status_line(j->res, line);
			snprintf(line, sizeof(line), "Status: %s for %s",
				 jsonx_bool(result, "new", false)
					 ? "Downloaded newer image"
					 : "Image is up to date",
				 ref ? ref : "");
			status_line(j->res, line);
			http_response_end(j->res);
		}
	}
	json_decref(j->held);
	shoal_free(j);
}

/* shoald's --insecure-registry values into @o (pointers into svc). */
/* What every registry request takes from the daemon and the call: the
 * --insecure-registry list, the certs.d folder (into @certs, which must
 * live as long as the request) and X-Registry-Auth (@authj to release
 * once the request has copied it). -1 after replying 400 to a bad
 * header. */
static int registry_access(struct api_call *call, const struct api__state *st,
			   char *certs, size_t cap,
			   const char *const **insecure, size_t *n_insecure,
			   const char **certs_dir, struct img_auth *auth,
			   json_t **authj)
{
	struct shoal_err err = {""};
	*insecure = call->svc->insecure_registries;
	*n_insecure = call->svc->n_insecure_registries;
	snprintf(certs, cap, "%s/certs.d", st->data_root);
	*certs_dir = certs;
	*authj = NULL;
	if (!auth)
		return 0;
	const char *hdr = http_request_header(call->req, "X-Registry-Auth");
	if (img_auth_decode(hdr, authj, auth, &err) < 0) {
		api_reply_error(call, 400, "%s", err.msg);
		return -1;
	}
	return 0;
}

/* fromImage and tag into one reference, as moby's postImagesCreate. */
static int pull_reference(struct api_call *call, const char *from, char *out,
			  size_t cap)
{
	const char *tag = http_request_query(call->req, "tag");
	const char *slash = strrchr(from, '/');
	const char *colon = strrchr(from, ':');
	bool has_tag =
		strchr(from, '@') || (colon && (!slash || colon > slash));
	int n;
	if (tag && *tag && has_tag) {
		api_reply_error(call, 400,
				"invalid reference: fromImage %s already has a "
				"tag or digest and tag=%s was given",
				from, tag);
		return -1;
	}
	if (tag && *tag)
		n = snprintf(out, cap, "%s%s%s", from,
			     strncmp(tag, "sha256:", 7) ? ":" : "@", tag);
	else /* tagged already, or no tag: every tag (--all-tags) */
		n = snprintf(out, cap, "%s", from);
	if (n < 0 || (size_t)n >= cap) {
		api_reply_error(call, 400, "reference too long");
		return -1;
	}
	return 0;
}

void api__images_pull(struct api_call *call, struct img_store *s,
		      const char *from)
{
	struct api__state *st = api__state_of(call);
	char ref[600];
	struct shoal_err err;
	struct img_ref parsed;
	if (pull_reference(call, from, ref, sizeof(ref)) < 0)
		return;
	if (img_ref_parse(ref, &parsed, &err) < 0) {
		api_reply_error(call, 400, "%s", err.msg);
		return;
	}
	json_t *authj;
	struct img_pull_opts o = {.reference = ref};
	struct pull_job *j = shoal_calloc(1, sizeof(*j));
	if (!j) {
		api_reply_error(call, 500, "out of memory");
		return;
	}
	if (registry_access(call, st, j->certs, sizeof(j->certs), &o.insecure,
			    &o.n_insecure, &o.certs_dir, &o.auth, &authj) < 0) {
		shoal_free(j);
		return;
	}
	o.platform = http_request_query(call->req, "platform");
	/* No tag: docker pull --all-tags. */
	const char *qtag = http_request_query(call->req, "tag");
	const char *sl = strrchr(ref, '/'), *co = strrchr(ref, ':');
	o.all_tags = !(qtag && *qtag) && !strchr(ref, '@') &&
		     !(co && (!sl || co > sl));
	j->res = call->res;
	j->eng = st->eng;
	img_ref_familiar(&parsed, j->name, sizeof(j->name));
	int rc = img_pull_async(st->loop, s, &o, on_msg, pull_done, j);
	json_decref(authj);
	if (rc < 0) {
		shoal_free(j);
		api_reply_error(call, 500, "cannot start the pull: %s",
				shoal_strerror(rc));
		return;
	}
	http_response_on_close(call->res, pull_gone, j);
}

/* --- push ------------------------------------------------------------------
 */

static void push_done(int status, const char *errmsg, json_t *result, void *arg)
{
	struct pull_job *j = arg;
	if (status >= 0 && j->eng)
		eng_event_post(j->eng, "image", "push", j->name,
			       json_pack("{s:s}", "name", j->name));
	if (j->res) {
		http_response_on_close(j->res, NULL, NULL);
		const char *msg =
			errmsg && *errmsg ? errmsg : shoal_strerror(status);
		if (status < 0 && !j->begun) {
			http_response_send_error(j->res, status_of(status),
						 msg);
		} else if (status < 0) {
			json_t *o = json_pack("{s:{s:s}, s:s}", "errorDetail",
					      "message", msg, "error", msg);
			write_line(j->res, o);
			json_decref(o);
			http_response_end(j->res);
		} else if (begin(j) == 0) {
			/* Docker's last two lines: the digest, then aux. */
			char line[1024];
			const char *tag = jsonx_str(result, "tag", "");
			const char *digest = jsonx_str(result, "digest", "");
			json_int_t size = json_integer_value(
				json_object_get(result, "size"));
			snprintf(line, sizeof(line),
				 "%s: digest: %s size: %lld", tag, digest,
				 (long long)size);
			status_line(j->res, line);
			json_t *aux =
				json_pack("{s:{},s:{s:s,s:s,s:I}}",
					  "progressDetail", "aux", "Tag", tag,
					  "Digest", digest, "Size", size);
			write_line(j->res, aux);
			json_decref(aux);
			http_response_end(j->res);
		}
	}
	json_decref(j->held);
	shoal_free(j);
}

static void push(struct api_call *call)
{
	struct api__state *st = api__need(call);
	if (!st)
		return;
	if (!st->img) {
		api_reply_error(call, 501, "this daemon has no image store");
		return;
	}
	const char *ns = api_param(call, "ns");
	const char *name = api_param(call, "name");
	const char *tag = http_request_query(call->req, "tag");
	char ref[600];
	struct shoal_err err;
	struct img_ref parsed;
	if (!tag || !*tag) {
		api_reply_error(call, 501,
				"pushing every tag of %s%s%s (docker push "
				"--all-tags) is not supported: name a tag",
				ns ? ns : "", ns ? "/" : "", name);
		return;
	}
	int n = snprintf(ref, sizeof(ref), "%s%s%s:%s", ns ? ns : "",
			 ns ? "/" : "", name, tag);
	if (n < 0 || (size_t)n >= sizeof(ref) ||
	    img_ref_parse(ref, &parsed, &err) < 0) {
		api_reply_error(call, 400, "invalid reference format: %s", ref);
		return;
	}
	json_t *authj;
	struct img_push_opts o = {.reference = ref};
	struct pull_job *j = shoal_calloc(1, sizeof(*j));
	if (!j) {
		api_reply_error(call, 500, "out of memory");
		return;
	}
	if (registry_access(call, st, j->certs, sizeof(j->certs), &o.insecure,
			    &o.n_insecure, &o.certs_dir, &o.auth, &authj) < 0) {
		shoal_free(j);
		return;
	}
	j->res = call->res;
	j->eng = st->eng;
	img_ref_familiar(&parsed, j->name, sizeof(j->name));
	int rc = img_push_async(st->loop, st->img, &o, on_msg, push_done, j);
	json_decref(authj);
	if (rc < 0) {
		shoal_free(j);
		api_reply_error(call, 500, "cannot start the push: %s",
				shoal_strerror(rc));
		return;
	}
	http_response_on_close(call->res, pull_gone, j);
}

/* A registry call answered as one JSON object (login, distribution). */
struct dist_job {
	struct http_response *res; /* NULL once the client left */
	char certs[4096];
};

static void dist_gone(struct http_response *res, void *arg)
{
	struct dist_job *j = arg;
	j->res = NULL;
}

/* --- GET /images/search --- */

static void dist_done(int status, const char *errmsg, json_t *result,
		      void *arg);

/*
 * A catalog's entries are never official, automated or starred:
 * is-official=true, is-automated=true and stars>0 leave nothing;
 * the opposite values keep everything. Other values are refused.
 */
static int search_filters(const json_t *f, bool *none, char *err, size_t cap)
{
	static const char *const names[] = {"is-official", "is-automated"};
	const char *v[API__FILTER_VALUES + 1];
	*none = false;
	for (size_t i = 0; i < 2; i++) {
		size_t n = api__filter_values(f, names[i], v);
		for (size_t k = 0; k < n; k++) {
			if (strcmp(v[k], "true") && strcmp(v[k], "false")) {
				snprintf(err, cap,
					 "invalid filter '%s=%s': expected "
					 "true or false",
					 names[i], v[k]);
				return -EINVAL;
			}
			*none |= !strcmp(v[k], "true");
		}
	}
	size_t n = api__filter_values(f, "stars", v);
	for (size_t k = 0; k < n; k++) {
		char *end;
		long stars = strtol(v[k], &end, 10);
		if (!*v[k] || *end) {
			snprintf(err, cap,
				 "invalid filter 'stars=%s': expected a number",
				 v[k]);
			return -EINVAL;
		}
		*none |= stars > 0;
	}
	return 0;
}

/* limit: Docker's default 25, within [1, 100]. -1 when refused. */
static long search_limit(struct api_call *call)
{
	const char *lim = http_request_query(call->req, "limit");
	long limit = 25;
	char *end;
	if (lim && *lim) {
		limit = strtol(lim, &end, 10);
		if (*end || limit < 1 || limit > 100) {
			api_reply_error(call, 400,
					"limit %s is outside the range of [1, "
					"100]",
					lim);
			return -1;
		}
	}
	return limit;
}

static void search(struct api_call *call)
{
	struct api__state *st = api__need(call);
	if (!st)
		return;
	static const char *const known[] = {"is-official", "is-automated",
					    "stars", NULL};
	const char *term = http_request_query(call->req, "term");
	json_t *f = NULL;
	char err[300];
	bool none;
	if (api__filters_parse(http_request_query(call->req, "filters"), known,
			       &f, err, sizeof(err)) < 0 ||
	    search_filters(f, &none, err, sizeof(err)) < 0) {
		json_decref(f);
		api_reply_error(call, 400, "%s", err);
		return;
	}
	json_decref(f);
	long limit = search_limit(call);
	if (limit < 0)
		return;
	if (!term || !*term) {
		api_reply_error(call, 400, "a search term is required");
		return;
	}
	size_t n = strcspn(term, "/");
	if (!term[n] || !(memchr(term, '.', n) || memchr(term, ':', n) ||
			  (n == 9 && !strncmp(term, "localhost", 9)))) {
		api_reply_error(call, 501,
				"searching Docker Hub is not supported: name "
				"a registry (docker search HOST:PORT/TERM), "
				"whose catalog is searched");
		return;
	}
	char host[256];
	if (n >= sizeof(host) || strlen(term + n + 1) >= 256) {
		api_reply_error(call, 400, "search term too long");
		return;
	}
	memcpy(host, term, n);
	host[n] = '\0';
	if (none) {
		api_reply_json(call, 200, json_array());
		return;
	}
	json_t *authj;
	struct img_pull_opts o = {.reference = term};
	struct dist_job *j = shoal_calloc(1, sizeof(*j));
	if (!j) {
		api_reply_error(call, 500, "out of memory");
		return;
	}
	if (registry_access(call, st, j->certs, sizeof(j->certs), &o.insecure,
			    &o.n_insecure, &o.certs_dir, &o.auth, &authj) < 0) {
		shoal_free(j);
		return;
	}
	j->res = call->res;
	int rc = img_search_async(st->loop, &o, host, term + n + 1,
				  (size_t)limit, dist_done, j);
	json_decref(authj);
	if (rc < 0) {
		shoal_free(j);
		api_reply_error(call, 500, "cannot start the search: %s",
				shoal_strerror(rc));
		return;
	}
	http_response_on_close(call->res, dist_gone, j);
}

/* --- POST /auth (docker login) --- */

static void login_done(int status, const char *errmsg, json_t *result,
		       void *arg)
{
	struct dist_job *j = arg;
	if (j->res) {
		http_response_on_close(j->res, NULL, NULL);
		const char *msg =
			errmsg && *errmsg ? errmsg : shoal_strerror(status);
		if (status < 0) {
			http_response_send_error(j->res,
						 status == -EACCES   ? 401
						 : status == -EINVAL ? 400
								     : 500,
						 msg);
		} else {
			json_t *o = json_pack("{s:s,s:s}", "IdentityToken", "",
					      "Status", "Login Succeeded");
			size_t len;
			char *s = o ? jsonx_dump(o, &len) : NULL;
			if (s && http_response_begin(j->res, 200,
						     "application/json") == 0) {
				http_response_write(j->res, s, len);
				http_response_end(j->res);
			} else if (!s) {
				http_response_send_error(j->res, 500,
							 "out of memory");
			}
			shoal_free(s);
			json_decref(o);
		}
	}
	shoal_free(j);
}

/*
 * Docker's AuthConfig: username and password are checked against the
 * registry at serveraddress; email is ignored, as Docker ignores it;
 * identity and registry tokens are refused (not checked here).
 */
static void auth(struct api_call *call)
{
	struct api__state *st = api__need(call);
	if (!st)
		return;
	json_t *body = NULL;
	char err[256];
	if (jsonx_parse_object(call->req->body, call->req->body_len, &body, err,
			       sizeof(err)) < 0) {
		api_reply_error(call, 400, "%s", err);
		return;
	}
	struct img_pull_opts o = {
		.reference = jsonx_str(body, "serveraddress", ""),
		.auth.username = jsonx_str(body, "username", NULL),
		.auth.password = jsonx_str(body, "password", NULL),
	};
	const char *idt = jsonx_str(body, "identitytoken", "");
	const char *rgt = jsonx_str(body, "registrytoken", "");
	if (*idt || *rgt) {
		json_decref(body);
		api_reply_error(call, 400,
				"%s: logging in with a token is not "
				"supported: give a user name and password",
				*idt ? "identitytoken" : "registrytoken");
		return;
	}
	struct dist_job *j = shoal_calloc(1, sizeof(*j));
	json_t *none;
	if (!j) {
		json_decref(body);
		api_reply_error(call, 500, "out of memory");
		return;
	}
	/* The credentials are the body's, not X-Registry-Auth's. */
	registry_access(call, st, j->certs, sizeof(j->certs), &o.insecure,
			&o.n_insecure, &o.certs_dir, NULL, &none);
	j->res = call->res;
	int rc = img_login_async(st->loop, &o, login_done, j);
	json_decref(body);
	if (rc < 0) {
		shoal_free(j);
		api_reply_error(call, 500, "cannot start the login: %s",
				shoal_strerror(rc));
		return;
	}
	http_response_on_close(call->res, dist_gone, j);
}

/* --- /distribution/{name}/json --- */

static void dist_done(int status, const char *errmsg, json_t *result, void *arg)
{
	struct dist_job *j = arg;
	if (j->res) {
		http_response_on_close(j->res, NULL, NULL);
		const char *msg =
			errmsg && *errmsg ? errmsg : shoal_strerror(status);
		int code = status == SHOAL_ENOTFOUND ? 404
			   : status == -EACCES	     ? 403
			   : status == -EINVAL	     ? 400
						     : 500;
		if (status < 0) {
			http_response_send_error(j->res, code, msg);
		} else {
			size_t len;
			char *s = jsonx_dump(result, &len);
			if (s && http_response_begin(j->res, 200,
						     "application/json") == 0) {
				http_response_write(j->res, s, len);
				http_response_end(j->res);
			} else if (!s) {
				http_response_send_error(j->res, 500,
							 "out of memory");
			}
			shoal_free(s);
		}
	}
	shoal_free(j);
}

/*
 * An image this node has under @ref that no registry gave it (loaded,
 * imported, built, committed: no RepoDigest for its repository) is not
 * looked up: a registry's image of the same name is another image, and
 * pinning a service to it would name an image the tasks do not have.
 * The docker CLI then warns and keeps the name, as without this route.
 */
static bool local_only(struct img_store *s, const struct img_ref *r,
		       const char *ref)
{
	json_t *o = NULL;
	char fam[600];
	if (!s || img_inspect_json(s, ref, &o, NULL) < 0)
		return false;
	img_ref_familiar(r, fam, sizeof(fam));
	size_t n = strlen(fam);
	json_t *rds = json_object_get(o, "RepoDigests");
	bool from_registry = false;
	for (size_t i = 0; i < json_array_size(rds); i++) {
		const char *d = json_string_value(json_array_get(rds, i));
		from_registry |= d && !strncmp(d, fam, n) && d[n] == '@';
	}
	json_decref(o);
	return !from_registry;
}

static void distribution(struct api_call *call)
{
	struct api__state *st = api__need(call);
	if (!st)
		return;
	const char *ns = api_param(call, "ns");
	const char *name = api_param(call, "name");
	char ref[600];
	struct shoal_err err;
	struct img_ref parsed;
	int n = snprintf(ref, sizeof(ref), "%s%s%s", ns ? ns : "",
			 ns ? "/" : "", name);
	if (n < 0 || (size_t)n >= sizeof(ref) ||
	    img_ref_parse(ref, &parsed, &err) < 0) {
		api_reply_error(call, 400, "invalid reference format: %s", ref);
		return;
	}
	if (local_only(st->img, &parsed, ref)) {
		api_reply_error(call, 404,
				"image %s on this node did not come from a "
				"registry (it was loaded, imported or built): "
				"its registry digest is not looked up",
				ref);
		return;
	}
	json_t *authj;
	struct img_pull_opts o = {.reference = ref};
	struct dist_job *j = shoal_calloc(1, sizeof(*j));
	if (!j) {
		api_reply_error(call, 500, "out of memory");
		return;
	}
	if (registry_access(call, st, j->certs, sizeof(j->certs), &o.insecure,
			    &o.n_insecure, &o.certs_dir, &o.auth, &authj) < 0) {
		shoal_free(j);
		return;
	}
	j->res = call->res;
	int rc = img_distribution_async(st->loop, &o, dist_done, j);
	json_decref(authj);
	if (rc < 0) {
		shoal_free(j);
		api_reply_error(call, 500, "cannot reach the registry: %s",
				shoal_strerror(rc));
		return;
	}
	http_response_on_close(call->res, dist_gone, j);
}

static const struct api_route routes[] = {
	{"POST", "/images/{name}/push", push},
	{"POST", "/images/{ns}/{name}/push", push},
	{"GET", "/images/search", search},
	{"POST", "/auth", auth},
	{"GET", "/distribution/{name}/json", distribution},
	{"GET", "/distribution/{ns}/{name}/json", distribution},
};

const struct api_route_table api_images_registry_table = {
	.routes = routes,
	.nroutes = sizeof(routes) / sizeof(routes[0]),
};
