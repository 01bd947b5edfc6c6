/*
 * The nftables ruleset: one table of Shoal's own, `table inet shoal`, in
 * the daemon's network namespace, derived whole from the network records
 * and replaced in one transaction (`table inet shoal {}` + `delete table`
 * + the new table, one nft_run_cmd_from_buffer() call), so there is never
 * a moment with half a ruleset and no other table is ever touched.
 *
 * What it holds:
 * - ports: published ports as DNAT to the container's address, reached
 *   from prerouting (other hosts, other containers: hairpin) and from
 *   output (the host itself, localhost included: the bridges get
 *   route_localnet, as Docker's do) for packets to a local address;
 * - postrouting: masquerade of each non-internal subnet leaving its
 *   bridge; of hairpin traffic (DNATed, from the same subnet); of
 *   localhost traffic entering a bridge;
 * - forward: internal networks reach only their own bridge; DNATed
 *   traffic is let through; otherwise one bridge never forwards to
 *   another (networks are isolated, as Docker's DOCKER-ISOLATION chains).
 *
 * net__ruleset() is pure text so the unit tests read exactly what the
 * kernel would get.
 */
#include "common/alloc.h"
#include "common/log.h"
#include "overlay-net/internal.h"

#include <errno.h>
#include <nftables/libnftables.h>
#include <stdio.h>
#include <string.h>

static void ports_chain(struct net *n, struct buf *b)
{
	char ip[16];

	buf_printf(b, "\tchain ports {\n");
	for (size_t i = 0; i < n->n_nets; i++) {
		const struct net__net *w = n->nets[i];
		for (size_t j = 0; j < w->n_eps; j++) {
			const struct net__ep *ep = &w->eps[j];
			net__ip_str(ep->ip, ip);
			for (size_t k = 0; k < ep->n_ports; k++) {
				const struct net__port *p = &ep->ports[k];
				buf_printf(b, "\t\t");
				if (p->p.host_ip[0] &&
				    strcmp(p->p.host_ip, "0.0.0.0"))
					buf_printf(b, "ip daddr %s ",
						   p->p.host_ip);
				buf_printf(b, "%s dport %u dnat ip to %s:%u\n",
					   p->p.proto, p->host, ip,
					   p->p.ctr_port);
			}
		}
	}
	buf_printf(b, "\t}\n");
}

static void postrouting_chain(struct net *n, struct buf *b)
{
	char ip[16];

	buf_printf(b, "\tchain postrouting {\n"
		      "\t\ttype nat hook postrouting priority srcnat; "
		      "policy accept;\n");
	for (size_t i = 0; i < n->n_nets; i++) {
		const struct net__net *w = n->nets[i];
		if (w->kind != NET_KIND_BRIDGE)
			continue;
		net__ip_str(w->subnet.addr, ip);
		if (!w->internal)
			buf_printf(b,
				   "\t\tip saddr %s/%d oifname != \"%s\" "
				   "masquerade\n",
				   ip, w->subnet.len, w->bridge);
		buf_printf(b,
			   "\t\toifname \"%s\" ct status dnat ip saddr %s/%d "
			   "masquerade\n",
			   w->bridge, ip, w->subnet.len);
		buf_printf(b,
			   "\t\toifname \"%s\" ip saddr 127.0.0.0/8 "
			   "masquerade\n",
			   w->bridge);
	}
	buf_printf(b, "\t}\n");
}

static void forward_chain(struct net *n, struct buf *b)
{
	size_t nb = 0;

	buf_printf(b, "\tchain forward {\n"
		      "\t\ttype filter hook forward priority filter; "
		      "policy accept;\n");
	for (size_t i = 0; i < n->n_nets; i++) {
		const struct net__net *w = n->nets[i];
		if (w->kind != NET_KIND_BRIDGE)
			continue;
		nb++;
		if (w->internal)
			buf_printf(
				b,
				"\t\tiifname \"%s\" oifname != \"%s\" drop\n"
				"\t\toifname \"%s\" iifname != \"%s\" drop\n",
				w->bridge, w->bridge, w->bridge, w->bridge);
	}
	buf_printf(b, "\t\tct status dnat accept\n");
	for (size_t i = 0; nb > 1 && i < n->n_nets; i++) {
		const struct net__net *w = n->nets[i];
		bool first = true;
		if (w->kind != NET_KIND_BRIDGE || w->internal)
			continue;
		for (size_t j = 0; j < n->n_nets; j++) {
			const struct net__net *o = n->nets[j];
			if (o == w || o->kind != NET_KIND_BRIDGE || o->internal)
				continue;
			if (first)
				buf_printf(b, "\t\tiifname \"%s\" oifname { ",
					   w->bridge);
			buf_printf(b, "%s\"%s\"", first ? "" : ", ", o->bridge);
			first = false;
		}
		if (!first)
			buf_printf(b, " } drop\n");
	}
	buf_printf(b, "\t}\n");
}

int net__ruleset(struct net *n, struct buf *b)
{
	buf_printf(b, "table inet shoal {}\n"
		      "delete table inet shoal\n"
		      "table inet shoal {\n"
		      "\tchain prerouting {\n"
		      "\t\ttype nat hook prerouting priority dstnat; "
		      "policy accept;\n"
		      "\t\tfib daddr type local jump ports\n"
		      "\t}\n"
		      "\tchain output {\n"
		      "\t\ttype nat hook output priority -100; "
		      "policy accept;\n"
		      "\t\tfib daddr type local jump ports\n"
		      "\t}\n");
	ports_chain(n, b);
	postrouting_chain(n, b);
	forward_chain(n, b);
	buf_printf(b, "}\n");
	return b->data ? 0 : -ENOMEM;
}

int net__nft_apply(struct net *n)
{
	struct buf b;
	int rc;

	if (!n->kernel)
		return 0;
	if (!n->nft) {
		n->nft = nft_ctx_new(NFT_CTX_DEFAULT);
		if (!n->nft)
			return -ENOMEM;
		nft_ctx_buffer_error(n->nft);
		nft_ctx_buffer_output(n->nft);
	}
	buf_init(&b, 16 << 20);
	rc = net__ruleset(n, &b);
	if (rc == 0 && nft_run_cmd_from_buffer(n->nft, b.data) != 0) {
		const char *e = nft_ctx_get_error_buffer(n->nft);
		log_write(LOG_LEVEL_WARN, "net",
			  "nftables refused the ruleset: %s", e ? e : "?");
		rc = -EIO;
	}
	buf_fini(&b);
	return rc;
}

void net__nft_flush(struct net *n)
{
	if (!n->kernel)
		return;
	if (!n->nft) {
		n->nft = nft_ctx_new(NFT_CTX_DEFAULT);
		if (!n->nft)
			return;
		nft_ctx_buffer_error(n->nft);
		nft_ctx_buffer_output(n->nft);
	}
	nft_run_cmd_from_buffer(n->nft, "table inet shoal {}\n"
					"delete table inet shoal\n");
}

int net__nft_run_once(const char *text, char *err, size_t errlen)
{
	struct nft_ctx *nft = nft_ctx_new(NFT_CTX_DEFAULT);
	int rc = 0;
	if (!nft)
		return -ENOMEM;
	nft_ctx_buffer_error(nft);
	nft_ctx_buffer_output(nft);
	if (nft_run_cmd_from_buffer(nft, text) != 0) {
		const char *e = nft_ctx_get_error_buffer(nft);
		snprintf(err, errlen, "%s", e ? e : "?");
		rc = -EIO;
	}
	nft_ctx_free(nft);
	return rc;
}
