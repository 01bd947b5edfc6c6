/*
 * The network records under <data-root>/network/<id>.json: one JSON
 * object per network with its endpoints, written whole (temporary file,
 * fdatasync, rename) and read back at every start. A record is a file on
 * disk, so net__load_record() believes nothing: every string is bounded,
 * ids are 64 hex digits, interface names are what the kernel and the
 * nftables text accept, addresses lie in the subnet, ports are numbers of
 * tcp or udp; anything else is -EINVAL with a sentence, never half loaded
 * (tests/fuzz/net-link feeds it arbitrary bytes).
 */
#include "common/alloc.h"
#include "common/fd.h"
#include "common/id.h"
#include "common/jsonx.h"
#include "overlay-net/internal.h"
#include "overlay-net/resolver.h"
#include "overlay-net/vxlan.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

void net__strv_free(char **v)
{
	for (size_t i = 0; v && v[i]; i++)
		shoal_free(v[i]);
	shoal_free(v);
}

int net__strv_dup(const char *const *v, char ***out)
{
	size_t k = 0;

	*out = NULL;
	while (v && v[k])
		k++;
	if (!k)
		return 0;
	*out = shoal_calloc(k + 1, sizeof(char *));
	if (!*out)
		return -ENOMEM;
	for (size_t i = 0; i < k; i++)
		if (!((*out)[i] = shoal_strdup(v[i]))) {
			net__strv_free(*out);
			*out = NULL;
			return -ENOMEM;
		}
	return 0;
}

static json_t *strv_json(char **v)
{
	json_t *a;

	if (!v)
		return NULL;
	a = json_array();
	for (size_t i = 0; a && v[i]; i++)
		json_array_append_new(a, json_string(v[i]));
	return a;
}

/* An optional array of at most @max strings of at most @len bytes. */
static int load_strv(const json_t *o, const char *key, size_t max, size_t len,
		     char ***out)
{
	const json_t *a = json_object_get(o, key), *x;
	size_t i;

	*out = NULL;
	if (!a)
		return 0;
	if (!json_is_array(a) || json_array_size(a) > max)
		return -EINVAL;
	if (!json_array_size(a))
		return 0;
	*out = shoal_calloc(json_array_size(a) + 1, sizeof(char *));
	if (!*out)
		return -ENOMEM;
	json_array_foreach(a, i, x)
	{
		if (!json_is_string(x) || !json_string_length(x) ||
		    json_string_length(x) > len ||
		    strlen(json_string_value(x)) != json_string_length(x) ||
		    !((*out)[i] = shoal_strdup(json_string_value(x))))
			return -EINVAL;
	}
	return 0;
}

void net__ep_fini(struct net__ep *ep)
{
	net__strv_free(ep->dns);
	net__strv_free(ep->dns_search);
	for (size_t i = 0; ep->aliases && ep->aliases[i]; i++)
		shoal_free(ep->aliases[i]);
	shoal_free(ep->aliases);
	shoal_free(ep->ports);
	memset(ep, 0, sizeof(*ep));
}

void net__net_free(struct net__net *w)
{
	if (!w)
		return;
	for (size_t i = 0; i < w->n_eps; i++)
		net__ep_fini(&w->eps[i]);
	shoal_free(w->eps);
	net__names_free(w);
	net__vips_free(w);
	shoal_free(w->inodes);
	json_decref(w->labels);
	json_decref(w->options);
	shoal_free(w);
}

const char *net__kind_name(enum net__kind k)
{
	return k == NET_KIND_HOST   ? "host"
	       : k == NET_KIND_NULL ? "null"
				    : "bridge";
}

/* --- records -------------------------------------------------------------- */

static json_t *ep_json(const struct net__ep *ep)
{
	json_t *al = json_array(), *ports = json_array();
	char ip[16];

	for (size_t i = 0; al && ep->aliases && ep->aliases[i]; i++)
		json_array_append_new(al, json_string(ep->aliases[i]));
	for (size_t i = 0; ports && i < ep->n_ports; i++) {
		const struct net__port *p = &ep->ports[i];
		json_array_append_new(
			ports,
			json_pack("{s:i, s:s, s:s, s:i, s:i, s:i}", "CtrPort",
				  p->p.ctr_port, "Proto", p->p.proto, "HostIp",
				  p->p.host_ip, "HostLo", p->p.host_lo,
				  "HostHi", p->p.host_hi, "Host", p->host));
	}
	net__ip_str(ep->ip, ip);
	return json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:o*, s:o*, "
			 "s:o*, s:o*}",
			 "Container", ep->ctr, "Sandbox", ep->sandbox, "Name",
			 ep->name, "Ifname", ep->ifname, "Veth", ep->veth, "IP",
			 ip, "Mac", ep->mac, "EndpointID", ep->ep_id, "Aliases",
			 al, "Ports", ports, "Dns", strv_json(ep->dns),
			 "DnsSearch", strv_json(ep->dns_search));
}

json_t *net__record(const struct net__net *w)
{
	json_t *eps = json_array();
	char sub[16], gw[16], rng[16], last[16], s1[24], s2[24];

	net__ip_str(w->subnet.addr, sub);
	net__ip_str(w->gateway, gw);
	net__ip_str(w->range.addr, rng);
	net__ip_str(w->last_ip, last);
	snprintf(s1, sizeof(s1), "%s/%d", sub, w->subnet.len);
	snprintf(s2, sizeof(s2), "%s/%d", rng, w->range.len);
	for (size_t i = 0; eps && i < w->n_eps; i++)
		json_array_append_new(eps, ep_json(&w->eps[i]));
	if (w->vni) {
		char vtep[16];
		net__ip_str(w->vtep, vtep);
		return json_pack(
			"{s:s, s:s, s:s, s:s, s:b, s:b, s:b, s:s, s:s, s:s,"
			" s:s, s:s, s:O, s:O, s:o*, s:{s:I, s:s, s:i}}",
			"Id", w->id, "Name", w->name, "Driver", "bridge",
			"Created", w->created, "Predefined", false, "Internal",
			w->internal, "Attachable", w->attachable, "Bridge",
			w->bridge, "Subnet", s1, "Gateway", gw, "IPRange", s2,
			"LastIP", last, "Labels", w->labels, "Options",
			w->options, "Endpoints", eps, "Overlay", "VNI",
			(json_int_t)w->vni, "VTEP", vtep, "MTU", w->mtu);
	}
	return json_pack(
		"{s:s, s:s, s:s, s:s, s:b, s:b, s:b, s:s, s:s, s:s,"
		" s:s, s:s, s:O, s:O, s:o*}",
		"Id", w->id, "Name", w->name, "Driver", net__kind_name(w->kind),
		"Created", w->created, "Predefined", w->predefined, "Internal",
		w->internal, "Attachable", w->attachable, "Bridge", w->bridge,
		"Subnet", s1, "Gateway", gw, "IPRange", s2, "LastIP", last,
		"Labels", w->labels, "Options", w->options, "Endpoints", eps);
}

/* An overlay's record: a swarm id (letters and digits, the store's) and
 * "Overlay": {"VNI", "VTEP", "MTU"}, each in range. */
static bool overlay_of(const json_t *r, struct net__net *w)
{
	const json_t *o = json_object_get(r, "Overlay");
	json_int_t vni = jsonx_int(o, "VNI", 0), mtu = jsonx_int(o, "MTU", 0);
	const char *vtep = jsonx_str(o, "VTEP", "");
	size_t n = strlen(w->id);

	if (!json_is_object(o) || n < 1 || n > 64 ||
	    strspn(w->id, "abcdefghijklmnopqrstuvwxyz"
			  "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789") != n ||
	    vni < 1 || vni > 16777215 || mtu < 68 || mtu > 9000 ||
	    net__parse_ip(vtep, &w->vtep) < 0)
		return false;
	w->vni = (uint32_t)vni;
	w->mtu = (int)mtu;
	return true;
}

static int bad(struct shoal_err *err, const char *what)
{
	net__err(err, "malformed network record: %s", what);
	return -EINVAL;
}

static int copy_str(const json_t *o, const char *k, char *out, size_t cap,
		    bool empty_ok)
{
	const char *s = json_string_value(json_object_get(o, k));

	if (!s || strlen(s) >= cap || (!empty_ok && !*s))
		return -EINVAL;
	memcpy(out, s, strlen(s) + 1);
	return 0;
}

static int load_port(const json_t *o, struct net__port *p)
{
	json_int_t v[4] = {
		jsonx_int(o, "CtrPort", -1), jsonx_int(o, "HostLo", -1),
		jsonx_int(o, "HostHi", -1), jsonx_int(o, "Host", -1)};
	uint32_t ip;

	for (int i = 0; i < 4; i++)
		if (v[i] < 0 || v[i] > 65535)
			return -EINVAL;
	if (!v[0] || !v[3] || copy_str(o, "Proto", p->p.proto, 4, false) ||
	    (strcmp(p->p.proto, "tcp") && strcmp(p->p.proto, "udp")) ||
	    copy_str(o, "HostIp", p->p.host_ip, 46, true) ||
	    (p->p.host_ip[0] && net__parse_ip(p->p.host_ip, &ip) < 0))
		return -EINVAL;
	p->p.ctr_port = (uint16_t)v[0];
	p->p.host_lo = (uint16_t)v[1];
	p->p.host_hi = (uint16_t)v[2];
	p->host = (uint16_t)v[3];
	return 0;
}

static int load_ep(const json_t *o, struct net__ep *ep)
{
	const json_t *al = json_object_get(o, "Aliases");
	const json_t *ports = json_object_get(o, "Ports"), *x;
	char ip[16];
	uint8_t mac[6];
	size_t i;

	if (copy_str(o, "Container", ep->ctr, sizeof(ep->ctr), false) ||
	    !id_is_hex(ep->ctr, 64) ||
	    copy_str(o, "Sandbox", ep->sandbox, sizeof(ep->sandbox), false) ||
	    !id_is_hex(ep->sandbox, 64) ||
	    copy_str(o, "Name", ep->name, sizeof(ep->name), true) ||
	    copy_str(o, "Ifname", ep->ifname, sizeof(ep->ifname), false) ||
	    copy_str(o, "Veth", ep->veth, sizeof(ep->veth), false) ||
	    !net__valid_ifname(ep->veth) || !net__valid_ifname(ep->ifname) ||
	    strncmp(ep->ifname, "eth", 3) ||
	    copy_str(o, "IP", ip, sizeof(ip), false) ||
	    net__parse_ip(ip, &ep->ip) < 0 ||
	    copy_str(o, "Mac", ep->mac, sizeof(ep->mac), false) ||
	    net__parse_mac(ep->mac, mac) < 0 ||
	    copy_str(o, "EndpointID", ep->ep_id, sizeof(ep->ep_id), false) ||
	    (al && !json_is_array(al)) || (ports && !json_is_array(ports)) ||
	    json_array_size(al) > 64 || json_array_size(ports) > 4096)
		return -EINVAL;
	ep->aliases = shoal_calloc(json_array_size(al) + 1, sizeof(char *));
	ep->ports =
		shoal_calloc(json_array_size(ports) + 1, sizeof(*ep->ports));
	if (!ep->aliases || !ep->ports)
		return -ENOMEM;
	json_array_foreach(al, i, x)
	{
		if (!json_is_string(x) ||
		    !(ep->aliases[i] = shoal_strdup(json_string_value(x))))
			return -EINVAL;
	}
	json_array_foreach(ports, i, x)
	{
		if (load_port(x, &ep->ports[i]) < 0)
			return -EINVAL;
		ep->n_ports++;
	}
	/* The servers are checked again (net_resolver_check_servers()) when
	 * the resolver is given them. */
	if (load_strv(o, "Dns", NET_RESOLVER_MAX_SERVERS, 45, &ep->dns) < 0 ||
	    load_strv(o, "DnsSearch", 64, 253, &ep->dns_search) < 0)
		return -EINVAL;
	return 0;
}

static int load_addrs(const json_t *r, struct net__net *w)
{
	char s[24];
	uint32_t gw;

	if (copy_str(r, "Subnet", s, sizeof(s), false) ||
	    net__parse_cidr(s, &w->subnet, NULL, false) < 0 ||
	    copy_str(r, "IPRange", s, sizeof(s), false) ||
	    net__parse_cidr(s, &w->range, NULL, false) < 0 ||
	    copy_str(r, "Gateway", s, sizeof(s), false) ||
	    net__parse_ip(s, &gw) < 0 ||
	    copy_str(r, "LastIP", s, sizeof(s), false) ||
	    net__parse_ip(s, &w->last_ip) < 0)
		return -EINVAL;
	w->gateway = gw;
	return 0;
}

int net__load_record(const json_t *r, struct net__net **out,
		     struct shoal_err *err)
{
	struct net__net *w = shoal_calloc(1, sizeof(*w));
	const json_t *eps = json_object_get(r, "Endpoints"), *x;
	const char *drv = jsonx_str(r, "Driver", "");
	size_t i;
	int rc = -EINVAL;

	if (!w)
		return -ENOMEM;
	if (!json_is_object(r) ||
	    copy_str(r, "Id", w->id, sizeof(w->id), false) ||
	    !(id_is_hex(w->id, 64) || overlay_of(r, w)) ||
	    copy_str(r, "Name", w->name, sizeof(w->name), false) ||
	    copy_str(r, "Created", w->created, sizeof(w->created), true) ||
	    copy_str(r, "Bridge", w->bridge, sizeof(w->bridge), true)) {
		rc = bad(err, "id, name or bridge");
		goto err_free;
	}
	w->kind = !strcmp(drv, "host")	 ? NET_KIND_HOST
		  : !strcmp(drv, "null") ? NET_KIND_NULL
					 : NET_KIND_BRIDGE;
	if (strcmp(drv, net__kind_name(w->kind))) {
		rc = bad(err, "driver");
		goto err_free;
	}
	if (w->vni) {
		char br[16], vx[16];
		ovl_vxlan_names(w->vni, br, vx);
		if (strcmp(w->bridge, br) || w->kind != NET_KIND_BRIDGE) {
			rc = bad(err, "overlay bridge");
			goto err_free;
		}
	}
	w->predefined = jsonx_bool(r, "Predefined", false);
	w->internal = jsonx_bool(r, "Internal", false);
	w->attachable = jsonx_bool(r, "Attachable", false);
	if (w->kind == NET_KIND_BRIDGE &&
	    (!net__valid_ifname(w->bridge) || load_addrs(r, w) < 0 ||
	     !net__contains(&w->subnet, w->gateway) ||
	     !net__overlaps(&w->subnet, &w->range) ||
	     w->range.len < w->subnet.len)) {
		rc = bad(err, "bridge, subnet, range or gateway");
		goto err_free;
	}
	w->labels = json_object_get(r, "Labels");
	w->options = json_object_get(r, "Options");
	w->labels = json_is_object(w->labels) ? json_deep_copy(w->labels)
					      : json_object();
	w->options = json_is_object(w->options) ? json_deep_copy(w->options)
						: json_object();
	if ((eps && !json_is_array(eps)) || json_array_size(eps) > 65536) {
		rc = bad(err, "endpoints");
		goto err_free;
	}
	w->eps = shoal_calloc(json_array_size(eps) + 1, sizeof(*w->eps));
	if (!w->eps || !w->labels || !w->options) {
		rc = -ENOMEM;
		goto err_free;
	}
	json_array_foreach(eps, i, x)
	{
		w->n_eps++;
		rc = load_ep(x, &w->eps[i]);
		if (rc == 0 && (w->kind != NET_KIND_BRIDGE ||
				!net__contains(&w->subnet, w->eps[i].ip)))
			rc = -EINVAL;
		if (rc < 0) {
			if (rc == -EINVAL)
				bad(err, "endpoint");
			goto err_free;
		}
	}
	*out = w;
	return 0;
err_free:
	net__net_free(w);
	return rc;
}

int net__save(struct net *n, const struct net__net *w)
{
	char path[PATH_MAX], tmp[PATH_MAX + 8];
	json_t *r = net__record(w);
	char *text;
	size_t len;
	int fd, rc;

	if (!r)
		return -ENOMEM;
	text = jsonx_dump(r, &len);
	json_decref(r);
	if (!text)
		return -ENOMEM;
	snprintf(path, sizeof(path), "%s/%s.json", n->dir, w->id);
	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0) {
		rc = -errno;
		goto err_free;
	}
	rc = fd_write_all(fd, text, len);
	if (rc == 0 && fdatasync(fd) < 0)
		rc = -errno;
	close(fd);
	if (rc == 0 && rename(tmp, path) < 0)
		rc = -errno;
	if (rc < 0)
		unlink(tmp);
err_free:
	shoal_free(text);
	return rc;
}

void net__unsave(struct net *n, const struct net__net *w)
{
	char path[PATH_MAX];

	snprintf(path, sizeof(path), "%s/%s.json", n->dir, w->id);
	unlink(path);
}
