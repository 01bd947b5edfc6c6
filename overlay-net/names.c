/*
 * Names on user-defined networks: what the resolver at 127.0.0.11
 * (resolver.h) answers a container with, and when a container is attached
 * to it.
 *
 * As Docker's embedded DNS: a container on at least one user-defined
 * network gets the resolver (its /etc/resolv.conf names 127.0.0.11); it
 * finds the containers of the networks it shares with them by name, by
 * network alias, by short id (12 digits) and as "<name>.<network>", each
 * answering with the address on the shared network. A name of the form
 * "<x>.<network>" for one of its networks that nobody holds is NXDOMAIN;
 * anything else is "not ours" and goes upstream. The default `bridge` has
 * no names: its containers are not attached (unless they are also on a
 * user network, and then only that network's names are theirs).
 *
 * On an overlay (overlay.c) the managers' service records come first:
 * a service's name answers its VIP (or its Ready tasks with dnsrr),
 * tasks.NAME every Ready task, a task's name its address, aliases as
 * their service; only to containers on that overlay.
 *
 * PTR: an address of a shared user network held by a container answers
 * "<name>.<network>"; an unheld one of such a subnet is NXDOMAIN.
 *
 * A container is attached when its first user-network endpoint is bound to
 * it (create, connect), after a restart of shoald (the sockets died with
 * the old process; net_reconcile()), and when its namespace is made again
 * (net_ctr_ensure()); detached when its last user-network endpoint goes.
 */
#define LOG_MODULE "net"
#include "common/alloc.h"
#include "common/log.h"
#include "overlay-net/internal.h"
#include "overlay-net/resolver.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

static struct net__ep *ep_of(struct net__net *w, const char *id)
{
	for (size_t i = 0; i < w->n_eps; i++)
		if (!strcmp(w->eps[i].ctr, id))
			return &w->eps[i];
	return NULL;
}

static bool named(const struct net__ep *ep, const char *name)
{
	if (!strcasecmp(ep->name, name) ||
	    (strlen(name) == 12 && !strncmp(ep->ctr, name, 12)))
		return true;
	for (size_t i = 0; ep->aliases && ep->aliases[i]; i++)
		if (!strcasecmp(ep->aliases[i], name))
			return true;
	return false;
}

bool net__has_names(const struct net *n, const char *id)
{
	for (size_t i = 0; i < n->n_nets; i++)
		if (!n->nets[i]->predefined && ep_of(n->nets[i], id) != NULL)
			return true;
	return false;
}

int net__lookup(void *arg, const char *ctr, const char *name,
		struct in_addr *out, size_t cap)
{
	struct net *n = arg;
	size_t k = 0;
	bool own_domain = false;

	for (size_t i = 0; i < n->n_nets && k < cap; i++) {
		struct net__net *w = n->nets[i];
		size_t nl = strlen(w->name), len = strlen(name);
		char base[256];
		const char *want = name;
		if (w->predefined || !ep_of(w, ctr))
			continue;
		/* "<x>.<network>": x on that network only. */
		if (len > nl + 1 && name[len - nl - 1] == '.' &&
		    !strcasecmp(name + len - nl, w->name)) {
			snprintf(base, sizeof(base), "%.*s",
				 (int)(len - nl - 1), name);
			want = base;
			own_domain = true;
		}
		/* An overlay's service records first (a service's name is
		 * its VIP, not the alias of a task that happens to be here). */
		for (size_t j = 0; j < w->n_names && k < cap; j++) {
			const struct net__name *r = &w->names[j];
			if (strcasecmp(r->name, want))
				continue;
			for (size_t a = 0; a < r->n && k < cap; a++)
				out[k++].s_addr = htonl(r->addrs[a]);
		}
		if (k)
			return (int)k;
		for (size_t j = 0; j < w->n_eps && k < cap; j++)
			if (named(&w->eps[j], want))
				out[k++].s_addr = htonl(w->eps[j].ip);
	}
	if (k)
		return (int)k;
	return own_domain ? SHOAL_ENOTFOUND : 0;
}

int net__reverse(void *arg, const char *ctr, struct in_addr addr, char *name,
		 size_t cap)
{
	struct net *n = arg;
	uint32_t ip = ntohl(addr.s_addr);
	bool ours = false;

	for (size_t i = 0; i < n->n_nets; i++) {
		struct net__net *w = n->nets[i];
		if (w->predefined || !ep_of(w, ctr) ||
		    !net__contains(&w->subnet, ip))
			continue;
		ours = true;
		for (size_t j = 0; j < w->n_eps; j++)
			if (w->eps[j].ip == ip && w->eps[j].name[0]) {
				snprintf(name, cap, "%s.%s", w->eps[j].name,
					 w->name);
				return 1;
			}
	}
	return ours ? SHOAL_ENOTFOUND : 0;
}

void net__names_attach(struct net *n, const char *id, const char *sandbox)
{
	struct shoal_err err = {""};
	const struct net__ep *dns = NULL;
	char path[PATH_MAX];
	int rc;

	if (!n->resolver || !net__has_names(n, id) ||
	    net__netns_path(n, sandbox, path, sizeof(path)) < 0)
		return;
	/* The servers and search domains it was created with (--dns,
	 * --dns-search), on one of its endpoints. */
	for (size_t i = 0; i < n->n_nets && !dns; i++) {
		struct net__ep *ep = ep_of(n->nets[i], id);
		if (ep && (ep->dns || ep->dns_search))
			dns = ep;
	}
	net_resolver_detach(n->resolver, id);
	rc = net_resolver_attach(
		n->resolver, id, path,
		dns ? (const char *const *)dns->dns_search : NULL, &err);
	if (rc == 0 && dns && dns->dns &&
	    (rc = net_resolver_set_servers(
		     n->resolver, id, (const char *const *)dns->dns, &err)) < 0)
		net_resolver_detach(n->resolver, id);
	if (rc < 0)
		log_warn("container=%.12s: no name resolution: %s", id,
			 err.msg[0] ? err.msg : shoal_strerror(rc));
}

void net__names_detach(struct net *n, const char *id)
{
	if (n->resolver && !net__has_names(n, id))
		net_resolver_detach(n->resolver, id);
}
