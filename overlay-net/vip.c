/*
 * Service VIPs on an overlay, balanced inside each task's own network
 * namespace (docs/overlay.md, step 4): the client picks the backend, so
 * the backend sees the client's own address and no host holds a
 * balancer. IPVS is not on this kernel; nftables does it:
 *
 *   table inet shoal-vip {
 *     chain output { type nat hook output priority -100;
 *       ip daddr VIP dnat ip to numgen random mod N map { 0 : A, ... } }
 *     chain filter { type filter hook output priority 0;
 *       ip daddr VIP' reject }     (a VIP with no Ready task)
 *   }
 *
 * rebuilt whole in one transaction (`table` + `delete table` + the new
 * table, as `table inet shoal`), so a connection never sees half a map.
 * Conntrack keeps each connection on the task it was given: a task that
 * leaves the map keeps its established connections until they end, new
 * ones go to the others.
 *
 * The VIPs of an overlay are kept in memory (each set brings them) and
 * applied to every namespace with an endpoint on it: when they change,
 * and when a container's endpoint is bound (net_ctr_bind()) or made
 * again (net_ctr_ensure()). The loads run on the node's loader thread
 * (nsload.c: the loop's thread never changes namespace), a fresh
 * nftables context in each namespace.
 */
#define LOG_MODULE "net"
#include "common/alloc.h"
#include "common/buf.h"
#include "common/log.h"
#include "overlay-net/internal.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

void net__vips_free(struct net__net *w)
{
	for (size_t i = 0; i < w->n_vips; i++)
		shoal_free(w->vips[i].backends);
	shoal_free(w->vips);
	w->vips = NULL;
	w->n_vips = 0;
}

int net__vip_ruleset(const struct net__net *w, struct buf *b)
{
	char ip[16];
	bool empty = false;

	buf_printf(b, "table inet shoal-vip {}\n"
		      "delete table inet shoal-vip\n");
	if (!w->n_vips)
		return b->data ? 0 : -ENOMEM;
	buf_printf(b, "table inet shoal-vip {\n"
		      "\tchain output {\n"
		      "\t\ttype nat hook output priority -100; "
		      "policy accept;\n");
	for (size_t i = 0; i < w->n_vips; i++) {
		const struct net__vip *v = &w->vips[i];
		if (!v->n) {
			empty = true;
			continue;
		}
		net__ip_str(v->vip, ip);
		buf_printf(b,
			   "\t\tip daddr %s dnat ip to numgen random mod %zu "
			   "map { ",
			   ip, v->n);
		for (size_t j = 0; j < v->n; j++) {
			net__ip_str(v->backends[j], ip);
			buf_printf(b, "%s%zu : %s", j ? ", " : "", j, ip);
		}
		buf_printf(b, " }\n");
	}
	buf_printf(b, "\t}\n");
	if (empty) {
		/* No Ready task: refused at once rather than left to time
		 * out on an address nobody holds. */
		buf_printf(b, "\tchain filter {\n"
			      "\t\ttype filter hook output priority 0; "
			      "policy accept;\n");
		for (size_t i = 0; i < w->n_vips; i++)
			if (!w->vips[i].n) {
				net__ip_str(w->vips[i].vip, ip);
				buf_printf(b, "\t\tip daddr %s reject\n", ip);
			}
		buf_printf(b, "\t}\n");
	}
	buf_printf(b, "}\n");
	return b->data ? 0 : -ENOMEM;
}

struct vip_job {
	const char *path; /* NULL: the caller's namespace */
	const char *text;
	const struct net__net *w; /* with ifname: the ingress routes */
	const char *ifname;
	char err[256];
	int rc;
};

static void *vip_thread(void *arg)
{
	struct vip_job *j = arg;
	int fd = j->path ? open(j->path, O_RDONLY | O_CLOEXEC) : -1;

	if (j->path && (fd < 0 || setns(fd, CLONE_NEWNET) < 0)) {
		j->rc = -errno;
		if (fd >= 0)
			close(fd);
		return NULL;
	}
	if (fd >= 0)
		close(fd);
	j->rc = net__nft_run_once(j->text, j->err, sizeof(j->err));
	if (j->rc == -ENOMEM)
		return NULL;
	if (j->rc == 0 && j->w && j->ifname && j->w->n_inodes)
		j->rc = net__ingress_ns_routes(j->w, j->ifname, j->err,
					       sizeof(j->err));
	return NULL;
}

int net__nft_text_in(const char *path, const char *text,
		     const struct net__net *w, const char *ifname, char *err,
		     size_t errlen)
{
	struct vip_job j = {
		.path = path, .text = text, .w = w, .ifname = ifname};
	pthread_t t;
	int rc = -pthread_create(&t, NULL, vip_thread, &j);

	if (rc < 0)
		return rc;
	pthread_join(t, NULL);
	if (j.rc < 0)
		snprintf(err, errlen, "%s", j.err[0] ? j.err : strerror(-j.rc));
	return j.rc;
}

/* The VIP table of @w (and the routing mesh's marks on the ingress
 * network) into the namespace of endpoint @ep: on the loader's thread
 * (nsload.c), waited for when @wait. */
static int apply_in(struct net *n, const struct net__net *w,
		    const struct net__ep *ep, const char *vips, bool wait)
{
	char path[PATH_MAX];
	struct buf b;
	int rc = net__netns_path(n, ep->sandbox, path, sizeof(path));

	if (rc < 0)
		return rc;
	buf_init(&b, 4 << 20);
	buf_printf(&b, "%s", vips);
	if (w->vni == NET_INGRESS_VNI)
		net__ingress_ns_text(w, ep->ifname, &b);
	rc = b.data ? net__ns_load(n, w, ep, path, b.data, wait) : -ENOMEM;
	buf_fini(&b);
	if (rc == -ENOMEM)
		log_warn("network=%s sandbox=%.12s: the VIP table is not "
			 "loaded: no memory",
			 w->name, ep->sandbox);
	return rc;
}

/* Into every namespace on @w (queued: the loop goes on), or only
 * @sandbox's when given (its container is about to start: waited for). */
int net__vips_apply(struct net *n, const struct net__net *w,
		    const char *sandbox)
{
	struct buf b;
	int rc, first = 0;

	if (!n->kernel || !w->vni || (!w->n_vips && !w->n_inodes && sandbox))
		return 0;
	buf_init(&b, 4 << 20);
	rc = net__vip_ruleset(w, &b);
	for (size_t i = 0; rc == 0 && i < w->n_eps; i++) {
		if (sandbox && strcmp(w->eps[i].sandbox, sandbox))
			continue;
		int r = apply_in(n, w, &w->eps[i], b.data, sandbox != NULL);
		if (r < 0 && !first)
			first = r;
	}
	buf_fini(&b);
	return rc < 0 ? rc : first;
}

static bool same_vips(const struct net__net *w, const struct net_overlay_vip *v,
		      size_t count)
{
	if (w->n_vips != count)
		return false;
	for (size_t i = 0; i < count; i++)
		if (w->vips[i].vip != v[i].vip || w->vips[i].n != v[i].n ||
		    (v[i].n && memcmp(w->vips[i].backends, v[i].backends,
				      v[i].n * sizeof(uint32_t))))
			return false;
	return true;
}

int net_overlay_set_vips(struct net *n, const char *id,
			 const struct net_overlay_vip *v, size_t count)
{
	struct net__net *w = NULL, tmp = {0};

	for (size_t i = 0; i < n->n_nets && !w; i++)
		if (n->nets[i]->vni && !strcmp(n->nets[i]->id, id ? id : ""))
			w = n->nets[i];
	if (!w)
		return SHOAL_ENOTFOUND;
	for (size_t i = 0; i < count; i++)
		if (!v[i].vip || v[i].n > NET_VIP_MAX_BACKENDS)
			return -EINVAL;
	/* After a start the namespaces may hold the tables of before. */
	if (w->vips_set && same_vips(w, v, count))
		return 0;
	if (net__kernel(n, NULL) < 0)
		return -EIO;
	if (count && !(tmp.vips = shoal_calloc(count, sizeof(*tmp.vips))))
		return -ENOMEM;
	for (size_t i = 0; i < count; i++) {
		tmp.n_vips = i + 1;
		tmp.vips[i].vip = v[i].vip;
		if (v[i].n && !(tmp.vips[i].backends = shoal_calloc(
					v[i].n, sizeof(uint32_t)))) {
			net__vips_free(&tmp);
			return -ENOMEM;
		}
		if (v[i].n)
			memcpy(tmp.vips[i].backends, v[i].backends,
			       v[i].n * sizeof(uint32_t));
		tmp.vips[i].n = v[i].n;
	}
	net__vips_free(w);
	w->vips = tmp.vips;
	w->n_vips = tmp.n_vips;
	w->vips_set = true;
	for (size_t i = 0; i < w->n_vips; i++) {
		char ip[16];
		net__ip_str(w->vips[i].vip, ip);
		log_info("network=%s: VIP %s over %zu tasks, in %zu "
			 "namespaces",
			 w->name, ip, w->vips[i].n, w->n_eps);
	}
	return net__vips_apply(n, w, NULL);
}
