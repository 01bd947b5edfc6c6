/*
 * The allocator's stage of the leader's pass (docs/overlay.md, step 1):
 * service VIPs and task addresses on overlay networks, and the node
 * items of kind "network" built from them (the contract's peer list).
 *
 * It runs inside orch_pass(), after the orchestrator made its decisions
 * and before the scheduler places pending tasks, over the same model and
 * into the same batch. Tasks of a service with networks are made in
 * state new (orchestrator.c); here they get their NetworksAttachments and
 * the state pending in one write, so the scheduler and the agents never
 * see a task without its addresses (swarmkit's order). Because the
 * leader keeps at most one batch in flight and every pass starts from the
 * model of the applied store, two tasks never get the same address: the
 * in-use set is derived from the model at each pass (addresses of tasks
 * not deleted and not ended, and the services' VIPs), and a new leader
 * reads it from the store like everything else.
 *
 * Addresses are given back when a task ends (its container no longer
 * runs, so nothing answers on it) or is deleted, as swarmkit does: a task
 * kept as history holds none, which keeps a /24 from filling with dead
 * tasks. A VIP is given back when its service leaves the network or is
 * removed.
 *
 * Pure: no I/O, no clock (the time comes from the pass), no randomness.
 */
#include "manager/allocator.h"
#include "common/alloc.h"
#include "common/jsonx.h"
#include "manager/orch.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define DEFAULT_MTU 1450
#define MTU_OPT "com.docker.network.driver.mtu"
#define VNI_OPT "com.docker.network.driver.overlay.vxlanid_list"

/* @v as canonical JSON (compact, sorted keys), owned; NULL on failure. */
static char *canon(const json_t *v)
{
	const size_t flags = JSON_COMPACT | JSON_SORT_KEYS | JSON_ENCODE_ANY;
	size_t n = json_dumpb(v, NULL, 0, flags);
	char *s = n ? shoal_malloc(n + 1) : NULL;
	if (!s)
		return NULL;
	if (json_dumpb(v, s, n, flags) != n) {
		shoal_free(s);
		return NULL;
	}
	s[n] = '\0';
	return s;
}

static json_t *cidr_json(uint32_t addr, uint8_t prefix)
{
	char a[16], out[24];
	alloc_addr_format(addr, a);
	snprintf(out, sizeof(out), "%s/%u", a, prefix);
	return json_string(out);
}

/* --- decoding ------------------------------------------------------------ */

struct orch_net *alloc__net_decode(const struct store_object *o)
{
	json_t *sp = NULL;
	if (o->spec_len == 0 ||
	    jsonx_parse((const char *)o->spec, o->spec_len, &sp, NULL, 0) < 0)
		return NULL;
	struct orch_net *n = shoal_calloc(1, sizeof(*n));
	if (!n || alloc_net_read(sp, &n->a) < 0) {
		shoal_free(n);
		json_decref(sp);
		return NULL;
	}
	snprintf(n->id, sizeof(n->id), "%s", o->id);
	snprintf(n->name, sizeof(n->name), "%s", o->name);
	n->internal = json_is_true(json_object_get(sp, "Internal"));
	n->attachable = json_is_true(json_object_get(sp, "Attachable"));
	n->ingress = json_is_true(json_object_get(sp, "Ingress"));
	const char *mtu = jsonx_str(jsonx_obj(sp, "Options"), MTU_OPT, "");
	long v = *mtu ? strtol(mtu, NULL, 10) : 0;
	n->mtu = v >= ALLOC_MTU_MIN && v <= ALLOC_MTU_MAX ? (uint32_t)v
							  : DEFAULT_MTU;
	json_decref(sp);
	return n;
}

int alloc__service_fill(struct orch_service *s)
{
	const json_t *tmpl = jsonx_obj(s->spec, "TaskTemplate");
	json_t *nets = json_object_get(tmpl, "Networks");
	s->nets = json_is_array(nets) && json_array_size(nets) ? nets : NULL;
	s->dnsrr = strcmp(jsonx_str(jsonx_obj(s->spec, "EndpointSpec"), "Mode",
				    "vip"),
			  "dnsrr") == 0;
	const json_t *v =
		json_object_get(jsonx_obj(s->status, "Endpoint"), "VirtualIPs");
	size_t k = json_array_size(v), i;
	json_t *x;
	if (!k)
		return 0;
	s->vips = shoal_calloc(k, sizeof(*s->vips));
	if (!s->vips)
		return -ENOMEM;
	json_array_foreach(v, i, x)
	{
		struct orch_addr *a = &s->vips[s->nvips];
		const char *net = jsonx_str(x, "NetworkID", "");
		if (!*net || strlen(net) > STORE_ID_MAX ||
		    alloc_ip_parse(jsonx_str(x, "Addr", ""), &a->addr) < 0)
			continue;
		snprintf(a->net_id, sizeof(a->net_id), "%s", net);
		s->nvips++;
	}
	return 0;
}

int alloc__task_fill(struct orch_task *t, const json_t *sp)
{
	const json_t *na = json_object_get(sp, "NetworksAttachments");
	size_t k = json_array_size(na), i;
	json_t *x;
	if (!na || json_is_null(na))
		return 0;
	if (!json_is_array(na))
		return -EINVAL;
	if (!k)
		return 0;
	t->addrs = shoal_calloc(k, sizeof(*t->addrs));
	t->nets_text = canon(na);
	if (!t->addrs || !t->nets_text)
		return -ENOMEM;
	json_array_foreach(na, i, x)
	{
		struct orch_addr *a = &t->addrs[t->naddrs];
		const char *net = jsonx_str(jsonx_obj(x, "Network"), "ID", "");
		const char *addr = json_string_value(
			json_array_get(json_object_get(x, "Addresses"), 0));
		if (!*net || strlen(net) > STORE_ID_MAX || !addr ||
		    alloc_ip_parse(addr, &a->addr) < 0)
			return -EINVAL;
		snprintf(a->net_id, sizeof(a->net_id), "%s", net);
		t->naddrs++;
	}
	return 0;
}

bool alloc_service_has_nets(const struct orch_service *s)
{
	return s->nets != NULL;
}

/* --- the in-use sets ----------------------------------------------------- */

struct pool {
	struct orch_net *net;
	uint32_t *a;
	size_t n, cap;
};

static void pool_free(void *p)
{
	struct pool *pl = p;
	if (pl)
		shoal_free(pl->a);
	shoal_free(pl);
}

/* The network @target names (an id, else a name), or NULL. */
static struct orch_net *net_of(struct orch_model *m, const char *target)
{
	struct orch_net *n = hmap_get_str(&m->networks, target);
	size_t pos = 0, kl;
	const void *k;
	void *v;
	while (!n && hmap_next(&m->networks, &pos, &k, &kl, &v))
		if (strcmp(((struct orch_net *)v)->name, target) == 0)
			n = v;
	return n;
}

/* The pool of network @net_id (made on first use), or NULL for a network
 * not in the model (its addresses need no pool) or out of memory. */
static struct pool *pool_get(struct hmap *pools, struct orch_model *m,
			     const char *net_id)
{
	struct pool *p = hmap_get_str(pools, net_id);
	if (p)
		return p;
	struct orch_net *net = hmap_get_str(&m->networks, net_id);
	if (!net)
		return NULL;
	p = shoal_calloc(1, sizeof(*p));
	if (!p || hmap_put_str(pools, net->id, p, NULL) < 0) {
		shoal_free(p);
		return NULL;
	}
	p->net = net;
	return p;
}

static int pool_push(struct pool *p, uint32_t addr)
{
	if (p->n == p->cap) {
		size_t cap = p->cap ? 2 * p->cap : 16;
		uint32_t *a = shoal_realloc(p->a, cap * sizeof(*a));
		if (!a)
			return -ENOMEM;
		p->a = a;
		p->cap = cap;
	}
	p->a[p->n++] = addr;
	return 0;
}

static int use(struct hmap *pools, struct orch_model *m,
	       const struct orch_addr *a)
{
	struct pool *p = pool_get(pools, m, a->net_id);
	if (!p)
		return hmap_get_str(&m->networks, a->net_id) ? -ENOMEM : 0;
	return pool_push(p, a->addr);
}

/* Whether @t's addresses are its own still: not deleted, not ended. */
static bool holds_addrs(const struct orch_task *t)
{
	return !(t->dirty & ORCH_DELETE) && !task_state_terminal(t->state);
}

/* The lowest free address of @net_id into *@out; -ENOSPC when full. */
static int pick(struct hmap *pools, struct orch_model *m, const char *net_id,
		uint32_t *out)
{
	struct pool *p = pool_get(pools, m, net_id);
	if (!p)
		return -ENOMEM;
	int rc = alloc_addr_pick(&p->net->a, p->a, p->n, out);
	return rc < 0 ? rc : pool_push(p, *out);
}

/* --- service VIPs -------------------------------------------------------- */

static json_t *endpoint_json(const struct orch_service *s,
			     const struct orch_addr *v, size_t n,
			     struct orch_model *m)
{
	json_t *spec = json_deep_copy(jsonx_obj(s->spec, "EndpointSpec"));
	json_t *e = json_pack("{s:o}", "Spec", spec ? spec : json_object());
	json_t *vips = n ? json_array() : NULL;
	int rc = e ? 0 : -ENOMEM;
	for (size_t i = 0; i < n && rc == 0; i++) {
		struct orch_net *net = hmap_get_str(&m->networks, v[i].net_id);
		rc = json_array_append_new(
			vips,
			json_pack("{s:s, s:o}", "NetworkID", v[i].net_id,
				  "Addr", cidr_json(v[i].addr, net->a.prefix)));
	}
	if (vips)
		rc |= jsonx_set(e, "VirtualIPs", vips);
	if (rc) {
		json_decref(e);
		return NULL;
	}
	return e;
}

/* The networks @s wants, in its spec's order, each once (@out has room
 * for json_array_size(s->nets)). */
static size_t wanted(struct orch_model *m, const struct orch_service *s,
		     struct orch_net **out)
{
	size_t k = 0, i;
	json_t *x;
	json_array_foreach(s->nets, i, x)
	{
		struct orch_net *n = net_of(m, jsonx_str(x, "Target", ""));
		bool dup = false;
		for (size_t j = 0; j < k && n; j++)
			dup |= out[j] == n;
		if (n && !dup)
			out[k++] = n;
	}
	return k;
}

static int service_vips(struct orch_model *m, struct hmap *pools,
			struct orch_service *s, const struct alloc_hooks *h)
{
	json_t *cur = json_object_get(s->status, "Endpoint");
	if (!s->nets && !cur)
		return 0; /* never on a network: nothing to show or free */
	size_t cap = json_array_size(s->nets) + 1, k = 0;
	struct orch_net **nets = shoal_calloc(cap, sizeof(*nets));
	struct orch_addr *nv = shoal_calloc(cap, sizeof(*nv));
	int rc = nets && nv ? 0 : -ENOMEM;
	size_t nn = rc == 0 && !s->dnsrr ? wanted(m, s, nets) : 0;
	for (size_t i = 0; i < nn && rc == 0; i++) {
		struct orch_addr *a = &nv[k];
		snprintf(a->net_id, sizeof(a->net_id), "%s", nets[i]->id);
		size_t j = 0;
		while (j < s->nvips && strcmp(s->vips[j].net_id, a->net_id))
			j++;
		if (j < s->nvips) {
			a->addr = s->vips[j].addr;
			k++;
			continue;
		}
		rc = pick(pools, m, a->net_id, &a->addr);
		if (rc == -ENOSPC)
			rc = 0; /* no VIP until an address frees */
		else if (rc == 0)
			k++;
	}
	json_t *e = rc == 0 ? endpoint_json(s, nv, k, m) : NULL;
	if (rc == 0 && !e)
		rc = -ENOMEM;
	if (rc == 0 && !json_equal(cur, e)) {
		json_t *st = h->touch_service(h->arg, s);
		if (st && jsonx_set(st, "Endpoint", json_incref(e)) < 0)
			rc = -ENOMEM;
		if (st && rc == 0) {
			shoal_free(s->vips);
			s->vips = nv;
			s->nvips = k;
			nv = NULL;
		}
	}
	json_decref(e);
	shoal_free(nets);
	shoal_free(nv);
	return rc;
}

/* --- task addresses ------------------------------------------------------ */

static json_t *network_json(const struct orch_net *n)
{
	char vni[16];
	snprintf(vni, sizeof(vni), "%u", n->a.vni);
	char gw[16];
	alloc_addr_format(n->a.gateway, gw);
	return json_pack("{s:s, s:{s:s, s:{}, s:{s:s}, s:b, s:b, s:s}, "
			 "s:{s:s, s:{s:s}}, s:{s:{s:s}, s:[{s:o, s:s}]}}",
			 "ID", n->id, "Spec", "Name", n->name, "Labels",
			 "DriverConfiguration", "Name", "overlay", "Attachable",
			 n->attachable, "Internal", n->internal, "Scope",
			 "swarm", "DriverState", "Name", "overlay", "Options",
			 VNI_OPT, vni, "IPAMOptions", "Driver", "Name",
			 "default", "Configs", "Subnet",
			 cidr_json(n->a.subnet, n->a.prefix), "Gateway", gw);
}

/* Aliases of a task on a network: its service's name, then the spec's. */
static json_t *aliases_json(const struct orch_service *s, const json_t *cfg)
{
	json_t *a = json_pack("[s]", s->name);
	size_t i;
	json_t *x;
	json_array_foreach(json_object_get(cfg, "Aliases"), i, x)
	{
		if (a && json_is_string(x))
			json_array_append(a, x);
	}
	return a;
}

static int set_err(struct orch_task *t, bool fresh, const struct alloc_hooks *h,
		   const char *why)
{
	if (strcmp(t->err, why) == 0)
		return 0;
	if (!fresh && !h->touch_task(h->arg, t))
		return 0;
	snprintf(t->err, sizeof(t->err), "%s", why);
	snprintf(t->msg, sizeof(t->msg), "allocating network addresses");
	return orch__task_set_status(t, h->now_ns);
}

static int task_alloc(struct orch_model *m, struct hmap *pools,
		      struct orch_task *t, bool fresh,
		      const struct alloc_hooks *h)
{
	struct orch_service *s = hmap_get_str(&m->services, t->service_id);
	if (!s)
		return 0; /* the orchestrator removes it */
	size_t cap = json_array_size(s->nets) + 1, k = 0;
	struct orch_net **nets = shoal_calloc(cap, sizeof(*nets));
	struct orch_addr *addrs = shoal_calloc(cap, sizeof(*addrs));
	json_t *arr = json_array();
	char why[256] = "";
	int rc = nets && addrs && arr ? 0 : -ENOMEM;
	size_t nn = rc == 0 ? wanted(m, s, nets) : 0;
	for (size_t i = 0; i < nn && rc == 0; i++, k++) {
		snprintf(addrs[k].net_id, sizeof(addrs[k].net_id), "%s",
			 nets[i]->id);
		rc = pick(pools, m, nets[i]->id, &addrs[k].addr);
		if (rc == -ENOSPC) {
			snprintf(why, sizeof(why),
				 "no address left on network %.64s: its "
				 "subnet is full",
				 nets[i]->name);
			break;
		}
		const json_t *cfg = NULL;
		size_t j;
		json_t *x;
		json_array_foreach(s->nets, j, x)
		{
			const char *tg = jsonx_str(x, "Target", "");
			if (!cfg && (!strcmp(tg, nets[i]->id) ||
				     !strcmp(tg, nets[i]->name)))
				cfg = x;
		}
		json_t *one =
			json_pack("{s:o, s:[o], s:o}", "Network",
				  network_json(nets[i]), "Addresses",
				  cidr_json(addrs[k].addr, nets[i]->a.prefix),
				  "Aliases", aliases_json(s, cfg));
		rc = one ? json_array_append_new(arr, one) : -ENOMEM;
	}
	char *text = NULL;
	if (rc == -ENOSPC) {
		rc = set_err(t, fresh, h, why);
		goto out;
	}
	text = rc == 0 && k ? canon(arr) : NULL;
	if (rc == 0 && k && !text)
		rc = -ENOMEM;
	if (rc == 0 && !fresh && !h->touch_task(h->arg, t)) {
		shoal_free(text);
		goto out; /* the batch is full: the next pass */
	}
	if (rc == 0) {
		shoal_free(t->nets_text);
		shoal_free(t->addrs);
		t->nets_text = text;
		t->addrs = k ? addrs : NULL;
		t->naddrs = k;
		if (k)
			addrs = NULL;
		t->state = TASK_PENDING;
		t->err[0] = '\0';
		snprintf(t->msg, sizeof(t->msg), "pending task scheduling");
		rc = orch__task_set_status(t, h->now_ns);
	}
out:
	json_decref(arr);
	shoal_free(nets);
	shoal_free(addrs);
	return rc;
}

static int by_id(const void *a, const void *b)
{
	const struct orch_service *x = *(struct orch_service *const *)a;
	const struct orch_service *y = *(struct orch_service *const *)b;
	return strcmp(x->id, y->id);
}

/* Every address in use: tasks that hold theirs, and the VIPs. */
static int fill_pools(struct orch_model *m, struct hmap *pools,
		      struct orch_task **all, size_t n)
{
	int rc = 0;
	for (size_t i = 0; i < n && rc == 0; i++)
		for (size_t j = 0;
		     holds_addrs(all[i]) && j < all[i]->naddrs && rc == 0; j++)
			rc = use(pools, m, &all[i]->addrs[j]);
	size_t pos = 0, kl;
	const void *k;
	void *v;
	while (rc == 0 && hmap_next(&m->services, &pos, &k, &kl, &v)) {
		struct orch_service *s = v;
		for (size_t j = 0; j < s->nvips && rc == 0; j++)
			rc = use(pools, m, &s->vips[j]);
	}
	return rc;
}

int alloc_pass(struct orch_model *m, struct orch_task **all, size_t n,
	       struct orch_task **fresh, size_t nfresh,
	       const struct alloc_hooks *h)
{
	struct hmap pools = HMAP_INIT;
	size_t ns = hmap_len(&m->services), k = 0, pos = 0, kl;
	const void *key;
	void *v;
	struct orch_service **svcs = shoal_calloc(ns + 1, sizeof(*svcs));
	int rc = svcs ? fill_pools(m, &pools, all, n) : -ENOMEM;
	while (rc == 0 && hmap_next(&m->services, &pos, &key, &kl, &v))
		svcs[k++] = v;
	if (rc == 0)
		qsort(svcs, k, sizeof(*svcs), by_id);
	for (size_t i = 0; i < k && rc == 0; i++)
		rc = service_vips(m, &pools, svcs[i], h);
	for (size_t i = 0; i < n && rc == 0; i++)
		if (all[i]->state == TASK_NEW &&
		    all[i]->desired == TASK_RUNNING &&
		    !(all[i]->dirty & ORCH_DELETE))
			rc = task_alloc(m, &pools, all[i], false, h);
	for (size_t i = 0; i < nfresh && rc == 0; i++)
		if (fresh[i] && fresh[i]->state == TASK_NEW)
			rc = task_alloc(m, &pools, fresh[i], true, h);
	pos = 0;
	while (hmap_next(&pools, &pos, &key, &kl, &v))
		pool_free(v);
	hmap_fini(&pools);
	shoal_free(svcs);
	return rc;
}
