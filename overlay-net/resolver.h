/*
 * The embedded DNS resolver at 127.0.0.11 (Docker's "embedded DNS server").
 *
 * Each container on a user-defined network gets a UDP socket and a TCP
 * listener bound to 127.0.0.11:53 inside its own network namespace; both
 * live on the daemon's libuv loop. A query for a name the daemon knows
 * (container name, alias, short id; later service names, tasks.NAME) is
 * answered from the lookup callback; an in-addr.arpa PTR query from the
 * reverse callback; anything else is forwarded to the container's own
 * servers when it has some (net_resolver_set_servers(), Docker's
 * "ExtServers" from --dns), else to the nameservers of the daemon's own
 * resolv.conf, always from the daemon's own network namespace, and the
 * answer relayed to the container with its original id.
 *
 * Everything a container sends is hostile input: queries are parsed
 * strictly (dns.h), ANY and zone transfers are refused, forwarded queries and
 * TCP connections are capped per container and in total, logs that a
 * container can cause are rate-limited, and memory is bounded.
 *
 * Threads: every function here, and every callback, runs on the loop's
 * thread. net_resolver_attach() opens the sockets on a short-lived thread of
 * its own that enters the container's network namespace; the loop's thread
 * never changes namespace.
 */
#ifndef SHOAL_OVERLAY_NET_RESOLVER_H
#define SHOAL_OVERLAY_NET_RESOLVER_H

#include <netinet/in.h>
#include <stddef.h>

#include <uv.h>

#include "common/error.h"

/* The address the resolver listens on inside each container, and its TTL. */
#define NET_RESOLVER_ADDR "127.0.0.11"
#define NET_RESOLVER_TTL 600

/* The most addresses one lookup may return (the @cap the callback gets). */
#define NET_RESOLVER_MAX_ADDRS 64

struct net_resolver;

/**
 * net_resolver_lookup_fn - the addresses of @name as seen from container
 * @ctr_id (its networks, aliases, later service VIPs and tasks.NAME).
 * @name is lower case, without the trailing dot ("web", "web.mynet",
 * "tasks.api"); every label is made of [a-z0-9_-] only (other names are never
 * looked up but forwarded). Fill at most @cap addresses of @out.
 *
 * Returns the number of addresses written (> 0: answered with A records),
 * 0 when the name is not ours (the query is forwarded upstream), or
 * SHOAL_ENOTFOUND when the name is in the container's own domain but unknown
 * (answered NXDOMAIN, never forwarded). Runs on the loop thread, must not
 * block. The resolver shuffles the addresses of each answer (DNS round
 * robin), so the order returned does not matter.
 */
typedef int net_resolver_lookup_fn(void *arg, const char *ctr_id,
				   const char *name, struct in_addr *out,
				   size_t cap);

/**
 * net_resolver_reverse_fn - the name of @addr (network byte order) as seen
 * from container @ctr_id, for PTR queries of in-addr.arpa. Write the name,
 * without the trailing dot, NUL-terminated, into @name (@cap bytes, at least
 * 256).
 *
 * Returns 1 when @name was written (answered with a PTR record), 0 when the
 * address is not ours (forwarded upstream), or SHOAL_ENOTFOUND for an address
 * of the container's own networks that no one holds (NXDOMAIN). A name that
 * is not a valid DNS name is answered SERVFAIL.
 */
typedef int net_resolver_reverse_fn(void *arg, const char *ctr_id,
				    struct in_addr addr, char *name,
				    size_t cap);

struct net_resolver_config {
	uv_loop_t *loop;
	net_resolver_lookup_fn *lookup;
	net_resolver_reverse_fn *reverse; /* NULL: every PTR query forwarded */
	void *arg;			  /* passed to both callbacks */
	/*
	 * The upstream servers' file, read once at open (its "nameserver"
	 * lines, IPv4 and IPv6, port 53, at most 3, as glibc). NULL means
	 * "/etc/resolv.conf" of the daemon's own mount namespace. A missing
	 * file or one without nameserver lines is not an error: forwarded
	 * queries are then answered SERVFAIL at once.
	 */
	const char *resolv_conf;
	/* Limits; 0 takes the default in brackets. */
	unsigned forward_timeout_ms;  /* per upstream server try [2000] */
	unsigned max_forward_per_ctr; /* outstanding forwards [64] */
	unsigned max_forward_total;   /* outstanding forwards [1024] */
	unsigned max_tcp_per_ctr;     /* open TCP connections [16] */
	unsigned tcp_idle_ms;	      /* TCP idle timeout [10000] */
};

/**
 * net_resolver_open() - a resolver on @cfg->loop with no container attached.
 * @cfg is copied (resolv_conf is read now, not kept). *@out is owned: free
 * with net_resolver_close(). Returns 0, -EINVAL (no loop or no lookup),
 * -ENOMEM, or an error reading resolv_conf other than ENOENT.
 */
int net_resolver_open(const struct net_resolver_config *cfg,
		      struct net_resolver **out);

/**
 * net_resolver_attach() - listen at 127.0.0.11:53 (UDP and TCP) inside the
 * network namespace at @netns_path (e.g. /proc/PID/ns/net or a bind mount
 * of it) for container @ctr_id, bringing that namespace's lo up first.
 * @search: NULL-terminated list of the container's search domains (may be
 * NULL): a name "web.example.com" with search domain "example.com" that
 * the lookup does not know in full is looked up as "web" too, before being
 * forwarded. All arguments are copied. Call before the container's process
 * starts, so that nothing else holds the port.
 *
 * Returns 0; -EEXIST when @ctr_id is already attached; -EINVAL; a negative
 * errno of open/setns/socket/bind (e.g. -EADDRINUSE, -EPERM without
 * CAP_SYS_ADMIN), with @err (may be NULL) saying which step failed and for
 * which container.
 */
int net_resolver_attach(struct net_resolver *r, const char *ctr_id,
			const char *netns_path, const char *const *search,
			struct shoal_err *err);

/* The most upstream servers of one container (as glibc's resolv.conf). */
#define NET_RESOLVER_MAX_SERVERS 3

/**
 * net_resolver_check_servers() - parse @servers (NULL-terminated, may be
 * NULL or empty), a container's own upstream servers (--dns): each an IPv4
 * or IPv6 address without port (port 53 is used), at most
 * NET_RESOLVER_MAX_SERVERS. Fills @out (may be NULL) and *@n (may be NULL).
 * Returns 0, or -EINVAL with @err (may be NULL) naming the bad entry.
 */
int net_resolver_check_servers(const char *const *servers,
			       struct sockaddr_storage *out, unsigned *n,
			       struct shoal_err *err);

/**
 * net_resolver_set_servers() - forward the queries of attached container
 * @ctr_id that the lookup does not answer to @servers (checked as
 * net_resolver_check_servers()) instead of the daemon's servers; NULL or
 * empty goes back to the daemon's. A query being forwarded moves to the new
 * list at its next try. Every limit of the forwarder applies as before. Returns
 * 0, -EINVAL with @err, or SHOAL_ENOTFOUND when @ctr_id is not attached.
 */
int net_resolver_set_servers(struct net_resolver *r, const char *ctr_id,
			     const char *const *servers, struct shoal_err *err);

/**
 * net_resolver_detach() - close the container's sockets and connections and
 * drop its queries still being forwarded (their answers are discarded). A
 * container not attached is ignored. Safe to call from a lookup callback of
 * another container, not of the one being detached.
 */
void net_resolver_detach(struct net_resolver *r, const char *ctr_id);

/**
 * net_resolver_close() - detach every container and free @r once its handles
 * are closed (a later turn of the loop: run the loop until it has no more
 * active handles before uv_loop_close()). NULL is ignored.
 */
void net_resolver_close(struct net_resolver *r);

#endif
