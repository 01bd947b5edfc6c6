/*
 * Service routes of the Docker Engine API (v1.44, "Service"): GET
 * /services (filters id, label, mode, name; ?status=true adds
 * ServiceStatus), POST /services/create (201 {"ID","Warnings"}), GET
 * /services/{id} (?insertDefaults), POST /services/{id}/update
 * (?version=, ?rollback=previous, ?registryAuthFrom=, and beyond Docker
 * ?rebalance=true: spread the tasks again over the nodes), DELETE
 * /services/{id}. Translation only: the spec is checked by the managers
 * (manager/service_spec.c), every write goes through mgr_write() so a
 * follower forwards it, and reads run after mgr_sync() as the node routes'
 * do. {id} is a full id, a name, or a unique id prefix.
 *
 * The new service's id is drawn here, so the answer can name it once the
 * change commits wherever it was forwarded. Errors in Docker's words: 409
 * for a name taken, 404 "service X not found", 400 for a spec refused
 * (naming the field), 503 on a worker or outside a swarm.
 * ?registryAuthFrom= is accepted with Docker's values only: managers
 * never pull images (each node's agent uses its own image store), so
 * there are no registry credentials to carry.
 */
#include "api/internal.h"
#include "api/services_common.h"
#include "api/swarm.h"
#include "common/alloc.h"
#include "common/clock.h"
#include "common/error.h"
#include "common/id.h"
#include "common/jsonx.h"
#include "manager/service.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

struct mgr *api__svc_manager(struct api_call *call)
{
	struct api_swarm_local l = {.state = "inactive", .error = ""};
	if (call->svc->swarm_ops)
		call->svc->swarm_ops->local(call->svc->arg, &l);
	if (l.mgr)
		return l.mgr;
	if (l.st)
		api_reply_error(
			call, 503,
			"This node is not a swarm manager. Worker nodes can't "
			"be used to view or modify cluster state. Please run "
			"this command on a manager node or promote the "
			"current node to a manager.");
	else
		api_reply_error(
			call, 503,
			"This node is not a swarm manager. Use \"docker swarm "
			"init\" or \"docker swarm join\" to connect this node "
			"to swarm and try again.");
	return NULL;
}

json_t *api__obj_parsed(const uint8_t *data, size_t len)
{
	json_t *v = NULL;
	if (len && jsonx_parse((const char *)data, len, &v, NULL, 0) == 0)
		return v;
	return json_object();
}

json_t *api__time_json(int64_t ns)
{
	char t[48];
	time_format_rfc3339(ns, t, sizeof(t));
	return json_string(t);
}

const struct store_object *api__svc_find(const struct store *s, const char *ref)
{
	if (!*ref)
		return NULL;
	const struct store_object *o = store_get(s, STORE_SERVICES, ref);
	if (!o)
		o = store_get_by_name(s, STORE_SERVICES, ref);
	if (o)
		return o;
	const struct store_object **all;
	size_t n, matches = 0;
	if (store_list(s, STORE_SERVICES, &all, &n) < 0)
		return NULL;
	for (size_t i = 0; i < n; i++)
		if (strncmp(all[i]->id, ref, strlen(ref)) == 0) {
			o = all[i];
			matches++;
		}
	shoal_free(all);
	return matches == 1 ? o : NULL;
}

/* --------------------------------------------------------------- filters */

int api__filters(struct api_call *call, const char *const *known, json_t **out)
{
	const char *text = http_request_query(call->req, "filters");
	json_t *in = NULL;
	char err[200];
	*out = NULL;
	if (!text || !*text)
		return 0;
	if (jsonx_parse_object(text, strlen(text), &in, err, sizeof(err)) < 0) {
		api_reply_error(call, 400, "invalid filters: %s", err);
		return -EINVAL;
	}
	json_t *f = json_object();
	const char *key;
	json_t *vals;
	json_object_foreach(in, key, vals)
	{
		bool ok = false;
		for (const char *const *k = known; *k && !ok; k++)
			ok = strcmp(*k, key) == 0;
		json_t *list = json_array();
		if (ok && json_is_array(vals)) {
			size_t i;
			json_t *v;
			json_array_foreach(vals, i, v)
			{
				ok = ok && json_is_string(v);
				json_array_append(list, v);
			}
		} else if (ok && json_is_object(vals)) {
			const char *v;
			json_t *on;
			json_object_foreach(vals, v, on)
			{
				json_array_append_new(list, json_string(v));
			}
		} else {
			ok = false;
		}
		if (!ok)
			json_decref(list);
		if (!ok || !f || json_object_set_new(f, key, list) < 0) {
			if (ok)
				api_reply_error(call, 500, "out of memory");
			else
				api_reply_error(call, 400,
						"invalid filter '%s'", key);
			json_decref(in);
			json_decref(f);
			return -EINVAL;
		}
	}
	json_decref(in);
	*out = f;
	return 0;
}

bool api__filter_any(const json_t *f, const char *key,
		     bool (*pred)(const char *v, const void *arg),
		     const void *arg)
{
	const json_t *vals = f ? json_object_get(f, key) : NULL;
	if (!vals)
		return true;
	size_t i;
	json_t *v;
	json_array_foreach(vals, i, v)
	{
		if (pred(json_string_value(v), arg))
			return true;
	}
	return false;
}

/* -------------------------------------------------------------- services */

struct counts {
	json_int_t running, desired, completed;
};

static void service_counts(const struct store *s, const char *id,
			   const json_t *spec, struct counts *c)
{
	const struct store_object **all;
	size_t n;
	enum service_mode mode = service_spec_mode(spec);
	memset(c, 0, sizeof(*c));
	if (mode == SERVICE_REPLICATED)
		c->desired = jsonx_int(
			jsonx_obj(jsonx_obj(spec, "Mode"), "Replicated"),
			"Replicas", 1);
	if (store_list(s, STORE_TASKS, &all, &n) < 0)
		return;
	for (size_t i = 0; i < n; i++) {
		json_t *sp = api__obj_parsed(all[i]->spec, all[i]->spec_len);
		json_t *st =
			api__obj_parsed(all[i]->status, all[i]->status_len);
		if (strcmp(jsonx_str(sp, "ServiceID", ""), id) == 0) {
			bool want = strcmp(jsonx_str(sp, "DesiredState", ""),
					   "running") == 0;
			const char *state = jsonx_str(st, "State", "");
			if (want && strcmp(state, "running") == 0)
				c->running++;
			if (strcmp(state, "complete") == 0)
				c->completed++;
			if (want && mode != SERVICE_REPLICATED &&
			    strcmp(state, "complete") != 0)
				c->desired++;
		}
		json_decref(sp);
		json_decref(st);
	}
	shoal_free(all);
	if (mode == SERVICE_REPLICATED_JOB) {
		const json_t *j =
			jsonx_obj(jsonx_obj(spec, "Mode"), "ReplicatedJob");
		json_int_t left =
			jsonx_int(j, "TotalCompletions", 1) - c->completed;
		json_int_t conc = jsonx_int(j, "MaxConcurrent", 1);
		c->desired = left < 0 ? 0 : left < conc ? left : conc;
	}
}

static json_t *service_json(const struct store *s, const struct store_object *o,
			    bool defaults, bool status)
{
	json_t *spec = api__obj_parsed(o->spec, o->spec_len);
	json_t *st = api__obj_parsed(o->status, o->status_len);
	json_t *full = service_spec_defaults(spec);
	json_t *j = json_object();
	int rc = !j || !full ? -ENOMEM : 0;
	rc |= jsonx_set(j, "ID", json_string(o->id));
	rc |= jsonx_set(j, "Version",
			json_pack("{s:I}", "Index", (json_int_t)o->version));
	rc |= jsonx_set(j, "CreatedAt", api__time_json(o->created_ns));
	rc |= jsonx_set(j, "UpdatedAt", api__time_json(o->updated_ns));
	rc |= jsonx_set(j, "Spec", json_incref(defaults && full ? full : spec));
	json_t *prev = json_object_get(st, "PreviousSpec");
	if (prev)
		rc |= jsonx_set(j, "PreviousSpec",
				defaults ? service_spec_defaults(prev)
					 : json_incref(prev));
	/* The allocator's Endpoint (VIPs) once written, else the spec's. */
	json_t *ep = json_object_get(st, "Endpoint");
	json_t *es = jsonx_obj(full ? full : spec, "EndpointSpec");
	rc |= jsonx_set(j, "Endpoint",
			ep   ? json_incref(ep)
			: es ? json_pack("{s:O}", "Spec", es)
			     : json_pack("{s:{s:s}}", "Spec", "Mode", "vip"));
	json_t *us = json_object_get(st, "UpdateStatus");
	if (us)
		rc |= jsonx_set(j, "UpdateStatus", json_incref(us));
	if (status && full) {
		struct counts c;
		service_counts(s, o->id, full, &c);
		rc |= jsonx_set(j, "ServiceStatus",
				json_pack("{s:I, s:I, s:I}", "RunningTasks",
					  c.running, "DesiredTasks", c.desired,
					  "CompletedTasks", c.completed));
	}
	json_decref(spec);
	json_decref(st);
	json_decref(full);
	if (rc) {
		json_decref(j);
		return NULL;
	}
	return j;
}

struct svc_filter {
	const struct store_object *o;
	const json_t *spec;
};

static bool f_id(const char *v, const void *arg)
{
	const struct svc_filter *f = arg;
	return strncmp(f->o->id, v, strlen(v)) == 0;
}

static bool f_name(const char *v, const void *arg)
{
	const struct svc_filter *f = arg;
	return strncmp(f->o->name, v, strlen(v)) == 0;
}

static bool f_mode(const char *v, const void *arg)
{
	const struct svc_filter *f = arg;
	return strcmp(service_mode_name(service_spec_mode(f->spec)), v) == 0;
}

static bool f_label(const char *v, const void *arg)
{
	const struct svc_filter *f = arg;
	char k[256];
	const char *eq = strchr(v, '=');
	snprintf(k, sizeof(k), "%.*s", (int)(eq ? (size_t)(eq - v) : strlen(v)),
		 v);
	const char *have = jsonx_str(jsonx_obj(f->spec, "Labels"), k, NULL);
	return have && (!eq || strcmp(have, eq + 1) == 0);
}

static void service_list_now(struct api_call *call)
{
	static const char *const known[] = {"id", "label", "mode", "name",
					    NULL};
	struct mgr *m = api__svc_manager(call);
	json_t *f;
	if (!m || api__filters(call, known, &f) < 0)
		return;
	const json_t *modes = f ? json_object_get(f, "mode") : NULL;
	size_t i;
	json_t *v;
	json_array_foreach(modes, i, v)
	{
		const char *mv = json_string_value(v);
		if (strcmp(mv, "replicated") && strcmp(mv, "global") &&
		    strcmp(mv, "replicated-job") && strcmp(mv, "global-job")) {
			api_reply_error(call, 400,
					"Invalid filter: 'mode'='%s'", mv);
			json_decref(f);
			return;
		}
	}
	bool status = api__query_bool(call, "status", false);
	const struct store *s = mgr_store(m);
	const struct store_object **all;
	size_t n;
	if (store_list(s, STORE_SERVICES, &all, &n) < 0) {
		json_decref(f);
		api_reply_error(call, 500, "out of memory");
		return;
	}
	json_t *a = json_array();
	for (i = 0; a && i < n; i++) {
		json_t *sp = api__obj_parsed(all[i]->spec, all[i]->spec_len);
		json_t *full = service_spec_defaults(sp);
		struct svc_filter sf = {all[i], full ? full : sp};
		bool pass = api__filter_any(f, "id", f_id, &sf) &&
			    api__filter_any(f, "name", f_name, &sf) &&
			    api__filter_any(f, "mode", f_mode, &sf) &&
			    api__filter_any(f, "label", f_label, &sf);
		json_decref(sp);
		json_decref(full);
		if (pass &&
		    json_array_append_new(
			    a, service_json(s, all[i], false, status)) < 0) {
			json_decref(a);
			a = NULL;
		}
	}
	shoal_free(all);
	json_decref(f);
	api_reply_json(call, 200, a);
}

static void service_inspect_now(struct api_call *call)
{
	struct mgr *m = api__svc_manager(call);
	if (!m)
		return;
	const char *ref = api_param(call, "id");
	const struct store_object *o = api__svc_find(mgr_store(m), ref);
	if (!o) {
		api_reply_error(call, 404, "service %s not found", ref);
		return;
	}
	bool defaults = api__query_bool(call, "insertDefaults", false);
	api_reply_json(call, 200,
		       service_json(mgr_store(m), o, defaults, false));
}

static void service_list(struct api_call *call)
{
	struct mgr *m = api__svc_manager(call);
	if (m)
		api__after_sync(call, m, service_list_now);
}

static void service_inspect(struct api_call *call)
{
	struct mgr *m = api__svc_manager(call);
	if (m)
		api__after_sync(call, m, service_inspect_now);
}

/* --- writes ------------------------------------------------------------- */

struct svc_answer {
	struct http_response *res; /* NULL once the client left */
	json_t *body;		   /* success body, or NULL (empty) */
	int ok;			   /* success status */
	/* A remove takes no version from the client: when the service
	 * changed between our read and the commit (the orchestrator writes
	 * its status), it is tried again at the new version. */
	struct mgr *m;
	char remove_id[STORE_ID_MAX + 1];
	int retries;
};

static void client_gone(struct http_response *res, void *arg)
{
	struct svc_answer *w = arg;
	w->res = NULL;
}

static struct svc_answer *answer_new(struct api_call *call, int ok,
				     json_t *body)
{
	struct svc_answer *w = shoal_calloc(1, sizeof(*w));
	if (!w) {
		json_decref(body);
		return NULL;
	}
	*w = (struct svc_answer){.res = call->res, .body = body, .ok = ok};
	http_response_on_close(call->res, client_gone, w);
	return w;
}

static void answer_free(struct svc_answer *w)
{
	if (w->res)
		http_response_on_close(w->res, NULL, NULL);
	json_decref(w->body);
	shoal_free(w);
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

static void answer_done(void *arg, int rc, const char *msg);

static bool retry_remove(struct svc_answer *w)
{
	char err[300];
	if (!w->m || !*w->remove_id || w->retries-- <= 0)
		return false;
	struct mgr_write_req req = {.id = w->remove_id};
	return mgr_write(w->m, "service-remove", &req, answer_done, w, err,
			 sizeof(err)) == 0;
}

static void answer_done(void *arg, int rc, const char *msg)
{
	struct svc_answer *w = arg;
	if (rc == SHOAL_ESTALE && retry_remove(w))
		return;
	struct http_response *res = w->res;
	if (res) {
		http_response_on_close(res, NULL, NULL);
		w->res = NULL;
		if (rc == SHOAL_ESTALE) {
			http_response_send_error(
				res, 500,
				"rpc error: code = Unknown desc = update out "
				"of sequence");
		} else if (rc == SHOAL_ECONFLICT) {
			http_response_send_error(
				res, 409,
				"rpc error: code = AlreadyExists desc = name "
				"conflicts with an existing object");
		} else if (rc < 0) {
			http_response_send_error(
				res, status_of(rc),
				msg && *msg ? msg : shoal_strerror(rc));
		} else {
			size_t len = 0;
			char *s = w->body ? jsonx_dump(w->body, &len) : NULL;
			http_response_send(res, w->ok,
					   s ? "application/json" : NULL, s,
					   len);
			shoal_free(s);
		}
	}
	answer_free(w);
}

static void write_now(struct api_call *call, struct mgr *m, const char *op,
		      const struct mgr_write_req *req, struct svc_answer *w)
{
	char err[400] = "";
	int rc = w ? mgr_write(m, op, req, answer_done, w, err, sizeof(err))
		   : -ENOMEM;
	if (rc < 0) {
		if (w)
			answer_free(w);
		if (rc == SHOAL_ECONFLICT)
			api_reply_error(call, 409,
					"rpc error: code = AlreadyExists desc "
					"= name conflicts with an existing "
					"object");
		else
			api_reply_error(call, status_of(rc), "%s",
					rc == -ENOMEM ? "out of memory" : err);
	}
}

/* Docker keeps a service's X-Registry-Auth (`--with-registry-auth`) for
 * its nodes' pulls. Shoal does not carry credentials to the nodes yet
 * (docs/images.md): refused, never dropped unsaid. */
static bool no_registry_auth(struct api_call *call)
{
	const char *v = http_request_header(call->req, "X-Registry-Auth");
	if (!v || !*v)
		return true;
	api_reply_error(call, 400,
			"registry credentials for a service's tasks "
			"(--with-registry-auth, X-Registry-Auth) are not "
			"supported: the nodes would pull without them. Leave "
			"the flag out: a node fetches the image from the "
			"swarm's nodes that hold it (load or pull it on one "
			"node), or pulls it from a registry that needs no "
			"login");
	return false;
}

static void service_create(struct api_call *call)
{
	struct mgr *m = api__svc_manager(call);
	if (!m || !no_registry_auth(call))
		return;
	char id[ID_SWARM_LEN + 1];
	id_swarm(id);
	struct mgr_write_req req = {.id = id,
				    .body = call->req->body,
				    .body_len = call->req->body_len};
	json_t *body = json_pack("{s:s, s:n}", "ID", id, "Warnings");
	write_now(call, m, "service-create", &req, answer_new(call, 201, body));
}

static bool registry_auth_ok(struct api_call *call)
{
	const char *v = http_request_query(call->req, "registryAuthFrom");
	if (!v || !*v || strcmp(v, "spec") == 0 ||
	    strcmp(v, "previous-spec") == 0)
		return true;
	api_reply_error(call, 400,
			"invalid registryAuthFrom \"%s\": use spec or "
			"previous-spec",
			v);
	return false;
}

static void service_update(struct api_call *call)
{
	struct mgr *m = api__svc_manager(call);
	if (!m)
		return;
	const char *ref = api_param(call, "id");
	const struct store_object *o = api__svc_find(mgr_store(m), ref);
	if (!o) {
		api_reply_error(call, 404, "service %s not found", ref);
		return;
	}
	uint64_t version;
	if (api__version_param(call, "service", &version) < 0 ||
	    !registry_auth_ok(call) || !no_registry_auth(call))
		return;
	const char *rb = http_request_query(call->req, "rollback");
	if (rb && *rb && strcmp(rb, "previous") != 0) {
		api_reply_error(call, 400, "unrecognized rollback option %s",
				rb);
		return;
	}
	char id[STORE_ID_MAX + 1];
	snprintf(id, sizeof(id), "%s", o->id);
	struct mgr_write_req req = {
		.id = id,
		.version = version,
		.body = call->req->body,
		.body_len = call->req->body_len,
		.flags = (rb && *rb ? MGR_WRITE_ROLLBACK : 0) |
			 (api__query_bool(call, "rebalance", false)
				  ? MGR_WRITE_REBALANCE
				  : 0),
	};
	json_t *body = json_pack("{s:[]}", "Warnings");
	write_now(call, m, "service-update", &req, answer_new(call, 200, body));
}

static void service_delete(struct api_call *call)
{
	struct mgr *m = api__svc_manager(call);
	if (!m)
		return;
	const char *ref = api_param(call, "id");
	const struct store_object *o = api__svc_find(mgr_store(m), ref);
	if (!o) {
		api_reply_error(call, 404, "service %s not found", ref);
		return;
	}
	struct svc_answer *w = answer_new(call, 200, NULL);
	if (w) {
		w->m = m;
		w->retries = 10;
		snprintf(w->remove_id, sizeof(w->remove_id), "%s", o->id);
	}
	struct mgr_write_req req = {.id = w ? w->remove_id : o->id};
	write_now(call, m, "service-remove", &req, w);
}

static const struct api_route routes[] = {
	{"GET", "/services", service_list},
	{"POST", "/services/create", service_create},
	{"GET", "/services/{id}", service_inspect},
	{"POST", "/services/{id}/update", service_update},
	{"DELETE", "/services/{id}", service_delete},
};

const struct api_route_table api_services_table = {
	.name = "services",
	.routes = routes,
	.nroutes = sizeof(routes) / sizeof(routes[0]),
};
