/*
 * An overlay network's local side (net.h, "overlays"; docs/overlay.md,
 * step 2): a network record like a user bridge network's, whose bridge
 * is shov<VNI> with its VXLAN device shvx<VNI> (vxlan.c) instead of a
 * plain bridge, whose id is the swarm's and whose addresses come from
 * the managers. Everything else (endpoints, veth pairs, the ruleset's
 * masquerade and isolation, the resolver's local names) is the bridge
 * code's, unchanged.
 *
 * The agent (worker/net.c) joins a network when an assignment set names
 * it and leaves it when none does and no endpoint is left on it. The
 * record is written before the devices are made, so a crash leaves a
 * record that the next join or leave brings in line; a leave deletes the
 * devices before the record.
 */
#define LOG_MODULE "net"
#include "common/alloc.h"
#include "common/log.h"
#include "overlay-net/internal.h"
#include "overlay-net/resolver.h"
#include "overlay-net/vxlan.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

int net__overlay_up(struct net *n, struct net__net *w, struct shoal_err *err)
{
	char br[16], vx[16], msg[200] = "";
	struct ovl_vxlan_cfg c = {
		.vni = w->vni,
		.local = w->vtep,
		.mtu = w->mtu,
		.gateway = w->gateway,
		.prefix = w->subnet.len,
	};
	int rc;

	(void)n;
	ovl_vxlan_names(w->vni, br, vx);
	if (net__nl_index(br) > 0 && net__nl_index(vx) > 0)
		return 0;
	/* Half made (a crash between the two batches): start again. A
	 * bridge made again has lost the routing mesh's address. */
	w->iself = 0;
	ovl_vxlan_down(w->vni, msg, sizeof(msg));
	rc = ovl_vxlan_up(&c, msg, sizeof(msg));
	if (rc < 0) {
		net__err(err, "cannot bring overlay %s (vni %u) up: %s",
			 w->name, w->vni, msg);
		ovl_vxlan_down(w->vni, msg, sizeof(msg));
	}
	return rc;
}

void net__overlay_down(const struct net__net *w)
{
	char msg[200] = "";
	int rc = ovl_vxlan_down(w->vni, msg, sizeof(msg));

	if (rc < 0 && rc != -ENODEV)
		log_warn("network=%s vni=%u: %s", w->name, w->vni, msg);
}

static struct net__net *find_overlay(struct net *n, const char *id)
{
	for (size_t i = 0; i < n->n_nets; i++)
		if (n->nets[i]->vni && !strcmp(n->nets[i]->id, id))
			return n->nets[i];
	return NULL;
}

static bool swarm_id_ok(const char *s)
{
	size_t len = s ? strlen(s) : 0;

	return len >= 1 && len <= 64 &&
	       strspn(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
			 "0123456789") == len;
}

/* @o checked and turned into a record (not yet saved). */
static int overlay_net(struct net *n, const struct net_overlay *o,
		       struct net__net **out, struct shoal_err *err)
{
	struct net__net *w;
	struct net__prefix p;
	uint32_t gw;
	int mtu = o->mtu ? o->mtu : OVL_DEFAULT_MTU;
	char vni[16], vx[16];

	if (!swarm_id_ok(o->id) || !o->name || !*o->name ||
	    strlen(o->name) > 200 || o->vni < 1 || o->vni > 16777215 ||
	    mtu < 68 || mtu > 9000 || !o->vtep) {
		net__err(err, "overlay %.64s: bad id, name, VNI, MTU or VTEP",
			 o->id ? o->id : "");
		return -EINVAL;
	}
	if (net__parse_cidr(o->subnet ? o->subnet : "", &p, NULL, false) < 0 ||
	    p.len < 8 || p.len > 29 ||
	    net__parse_ip(o->gateway ? o->gateway : "", &gw) < 0 ||
	    !net__contains(&p, gw) || gw == p.addr ||
	    gw == (p.addr | ~net__mask(p.len))) {
		net__err(err, "overlay %s: bad subnet %.40s or gateway %.40s",
			 o->name, o->subnet ? o->subnet : "",
			 o->gateway ? o->gateway : "");
		return -EINVAL;
	}
	for (size_t i = 0; i < n->n_nets; i++) {
		struct net__net *x = n->nets[i];
		if (x->kind == NET_KIND_BRIDGE && strcmp(x->id, o->id) &&
		    net__overlaps(&x->subnet, &p)) {
			net__err(err,
				 "overlay %s (%s) overlaps network %s of "
				 "this node: remove that network or give the "
				 "overlay another --subnet",
				 o->name, o->subnet, x->name);
			return SHOAL_ECONFLICT;
		}
	}
	if (!(w = shoal_calloc(1, sizeof(*w))))
		return -ENOMEM;
	snprintf(w->id, sizeof(w->id), "%s", o->id);
	snprintf(w->name, sizeof(w->name), "%s", o->name);
	w->kind = NET_KIND_BRIDGE;
	w->internal = o->internal;
	w->attachable = o->attachable;
	ovl_vxlan_names(o->vni, w->bridge, vx);
	w->subnet = p;
	w->range = p;
	w->gateway = gw;
	w->last_ip = gw;
	w->vni = o->vni;
	w->vtep = o->vtep;
	w->mtu = mtu;
	time_t now = time(NULL);
	struct tm tm;
	gmtime_r(&now, &tm);
	strftime(w->created, sizeof(w->created), "%Y-%m-%dT%H:%M:%SZ", &tm);
	snprintf(vni, sizeof(vni), "%u", o->vni);
	w->labels = json_object();
	w->options = json_pack(
		"{s:s}", "com.docker.network.driver.overlay.vxlanid_list", vni);
	if (!w->labels || !w->options) {
		net__net_free(w);
		return -ENOMEM;
	}
	*out = w;
	return 0;
}

static bool same(const struct net__net *a, const struct net__net *b)
{
	return a->vni == b->vni && a->vtep == b->vtep && a->mtu == b->mtu &&
	       a->gateway == b->gateway && a->subnet.addr == b->subnet.addr &&
	       a->subnet.len == b->subnet.len && a->internal == b->internal;
}

static void forget(struct net *n, struct net__net *w)
{
	net__drop_net(n, w);
	net__nft_apply(n);
	net__overlay_down(w);
	net__unsave(n, w);
	net__net_free(w);
}

int net_overlay_join(struct net *n, const struct net_overlay *o,
		     struct shoal_err *err)
{
	struct net__net *w, *old;
	int rc = overlay_net(n, o, &w, err);

	if (rc < 0)
		return rc;
	old = find_overlay(n, o->id);
	if (old && same(old, w)) {
		net__net_free(w);
		return net__bridge_up(n, old, err);
	}
	if (old && old->n_eps) {
		net__err(err,
			 "overlay %s changed (VNI, subnet, MTU or VTEP) while "
			 "%zu containers are on it: kept as it was",
			 old->name, old->n_eps);
		net__net_free(w);
		return -EBUSY;
	}
	if (old)
		forget(n, old);
	if ((rc = net__kernel(n, err)) < 0 || (rc = net__save(n, w)) < 0) {
		if (!err->msg[0])
			net__err(err, "cannot record overlay %s: %s", w->name,
				 shoal_strerror(rc));
		net__net_free(w);
		return rc;
	}
	if ((rc = net__add_net(n, w)) < 0) {
		net__unsave(n, w);
		net__net_free(w);
		return rc;
	}
	rc = net__bridge_up(n, w, err);
	if (rc == 0 && (rc = net__nft_apply(n)) < 0)
		net__err(err, "cannot load the nftables rules of overlay %s",
			 w->name);
	if (rc < 0) {
		forget(n, w);
		return rc;
	}
	log_info("overlay=%s id=%s vni=%u joined on %s", w->name, w->id, w->vni,
		 w->bridge);
	return 0;
}

int net_overlay_leave(struct net *n, const char *id, struct shoal_err *err)
{
	struct net__net *w = find_overlay(n, id ? id : "");

	if (!w) {
		net__err(err, "overlay %s is not on this node", id ? id : "");
		return SHOAL_ENOTFOUND;
	}
	if (w->n_eps) {
		net__err(err, "overlay %s still has %zu containers", w->name,
			 w->n_eps);
		return -EBUSY;
	}
	/* The ruleset names its bridge: rebuilt without it, also by a
	 * daemon that has not touched the kernel yet since its start. */
	if (net__kernel(n, err) < 0)
		return -EIO;
	log_info("overlay=%s id=%s vni=%u left", w->name, w->id, w->vni);
	forget(n, w);
	return 0;
}

int net_overlay_list(struct net *n, struct net_overlay_state **out,
		     size_t *count)
{
	struct net_overlay_state *v;
	size_t k = 0;

	v = shoal_calloc(n->n_nets + 1, sizeof(*v));
	if (!v)
		return -ENOMEM;
	for (size_t i = 0; i < n->n_nets; i++) {
		const struct net__net *w = n->nets[i];
		if (!w->vni)
			continue;
		snprintf(v[k].id, sizeof(v[k].id), "%s", w->id);
		v[k].vni = w->vni;
		v[k].subnet = w->subnet.addr;
		v[k].prefix = w->subnet.len;
		v[k].n_endpoints = w->n_eps;
		k++;
	}
	*out = v;
	*count = k;
	return 0;
}

void net__names_free(struct net__net *w)
{
	for (size_t i = 0; i < w->n_names; i++) {
		shoal_free(w->names[i].name);
		shoal_free(w->names[i].addrs);
	}
	shoal_free(w->names);
	w->names = NULL;
	w->n_names = 0;
}

static int name_copy(struct net__name *d, const struct net_overlay_name *s)
{
	size_t len = s->name ? strlen(s->name) : 0;

	if (!len || len > 255 || !s->n || s->n > NET_RESOLVER_MAX_ADDRS)
		return -EINVAL;
	if (!(d->name = shoal_malloc(len + 1)))
		return -ENOMEM;
	for (size_t i = 0; i <= len; i++)
		d->name[i] = (char)tolower((unsigned char)s->name[i]);
	if (!(d->addrs = shoal_calloc(s->n, sizeof(*d->addrs))))
		return -ENOMEM;
	memcpy(d->addrs, s->addrs, s->n * sizeof(*d->addrs));
	d->n = s->n;
	return 0;
}

int net_overlay_set_names(struct net *n, const char *id,
			  const struct net_overlay_name *v, size_t count)
{
	struct net__net *w = find_overlay(n, id ? id : "");
	struct net__net tmp = {0};
	int rc = 0;

	if (!w)
		return SHOAL_ENOTFOUND;
	if (count && !(tmp.names = shoal_calloc(count, sizeof(*tmp.names))))
		return -ENOMEM;
	for (size_t i = 0; i < count && rc == 0; i++) {
		rc = name_copy(&tmp.names[i], &v[i]);
		tmp.n_names = i + 1;
	}
	if (rc < 0) {
		net__names_free(&tmp);
		return rc;
	}
	net__names_free(w);
	w->names = tmp.names;
	w->n_names = tmp.n_names;
	return 0;
}
