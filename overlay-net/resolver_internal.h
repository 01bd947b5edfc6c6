/*
 * Internal to the resolver (resolver.c, resolver_tcp.c, resolver_forward.c,
 * resolver_ns.c): the objects and their lifetimes.
 *
 * A struct net_resolver owns a map of attached containers. A struct
 * rs_ctr owns its UDP socket, its TCP listener and its TCP connections
 * (struct rs_conn); it is freed when the last of those handles has closed
 * (refs). A forwarded query (struct rs_fwd) is listed on its container and
 * counted against the container's and the resolver's caps from start to
 * finish; finishing it (answer relayed, failure, cancel) unlists it at once,
 * and its memory goes when its timer and upstream handle have closed.
 */
#ifndef SHOAL_OVERLAY_NET_RESOLVER_INTERNAL_H
#define SHOAL_OVERLAY_NET_RESOLVER_INTERNAL_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>

#include "common/list.h"
#include "common/log.h"
#include "common/map.h"
#include "overlay-net/dns.h"
#include "overlay-net/resolver.h"

#define RS_MAX_UPSTREAM NET_RESOLVER_MAX_SERVERS
#define RS_MAX_TCP_TOTAL 1024
#define RS_TCP_WRITE_QUEUE_MAX (256 * 1024)

struct net_resolver {
	struct net_resolver_config cfg;
	struct sockaddr_storage upstream[RS_MAX_UPSTREAM];
	unsigned n_upstream;
	struct hmap ctrs; /* id -> struct rs_ctr */
	unsigned alive;	  /* containers not yet freed */
	unsigned n_fwd;	  /* outstanding forwards, every container */
	unsigned n_tcp;	  /* open TCP connections, every container */
	bool closing;
	struct log_ratelimit rl;
	uint8_t rbuf[DNS_MAX_MSG + 2]; /* receive buffer (one loop thread) */
};

struct rs_ctr {
	struct net_resolver *r;
	char *id;
	char **search; /* lower case, NULL-terminated */
	/* The container's own servers (--dns); n_upstream 0: the daemon's. */
	struct sockaddr_storage upstream[RS_MAX_UPSTREAM];
	unsigned n_upstream;
	uv_udp_t udp;
	uv_tcp_t listener;
	unsigned refs; /* handles not yet closed */
	bool detached;
	unsigned n_fwd;
	unsigned n_tcp;
	struct list_node fwds;	/* struct rs_fwd */
	struct list_node conns; /* struct rs_conn */
};

struct rs_conn {
	struct rs_ctr *ctr;
	struct list_node node;
	uv_tcp_t tcp;
	uv_timer_t idle;
	unsigned refs; /* 2 handles */
	bool closing;
	uint8_t hdr[2];
	size_t have;  /* bytes of the current message read, length included */
	uint8_t *msg; /* the message body, once its length is known */
};

/* Where an answer goes: a UDP peer of the container's socket, or a conn. */
struct rs_client {
	struct rs_conn *conn; /* NULL for UDP */
	struct sockaddr_storage addr;
};

/* resolver.c */
void rs__query(struct rs_ctr *c, const struct rs_client *cl, const uint8_t *msg,
	       size_t len);
void rs__reply(struct rs_ctr *c, const struct rs_client *cl, const uint8_t *msg,
	       size_t len);
void rs__reply_code(struct rs_ctr *c, const struct rs_client *cl,
		    const struct dns_query *q, int rcode);
void rs__ctr_unref(struct rs_ctr *c);
void rs__warn(struct net_resolver *r, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/* resolver_tcp.c */
void rs__tcp_accept(uv_stream_t *listener, int status);
void rs__conn_close(struct rs_conn *conn);
/* Send one message on @conn with its length prefix (closing a stuck one). */
void rs__conn_send(struct rs_conn *conn, const uint8_t *msg, size_t len);

/* resolver_forward.c */
void rs__forward(struct rs_ctr *c, const struct rs_client *cl,
		 const struct dns_query *q);
/* Cancel the forwards of @c (all when @conn is NULL, else @conn's). */
void rs__forward_cancel(struct rs_ctr *c, const struct rs_conn *conn);
int rs__read_resolv_conf(struct net_resolver *r, const char *path);

/* resolver_ns.c */
int rs__ns_sockets(const char *netns_path, int *udp_fd, int *tcp_fd,
		   const char **step);

#endif
