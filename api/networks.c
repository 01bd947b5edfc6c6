/*
 * Docker's /networks routes (Engine API 1.44+): list with filters,
 * inspect, create, delete, prune, connect, disconnect. Translation only:
 * the networks are overlay-net's (net.h), reached through the engine
 * (eng_net()); container references are resolved by the engine.
 *
 * Filters of GET /networks: name (substring), id (prefix), driver, label
 * (key or key=value), type (custom or builtin), scope (local or swarm),
 * dangling (no containers). Prune: label, label!; `until` is refused by
 * name.
 *
 * Overlay networks (docs/overlay.md) are the swarm's: on a manager,
 * `-d overlay` creates go through the manager's write path
 * ("network-create", forwarded to the leader by a follower), and list,
 * inspect and remove see the store's networks table beside the local
 * networks. A worker or a daemon outside a swarm answers Docker's 503 for
 * an overlay create. Prune on a manager removes the unused overlays too
 * (as Docker does), one write each.
 */
#define LOG_MODULE "api"
#include "api/internal.h"
#include "api/services_common.h"
#include "api/swarm.h"
#include "common/alloc.h"
#include "common/error.h"
#include "common/id.h"
#include "common/jsonx.h"
#include "common/log.h"
#include "manager/allocator.h"
#include "manager/service.h"
#include "worker/attach.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

/* --- overlay networks, from the swarm's store ------------------------------
 */

/* The running manager of this node, or NULL (no answer sent). */
static struct mgr *swarm_mgr(struct api_call *call)
{
	struct api_swarm_local l = {.state = "inactive", .error = ""};
	if (call->svc->swarm_ops)
		call->svc->swarm_ops->local(call->svc->arg, &l);
	return l.mgr;
}

int api__swarm_net_attach_check(struct api_call *call, const char *ref,
				char *err, size_t cap)
{
	struct mgr *m = swarm_mgr(call);
	const struct store_object *o =
		m && *ref ? alloc_network_find(mgr_store(m), ref) : NULL;
	if (!o)
		return 0;
	json_t *spec = api__obj_parsed(o->spec, o->spec_len);
	bool ok = jsonx_bool(spec, "Attachable", false) &&
		  !jsonx_bool(spec, "Ingress", false);
	json_decref(spec);
	if (ok)
		return 1; /* the agent asks the leader (worker/attach.h) */
	snprintf(err, cap,
		 "Could not attach to network %s: rpc error: code = "
		 "PermissionDenied desc = network %s not manually attachable",
		 ref, ref);
	return -EPERM;
}

struct watt *api__swarm_watt(struct api_call *call)
{
	struct api_swarm_local l = {.state = "inactive", .error = ""};
	if (call->svc->swarm_ops)
		call->svc->swarm_ops->local(call->svc->arg, &l);
	return l.watt;
}

/* Docker's network JSON for the overlay @o (owned, NULL without memory). */
static json_t *swarm_json(const struct store_object *o)
{
	json_t *spec = api__obj_parsed(o->spec, o->spec_len);
	json_t *opts = json_deep_copy(jsonx_obj(spec, "Options"));
	json_t *ipam = json_deep_copy(jsonx_obj(spec, "IPAM"));
	json_t *labels = json_deep_copy(jsonx_obj(spec, "Labels"));
	char vni[16];
	snprintf(vni, sizeof(vni), "%lld",
		 (long long)jsonx_int(spec, "VNI", 0));
	if (!opts)
		opts = json_object();
	json_object_set_new(opts,
			    "com.docker.network.driver.overlay.vxlanid_list",
			    json_string(vni));
	if (ipam)
		json_object_set_new(ipam, "Options", json_null());
	json_t *r = json_pack(
		"{s:s, s:s, s:o, s:s, s:s, s:b, s:o, s:b, s:b, s:b, s:{s:s}, "
		"s:b, s:{}, s:o, s:o}",
		"Name", o->name ? o->name : "", "Id", o->id, "Created",
		api__time_json(o->created_ns), "Scope", "swarm", "Driver",
		"overlay", "EnableIPv6", 0, "IPAM", ipam ? ipam : json_object(),
		"Internal", jsonx_bool(spec, "Internal", false), "Attachable",
		jsonx_bool(spec, "Attachable", false), "Ingress",
		jsonx_bool(spec, "Ingress", false), "ConfigFrom", "Network", "",
		"ConfigOnly", 0, "Containers", "Options", opts, "Labels",
		labels ? labels : json_object());
	json_decref(spec);
	return r;
}

/* The overlays as Docker's JSON, appended to @out. */
static void swarm_list(struct mgr *m, json_t *out)
{
	const struct store_object **all;
	size_t n;
	if (!m || store_list(mgr_store(m), STORE_NETWORKS, &all, &n) < 0)
		return;
	for (size_t i = 0; i < n; i++) {
		json_t *r = swarm_json(all[i]);
		if (r)
			json_array_append_new(out, r);
	}
	shoal_free(all);
}

/* A write answered once it commits (or is lost). */
struct net_answer {
	struct http_response *res; /* NULL once the client left */
	json_t *body;		   /* success body, or NULL (empty) */
	int ok;			   /* success status */
};

static void answer_client_gone(struct http_response *res, void *arg)
{
	struct net_answer *w = arg;
	w->res = NULL;
}

static int swarm_status(int rc)
{
	switch (rc) {
	case -EINVAL:
		return 400;
	case -EPERM:
		return 403;
	case SHOAL_ENOTFOUND:
		return 404;
	case SHOAL_ECONFLICT:
		return 409;
	case SHOAL_ENOTLEADER:
	case -ECANCELED:
		return 503;
	default:
		return 500;
	}
}

static void answer_done(void *arg, int rc, const char *msg)
{
	struct net_answer *w = arg;
	if (w->res) {
		http_response_on_close(w->res, NULL, NULL);
		if (rc < 0) {
			http_response_send_error(
				w->res, swarm_status(rc),
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

static void swarm_write(struct api_call *call, struct mgr *m, const char *op,
			const struct mgr_write_req *req, int ok, json_t *body)
{
	struct net_answer *w = shoal_calloc(1, sizeof(*w));
	char err[400] = "";
	int rc = -ENOMEM;
	if (w) {
		*w = (struct net_answer){
			.res = call->res, .body = body, .ok = ok};
		http_response_on_close(call->res, answer_client_gone, w);
		rc = mgr_write(m, op, req, answer_done, w, err, sizeof(err));
	}
	if (rc < 0) {
		if (w) {
			http_response_on_close(call->res, NULL, NULL);
			shoal_free(w);
		}
		json_decref(body);
		api_reply_error(call, swarm_status(rc), "%s",
				rc == -ENOMEM ? "out of memory" : err);
	}
}

/* Whether this daemon has a local network named exactly @name. */
static bool local_named(struct api_call *call, const char *name)
{
	struct api__state *st = api__state_of(call);
	struct net *n = st ? eng_net(st->eng) : NULL;
	int rc;
	json_t *r = n && *name ? net_network_inspect(n, name, &rc) : NULL;
	bool same = r && !strcmp(jsonx_str(r, "Name", ""), name);
	json_decref(r);
	return same;
}

static void swarm_create(struct api_call *call, const json_t *body)
{
	struct mgr *m = api__svc_manager(call);
	const char *name = jsonx_str(body, "Name", "");
	char id[ID_SWARM_LEN + 1];
	if (!m)
		return;
	/* Names are unique across scopes on the manager asked (the store
	 * checks the swarm's; another node's local names are its own). */
	if (local_named(call, name)) {
		api_reply_error(call, 409,
				"network with name %s already exists", name);
		return;
	}
	id_swarm(id);
	struct mgr_write_req req = {.id = id,
				    .body = call->req->body,
				    .body_len = call->req->body_len};
	swarm_write(call, m, "network-create", &req, 201,
		    json_pack("{s:s, s:s}", "Id", id, "Warning", ""));
}

static void swarm_remove(struct api_call *call, struct mgr *m,
			 const struct store_object *o)
{
	struct mgr_write_req req = {.id = o->id};
	swarm_write(call, m, "network-remove", &req, 204, NULL);
}

/* Whether the create body asks for a swarm network. */
static bool wants_swarm(const json_t *body)
{
	return !strcmp(jsonx_str(body, "Driver", ""), "overlay") ||
	       !strcmp(jsonx_str(body, "Scope", ""), "swarm");
}

/* --- local networks and the routes ---------------------------------------- */

static struct net *need_net(struct api_call *call, struct api__state **st)
{
	struct net *n;

	*st = api__need(call);
	if (!*st)
		return NULL;
	n = eng_net((*st)->eng);
	if (!n)
		api_reply_error(call, 503, "networking is off in this daemon");
	return n;
}

static void reply_err(struct api_call *call, int rc, const struct shoal_err *e)
{
	api_reply_error(call, net_status(rc), "%s",
			e->msg[0] ? e->msg : shoal_strerror(rc));
}

static bool any_match(const char *const *v, const char *s, bool prefix,
		      bool sub)
{
	if (!v[0])
		return true;
	for (size_t i = 0; v[i]; i++)
		if ((sub && strstr(s, v[i])) ||
		    (prefix && !strncmp(s, v[i], strlen(v[i]))) ||
		    !strcmp(s, v[i]))
			return true;
	return false;
}

static bool labels_match(const char *const *v, const json_t *labels)
{
	for (size_t i = 0; v[i]; i++) {
		const char *eq = strchr(v[i], '=');
		char key[256];
		const char *val;
		snprintf(key, sizeof(key), "%.*s",
			 eq ? (int)(eq - v[i]) : (int)strlen(v[i]), v[i]);
		val = json_string_value(json_object_get(labels, key));
		if (!val || (eq && strcmp(val, eq + 1)))
			return false;
	}
	return true;
}

static bool builtin(const json_t *r)
{
	const char *name = jsonx_str(r, "Name", "");

	return !strcmp(name, "bridge") || !strcmp(name, "host") ||
	       !strcmp(name, "none");
}

/* A worker's list: the overlays it has joined, as Docker's workers list
 * the swarm networks their tasks and containers use (a worker has no copy
 * of the store; its joined overlays' records are what it knows). */
static void joined_overlays(struct net *n, json_t *all)
{
	struct net_overlay_state *v = NULL;
	size_t count = 0;
	if (net_overlay_list(n, &v, &count) < 0)
		return;
	for (size_t i = 0; i < count; i++) {
		int rc = 0;
		json_t *r = net_network_inspect(n, v[i].id, &rc);
		if (r)
			json_array_append_new(all, r);
	}
	shoal_free(v);
}

static void list(struct api_call *call)
{
	static const char *const known[] = {"name",	"id",	"driver",
					    "label",	"type", "scope",
					    "dangling", NULL};
	const char *names[API__FILTER_VALUES + 1], *ids[API__FILTER_VALUES + 1];
	const char *drv[API__FILTER_VALUES + 1], *lab[API__FILTER_VALUES + 1];
	const char *type[API__FILTER_VALUES + 1],
		*scope[API__FILTER_VALUES + 1];
	const char *dang[API__FILTER_VALUES + 1];
	struct api__state *st = api__state_of(call);
	struct mgr *m = swarm_mgr(call);
	struct net *n = st ? eng_net(st->eng) : NULL;
	json_t *f, *all, *out, *r;
	char err[256];
	size_t i;

	if (!m && !need_net(call, &st))
		return;
	if (api__filters_parse(http_request_query(call->req, "filters"), known,
			       &f, err, sizeof(err)) < 0) {
		api_reply_error(call, 400, "%s", err);
		return;
	}
	api__filter_values(f, "name", names);
	api__filter_values(f, "id", ids);
	api__filter_values(f, "driver", drv);
	api__filter_values(f, "label", lab);
	api__filter_values(f, "type", type);
	api__filter_values(f, "scope", scope);
	api__filter_values(f, "dangling", dang);
	for (i = 0; type[i]; i++)
		if (strcmp(type[i], "custom") && strcmp(type[i], "builtin")) {
			api_reply_error(call, 400,
					"invalid filter: 'type'='%s'", type[i]);
			json_decref(f);
			return;
		}
	for (i = 0; dang[i]; i++)
		if (strcmp(dang[i], "true") && strcmp(dang[i], "false") &&
		    strcmp(dang[i], "1") && strcmp(dang[i], "0")) {
			api_reply_error(call, 400,
					"invalid filter 'dangling=%s'",
					dang[i]);
			json_decref(f);
			return;
		}
	all = n ? net_network_list(n) : json_array();
	swarm_list(m, all);
	if (!m && n && all && api__swarm_watt(call))
		joined_overlays(n, all);
	out = json_array();
	json_array_foreach(all, i, r)
	{
		const char *t = builtin(r) ? "builtin" : "custom";
		bool used = json_object_size(jsonx_obj(r, "Containers")) > 0;
		bool d = dang[0] &&
			 (!strcmp(dang[0], "true") || !strcmp(dang[0], "1"));
		if (!any_match(names, jsonx_str(r, "Name", ""), false, true) ||
		    !any_match(ids, jsonx_str(r, "Id", ""), true, false) ||
		    !any_match(drv, jsonx_str(r, "Driver", ""), false, false) ||
		    !any_match(type, t, false, false) ||
		    !any_match(scope, jsonx_str(r, "Scope", "local"), false,
			       false) ||
		    !labels_match(lab, jsonx_obj(r, "Labels")) ||
		    (dang[0] && (d ? used || builtin(r) : !used)))
			continue;
		/* Docker leaves Containers out of the list (empty). */
		json_object_set_new(r, "Containers", json_object());
		json_array_append(out, r);
	}
	json_decref(all);
	json_decref(f);
	api_reply_json(call, 200, out);
}

/* The overlay joined on this node that @ref names (its name, full id or
 * a unique id prefix), as its local record shows it (owned), or NULL.
 * An overlay's record answers to its full id only (a local network may
 * share its name): names are looked up here, after the local networks. */
static json_t *joined_overlay(struct net *n, const char *ref)
{
	struct net_overlay_state *v = NULL;
	size_t count = 0, hits = 0, len = strlen(ref);
	json_t *hit = NULL;
	if (!len || net_overlay_list(n, &v, &count) < 0)
		return NULL;
	for (size_t i = 0; i < count; i++) {
		int rc = 0;
		json_t *r = net_network_inspect(n, v[i].id, &rc);
		if (r && (!strcmp(jsonx_str(r, "Name", ""), ref) ||
			  !strncmp(v[i].id, ref, len))) {
			json_decref(hit);
			hit = r;
			hits++;
		} else {
			json_decref(r);
		}
	}
	shoal_free(v);
	if (hits != 1) {
		json_decref(hit);
		return NULL;
	}
	return hit;
}

/* Docker's Peers of overlay @net_id: every node with a task or an attached
 * container on it that has not ended, as {"Name": hostname, "IP": its
 * address} (docker network inspect on a manager). */
static json_t *peers_json(struct mgr *m, const char *net_id)
{
	const struct store_object **all;
	size_t n;
	json_t *seen = json_object(), *out = json_array();
	if (!seen || !out ||
	    store_list(mgr_store(m), STORE_TASKS, &all, &n) < 0) {
		json_decref(seen);
		return out;
	}
	for (size_t i = 0; i < n; i++) {
		if (!memmem(all[i]->spec, all[i]->spec_len, net_id,
			    strlen(net_id)))
			continue;
		json_t *sp = api__obj_parsed(all[i]->spec, all[i]->spec_len);
		json_t *st =
			api__obj_parsed(all[i]->status, all[i]->status_len);
		enum task_state s = TASK_NEW;
		task_state_parse(jsonx_str(st, "State", ""), &s);
		const char *node = jsonx_str(sp, "NodeID", "");
		size_t j;
		json_t *a;
		json_array_foreach(json_object_get(sp, "NetworksAttachments"),
				   j, a)
		{
			if (*node && !task_state_terminal(s) &&
			    !strcmp(jsonx_str(jsonx_obj(a, "Network"), "ID",
					      ""),
				    net_id))
				json_object_set_new(seen, node, json_true());
		}
		json_decref(sp);
		json_decref(st);
	}
	shoal_free(all);
	const char *id;
	json_t *v;
	json_object_foreach(seen, id, v)
	{
		const struct store_object *o =
			store_get(mgr_store(m), STORE_NODES, id);
		json_t *st =
			o ? api__obj_parsed(o->status, o->status_len) : NULL;
		json_array_append_new(
			out, json_pack("{s:s, s:s}", "Name",
				       jsonx_str(jsonx_obj(st, "Description"),
						 "Hostname", id),
				       "IP",
				       jsonx_str(jsonx_obj(st, "Status"),
						 "Addr", "")));
		json_decref(st);
	}
	json_decref(seen);
	return out;
}

/* This node's containers on swarm network @r (the store's view) from its
 * local record, as Docker shows a node's own endpoints. */
static void local_containers(struct api_call *call, json_t *r)
{
	struct net *n =
		api__state_of(call) ? eng_net(api__state_of(call)->eng) : NULL;
	int rc = 0;
	json_t *loc =
		n ? net_network_inspect(n, jsonx_str(r, "Id", ""), &rc) : NULL;
	json_t *c = json_object_get(loc, "Containers");
	if (json_is_object(c))
		json_object_set(r, "Containers", c);
	json_decref(loc);
}

static void inspect(struct api_call *call)
{
	struct api__state *st;
	struct mgr *m = swarm_mgr(call);
	const char *ref = api_param(call, "id");
	const struct store_object *o =
		m ? alloc_network_find(mgr_store(m), ref) : NULL;
	struct net *n;
	int rc;
	json_t *r;

	if (o) {
		r = swarm_json(o);
		if (r)
			local_containers(call, r);
		if (r)
			json_object_set_new(r, "Peers", peers_json(m, o->id));
		if (r)
			api_reply_json(call, 200, r);
		else
			api_reply_error(call, 500, "out of memory");
		return;
	}
	if (!(n = need_net(call, &st)))
		return;
	r = net_network_inspect(n, ref, &rc);
	if (!r && api__swarm_watt(call))
		r = joined_overlay(n, ref);
	if (!r) {
		api_reply_error(call, net_status(rc), "network %s not found",
				ref);
		return;
	}
	api_reply_json(call, 200, r);
}

static void create(struct api_call *call)
{
	struct api__state *st;
	struct net *n;
	struct shoal_err e = {""};
	json_t *body = NULL, *cfg;
	char err[256], id[65];
	int rc;

	if (jsonx_parse_object(call->req->body, call->req->body_len, &body, err,
			       sizeof(err)) < 0) {
		api_reply_error(call, 400, "%s", err);
		return;
	}
	if (wants_swarm(body)) {
		swarm_create(call, body);
		json_decref(body);
		return;
	}
	if (!(n = need_net(call, &st))) {
		json_decref(body);
		return;
	}
	struct mgr *m = swarm_mgr(call);
	if (m && store_get_by_name(mgr_store(m), STORE_NETWORKS,
				   jsonx_str(body, "Name", ""))) {
		api_reply_error(call, 409,
				"network with name %s already exists",
				jsonx_str(body, "Name", ""));
		json_decref(body);
		return;
	}
	const json_t *ipam = jsonx_obj(body, "IPAM");
	cfg = json_object_get(ipam, "Config");
	const char *ipam_drv = jsonx_str(ipam, "Driver", "default");
	struct net_create_opts o = {
		.name = jsonx_str(body, "Name", ""),
		.driver = jsonx_str(body, "Driver", "bridge"),
		.internal = jsonx_bool(body, "Internal", false),
		.attachable = jsonx_bool(body, "Attachable", false),
		.ipv6 = jsonx_bool(body, "EnableIPv6", false),
		.labels = jsonx_obj(body, "Labels"),
		.options = jsonx_obj(body, "Options"),
		.subnet = jsonx_str(json_array_get(cfg, 0), "Subnet", ""),
		.gateway = jsonx_str(json_array_get(cfg, 0), "Gateway", ""),
		.ip_range = jsonx_str(json_array_get(cfg, 0), "IPRange", ""),
	};
	if (*ipam_drv && strcmp(ipam_drv, "default")) {
		api_reply_error(call, 400,
				"IPAM driver %s is not supported "
				"(only default)",
				ipam_drv);
	} else if (json_array_size(cfg) > 1) {
		api_reply_error(call, 400,
				"only one IPAM config (one IPv4 "
				"subnet) per network is supported");
	} else if (json_object_size(jsonx_obj(json_array_get(cfg, 0),
					      "AuxiliaryAddresses"))) {
		api_reply_error(call, 400,
				"IPAM AuxiliaryAddresses are not supported");
	} else if (json_object_size(jsonx_obj(ipam, "Options")) ||
		   jsonx_bool(body, "Ingress", false) ||
		   jsonx_bool(body, "ConfigOnly", false) ||
		   *jsonx_str(jsonx_obj(body, "ConfigFrom"), "Network", "")) {
		api_reply_error(call, 400,
				"IPAM.Options, Ingress, ConfigOnly and "
				"ConfigFrom are not supported");
	} else if ((rc = net_network_create(n, &o, id, &e)) < 0) {
		reply_err(call, rc, &e);
	} else {
		api_reply_json(
			call, 201,
			json_pack("{s:s, s:s}", "Id", id, "Warning", ""));
	}
	json_decref(body);
}

static void remove_(struct api_call *call)
{
	struct api__state *st;
	struct mgr *m = swarm_mgr(call);
	const struct store_object *o =
		m ? alloc_network_find(mgr_store(m), api_param(call, "id"))
		  : NULL;
	struct net *n;
	struct shoal_err e = {""};
	int rc;

	if (o) {
		swarm_remove(call, m, o);
		return;
	}
	if (!(n = need_net(call, &st)))
		return;
	rc = net_network_remove(n, api_param(call, "id"), &e);
	if (rc < 0) {
		reply_err(call, rc, &e);
		return;
	}
	http_response_send(call->res, 204, NULL, NULL, 0);
}

struct prune_filter {
	const char *const *want, *const *reject;
};

static bool keep(const json_t *r, void *arg)
{
	struct prune_filter *pf = arg;
	const json_t *labels = jsonx_obj(r, "Labels");

	if (pf->want[0] && !labels_match(pf->want, labels))
		return true;
	if (pf->reject[0] && labels_match(pf->reject, labels))
		return true;
	return false;
}

/* A prune's overlays, removed one write at a time (each may be refused:
 * a service uses it), then the answer. */
struct prune_chain {
	struct http_response *res; /* NULL once the client left */
	struct mgr *m;
	json_t *removed; /* names deleted, local ones first */
	json_t *todo;	 /* [[id, name], ...] */
	size_t next;
};

static void prune_client_gone(struct http_response *res, void *arg)
{
	struct prune_chain *c = arg;
	c->res = NULL;
}

static void prune_next(struct prune_chain *c);

static void prune_done(void *arg, int rc, const char *msg)
{
	struct prune_chain *c = arg;
	if (rc == 0)
		json_array_append(
			c->removed,
			json_array_get(json_array_get(c->todo, c->next), 1));
	c->next++;
	prune_next(c);
}

static void prune_next(struct prune_chain *c)
{
	char err[400];
	while (c->next < json_array_size(c->todo)) {
		json_t *t = json_array_get(c->todo, c->next);
		struct mgr_write_req req = {
			.id = json_string_value(json_array_get(t, 0))};
		if (mgr_write(c->m, "network-remove", &req, prune_done, c, err,
			      sizeof(err)) == 0)
			return; /* prune_done() goes on */
		c->next++;	/* refused at once: not deleted */
	}
	if (c->res) {
		json_t *body =
			json_pack("{s:O}", "NetworksDeleted", c->removed);
		size_t len = 0;
		char *text = body ? jsonx_dump(body, &len) : NULL;
		http_response_on_close(c->res, NULL, NULL);
		if (text)
			http_response_send(c->res, 200, "application/json",
					   text, len);
		else
			http_response_send_error(c->res, 500, "out of memory");
		shoal_free(text);
		json_decref(body);
	}
	json_decref(c->removed);
	json_decref(c->todo);
	shoal_free(c);
}

/* The overlays a prune with @pf removes: [[id, name], ...] (owned). */
static json_t *prune_overlays(struct mgr *m, struct prune_filter *pf)
{
	const struct store_object **all;
	size_t n;
	json_t *todo = json_array();
	if (!todo || !m ||
	    store_list(mgr_store(m), STORE_NETWORKS, &all, &n) < 0)
		return todo;
	for (size_t i = 0; i < n; i++) {
		json_t *r = swarm_json(all[i]);
		if (r && !keep(r, pf))
			json_array_append_new(
				todo,
				json_pack("[s, s]", all[i]->id,
					  all[i]->name ? all[i]->name : ""));
		json_decref(r);
	}
	shoal_free(all);
	return todo;
}

static void prune(struct api_call *call)
{
	static const char *const known[] = {"label", "label!", "until", NULL};
	const char *want[API__FILTER_VALUES + 1];
	const char *reject[API__FILTER_VALUES + 1];
	const char *until[API__FILTER_VALUES + 1];
	struct api__state *st = api__state_of(call);
	struct mgr *m = swarm_mgr(call);
	struct net *n = st ? eng_net(st->eng) : NULL;
	json_t *f, *removed;
	char err[256];

	if (!m && !(n = need_net(call, &st)))
		return;
	if (api__filters_parse(http_request_query(call->req, "filters"), known,
			       &f, err, sizeof(err)) < 0) {
		api_reply_error(call, 400, "%s", err);
		return;
	}
	api__filter_values(f, "label", want);
	api__filter_values(f, "label!", reject);
	api__filter_values(f, "until", until);
	if (until[0]) {
		api_reply_error(call, 400,
				"the until filter of network prune "
				"is not supported yet");
		json_decref(f);
		return;
	}
	struct prune_filter pf = {want, reject};
	removed = json_array();
	if (n)
		net_network_prune(n, keep, &pf, removed);
	json_t *todo = prune_overlays(m, &pf);
	json_decref(f);
	struct prune_chain *c = todo && json_array_size(todo)
					? shoal_calloc(1, sizeof(*c))
					: NULL;
	if (!c) {
		json_decref(todo);
		api_reply_json(call, 200,
			       json_pack("{s:o}", "NetworksDeleted", removed));
		return;
	}
	*c = (struct prune_chain){
		.res = call->res, .m = m, .removed = removed, .todo = todo};
	http_response_on_close(call->res, prune_client_gone, c);
	prune_next(c);
}

/*
 * `docker network connect OVERLAY CTR` (docs/overlay.md, "Attachable
 * overlays"): the agent asks the leader for an address, then the
 * container joins the overlay with it (eth1...), answering 200; or the
 * managers' refusal in Docker's words. The request's parts are copied:
 * the call is over when the answer comes.
 */
struct overlay_connect {
	struct api_call call; /* a copy: its res is the one answered */
	struct net *net;
	struct watt *watt;
	uint64_t attach_id;
	char ref[129];
	char id[RT_ID_LEN + 1];
	char name[256];
	char *aliases[65];
};

static void oc_free(struct overlay_connect *oc)
{
	for (size_t i = 0; oc->aliases[i]; i++)
		shoal_free(oc->aliases[i]);
	shoal_free(oc);
}

static void oc_gone(struct http_response *res, void *arg)
{
	struct overlay_connect *oc = arg;
	(void)res;
	watt_cancel(oc->watt, oc->attach_id);
	oc_free(oc);
}

static void oc_answered(void *arg, int code, const char *error,
			const struct watt_grant *g)
{
	struct overlay_connect *oc = arg;
	struct shoal_err e = {""};
	http_response_on_close(oc->call.res, NULL, NULL);
	if (code == SHOAL_ENOTFOUND) {
		api_reply_error(&oc->call, 404, "network %s not found",
				oc->ref);
	} else if (code < 0) {
		api_reply_error(&oc->call,
				code == -EPERM				  ? 403
				: code == -ENOTCONN || code == -ETIMEDOUT ? 503
									  : 500,
				"Could not attach to network %s: %s", oc->ref,
				error);
	} else {
		struct net_ep_req req = {
			.network = g->net_id,
			.aliases = (const char **)oc->aliases,
			.ip = g->addr,
			.mac = "",
		};
		int rc = net_connect(oc->net, oc->id, oc->name, &req, &e);
		watt_release(oc->watt, g->task_id);
		if (rc < 0)
			reply_err(&oc->call, rc, &e);
		else
			http_response_send(oc->call.res, 200, NULL, NULL, 0);
	}
	oc_free(oc);
}

/* 0: waiting for the managers' answer (the call is answered later). */
static void overlay_connect(struct api_call *call, struct net *n,
			    struct watt *watt, const char *ref, const char *id,
			    const char *name, const char *const *al,
			    const json_t *ec)
{
	if (*jsonx_str(jsonx_obj(ec, "IPAMConfig"), "IPv4Address", "") ||
	    *jsonx_str(ec, "MacAddress", "")) {
		api_reply_error(call, 400,
				"--ip and --mac-address are not supported on "
				"the overlay network %s: the swarm's managers "
				"choose the container's address",
				ref);
		return;
	}
	struct overlay_connect *oc = shoal_calloc(1, sizeof(*oc));
	const char *names[66];
	size_t k = 0;
	if (!oc) {
		api_reply_error(call, 500, "out of memory");
		return;
	}
	oc->call = *call;
	oc->net = n;
	oc->watt = watt;
	snprintf(oc->ref, sizeof(oc->ref), "%s", ref);
	snprintf(oc->id, sizeof(oc->id), "%s", id);
	snprintf(oc->name, sizeof(oc->name), "%s",
		 *name == '/' ? name + 1 : name);
	if (*oc->name)
		names[k++] = oc->name;
	for (size_t i = 0; i < 64 && al[i]; i++) {
		if (!(oc->aliases[i] = shoal_strdup(al[i]))) {
			oc_free(oc);
			api_reply_error(call, 500, "out of memory");
			return;
		}
		names[k++] = oc->aliases[i];
	}
	struct agent_attach_req ar = {
		.network = oc->ref,
		.container_id = oc->id,
		.names = names,
		.n = k,
	};
	int rc = watt_attach(watt, &ar, oc_answered, oc, &oc->attach_id);
	if (rc < 0) {
		api_reply_error(call, 503, "Could not attach to network %s: %s",
				ref,
				rc == -ENOTCONN ? "this node has no session "
						  "with the swarm's managers; "
						  "try again"
						: shoal_strerror(rc));
		oc_free(oc);
		return;
	}
	http_response_on_close(call->res, oc_gone, oc);
}

static void connect_(struct api_call *call)
{
	struct api__state *st;
	struct net *n = need_net(call, &st);
	struct shoal_err e = {""};
	struct eng_info info;
	json_t *body = NULL;
	const char *al[65] = {NULL};
	char err[256], id[RT_ID_LEN + 1];
	int rc;

	if (!n)
		return;
	int nrc = 0;
	json_t *mine = net_network_inspect(n, api_param(call, "id"), &nrc);
	bool own = mine != NULL; /* a network of this node's own */
	json_decref(mine);
	struct watt *watt = own ? NULL : api__swarm_watt(call);
	if (!own && api__swarm_net_attach_check(call, api_param(call, "id"),
						err, sizeof(err)) < 0) {
		api_reply_error(call, 403, "%s", err);
		return;
	}
	if (jsonx_parse_object(call->req->body, call->req->body_len, &body, err,
			       sizeof(err)) < 0) {
		api_reply_error(call, 400, "%s", err);
		return;
	}
	const json_t *ec = jsonx_obj(body, "EndpointConfig");
	const json_t *aliases = json_object_get(ec, "Aliases"), *x;
	size_t i;
	json_array_foreach(aliases, i, x)
	{
		if (i < 64)
			al[i] = json_string_value(x);
	}
	struct net_ep_req req = {
		.network = api_param(call, "id"),
		.aliases = al,
		.ip = jsonx_str(jsonx_obj(ec, "IPAMConfig"), "IPv4Address", ""),
		.mac = jsonx_str(ec, "MacAddress", ""),
	};
	if (json_array_size(aliases) > 64 ||
	    json_object_size(jsonx_obj(ec, "DriverOpts")) ||
	    json_array_size(json_object_get(ec, "Links")) ||
	    *jsonx_str(jsonx_obj(ec, "IPAMConfig"), "IPv6Address", "")) {
		api_reply_error(call, 400,
				"EndpointConfig: more than 64 "
				"aliases, DriverOpts, Links and "
				"IPv6Address are not supported");
		json_decref(body);
		return;
	}
	if (api__resolve(call, st, jsonx_str(body, "Container", ""), id) < 0) {
		json_decref(body);
		return;
	}
	rc = eng_inspect(st->eng, id, &info);
	if (rc == 0 && watt) { /* not this node's: an overlay (or none) */
		overlay_connect(call, n, watt, api_param(call, "id"), id,
				info.rt.name ? info.rt.name : "", al, ec);
		eng_info_fini(&info);
		json_decref(body);
		return;
	}
	if (rc == 0) {
		rc = net_connect(n, id, info.rt.name ? info.rt.name : "", &req,
				 &e);
		eng_info_fini(&info);
	}
	json_decref(body);
	if (rc < 0) {
		reply_err(call, rc, &e);
		return;
	}
	http_response_send(call->res, 200, NULL, NULL, 0);
}

static void disconnect(struct api_call *call)
{
	struct api__state *st;
	struct net *n = need_net(call, &st);
	struct shoal_err e = {""};
	json_t *body = NULL;
	char err[256], id[RT_ID_LEN + 1];
	int rc;

	if (!n)
		return;
	if (jsonx_parse_object(call->req->body, call->req->body_len, &body, err,
			       sizeof(err)) < 0) {
		api_reply_error(call, 400, "%s", err);
		return;
	}
	if (api__resolve(call, st, jsonx_str(body, "Container", ""), id) < 0) {
		json_decref(body);
		return;
	}
	json_decref(body);
	/* An overlay's record answers to its full id only: a name or a
	 * prefix is looked up among the container's own networks. */
	char ref[RT_ID_LEN + 1];
	snprintf(ref, sizeof(ref), "%s", api_param(call, "id"));
	json_t *set = net_ctr_settings(n, id, "");
	const char *k;
	json_t *v;
	json_object_foreach(jsonx_obj(set, "Networks"), k, v)
	{
		const char *nid = jsonx_str(v, "NetworkID", "");
		if (*nid && (!strcmp(k, api_param(call, "id")) ||
			     !strncmp(nid, api_param(call, "id"),
				      strlen(api_param(call, "id")))))
			snprintf(ref, sizeof(ref), "%s", nid);
	}
	json_decref(set);
	rc = net_disconnect(n, id, ref, &e);
	if (rc < 0) {
		reply_err(call, rc, &e);
		return;
	}
	struct watt *watt = api__swarm_watt(call);
	if (watt) /* an attachment it held goes back to the managers */
		watt_check(watt);
	http_response_send(call->res, 200, NULL, NULL, 0);
}

static const struct api_route routes[] = {
	{"GET", "/networks", list},
	{"POST", "/networks/create", create},
	{"POST", "/networks/prune", prune},
	{"GET", "/networks/{id}", inspect},
	{"DELETE", "/networks/{id}", remove_},
	{"POST", "/networks/{id}/connect", connect_},
	{"POST", "/networks/{id}/disconnect", disconnect},
};

const struct api_route_table api_networks_table = {
	.name = "networks",
	.routes = routes,
	.nroutes = sizeof(routes) / sizeof(routes[0]),
};
