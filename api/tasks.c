/*
 * Task routes of the Docker Engine API (v1.44, "Task"): GET /tasks
 * (filters id, name, service, node, label, desired-state) and GET
 * /tasks/{id}. A task object is its store object's spec (the managers'
 * Docker Task fields, docs/services.md) and status put together: ID,
 * Version, CreatedAt, UpdatedAt, Labels, Spec, ServiceID, Slot, NodeID,
 * Status, DesiredState. Reads run after mgr_sync(), as the node routes'.
 *
 * Filters as Docker's: service by id, name or id prefix; node by id or
 * hostname; name by the task name SERVICE.SLOT (SERVICE.NODE for global
 * tasks) prefix; desired-state running, shutdown or accepted;
 * _up-to-date (the docker CLI's progress: tasks of the current spec); label
 * against the task's own labels (the managers give tasks none, so a label
 * filter matches nothing, as on Docker).
 */
#include "api/internal.h"
#include "api/services_common.h"
#include "api/swarm.h"
#include "common/alloc.h"
#include "common/jsonx.h"
#include "manager/service.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

json_t *api__task_json(const struct store_object *o)
{
	json_t *sp = api__obj_parsed(o->spec, o->spec_len);
	json_t *st = api__obj_parsed(o->status, o->status_len);
	json_t *t = json_object();
	int rc = t ? 0 : -ENOMEM;
	rc |= jsonx_set(t, "ID", json_string(o->id));
	rc |= jsonx_set(t, "Version",
			json_pack("{s:I}", "Index", (json_int_t)o->version));
	rc |= jsonx_set(t, "CreatedAt", api__time_json(o->created_ns));
	rc |= jsonx_set(t, "UpdatedAt", api__time_json(o->updated_ns));
	rc |= jsonx_set(t, "Labels", json_object());
	static const char *const keys[] = {"Spec", "ServiceID", "Slot",
					   "NodeID", "NetworksAttachments"};
	for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
		json_t *v = json_object_get(sp, keys[i]);
		if (v && !(strcmp(keys[i], "Slot") == 0 &&
			   json_integer_value(v) == 0))
			rc |= jsonx_set(t, keys[i], json_incref(v));
	}
	rc |= jsonx_set(t, "Status", json_incref(st));
	rc |= jsonx_set(t, "DesiredState",
			json_string(jsonx_str(sp, "DesiredState", "")));
	json_decref(sp);
	json_decref(st);
	if (rc) {
		json_decref(t);
		return NULL;
	}
	return t;
}

struct task_filter {
	const struct store *s;
	const json_t *task;
};

static bool f_id(const char *v, const void *arg)
{
	const struct task_filter *f = arg;
	return strncmp(jsonx_str(f->task, "ID", ""), v, strlen(v)) == 0;
}

static bool f_service(const char *v, const void *arg)
{
	const struct task_filter *f = arg;
	const struct store_object *svc = api__svc_find(f->s, v);
	return svc && strcmp(svc->id, jsonx_str(f->task, "ServiceID", "")) == 0;
}

static bool f_node(const char *v, const void *arg)
{
	const struct task_filter *f = arg;
	const char *node = jsonx_str(f->task, "NodeID", "");
	if (!*node)
		return false;
	if (strcmp(node, v) == 0)
		return true;
	const struct store_object *n = store_get(f->s, STORE_NODES, node);
	json_t *st = n ? api__obj_parsed(n->status, n->status_len) : NULL;
	bool ok = st && strcmp(jsonx_str(jsonx_obj(st, "Description"),
					 "Hostname", ""),
			       v) == 0;
	json_decref(st);
	return ok;
}

static bool f_name(const char *v, const void *arg)
{
	const struct task_filter *f = arg;
	const struct store_object *svc = store_get(
		f->s, STORE_SERVICES, jsonx_str(f->task, "ServiceID", ""));
	char name[300];
	json_int_t slot = jsonx_int(f->task, "Slot", 0);
	if (slot)
		snprintf(name, sizeof(name), "%s.%lld", svc ? svc->name : "",
			 (long long)slot);
	else
		snprintf(name, sizeof(name), "%s.%s", svc ? svc->name : "",
			 jsonx_str(f->task, "NodeID", ""));
	return strncmp(name, v, strlen(v)) == 0;
}

static bool f_desired(const char *v, const void *arg)
{
	const struct task_filter *f = arg;
	return strcmp(jsonx_str(f->task, "DesiredState", ""), v) == 0;
}

static bool f_label(const char *v, const void *arg)
{
	const struct task_filter *f = arg;
	char k[256];
	const char *eq = strchr(v, '=');
	snprintf(k, sizeof(k), "%.*s", (int)(eq ? (size_t)(eq - v) : strlen(v)),
		 v);
	const char *have = jsonx_str(jsonx_obj(f->task, "Labels"), k, NULL);
	return have && (!eq || strcmp(have, eq + 1) == 0);
}

/*
 * "_up-to-date" (what the docker CLI's progress display asks for): tasks
 * made from the service's current spec, the orchestrator's rule (the
 * task's Spec is the service's TaskTemplate with its defaults).
 */
static bool f_uptodate(const char *v, const void *arg)
{
	const struct task_filter *f = arg;
	bool want = strcmp(v, "true") == 0 || strcmp(v, "1") == 0;
	const struct store_object *svc = store_get(
		f->s, STORE_SERVICES, jsonx_str(f->task, "ServiceID", ""));
	json_t *sp = svc ? api__obj_parsed(svc->spec, svc->spec_len) : NULL;
	json_t *full = sp ? service_spec_defaults(sp) : NULL;
	bool current = full && json_equal(jsonx_obj(full, "TaskTemplate"),
					  jsonx_obj(f->task, "Spec"));
	json_decref(full);
	json_decref(sp);
	return current == want;
}

static void task_list_now(struct api_call *call)
{
	static const char *const known[] = {
		"id",	 "name",	"service", "node", "desired-state",
		"label", "_up-to-date", NULL};
	struct mgr *m = api__svc_manager(call);
	json_t *f;
	if (!m || api__filters(call, known, &f) < 0)
		return;
	size_t i;
	json_t *v;
	json_array_foreach(f ? json_object_get(f, "desired-state") : NULL, i, v)
	{
		const char *d = json_string_value(v);
		if (strcmp(d, "running") && strcmp(d, "shutdown") &&
		    strcmp(d, "accepted")) {
			api_reply_error(call, 400,
					"Invalid filter 'desired-state=%s'", d);
			json_decref(f);
			return;
		}
	}
	const struct store *s = mgr_store(m);
	const struct store_object **all;
	size_t n;
	if (store_list(s, STORE_TASKS, &all, &n) < 0) {
		json_decref(f);
		api_reply_error(call, 500, "out of memory");
		return;
	}
	json_t *a = json_array();
	for (i = 0; a && i < n; i++) {
		json_t *t = api__task_json(all[i]);
		struct task_filter tf = {s, t};
		bool pass =
			t && api__filter_any(f, "id", f_id, &tf) &&
			api__filter_any(f, "service", f_service, &tf) &&
			api__filter_any(f, "node", f_node, &tf) &&
			api__filter_any(f, "name", f_name, &tf) &&
			api__filter_any(f, "desired-state", f_desired, &tf) &&
			api__filter_any(f, "label", f_label, &tf) &&
			api__filter_any(f, "_up-to-date", f_uptodate, &tf);
		if (!pass) {
			json_decref(t);
			continue;
		}
		if (json_array_append_new(a, t) < 0) {
			json_decref(a);
			a = NULL;
		}
	}
	shoal_free(all);
	json_decref(f);
	api_reply_json(call, 200, a);
}

static void task_inspect_now(struct api_call *call)
{
	struct mgr *m = api__svc_manager(call);
	if (!m)
		return;
	const char *ref = api_param(call, "id");
	const struct store *s = mgr_store(m);
	const struct store_object *o = store_get(s, STORE_TASKS, ref);
	if (!o && *ref) {
		const struct store_object **all;
		size_t n, matches = 0;
		if (store_list(s, STORE_TASKS, &all, &n) == 0) {
			for (size_t i = 0; i < n; i++)
				if (strncmp(all[i]->id, ref, strlen(ref)) ==
				    0) {
					o = all[i];
					matches++;
				}
			shoal_free(all);
		}
		if (matches != 1)
			o = NULL;
	}
	if (!o) {
		api_reply_error(call, 404, "task %s not found", ref);
		return;
	}
	api_reply_json(call, 200, api__task_json(o));
}

static void task_list(struct api_call *call)
{
	struct mgr *m = api__svc_manager(call);
	if (m)
		api__after_sync(call, m, task_list_now);
}

static void task_inspect(struct api_call *call)
{
	struct mgr *m = api__svc_manager(call);
	if (m)
		api__after_sync(call, m, task_inspect_now);
}

static const struct api_route routes[] = {
	{"GET", "/tasks", task_list},
	{"GET", "/tasks/{id}", task_inspect},
};

const struct api_route_table api_tasks_table = {
	.name = "tasks",
	.routes = routes,
	.nroutes = sizeof(routes) / sizeof(routes[0]),
};
