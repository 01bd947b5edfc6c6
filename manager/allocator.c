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
#include "common/clock.h"
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

static int by_node(const void *a, const void *b)
{
	return strcmp(((const struct orch_node_addr *)a)->node_id,
		      ((const struct orch_node_addr *)b)->node_id);
}

/* The ingress network's status NodeAddresses into @n->naddr, sorted by
 * node id. An entry that is not a node id with a host address of the
 * subnet is left out (the next pass gives that node one again). 0 or
 * -ENOMEM. */
static int node_addrs_decode(struct orch_net *n, const struct store_object *o)
{
	json_t *st = NULL;
	if (!o->status_len || jsonx_parse((const char *)o->status,
					  o->status_len, &st, NULL, 0) < 0)
		return 0;
	const json_t *l = json_object_get(st, "NodeAddresses");
	size_t i, k = 0;
	json_t *e;
	n->naddr = json_array_size(l)
			   ? shoal_calloc(json_array_size(l), sizeof(*n->naddr))
			   : NULL;
	if (json_array_size(l) && !n->naddr) {
		json_decref(st);
		return -ENOMEM;
	}
	uint32_t mask = ~0u << (32 - n->a.prefix);
	json_array_foreach(l, i, e)
	{
		const char *id = jsonx_str(e, "NodeID", "");
		uint32_t a;
		if (!*id || strlen(id) > STORE_ID_MAX ||
		    alloc_ip_parse(jsonx_str(e, "Addr", ""), &a) < 0 ||
		    (a & mask) != n->a.subnet || a == n->a.subnet ||
		    a == (n->a.subnet | ~mask) || a == n->a.gateway)
			continue;
		snprintf(n->naddr[k].node_id, sizeof(n->naddr[k].node_id), "%s",
			 id);
		n->naddr[k++].addr = a;
	}
	n->nnaddr = k;
	if (k)
		qsort(n->naddr, k, sizeof(*n->naddr), by_node);
	json_decref(st);
	return 0;
}

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
	n->version = o->version;
	json_decref(sp);
	if (n->ingress && node_addrs_decode(n, o) < 0) {
		shoal_free(n);
		return NULL;
	}
	return n;
}

/* Whether port @p (of a spec or an Endpoint) is in ingress mode. */
static bool is_ingress(const json_t *p)
{
	const char *m = jsonx_str(p, "PublishMode", "");
	return !*m || !strcmp(m, "ingress");
}

int alloc__service_fill(struct orch_service *s)
{
	const json_t *tmpl = jsonx_obj(s->spec, "TaskTemplate");
	json_t *nets = json_object_get(tmpl, "Networks");
	s->nets = json_is_array(nets) && json_array_size(nets) ? nets : NULL;
	const json_t *es = jsonx_obj(s->spec, "EndpointSpec");
	s->dnsrr = strcmp(jsonx_str(es, "Mode", "vip"), "dnsrr") == 0;
	json_t *ports = json_object_get(es, "Ports");
	s->ports = json_array_size(ports) ? ports : NULL;
	s->eports = json_object_get(jsonx_obj(s->status, "Endpoint"), "Ports");
	size_t pi;
	json_t *p;
	json_array_foreach(s->ports, pi, p)
	{
		s->ingress |= is_ingress(p);
	}
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
	const json_t *ep = json_object_get(sp, "Endpoint");
	if (json_is_object(ep) && !(t->ports_text = canon(ep)))
		return -ENOMEM;
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
	return s->nets || s->ports;
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

/* --- published ports ---------------------------------------------------- */

/* The ingress ports in use across the swarm, per protocol (tcp, udp). */
struct ports {
	uint8_t used[2][65536 / 8];
	uint8_t asked[2][65536 / 8]; /* given in a spec */
};

static int proto_ix(const json_t *p)
{
	return !strcmp(jsonx_str(p, "Protocol", "tcp"), "udp");
}

static bool port_used(const struct ports *u, int pr, int64_t port)
{
	return u->used[pr][port / 8] & (1u << (port % 8));
}

static void port_take(struct ports *u, int pr, int64_t port)
{
	if (port > 0 && port < 65536)
		u->used[pr][port / 8] |= (uint8_t)(1u << (port % 8));
}

static void ports_fill(struct ports *u, const struct orch_service *s)
{
	size_t k;
	json_t *q;
	json_array_foreach(s->ports, k, q)
	{
		int64_t port = jsonx_int(q, "PublishedPort", 0);
		if (is_ingress(q) && port > 0 && port < 65536)
			u->asked[proto_ix(q)][port / 8] |=
				(uint8_t)(1u << (port % 8));
	}
	const json_t *lists[2] = {s->ports, s->eports};
	for (int l = 0; l < 2; l++) {
		size_t i;
		json_t *p;
		json_array_foreach(lists[l], i, p)
		{
			if (is_ingress(p))
				port_take(u, proto_ix(p),
					  jsonx_int(p, "PublishedPort", 0));
		}
	}
}

/* The port @s had for its dynamic ingress port @p (0: none). One that a
 * service asks for by number since (a write pipelined with the pass
 * that gave it) is given up: the number is the asker's. */
static int64_t port_before(const struct orch_service *s, const json_t *p,
			   const json_t *done, const struct ports *u)
{
	size_t i, j;
	json_t *q, *d;
	json_array_foreach(s->eports, i, q)
	{
		int64_t pub = jsonx_int(q, "PublishedPort", 0);
		bool taken = false;
		json_array_foreach(done, j, d)
		{
			taken |= jsonx_int(d, "PublishedPort", 0) == pub &&
				 proto_ix(d) == proto_ix(p);
		}
		if (pub > 0 && pub < 65536)
			taken |= u->asked[proto_ix(q)][pub / 8] &
				 (1u << (pub % 8));
		if (is_ingress(q) && !taken && pub >= ALLOC_PORT_FIRST &&
		    pub <= ALLOC_PORT_LAST && proto_ix(q) == proto_ix(p) &&
		    jsonx_int(q, "TargetPort", 0) ==
			    jsonx_int(p, "TargetPort", 0))
			return pub;
	}
	return 0;
}

/* @s's ports as published: Docker's Endpoint.Ports, an ingress port
 * without a number given the one it had or the lowest free one of
 * ALLOC_PORT_FIRST..ALLOC_PORT_LAST. @host_only: the host-mode ones. */
static json_t *ports_json(const struct orch_service *s, struct ports *u,
			  bool host_only)
{
	json_t *out = json_array();
	size_t i;
	json_t *p;
	json_array_foreach(s->ports, i, p)
	{
		bool ing = is_ingress(p);
		int pr = proto_ix(p);
		int64_t pub = jsonx_int(p, "PublishedPort", 0);
		if (!out || (host_only && ing))
			continue;
		if (ing && !pub && u) {
			pub = port_before(s, p, out, u);
			for (int64_t q = ALLOC_PORT_FIRST;
			     !pub && q <= ALLOC_PORT_LAST; q++)
				if (!port_used(u, pr, q))
					pub = q;
			port_take(u, pr, pub);
		}
		json_t *o = json_pack("{s:s, s:I, s:I, s:s}", "Protocol",
				      pr ? "udp" : "tcp", "TargetPort",
				      (json_int_t)jsonx_int(p, "TargetPort", 0),
				      "PublishedPort", (json_int_t)pub,
				      "PublishMode", ing ? "ingress" : "host");
		if (o && *jsonx_str(p, "Name", ""))
			jsonx_set(o, "Name",
				  json_string(jsonx_str(p, "Name", "")));
		if (!o || json_array_append_new(out, o) < 0) {
			json_decref(out);
			out = NULL;
		}
	}
	return out;
}

/* --- service VIPs -------------------------------------------------------- */

static json_t *endpoint_json(const struct orch_service *s,
			     const struct orch_addr *v, size_t n,
			     struct orch_model *m, struct ports *u)
{
	json_t *spec = json_deep_copy(jsonx_obj(s->spec, "EndpointSpec"));
	json_t *e = json_pack("{s:o}", "Spec", spec ? spec : json_object());
	json_t *vips = n ? json_array() : NULL;
	int rc = e ? 0 : -ENOMEM;
	if (s->ports && e)
		rc |= jsonx_set(e, "Ports", ports_json(s, u, false));
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

/* The model's ingress network, or NULL. */
static struct orch_net *ingress_of(struct orch_model *m)
{
	size_t pos = 0, kl;
	const void *k;
	void *v;
	while (hmap_next(&m->networks, &pos, &k, &kl, &v))
		if (((struct orch_net *)v)->ingress)
			return v;
	return NULL;
}

/* The networks @s wants, in its spec's order, each once, then the
 * ingress network when it publishes a port there (@out has room for
 * json_array_size(s->nets) + 1). */
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
	struct orch_net *in = s->ingress ? ingress_of(m) : NULL;
	if (in)
		out[k++] = in;
	return k;
}

static int service_vips(struct orch_model *m, struct hmap *pools,
			struct ports *u, struct orch_service *s,
			const struct alloc_hooks *h)
{
	json_t *cur = json_object_get(s->status, "Endpoint");
	if (!s->nets && !s->ports && !cur)
		return 0; /* never on a network: nothing to show or free */
	size_t cap = json_array_size(s->nets) + 2, k = 0;
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
	json_t *e = rc == 0 ? endpoint_json(s, nv, k, m, u) : NULL;
	if (rc == 0 && !e)
		rc = -ENOMEM;
	if (rc == 0 && !json_equal(cur, e)) {
		json_t *st = h->touch_service(h->arg, s);
		if (st && jsonx_set(st, "Endpoint", json_incref(e)) < 0)
			rc = -ENOMEM;
		if (st && rc == 0) {
			s->eports = json_object_get(e, "Ports");
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

/* The task's Endpoint with @s's host-mode ports, which the agent
 * publishes on the task's node (*@out NULL: none). 0 or -ENOMEM. */
static int host_ports(const struct orch_service *s, char **out)
{
	json_t *hp = s->ports ? ports_json(s, NULL, true) : NULL;
	json_t *ep =
		json_array_size(hp) ? json_pack("{s:O}", "Ports", hp) : NULL;
	*out = ep ? canon(ep) : NULL;
	json_decref(hp);
	json_decref(ep);
	return ep && !*out ? -ENOMEM : 0;
}

static int task_alloc(struct orch_model *m, struct hmap *pools,
		      struct orch_task *t, bool fresh,
		      const struct alloc_hooks *h)
{
	struct orch_service *s = hmap_get_str(&m->services, t->service_id);
	if (!s)
		return 0; /* the orchestrator removes it */
	size_t cap = json_array_size(s->nets) + 2, k = 0;
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
	char *text = NULL, *ptext = NULL;
	if (rc == -ENOSPC) {
		rc = set_err(t, fresh, h, why);
		goto out;
	}
	text = rc == 0 && k ? canon(arr) : NULL;
	if (rc == 0 && k && !text)
		rc = -ENOMEM;
	if (rc == 0)
		rc = host_ports(s, &ptext);
	if (rc == 0 && !fresh && !h->touch_task(h->arg, t))
		rc = 1; /* the batch is full: the next pass */
	if (rc) {
		shoal_free(text);
		shoal_free(ptext);
		rc = rc > 0 ? 0 : rc;
		goto out;
	}
	if (rc == 0) {
		shoal_free(t->nets_text);
		shoal_free(t->addrs);
		shoal_free(t->ports_text);
		t->ports_text = ptext;
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

/*
 * A network attachment (a task without ServiceID: a container of its node
 * attached to an attachable overlay, docs/overlay.md, "Attachable
 * overlays"): its Spec names the network (Networks[0].Target, an id) and
 * the names it answers to (Aliases: the container's name first). It gets
 * the lowest free address and goes straight to running (there is nothing
 * to schedule: its node is the one that asked), in Docker's attachment
 * shape. A network gone, not attachable, or full leaves it new with the
 * reason in Err, which the dispatcher answers to the node.
 */
static int attach_alloc(struct orch_model *m, struct hmap *pools,
			struct orch_task *t, const struct alloc_hooks *h)
{
	json_t *spec = NULL;
	if (jsonx_parse(t->spec_text, strlen(t->spec_text), &spec, NULL, 0) < 0)
		return set_err(t, false, h, "the attachment's spec is invalid");
	const json_t *cfg =
		json_array_get(json_object_get(spec, "Networks"), 0);
	const char *target = jsonx_str(cfg, "Target", "");
	struct orch_net *n =
		*target ? hmap_get_str(&m->networks, target) : NULL;
	char why[256] = "";
	uint32_t addr = 0;
	int rc = 0;
	if (!n)
		snprintf(why, sizeof(why), "network %.64s not found", target);
	else if (!n->attachable)
		snprintf(why, sizeof(why),
			 "rpc error: code = PermissionDenied desc = network "
			 "%.64s not manually attachable",
			 n->name);
	else if ((rc = pick(pools, m, n->id, &addr)) == -ENOSPC)
		snprintf(why, sizeof(why),
			 "no address left on network %.64s: its subnet is "
			 "full",
			 n->name);
	if (*why || rc < 0) {
		json_decref(spec);
		return rc < 0 && rc != -ENOSPC ? rc : set_err(t, false, h, why);
	}
	json_t *al = json_array();
	size_t i;
	json_t *x;
	json_array_foreach(json_object_get(cfg, "Aliases"), i, x)
	{
		if (al && json_is_string(x))
			json_array_append(al, x);
	}
	json_t *arr =
		json_pack("[{s:o, s:[o], s:o}]", "Network", network_json(n),
			  "Addresses", cidr_json(addr, n->a.prefix), "Aliases",
			  al ? al : json_array());
	char *text = arr ? canon(arr) : NULL;
	struct orch_addr *a = shoal_calloc(1, sizeof(*a));
	json_decref(arr);
	json_decref(spec);
	if (!text || !a) {
		shoal_free(text);
		shoal_free(a);
		return -ENOMEM;
	}
	if (!h->touch_task(h->arg, t)) {
		shoal_free(text);
		shoal_free(a);
		return 0; /* the batch is full: the next pass */
	}
	snprintf(a->net_id, sizeof(a->net_id), "%s", n->id);
	a->addr = addr;
	shoal_free(t->nets_text);
	shoal_free(t->addrs);
	t->nets_text = text;
	t->addrs = a;
	t->naddrs = 1;
	t->state = TASK_RUNNING;
	t->err[0] = '\0';
	snprintf(t->msg, sizeof(t->msg), "attached");
	return orch__task_set_status(t, h->now_ns);
}

int alloc_attach_spec(const char *node_id, const char *net_id,
		      const char *ctr_id, const char *const *names, size_t n,
		      int64_t now_ns, char **spec, char **status)
{
	if (n > ALLOC_ATTACH_NAMES_MAX)
		return -EINVAL;
	json_t *al = json_array();
	for (size_t i = 0; al && i < n; i++) {
		size_t len = names[i] ? strlen(names[i]) : 0;
		if (len == 0 || len > 255) {
			json_decref(al);
			return -EINVAL;
		}
		json_array_append_new(al, json_string(names[i]));
	}
	json_t *sp = json_pack(
		"{s:s, s:I, s:s, s:{s:{s:s}, s:[{s:s, s:o}]}, s:{}, s:s, "
		"s:{s:I}, s:s}",
		"ServiceID", "", "Slot", (json_int_t)0, "NodeID", node_id,
		"Spec", "NetworkAttachmentSpec", "ContainerID",
		ctr_id ? ctr_id : "", "Networks", "Target", net_id, "Aliases",
		al ? al : json_null(), "ServiceAnnotations", "DesiredState",
		"running", "SpecVersion", "Index", (json_int_t)0, "Mode",
		"replicated");
	char ts[48];
	time_format_rfc3339(now_ns, ts, sizeof(ts));
	json_t *st = json_pack("{s:s, s:s, s:s, s:s, s:{}, s:{}}", "Timestamp",
			       ts, "State", "new", "Message",
			       "network attachment requested", "Err", "",
			       "ContainerStatus", "PortStatus");
	*spec = sp && al ? canon(sp) : NULL;
	*status = st ? canon(st) : NULL;
	json_decref(sp);
	json_decref(st);
	if (!*spec || !*status) {
		shoal_free(*spec);
		shoal_free(*status);
		*spec = *status = NULL;
		return -ENOMEM;
	}
	return 0;
}

bool alloc_task_current(struct orch_model *m, const struct orch_service *s,
			const struct orch_task *t)
{
	if (t->state < TASK_PENDING ||
	    (!s->ports && !t->ports_text && !t->naddrs))
		return true;
	struct orch_net *in = ingress_of(m);
	bool has_in = false;
	for (size_t i = 0; in && i < t->naddrs; i++)
		has_in |= !strcmp(t->addrs[i].net_id, in->id);
	if (in && has_in != s->ingress)
		return false;
	char *want = NULL;
	if (host_ports(s, &want) < 0)
		return true; /* decided again by the next pass */
	bool same = (!want && !t->ports_text) ||
		    (want && t->ports_text && !strcmp(want, t->ports_text));
	shoal_free(want);
	return same;
}

static int by_id(const void *a, const void *b)
{
	const struct orch_service *x = *(struct orch_service *const *)a;
	const struct orch_service *y = *(struct orch_service *const *)b;
	return strcmp(x->id, y->id);
}

/* Every address in use (tasks that hold theirs, and the VIPs) and every
 * ingress port. */
static int fill_pools(struct orch_model *m, struct hmap *pools, struct ports *u,
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
		ports_fill(u, s);
		for (size_t j = 0; j < s->nvips && rc == 0; j++)
			rc = use(pools, m, &s->vips[j]);
	}
	return rc;
}

/*
 * Every node's own address on the ingress network @in (docs/overlay.md,
 * "Ingress"): the routing mesh's DNAT keeps the client's address, so a
 * task's replies must go back through the node that received the
 * connection, which needs an address of its own there (the gateway is
 * every node's). Kept while the node is in the store, the lowest free
 * one for a node without, given back when the node is removed; written
 * into the network's status (NodeAddresses) when that changes. Before
 * the VIPs and tasks of this pass pick theirs.
 */
static int node_addrs(struct orch_model *m, struct hmap *pools,
		      struct orch_net *in, const struct alloc_hooks *h)
{
	if (!in->version)
		return 0; /* made in this pass: in the next */
	struct pool *p = pool_get(pools, m, in->id);
	size_t nn = hmap_len(&m->nodes), k = 0, pos = 0, kl;
	struct orch_node_addr *want = shoal_calloc(nn + 1, sizeof(*want));
	if (!p || !want) {
		shoal_free(want);
		return -ENOMEM;
	}
	const void *key;
	void *v;
	while (hmap_next(&m->nodes, &pos, &key, &kl, &v))
		snprintf(want[k++].node_id, sizeof(want[0].node_id), "%s",
			 ((struct orch_node *)v)->id);
	qsort(want, k, sizeof(*want), by_node);
	int rc = 0;
	for (size_t i = 0; i < k && rc == 0; i++) {
		const struct orch_node_addr *had =
			in->nnaddr ? bsearch(&want[i], in->naddr, in->nnaddr,
					     sizeof(*in->naddr), by_node)
				   : NULL;
		if (had) {
			want[i].addr = had->addr;
			rc = pool_push(p, had->addr);
		}
	}
	for (size_t i = 0; i < k && rc == 0; i++)
		if (!want[i].addr && pick(pools, m, in->id, &want[i].addr) < 0)
			want[i].addr = 0; /* full: none (the next pass) */
	size_t w = 0;
	for (size_t i = 0; i < k; i++)
		if (want[i].addr)
			want[w++] = want[i];
	bool same = w == in->nnaddr &&
		    (!w || !memcmp(want, in->naddr, w * sizeof(*want)));
	if (rc < 0 || same) {
		shoal_free(want);
		return rc;
	}
	json_t *l = json_array();
	for (size_t i = 0; l && i < w; i++) {
		char a[16];
		alloc_addr_format(want[i].addr, a);
		if (json_array_append_new(l, json_pack("{s:s, s:s}", "NodeID",
						       want[i].node_id, "Addr",
						       a)) < 0)
			rc = -ENOMEM;
	}
	json_t *st = l ? json_pack("{s:o}", "NodeAddresses", l) : NULL;
	char *text = st && rc == 0 ? canon(st) : NULL;
	json_decref(st);
	rc = text ? h->update_net(h->arg, in, text) : -ENOMEM;
	shoal_free(text);
	if (rc == 0) {
		shoal_free(in->naddr);
		in->naddr = want;
		in->nnaddr = w;
	} else {
		shoal_free(want);
	}
	return rc == -ENOBUFS ? 0 : rc; /* no room: the next pass */
}

/*
 * The ingress network (docs/overlay.md, "Ingress"), made in this batch
 * when a service first publishes a port in ingress mode, and put in the
 * model at once so that this pass gives its tasks their addresses (a
 * refused batch reloads the model). Not made while a network of its name
 * or overlapping its subnet exists (then services get no ingress address
 * and their ports are not routed; a create of "ingress" is refused, so
 * only an older store holds one).
 */
static int make_ingress(struct orch_model *m, const struct alloc_hooks *h)
{
	size_t pos = 0, kl;
	const void *k;
	void *v;
	while (hmap_next(&m->networks, &pos, &k, &kl, &v)) {
		const struct orch_net *n = v;
		uint8_t p = n->a.prefix < ALLOC_INGRESS_PREFIX
				    ? n->a.prefix
				    : ALLOC_INGRESS_PREFIX;
		uint32_t mask = ~0u << (32 - p);
		if (n->ingress || !strcmp(n->name, "ingress") ||
		    (n->a.subnet & mask) == (ALLOC_INGRESS_SUBNET & mask))
			return 0;
	}
	struct orch_net *n = shoal_calloc(1, sizeof(*n));
	if (!n)
		return -ENOMEM;
	n->a = (struct alloc_net){ALLOC_INGRESS_VNI, ALLOC_INGRESS_SUBNET,
				  ALLOC_INGRESS_PREFIX,
				  ALLOC_INGRESS_SUBNET + 1};
	n->mtu = DEFAULT_MTU;
	n->ingress = true;
	snprintf(n->name, sizeof(n->name), "ingress");
	char spec[512];
	snprintf(spec, sizeof(spec),
		 "{\"Name\":\"ingress\",\"Driver\":\"overlay\",\"Scope\":"
		 "\"swarm\",\"Internal\":false,\"Attachable\":false,"
		 "\"Ingress\":true,\"Labels\":{},\"Options\":{},\"IPAM\":{"
		 "\"Driver\":\"default\",\"Config\":[{\"Subnet\":"
		 "\"10.255.0.0/16\",\"Gateway\":\"10.255.0.1\"}]},\"VNI\":%u}",
		 ALLOC_INGRESS_VNI);
	int rc = h->create_net(h->arg, n->id, "ingress", spec);
	if (rc == -ENOBUFS) {
		shoal_free(n);
		return 0; /* the next pass */
	}
	if (rc == 0)
		rc = hmap_put_str(&m->networks, n->id, n, NULL);
	if (rc < 0)
		shoal_free(n);
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
	struct ports *u = shoal_calloc(1, sizeof(*u));
	bool ingress = false;
	int rc = svcs && u ? fill_pools(m, &pools, u, all, n) : -ENOMEM;
	while (rc == 0 && hmap_next(&m->services, &pos, &key, &kl, &v)) {
		svcs[k++] = v;
		ingress |= ((struct orch_service *)v)->ingress;
	}
	if (rc == 0 && ingress && !ingress_of(m))
		rc = make_ingress(m, h);
	struct orch_net *in = rc == 0 ? ingress_of(m) : NULL;
	if (in)
		rc = node_addrs(m, &pools, in, h);
	if (rc == 0)
		qsort(svcs, k, sizeof(*svcs), by_id);
	for (size_t i = 0; i < k && rc == 0; i++)
		rc = service_vips(m, &pools, u, svcs[i], h);
	for (size_t i = 0; i < n && rc == 0; i++)
		if (all[i]->state == TASK_NEW &&
		    all[i]->desired == TASK_RUNNING &&
		    !(all[i]->dirty & ORCH_DELETE))
			rc = *all[i]->service_id
				     ? task_alloc(m, &pools, all[i], false, h)
				     : attach_alloc(m, &pools, all[i], h);
	for (size_t i = 0; i < nfresh && rc == 0; i++)
		if (fresh[i] && fresh[i]->state == TASK_NEW)
			rc = task_alloc(m, &pools, fresh[i], true, h);
	pos = 0;
	while (hmap_next(&pools, &pos, &key, &kl, &v))
		pool_free(v);
	hmap_fini(&pools);
	shoal_free(svcs);
	shoal_free(u);
	return rc;
}
