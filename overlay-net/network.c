/*
 * Networks: the records under <data-root>/network/<id>.json, the three
 * predefined networks (bridge on shoal0, host, none) and the user-defined
 * bridge networks, with Docker's rules and sentences for create, remove,
 * list, inspect and prune (moby libnetwork, daemon/network.go).
 *
 * A record is written whole (temporary file, fsync, rename) before the
 * kernel is changed; a record that does not parse is refused at open with
 * its path named, never half believed (the fuzz target tests/fuzz/net-link
 * feeds net__load_record() arbitrary bytes). The kernel side of a network
 * is its bridge, made at create and at open when missing, and its place in
 * the nftables table.
 */
#define LOG_MODULE "net"
#include "common/alloc.h"
#include "common/fd.h"
#include "common/id.h"
#include "common/jsonx.h"
#include "common/log.h"
#include "common/path.h"
#include "overlay-net/internal.h"
#include "overlay-net/resolver.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <libmnl/libmnl.h>
#include <nftables/libnftables.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define RECORD_MAX (4 << 20)

void net__err(struct shoal_err *err, const char *fmt, ...)
{
	va_list ap;

	if (!err)
		return;
	va_start(ap, fmt);
	vsnprintf(err->msg, sizeof(err->msg), fmt, ap);
	va_end(ap);
}

int net_status(int rc)
{
	switch (rc) {
	case 0:
		return 200;
	case -EINVAL:
		return 400;
	case -EPERM:
		return 403;
	case SHOAL_ENOTFOUND:
		return 404;
	case SHOAL_ECONFLICT:
		return 409;
	default:
		return 500;
	}
}

/* --- lookup --------------------------------------------------------------- */

struct net__net *net__find(struct net *n, const char *ref)
{
	struct net__net *hit = NULL;
	size_t len = ref ? strlen(ref) : 0;

	if (!len)
		return NULL;
	if (!strcmp(ref, "default"))
		ref = "bridge";
	/* An overlay's local side answers to its full id only: its name is
	 * the swarm's, and a node's local networks may take it. */
	for (size_t i = 0; i < n->n_nets; i++)
		if (!strcmp(n->nets[i]->id, ref) ||
		    (!n->nets[i]->vni && !strcmp(n->nets[i]->name, ref)))
			return n->nets[i];
	for (size_t i = 0; i < n->n_nets; i++) {
		if (n->nets[i]->vni || strncmp(n->nets[i]->id, ref, len))
			continue;
		if (hit)
			return NULL; /* ambiguous */
		hit = n->nets[i];
	}
	return hit;
}

bool net__valid_ifname(const char *s)
{
	size_t n = strlen(s);

	if (!n || n >= IFNAMSIZ || !strcmp(s, ".") || !strcmp(s, ".."))
		return false;
	/* Also what the nftables text may quote. */
	return strspn(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
			 "0123456789_.-") == n;
}

bool net__find_is(const struct net__net *w, const char *ref)
{
	size_t len = ref ? strlen(ref) : 0;

	if (len && !strcmp(ref, "default"))
		ref = "bridge";
	if (w->vni)
		return len && !strcmp(w->id, ref);
	return len && (!strcmp(w->name, ref) || !strncmp(w->id, ref, len));
}

static int add_net(struct net *n, struct net__net *w)
{
	struct net__net **v =
		shoal_realloc(n->nets, (n->n_nets + 1) * sizeof(*v));

	if (!v)
		return -ENOMEM;
	n->nets = v;
	n->nets[n->n_nets++] = w;
	return 0;
}

static void drop_net(struct net *n, struct net__net *w)
{
	for (size_t i = 0; i < n->n_nets; i++)
		if (n->nets[i] == w) {
			memmove(&n->nets[i], &n->nets[i + 1],
				(n->n_nets - i - 1) * sizeof(*n->nets));
			n->n_nets--;
			break;
		}
}

/* --- kernel side of a network --------------------------------------------- */

static int set_sysctl(const char *path, const char *v)
{
	int fd = open(path, O_WRONLY | O_CLOEXEC);
	int rc = 0;

	if (fd < 0)
		return -errno;
	if (write(fd, v, strlen(v)) < 0)
		rc = -errno;
	close(fd);
	return rc;
}

/* The bridge of @w with its gateway address, up, route_localnet set. */
static int bridge_up(struct net *n, struct net__net *w, struct shoal_err *err)
{
	struct net__batch *b;
	char path[128];
	uint8_t mac[6];
	char macs[18];
	int idx, rc;

	if (!n->kernel || w->kind != NET_KIND_BRIDGE)
		return 0;
	if (w->vni)
		return net__overlay_up(n, w, err);
	rc = net__batch_new(&b);
	if (rc < 0)
		return rc;
	idx = net__nl_index(w->bridge);
	if (idx < 0) {
		net__mac_of(w->gateway, macs);
		net__parse_mac(macs, mac);
		rc = net__nl_bridge_add(b, w->bridge, mac);
		if (rc == 0)
			rc = net__nl_send(n->nl, b, NULL);
		idx = rc == 0 ? net__nl_index(w->bridge) : rc;
		net__batch_free(b);
		if (idx < 0) {
			net__err(err, "cannot create bridge %s: %s", w->bridge,
				 strerror(-idx));
			return idx;
		}
		rc = net__batch_new(&b);
		if (rc < 0)
			return rc;
	}
	rc = net__nl_addr_add(b, idx, w->gateway, w->subnet.len);
	if (rc == 0)
		rc = net__nl_link_up(b, idx, NULL);
	if (rc == 0)
		rc = net__nl_send(n->nl, b, NULL);
	net__batch_free(b);
	if (rc < 0) {
		net__err(err, "cannot configure bridge %s: %s", w->bridge,
			 strerror(-rc));
		return rc;
	}
	snprintf(path, sizeof(path),
		 "/proc/sys/net/ipv4/conf/%s/route_localnet", w->bridge);
	set_sysctl(path, "1");
	return 0;
}

static void bridge_down(struct net *n, const struct net__net *w)
{
	struct net__batch *b;

	if (!n->kernel || w->kind != NET_KIND_BRIDGE)
		return;
	if (w->vni) {
		net__overlay_down(w);
		return;
	}
	if (net__batch_new(&b) < 0)
		return;
	if (net__nl_link_del(b, w->bridge) == 0)
		net__nl_send(n->nl, b, NULL);
	net__batch_free(b);
}

/* --- predefined networks and open ----------------------------------------- */

static void now_str(char out[64])
{
	struct timespec ts;
	struct tm tm;
	char base[40];

	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	strftime(base, sizeof(base), "%Y-%m-%dT%H:%M:%S", &tm);
	snprintf(out, 64, "%s.%09ldZ", base, ts.tv_nsec);
}

static struct net__net *new_net(const char *name, enum net__kind kind)
{
	struct net__net *w = shoal_calloc(1, sizeof(*w));

	if (!w)
		return NULL;
	id_hex(w->id);
	snprintf(w->name, sizeof(w->name), "%s", name);
	w->kind = kind;
	now_str(w->created);
	w->labels = json_object();
	w->options = json_object();
	if (!w->labels || !w->options) {
		net__net_free(w);
		return NULL;
	}
	return w;
}

static int predefined(struct net *n, const char *name, enum net__kind kind,
		      const char *bip, struct shoal_err *err)
{
	struct net__net *w = net__find(n, name);
	struct net__prefix p;
	uint32_t gw;
	int rc;

	if (kind == NET_KIND_BRIDGE &&
	    net__parse_cidr(bip ? bip : "172.17.0.1/16", &p, &gw, true) < 0) {
		net__err(err,
			 "invalid --bip %s: an address and prefix, "
			 "e.g. 172.18.0.1/16",
			 bip);
		return -EINVAL;
	}
	if (kind == NET_KIND_BRIDGE && (p.len > 30 || gw == p.addr)) {
		net__err(err,
			 "invalid --bip %s: the gateway must be an "
			 "address of a subnet of at most /30",
			 bip);
		return -EINVAL;
	}
	if (w && kind == NET_KIND_BRIDGE &&
	    (w->subnet.addr != p.addr || w->subnet.len != p.len ||
	     w->gateway != gw) &&
	    w->n_eps) {
		net__err(err,
			 "--bip %s differs from the bridge network's "
			 "subnet while containers are attached to it",
			 bip);
		return -EINVAL;
	}
	if (!w) {
		w = new_net(name, kind);
		if (!w)
			return -ENOMEM;
		w->predefined = true;
		if ((rc = add_net(n, w)) < 0) {
			net__net_free(w);
			return rc;
		}
	}
	if (kind == NET_KIND_BRIDGE) {
		w->subnet = p;
		w->range = p;
		w->gateway = gw;
		snprintf(w->bridge, sizeof(w->bridge), "shoal0");
		json_object_set_new(w->options,
				    "com.docker.network.bridge.default_bridge",
				    json_string("true"));
		json_object_set_new(w->options,
				    "com.docker.network.bridge.name",
				    json_string("shoal0"));
	}
	return net__save(n, w);
}

static int load_all(struct net *n, struct shoal_err *err)
{
	DIR *d = opendir(n->dir);
	struct dirent *de;
	int rc = 0;

	if (!d)
		return -errno;
	while (rc == 0 && (de = readdir(d))) {
		char path[PATH_MAX];
		size_t len = strlen(de->d_name);
		struct net__net *w;
		json_t *r = NULL;

		if (len < 6 || strcmp(de->d_name + len - 5, ".json"))
			continue;
		snprintf(path, sizeof(path), "%s/%s", n->dir, de->d_name);
		rc = jsonx_load_file(path, RECORD_MAX, &r);
		if (rc == 0)
			rc = net__load_record(r, &w, err);
		else
			net__err(err, "cannot read %s: %s", path,
				 shoal_strerror(rc));
		json_decref(r);
		/* Overlays answer to their id only (their name is the
		 * swarm's): a local network may share it. */
		if (rc == 0 && net__find(n, w->vni ? w->id : w->name)) {
			rc = -EINVAL;
			net__err(err, "%s: a second network named %s", path,
				 w->name);
			net__net_free(w);
		}
		if (rc == 0 && (rc = add_net(n, w)) < 0)
			net__net_free(w);
		if (rc == -EINVAL && !strstr(err->msg, path)) {
			char m[SHOAL_ERR_MAX];
			snprintf(m, sizeof(m), "%s", err->msg);
			net__err(err, "%s: %s", path, m);
		}
	}
	closedir(d);
	return rc;
}

static int parse_pools(struct net *n, const char *const *pools,
		       struct shoal_err *err)
{
	/* Docker's: 172.17.0.0/16 to 172.31.0.0/16, then 192.168.0.0/16 in
	 * /20s. */
	static const char *const defaults[] = {
		"base=172.17.0.0/16,size=16",  "base=172.18.0.0/15,size=16",
		"base=172.20.0.0/14,size=16",  "base=172.24.0.0/13,size=16",
		"base=192.168.0.0/16,size=20", NULL};
	const char *const *v = pools && pools[0] ? pools : defaults;

	for (size_t i = 0; v[i]; i++) {
		char base[40];
		int size = -1, used = 0;
		if (n->n_pools == 8 ||
		    sscanf(v[i], "base=%39[0-9./],size=%d%n", base, &size,
			   &used) != 2 ||
		    v[i][used] ||
		    net__parse_cidr(base, &n->pools[n->n_pools], NULL, false) <
			    0 ||
		    size < n->pools[n->n_pools].len || size > 30) {
			net__err(err,
				 "invalid --default-address-pool %s: "
				 "base=CIDR,size=N with N between the base's "
				 "prefix and 30 (at most 8 pools)",
				 v[i]);
			return -EINVAL;
		}
		n->pool_size[n->n_pools++] = size;
	}
	return 0;
}

int net_open(const struct net_config *cfg, struct net **out,
	     struct shoal_err *err)
{
	struct net *n = shoal_calloc(1, sizeof(*n));
	char buf[PATH_MAX];
	int rc = -ENOMEM;

	if (!n)
		return -ENOMEM;
	n->dry_run = cfg->dry_run;
	n->loop = cfg->dry_run ? NULL : cfg->loop;
	snprintf(buf, sizeof(buf), "%s/network", cfg->data_root);
	n->dir = shoal_strdup(buf);
	snprintf(buf, sizeof(buf), "%s/netns", cfg->exec_root);
	n->ns_dir = shoal_strdup(buf);
	if (!n->dir || !n->ns_dir)
		goto err_free;
	rc = parse_pools(n, cfg->pools, err);
	if (rc == 0 && ((rc = path_mkdir_p(n->dir, 0700)) < 0 ||
			(rc = path_mkdir_p(n->ns_dir, 0711)) < 0))
		net__err(err, "cannot make %s or %s: %s", n->dir, n->ns_dir,
			 shoal_strerror(rc));
	if (rc == 0)
		rc = load_all(n, err);
	if (rc == 0)
		rc = predefined(n, "bridge", NET_KIND_BRIDGE, cfg->bip, err);
	if (rc == 0)
		rc = predefined(n, "host", NET_KIND_HOST, NULL, err);
	if (rc == 0)
		rc = predefined(n, "none", NET_KIND_NULL, NULL, err);
	if (rc == 0 && cfg->loop && !n->dry_run) {
		struct net_resolver_config rcfg = {
			.loop = cfg->loop,
			.lookup = net__lookup,
			.reverse = net__reverse,
			.arg = n,
			.resolv_conf = cfg->resolv_conf,
		};
		rc = net_resolver_open(&rcfg, &n->resolver);
		if (rc < 0)
			net__err(err, "cannot open the resolver: %s",
				 shoal_strerror(rc));
	}
	if (rc < 0)
		goto err_free;
	*out = n;
	return 0;
err_free:
	net_close(n);
	return rc;
}

int net__kernel(struct net *n, struct shoal_err *err)
{
	int rc;

	if (n->kernel || n->dry_run)
		return 0;
	if ((rc = net__nl_open(&n->nl)) < 0) {
		net__err(err, "cannot open rtnetlink: %s", strerror(-rc));
		return rc;
	}
	n->kernel = true;
	if (set_sysctl("/proc/sys/net/ipv4/ip_forward", "1") < 0)
		log_warn("cannot enable ip_forward: published ports and "
			 "outbound traffic will not be forwarded");
	for (size_t i = 0; i < n->n_nets; i++) {
		struct shoal_err be = {""};
		if (bridge_up(n, n->nets[i], &be) < 0)
			log_warn("network=%s: %s", n->nets[i]->name, be.msg);
	}
	if (net__nft_apply(n) < 0)
		log_warn("cannot load the nftables table inet shoal: "
			 "published ports and NAT are off");
	return 0;
}

void net_close(struct net *n)
{
	if (!n)
		return;
	net_resolver_close(n->resolver);
	net__loader_close(n);
	for (size_t i = 0; i < n->n_nets; i++)
		net__net_free(n->nets[i]);
	shoal_free(n->nets);
	if (n->nl)
		mnl_socket_close(n->nl);
	if (n->nft)
		nft_ctx_free(n->nft);
	shoal_free(n->dir);
	shoal_free(n->ns_dir);
	shoal_free(n->ingress_text);
	shoal_free(n);
}

/* --- create --------------------------------------------------------------- */

static int check_name(struct net *n, const char *name, struct shoal_err *err)
{
	size_t len = name ? strlen(name) : 0;

	if (!len) {
		net__err(err, "network name must not be empty");
		return -EINVAL;
	}
	for (size_t i = 0; i < len; i++)
		if (!(name[i] == '_' || name[i] == '.' || name[i] == '-' ||
		      (name[i] >= '0' && name[i] <= '9') ||
		      (name[i] >= 'a' && name[i] <= 'z') ||
		      (name[i] >= 'A' && name[i] <= 'Z')) ||
		    len > 200) {
			net__err(err,
				 "invalid network name \"%s\": only "
				 "[a-zA-Z0-9][a-zA-Z0-9_.-] are allowed",
				 name);
			return -EINVAL;
		}
	for (size_t i = 0; i < n->n_nets; i++)
		if (!n->nets[i]->vni && !strcmp(n->nets[i]->name, name)) {
			net__err(err, "network with name %s already exists",
				 name);
			return SHOAL_ECONFLICT;
		}
	if (!strcmp(name, "default")) {
		net__err(err, "default is a pre-defined network and cannot "
			      "be created");
		return -EPERM;
	}
	return 0;
}

static int check_options(const struct net_create_opts *o, const char **br,
			 struct shoal_err *err)
{
	const char *k;
	json_t *v;

	*br = o->bridge_name;
	json_object_foreach((json_t *)o->options, k, v)
	{
		if (!strcmp(k, "com.docker.network.bridge.name") &&
		    json_is_string(v)) {
			*br = json_string_value(v);
			continue;
		}
		net__err(err,
			 "network option %s is not supported yet (only "
			 "com.docker.network.bridge.name)",
			 k);
		return -EINVAL;
	}
	if (*br && *br[0] && !net__valid_ifname(*br)) {
		net__err(err,
			 "invalid bridge name \"%.40s\": at most 15 of "
			 "[a-zA-Z0-9_.-], not . or ..",
			 *br);
		return -EINVAL;
	}
	return 0;
}

/* The subnet, range and gateway of a new network @w from @o or a pool. */
static int pick_addrs(struct net *n, const struct net_create_opts *o,
		      struct net__net *w, struct shoal_err *err)
{
	struct net__prefix used[256];
	size_t nu = 0;
	int rc = -ENOSPC;

	for (size_t i = 0; i < n->n_nets && nu < 256; i++)
		if (n->nets[i]->kind == NET_KIND_BRIDGE)
			used[nu++] = n->nets[i]->subnet;
	if (o->subnet && *o->subnet) {
		if (net__parse_cidr(o->subnet, &w->subnet, NULL, true) < 0 ||
		    w->subnet.len > 30) {
			net__err(err, "invalid CIDR address: %s", o->subnet);
			return -EINVAL;
		}
		for (size_t i = 0; i < nu; i++)
			if (net__overlaps(&w->subnet, &used[i])) {
				net__err(err, "Pool overlaps with other one "
					      "on this address space");
				return -EPERM;
			}
	} else {
		if (o->gateway && *o->gateway) {
			net__err(err, "a gateway needs a subnet: give --subnet "
				      "with --gateway");
			return -EINVAL;
		}
		if (o->ip_range && *o->ip_range) {
			net__err(err, "an ip-range needs a subnet: give "
				      "--subnet with --ip-range");
			return -EINVAL;
		}
		for (size_t i = 0; rc < 0 && i < n->n_pools; i++)
			rc = net__pool_next(&n->pools[i], n->pool_size[i], used,
					    nu, &w->subnet);
		if (rc < 0) {
			net__err(err, "could not find an available, "
				      "non-overlapping IPv4 address pool "
				      "among the defaults to assign to the "
				      "network");
			return -EPERM;
		}
	}
	w->range = w->subnet;
	if (o->ip_range && *o->ip_range &&
	    (net__parse_cidr(o->ip_range, &w->range, NULL, true) < 0 ||
	     w->range.len < w->subnet.len ||
	     !net__contains(&w->subnet, w->range.addr))) {
		net__err(err, "no matching subnet for range %s", o->ip_range);
		return -EINVAL;
	}
	w->gateway = w->subnet.addr + 1;
	if (o->gateway && *o->gateway &&
	    (net__parse_ip(o->gateway, &w->gateway) < 0 ||
	     !net__contains(&w->subnet, w->gateway) ||
	     w->gateway == w->subnet.addr ||
	     w->gateway == (w->subnet.addr | ~net__mask(w->subnet.len)))) {
		net__err(err, "no matching subnet for gateway %s", o->gateway);
		return -EINVAL;
	}
	w->last_ip = w->gateway;
	return 0;
}

/* The bridge of @w, made or checked; for net_overlay_join(). */
int net__bridge_up(struct net *n, struct net__net *w, struct shoal_err *err)
{
	return bridge_up(n, w, err);
}

int net__add_net(struct net *n, struct net__net *w)
{
	return add_net(n, w);
}

void net__drop_net(struct net *n, struct net__net *w)
{
	drop_net(n, w);
}

static bool bridge_taken(struct net *n, const char *br)
{
	for (size_t i = 0; i < n->n_nets; i++)
		if (!strcmp(n->nets[i]->bridge, br))
			return true;
	return !n->dry_run && net__nl_index(br) > 0;
}

int net_network_create(struct net *n, const struct net_create_opts *o,
		       char id[65], struct shoal_err *err)
{
	struct net__net *w;
	const char *br;
	int rc = check_name(n, o->name, err);

	if (rc < 0)
		return rc;
	if (o->driver && *o->driver && strcmp(o->driver, "bridge")) {
		net__err(err,
			 "plugin \"%s\" not found (only the bridge "
			 "driver on a single host)",
			 o->driver);
		return SHOAL_ENOTFOUND;
	}
	if (o->ipv6) {
		net__err(err, "IPv6 networks are not supported yet");
		return -EINVAL;
	}
	if ((rc = check_options(o, &br, err)) < 0)
		return rc;
	if ((rc = net__kernel(n, err)) < 0)
		return rc;
	if (!(w = new_net(o->name, NET_KIND_BRIDGE)))
		return -ENOMEM;
	w->internal = o->internal;
	w->attachable = o->attachable;
	if (json_is_object(o->labels)) {
		const char *k;
		json_t *v;
		json_object_foreach((json_t *)o->labels, k, v)
		{
			if (!json_is_string(v)) {
				net__err(err, "label %.100s must be a string",
					 k);
				net__net_free(w);
				return -EINVAL;
			}
		}
		json_object_update(w->labels, (json_t *)o->labels);
	}
	if (json_is_object(o->options))
		json_object_update(w->options, (json_t *)o->options);
	snprintf(w->bridge, sizeof(w->bridge), "%s", br && *br ? br : "br-");
	if (!(br && *br))
		snprintf(w->bridge, sizeof(w->bridge), "br-%.12s", w->id);
	rc = pick_addrs(n, o, w, err);
	if (rc == 0 && bridge_taken(n, w->bridge)) {
		net__err(err,
			 "bridge %s is already in use: choose another "
			 "com.docker.network.bridge.name",
			 w->bridge);
		rc = SHOAL_ECONFLICT;
	}
	if (rc == 0 && (rc = net__save(n, w)) < 0)
		net__err(err, "cannot record network %s: %s", w->name,
			 shoal_strerror(rc));
	if (rc == 0 && (rc = add_net(n, w)) < 0)
		net__unsave(n, w);
	if (rc < 0) {
		net__net_free(w);
		return rc;
	}
	rc = bridge_up(n, w, err);
	if (rc == 0 && (rc = net__nft_apply(n)) < 0)
		net__err(err, "cannot load the nftables rules of network %s",
			 w->name);
	if (rc < 0) {
		drop_net(n, w);
		bridge_down(n, w);
		net__unsave(n, w);
		net__nft_apply(n);
		net__net_free(w);
		return rc;
	}
	memcpy(id, w->id, 65);
	log_info("network=%s id=%.12s created on %s", w->name, w->id,
		 w->bridge);
	return 0;
}

/* --- remove and prune ----------------------------------------------------- */

static int remove_net(struct net *n, struct net__net *w, struct shoal_err *err)
{
	if (w->predefined) {
		net__err(err,
			 "%s is a pre-defined network and cannot be "
			 "removed",
			 w->name);
		return -EPERM;
	}
	if (w->vni) {
		net__err(err,
			 "%s is a swarm network: remove it on a manager "
			 "(this node leaves it when no task uses it)",
			 w->name);
		return -EPERM;
	}
	if (w->n_eps) {
		net__err(err,
			 "error while removing network: network %s id %s "
			 "has active endpoints",
			 w->name, w->id);
		return -EPERM;
	}
	drop_net(n, w);
	net__nft_apply(n);
	bridge_down(n, w);
	net__unsave(n, w);
	log_info("network=%s id=%.12s removed", w->name, w->id);
	net__net_free(w);
	return 0;
}

int net_network_remove(struct net *n, const char *ref, struct shoal_err *err)
{
	struct net__net *w = net__find(n, ref);

	if (!w) {
		net__err(err, "network %s not found", ref);
		return SHOAL_ENOTFOUND;
	}
	return remove_net(n, w, err);
}

int net_network_prune(struct net *n, net_keep_fn *keep, void *arg,
		      json_t *removed)
{
	for (size_t i = 0; i < n->n_nets;) {
		struct net__net *w = n->nets[i];
		json_t *res;
		bool k;
		if (w->predefined || w->n_eps || w->vni) {
			i++;
			continue;
		}
		res = net_network_inspect(n, w->id, NULL);
		k = !res || (keep && keep(res, arg));
		json_decref(res);
		if (k) {
			i++;
			continue;
		}
		json_array_append_new(removed, json_string(w->name));
		remove_net(n, w, NULL);
	}
	return 0;
}

/* --- inspect and list ----------------------------------------------------- */

static json_t *resource(const struct net__net *w)
{
	json_t *cfg = json_array(), *ctrs = json_object();
	char a[16], b[16], s[24];

	if (w->kind == NET_KIND_BRIDGE && cfg) {
		json_t *c;
		net__ip_str(w->subnet.addr, a);
		net__ip_str(w->gateway, b);
		snprintf(s, sizeof(s), "%s/%d", a, w->subnet.len);
		c = json_pack("{s:s, s:s}", "Subnet", s, "Gateway", b);
		if (c && (w->range.addr != w->subnet.addr ||
			  w->range.len != w->subnet.len)) {
			net__ip_str(w->range.addr, a);
			snprintf(s, sizeof(s), "%s/%d", a, w->range.len);
			json_object_set_new(c, "IPRange", json_string(s));
		}
		json_array_append_new(cfg, c);
	}
	for (size_t i = 0; ctrs && i < w->n_eps; i++) {
		const struct net__ep *ep = &w->eps[i];
		net__ip_str(ep->ip, a);
		snprintf(s, sizeof(s), "%s/%d", a, w->subnet.len);
		json_object_set_new(ctrs, ep->ctr,
				    json_pack("{s:s, s:s, s:s, s:s, s:s}",
					      "Name", ep->name, "EndpointID",
					      ep->ep_id, "MacAddress", ep->mac,
					      "IPv4Address", s, "IPv6Address",
					      ""));
	}
	return json_pack(
		"{s:s, s:s, s:s, s:s, s:s, s:b, s:{s:s, s:n, s:o*}, s:b, s:b,"
		" s:b, s:{s:s}, s:b, s:o*, s:O, s:O}",
		"Name", w->name, "Id", w->id, "Created", w->created, "Scope",
		w->vni ? "swarm" : "local", "Driver",
		w->vni ? "overlay" : net__kind_name(w->kind), "EnableIPv6", 0,
		"IPAM", "Driver", "default", "Options", "Config", cfg,
		"Internal", w->internal, "Attachable", w->attachable, "Ingress",
		0, "ConfigFrom", "Network", "", "ConfigOnly", 0, "Containers",
		ctrs, "Options", w->options, "Labels", w->labels);
}

json_t *net_network_inspect(struct net *n, const char *ref, int *rc)
{
	struct net__net *w = net__find(n, ref);
	json_t *r;

	if (!w) {
		if (rc)
			*rc = SHOAL_ENOTFOUND;
		return NULL;
	}
	r = resource(w);
	if (rc)
		*rc = r ? 0 : -ENOMEM;
	return r;
}

static int by_name(const void *a, const void *b)
{
	const struct net__net *x = *(struct net__net *const *)a;
	const struct net__net *y = *(struct net__net *const *)b;

	return strcmp(x->name, y->name);
}

json_t *net_network_list(struct net *n)
{
	struct net__net **v = shoal_calloc(n->n_nets + 1, sizeof(*v));
	json_t *out = json_array();

	if (!v || !out) {
		shoal_free(v);
		json_decref(out);
		return NULL;
	}
	memcpy(v, n->nets, n->n_nets * sizeof(*v));
	qsort(v, n->n_nets, sizeof(*v), by_name);
	/* Overlays are listed from the swarm's store by the managers. */
	for (size_t i = 0; i < n->n_nets; i++)
		if (!v[i]->vni)
			json_array_append_new(out, resource(v[i]));
	shoal_free(v);
	return out;
}
