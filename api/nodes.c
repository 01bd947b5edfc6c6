/*
 * Node routes of the Docker Engine API (v1.45, "Node"): GET /nodes, GET
 * /nodes/{id}, DELETE /nodes/{id}?force=, POST /nodes/{id}/update?version=.
 * Nodes live in the manager's store with Docker-shaped JSON spec and
 * status (manager/cluster_node.c), so an answer is the object's fields
 * put together: ID, Version.Index (the store version), CreatedAt,
 * UpdatedAt, Spec, Description, Status, ManagerStatus. A {id} may be a full
 * id, a unique prefix or a hostname, as the docker CLI resolves them.
 */
#include "api/api.h"
#include "api/swarm.h"
#include "common/alloc.h"
#include "common/clock.h"
#include "common/error.h"
#include "common/jsonx.h"
#include "manager/manager.h"

#include "services_common.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

/* ManagerStatus with what only the running managers know: who leads. */
static json_t *manager_status(struct mgr *m, const struct store_object *o,
			      const json_t *stored, const json_t *status)
{
	bool ready = strcmp(jsonx_str(jsonx_obj(status, "Status"), "State", ""),
			    "ready") == 0;
	return json_pack("{s:b, s:s, s:s}", "Leader",
			 mgr_node_is_leader(m, o->id), "Reachability",
			 ready || mgr_node_is_leader(m, o->id) ? "reachable"
							       : "unreachable",
			 "Addr", jsonx_str(stored, "Addr", ""));
}

static json_t *node_json(struct mgr *m, const struct store_object *o)
{
	json_t *n = json_object();
	json_t *status = api__obj_parsed(o->status, o->status_len);
	if (!n || !status) {
		json_decref(n);
		json_decref(status);
		return NULL;
	}
	int rc = 0;
	rc |= jsonx_set(n, "ID", json_string(o->id));
	rc |= jsonx_set(n, "Version",
			json_pack("{s:I}", "Index", (json_int_t)o->version));
	rc |= jsonx_set(n, "CreatedAt", api__time_json(o->created_ns));
	rc |= jsonx_set(n, "UpdatedAt", api__time_json(o->updated_ns));
	rc |= jsonx_set(n, "Spec", api__obj_parsed(o->spec, o->spec_len));
	const char *keys[] = {"Description", "Status"};
	for (size_t i = 0; i < 2; i++) {
		json_t *v = json_object_get(status, keys[i]);
		if (v)
			rc |= jsonx_set(n, keys[i], json_incref(v));
	}
	json_t *ms = json_object_get(status, "ManagerStatus");
	if (ms)
		rc |= jsonx_set(n, "ManagerStatus",
				manager_status(m, o, ms, status));
	json_decref(status);
	if (rc) {
		json_decref(n);
		return NULL;
	}
	return n;
}

/*
 * ?filters= as Docker's node list reads it: {"role":["manager"]} or
 * {"role":{"manager":true}}; a node passes when, for every key, one of
 * the values matches: id and name (hostname) by prefix, role exactly,
 * node.label "k" or "k=v" against Spec.Labels, membership "accepted" (every
 * node here is). Engine labels (label) match nothing: nodes report none.
 */
static bool value_matches(const json_t *node, const char *key, const char *v)
{
	const json_t *spec = jsonx_obj(node, "Spec");
	if (strcmp(key, "id") == 0)
		return strncmp(jsonx_str(node, "ID", ""), v, strlen(v)) == 0;
	if (strcmp(key, "name") == 0)
		return strncmp(jsonx_str(jsonx_obj(node, "Description"),
					 "Hostname", ""),
			       v, strlen(v)) == 0;
	if (strcmp(key, "role") == 0)
		return strcmp(jsonx_str(spec, "Role", ""), v) == 0;
	if (strcmp(key, "membership") == 0)
		return strcmp(v, "accepted") == 0;
	if (strcmp(key, "node.label") == 0) {
		char k[256];
		const char *eq = strchr(v, '=');
		snprintf(k, sizeof(k), "%.*s",
			 (int)(eq ? (size_t)(eq - v) : strlen(v)), v);
		const char *have =
			jsonx_str(jsonx_obj(spec, "Labels"), k, NULL);
		return have && (!eq || strcmp(have, eq + 1) == 0);
	}
	return false; /* label: no engine labels */
}

static bool passes(const json_t *node, const json_t *filters)
{
	const char *key;
	json_t *vals;
	json_object_foreach((json_t *)filters, key, vals)
	{
		bool any = false;
		if (json_is_array(vals)) {
			size_t i;
			json_t *v;
			json_array_foreach(vals, i, v)
			{
				any = any ||
				      (json_is_string(v) &&
				       value_matches(node, key,
						     json_string_value(v)));
			}
		} else {
			const char *v;
			json_t *on;
			json_object_foreach(vals, v, on)
			{
				any = any || value_matches(node, key, v);
			}
		}
		if (!any)
			return false;
	}
	return true;
}

/* The filters of the request, or NULL (none); -EINVAL answered. */
static int read_filters(struct api_call *call, json_t **out)
{
	static const char *const known[] = {"id",   "label", "membership",
					    "name", "role",  "node.label"};
	const char *text = http_request_query(call->req, "filters");
	*out = NULL;
	if (!text || !*text)
		return 0;
	char err[200];
	if (jsonx_parse_object(text, strlen(text), out, err, sizeof(err)) < 0) {
		api_reply_error(call, 400, "invalid filters: %s", err);
		return -EINVAL;
	}
	const char *key;
	json_t *vals;
	json_object_foreach(*out, key, vals)
	{
		bool ok = json_is_array(vals) || json_is_object(vals);
		bool found = false;
		for (size_t i = 0; i < sizeof(known) / sizeof(known[0]); i++)
			found = found || strcmp(key, known[i]) == 0;
		if (!ok || !found) {
			api_reply_error(call, 400, "invalid filter '%s'", key);
			json_decref(*out);
			*out = NULL;
			return -EINVAL;
		}
	}
	return 0;
}

static void node_list_now(struct api_call *call)
{
	struct mgr *m = api__svc_manager(call);
	json_t *filters;
	if (!m || read_filters(call, &filters) < 0)
		return;
	const struct store_object **all;
	size_t n;
	if (store_list(mgr_store(m), STORE_NODES, &all, &n) < 0) {
		json_decref(filters);
		api_reply_error(call, 500, "out of memory");
		return;
	}
	json_t *a = json_array();
	for (size_t i = 0; a && i < n; i++) {
		json_t *node = node_json(m, all[i]);
		if (node && filters && !passes(node, filters)) {
			json_decref(node);
			continue;
		}
		if (json_array_append_new(a, node) < 0) {
			json_decref(a);
			a = NULL;
		}
	}
	shoal_free(all);
	json_decref(filters);
	api_reply_json(call, 200, a);
}

/* The node named by {id}, or NULL after answering 404/500. */
static const struct store_object *find(struct api_call *call, struct mgr *m)
{
	const char *ref = api_param(call, "id");
	int rc;
	const struct store_object *o = mgr_find_node(m, ref, &rc);
	if (o)
		return o;
	if (rc == SHOAL_ECONFLICT)
		api_reply_error(call, 404, "node %s is ambiguous (%s)", ref,
				"more than one node matches");
	else if (rc == -ENOMEM)
		api_reply_error(call, 500, "out of memory");
	else
		api_reply_error(call, 404, "node %s not found", ref);
	return NULL;
}

static void node_inspect_now(struct api_call *call)
{
	struct mgr *m = api__svc_manager(call);
	const struct store_object *o = m ? find(call, m) : NULL;
	if (o)
		api_reply_json(call, 200, node_json(m, o));
}

/* Reads see every write committed before them, wherever it was made. */
static void node_list(struct api_call *call)
{
	struct mgr *m = api__svc_manager(call);
	if (m)
		api__after_sync(call, m, node_list_now);
}

static void node_inspect(struct api_call *call)
{
	struct mgr *m = api__svc_manager(call);
	if (m)
		api__after_sync(call, m, node_inspect_now);
}

static bool force_param(const struct api_call *call)
{
	const char *v = http_request_query(call->req, "force");
	return v && (strcmp(v, "1") == 0 || strcmp(v, "true") == 0);
}

static void node_delete(struct api_call *call)
{
	struct mgr *m = api__svc_manager(call);
	const struct store_object *o = m ? find(call, m) : NULL;
	if (!o)
		return;
	char id[STORE_ID_MAX + 1], err[400];
	snprintf(id, sizeof(id), "%s", o->id);
	struct api__answer *w = api__answer_new(call);
	int rc = w ? mgr_node_remove(m, id, force_param(call), api__answer_done,
				     w, err, sizeof(err))
		   : -ENOMEM;
	if (rc < 0) {
		if (w)
			api__answer_cancel(w);
		api_reply_error(call, api__status_of(rc), "%s",
				rc == -ENOMEM ? "out of memory" : err);
	}
}

static void node_update(struct api_call *call)
{
	struct mgr *m = api__svc_manager(call);
	const struct store_object *o = m ? find(call, m) : NULL;
	if (!o)
		return;
	uint64_t version;
	if (api__version_param(call, "node", &version) < 0)
		return;
	char id[STORE_ID_MAX + 1], err[400];
	snprintf(id, sizeof(id), "%s", o->id);
	struct api__answer *w = api__answer_new(call);
	int rc = w ? mgr_node_update(m, id, version, call->req->body,
				     call->req->body_len, api__answer_done, w,
				     err, sizeof(err))
		   : -ENOMEM;
	if (rc < 0) {
		if (w)
			api__answer_cancel(w);
		api_reply_error(call, api__status_of(rc), "%s",
				rc == -ENOMEM ? "out of memory" : err);
	}
}

static const struct api_route routes[] = {
	{"GET", "/nodes", node_list},
	{"GET", "/nodes/{id}", node_inspect},
	{"DELETE", "/nodes/{id}", node_delete},
	{"POST", "/nodes/{id}/update", node_update},
};

const struct api_route_table api_nodes_table = {
	.name = "nodes",
	.routes = routes,
	.nroutes = sizeof(routes) / sizeof(routes[0]),
};
