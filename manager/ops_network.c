/*
 * The overlay network writes of manager/write.c's table (docs/overlay.md):
 * "network-create" and "network-remove", on the store's networks table.
 *
 *   create  the id comes with the request (the API draws it with
 *           id_swarm(), so that it can answer {"Id": ...} once the change
 *           commits, wherever the write was forwarded). The body is
 *           Docker's NetworkCreateRequest, checked by alloc_net_check()
 *           on the manager the client asked and again on the leader; the
 *           leader refuses a name already taken and lets the allocator's
 *           core pick the VNI, subnet and gateway against every overlay
 *           in the store and those proposed and not applied yet (the
 *           in-flight list below), and writes them into the network's
 *           spec in the same change: an allocation is never lost to a
 *           failover, and two creates cannot take the same VNI or subnet
 *           even when the second is built before the first is applied.
 *   remove  refused while a service names the network (Docker's words);
 *           otherwise the object goes.
 *
 * Spec stored: {"Name", "Driver": "overlay", "Scope": "swarm", "Internal",
 * "Attachable", "Labels", "Options", "IPAM": {"Driver": "default",
 * "Config": [{"Subnet", "Gateway"}]}, "VNI"}; status {}.
 */
#define LOG_MODULE "manager"
#include "common/alloc.h"
#include "common/clock.h"
#include "common/error.h"
#include "common/id.h"
#include "common/jsonx.h"
#include "common/log.h"
#include "manager/allocator.h"
#include "manager/internal.h"
#include "manager/service.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

static int create_check(const json_t *body, const struct mgr_write_req *req,
			char *err, size_t errlen)
{
	json_t *out = NULL;
	int rc = alloc_net_check(body, &out, err, errlen);
	json_decref(out);
	return rc;
}

/*
 * Allocations proposed but not applied yet. The leader builds a create
 * against its store, and a second create may be built before the first
 * is applied (proposals are pipelined): without these it would be given
 * the same VNI and subnet. An entry leaves when its write is applied or
 * refused (the committed hook), or after INFLIGHT_TTL_NS in case its
 * proposal failed before Raft took it (the hook never runs then). The
 * loop's thread only.
 */
#define INFLIGHT_MAX 64
#define INFLIGHT_TTL_NS (60LL * 1000000000LL)

static struct inflight {
	const struct mgr *m;
	char id[STORE_ID_MAX + 1];
	struct alloc_net a;
	int64_t at_ns;
} inflight[INFLIGHT_MAX];
static size_t ninflight;

static void inflight_drop(size_t i)
{
	inflight[i] = inflight[--ninflight];
}

static void inflight_expire(void)
{
	int64_t now = time_mono_ns();
	for (size_t i = 0; i < ninflight;)
		if (now - inflight[i].at_ns > INFLIGHT_TTL_NS)
			inflight_drop(i);
		else
			i++;
}

/* Append @m's allocations in flight to @used (room for ninflight more). */
static size_t inflight_add_to(const struct mgr *m, struct alloc_net *used,
			      size_t n)
{
	for (size_t i = 0; i < ninflight; i++)
		if (inflight[i].m == m)
			used[n++] = inflight[i].a;
	return n;
}

/* The allocations of every overlay in the store and of those in flight
 * on @m: *@out owned. */
static int used_networks(const struct mgr *m, const struct store *s,
			 struct alloc_net **out, size_t *n)
{
	const struct store_object **objs;
	size_t count, k = 0;
	int rc = store_list(s, STORE_NETWORKS, &objs, &count);
	if (rc < 0)
		return rc;
	*out = shoal_calloc(count + ninflight + 1, sizeof(**out));
	if (!*out) {
		shoal_free(objs);
		return -ENOMEM;
	}
	for (size_t i = 0; i < count; i++) {
		json_t *spec = mgr__obj_json(objs[i]->spec, objs[i]->spec_len);
		if (spec && alloc_net_read(spec, &(*out)[k]) == 0)
			k++;
		json_decref(spec);
	}
	shoal_free(objs);
	*n = inflight_add_to(m, *out, k);
	return 0;
}

static int add_network(struct store_batch *b, const char *id, const char *name,
		       const json_t *spec)
{
	size_t len;
	char *s = jsonx_dump(spec, &len);
	int rc = s ? store_batch_create(b, STORE_NETWORKS, id, name, s, len,
					"{}", 2)
		   : -ENOMEM;
	shoal_free(s);
	return rc;
}

static int create_build(struct mgr__write_ctx *w, char *err, size_t errlen)
{
	const char *id = w->req->id;
	struct alloc_net *used = NULL, a;
	size_t n = 0;
	json_t *spec = NULL;
	if (!id_is_swarm(id)) {
		snprintf(err, errlen, "invalid network id \"%.64s\"", id);
		return -EINVAL;
	}
	int rc = alloc_net_check(w->body, &spec, err, errlen);
	if (rc < 0)
		return rc;
	const char *name = jsonx_str(spec, "Name", "");
	const json_t *c = json_array_get(
		json_object_get(jsonx_obj(spec, "IPAM"), "Config"), 0);
	if (store_get_by_name(w->m->store, STORE_NETWORKS, name) ||
	    store_get(w->m->store, STORE_NETWORKS, id)) {
		snprintf(err, errlen, "network with name %.128s already exists",
			 name);
		rc = SHOAL_ECONFLICT;
	}
	inflight_expire();
	if (rc == 0 && ninflight == INFLIGHT_MAX) {
		snprintf(err, errlen,
			 "too many network creates in flight (%d); try again",
			 INFLIGHT_MAX);
		rc = -EBUSY;
	}
	if (rc == 0)
		rc = used_networks(w->m, w->m->store, &used, &n);
	if (rc == 0)
		rc = alloc_net_pick(used, n, jsonx_str(c, "Subnet", ""),
				    jsonx_str(c, "Gateway", ""), &a, err,
				    errlen);
	if (rc == 0)
		rc = alloc_net_apply(spec, &a);
	if (rc == 0)
		rc = add_network(w->b, id, name, spec);
	if (rc == 0) {
		struct inflight *f = &inflight[ninflight++];
		f->m = w->m;
		snprintf(f->id, sizeof(f->id), "%s", id);
		f->a = a;
		f->at_ns = time_mono_ns();
	}
	shoal_free(used);
	json_decref(spec);
	return rc;
}

/* Whether the service spec @spec names network @id or @name in
 * TaskTemplate.Networks or Networks (Target). */
static bool names_network(const json_t *spec, const char *id, const char *name)
{
	const json_t *lists[2] = {
		json_object_get(jsonx_obj(spec, "TaskTemplate"), "Networks"),
		json_object_get(spec, "Networks")};
	for (size_t l = 0; l < 2; l++) {
		size_t i;
		json_t *v;
		json_array_foreach(lists[l], i, v)
		{
			const char *t = jsonx_str(v, "Target", "");
			if (!strcmp(t, id) || !strcmp(t, name))
				return true;
		}
	}
	return false;
}

const struct store_object *alloc_network_find(const struct store *s,
					      const char *ref)
{
	const struct store_object *o = store_get(s, STORE_NETWORKS, ref);
	if (!o)
		o = store_get_by_name(s, STORE_NETWORKS, ref);
	if (o || !*ref)
		return o;
	const struct store_object **all;
	size_t n, hits = 0, len = strlen(ref);
	if (store_list(s, STORE_NETWORKS, &all, &n) < 0)
		return NULL;
	for (size_t i = 0; i < n; i++)
		if (!strncmp(all[i]->id, ref, len)) {
			o = all[i];
			hits++;
		}
	shoal_free(all);
	return hits == 1 ? o : NULL;
}

int mgr__service_nets_resolve(const struct store *s, json_t *spec, char *err,
			      size_t errlen)
{
	json_t *nets =
		json_object_get(jsonx_obj(spec, "TaskTemplate"), "Networks");
	size_t i;
	json_t *x;
	json_array_foreach(nets, i, x)
	{
		const char *t = jsonx_str(x, "Target", "");
		const struct store_object *o =
			*t ? alloc_network_find(s, t) : NULL;
		if (!o && (!strcmp(t, "bridge") || !strcmp(t, "host") ||
			   !strcmp(t, "none"))) {
			snprintf(err, errlen,
				 "The network %.64s cannot be used with "
				 "services. Only networks scoped to the swarm "
				 "can be used, such as those created with the "
				 "overlay driver.",
				 t);
			return -EINVAL;
		}
		if (!o) {
			snprintf(err, errlen, "network %.64s not found", t);
			return SHOAL_ENOTFOUND;
		}
		for (size_t j = 0; j < i; j++)
			if (!strcmp(o->id, jsonx_str(json_array_get(nets, j),
						     "Target", ""))) {
				snprintf(err, errlen,
					 "rpc error: code = InvalidArgument "
					 "desc = service cannot attach to "
					 "network %.64s more than once",
					 o->name);
				return -EINVAL;
			}
		if (jsonx_set(x, "Target", json_string(o->id)) < 0)
			return -ENOMEM;
	}
	return 0;
}

/* Whether @p publishes in ingress mode (the default). */
static bool port_ingress(const json_t *p)
{
	const char *m = jsonx_str(p, "PublishMode", "");
	return !*m || !strcmp(m, "ingress");
}

/* Whether published port @p of a new spec meets @q of another service:
 * same protocol and number, one of them in ingress mode (an ingress port
 * takes the number on every node). */
static bool ports_meet(const json_t *p, const json_t *q)
{
	int64_t a = jsonx_int(p, "PublishedPort", 0);
	return a && a == jsonx_int(q, "PublishedPort", 0) &&
	       !strcmp(jsonx_str(p, "Protocol", "tcp"),
		       jsonx_str(q, "Protocol", "tcp")) &&
	       (port_ingress(p) || port_ingress(q));
}

static int port_conflict(const json_t *ports, const struct store_object *o,
			 char *err, size_t errlen)
{
	json_t *sp = mgr__obj_json(o->spec, o->spec_len);
	json_t *st = mgr__obj_json(o->status, o->status_len);
	const json_t *theirs[2] = {
		json_object_get(jsonx_obj(sp, "EndpointSpec"), "Ports"),
		json_object_get(jsonx_obj(st, "Endpoint"), "Ports")};
	int rc = 0;
	size_t i, j;
	json_t *p, *q;
	json_array_foreach(ports, i, p)
	{
		for (int l = 0; l < 2 && rc == 0; l++)
			json_array_foreach(theirs[l], j, q)
			{
				if (rc || !ports_meet(p, q))
					continue;
				snprintf(err, errlen,
					 "rpc error: code = InvalidArgument "
					 "desc = port '%lld' is already in use "
					 "by service '%.64s' (%.64s) as %s",
					 (long long)jsonx_int(
						 p, "PublishedPort", 0),
					 o->name, o->id,
					 port_ingress(q)
						 ? "an ingress port"
						 : "a host-published port");
				rc = -EINVAL;
			}
	}
	json_decref(sp);
	json_decref(st);
	return rc;
}

/*
 * Published ports of service writes built on this leader and not applied
 * yet (as the network creates above): a second write built before the
 * first is applied checks against these too, so two services pipelined
 * together never both get a port. An entry leaves when its write is
 * applied or refused (mgr__service_ports_done()), or after
 * INFLIGHT_TTL_NS. The loop's thread only.
 */
#define CLAIMS_MAX 256

static struct claim {
	const struct mgr *m;
	char svc[STORE_ID_MAX + 1];
	char name[STORE_NAME_MAX + 1];
	json_t *port; /* owned */
	int64_t at_ns;
} claims[CLAIMS_MAX];
static size_t nclaims;

static void claim_drop(size_t i)
{
	json_decref(claims[i].port);
	claims[i] = claims[--nclaims];
}

void mgr__service_ports_done(struct mgr *m, const char *id)
{
	int64_t now = time_mono_ns();
	for (size_t i = 0; i < nclaims;)
		if (claims[i].m == m &&
		    (!strcmp(claims[i].svc, id) ||
		     now - claims[i].at_ns > INFLIGHT_TTL_NS))
			claim_drop(i);
		else
			i++;
}

static int claimed(const struct mgr *m, const char *self, const json_t *ports,
		   char *err, size_t errlen)
{
	size_t i;
	json_t *p;
	json_array_foreach(ports, i, p)
	{
		for (size_t c = 0; c < nclaims; c++) {
			if (claims[c].m != m || !strcmp(claims[c].svc, self) ||
			    !ports_meet(p, claims[c].port))
				continue;
			snprintf(err, errlen,
				 "rpc error: code = InvalidArgument desc = "
				 "port '%lld' is already in use by service "
				 "'%.64s' (%.64s) as %s",
				 (long long)jsonx_int(p, "PublishedPort", 0),
				 claims[c].name, claims[c].svc,
				 port_ingress(claims[c].port)
					 ? "an ingress port"
					 : "a host-published port");
			return -EINVAL;
		}
	}
	return 0;
}

static int claim(const struct mgr *m, const char *self, const char *name,
		 const json_t *ports, char *err, size_t errlen)
{
	size_t i;
	json_t *p;
	json_array_foreach(ports, i, p)
	{
		if (!jsonx_int(p, "PublishedPort", 0))
			continue;
		if (nclaims == CLAIMS_MAX) {
			snprintf(err, errlen,
				 "too many service writes with published "
				 "ports in flight: try again");
			return -EBUSY;
		}
		struct claim *c = &claims[nclaims++];
		c->m = m;
		snprintf(c->svc, sizeof(c->svc), "%s", self);
		snprintf(c->name, sizeof(c->name), "%s", name);
		c->port = json_deep_copy(p);
		c->at_ns = time_mono_ns();
		if (!c->port) {
			nclaims--;
			return -ENOMEM;
		}
	}
	return 0;
}

int mgr__service_ports_check(struct mgr *m, const char *self,
			     const json_t *spec, char *err, size_t errlen)
{
	const json_t *ports =
		json_object_get(jsonx_obj(spec, "EndpointSpec"), "Ports");
	const struct store_object **objs;
	size_t count;
	mgr__service_ports_done(m, ""); /* expire only */
	if (!json_array_size(ports))
		return 0;
	int rc = store_list(m->store, STORE_SERVICES, &objs, &count);
	if (rc < 0)
		return rc;
	for (size_t i = 0; rc == 0 && i < count; i++)
		if (strcmp(objs[i]->id, self))
			rc = port_conflict(ports, objs[i], err, errlen);
	shoal_free(objs);
	if (rc == 0)
		rc = claimed(m, self, ports, err, errlen);
	if (rc == 0)
		rc = claim(m, self, jsonx_str(spec, "Name", ""), ports, err,
			   errlen);
	return rc;
}

static int in_use(const struct store *s, const struct store_object *net,
		  char *err, size_t errlen)
{
	const struct store_object **objs;
	size_t count;
	int rc = store_list(s, STORE_SERVICES, &objs, &count);
	if (rc < 0)
		return rc;
	json_t *ns = mgr__obj_json(net->spec, net->spec_len);
	bool ingress = json_is_true(json_object_get(ns, "Ingress"));
	json_decref(ns);
	for (size_t i = 0; i < count && rc == 0; i++) {
		json_t *spec = mgr__obj_json(objs[i]->spec, objs[i]->spec_len);
		size_t j;
		json_t *p;
		bool mesh = false;
		json_array_foreach(
			json_object_get(jsonx_obj(spec, "EndpointSpec"),
					"Ports"),
			j, p)
		{
			mesh |= port_ingress(p);
		}
		if (spec && names_network(spec, net->id, net->name)) {
			snprintf(err, errlen,
				 "rpc error: code = FailedPrecondition desc = "
				 "network %.64s is in use by service %.64s",
				 net->id, objs[i]->id);
			rc = -EPERM;
		} else if (ingress && mesh) {
			snprintf(err, errlen,
				 "rpc error: code = FailedPrecondition desc = "
				 "ingress network cannot be removed because "
				 "service %.64s depends on it",
				 objs[i]->id);
			rc = -EPERM;
		}
		json_decref(spec);
	}
	shoal_free(objs);
	return rc;
}

/* A task meant to run on @net (desired and actual state running or
 * before) holds it: removing the network under it is refused, as
 * swarmkit does. A task being stopped (its service removed) does not:
 * `docker stack rm` removes the services then their networks at once;
 * the nodes leave the network once its containers are gone. */
static int tasks_on(const struct store *s, const struct store_object *net,
		    char *err, size_t errlen)
{
	const struct store_object **objs;
	size_t count;
	int rc = store_list(s, STORE_TASKS, &objs, &count);
	if (rc < 0)
		return rc;
	for (size_t i = 0; i < count && rc == 0; i++) {
		if (!memmem(objs[i]->spec, objs[i]->spec_len, net->id,
			    strlen(net->id)))
			continue; /* cheap: most tasks are not on it */
		json_t *sp = mgr__obj_json(objs[i]->spec, objs[i]->spec_len);
		json_t *st =
			mgr__obj_json(objs[i]->status, objs[i]->status_len);
		enum task_state state = TASK_NEW, desired = TASK_NEW;
		task_state_parse(jsonx_str(st, "State", ""), &state);
		task_state_parse(jsonx_str(sp, "DesiredState", ""), &desired);
		bool holds = state <= TASK_RUNNING && desired <= TASK_RUNNING;
		size_t j;
		json_t *a;
		json_array_foreach(json_object_get(sp, "NetworksAttachments"),
				   j, a)
		{
			if (holds && !strcmp(jsonx_str(jsonx_obj(a, "Network"),
						       "ID", ""),
					     net->id)) {
				snprintf(err, errlen,
					 "rpc error: code = FailedPrecondition "
					 "desc = network %.64s is in use by "
					 "task %.64s",
					 net->id, objs[i]->id);
				rc = -EPERM;
				break;
			}
		}
		json_decref(sp);
		json_decref(st);
	}
	shoal_free(objs);
	return rc;
}

static int remove_build(struct mgr__write_ctx *w, char *err, size_t errlen)
{
	const struct store_object *o =
		store_get(w->m->store, STORE_NETWORKS, w->req->id);
	if (!o) {
		snprintf(err, errlen, "network %.64s not found", w->req->id);
		return SHOAL_ENOTFOUND;
	}
	int rc = in_use(w->m->store, o, err, errlen);
	if (rc == 0)
		rc = tasks_on(w->m->store, o, err, errlen);
	if (rc < 0)
		return rc;
	return store_batch_delete(w->b, STORE_NETWORKS, o->id, o->version);
}

static void create_committed(struct mgr *m, const char *id, int rc)
{
	for (size_t i = 0; i < ninflight; i++)
		if (inflight[i].m == m && !strcmp(inflight[i].id, id)) {
			inflight_drop(i);
			break;
		}
	if (rc == 0)
		log_info("network=%s created", id);
}

static void remove_committed(struct mgr *m, const char *id, int rc)
{
	if (rc == 0)
		log_info("network=%s removed", id);
}

const struct mgr__write_op mgr__op_network_create = {
	.name = "network-create",
	.want_body = true,
	.check = create_check,
	.build = create_build,
	.committed = create_committed,
};

const struct mgr__write_op mgr__op_network_remove = {
	.name = "network-remove",
	.build = remove_build,
	.committed = remove_committed,
};
