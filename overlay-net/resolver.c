/*
 * The embedded resolver: containers, their UDP sockets, and the answers it
 * gives from the daemon's own knowledge (resolver.h has the contract).
 *
 * A query arrives on a container's UDP socket (here) or TCP connection
 * (resolver_tcp.c) and goes through rs__query(): parsed strictly by dns.h,
 * refused or answered at once when it is malformed, ANY, or names something
 * the lookup callbacks know, or handed to resolver_forward.c otherwise.
 * Nothing a container sends reaches an assert; a message that cannot even
 * be answered (shorter than a header, or a response) is dropped.
 *
 * Failure modes: a UDP answer the socket cannot take at once (EAGAIN) is
 * dropped, as the network could have; the client asks again. Lines a
 * container can cause are rate-limited (one per 10 s per resolver, with the
 * count held back).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <sodium.h>

#include "common/alloc.h"
#include "common/clock.h"
#include "common/crypto.h"

#define LOG_MODULE "resolver"
#include "overlay-net/resolver_internal.h"

#define DEFAULT_TIMEOUT_MS 2000
#define DEFAULT_FWD_PER_CTR 64
#define DEFAULT_FWD_TOTAL 1024
#define DEFAULT_TCP_PER_CTR 16
#define DEFAULT_TCP_IDLE_MS 10000

void rs__warn(struct net_resolver *r, const char *fmt, ...)
{
	unsigned long held;
	char line[512];
	va_list ap;

	if (!log_ratelimit_pass(&r->rl, time_mono_ns(), &held))
		return;
	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	if (held)
		log_warn("%s (%lu similar lines held back)", line, held);
	else
		log_warn("%s", line);
}

static unsigned or_default(unsigned v, unsigned def)
{
	return v ? v : def;
}

int net_resolver_open(const struct net_resolver_config *cfg,
		      struct net_resolver **out)
{
	struct net_resolver *r;
	int rc;

	if (!cfg || !cfg->loop || !cfg->lookup)
		return -EINVAL;
	if (shoal_crypto_init() < 0)
		return -EIO;
	r = shoal_calloc(1, sizeof(*r));
	if (!r)
		return -ENOMEM;
	r->cfg = *cfg;
	r->cfg.resolv_conf = NULL; /* not kept */
	r->cfg.forward_timeout_ms =
		or_default(cfg->forward_timeout_ms, DEFAULT_TIMEOUT_MS);
	r->cfg.max_forward_per_ctr =
		or_default(cfg->max_forward_per_ctr, DEFAULT_FWD_PER_CTR);
	r->cfg.max_forward_total =
		or_default(cfg->max_forward_total, DEFAULT_FWD_TOTAL);
	r->cfg.max_tcp_per_ctr =
		or_default(cfg->max_tcp_per_ctr, DEFAULT_TCP_PER_CTR);
	r->cfg.tcp_idle_ms = or_default(cfg->tcp_idle_ms, DEFAULT_TCP_IDLE_MS);
	r->rl.interval_ns = 10 * NSEC_PER_SEC;
	rc = rs__read_resolv_conf(r, cfg->resolv_conf ? cfg->resolv_conf
						      : "/etc/resolv.conf");
	if (rc < 0) {
		shoal_free(r);
		return rc;
	}
	if (r->n_upstream == 0)
		log_info("no nameserver in %s: names the daemon does not know "
			 "will be answered SERVFAIL",
			 cfg->resolv_conf ? cfg->resolv_conf
					  : "/etc/resolv.conf");
	*out = r;
	return 0;
}

/* Free a container that never had handles (attach failed early). */
static void ctr_free_unattached(struct rs_ctr *c)
{
	for (char **s = c->search; s && *s; s++)
		shoal_free(*s);
	shoal_free(c->search);
	shoal_free(c->id);
	shoal_free(c);
}

static void ctr_free(struct rs_ctr *c)
{
	struct net_resolver *r = c->r;

	ctr_free_unattached(c);
	r->alive--;
	if (r->closing && r->alive == 0) {
		hmap_fini(&r->ctrs);
		shoal_free(r);
	}
}

void rs__ctr_unref(struct rs_ctr *c)
{
	if (--c->refs == 0)
		ctr_free(c);
}

static void ctr_handle_closed(uv_handle_t *h)
{
	rs__ctr_unref(h->data);
}

static void ctr_shutdown(struct rs_ctr *c)
{
	struct list_node *pos, *tmp;

	c->detached = true;
	rs__forward_cancel(c, NULL);
	list_for_each_safe(pos, tmp, &c->conns)
	{
		rs__conn_close(list_entry(pos, struct rs_conn, node));
	}
	uv_close((uv_handle_t *)&c->udp, ctr_handle_closed);
	uv_close((uv_handle_t *)&c->listener, ctr_handle_closed);
}

void net_resolver_detach(struct net_resolver *r, const char *ctr_id)
{
	struct rs_ctr *c = hmap_del_str(&r->ctrs, ctr_id);

	if (c)
		ctr_shutdown(c);
}

void net_resolver_close(struct net_resolver *r)
{
	struct rs_ctr **all;
	size_t n = 0, pos = 0;
	const void *key;
	size_t klen;
	void *val;

	if (!r)
		return;
	all = shoal_calloc(hmap_len(&r->ctrs) + 1, sizeof(*all));
	if (!all) { /* cannot collect: shut down one at a time */
		while (hmap_next(&r->ctrs, &pos, &key, &klen, &val)) {
			hmap_del(&r->ctrs, key, klen);
			ctr_shutdown(val);
			pos = 0;
		}
	} else {
		while (hmap_next(&r->ctrs, &pos, &key, &klen, &val))
			all[n++] = val;
		for (size_t i = 0; i < n; i++) {
			hmap_del_str(&r->ctrs, all[i]->id);
			ctr_shutdown(all[i]);
		}
		shoal_free(all);
	}
	r->closing = true;
	if (r->alive == 0) {
		hmap_fini(&r->ctrs);
		shoal_free(r);
	}
}

static void udp_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
	struct rs_ctr *c = h->data;

	(void)suggested;
	*buf = uv_buf_init((char *)c->r->rbuf, sizeof(c->r->rbuf));
}

static void udp_recv(uv_udp_t *h, ssize_t nread, const uv_buf_t *buf,
		     const struct sockaddr *addr, unsigned flags)
{
	struct rs_ctr *c = h->data;
	struct rs_client cl = {0};

	if (nread < 0) {
		rs__warn(c->r, "container=%s resolver UDP receive failed: %s",
			 c->id, uv_strerror((int)nread));
		return;
	}
	if (nread == 0 || !addr || (flags & UV_UDP_PARTIAL))
		return;
	memcpy(&cl.addr, addr,
	       addr->sa_family == AF_INET6 ? sizeof(struct sockaddr_in6)
					   : sizeof(struct sockaddr_in));
	rs__query(c, &cl, (const uint8_t *)buf->base, (size_t)nread);
}

static int copy_search(struct rs_ctr *c, const char *const *search)
{
	size_t n = 0;

	while (search && search[n])
		n++;
	c->search = shoal_calloc(n + 1, sizeof(*c->search));
	if (!c->search)
		return -ENOMEM;
	for (size_t i = 0; i < n; i++) {
		size_t len = strlen(search[i]);

		while (len > 0 && search[i][len - 1] == '.')
			len--;
		c->search[i] = shoal_strndup(search[i], len);
		if (!c->search[i])
			return -ENOMEM;
		for (char *p = c->search[i]; *p; p++)
			if (*p >= 'A' && *p <= 'Z')
				*p = (char)(*p - 'A' + 'a');
	}
	return 0;
}

static int ctr_start(struct rs_ctr *c, int udp_fd, int tcp_fd,
		     struct shoal_err *err)
{
	uv_loop_t *loop = c->r->cfg.loop;
	int rc;

	uv_udp_init(loop, &c->udp);
	uv_tcp_init(loop, &c->listener);
	c->udp.data = c;
	c->listener.data = c;
	c->refs = 2;
	rc = uv_udp_open(&c->udp, udp_fd);
	if (rc < 0) {
		close(udp_fd);
		close(tcp_fd);
		goto err;
	}
	rc = uv_tcp_open(&c->listener, tcp_fd);
	if (rc < 0) {
		close(tcp_fd);
		goto err;
	}
	rc = uv_udp_recv_start(&c->udp, udp_alloc, udp_recv);
	if (rc == 0)
		rc = uv_listen((uv_stream_t *)&c->listener, 64, rs__tcp_accept);
	if (rc == 0)
		return 0;
err:
	snprintf(err->msg, sizeof(err->msg),
		 "resolver for container %s: cannot use its sockets: %s", c->id,
		 uv_strerror(rc));
	return rc;
}

int net_resolver_attach(struct net_resolver *r, const char *ctr_id,
			const char *netns_path, const char *const *search,
			struct shoal_err *err)
{
	struct rs_ctr *c;
	struct shoal_err ignored;
	const char *step;
	int rc, udp_fd, tcp_fd;

	if (!err)
		err = &ignored;
	err->msg[0] = 0;
	if (!ctr_id || !*ctr_id || !netns_path || r->closing) {
		snprintf(err->msg, sizeof(err->msg),
			 "resolver: a container id and a network namespace "
			 "path are required");
		return -EINVAL;
	}
	if (hmap_get_str(&r->ctrs, ctr_id)) {
		snprintf(err->msg, sizeof(err->msg),
			 "resolver: container %s is already attached", ctr_id);
		return -EEXIST;
	}
	c = shoal_calloc(1, sizeof(*c));
	if (!c)
		goto err_nomem;
	c->r = r;
	list_init(&c->fwds);
	list_init(&c->conns);
	c->id = shoal_strdup(ctr_id);
	if (!c->id || copy_search(c, search) < 0)
		goto err_free_ctr;
	rc = rs__ns_sockets(netns_path, &udp_fd, &tcp_fd, &step);
	if (rc < 0) {
		snprintf(
			err->msg, sizeof(err->msg),
			"resolver for container %s: cannot %s (%s): %s; is the "
			"container running?",
			ctr_id, step, netns_path, shoal_strerror(rc));
		ctr_free_unattached(c);
		return rc;
	}
	if (hmap_put_str(&r->ctrs, ctr_id, c, NULL) < 0) {
		close(udp_fd);
		close(tcp_fd);
		goto err_free_ctr;
	}
	r->alive++;
	rc = ctr_start(c, udp_fd, tcp_fd, err);
	if (rc < 0) {
		hmap_del_str(&r->ctrs, ctr_id);
		c->detached = true;
		uv_close((uv_handle_t *)&c->udp, ctr_handle_closed);
		uv_close((uv_handle_t *)&c->listener, ctr_handle_closed);
		return rc;
	}
	return 0;

err_free_ctr:
	ctr_free_unattached(c);
err_nomem:
	snprintf(err->msg, sizeof(err->msg),
		 "resolver for container %s: out of memory", ctr_id);
	return -ENOMEM;
}

int net_resolver_check_servers(const char *const *servers,
			       struct sockaddr_storage *out, unsigned *n,
			       struct shoal_err *err)
{
	struct sockaddr_storage tmp[NET_RESOLVER_MAX_SERVERS];
	unsigned k = 0;

	if (!out)
		out = tmp;
	for (size_t i = 0; servers && servers[i]; i++) {
		const char *s = servers[i];

		if (k >= NET_RESOLVER_MAX_SERVERS) {
			if (err)
				snprintf(err->msg, sizeof(err->msg),
					 "too many --dns servers: at most %d "
					 "(as resolv.conf)",
					 NET_RESOLVER_MAX_SERVERS);
			return -EINVAL;
		}
		unsigned char raw[16];

		memset(&out[k], 0, sizeof(out[k]));
		/* inet_pton: no scope id, no port, nothing after. */
		if ((inet_pton(AF_INET, s, raw) != 1 &&
		     inet_pton(AF_INET6, s, raw) != 1) ||
		    (uv_ip4_addr(s, 53, (struct sockaddr_in *)&out[k]) != 0 &&
		     uv_ip6_addr(s, 53, (struct sockaddr_in6 *)&out[k]) != 0)) {
			if (err)
				snprintf(err->msg, sizeof(err->msg),
					 "invalid --dns \"%.64s\": an IPv4 or "
					 "IPv6 address such as 10.0.0.53",
					 s);
			return -EINVAL;
		}
		k++;
	}
	if (n)
		*n = k;
	return 0;
}

int net_resolver_set_servers(struct net_resolver *r, const char *ctr_id,
			     const char *const *servers, struct shoal_err *err)
{
	struct sockaddr_storage up[NET_RESOLVER_MAX_SERVERS];
	struct rs_ctr *c;
	unsigned n = 0;
	int rc;

	if (err)
		err->msg[0] = 0;
	rc = net_resolver_check_servers(servers, up, &n, err);
	if (rc < 0)
		return rc;
	c = ctr_id ? hmap_get_str(&r->ctrs, ctr_id) : NULL;
	if (!c || c->detached) {
		if (err)
			snprintf(err->msg, sizeof(err->msg),
				 "resolver: container %s is not attached",
				 ctr_id ? ctr_id : "(none)");
		return SHOAL_ENOTFOUND;
	}
	memcpy(c->upstream, up, sizeof(up));
	c->n_upstream = n;
	return 0;
}

/* Send @msg to @cl: a datagram at once or dropped, or a TCP frame. */
void rs__reply(struct rs_ctr *c, const struct rs_client *cl, const uint8_t *msg,
	       size_t len)
{
	uv_buf_t buf = uv_buf_init((char *)msg, (unsigned)len);
	int rc;

	if (c->detached)
		return;
	if (cl->conn) {
		rs__conn_send(cl->conn, msg, len);
		return;
	}
	rc = uv_udp_try_send(&c->udp, &buf, 1,
			     (const struct sockaddr *)&cl->addr);
	if (rc < 0)
		rs__warn(c->r, "container=%s resolver answer dropped: %s",
			 c->id, uv_strerror(rc));
}

static size_t reply_limit(const struct rs_client *cl, const struct dns_query *q)
{
	return cl->conn ? DNS_MAX_MSG : q->udp_limit;
}

static void send_reply(struct rs_ctr *c, const struct rs_client *cl,
		       const struct dns_query *q, const struct dns_reply *rep)
{
	uint8_t out[DNS_UDP_MAX];
	int n;

	n = dns_build_reply(q, rep, reply_limit(cl, q), out, sizeof(out));
	if (n == -EINVAL && rep->ptr) {
		struct dns_reply fail = {.rcode = DNS_RCODE_SERVFAIL};

		rs__warn(c->r,
			 "container=%s reverse lookup gave an invalid "
			 "name \"%.64s\": answered SERVFAIL",
			 c->id, rep->ptr);
		n = dns_build_reply(q, &fail, reply_limit(cl, q), out,
				    sizeof(out));
	}
	if (n > 0)
		rs__reply(c, cl, out, (size_t)n);
}

void rs__reply_code(struct rs_ctr *c, const struct rs_client *cl,
		    const struct dns_query *q, int rcode)
{
	struct dns_reply rep = {.rcode = rcode};

	send_reply(c, cl, q, &rep);
}

static void shuffle(struct in_addr *a, size_t n)
{
	for (size_t i = n; i > 1; i--) {
		size_t j = randombytes_uniform((uint32_t)i);
		struct in_addr t = a[i - 1];

		a[i - 1] = a[j];
		a[j] = t;
	}
}

/*
 * The lookup of @name, then of @name without each search domain it ends
 * with: > 0 addresses, 0 not ours, SHOAL_ENOTFOUND, or another error.
 */
static int lookup(struct rs_ctr *c, const char *name, struct in_addr *a)
{
	struct net_resolver *r = c->r;
	size_t len = strlen(name);
	int n;

	n = r->cfg.lookup(r->cfg.arg, c->id, name, a, NET_RESOLVER_MAX_ADDRS);
	for (char **s = c->search; n == 0 && *s; s++) {
		size_t sl = strlen(*s);
		char base[DNS_MAX_NAME + 1];

		if (sl == 0 || len <= sl + 1 || name[len - sl - 1] != '.' ||
		    strcmp(name + len - sl, *s) != 0)
			continue;
		memcpy(base, name, len - sl - 1);
		base[len - sl - 1] = 0;
		n = r->cfg.lookup(r->cfg.arg, c->id, base, a,
				  NET_RESOLVER_MAX_ADDRS);
	}
	return n > NET_RESOLVER_MAX_ADDRS ? NET_RESOLVER_MAX_ADDRS : n;
}

/* A PTR query of in-addr.arpa: true when answered here. */
static bool answer_reverse(struct rs_ctr *c, const struct rs_client *cl,
			   const struct dns_query *q)
{
	struct net_resolver *r = c->r;
	struct dns_reply rep = {.aa = true, .ttl = NET_RESOLVER_TTL};
	char name[DNS_MAX_NAME + 1];
	struct in_addr addr;
	int n;

	if (!r->cfg.reverse || dns_name_ptr_addr(&q->q, &addr) < 0)
		return false;
	n = r->cfg.reverse(r->cfg.arg, c->id, addr, name, sizeof(name));
	if (n == 0)
		return false;
	name[sizeof(name) - 1] = 0;
	if (n > 0)
		rep.ptr = name;
	else
		rep.rcode = n == SHOAL_ENOTFOUND ? DNS_RCODE_NXDOMAIN
						 : DNS_RCODE_SERVFAIL;
	send_reply(c, cl, q, &rep);
	return true;
}

/* A name of the daemon's: true when answered here. */
static bool answer_local(struct rs_ctr *c, const struct rs_client *cl,
			 const struct dns_query *q)
{
	struct dns_reply rep = {.aa = true, .ttl = NET_RESOLVER_TTL};
	struct in_addr addrs[NET_RESOLVER_MAX_ADDRS];
	char name[DNS_MAX_NAME + 1];
	int n;

	if (dns_name_text(&q->q, name, sizeof(name)) < 0)
		return false;
	n = lookup(c, name, addrs);
	if (n == 0)
		return false;
	if (n > 0 && q->q.qtype == DNS_TYPE_A) {
		shuffle(addrs, (size_t)n);
		rep.a = addrs;
		rep.n_a = (size_t)n;
	} else if (n < 0) {
		/* AAAA and the other types of our names: NOERROR, no data. */
		rep.rcode = n == SHOAL_ENOTFOUND ? DNS_RCODE_NXDOMAIN
						 : DNS_RCODE_SERVFAIL;
	}
	send_reply(c, cl, q, &rep);
	return true;
}

void rs__query(struct rs_ctr *c, const struct rs_client *cl, const uint8_t *msg,
	       size_t len)
{
	struct dns_query q;
	int rc;

	rc = dns_parse_query(msg, len, &q);
	if (rc < 0)
		return;
	if (rc > 0) {
		rs__reply_code(c, cl, &q, rc);
		return;
	}
	if (q.q.qtype == DNS_TYPE_PTR && answer_reverse(c, cl, &q))
		return;
	if (answer_local(c, cl, &q))
		return;
	rs__forward(c, cl, &q);
}
