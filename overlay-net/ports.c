/*
 * Published ports: Docker's HostConfig.PortBindings ({"80/tcp":
 * [{"HostIp": "", "HostPort": "8080"}]}, with PublishAllPorts every
 * ExposedPorts key on an ephemeral port) into struct net_port, and the
 * allocation of host ports: a host port (protocol, address) belongs to
 * one container at a time, across every network; an ephemeral one is the
 * first free of 32768-60999 (Docker's default range); a range "8000-8010"
 * gives the first free of the range. A port some other process on the
 * host already holds is refused too (a trial bind), since the DNAT would
 * silently steal its traffic.
 *
 * Docker's sentences: "Bind for 0.0.0.0:8080 failed: port is already
 * allocated", "invalid port specification: ...".
 */
#include "common/alloc.h"
#include "common/jsonx.h"
#include "overlay-net/internal.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define EPHEMERAL_LO 32768
#define EPHEMERAL_HI 60999

static int parse_num(const char *s, size_t len, bool zero_ok, uint16_t *out)
{
	unsigned long v = 0;

	if (!len || len > 5)
		return -EINVAL;
	for (size_t i = 0; i < len; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -EINVAL;
		v = v * 10 + (unsigned long)(s[i] - '0');
	}
	if (v > 65535 || (!zero_ok && v == 0))
		return -EINVAL;
	*out = (uint16_t)v;
	return 0;
}

/* "80/tcp", "53/udp", "80" (tcp) */
static int parse_key(const char *k, struct net_port *p)
{
	const char *slash = strchr(k, '/');
	size_t len = slash ? (size_t)(slash - k) : strlen(k);
	const char *proto = slash ? slash + 1 : "tcp";

	if (strcmp(proto, "tcp") && strcmp(proto, "udp"))
		return -EINVAL;
	snprintf(p->proto, sizeof(p->proto), "%s", proto);
	return parse_num(k, len, false, &p->ctr_port);
}

/* "8080", "8000-8010", "" (ephemeral) */
static int parse_host(const char *s, struct net_port *p)
{
	const char *dash = strchr(s, '-');

	if (!*s) {
		p->host_lo = p->host_hi = 0;
		return 0;
	}
	if (!dash) {
		if (parse_num(s, strlen(s), true, &p->host_lo) < 0)
			return -EINVAL;
		p->host_hi = p->host_lo;
		return 0;
	}
	if (parse_num(s, (size_t)(dash - s), false, &p->host_lo) < 0 ||
	    parse_num(dash + 1, strlen(dash + 1), false, &p->host_hi) < 0 ||
	    p->host_hi < p->host_lo)
		return -EINVAL;
	return 0;
}

static int push(struct net_port **v, size_t *n, const struct net_port *p)
{
	struct net_port *x;

	if (*n >= 4096)
		return -E2BIG;
	x = shoal_realloc(*v, (*n + 1) * sizeof(*x));
	if (!x)
		return -ENOMEM;
	*v = x;
	x[(*n)++] = *p;
	return 0;
}

static bool listed(const struct net_port *v, size_t n, const struct net_port *p)
{
	for (size_t i = 0; i < n; i++)
		if (v[i].ctr_port == p->ctr_port &&
		    !strcmp(v[i].proto, p->proto))
			return true;
	return false;
}

int net_ports_parse(const json_t *bindings, const json_t *exposed,
		    bool publish_all, struct net_port **out, size_t *n,
		    struct shoal_err *err)
{
	const char *k;
	json_t *v, *b;
	size_t i;
	int rc = 0;

	*out = NULL;
	*n = 0;
	json_object_foreach((json_t *)bindings, k, v)
	{
		struct net_port p = {0};
		if (parse_key(k, &p) < 0) {
			net__err(err, "invalid port specification: \"%s\"", k);
			rc = -EINVAL;
			goto err_free;
		}
		if (json_is_null(v) || !json_array_size(v)) {
			/* "80/tcp": [] publishes on an ephemeral port. */
			if ((rc = push(out, n, &p)) < 0)
				goto err_free;
			continue;
		}
		json_array_foreach(v, i, b)
		{
			struct net_port q = p;
			const char *hip = jsonx_str(b, "HostIp", "");
			const char *hp = jsonx_str(b, "HostPort", "");
			uint32_t ip;
			if (*hip && net__parse_ip(hip, &ip) < 0) {
				net__err(err,
					 "invalid IP address: %s (only "
					 "IPv4 addresses are published)",
					 hip);
				rc = -EINVAL;
				goto err_free;
			}
			if (parse_host(hp, &q) < 0) {
				net__err(err,
					 "invalid port specification: \"%s\"",
					 hp);
				rc = -EINVAL;
				goto err_free;
			}
			snprintf(q.host_ip, sizeof(q.host_ip), "%s", hip);
			if ((rc = push(out, n, &q)) < 0)
				goto err_free;
		}
	}
	json_object_foreach((json_t *)(publish_all ? exposed : NULL), k, v)
	{
		struct net_port p = {0};
		if (parse_key(k, &p) < 0) {
			net__err(err, "invalid port specification: \"%s\"", k);
			rc = -EINVAL;
			goto err_free;
		}
		if (!listed(*out, *n, &p) && (rc = push(out, n, &p)) < 0)
			goto err_free;
	}
	return 0;
err_free:
	if (rc == -E2BIG)
		net__err(err, "too many published ports (at most 4096)");
	shoal_free(*out);
	*out = NULL;
	*n = 0;
	return rc == -E2BIG ? -EINVAL : rc;
}

/* --- allocation ----------------------------------------------------------- */

static bool ips_meet(const char *a, const char *b)
{
	bool any_a = !*a || !strcmp(a, "0.0.0.0");
	bool any_b = !*b || !strcmp(b, "0.0.0.0");

	return any_a || any_b || !strcmp(a, b);
}

/* Whether host port @port/@proto on @ip is held by an endpoint (other
 * than those in @mine, n_mine of them, not yet in the records). */
static bool held(struct net *n, const char *proto, const char *ip,
		 uint16_t port, const struct net__port *mine, size_t n_mine)
{
	for (size_t i = 0; i < n_mine; i++)
		if (mine[i].host == port && !strcmp(mine[i].p.proto, proto) &&
		    ips_meet(mine[i].p.host_ip, ip))
			return true;
	for (size_t i = 0; i < n->n_nets; i++)
		for (size_t j = 0; j < n->nets[i]->n_eps; j++) {
			const struct net__ep *ep = &n->nets[i]->eps[j];
			for (size_t k = 0; k < ep->n_ports; k++)
				if (ep->ports[k].host == port &&
				    !strcmp(ep->ports[k].p.proto, proto) &&
				    ips_meet(ep->ports[k].p.host_ip, ip))
					return true;
		}
	return false;
}

/* Whether a process of this namespace holds the port (a trial bind). */
static bool busy_on_host(const char *proto, const char *ip, uint16_t port)
{
	struct sockaddr_in sa = {.sin_family = AF_INET,
				 .sin_port = htons(port)};
	int fd = socket(AF_INET,
			(strcmp(proto, "udp") ? SOCK_STREAM : SOCK_DGRAM) |
				SOCK_CLOEXEC,
			0);
	bool busy;

	if (fd < 0)
		return false;
	if (*ip)
		inet_pton(AF_INET, ip, &sa.sin_addr);
	busy = bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 &&
	       errno == EADDRINUSE;
	close(fd);
	return busy;
}

int net__ports_alloc(struct net *n, const struct net_port *req, size_t nreq,
		     struct net__port **out, struct shoal_err *err)
{
	struct net__port *v = shoal_calloc(nreq + 1, sizeof(*v));

	if (!v)
		return -ENOMEM;
	for (size_t i = 0; i < nreq; i++) {
		const struct net_port *p = &req[i];
		const char *ip = p->host_ip[0] ? p->host_ip : "0.0.0.0";
		bool eph = p->host_lo == 0;
		unsigned lo = eph ? EPHEMERAL_LO : p->host_lo;
		unsigned hi = eph ? EPHEMERAL_HI : p->host_hi;
		unsigned port;

		v[i].p = *p;
		for (port = lo; port <= hi; port++)
			if (!held(n, p->proto, p->host_ip, (uint16_t)port, v,
				  i) &&
			    (n->dry_run || !busy_on_host(p->proto, p->host_ip,
							 (uint16_t)port)))
				break;
		if (port > hi) {
			if (eph)
				net__err(err,
					 "no free host port left for "
					 "%u/%s in %d-%d",
					 p->ctr_port, p->proto, EPHEMERAL_LO,
					 EPHEMERAL_HI);
			else if (lo == hi)
				net__err(err,
					 "Bind for %s:%u failed: port is "
					 "already allocated",
					 ip, lo);
			else
				net__err(err,
					 "Bind for %s:%u-%u failed: every "
					 "port of the range is already "
					 "allocated",
					 ip, lo, hi);
			shoal_free(v);
			return SHOAL_ECONFLICT;
		}
		v[i].host = (uint16_t)port;
	}
	*out = v;
	return 0;
}
