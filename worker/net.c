/*
 * The agent's overlay networks (net.h).
 *
 * Per set: decode the network items, join each network (idempotent),
 * then bring its peers in line with the item: the kernel's entries on
 * shvx<VNI> are read back and those of addresses the item does not list
 * are deleted; the item's peers missing from the kernel, or whose VTEP
 * changed since we programmed them, are (re)programmed. The VTEP of a
 * programmed peer is remembered in memory only: after a restart every
 * peer is programmed once more (NLM_F_REPLACE), which is harmless.
 *
 * The ingress item (docs/overlay.md, step 5): its Network is joined like
 * a network item, with every other node's own address added to its
 * peers, then its published ports are served on this node
 * (net_ingress_set()); without an ingress item the mesh's table goes.
 *
 * Networks joined but named by no item are left when no endpoint is on
 * them; while task containers are still stopping, a one-second timer
 * tries again (the executor removes them on its own schedule).
 *
 * Invariants: a peer is never one of this node's own addresses (a VTEP
 * equal to ours is refused); a peer address is inside its network's
 * subnet; the managers are the only source of peers (items arrive over
 * the authenticated session), never another node.
 */
#define LOG_MODULE "agent"
#include "worker/net.h"

#include "common/alloc.h"
#include "common/id.h"
#include "common/jsonx.h"
#include "common/log.h"
#include "overlay-net/net.h"
#include "overlay-net/resolver.h"
#include "overlay-net/vxlan.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

struct prog {
	char id[65];
	struct wnet_peer *peers; /* as last programmed */
	size_t n;
};

struct wnet {
	uv_loop_t *loop;
	struct net *net;
	uint32_t vtep;
	uv_timer_t retry;
	bool timer_open;
	char (*wanted)[65];
	size_t n_wanted;
	struct prog *progs;
	size_t n_progs;
	uint32_t *dump;	   /* room for a kernel dump of one network's peers */
	bool ingress_seen; /* this set's ingress item was served */
	/* The last set's network items (for a task leaving before the
	 * managers say so) and the tasks of this node that left the VIP
	 * maps here: kept out until no item lists them any more. */
	struct wnet_item *items;
	size_t n_items;
	char (*down)[WNET_TASK_ID_MAX + 1];
	size_t n_down;
	struct converge *converging; /* tasks waiting out WNET_CONVERGE_MS */
};

/* A task that left this node's VIP maps waits WNET_CONVERGE_MS more
 * before its stop goes on: the other nodes get the managers' new items
 * at about the time this one does, but load them on their own time, and
 * a connection they still send meanwhile must find the task alive
 * (Docker's executor waits 2 s, its gossip's convergence, for the same
 * reason; docs/overlay.md, "Health, stopping and rolling updates"). */
struct converge {
	uv_timer_t timer;
	struct wnet *w; /* NULL once the wnet closed */
	void (*done)(void *);
	void *arg;
	struct converge *next;
};

/* ------------------------------------------------------------- decoding */

__attribute__((format(printf, 2, 3))) static int bad(struct shoal_err *err,
						     const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(err->msg, sizeof(err->msg), fmt, ap);
	va_end(ap);
	return -EINVAL;
}

static int ip4(const char *s, uint32_t *out)
{
	struct in_addr a;
	if (!s || inet_pton(AF_INET, s, &a) != 1)
		return -EINVAL;
	*out = ntohl(a.s_addr);
	return 0;
}

static int subnet_of(const char *s, uint32_t *net, int *len)
{
	char buf[20];
	const char *slash = s ? strchr(s, '/') : NULL;
	char *end;
	long l;
	if (!slash || slash - s >= 16)
		return -EINVAL;
	snprintf(buf, sizeof(buf), "%.*s", (int)(slash - s), s);
	/* Digits only ("/ 16" is not a prefix), and the whole text must fit
	 * the item's Subnet field it is copied to. */
	l = strtol(slash + 1, &end, 10);
	if (*end || !isdigit((unsigned char)slash[1]) || strlen(s) >= 19 ||
	    l < 8 || l > 29 || ip4(buf, net) < 0)
		return -EINVAL;
	*len = (int)l;
	return (*net & ~(0xffffffffu << (32 - l))) ? -EINVAL : 0;
}

static bool id_ok(const char *s)
{
	size_t n = s ? strlen(s) : 0;
	return n >= 1 && n <= 64 &&
	       strspn(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
			 "0123456789") == n;
}

static bool name_ok(const char *s)
{
	size_t n = s ? strlen(s) : 0;
	return n >= 1 && n <= 128 &&
	       strspn(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
			 "0123456789_.-") == n;
}

static bool unicast(uint32_t a)
{
	return a != 0 && a != 0xffffffffu && (a >> 28) != 0xe &&
	       (a >> 24) != 127;
}

static int peers_from(const json_t *a, struct wnet_item *it, uint32_t net,
		      int len, uint32_t gw, struct shoal_err *err)
{
	uint32_t mask = 0xffffffffu << (32 - len);
	const json_t *p;
	size_t i;
	if (a && !json_is_null(a) && !json_is_array(a))
		return bad(err, "network %s: Peers must be a list", it->name);
	if (json_array_size(a) > WNET_MAX_PEERS)
		return bad(err, "network %s: too many Peers", it->name);
	if (!json_array_size(a))
		return 0;
	it->peers = shoal_calloc(json_array_size(a), sizeof(*it->peers));
	if (!it->peers)
		return -ENOMEM;
	json_array_foreach(a, i, p)
	{
		struct wnet_peer *pe = &it->peers[it->n_peers];
		if (ip4(jsonx_str(p, "Addr", NULL), &pe->addr) < 0 ||
		    ip4(jsonx_str(p, "VTEP", NULL), &pe->vtep) < 0 ||
		    (pe->addr & mask) != net || pe->addr == net ||
		    pe->addr == (net | ~mask) || pe->addr == gw ||
		    !unicast(pe->vtep))
			return bad(err,
				   "network %s: a peer needs an Addr inside "
				   "the subnet (not its gateway) and a "
				   "unicast VTEP",
				   it->name);
		it->n_peers++;
	}
	return 0;
}

static bool inside(uint32_t a, uint32_t net, int len)
{
	uint32_t mask = 0xffffffffu << (32 - len);
	return (a & mask) == net && a != net && a != (net | ~mask);
}

static int tasks_from(const json_t *a, struct wnet_service *sv,
		      const struct wnet_item *it, uint32_t net, int len,
		      struct shoal_err *err)
{
	const json_t *t;
	size_t i;
	if (a && !json_is_null(a) && !json_is_array(a))
		return bad(err, "network %s: service %s: Tasks must be a list",
			   it->name, sv->name);
	if (json_array_size(a) > WNET_MAX_TASKS)
		return bad(err, "network %s: service %s: too many Tasks",
			   it->name, sv->name);
	if (!json_array_size(a))
		return 0;
	if (!(sv->tasks = shoal_calloc(json_array_size(a), sizeof(*sv->tasks))))
		return -ENOMEM;
	json_array_foreach(a, i, t)
	{
		struct wnet_task *tk = &sv->tasks[sv->n_tasks];
		const char *name = jsonx_str(t, "Name", NULL);
		if (!id_is_dns_name(name, 255) ||
		    ip4(jsonx_str(t, "Addr", NULL), &tk->addr) < 0 ||
		    !inside(tk->addr, net, len))
			return bad(err,
				   "network %s: service %s: a task needs a "
				   "Name of DNS labels and an Addr inside the "
				   "subnet",
				   it->name, sv->name);
		snprintf(tk->name, sizeof(tk->name), "%s", name);
		tk->ready = json_is_true(json_object_get(t, "Ready"));
		sv->n_tasks++;
	}
	return 0;
}

static int service_from(const json_t *o, struct wnet_service *sv,
			const struct wnet_item *it, uint32_t net, int len,
			struct shoal_err *err)
{
	const char *name = jsonx_str(o, "Name", NULL);
	const char *mode = jsonx_str(o, "Mode", "vip");
	const json_t *al = json_object_get(o, "Aliases"), *x;
	size_t i;
	if (!id_is_dns_name(name, 63) || strchr(name, '.'))
		return bad(err, "network %s: a service without a valid Name",
			   it->name);
	snprintf(sv->name, sizeof(sv->name), "%s", name);
	/* A vip service without its VIP (the managers free it as soon as
	 * the service leaves the network, while its tasks are still
	 * stopping there): its tasks' names only, no VIP. */
	if (!strcmp(mode, "dnsrr")) {
		sv->dnsrr = true;
	} else if (strcmp(mode, "vip") ||
		   (json_object_get(o, "VIP") &&
		    (ip4(jsonx_str(o, "VIP", NULL), &sv->vip) < 0 ||
		     !inside(sv->vip, net, len)))) {
		return bad(err,
			   "network %s: service %s: Mode must be dnsrr, or "
			   "vip with a VIP inside the subnet",
			   it->name, name);
	}
	if ((al && !json_is_null(al) && !json_is_array(al)) ||
	    json_array_size(al) > WNET_MAX_ALIASES)
		return bad(err, "network %s: service %s: bad Aliases", it->name,
			   name);
	if (json_array_size(al) &&
	    !(sv->aliases =
		      shoal_calloc(json_array_size(al), sizeof(*sv->aliases))))
		return -ENOMEM;
	json_array_foreach(al, i, x)
	{
		if (!id_is_dns_name(json_string_value(x), 255))
			return bad(err,
				   "network %s: service %s: an alias must be "
				   "a DNS name",
				   it->name, name);
		if (!(sv->aliases[i] = shoal_strdup(json_string_value(x))))
			return -ENOMEM;
		sv->n_aliases++;
	}
	return tasks_from(json_object_get(o, "Tasks"), sv, it, net, len, err);
}

static int services_from(const json_t *a, struct wnet_item *it, uint32_t net,
			 int len, struct shoal_err *err)
{
	const json_t *o;
	size_t i;
	int rc;
	if (a && !json_is_null(a) && !json_is_array(a))
		return bad(err, "network %s: Services must be a list",
			   it->name);
	if (json_array_size(a) > WNET_MAX_SERVICES)
		return bad(err, "network %s: too many Services", it->name);
	if (!json_array_size(a))
		return 0;
	it->services = shoal_calloc(json_array_size(a), sizeof(*it->services));
	if (!it->services)
		return -ENOMEM;
	json_array_foreach(a, i, o)
	{
		it->n_services++;
		rc = service_from(o, &it->services[i], it, net, len, err);
		if (rc < 0)
			return rc;
	}
	return 0;
}

/* One name of an attached container into @it (a name "" is none). */
static int ctr_name(struct wnet_item *it, const char *name, uint32_t addr,
		    bool ready, struct shoal_err *err)
{
	if (!name || !*name)
		return 0;
	if (!id_is_dns_name(name, 255))
		return bad(err,
			   "network %s: an attached container's names must "
			   "be DNS names",
			   it->name);
	if (it->n_ctr_names == WNET_MAX_CTR_NAMES)
		return bad(err, "network %s: too many Containers' names",
			   it->name);
	if (!(it->n_ctr_names & (it->n_ctr_names + 1))) {
		size_t cap = 2 * (it->n_ctr_names + 1);
		void *v = shoal_realloc(it->ctr_names,
					cap * sizeof(*it->ctr_names));
		if (!v)
			return -ENOMEM;
		it->ctr_names = v;
	}
	struct wnet_task *t = &it->ctr_names[it->n_ctr_names++];
	snprintf(t->name, sizeof(t->name), "%s", name);
	t->addr = addr;
	t->ready = ready;
	return 0;
}

/* Containers[]: {"ID", "Name", "Aliases", "Addr", "NodeID", "Ready"}. */
static int containers_from(const json_t *a, struct wnet_item *it, uint32_t net,
			   int len, struct shoal_err *err)
{
	const json_t *c, *x;
	size_t i, j;
	int rc = 0;
	if (a && !json_is_null(a) && !json_is_array(a))
		return bad(err, "network %s: Containers must be a list",
			   it->name);
	json_array_foreach(a, i, c)
	{
		uint32_t addr;
		const json_t *al = json_object_get(c, "Aliases");
		bool ready = json_is_true(json_object_get(c, "Ready"));
		if (ip4(jsonx_str(c, "Addr", NULL), &addr) < 0 ||
		    !inside(addr, net, len) ||
		    (al && !json_is_null(al) && !json_is_array(al)) ||
		    json_array_size(al) > WNET_MAX_ALIASES)
			return bad(err,
				   "network %s: an attached container needs "
				   "an Addr inside the subnet and a list of "
				   "Aliases",
				   it->name);
		rc = ctr_name(it, jsonx_str(c, "Name", ""), addr, ready, err);
		json_array_foreach(al, j, x)
		{
			if (rc == 0 && !json_is_string(x))
				rc = bad(
					err,
					"network %s: an alias must be a string",
					it->name);
			if (rc == 0)
				rc = ctr_name(it, json_string_value(x), addr,
					      ready, err);
		}
		if (rc < 0)
			return rc;
	}
	return 0;
}

int wnet_item_decode(const json_t *o, struct wnet_item *it,
		     struct shoal_err *err)
{
	const char *id = jsonx_str(o, "ID", NULL);
	const char *name = jsonx_str(o, "Name", NULL);
	const json_t *vni = json_object_get(o, "VNI");
	const json_t *mtu = json_object_get(o, "MTU");
	uint32_t net, gw;
	int len, rc;
	memset(it, 0, sizeof(*it));
	if (!json_is_object(o) || !id_ok(id))
		return bad(err, "a network item without a valid ID");
	snprintf(it->id, sizeof(it->id), "%s", id);
	if (!name_ok(name))
		return bad(err, "network %s: invalid Name", id);
	snprintf(it->name, sizeof(it->name), "%s", name);
	if (!json_is_integer(vni) || json_integer_value(vni) < 1 ||
	    json_integer_value(vni) > 16777215)
		return bad(err, "network %s: VNI must be 1..16777215", name);
	it->vni = (uint32_t)json_integer_value(vni);
	if (subnet_of(jsonx_str(o, "Subnet", NULL), &net, &len) < 0)
		return bad(err,
			   "network %s: Subnet must be an IPv4 network "
			   "/8 to /29",
			   name);
	if (ip4(jsonx_str(o, "Gateway", NULL), &gw) < 0 ||
	    (gw & (0xffffffffu << (32 - len))) != net || gw == net ||
	    gw == (net | ~(0xffffffffu << (32 - len))))
		return bad(err,
			   "network %s: Gateway must be a host address "
			   "of its Subnet",
			   name);
	snprintf(it->subnet, sizeof(it->subnet), "%s",
		 jsonx_str(o, "Subnet", ""));
	snprintf(it->gateway, sizeof(it->gateway), "%s",
		 jsonx_str(o, "Gateway", ""));
	it->mtu = 1450;
	if (mtu && !json_is_null(mtu)) {
		if (!json_is_integer(mtu) || json_integer_value(mtu) < 68 ||
		    json_integer_value(mtu) > 9000)
			return bad(err, "network %s: MTU must be 68..9000",
				   name);
		it->mtu = (int)json_integer_value(mtu);
	}
	it->internal = jsonx_bool(o, "Internal", false);
	it->attachable = jsonx_bool(o, "Attachable", false);
	rc = peers_from(json_object_get(o, "Peers"), it, net, len, gw, err);
	if (rc == 0)
		rc = services_from(json_object_get(o, "Services"), it, net, len,
				   err);
	if (rc == 0)
		rc = containers_from(json_object_get(o, "Containers"), it, net,
				     len, err);
	if (rc < 0)
		wnet_item_fini(it);
	return rc;
}

void wnet_item_fini(struct wnet_item *it)
{
	shoal_free(it->peers);
	it->peers = NULL;
	it->n_peers = 0;
	for (size_t i = 0; i < it->n_services; i++) {
		struct wnet_service *sv = &it->services[i];
		for (size_t j = 0; j < sv->n_aliases; j++)
			shoal_free(sv->aliases[j]);
		shoal_free(sv->aliases);
		shoal_free(sv->tasks);
	}
	shoal_free(it->services);
	it->services = NULL;
	it->n_services = 0;
	shoal_free(it->ctr_names);
	it->ctr_names = NULL;
	it->n_ctr_names = 0;
}

/* ---------------------------------------------------------------- peers */

static struct prog *prog_of(struct wnet *w, const char *id, bool make)
{
	for (size_t i = 0; i < w->n_progs; i++)
		if (!strcmp(w->progs[i].id, id))
			return &w->progs[i];
	if (!make)
		return NULL;
	struct prog *v = shoal_realloc(w->progs, (w->n_progs + 1) * sizeof(*v));
	if (!v)
		return NULL;
	w->progs = v;
	memset(&v[w->n_progs], 0, sizeof(*v));
	snprintf(v[w->n_progs].id, sizeof(v->id), "%s", id);
	return &v[w->n_progs++];
}

static void prog_drop(struct wnet *w, const char *id)
{
	struct prog *p = prog_of(w, id, false);
	if (!p)
		return;
	shoal_free(p->peers);
	*p = w->progs[--w->n_progs];
}

static void mac_of(uint32_t ip, uint8_t mac[6])
{
	mac[0] = 0x02;
	mac[1] = 0x42;
	mac[2] = (uint8_t)(ip >> 24);
	mac[3] = (uint8_t)(ip >> 16);
	mac[4] = (uint8_t)(ip >> 8);
	mac[5] = (uint8_t)ip;
}

static const struct wnet_peer *peer_in(const struct wnet_peer *v, size_t n,
				       uint32_t addr)
{
	for (size_t i = 0; i < n; i++)
		if (v[i].addr == addr)
			return &v[i];
	return NULL;
}

static bool in_dump(const uint32_t *v, size_t n, uint32_t addr)
{
	for (size_t i = 0; i < n; i++)
		if (v[i] == addr)
			return true;
	return false;
}

/* The kernel's peers of @it brought in line with its list. */
static void sync_peers(struct wnet *w, const struct wnet_item *it)
{
	char msg[200];
	uint8_t mac[6];
	size_t nk = 0, added = 0, removed = 0;
	struct prog *pg = prog_of(w, it->id, true);
	int rc = ovl_vxlan_peer_list(it->vni, w->dump, WNET_MAX_PEERS + 1024,
				     &nk, msg, sizeof(msg));
	if (rc < 0 && rc != -ENOBUFS) {
		log_warn("network=%s vni=%u: %s", it->name, it->vni, msg);
		return;
	}
	for (size_t i = 0; i < nk; i++) {
		if (peer_in(it->peers, it->n_peers, w->dump[i]))
			continue;
		mac_of(w->dump[i], mac);
		/* VTEP 0.0.0.0: the FDB entry whatever its destination. */
		rc = ovl_vxlan_peer(it->vni, w->dump[i], mac, 0, 0, msg,
				    sizeof(msg));
		if (rc < 0 && rc != -ENOENT)
			log_warn("network=%s: %s", it->name, msg);
		removed++;
	}
	for (size_t i = 0; i < it->n_peers; i++) {
		const struct wnet_peer *p = &it->peers[i];
		const struct wnet_peer *was =
			pg ? peer_in(pg->peers, pg->n, p->addr) : NULL;
		if (in_dump(w->dump, nk, p->addr) && was &&
		    was->vtep == p->vtep)
			continue;
		if (p->vtep == w->vtep) {
			log_warn("network=%s: peer %u.%u.%u.%u claims this "
				 "node's VTEP; not programmed",
				 it->name, p->addr >> 24, (p->addr >> 16) & 255,
				 (p->addr >> 8) & 255, p->addr & 255);
			continue;
		}
		mac_of(p->addr, mac);
		rc = ovl_vxlan_peer(it->vni, p->addr, mac, p->vtep, 1, msg,
				    sizeof(msg));
		if (rc < 0)
			log_warn("network=%s: %s", it->name, msg);
		else
			added++;
	}
	if (pg) {
		struct wnet_peer *copy = NULL;
		if (it->n_peers &&
		    (copy = shoal_calloc(it->n_peers, sizeof(*copy))))
			memcpy(copy, it->peers, it->n_peers * sizeof(*copy));
		shoal_free(pg->peers);
		pg->peers = copy;
		pg->n = copy ? it->n_peers : 0;
	}
	if (added || removed)
		log_info("network=%s vni=%u: %zu peers programmed, %zu "
			 "removed",
			 it->name, it->vni, added, removed);
}

/* ---------------------------------------------------------------- names */

/* ------------------------------------------------- tasks leaving here */

/* The task id of a task name "web.1.<id>" (or "web.<node>.<id>"). */
static const char *task_id_of(const char *name)
{
	const char *dot = strrchr(name, '.');
	return dot ? dot + 1 : name;
}

static bool is_down(const struct wnet *w, const struct wnet_task *t)
{
	const char *id = task_id_of(t->name);
	for (size_t i = 0; i < w->n_down; i++)
		if (!strcmp(w->down[i], id))
			return true;
	return false;
}

/* Ready for this node: the managers' word, unless it left here. */
static bool is_ready(const struct wnet *w, const struct wnet_task *t)
{
	return t->ready && !is_down(w, t);
}

/* Room for the records of one network: names point into the item or
 * into @bufs, addresses into @addrs. */
struct names {
	struct net_overlay_name *v;
	size_t n, cap;
	uint32_t *addrs; /* the Ready tasks of each service, then VIPs */
	char (*bufs)[272];
};

static void add_name(struct names *nm, const char *name, const uint32_t *a,
		     size_t n)
{
	if (!n || nm->n == nm->cap)
		return;
	nm->v[nm->n++] = (struct net_overlay_name){name, a, n};
}

/* The resolver's records of @it (docs/dns.md, "Overlays"). */
static void set_names(struct wnet *w, const struct wnet_item *it)
{
	struct names nm = {0};
	size_t cap = 0, n_addrs = 0;
	int rc;
	for (size_t i = 0; i < it->n_services; i++)
		cap += 2 + it->services[i].n_aliases + it->services[i].n_tasks;
	cap += it->n_ctr_names;
	nm.cap = cap;
	nm.v = shoal_calloc(cap + 1, sizeof(*nm.v));
	/* Per service at most 64 Ready addresses (the resolver's most)
	 * and its VIP. */
	nm.addrs = shoal_calloc(it->n_services * 65 + 1, sizeof(*nm.addrs));
	nm.bufs = shoal_calloc(it->n_services + 1, sizeof(*nm.bufs));
	if (!nm.v || !nm.addrs || !nm.bufs)
		goto err_free;
	for (size_t i = 0; i < it->n_services; i++) {
		const struct wnet_service *sv = &it->services[i];
		uint32_t *ready = &nm.addrs[n_addrs], *vip;
		size_t nr = 0;
		for (size_t j = 0; j < sv->n_tasks; j++) {
			if (!is_ready(w, &sv->tasks[j]))
				continue;
			if (nr < NET_RESOLVER_MAX_ADDRS)
				ready[nr++] = sv->tasks[j].addr;
			add_name(&nm, sv->tasks[j].name, &sv->tasks[j].addr, 1);
		}
		n_addrs += nr;
		vip = &nm.addrs[n_addrs];
		*vip = sv->vip;
		n_addrs++;
		/* The service (and its aliases): its VIP, or with dnsrr
		 * its Ready tasks; tasks.NAME: its Ready tasks. */
		const uint32_t *a = sv->dnsrr ? ready : vip;
		size_t na = sv->dnsrr ? nr : sv->vip ? 1 : 0;
		add_name(&nm, sv->name, a, na);
		for (size_t j = 0; j < sv->n_aliases; j++)
			add_name(&nm, sv->aliases[j], a, na);
		snprintf(nm.bufs[i], sizeof(nm.bufs[i]), "tasks.%s", sv->name);
		add_name(&nm, nm.bufs[i], ready, nr);
	}
	/* Attached containers: their names and aliases, while they run. */
	for (size_t i = 0; i < it->n_ctr_names; i++)
		if (it->ctr_names[i].ready)
			add_name(&nm, it->ctr_names[i].name,
				 &it->ctr_names[i].addr, 1);
	rc = net_overlay_set_names(w->net, it->id, nm.v, nm.n);
	if (rc < 0)
		log_warn("network=%s: its names are not served: %s", it->name,
			 shoal_strerror(rc));
err_free:
	shoal_free(nm.v);
	shoal_free(nm.addrs);
	shoal_free(nm.bufs);
}

/* The VIPs of @it's services over their Ready tasks (step 4). */
static void set_vips(struct wnet *w, const struct wnet_item *it)
{
	struct net_overlay_vip *v =
		shoal_calloc(it->n_services + 1, sizeof(*v));
	uint32_t *b = NULL;
	size_t k = 0, nb = 0, total = 0;
	int rc = -ENOMEM;
	for (size_t i = 0; i < it->n_services; i++)
		total += it->services[i].n_tasks;
	b = shoal_calloc(total + 1, sizeof(*b));
	if (!v || !b)
		goto err_free;
	for (size_t i = 0; i < it->n_services; i++) {
		const struct wnet_service *sv = &it->services[i];
		if (sv->dnsrr || !sv->vip)
			continue;
		v[k] = (struct net_overlay_vip){sv->vip, &b[nb], 0};
		for (size_t j = 0; j < sv->n_tasks; j++)
			if (is_ready(w, &sv->tasks[j]) &&
			    v[k].n < NET_VIP_MAX_BACKENDS)
				b[nb + v[k].n++] = sv->tasks[j].addr;
		nb += v[k].n;
		k++;
	}
	rc = net_overlay_set_vips(w->net, it->id, v, k);
err_free:
	if (rc < 0)
		log_warn("network=%s: its VIPs are not balanced: %s", it->name,
			 shoal_strerror(rc));
	shoal_free(v);
	shoal_free(b);
}

/* ------------------------------------------------------------- networks */

static bool wanted(const struct wnet *w, const char *id)
{
	for (size_t i = 0; i < w->n_wanted; i++)
		if (!strcmp(w->wanted[i], id))
			return true;
	return false;
}

/* Leave what no item names; true when some must wait for containers. */
static bool leave_unwanted(struct wnet *w)
{
	struct net_overlay_state *v = NULL;
	size_t n = 0;
	bool busy = false;
	if (!w->net || net_overlay_list(w->net, &v, &n) < 0)
		return false;
	for (size_t i = 0; i < n; i++) {
		struct shoal_err err = {""};
		if (wanted(w, v[i].id))
			continue;
		int rc = net_overlay_leave(w->net, v[i].id, &err);
		if (rc == -EBUSY)
			busy = true;
		else if (rc < 0)
			log_warn("cannot leave overlay %s: %s", v[i].id,
				 err.msg);
		else
			prog_drop(w, v[i].id);
	}
	shoal_free(v);
	return busy;
}

static void retry_cb(uv_timer_t *t)
{
	struct wnet *w = t->data;
	if (!leave_unwanted(w))
		uv_timer_stop(&w->retry);
}

static void converge_leaves(struct wnet *w)
{
	if (leave_unwanted(w) && w->timer_open)
		uv_timer_start(&w->retry, retry_cb, 1000, 1000);
}

static void join(struct wnet *w, const struct wnet_item *it)
{
	struct shoal_err err = {""};
	struct net_overlay o = {
		.id = it->id,
		.name = it->name,
		.vni = it->vni,
		.subnet = it->subnet,
		.gateway = it->gateway,
		.mtu = it->mtu,
		.internal = it->internal,
		.attachable = it->attachable,
		.vtep = w->vtep,
	};
	if (!w->net) {
		log_warn("network=%s: networking is off in this daemon; its "
			 "tasks will be rejected",
			 it->name);
		return;
	}
	int rc = net_overlay_join(w->net, &o, &err);
	if (rc < 0) {
		log_warn("cannot join overlay %s: %s", it->name,
			 err.msg[0] ? err.msg : shoal_strerror(rc));
		if (rc != -EBUSY)
			return;
	}
	sync_peers(w, it);
	set_names(w, it);
	set_vips(w, it);
}

static void want(struct wnet *w, const char *id)
{
	void *v = shoal_realloc(w->wanted, (w->n_wanted + 1) * 65);
	if (!v)
		return;
	w->wanted = v;
	snprintf(w->wanted[w->n_wanted++], 65, "%s", id);
}

/* ------------------------------------------------------------- ingress */

/* The ingress item's Network with every other node's own address on it
 * (its `Nodes`) added to its Peers: the tasks route replies through
 * them. A new reference, or NULL. */
static json_t *ingress_network(const json_t *o)
{
	const json_t *net = json_object_get(o, "Network"), *nd;
	const char *self = jsonx_str(o, "Addr", "");
	json_t *copy, *peers;
	size_t i;

	if (!json_is_object(net) || !(copy = json_deep_copy(net)))
		return NULL;
	peers = json_object_get(copy, "Peers");
	if (!json_is_array(peers)) {
		if (peers && !json_is_null(peers))
			return copy; /* refused by the decoder */
		peers = json_array();
		json_object_set_new(copy, "Peers", peers);
	}
	json_array_foreach(json_object_get(o, "Nodes"), i, nd)
	{
		const char *a = jsonx_str(nd, "Addr", NULL);
		if (!a || !strcmp(a, self))
			continue;
		json_array_append_new(
			peers, json_pack("{s:s,s:s,s:s}", "Addr", a, "VTEP",
					 jsonx_str(nd, "VTEP", ""), "NodeID",
					 jsonx_str(nd, "NodeID", "")));
	}
	return copy;
}

static int port_num(const json_t *p, const char *key)
{
	const json_t *v = json_object_get(p, key);
	json_int_t x = json_is_integer(v) ? json_integer_value(v) : 0;
	return x >= 1 && x <= 65535 ? (int)x : -1;
}

/* The ingress item's Addr, Nodes and Ports checked against the ingress
 * network @it; the ports into @ports (backends into @b). */
int wnet_ingress_decode(const json_t *o, const struct wnet_item *it,
			struct wnet_ingress *in, struct shoal_err *err)
{
	const json_t *nodes = json_object_get(o, "Nodes");
	const json_t *ports = json_object_get(o, "Ports"), *x, *bk;
	const char *self = jsonx_str(o, "Addr", NULL);
	uint32_t net;
	int len;
	size_t i, j, nb = 0;

	memset(in, 0, sizeof(*in));
	if (subnet_of(it->subnet, &net, &len) < 0)
		return bad(err, "ingress: bad Subnet");
	if (self && (ip4(self, &in->self) < 0 || !inside(in->self, net, len)))
		return bad(err, "ingress: Addr must be an address of %s",
			   it->subnet);
	if ((nodes && !json_is_null(nodes) && !json_is_array(nodes)) ||
	    json_array_size(nodes) > NET_INGRESS_MAX_NODES)
		return bad(err, "ingress: Nodes must be a list of at most %d",
			   NET_INGRESS_MAX_NODES);
	if ((ports && !json_is_null(ports) && !json_is_array(ports)) ||
	    json_array_size(ports) > NET_INGRESS_MAX_PORTS)
		return bad(err, "ingress: Ports must be a list of at most %d",
			   NET_INGRESS_MAX_PORTS);
	if (json_array_size(nodes) &&
	    !(in->nodes =
		      shoal_calloc(json_array_size(nodes), sizeof(*in->nodes))))
		return -ENOMEM;
	json_array_foreach(nodes, i, x)
	{
		if (ip4(jsonx_str(x, "Addr", NULL), &in->nodes[i]) < 0 ||
		    !inside(in->nodes[i], net, len) ||
		    in->nodes[i] == (uint32_t)0) {
			wnet_ingress_fini(in);
			return bad(err,
				   "ingress: a node's Addr must be an "
				   "address of %s",
				   it->subnet);
		}
		in->n_nodes++;
	}
	json_array_foreach(ports, i, x) nb +=
		json_array_size(json_object_get(x, "Backends"));
	if (json_array_size(ports) &&
	    (!(in->ports = shoal_calloc(json_array_size(ports),
					sizeof(*in->ports))) ||
	     !(in->backends = shoal_calloc(nb + 1, sizeof(*in->backends))))) {
		wnet_ingress_fini(in);
		return -ENOMEM;
	}
	nb = 0;
	json_array_foreach(ports, i, x)
	{
		struct net_ingress_port *p = &in->ports[i];
		const char *proto = jsonx_str(x, "Protocol", "tcp");
		int pub = port_num(x, "PublishedPort");
		int tgt = port_num(x, "TargetPort");
		const json_t *bs = json_object_get(x, "Backends");
		if ((strcmp(proto, "tcp") && strcmp(proto, "udp")) || pub < 0 ||
		    tgt < 0 ||
		    (bs && !json_is_null(bs) && !json_is_array(bs)) ||
		    json_array_size(bs) > NET_VIP_MAX_BACKENDS) {
			wnet_ingress_fini(in);
			return bad(err,
				   "ingress: a port needs Protocol tcp or "
				   "udp, PublishedPort and TargetPort 1..65535 "
				   "and at most %d Backends",
				   NET_VIP_MAX_BACKENDS);
		}
		p->udp = !strcmp(proto, "udp");
		p->port = (uint16_t)pub;
		p->target = (uint16_t)tgt;
		p->backends = &in->backends[nb];
		json_array_foreach(bs, j, bk)
		{
			uint32_t a;
			if (ip4(jsonx_str(bk, "Addr", NULL), &a) < 0 ||
			    !inside(a, net, len)) {
				wnet_ingress_fini(in);
				return bad(err,
					   "ingress: port %d: a backend's "
					   "Addr must be an address of %s",
					   pub, it->subnet);
			}
			in->backends[nb++] = a;
			p->n++;
		}
		in->n_ports++;
	}
	return 0;
}

void wnet_ingress_fini(struct wnet_ingress *in)
{
	shoal_free(in->nodes);
	shoal_free(in->ports);
	shoal_free(in->backends);
	memset(in, 0, sizeof(*in));
}

/* The routing mesh of @o (the ingress network @it joined). */
static void ingress_serve(struct wnet *w, const json_t *o,
			  const struct wnet_item *it)
{
	struct shoal_err err = {""};
	struct wnet_ingress in;
	int rc = wnet_ingress_decode(o, it, &in, &err);

	if (rc < 0) {
		log_warn("ingress item refused: %s",
			 err.msg[0] ? err.msg : shoal_strerror(rc));
		return;
	}
	if (w->net) {
		rc = net_ingress_set(w->net, it->id, in.self, in.nodes,
				     in.n_nodes, in.ports, in.n_ports, &err);
		if (rc < 0)
			log_warn("the routing mesh is not served: %s",
				 err.msg[0] ? err.msg : shoal_strerror(rc));
		else
			w->ingress_seen = true;
	}
	wnet_ingress_fini(&in);
}

/* The ingress network's id in @items' ingress item, if any: its own
 * network item (a node with a task on it gets one) is left to the
 * ingress item, whose peers also hold the nodes' addresses. */
static void ingress_id(const struct agent_item *items, size_t n, char id[65])
{
	id[0] = '\0';
	for (size_t i = 0; i < n; i++) {
		json_t *o = NULL;
		char jerr[160];
		if (jsonx_parse_object((const char *)items[i].data,
				       items[i].len, &o, jerr,
				       sizeof(jerr)) < 0)
			continue;
		if (!strcmp(jsonx_str(o, "Kind", "task"), "ingress"))
			snprintf(id, 65, "%s",
				 jsonx_str(json_object_get(o, "Network"), "ID",
					   ""));
		json_decref(o);
		if (id[0])
			return;
	}
}

static void items_free(struct wnet *w)
{
	for (size_t i = 0; i < w->n_items; i++)
		wnet_item_fini(&w->items[i]);
	shoal_free(w->items);
	w->items = NULL;
	w->n_items = 0;
}

/* @it (taken) kept until the next set: a task may leave before then. */
static void keep(struct wnet *w, struct wnet_item *it)
{
	void *v = shoal_realloc(w->items, (w->n_items + 1) * sizeof(*it));
	if (!v) {
		wnet_item_fini(it);
		return;
	}
	w->items = v;
	w->items[w->n_items++] = *it;
}

static bool listed(const struct wnet *w, const char *id)
{
	for (size_t i = 0; i < w->n_items; i++)
		for (size_t j = 0; j < w->items[i].n_services; j++) {
			const struct wnet_service *sv =
				&w->items[i].services[j];
			for (size_t k = 0; k < sv->n_tasks; k++)
				if (!strcmp(task_id_of(sv->tasks[k].name), id))
					return true;
		}
	return false;
}

/* A task that left here stays out while the managers still list it (they
 * list it until they hear it ended); gone from every item, forgotten. */
static void prune_down(struct wnet *w)
{
	size_t k = 0;
	for (size_t i = 0; i < w->n_down; i++)
		if (listed(w, w->down[i]))
			memcpy(w->down[k++], w->down[i], sizeof(w->down[i]));
	w->n_down = k;
}

static void converge_freed(uv_handle_t *h)
{
	shoal_free(h->data);
}

static void converge_unlink(struct converge *c)
{
	if (!c->w)
		return;
	for (struct converge **p = &c->w->converging; *p; p = &(*p)->next)
		if (*p == c) {
			*p = c->next;
			break;
		}
	c->w = NULL;
}

static void converge_over(uv_timer_t *t)
{
	struct converge *c = t->data;
	converge_unlink(c);
	c->done(c->arg);
	uv_close((uv_handle_t *)&c->timer, converge_freed);
}

/* This node's maps are loaded without the task: now the wait. */
static void converge_start(void *arg)
{
	struct converge *c = arg;
	if (!c->w) { /* closed meanwhile: no wait */
		c->done(c->arg);
		uv_close((uv_handle_t *)&c->timer, converge_freed);
		return;
	}
	uv_timer_start(&c->timer, converge_over, WNET_CONVERGE_MS, 0);
}

/* The wait when the task was in a VIP's or a name's answers here (one
 * that was not, has nothing to wait for); NULL: none. */
static struct converge *converge_new(struct wnet *w, void (*done)(void *),
				     void *arg)
{
	struct converge *c;
	if (!w->loop || !(c = shoal_calloc(1, sizeof(*c))))
		return NULL;
	uv_timer_init(w->loop, &c->timer);
	c->timer.data = c;
	c->w = w;
	c->done = done;
	c->arg = arg;
	c->next = w->converging;
	w->converging = c;
	return c;
}

void wnet_task_leave(struct wnet *w, const char *task_id, void (*done)(void *),
		     void *arg)
{
	struct converge *c = NULL;
	if (strlen(task_id) <= WNET_TASK_ID_MAX && w->net) {
		bool known = false;
		for (size_t i = 0; i < w->n_down && !known; i++)
			known = !strcmp(w->down[i], task_id);
		if (!known && w->n_down == WNET_MAX_DOWN) {
			/* Bounded: the oldest goes (its managers' word is
			 * long in by now). */
			memmove(w->down[0], w->down[1],
				(w->n_down - 1) * sizeof(w->down[0]));
			w->n_down--;
		}
		void *v = known ? w->down
				: shoal_realloc(w->down,
						(w->n_down + 1) *
							sizeof(*w->down));
		if (v && !known) {
			w->down = v;
			snprintf(w->down[w->n_down++], WNET_TASK_ID_MAX + 1,
				 "%s", task_id);
		}
		for (size_t i = 0; v && !known && i < w->n_items; i++) {
			const struct wnet_item *it = &w->items[i];
			bool here = false;
			for (size_t j = 0; j < it->n_services && !here; j++)
				for (size_t k = 0;
				     k < it->services[j].n_tasks && !here; k++)
					here = !strcmp(
						task_id_of(it->services[j]
								   .tasks[k]
								   .name),
						task_id);
			if (!here)
				continue;
			log_info("task=%s leaves the VIPs of network=%s on "
				 "this node",
				 task_id, it->name);
			set_names(w, it);
			set_vips(w, it);
			if (!c)
				c = converge_new(w, done, arg);
		}
	}
	/* After the loads queued so far: this set's maps (a task desired
	 * past running is not Ready in them) and the ones above. */
	if (c) {
		if (net_when_loaded(w->net, converge_start, c) < 0)
			converge_start(c);
		return;
	}
	if (!w->net || net_when_loaded(w->net, done, arg) < 0)
		done(arg);
}

void wnet_assign(struct wnet *w, const struct agent_item *items, size_t n)
{
	char ing_id[65];
	items_free(w);
	w->n_wanted = 0;
	w->ingress_seen = false;
	ingress_id(items, n, ing_id);
	for (size_t i = 0; i < n; i++) {
		json_t *o = NULL;
		char jerr[160];
		struct shoal_err err = {""};
		struct wnet_item it;
		if (jsonx_parse_object((const char *)items[i].data,
				       items[i].len, &o, jerr,
				       sizeof(jerr)) < 0)
			continue; /* the executor logs it */
		const char *kind = jsonx_str(o, "Kind", "task");
		json_t *net = NULL;
		/* The ingress network comes inside the ingress item: joined
		 * as any overlay (its tasks are on it), with the other nodes'
		 * addresses as peers, then its ports served. */
		bool ingress = !strcmp(kind, "ingress");
		if (ingress) {
			net = ingress_network(o);
		} else if (!strcmp(kind, "network") &&
			   (!ing_id[0] ||
			    strcmp(jsonx_str(o, "ID", ""), ing_id))) {
			net = json_incref(o);
		} else {
			json_decref(o);
			continue;
		}
		int rc = net ? wnet_item_decode(net, &it, &err) : -EINVAL;
		json_decref(net);
		if (rc < 0) {
			log_warn("network item refused: %s",
				 err.msg[0] ? err.msg : shoal_strerror(rc));
			json_decref(o);
			continue;
		}
		want(w, it.id);
		join(w, &it);
		if (ingress)
			ingress_serve(w, o, &it);
		json_decref(o);
		keep(w, &it);
	}
	prune_down(w);
	/* No port published in ingress mode (or the item refused): the
	 * routing mesh's rules go. */
	if (!w->ingress_seen && w->net) {
		struct shoal_err err = {""};
		if (net_ingress_set(w->net, NULL, 0, NULL, 0, NULL, 0, &err) <
		    0)
			log_warn("the routing mesh's rules are not removed: %s",
				 err.msg);
	}
	converge_leaves(w);
}

void wnet_leave(struct wnet *w)
{
	struct shoal_err err = {""};
	w->n_wanted = 0;
	if (w->net &&
	    net_ingress_set(w->net, NULL, 0, NULL, 0, NULL, 0, &err) < 0)
		log_warn("the routing mesh's rules are not removed: %s",
			 err.msg);
	converge_leaves(w);
}

int wnet_open(const struct wnet_config *cfg, struct wnet **out)
{
	char ip[64];
	const char *colon = cfg->vtep ? strrchr(cfg->vtep, ':') : NULL;
	struct wnet *w;
	snprintf(ip, sizeof(ip), "%.*s", colon ? (int)(colon - cfg->vtep) : 63,
		 cfg->vtep ? cfg->vtep : "");
	if (!(w = shoal_calloc(1, sizeof(*w))))
		return -ENOMEM;
	if (ip4(ip, &w->vtep) < 0 || !unicast(w->vtep)) {
		shoal_free(w);
		return -EINVAL;
	}
	w->dump = shoal_calloc(WNET_MAX_PEERS + 1024, sizeof(*w->dump));
	if (!w->dump) {
		shoal_free(w);
		return -ENOMEM;
	}
	w->loop = cfg->loop;
	w->net = cfg->net;
	if (w->loop) {
		uv_timer_init(w->loop, &w->retry);
		w->retry.data = w;
		w->timer_open = true;
	}
	*out = w;
	return 0;
}

static void free_all(struct wnet *w)
{
	for (size_t i = 0; i < w->n_progs; i++)
		shoal_free(w->progs[i].peers);
	shoal_free(w->progs);
	shoal_free(w->wanted);
	shoal_free(w->dump);
	items_free(w);
	shoal_free(w->down);
	shoal_free(w);
}

static void closed(uv_handle_t *h)
{
	free_all(h->data);
}

void wnet_close(struct wnet *w)
{
	if (!w)
		return;
	/* Stops waiting to converge go on now; those whose maps are still
	 * loading go on when they are (converge_start). */
	while (w->converging) {
		struct converge *c = w->converging;
		w->converging = c->next;
		c->w = NULL;
		if (uv_is_active((uv_handle_t *)&c->timer)) {
			uv_timer_stop(&c->timer);
			c->done(c->arg);
			uv_close((uv_handle_t *)&c->timer, converge_freed);
		}
	}
	if (w->timer_open)
		uv_close((uv_handle_t *)&w->retry, closed);
	else
		free_all(w);
}
