/*
 * A container's endpoints: its network namespace, bound to
 * <exec-root>/netns/<id> so that it outlives shoald and every start of the
 * container joins the same one (the runtime's network "ns:<path>"), and
 * per network a veth pair: ethN inside, with the address, MAC and (on the
 * first network) the default route, made by one netlink batch sent from a
 * socket opened inside the namespace; the host end, created by the same
 * request straight into the daemon's namespace, is put on the bridge by a
 * second batch. Published ports belong to the first endpoint.
 *
 * All or nothing. A new container's endpoint is recorded when it is
 * bound to the container (net_ctr_bind()); connect records before it
 * changes the kernel and puts the record back when the kernel refuses. A
 * crash in between leaves a record (the endpoint is made again by
 * net_ctr_ensure() or released by net_reconcile()) or a namespace file no
 * record names (unbound by net_reconcile()); the veth pair dies with its
 * namespace.
 *
 * Entering a namespace: a short-lived thread makes or enters it and opens
 * the socket there; the socket stays bound to that namespace after the
 * thread is gone, and the loop's thread never changes namespace.
 */
#define LOG_MODULE "net"
#include "common/alloc.h"
#include "common/id.h"
#include "common/log.h"
#include "overlay-net/internal.h"
#include "overlay-net/resolver.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <libmnl/libmnl.h>
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <unistd.h>

#define NSFS_MAGIC_NUM 0x6e736673

int net__netns_path(struct net *n, const char *id, char *out, size_t cap)
{
	int len = snprintf(out, cap, "%s/%s", n->ns_dir, id);

	return len < 0 || (size_t)len >= cap ? -ENAMETOOLONG : 0;
}

static bool ns_bound(const char *path)
{
	struct statfs sf;

	return statfs(path, &sf) == 0 && (unsigned)sf.f_type == NSFS_MAGIC_NUM;
}

struct ns_job {
	const char *path;
	bool make;
	struct mnl_socket *nl;
	int rc;
};

/* On a thread of its own, which dies in the container's namespace: the
 * loop's thread never changes namespace. */
static void *ns_thread(void *arg)
{
	struct ns_job *j = arg;
	int fd;

	if (j->make) {
		if (unshare(CLONE_NEWNET) < 0 ||
		    mount("/proc/thread-self/ns/net", j->path, "none", MS_BIND,
			  NULL) < 0) {
			j->rc = -errno;
			return NULL;
		}
	} else {
		fd = open(j->path, O_RDONLY | O_CLOEXEC);
		if (fd < 0 || setns(fd, CLONE_NEWNET) < 0) {
			j->rc = -errno;
			if (fd >= 0)
				close(fd);
			return NULL;
		}
		close(fd);
	}
	j->rc = net__nl_open(&j->nl);
	return NULL;
}

/* A socket inside the namespace at @path (made and bound there when
 * @make). */
static int ns_socket(const char *path, bool make, struct mnl_socket **out)
{
	struct ns_job j = {.path = path, .make = make};
	pthread_t t;
	int rc;

	if (make) {
		int f = open(path, O_RDONLY | O_CREAT | O_CLOEXEC, 0444);
		if (f < 0)
			return -errno;
		close(f);
	}
	rc = -pthread_create(&t, NULL, ns_thread, &j);
	if (rc == 0) {
		pthread_join(t, NULL);
		rc = j.rc;
	}
	if (rc < 0 && make) {
		umount2(path, MNT_DETACH);
		unlink(path);
	}
	if (rc == 0)
		*out = j.nl;
	return rc;
}

static void ns_unbind(const char *path)
{
	umount2(path, MNT_DETACH);
	unlink(path);
}

/* --- endpoints in memory -------------------------------------------------- */

static struct net__ep *find_ep(struct net__net *w, const char *id)
{
	for (size_t i = 0; i < w->n_eps; i++)
		if (!strcmp(w->eps[i].ctr, id))
			return &w->eps[i];
	return NULL;
}

static bool ip_taken(uint32_t ip, void *arg)
{
	struct net__net *w = arg;

	if (ip == w->gateway)
		return true;
	for (size_t i = 0; i < w->n_eps; i++)
		if (w->eps[i].ip == ip)
			return true;
	return false;
}

/* How many networks @id is on, and the eth number to use next. */
static int ctr_ifs(struct net *n, const char *id, int *next, char sandbox[65])
{
	int count = 0, max = -1;

	if (sandbox)
		sandbox[0] = '\0';

	for (size_t i = 0; i < n->n_nets; i++) {
		struct net__ep *ep = find_ep(n->nets[i], id);
		if (ep) {
			int k = atoi(ep->ifname + 3);
			count++;
			if (sandbox)
				memcpy(sandbox, ep->sandbox, 65);
			if (k > max)
				max = k;
		}
	}
	*next = max + 1;
	return count;
}

static int copy_aliases(struct net__ep *ep, const char *const *al)
{
	size_t k = 0;

	while (al && al[k])
		k++;
	ep->aliases = shoal_calloc(k + 1, sizeof(char *));
	if (!ep->aliases)
		return -ENOMEM;
	for (size_t i = 0; i < k; i++)
		if (!(ep->aliases[i] = shoal_strdup(al[i])))
			return -ENOMEM;
	return 0;
}

/* A new endpoint of @id on @w in memory (not yet in the kernel). */
static int ep_new(struct net *n, struct net__net *w, const char *id,
		  const char *sandbox, const char *name,
		  const struct net_ep_req *req, int ifnum,
		  struct shoal_err *err)
{
	struct net__ep ep = {0};
	uint8_t mac[6];
	struct net__ep *v;
	int rc;

	(void)n;
	snprintf(ep.ctr, sizeof(ep.ctr), "%s", id);
	snprintf(ep.sandbox, sizeof(ep.sandbox), "%s", sandbox);
	snprintf(ep.name, sizeof(ep.name), "%s", name ? name : "");
	snprintf(ep.ifname, sizeof(ep.ifname), "eth%d", ifnum);
	snprintf(ep.veth, sizeof(ep.veth), "vs%.8s%.4s%d", sandbox, w->id,
		 ifnum);
	id_hex(ep.ep_id);
	if (req && req->ip && *req->ip) {
		if (w->predefined) {
			net__err(err, "user specified IP address is supported "
				      "on user defined networks only");
			return -EINVAL;
		}
		if (net__parse_ip(req->ip, &ep.ip) < 0) {
			net__err(err, "invalid IPv4 address: %s", req->ip);
			return -EINVAL;
		}
		if (!net__contains(&w->subnet, ep.ip) ||
		    ep.ip == w->subnet.addr ||
		    ep.ip == (w->subnet.addr | ~net__mask(w->subnet.len))) {
			net__err(err,
				 "no configured subnet or ip-range "
				 "contain the IP address %s",
				 req->ip);
			return -EINVAL;
		}
		if (ip_taken(ep.ip, w)) {
			net__err(err, "Address already in use");
			return SHOAL_ECONFLICT;
		}
	} else if (w->vni) {
		/* The managers allocate overlay addresses, cluster-wide. */
		net__err(err,
			 "network %s is an overlay: its address comes "
			 "from the swarm's allocator",
			 w->name);
		return -EINVAL;
	} else if (net__ip_next(&w->subnet, &w->range, w->last_ip, ip_taken, w,
				&ep.ip) < 0) {
		net__err(err,
			 "no available IPv4 addresses on this network's "
			 "address pools: %s (%s)",
			 w->name, w->id);
		return -EPERM;
	}
	if (req && req->mac && *req->mac) {
		if (net__parse_mac(req->mac, mac) < 0) {
			net__err(err, "invalid MAC address: %s", req->mac);
			return -EINVAL;
		}
		snprintf(ep.mac, sizeof(ep.mac), "%s", req->mac);
	} else {
		net__mac_of(ep.ip, ep.mac);
	}
	if (req && req->aliases && !w->predefined)
		rc = copy_aliases(&ep, req->aliases);
	else
		rc = copy_aliases(&ep, NULL);
	if (rc < 0) {
		net__ep_fini(&ep);
		return rc;
	}
	v = shoal_realloc(w->eps, (w->n_eps + 1) * sizeof(*v));
	if (!v) {
		net__ep_fini(&ep);
		return -ENOMEM;
	}
	w->eps = v;
	w->eps[w->n_eps++] = ep;
	if (!req || !req->ip || !*req->ip)
		w->last_ip = ep.ip;
	return 0;
}

static void ep_drop(struct net__net *w, const char *id)
{
	struct net__ep *ep = find_ep(w, id);
	size_t i;

	if (!ep)
		return;
	i = (size_t)(ep - w->eps);
	net__ep_fini(ep);
	memmove(&w->eps[i], &w->eps[i + 1], (w->n_eps - i - 1) * sizeof(*ep));
	w->n_eps--;
}

/* --- endpoints in the kernel ---------------------------------------------- */

/* Make @ep of @w inside the namespace reached by @cnl; @first: bring lo
 * up and route through this network. */
static int ep_plumb(struct net *n, struct mnl_socket *cnl, struct net__net *w,
		    struct net__ep *ep, bool first, struct shoal_err *err)
{
	struct net__batch *b;
	uint8_t mac[6];
	int host = -1, br, idx, rc = 0;
	size_t failed = 0;

	if (!n->kernel)
		return 0;
	br = net__nl_index(w->bridge);
	if (br < 0) {
		net__err(err, "bridge %s of network %s is missing", w->bridge,
			 w->name);
		return -ENODEV;
	}
	host = open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);
	if (host < 0)
		return -errno;
	net__parse_mac(ep->mac, mac);
	/* An index of our choosing, so that the address and route in the
	 * same batch can name it; another is tried when it is taken. */
	for (int tries = 0; tries < 4; tries++) {
		idx = 10 + atoi(ep->ifname + 3) + tries * 1000;
		if ((rc = net__batch_new(&b)) < 0)
			break;
		if (first)
			rc = net__nl_link_up(b, 1, NULL);
		if (rc == 0)
			rc = net__nl_veth_add(b, ep->ifname, idx, mac, ep->veth,
					      host, w->vni ? w->mtu : 0);
		if (rc == 0)
			rc = net__nl_addr_add(b, idx, ep->ip, w->subnet.len);
		if (rc == 0 && first && !w->internal)
			rc = net__nl_route_default(b, w->gateway);
		if (rc == 0)
			rc = net__nl_send(cnl, b, &failed);
		net__batch_free(b);
		if (rc != -EBUSY)
			break;
	}
	close(host);
	if (rc == 0 && (rc = net__batch_new(&b)) == 0) {
		int vi = net__nl_index(ep->veth);
		rc = vi < 0 ? vi : net__nl_master(b, ep->veth, br);
		if (rc == 0)
			rc = net__nl_link_up(b, vi, NULL);
		if (rc == 0)
			rc = net__nl_hairpin(b, vi);
		if (rc == 0)
			rc = net__nl_send(n->nl, b, &failed);
		net__batch_free(b);
	}
	if (rc < 0) {
		struct net__batch *d;
		net__err(err,
			 "cannot attach %s to network %s: %s (request %zu)",
			 ep->ifname, w->name, strerror(-rc), failed);
		if (net__batch_new(&d) == 0) {
			net__nl_link_del(d, ep->veth);
			net__nl_send(n->nl, d, NULL);
			net__batch_free(d);
		}
	}
	return rc;
}

static void ep_unplumb(struct net *n, const struct net__ep *ep)
{
	struct net__batch *b;

	if (!n->kernel || net__nl_index(ep->veth) < 0 || net__batch_new(&b) < 0)
		return;
	net__nl_link_del(b, ep->veth);
	net__nl_send(n->nl, b, NULL);
	net__batch_free(b);
}

/*
 * Deleting a veth waits for the kernel's RCU grace period (~30 ms here):
 * when the container is gone, that wait runs on a detached thread of its
 * own, so the loop goes on at once. The veth would die with its namespace
 * anyway; deleting it keeps its address off the bridge even while a
 * container that joined the namespace (container:) still holds it.
 */
static void *veth_del_thread(void *arg)
{
	struct mnl_socket *nl;
	struct net__batch *b;

	if (net__nl_open(&nl) == 0) {
		if (net__batch_new(&b) == 0) {
			if (net__nl_link_del(b, arg) == 0)
				net__nl_send(nl, b, NULL);
			net__batch_free(b);
		}
		mnl_socket_close(nl);
	}
	shoal_free(arg);
	return NULL;
}

static void ep_unplumb_later(struct net *n, const struct net__ep *ep)
{
	pthread_attr_t a;
	pthread_t t;
	char *name;
	int rc = -1;

	if (!n->kernel || net__nl_index(ep->veth) < 0)
		return;
	name = shoal_strdup(ep->veth);
	if (name && pthread_attr_init(&a) == 0) {
		pthread_attr_setdetachstate(&a, PTHREAD_CREATE_DETACHED);
		rc = pthread_create(&t, &a, veth_del_thread, name);
		pthread_attr_destroy(&a);
	}
	if (rc != 0) {
		shoal_free(name);
		ep_unplumb(n, ep);
	}
}

/* --- create, ensure, remove ----------------------------------------------- */

static const struct net_ep_req *req_for(const struct net_ctr_spec *s,
					const struct net__net *w)
{
	for (size_t i = 0; i < s->n_eps; i++)
		if (net__find_is(w, s->eps[i].network))
			return &s->eps[i];
	return NULL;
}

static int ctr_mode(struct net *n, const struct net_ctr_spec *s,
		    struct net_ctr_result *out, struct net__net **w,
		    struct shoal_err *err)
{
	const char *m = s->mode && *s->mode ? s->mode : "bridge";

	if (!strcmp(m, "default"))
		m = "bridge";
	if (!strncmp(m, "container:", 10)) {
		if (s->n_ports) {
			net__err(err, "conflicting options: port publishing "
				      "and the container type network mode");
			return -EINVAL;
		}
		snprintf(out->network, sizeof(out->network), "ns:%s", m + 10);
		return 1;
	}
	*w = net__find(n, m);
	if (!*w) {
		net__err(err, "network %s not found", m);
		return SHOAL_ENOTFOUND;
	}
	if ((*w)->kind == NET_KIND_HOST) {
		if (s->n_ports) {
			net__err(err, "published ports are not applied with "
				      "the host network (the container uses "
				      "the host's ports): drop -p/-P");
			return -EINVAL;
		}
		snprintf(out->network, sizeof(out->network), "host");
		return 1;
	}
	if ((*w)->kind == NET_KIND_NULL) {
		if (s->n_ports) {
			net__err(err, "published ports need a network: "
				      "none has no interface to publish on");
			return -EINVAL;
		}
		return 1;
	}
	if ((*w)->internal && s->n_ports) {
		net__err(err,
			 "ports cannot be published on internal "
			 "network %s",
			 (*w)->name);
		return -EINVAL;
	}
	return 0;
}

int net_ctr_create(struct net *n, const struct net_ctr_spec *s,
		   struct net_ctr_result *out, struct shoal_err *err)
{
	struct net__net *w = NULL;
	struct mnl_socket *cnl = NULL;
	struct net__ep *ep;
	char path[PATH_MAX], ip[16], sb[65];
	int rc;

	memset(out, 0, sizeof(*out));
	id_hex(sb);
	rc = ctr_mode(n, s, out, &w, err);
	if (rc != 0)
		return rc < 0 ? rc : 0;
	for (size_t i = 0; i < s->n_eps; i++)
		if (!net__find_is(w, s->eps[i].network)) {
			net__err(err,
				 "endpoint settings for network %s, "
				 "which the container is not on (%s); "
				 "connect it after create",
				 s->eps[i].network, w->name);
			return -EINVAL;
		}
	if ((rc = net__kernel(n, err)) < 0)
		return rc;
	rc = ep_new(n, w, sb, sb, s->name, req_for(s, w), 0, err);
	if (rc < 0)
		return rc;
	ep = find_ep(w, sb);
	if (!w->predefined && n->resolver &&
	    ((rc = net_resolver_check_servers(s->dns, NULL, NULL, err)) < 0 ||
	     (rc = net__strv_dup(s->dns, &ep->dns)) < 0 ||
	     (rc = net__strv_dup(s->dns_search, &ep->dns_search)) < 0))
		goto err_ep;
	if (s->n_ports) {
		rc = net__ports_alloc(n, s->ports, s->n_ports, &ep->ports, err);
		if (rc < 0)
			goto err_ep;
		ep->n_ports = s->n_ports;
	}
	/* Recorded by net_ctr_bind(), once it belongs to a container: one
	 * fsync per attach. A crash before leaves a bound namespace that no
	 * record names, which net_reconcile() unbinds. */
	if ((rc = net__netns_path(n, sb, path, sizeof(path))) < 0) {
		net__err(err, "namespace path too long under %s", n->ns_dir);
		goto err_ep;
	}
	if (!n->dry_run && (rc = ns_socket(path, true, &cnl)) < 0) {
		net__err(err, "cannot make a network namespace at %s: %s", path,
			 strerror(-rc));
		goto err_saved;
	}
	rc = ep_plumb(n, cnl, w, ep, true, err);
	if (cnl)
		mnl_socket_close(cnl);
	if (rc == 0 && s->n_ports && (rc = net__nft_apply(n)) < 0)
		net__err(err, "cannot program the published ports");
	if (rc < 0)
		goto err_ns;
	snprintf(out->network, sizeof(out->network), "ns:%s", path);
	memcpy(out->sandbox, sb, sizeof(sb));
	if (n->resolver && !w->predefined)
		snprintf(out->dns, sizeof(out->dns), "127.0.0.11");
	net__ip_str(ep->ip, ip);
	log_debug("sandbox=%.12s on network=%s address=%s", sb, w->name, ip);
	snprintf(out->host_line, sizeof(out->host_line), "%s:%s",
		 s->hostname && *s->hostname ? s->hostname : "", ip);
	return 0;
err_ns:
	if (!n->dry_run)
		ns_unbind(path);
err_saved:
	ep_drop(w, sb);
	if (s->n_ports)
		net__nft_apply(n);
	return rc;
err_ep:
	ep_drop(w, sb);
	return rc;
}

int net_ctr_bind(struct net *n, const char *sandbox, const char *id)
{
	int rc = 0;

	for (size_t i = 0; i < n->n_nets; i++) {
		struct net__net *w = n->nets[i];
		bool changed = false;
		for (size_t j = 0; j < w->n_eps; j++)
			if (!strcmp(w->eps[j].sandbox, sandbox)) {
				snprintf(w->eps[j].ctr, sizeof(w->eps[j].ctr),
					 "%s", id);
				changed = true;
			}
		if (changed && (rc = net__save(n, w)) < 0)
			return rc;
		if (changed && w->vni)
			net__vips_apply(n, w, sandbox);
	}
	net__names_attach(n, id, sandbox);
	return 0;
}

void net_ctr_abandon(struct net *n, const char *sandbox)
{
	net_ctr_remove(n, sandbox);
}

int net_ctr_ensure(struct net *n, const char *id, struct shoal_err *err)
{
	struct mnl_socket *cnl = NULL;
	char path[PATH_MAX], sb[65];
	int count, next, rc;

	count = ctr_ifs(n, id, &next, sb);
	if (!count || n->dry_run)
		return 0;
	if ((rc = net__kernel(n, err)) < 0)
		return rc;
	if ((rc = net__netns_path(n, sb, path, sizeof(path))) < 0)
		return rc;
	if (ns_bound(path))
		return 0;
	unlink(path);
	rc = ns_socket(path, true, &cnl);
	if (rc < 0) {
		net__err(err, "cannot make a network namespace at %s: %s", path,
			 strerror(-rc));
		return rc;
	}
	for (int k = 0; rc == 0 && k < next; k++)
		for (size_t i = 0; rc == 0 && i < n->n_nets; i++) {
			struct net__ep *ep = find_ep(n->nets[i], id);
			if (ep && atoi(ep->ifname + 3) == k) {
				ep_unplumb(n, ep);
				rc = ep_plumb(n, cnl, n->nets[i], ep, k == 0,
					      err);
			}
		}
	mnl_socket_close(cnl);
	if (rc < 0) {
		ns_unbind(path);
		return rc;
	}
	log_info("container=%.12s: network namespace made again", id);
	for (size_t i = 0; i < n->n_nets; i++)
		if (n->nets[i]->vni && find_ep(n->nets[i], id))
			net__vips_apply(n, n->nets[i], sb);
	net__names_attach(n, id, sb);
	return 0;
}

void net_ctr_remove(struct net *n, const char *id)
{
	char path[PATH_MAX], sb[65];
	bool ports = false;
	int next;

	if (!ctr_ifs(n, id, &next, sb))
		return;
	if (n->resolver)
		net_resolver_detach(n->resolver, id);

	for (size_t i = 0; i < n->n_nets; i++) {
		struct net__net *w = n->nets[i];
		struct net__ep *ep = find_ep(w, id);
		if (!ep)
			continue;
		ports = ports || ep->n_ports;
		ep_unplumb_later(n, ep);
		ep_drop(w, id);
		if (net__save(n, w) < 0)
			log_warn("network=%s: cannot record the removal of "
				 "container=%.12s",
				 w->name, id);
	}
	if (ports)
		net__nft_apply(n);
	if (!n->dry_run && net__netns_path(n, sb, path, sizeof(path)) == 0 &&
	    access(path, F_OK) == 0)
		ns_unbind(path);
	log_debug("sandbox=%.12s of container=%.12s released", sb, id);
}

/* --- connect and disconnect ----------------------------------------------- */

int net_connect(struct net *n, const char *id, const char *name,
		const struct net_ep_req *req, struct shoal_err *err)
{
	struct net__net *w = net__find(n, req->network);
	struct mnl_socket *cnl = NULL;
	char path[PATH_MAX], sb[65];
	int count, next, rc;
	bool had_names;

	if (!w) {
		net__err(err, "network %s not found", req->network);
		return SHOAL_ENOTFOUND;
	}
	count = ctr_ifs(n, id, &next, sb);
	if (find_ep(w, id)) {
		net__err(err,
			 "endpoint with name %s already exists in network "
			 "%s",
			 name, w->name);
		return -EPERM;
	}
	if (w->kind != NET_KIND_BRIDGE || !count) {
		net__err(err,
			 "container cannot be connected to network %s: "
			 "only containers on bridge networks connect to "
			 "more bridge networks",
			 w->name);
		return -EPERM;
	}
	if ((rc = net__netns_path(n, sb, path, sizeof(path))) < 0 ||
	    (rc = net__kernel(n, err)) < 0)
		return rc;
	had_names = net__has_names(n, id);
	rc = ep_new(n, w, id, sb, name, req, next, err);
	if (rc < 0)
		return rc;
	/* Its --dns and --dns-search go with every endpoint, so that they
	 * outlive a disconnect from the network it was created on. */
	for (size_t i = 0; i < n->n_nets && !w->predefined; i++) {
		const struct net__ep *o = find_ep(n->nets[i], id);
		struct net__ep *ep = find_ep(w, id);
		if (n->nets[i] == w || !o || (!o->dns && !o->dns_search))
			continue;
		if ((rc = net__strv_dup((const char *const *)o->dns,
					&ep->dns)) < 0 ||
		    (rc = net__strv_dup((const char *const *)o->dns_search,
					&ep->dns_search)) < 0)
			goto err_ep;
		break;
	}
	if ((rc = net__save(n, w)) < 0) {
		net__err(err, "cannot record the endpoint: %s",
			 shoal_strerror(rc));
		goto err_ep;
	}
	if (!n->dry_run && ns_bound(path)) {
		rc = ns_socket(path, false, &cnl);
		if (rc == 0)
			rc = ep_plumb(n, cnl, w, find_ep(w, id), false, err);
		else
			net__err(err,
				 "cannot enter the container's network "
				 "namespace: %s",
				 strerror(-rc));
		if (cnl)
			mnl_socket_close(cnl);
		if (rc < 0)
			goto err_ep;
	}
	if (!had_names && !n->dry_run && ns_bound(path))
		net__names_attach(n, id, sb);
	log_info("container=%.12s connected to network=%s", id, w->name);
	return 0;
err_ep:
	ep_drop(w, id);
	net__save(n, w);
	return rc;
}

int net_disconnect(struct net *n, const char *id, const char *ref,
		   struct shoal_err *err)
{
	struct net__net *w = net__find(n, ref);
	struct net__ep *ep;
	bool ports;
	int count, next;

	if (!w) {
		net__err(err, "network %s not found", ref);
		return SHOAL_ENOTFOUND;
	}
	ep = find_ep(w, id);
	if (!ep) {
		net__err(err, "container %.12s is not connected to network %s",
			 id, w->name);
		return -EPERM;
	}
	count = ctr_ifs(n, id, &next, NULL);
	if (count == 1) {
		net__err(err,
			 "container %.12s would be left without a "
			 "network: connect it to another first",
			 id);
		return -EPERM;
	}
	ports = ep->n_ports;
	ep_unplumb(n, ep);
	ep_drop(w, id);
	net__save(n, w);
	net__names_detach(n, id);
	if (ports)
		net__nft_apply(n);
	log_info("container=%.12s disconnected from network=%s", id, w->name);
	return 0;
}

/* --- start-up ------------------------------------------------------------- */

static bool sandbox_used(struct net *n, const char *sb)
{
	for (size_t i = 0; i < n->n_nets; i++)
		for (size_t j = 0; j < n->nets[i]->n_eps; j++)
			if (!strcmp(n->nets[i]->eps[j].sandbox, sb))
				return true;
	return false;
}

static bool in(const char *const *ids, const char *id)
{
	for (size_t i = 0; ids && ids[i]; i++)
		if (!strcmp(ids[i], id))
			return true;
	return false;
}

/* After a restart of shoald the resolver's sockets are gone: every
 * container on a user network whose namespace is bound gets them again
 * (once, at its first user-network endpoint). */
static void reattach_names(struct net *n)
{
	char path[PATH_MAX];

	for (size_t i = 0; n->resolver && i < n->n_nets; i++) {
		struct net__net *w = n->nets[i];
		if (w->predefined)
			continue;
		for (size_t j = 0; j < w->n_eps; j++) {
			const struct net__ep *ep = &w->eps[j];
			bool earlier = false;
			for (size_t k = 0; k < i && !earlier; k++)
				earlier = !n->nets[k]->predefined &&
					  find_ep(n->nets[k], ep->ctr);
			if (earlier ||
			    net__netns_path(n, ep->sandbox, path,
					    sizeof(path)) < 0 ||
			    !ns_bound(path))
				continue;
			net__names_attach(n, ep->ctr, ep->sandbox);
		}
	}
}

int net_reconcile(struct net *n, const char *const *ids)
{
	DIR *d;
	struct dirent *de;
	bool any = false;

	for (size_t i = 0; i < n->n_nets; i++) {
		struct net__net *w = n->nets[i];
		bool changed = false;
		for (size_t j = 0; j < w->n_eps;) {
			if (in(ids, w->eps[j].ctr)) {
				j++;
				continue;
			}
			log_info("network=%s: releasing the endpoint of "
				 "container=%.12s, which is gone",
				 w->name, w->eps[j].ctr);
			ep_unplumb(n, &w->eps[j]);
			ep_drop(w, w->eps[j].ctr);
			changed = true;
		}
		if (changed)
			net__save(n, w);
	}
	for (size_t i = 0; i < n->n_nets; i++)
		any = any || n->nets[i]->n_eps || !n->nets[i]->predefined;
	if (any && net__kernel(n, NULL) < 0)
		log_warn("cannot set up networking: containers keep what the "
			 "kernel holds");
	d = n->dry_run ? NULL : opendir(n->ns_dir);
	while (d && (de = readdir(d))) {
		char path[PATH_MAX];
		if (de->d_name[0] == '.' || sandbox_used(n, de->d_name))
			continue;
		if (net__netns_path(n, de->d_name, path, sizeof(path)) == 0)
			ns_unbind(path);
	}
	if (d)
		closedir(d);
	reattach_names(n);
	return net__nft_apply(n);
}

/* --- inspect -------------------------------------------------------------- */

static json_t *ports_json(const struct net__ep *ep)
{
	json_t *o = json_object();
	char key[16], hp[8];

	for (size_t i = 0; o && ep && i < ep->n_ports; i++) {
		const struct net__port *p = &ep->ports[i];
		json_t *a;
		snprintf(key, sizeof(key), "%u/%s", p->p.ctr_port, p->p.proto);
		snprintf(hp, sizeof(hp), "%u", p->host);
		a = json_object_get(o, key);
		if (!a) {
			a = json_array();
			json_object_set_new(o, key, a);
		}
		json_array_append_new(
			a, json_pack("{s:s, s:s}", "HostIp",
				     p->p.host_ip[0] ? p->p.host_ip : "0.0.0.0",
				     "HostPort", hp));
	}
	return o;
}

static json_t *ep_settings(const struct net__net *w, const struct net__ep *ep)
{
	json_t *al = json_array();
	char ip[16] = "", gw[16] = "";

	if (ep) {
		net__ip_str(ep->ip, ip);
		net__ip_str(w->gateway, gw);
		for (size_t i = 0; al && ep->aliases && ep->aliases[i]; i++)
			json_array_append_new(al, json_string(ep->aliases[i]));
	}
	return json_pack("{s:n, s:n, s:o*, s:s, s:s, s:s, s:s, s:s, s:i,"
			 " s:s, s:s, s:i, s:n, s:n}",
			 "IPAMConfig", "Links", "Aliases",
			 ep && json_array_size(al) ? al
						   : (json_decref(al), NULL),
			 "MacAddress", ep ? ep->mac : "", "NetworkID", w->id,
			 "EndpointID", ep ? ep->ep_id : "", "Gateway", gw,
			 "IPAddress", ip, "IPPrefixLen", ep ? w->subnet.len : 0,
			 "IPv6Gateway", "", "GlobalIPv6Address", "",
			 "GlobalIPv6PrefixLen", 0, "DriverOpts", "DNSNames");
}

json_t *net_ctr_settings(struct net *n, const char *id, const char *mode)
{
	json_t *nets = json_object(), *ports = NULL, *s;
	const struct net__ep *first = NULL;
	const struct net__net *fw = NULL;
	char path[PATH_MAX] = "", ip[16] = "", gw[16] = "";
	const char *m = mode && *mode ? mode : "bridge";

	for (size_t i = 0; nets && i < n->n_nets; i++) {
		struct net__net *w = n->nets[i];
		struct net__ep *ep = find_ep(w, id);
		if (!ep && !(w->kind != NET_KIND_BRIDGE && !strcmp(w->name, m)))
			continue;
		json_object_set_new(nets, w->name, ep_settings(w, ep));
		if (ep && (!first || strcmp(ep->ifname, first->ifname) < 0)) {
			first = ep;
			fw = w;
		}
	}
	if (first) {
		net__netns_path(n, first->sandbox, path, sizeof(path));
		ports = ports_json(first);
	}
	s = json_pack("{s:s, s:s, s:s, s:o*, s:b, s:s, s:i, s:n, s:n}",
		      "Bridge", "", "SandboxID", first ? id : "", "SandboxKey",
		      path, "Ports", ports ? ports : json_object(),
		      "HairpinMode", 0, "LinkLocalIPv6Address", "",
		      "LinkLocalIPv6PrefixLen", 0, "SecondaryIPAddresses",
		      "SecondaryIPv6Addresses");
	/* The top-level address fields describe the default bridge only. */
	if (first && fw->predefined) {
		net__ip_str(first->ip, ip);
		net__ip_str(fw->gateway, gw);
	}
	json_object_set_new(
		s, "EndpointID",
		json_string(first && fw->predefined ? first->ep_id : ""));
	json_object_set_new(s, "Gateway", json_string(gw));
	json_object_set_new(s, "IPAddress", json_string(ip));
	json_object_set_new(
		s, "IPPrefixLen",
		json_integer(first && fw->predefined ? fw->subnet.len : 0));
	json_object_set_new(
		s, "MacAddress",
		json_string(first && fw->predefined ? first->mac : ""));
	json_object_set_new(s, "GlobalIPv6Address", json_string(""));
	json_object_set_new(s, "GlobalIPv6PrefixLen", json_integer(0));
	json_object_set_new(s, "IPv6Gateway", json_string(""));
	json_object_set_new(s, "Networks", nets);
	return s;
}
