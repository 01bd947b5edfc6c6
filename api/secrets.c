/*
 * Docker's /secrets and /configs routes (Engine API 1.44, "Secret" and
 * "Config"): GET /secrets (filters id and name by prefix, names exact,
 * label key or key=value), POST /secrets/create (201 {"ID"}), GET and
 * DELETE /secrets/{id}, POST /secrets/{id}/update?version= (labels
 * only), and beyond Docker POST /secrets/{id}/rotate with {"Data":
 * base64}: new data, and every service using it rolls (docs/secrets.md).
 * The same for /configs. Translation only: checks and writes are the
 * managers' (manager/ops_secret.c), reads run after mgr_sync() as the
 * service routes' do. {id} is a full id, a name, or a unique id prefix.
 *
 * A secret's data is never returned; a config's is (Spec.Data, base64),
 * as Docker does.
 */
#include "manager/secrets.h"
#include "api/internal.h"
#include "api/services_common.h"
#include "api/swarm.h"
#include "common/alloc.h"
#include "common/error.h"
#include "common/id.h"
#include "common/jsonx.h"

#include <errno.h>
#include <sodium.h>
#include <stdio.h>
#include <string.h>

/* The object @ref names in @k's table: id, name, or unique id prefix. */
static const struct store_object *
find(const struct store *s, const struct secret_kind *k, const char *ref)
{
	if (!*ref)
		return NULL;
	const struct store_object *o = store_get(s, k->table, ref);
	if (o || (o = store_get_by_name(s, k->table, ref)))
		return o;
	const struct store_object **all;
	size_t n, hits = 0;
	if (store_list(s, k->table, &all, &n) < 0)
		return NULL;
	for (size_t i = 0; i < n; i++)
		if (!strncmp(all[i]->id, ref, strlen(ref))) {
			o = all[i];
			hits++;
		}
	shoal_free(all);
	return hits == 1 ? o : NULL;
}

/* Standard base64 of @len bytes (owned JSON string), NULL without memory. */
static json_t *b64_json(const uint8_t *data, size_t len)
{
	size_t cap =
		sodium_base64_encoded_len(len, sodium_base64_VARIANT_ORIGINAL);
	char *s = shoal_malloc(cap);
	if (!s)
		return NULL;
	sodium_bin2base64(s, cap, data, len, sodium_base64_VARIANT_ORIGINAL);
	json_t *v = json_string(s);
	shoal_free(s);
	return v;
}

/* Docker's Secret or Config object for @o (owned, NULL without memory). */
static json_t *object_json(const struct secret_kind *k,
			   const struct store_object *o)
{
	json_t *stored = api__obj_parsed(o->spec, o->spec_len);
	json_t *labels = jsonx_obj(stored, "Labels");
	json_t *spec = json_pack("{s:s, s:o}", "Name", o->name, "Labels",
				 labels ? json_incref(labels) : json_object());
	json_t *j = json_object();
	int rc = spec && j ? 0 : -ENOMEM;
	if (rc == 0 && json_object_get(stored, "Templating"))
		rc = jsonx_set(
			spec, "Templating",
			json_incref(json_object_get(stored, "Templating")));
	if (rc == 0 && k->table == STORE_CONFIGS)
		rc = jsonx_set(spec, "Data",
			       b64_json(o->status, o->status_len));
	rc |= jsonx_set(j, "ID", json_string(o->id));
	rc |= jsonx_set(j, "Version",
			json_pack("{s:I}", "Index", (json_int_t)o->version));
	rc |= jsonx_set(j, "CreatedAt", api__time_json(o->created_ns));
	rc |= jsonx_set(j, "UpdatedAt", api__time_json(o->updated_ns));
	rc |= jsonx_set(j, "Spec", json_incref(spec));
	if (jsonx_int(stored, "Rotation", 0))
		rc |= jsonx_set(j, "Rotation",
				json_integer(jsonx_int(stored, "Rotation", 0)));
	json_decref(spec);
	json_decref(stored);
	if (rc) {
		json_decref(j);
		return NULL;
	}
	return j;
}

/* --- filters ----------------------------------------------------------------
 */

static bool f_id(const char *v, const void *arg)
{
	const struct store_object *o = arg;
	return !strncmp(o->id, v, strlen(v));
}

static bool f_name(const char *v, const void *arg)
{
	const struct store_object *o = arg;
	return !strncmp(o->name, v, strlen(v));
}

static bool f_names(const char *v, const void *arg)
{
	const struct store_object *o = arg;
	return !strcmp(o->name, v);
}

struct label_arg {
	const json_t *labels;
};

static bool f_label(const char *v, const void *arg)
{
	const struct label_arg *a = arg;
	char key[256];
	const char *eq = strchr(v, '=');
	snprintf(key, sizeof(key), "%.*s",
		 (int)(eq ? (size_t)(eq - v) : strlen(v)), v);
	const char *have = jsonx_str(a->labels, key, NULL);
	return have && (!eq || !strcmp(have, eq + 1));
}

/* Every label filter must match (Docker ANDs labels, ORs the others). */
static bool labels_pass(const json_t *f, const json_t *labels)
{
	const json_t *vals = f ? json_object_get(f, "label") : NULL;
	struct label_arg a = {labels};
	size_t i;
	json_t *v;
	json_array_foreach(vals, i, v)
	{
		if (!f_label(json_string_value(v), &a))
			return false;
	}
	return true;
}

/* --- reads ------------------------------------------------------------------
 */

static void list_now(struct api_call *call, const struct secret_kind *k)
{
	static const char *const known[] = {"id", "label", "name", "names",
					    NULL};
	struct mgr *m = api__svc_manager(call);
	json_t *f;
	if (!m || api__filters(call, known, &f) < 0)
		return;
	const struct store_object **all;
	size_t n;
	if (store_list(mgr_store(m), k->table, &all, &n) < 0) {
		json_decref(f);
		api_reply_error(call, 500, "out of memory");
		return;
	}
	json_t *a = json_array();
	for (size_t i = 0; a && i < n; i++) {
		json_t *st = api__obj_parsed(all[i]->spec, all[i]->spec_len);
		bool pass = api__filter_any(f, "id", f_id, all[i]) &&
			    api__filter_any(f, "name", f_name, all[i]) &&
			    api__filter_any(f, "names", f_names, all[i]) &&
			    labels_pass(f, jsonx_obj(st, "Labels"));
		json_decref(st);
		if (pass &&
		    json_array_append_new(a, object_json(k, all[i])) < 0) {
			json_decref(a);
			a = NULL;
		}
	}
	shoal_free(all);
	json_decref(f);
	if (!a)
		api_reply_error(call, 500, "out of memory");
	else
		api_reply_json(call, 200, a);
}

static void inspect_now(struct api_call *call, const struct secret_kind *k)
{
	struct mgr *m = api__svc_manager(call);
	if (!m)
		return;
	const char *ref = api_param(call, "id");
	const struct store_object *o = find(mgr_store(m), k, ref);
	if (!o) {
		api_reply_error(call, 404, "%s %s not found", k->word, ref);
		return;
	}
	json_t *j = object_json(k, o);
	if (!j)
		api_reply_error(call, 500, "out of memory");
	else
		api_reply_json(call, 200, j);
}

/* --- writes -----------------------------------------------------------------
 */

struct answer {
	struct http_response *res; /* NULL once the client left */
	json_t *body;		   /* success body, or NULL (empty) */
	int ok;			   /* success status */
};

static void client_gone(struct http_response *res, void *arg)
{
	struct answer *w = arg;
	w->res = NULL;
}

static int status_of(int rc)
{
	switch (rc) {
	case -EINVAL:
		return 400;
	case SHOAL_ECONFLICT:
		return 409;
	case SHOAL_ENOTFOUND:
		return 404;
	case SHOAL_ENOTLEADER:
	case -ECANCELED:
		return 503;
	default:
		return 500;
	}
}

static void answer_done(void *arg, int rc, const char *msg)
{
	struct answer *w = arg;
	if (w->res) {
		http_response_on_close(w->res, NULL, NULL);
		if (rc == SHOAL_ESTALE) {
			http_response_send_error(w->res, 500,
						 "rpc error: code = Unknown "
						 "desc = update out of "
						 "sequence");
		} else if (rc < 0) {
			http_response_send_error(
				w->res, status_of(rc),
				msg && *msg ? msg : shoal_strerror(rc));
		} else {
			size_t len = 0;
			char *s = w->body ? jsonx_dump(w->body, &len) : NULL;
			http_response_send(w->res, w->ok,
					   s ? "application/json" : NULL, s,
					   len);
			shoal_free(s);
		}
	}
	json_decref(w->body);
	shoal_free(w);
}

static void write_now(struct api_call *call, struct mgr *m,
		      const struct secret_kind *k, const char *verb,
		      const struct mgr_write_req *req, int ok, json_t *body)
{
	char op[32], err[400] = "";
	struct answer *w = shoal_calloc(1, sizeof(*w));
	int rc = -ENOMEM;
	snprintf(op, sizeof(op), "%s-%s", k->word, verb);
	if (w) {
		*w = (struct answer){.res = call->res, .body = body, .ok = ok};
		http_response_on_close(call->res, client_gone, w);
		rc = mgr_write(m, op, req, answer_done, w, err, sizeof(err));
	}
	if (rc < 0) {
		if (w) {
			http_response_on_close(call->res, NULL, NULL);
			shoal_free(w);
		}
		json_decref(body);
		api_reply_error(call, status_of(rc), "%s",
				rc == -ENOMEM ? "out of memory" : err);
	}
}

static void create(struct api_call *call, const struct secret_kind *k)
{
	struct mgr *m = api__svc_manager(call);
	if (!m)
		return;
	char id[ID_SWARM_LEN + 1];
	id_swarm(id);
	struct mgr_write_req req = {.id = id,
				    .body = call->req->body,
				    .body_len = call->req->body_len};
	write_now(call, m, k, "create", &req, 201,
		  json_pack("{s:s}", "ID", id));
}

/* The object of {id}, or NULL after answering 404. */
static const struct store_object *target(struct api_call *call, struct mgr *m,
					 const struct secret_kind *k)
{
	const char *ref = api_param(call, "id");
	const struct store_object *o = find(mgr_store(m), k, ref);
	if (!o)
		api_reply_error(call, 404, "%s %s not found", k->word, ref);
	return o;
}

static void update(struct api_call *call, const struct secret_kind *k)
{
	struct mgr *m = api__svc_manager(call);
	const struct store_object *o = m ? target(call, m, k) : NULL;
	uint64_t version;
	if (!o || api__version_param(call, k->word, &version) < 0)
		return;
	char id[STORE_ID_MAX + 1];
	snprintf(id, sizeof(id), "%s", o->id);
	struct mgr_write_req req = {.id = id,
				    .version = version,
				    .body = call->req->body,
				    .body_len = call->req->body_len};
	write_now(call, m, k, "update", &req, 200, NULL);
}

static void rotate(struct api_call *call, const struct secret_kind *k)
{
	struct mgr *m = api__svc_manager(call);
	const struct store_object *o = m ? target(call, m, k) : NULL;
	if (!o)
		return;
	char id[STORE_ID_MAX + 1];
	snprintf(id, sizeof(id), "%s", o->id);
	struct mgr_write_req req = {.id = id,
				    .body = call->req->body,
				    .body_len = call->req->body_len};
	write_now(call, m, k, "rotate", &req, 200,
		  json_pack("{s:s}", "ID", id));
}

static void remove_(struct api_call *call, const struct secret_kind *k)
{
	struct mgr *m = api__svc_manager(call);
	const struct store_object *o = m ? target(call, m, k) : NULL;
	if (!o)
		return;
	char id[STORE_ID_MAX + 1];
	snprintf(id, sizeof(id), "%s", o->id);
	struct mgr_write_req req = {.id = id};
	write_now(call, m, k, "remove", &req, 204, NULL);
}

/* --- the routes, one set per table --------------------------------------- */

#define ROUTES(p, kind)                                                        \
	static void p##_list_now(struct api_call *call)                        \
	{                                                                      \
		list_now(call, kind);                                          \
	}                                                                      \
	static void p##_inspect_now(struct api_call *call)                     \
	{                                                                      \
		inspect_now(call, kind);                                       \
	}                                                                      \
	static void p##_list(struct api_call *call)                            \
	{                                                                      \
		struct mgr *m = api__svc_manager(call);                        \
		if (m)                                                         \
			api__after_sync(call, m, p##_list_now);                \
	}                                                                      \
	static void p##_inspect(struct api_call *call)                         \
	{                                                                      \
		struct mgr *m = api__svc_manager(call);                        \
		if (m)                                                         \
			api__after_sync(call, m, p##_inspect_now);             \
	}                                                                      \
	static void p##_create(struct api_call *call)                          \
	{                                                                      \
		create(call, kind);                                            \
	}                                                                      \
	static void p##_update(struct api_call *call)                          \
	{                                                                      \
		update(call, kind);                                            \
	}                                                                      \
	static void p##_rotate(struct api_call *call)                          \
	{                                                                      \
		rotate(call, kind);                                            \
	}                                                                      \
	static void p##_remove(struct api_call *call)                          \
	{                                                                      \
		remove_(call, kind);                                           \
	}

ROUTES(s, &secret_kind_secret)
ROUTES(c, &secret_kind_config)

static const struct api_route routes[] = {
	{"GET", "/secrets", s_list},
	{"POST", "/secrets/create", s_create},
	{"GET", "/secrets/{id}", s_inspect},
	{"DELETE", "/secrets/{id}", s_remove},
	{"POST", "/secrets/{id}/update", s_update},
	{"POST", "/secrets/{id}/rotate", s_rotate},
	{"GET", "/configs", c_list},
	{"POST", "/configs/create", c_create},
	{"GET", "/configs/{id}", c_inspect},
	{"DELETE", "/configs/{id}", c_remove},
	{"POST", "/configs/{id}/update", c_update},
	{"POST", "/configs/{id}/rotate", c_rotate},
};

const struct api_route_table api_secrets_table = {
	.name = "secrets",
	.routes = routes,
	.nroutes = sizeof(routes) / sizeof(routes[0]),
};
