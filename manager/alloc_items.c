/*
 * The assignment items of kind "network" (the helpers' contract, §1;
 * docs/overlay.md, "The peer list"): for a node, one item per overlay on
 * which it has a task from assigned on, with every other node's address
 * on it (the peers the node programs as static FDB and neighbour
 * entries, VTEP the other node's Status.Addr from the store) and every
 * service on it with its VIP and tasks (names and balancing).
 *
 * Built from the leader's model (orch.h) each time a node's set is
 * pushed, so it follows tasks, services, nodes and networks as they
 * change; orch_component.c marks every set for recomputation when one of
 * them changes in a way other nodes see. A task counts from the moment
 * it has an address until it ends (its address may then go to another
 * task, allocator.c) or is deleted; it is Ready (in the VIP's balancing
 * and in DNS answers) when it runs and should. Health is not reported
 * to the managers yet, so a running task counts as healthy.
 *
 * Pure: the model in, JSON text out.
 */
#include "common/alloc.h"
#include "common/jsonx.h"
#include "manager/allocator.h"
#include "manager/orch.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static json_t *ip_json(uint32_t addr)
{
	char a[16];
	alloc_addr_format(addr, a);
	return json_string(a);
}

/* Whether @t's addresses count: it has them and has not ended. */
static bool live(const struct orch_task *t)
{
	return t->naddrs && !task_state_terminal(t->state);
}

/* @t's address on @net_id, or 0. */
static uint32_t addr_on(const struct orch_task *t, const char *net_id)
{
	for (size_t i = 0; i < t->naddrs; i++)
		if (strcmp(t->addrs[i].net_id, net_id) == 0)
			return t->addrs[i].addr;
	return 0;
}

static uint32_t vip_on(const struct orch_service *s, const char *net_id)
{
	for (size_t i = 0; i < s->nvips; i++)
		if (strcmp(s->vips[i].net_id, net_id) == 0)
			return s->vips[i].addr;
	return 0;
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static int cmp_task(const void *a, const void *b)
{
	const struct orch_task *x = *(struct orch_task *const *)a;
	const struct orch_task *y = *(struct orch_task *const *)b;
	int c = strcmp(x->service_id, y->service_id);
	return c ? c : strcmp(x->id, y->id);
}

/* Whether @t's node can be a peer: in the store, not down, with an
 * address. A node found down keeps no forwarding entry on the others
 * (its tasks are shut down and replaced elsewhere; issue 13), and one
 * without an address (removed) would make the item unusable. */
static bool peer_node_up(struct orch_model *m, const struct orch_task *t)
{
	const struct orch_node *n = hmap_get_str(&m->nodes, t->node_id);
	return n && !n->down && *n->addr;
}

static json_t *peer_json(struct orch_model *m, const struct orch_task *t,
			 uint32_t addr)
{
	struct orch_node *n = hmap_get_str(&m->nodes, t->node_id);
	return json_pack("{s:o, s:s, s:s}", "Addr", ip_json(addr), "VTEP",
			 n ? n->addr : "", "NodeID", t->node_id);
}

static json_t *task_json(const struct orch_task *t, const char *svc,
			 uint32_t addr)
{
	char name[STORE_NAME_MAX + 2 * STORE_ID_MAX + 32];
	if (t->slot)
		snprintf(name, sizeof(name), "%s.%llu.%s", svc,
			 (unsigned long long)t->slot, t->id);
	else
		snprintf(name, sizeof(name), "%s.%s.%s", svc, t->node_id,
			 t->id);
	bool ready = t->state == TASK_RUNNING && t->desired == TASK_RUNNING;
	return json_pack("{s:s, s:s, s:o, s:s, s:b}", "ID", t->id, "Name", name,
			 "Addr", ip_json(addr), "NodeID", t->node_id, "Ready",
			 ready);
}

static json_t *aliases(const struct orch_service *s, const char *net_id,
		       const char *net_name)
{
	json_t *a = json_array();
	size_t i, j;
	json_t *x, *y;
	json_array_foreach(s->nets, i, x)
	{
		const char *tg = jsonx_str(x, "Target", "");
		if (strcmp(tg, net_id) && strcmp(tg, net_name))
			continue;
		json_array_foreach(json_object_get(x, "Aliases"), j, y)
		{
			if (a && json_is_string(y))
				json_array_append(a, y);
		}
	}
	return a;
}

/*
 * The "Services" of network @n: every service with a VIP on it or a live
 * task on it; @tasks (@nt) are the live tasks on @n sorted by service.
 */
static json_t *services_json(struct orch_model *m, const struct orch_net *n,
			     struct orch_task **tasks, size_t nt)
{
	json_t *out = json_array();
	size_t pos = 0, kl, ns = 0, i = 0;
	const void *k;
	void *v;
	char **ids = shoal_calloc(hmap_len(&m->services) + 1, sizeof(*ids));
	if (!out || !ids) {
		shoal_free(ids);
		json_decref(out);
		return NULL;
	}
	while (hmap_next(&m->services, &pos, &k, &kl, &v))
		ids[ns++] = ((struct orch_service *)v)->id;
	qsort(ids, ns, sizeof(*ids), cmp_str);
	int rc = 0;
	for (size_t s = 0; s < ns && rc == 0; s++) {
		struct orch_service *svc = hmap_get_str(&m->services, ids[s]);
		while (i < nt && strcmp(tasks[i]->service_id, svc->id) < 0)
			i++;
		uint32_t vip = vip_on(svc, n->id);
		if (!vip && (i == nt || strcmp(tasks[i]->service_id, svc->id)))
			continue;
		json_t *tl = json_array();
		for (; i < nt && !strcmp(tasks[i]->service_id, svc->id); i++)
			rc |= json_array_append_new(
				tl, task_json(tasks[i], svc->name,
					      addr_on(tasks[i], n->id)));
		json_t *o = json_pack("{s:s, s:s, s:s, s:o, s:o, s:o}", "ID",
				      svc->id, "Name", svc->name, "Mode",
				      svc->dnsrr ? "dnsrr" : "vip", "Aliases",
				      aliases(svc, n->id, n->name), "Ports",
				      json_array(), "Tasks", tl);
		if (o && vip)
			rc |= jsonx_set(o, "VIP", ip_json(vip));
		rc |= o ? json_array_append_new(out, o) : -ENOMEM;
	}
	/* Tasks whose service is gone are not listed under any. */
	shoal_free(ids);
	if (rc) {
		json_decref(out);
		return NULL;
	}
	return out;
}

/*
 * The "Containers" of network @n: its attachments (tasks without a
 * service, sorted first in @tasks), each with the names it answers to
 * (Name, the container's, then its Aliases) and whether it is Ready.
 */
static json_t *containers_json(const struct orch_net *n,
			       struct orch_task **tasks, size_t nt)
{
	json_t *out = json_array();
	int rc = out ? 0 : -ENOMEM;
	for (size_t i = 0; i < nt && !*tasks[i]->service_id && rc == 0; i++) {
		const struct orch_task *t = tasks[i];
		json_t *na = NULL, *al = json_array();
		if (jsonx_parse(t->nets_text, strlen(t->nets_text), &na, NULL,
				0) < 0 ||
		    !al) {
			json_decref(al);
			continue; /* not written by the allocator */
		}
		const json_t *names =
			json_object_get(json_array_get(na, 0), "Aliases");
		size_t j;
		json_t *x;
		json_array_foreach(names, j, x)
		{
			if (j > 0)
				json_array_append(al, x);
		}
		bool ready =
			t->state == TASK_RUNNING && t->desired == TASK_RUNNING;
		json_t *o = json_pack(
			"{s:s, s:s, s:o, s:o, s:s, s:b}", "ID", t->id, "Name",
			json_string_value(json_array_get(names, 0))
				? json_string_value(json_array_get(names, 0))
				: "",
			"Aliases", al, "Addr", ip_json(addr_on(t, n->id)),
			"NodeID", t->node_id, "Ready", ready);
		json_decref(na);
		rc = o ? json_array_append_new(out, o) : -ENOMEM;
	}
	if (rc) {
		json_decref(out);
		return NULL;
	}
	return out;
}

/* Network @n as node @node_id sees it (the item's fields but Kind). */
static json_t *net_json(struct orch_model *m, const struct orch_net *n,
			const char *node_id)
{
	size_t nt = 0, pos = 0, kl;
	const void *k;
	void *v;
	struct orch_task **tasks =
		shoal_calloc(hmap_len(&m->tasks) + 1, sizeof(*tasks));
	json_t *peers = json_array();
	int rc = tasks && peers ? 0 : -ENOMEM;
	while (rc == 0 && hmap_next(&m->tasks, &pos, &k, &kl, &v)) {
		struct orch_task *t = v;
		uint32_t a = live(t) ? addr_on(t, n->id) : 0;
		if (!a)
			continue;
		tasks[nt++] = t;
		if (orch_task_assigned(t) && strcmp(t->node_id, node_id) &&
		    peer_node_up(m, t))
			rc |= json_array_append_new(peers, peer_json(m, t, a));
	}
	qsort(tasks, nt, sizeof(*tasks), cmp_task);
	json_t *svcs = rc == 0 ? services_json(m, n, tasks, nt) : NULL;
	json_t *ctrs = svcs ? containers_json(n, tasks, nt) : NULL;
	if (!ctrs) {
		json_decref(svcs);
		svcs = NULL;
	}
	char sub[16], gw[16], cidr[24];
	alloc_addr_format(n->a.subnet, sub);
	alloc_addr_format(n->a.gateway, gw);
	snprintf(cidr, sizeof(cidr), "%s/%u", sub, n->a.prefix);
	json_t *o = svcs ? json_pack("{s:s, s:s, s:I, s:s, s:s, s:I, "
				     "s:b, s:b, s:O, s:o, s:o}",
				     "ID", n->id, "Name", n->name, "VNI",
				     (json_int_t)n->a.vni, "Subnet", cidr,
				     "Gateway", gw, "MTU", (json_int_t)n->mtu,
				     "Internal", n->internal, "Attachable",
				     n->attachable, "Peers", peers, "Services",
				     svcs, "Containers", ctrs)
			 : NULL;
	json_decref(peers);
	shoal_free(tasks);
	return o;
}

static char *item_json(struct orch_model *m, const struct orch_net *n,
		       const char *node_id, size_t *len)
{
	json_t *o = net_json(m, n, node_id);
	char *text = o && jsonx_set(o, "Kind", json_string("network")) == 0
			     ? jsonx_dump(o, len)
			     : NULL;
	json_decref(o);
	return text;
}

/* The Ready tasks of @s with an address on @in, as Backends. */
static json_t *backends(struct orch_model *m, const struct orch_service *s,
			const struct orch_net *in)
{
	json_t *out = json_array();
	size_t pos = 0, kl;
	const void *k;
	void *v;
	while (out && hmap_next(&m->tasks, &pos, &k, &kl, &v)) {
		const struct orch_task *t = v;
		uint32_t a = addr_on(t, in->id);
		if (!a || strcmp(t->service_id, s->id) ||
		    t->state != TASK_RUNNING || t->desired != TASK_RUNNING)
			continue;
		struct orch_node *n = hmap_get_str(&m->nodes, t->node_id);
		json_array_append_new(out, json_pack("{s:o, s:s, s:s}", "Addr",
						     ip_json(a), "NodeID",
						     t->node_id, "VTEP",
						     n ? n->addr : ""));
	}
	return out;
}

static int by_addr(const void *a, const void *b)
{
	const json_t *x = *(json_t *const *)a, *y = *(json_t *const *)b;
	return strcmp(jsonx_str(x, "Addr", ""), jsonx_str(y, "Addr", ""));
}

/* The published ingress ports of every service, in service id order. */
static json_t *ingress_ports(struct orch_model *m, const struct orch_net *in)
{
	json_t *out = json_array();
	size_t pos = 0, kl, ns = 0;
	const void *k;
	void *v;
	char **ids = shoal_calloc(hmap_len(&m->services) + 1, sizeof(*ids));
	if (!out || !ids) {
		shoal_free(ids);
		json_decref(out);
		return NULL;
	}
	while (hmap_next(&m->services, &pos, &k, &kl, &v))
		ids[ns++] = ((struct orch_service *)v)->id;
	qsort(ids, ns, sizeof(*ids), cmp_str);
	int rc = 0;
	for (size_t i = 0; i < ns && rc == 0; i++) {
		struct orch_service *s = hmap_get_str(&m->services, ids[i]);
		size_t j;
		json_t *p;
		json_t *be = s->ingress ? backends(m, s, in) : NULL;
		/* Sorted, so a node's set changes only when they do. */
		size_t nb = json_array_size(be);
		json_t **sorted = nb ? shoal_calloc(nb, sizeof(*sorted)) : NULL;
		for (size_t b = 0; sorted && b < nb; b++)
			sorted[b] = json_array_get(be, b);
		if (sorted)
			qsort(sorted, nb, sizeof(*sorted), by_addr);
		json_t *bs = json_array();
		for (size_t b = 0; sorted && bs && b < nb; b++)
			json_array_append(bs, sorted[b]);
		shoal_free(sorted);
		json_decref(be);
		json_array_foreach(s->ingress ? s->eports : NULL, j, p)
		{
			const char *mode = jsonx_str(p, "PublishMode", "");
			if (strcmp(mode, "ingress") ||
			    !jsonx_int(p, "PublishedPort", 0))
				continue;
			rc |= json_array_append_new(
				out, json_pack("{s:s, s:I, s:I, s:s, s:s, s:O}",
					       "Protocol",
					       jsonx_str(p, "Protocol", "tcp"),
					       "PublishedPort",
					       (json_int_t)jsonx_int(
						       p, "PublishedPort", 0),
					       "TargetPort",
					       (json_int_t)jsonx_int(
						       p, "TargetPort", 0),
					       "Service", s->name, "ServiceID",
					       s->id, "Backends", bs));
		}
		json_decref(bs);
	}
	shoal_free(ids);
	if (rc) {
		json_decref(out);
		return NULL;
	}
	return out;
}

/* The "ingress" item, for every ready node while a port is published in
 * ingress mode; 0 and *@text NULL when there is none. */
static int ingress_item(struct orch_model *m, const char *node_id, char **text,
			size_t *len)
{
	struct orch_node *nd = hmap_get_str(&m->nodes, node_id);
	const struct orch_net *in = NULL;
	size_t pos = 0, kl;
	const void *k;
	void *v;
	*text = NULL;
	while (!in && hmap_next(&m->networks, &pos, &k, &kl, &v))
		if (((struct orch_net *)v)->ingress)
			in = v;
	if (!nd || !nd->ready || !in)
		return 0;
	json_t *ports = ingress_ports(m, in);
	if (!ports)
		return -ENOMEM;
	if (!json_array_size(ports)) {
		json_decref(ports);
		return 0;
	}
	json_t *o = json_pack("{s:s, s:o, s:o, s:o}", "Kind", "ingress",
			      "Network", net_json(m, in, node_id), "Ports",
			      ports, "Nodes", json_array());
	/* Every node's own address on the network (allocator.c), this
	 * one's also as Addr: the address it answers published ports
	 * from, and where a task sends the replies of what it received. */
	json_t *nodes = json_object_get(o, "Nodes");
	for (size_t i = 0; nodes && i < in->nnaddr; i++) {
		const struct orch_node_addr *a = &in->naddr[i];
		const struct orch_node *x = hmap_get_str(&m->nodes, a->node_id);
		if (!x)
			continue;
		if (!strcmp(a->node_id, node_id) &&
		    json_object_set_new(o, "Addr", ip_json(a->addr)) < 0)
			nodes = NULL;
		if (nodes && json_array_append_new(
				     nodes, json_pack("{s:s, s:o, s:s}",
						      "NodeID", a->node_id,
						      "Addr", ip_json(a->addr),
						      "VTEP", x->addr)) < 0)
			nodes = NULL;
	}
	*text = o && nodes ? jsonx_dump(o, len) : NULL;
	json_decref(o);
	return *text ? 0 : -ENOMEM;
}

int alloc_items(struct orch_model *m, const char *node_id,
		int (*emit)(void *arg, char *json, size_t len), void *arg)
{
	/* The node's networks, each once, in id order. */
	struct hmap seen = HMAP_INIT;
	size_t pos = 0, kl, nn = 0;
	const void *k;
	void *v;
	int rc = 0;
	while (rc == 0 && hmap_next(&m->tasks, &pos, &k, &kl, &v)) {
		struct orch_task *t = v;
		if (!live(t) || !orch_task_assigned(t) ||
		    strcmp(t->node_id, node_id))
			continue;
		for (size_t i = 0; i < t->naddrs && rc == 0; i++) {
			struct orch_net *n =
				hmap_get_str(&m->networks, t->addrs[i].net_id);
			if (n && !hmap_get_str(&seen, n->id))
				rc = hmap_put_str(&seen, n->id, n, NULL);
		}
	}
	char **ids = rc == 0 ? shoal_calloc(hmap_len(&seen) + 1, sizeof(*ids))
			     : NULL;
	if (!ids)
		rc = -ENOMEM;
	pos = 0;
	while (rc == 0 && hmap_next(&seen, &pos, &k, &kl, &v))
		ids[nn++] = ((struct orch_net *)v)->id;
	if (rc == 0)
		qsort(ids, nn, sizeof(*ids), cmp_str);
	for (size_t i = 0; i < nn && rc == 0; i++) {
		size_t len = 0;
		char *j = item_json(m, hmap_get_str(&m->networks, ids[i]),
				    node_id, &len);
		rc = j ? emit(arg, j, len) : -ENOMEM;
	}
	shoal_free(ids);
	hmap_fini(&seen);
	char *ing = NULL;
	size_t len = 0;
	if (rc == 0)
		rc = ingress_item(m, node_id, &ing, &len);
	if (rc == 0 && ing)
		rc = emit(arg, ing, len);
	return rc;
}
