/*
 * The blob service: see worker/blob_service.h.
 */
#define LOG_MODULE "blobsvc"

#include "worker/blob_service.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "common/alloc.h"
#include "common/clock.h"
#include "common/error.h"
#include "common/jsonx.h"
#include "common/list.h"
#include "common/log.h"
#include "image/blob.h"

#define ERRMSG_MAX 512

int blobsvc_frame_parse(const uint8_t *data, size_t len,
			enum blobsvc_kind *kind, const uint8_t **payload,
			size_t *plen)
{
	if (!len)
		return -EINVAL;
	const uint8_t *p = data + 1;
	size_t n = len - 1;
	char hex[65];
	switch (data[0]) {
	case BLOBSVC_BLOB:
		if (img_blob_digest_parse(p, n, hex, NULL) < 0)
			return -EINVAL;
		break;
	case BLOBSVC_DATA:
		break;
	case BLOBSVC_END:
		if (n)
			return -EINVAL;
		break;
	case BLOBSVC_ERROR:
		if (!n || n > ERRMSG_MAX)
			return -EINVAL;
		for (size_t i = 0; i < n; i++)
			if (p[i] < 0x20 || p[i] > 0x7e)
				return -EINVAL;
		break;
	default:
		return -EINVAL;
	}
	*kind = (enum blobsvc_kind)data[0];
	*payload = p;
	*plen = n;
	return 0;
}

/* ---- the holder ---- */

struct blobsvc_acl {
	char **ids;
	size_t n;
	struct list_node conns;	 /* server_conn.node: the channels it guards */
	size_t n_conns;		 /* on that list (BLOBSVC_MAX_CONNS at most) */
	uv_timer_t reap;	 /* closes refused channels once flushed */
	struct log_ratelimit rl; /* of the refusals' log lines */
};

#define REAP_MS 100
#define REAP_MAX 20 /* ticks a refusal may take to flush */

struct server_conn {
	struct img_store *s;
	struct blobsvc_acl *acl; /* NULL: every certified node of the swarm */
	struct list_node node;	 /* in acl->conns while acl */
	struct wire_chan *c;
	char peer[WIRE_ID_MAX + 1]; /* the certificate's node id */
	bool denied;		    /* refused: 'X' sent, closing */
	unsigned reap_ticks;
	char cluster_id[WIRE_ID_MAX + 1];
	bool plain;
	bool trusted; /* the peer passed connected()'s checks */
	int fd;	      /* the blob being sent, or -1 */
	uint64_t off, size;
	uint8_t *buf; /* 1 + BLOBSVC_CHUNK */
};

static int send_error(struct wire_chan *c, const char *msg)
{
	char f[1 + ERRMSG_MAX];
	f[0] = BLOBSVC_ERROR;
	size_t n = strnlen(msg, ERRMSG_MAX);
	for (size_t i = 0; i < n; i++)
		f[1 + i] = msg[i] >= 0x20 && msg[i] <= 0x7e ? msg[i] : '?';
	if (!n)
		f[1 + n++] = '?';
	return wire_chan_send(c, f, 1 + n);
}

/* Sends what fits in the write buffer; the rest when writable(). */
static void pump(struct wire_chan *c, struct server_conn *sc)
{
	while (sc->fd >= 0) {
		if (sc->off == sc->size) {
			uint8_t end = BLOBSVC_END;
			int rc = wire_chan_send(c, &end, 1);
			if (rc == -ENOBUFS)
				return;
			close(sc->fd);
			sc->fd = -1;
			if (rc < 0)
				wire_chan_close(c);
			return;
		}
		size_t want = sc->size - sc->off < BLOBSVC_CHUNK
				      ? (size_t)(sc->size - sc->off)
				      : BLOBSVC_CHUNK;
		ssize_t r = pread(sc->fd, sc->buf + 1, want, (off_t)sc->off);
		if (r <= 0) {
			/* The file shrank or failed under us: the fetcher
			 * would see a wrong blob anyway; say so. */
			close(sc->fd);
			sc->fd = -1;
			send_error(c, "the holder cannot read this blob");
			return;
		}
		sc->buf[0] = BLOBSVC_DATA;
		int rc = wire_chan_send(c, sc->buf, 1 + (size_t)r);
		if (rc == -ENOBUFS)
			return; /* same offset again when writable */
		if (rc < 0) {
			wire_chan_close(c);
			return;
		}
		sc->off += (uint64_t)r;
	}
}

/* Refused channels whose 'X' is out (or that took too long) are closed,
 * whatever their peer does. */
static void reap(uv_timer_t *t)
{
	struct blobsvc_acl *a = t->data;
	bool more = false;
	struct list_node *p, *tmp;
	list_for_each_safe(p, tmp, &a->conns)
	{
		struct server_conn *sc =
			list_entry(p, struct server_conn, node);
		if (!sc->denied)
			continue;
		if (!wire_chan_queued(sc->c) || ++sc->reap_ticks >= REAP_MAX)
			wire_chan_close(sc->c);
		else
			more = true;
	}
	if (!more)
		uv_timer_stop(t);
}

/* The peer is not (or no longer) among the nodes the managers name: say
 * so, then close once the refusal is out (or at its next frame). */
static void deny(struct wire_chan *c, struct server_conn *sc)
{
	char msg[ERRMSG_MAX];
	unsigned long held = 0;
	if (!sc->acl || log_ratelimit_pass(&sc->acl->rl, time_mono_ns(), &held))
		log_warn("blob service: node %s (%s) refused: the managers "
			 "name no task of it that needs an image of this node "
			 "(%lu other refusal(s) not logged)",
			 sc->peer, wire_chan_name(c), held);
	snprintf(msg, sizeof(msg),
		 BLOBSVC_DENIED "node %s has no task the managers gave "
				"that needs an image of this node (a node "
				"removed from the swarm, or not yet told)",
		 sc->peer);
	sc->trusted = false;
	sc->denied = true;
	if (sc->fd >= 0) {
		close(sc->fd);
		sc->fd = -1;
	}
	/* Not sent at once (a full write buffer mid-blob): closed without
	 * it, the fetcher sees the connection end. */
	if (send_error(c, msg) < 0 || !wire_chan_queued(c))
		wire_chan_close(c);
	else if (sc->acl && !uv_is_active((uv_handle_t *)&sc->acl->reap))
		uv_timer_start(&sc->acl->reap, reap, REAP_MS, REAP_MS);
}

static void server_connected(struct wire_chan *c, const struct wire_peer *p)
{
	struct server_conn *sc = wire_chan_data(c);
	if (sc->plain) {
		sc->trusted = true;
		return;
	}
	if (!p->authenticated || p->joined) {
		log_warn("blob service: %s refused: not a certified node",
			 wire_chan_name(c));
		wire_chan_close(c);
		return;
	}
	if (strcmp(p->cert.cluster_id, sc->cluster_id)) {
		log_warn("blob service: %s refused: its certificate names "
			 "another swarm",
			 wire_chan_name(c));
		wire_chan_close(c);
		return;
	}
	snprintf(sc->peer, sizeof(sc->peer), "%s", p->cert.node_id);
	if (sc->acl && !blobsvc_acl_allows(sc->acl, sc->peer)) {
		deny(c, sc);
		return;
	}
	sc->trusted = true;
}

static void server_frame(struct wire_chan *c, const uint8_t *data, size_t len)
{
	struct server_conn *sc = wire_chan_data(c);
	if (sc->denied) {
		if (!wire_chan_queued(c))
			wire_chan_close(c);
		return;
	}
	if (!sc->trusted || sc->fd >= 0) {
		/* A request while one is being served: out of protocol. */
		wire_chan_close(c);
		return;
	}
	char hex[65];
	struct shoal_err err = {0};
	if (img_blob_digest_parse(data, len, hex, &err) < 0) {
		send_error(c, err.msg);
		return;
	}
	char digest[80], blob[80];
	snprintf(digest, sizeof(digest), "sha256:%s", hex);
	snprintf(blob, sizeof(blob), "%s", digest);
	int rc = img_blob_open(sc->s, digest, &sc->fd, &sc->size, &err);
	if (rc == -ENOENT)
		rc = img_blob_open_layer(sc->s, digest, &sc->fd, &sc->size,
					 blob, &err);
	if (rc < 0) {
		sc->fd = -1;
		send_error(c, err.msg);
		return;
	}
	sc->off = 0;
	uint8_t head[1 + 71];
	head[0] = BLOBSVC_BLOB;
	memcpy(head + 1, blob, 71);
	if (wire_chan_send(c, head, sizeof(head)) < 0) {
		wire_chan_close(c);
		return;
	}
	pump(c, sc);
}

static void server_writable(struct wire_chan *c)
{
	struct server_conn *sc = wire_chan_data(c);
	if (sc->denied) {
		if (!wire_chan_queued(c))
			wire_chan_close(c);
		return;
	}
	pump(c, sc);
}

static void server_closed(struct wire_chan *c, int reason)
{
	struct server_conn *sc = wire_chan_data(c);
	if (sc->fd >= 0)
		close(sc->fd);
	if (sc->acl) {
		list_remove(&sc->node);
		sc->acl->n_conns--;
	}
	shoal_free(sc->buf);
	shoal_free(sc);
}

static const struct wire_chan_callbacks server_cbs = {
	.connected = server_connected,
	.frame = server_frame,
	.writable = server_writable,
	.closed = server_closed,
};

static struct server_conn *server_conn_new(const struct wire_chan_config *cfg,
					   struct img_store *s,
					   const char *cluster_id,
					   struct blobsvc_acl *acl)
{
	if (!cluster_id || strlen(cluster_id) > WIRE_ID_MAX)
		return NULL;
	struct server_conn *sc = shoal_calloc(1, sizeof(*sc));
	if (!sc)
		return NULL;
	sc->buf = shoal_malloc(1 + BLOBSVC_CHUNK);
	if (!sc->buf) {
		shoal_free(sc);
		return NULL;
	}
	sc->s = s;
	sc->acl = acl;
	sc->fd = -1;
	sc->plain = cfg->security == WIRE_PLAIN;
	snprintf(sc->cluster_id, sizeof(sc->cluster_id), "%s", cluster_id);
	return sc;
}

/* A channel opened for @sc: joins its acl's list. */
static void opened(struct server_conn *sc, struct wire_chan *c)
{
	sc->c = c;
	if (sc->acl) {
		list_push_back(&sc->acl->conns, &sc->node);
		sc->acl->n_conns++;
	}
}

int blobsvc_serve_fd_acl(uv_loop_t *loop, int fd,
			 const struct wire_chan_config *cfg,
			 struct img_store *s, const char *cluster_id,
			 struct blobsvc_acl *acl)
{
	struct server_conn *sc = server_conn_new(cfg, s, cluster_id, acl);
	if (!sc) {
		close(fd);
		return -ENOMEM;
	}
	struct wire_chan *c;
	int rc = wire_chan_open(loop, fd, true, cfg, &server_cbs, sc, &c);
	if (rc < 0) {
		shoal_free(sc->buf);
		shoal_free(sc);
		return rc;
	}
	opened(sc, c);
	return 0;
}

int blobsvc_serve_fd(uv_loop_t *loop, int fd,
		     const struct wire_chan_config *cfg, struct img_store *s,
		     const char *cluster_id)
{
	return blobsvc_serve_fd_acl(loop, fd, cfg, s, cluster_id, NULL);
}

static void refused_closed(uv_handle_t *h)
{
	shoal_free(h);
}

int blobsvc_accept_acl(uv_loop_t *loop, uv_stream_t *listener,
		       const struct wire_chan_config *cfg, struct img_store *s,
		       const char *cluster_id, struct blobsvc_acl *acl)
{
	if (acl && acl->n_conns >= BLOBSVC_MAX_CONNS) {
		/* Taken off the backlog and closed at once: left there, it
		 * would be offered again on every turn of the loop. */
		uv_tcp_t *t = shoal_calloc(1, sizeof(*t));
		if (!t)
			return -ENOMEM;
		uv_tcp_init(loop, t);
		(void)uv_accept(listener, (uv_stream_t *)t);
		uv_close((uv_handle_t *)t, refused_closed);
		return -EMFILE;
	}
	struct server_conn *sc = server_conn_new(cfg, s, cluster_id, acl);
	if (!sc)
		return -ENOMEM;
	struct wire_chan *c;
	int rc = wire_chan_accept(loop, listener, cfg, &server_cbs, sc, &c);
	if (rc < 0) {
		shoal_free(sc->buf);
		shoal_free(sc);
		return rc;
	}
	opened(sc, c);
	return 0;
}

int blobsvc_accept(uv_loop_t *loop, uv_stream_t *listener,
		   const struct wire_chan_config *cfg, struct img_store *s,
		   const char *cluster_id)
{
	return blobsvc_accept_acl(loop, listener, cfg, s, cluster_id, NULL);
}

/* ---- who may fetch ---- */

struct blobsvc_acl *blobsvc_acl_new(uv_loop_t *loop)
{
	struct blobsvc_acl *a = shoal_calloc(1, sizeof(*a));
	if (!a)
		return NULL;
	list_init(&a->conns);
	a->rl.interval_ns = NSEC_PER_SEC;
	if (uv_timer_init(loop, &a->reap) < 0) {
		shoal_free(a);
		return NULL;
	}
	a->reap.data = a;
	return a;
}

static void acl_closed(uv_handle_t *h)
{
	shoal_free(h->data);
}

static void ids_free(char **ids, size_t n)
{
	for (size_t i = 0; i < n; i++)
		shoal_free(ids[i]);
	shoal_free(ids);
}

void blobsvc_acl_free(struct blobsvc_acl *a)
{
	if (!a)
		return;
	while (!list_empty(&a->conns)) {
		struct server_conn *sc = list_entry(list_front(&a->conns),
						    struct server_conn, node);
		list_remove(&sc->node);
		a->n_conns--;
		sc->acl = NULL;
		sc->trusted = false; /* nothing more is served */
		wire_chan_close(sc->c);
	}
	ids_free(a->ids, a->n);
	a->ids = NULL;
	uv_close((uv_handle_t *)&a->reap, acl_closed);
}

static bool id_ok(const char *id)
{
	size_t l = id ? strlen(id) : 0;
	if (!l || l > WIRE_ID_MAX)
		return false;
	for (const char *p = id; *p; p++)
		if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
		      (*p >= '0' && *p <= '9') || *p == '_' || *p == '-'))
			return false;
	return true;
}

bool blobsvc_acl_allows(const struct blobsvc_acl *a, const char *node_id)
{
	for (size_t i = 0; a && node_id && i < a->n; i++)
		if (!strcmp(a->ids[i], node_id))
			return true;
	return false;
}

int blobsvc_acl_set(struct blobsvc_acl *a, const char *const *ids, size_t n)
{
	if (n > BLOBSVC_ACL_MAX)
		return -EINVAL;
	for (size_t i = 0; i < n; i++)
		if (!id_ok(ids[i]))
			return -EINVAL;
	char **v = n ? shoal_calloc(n, sizeof(*v)) : NULL;
	if (n && !v)
		return -ENOMEM;
	for (size_t i = 0; i < n; i++) {
		v[i] = shoal_strdup(ids[i]);
		if (!v[i]) {
			ids_free(v, i);
			return -ENOMEM;
		}
	}
	ids_free(a->ids, a->n);
	a->ids = v;
	a->n = n;
	int closed = 0;
	struct list_node *p, *tmp;
	list_for_each_safe(p, tmp, &a->conns)
	{
		struct server_conn *sc =
			list_entry(p, struct server_conn, node);
		if (sc->denied) {
			wire_chan_close(sc->c); /* refused before: done now */
		} else if (sc->trusted && !blobsvc_acl_allows(a, sc->peer)) {
			closed++;
			deny(sc->c, sc);
		}
	}
	return closed;
}

/* ---- the fetcher ---- */

struct fetch {
	struct img_store *s;
	char digest[80];
	unsigned flags;
	uint64_t max;
	struct img_blob_rx *rx;
	bool done;
	blobsvc_done_fn *cb;
	void *arg;
	struct blobsvc_watch *watch; /* the caller's, or NULL */
};

static void finish(struct wire_chan *c, struct fetch *f, int rc,
		   const char *path, const char *msg)
{
	if (f->done)
		return;
	f->done = true;
	uint64_t got = f->rx ? img_blob_rx_received(f->rx) : 0;
	if (rc < 0 || !path) {
		img_blob_rx_abort(f->rx);
		f->rx = NULL;
	}
	f->cb(rc, path, msg, got, f->arg);
	if (c)
		wire_chan_close(c);
}

static void fetch_connected(struct wire_chan *c, const struct wire_peer *p)
{
	struct fetch *f = wire_chan_data(c);
	int rc = wire_chan_send(c, f->digest, strlen(f->digest));
	if (rc < 0)
		finish(c, f, rc, NULL, "cannot send the request to the holder");
}

static void fetch_frame(struct wire_chan *c, const uint8_t *data, size_t len)
{
	struct fetch *f = wire_chan_data(c);
	if (f->done)
		return;
	enum blobsvc_kind kind;
	const uint8_t *p;
	size_t n;
	char msg[ERRMSG_MAX + 128];
	struct shoal_err err = {0};
	/* 'B' first (or 'X'), then 'D's and 'E' (or 'X'). */
	bool bad = blobsvc_frame_parse(data, len, &kind, &p, &n) < 0;
	if (!bad && kind != BLOBSVC_ERROR)
		bad = (kind == BLOBSVC_BLOB) != !f->rx;
	if (bad) {
		snprintf(msg, sizeof(msg),
			 "%s: the holder %s sent a malformed frame; try "
			 "another holder",
			 f->digest, wire_chan_name(c));
		finish(c, f, -EPROTO, NULL, msg);
		return;
	}
	switch (kind) {
	case BLOBSVC_BLOB: {
		char blob[80];
		snprintf(blob, sizeof(blob), "%.*s", (int)n, (const char *)p);
		if (!(f->flags & BLOBSVC_LAYER) && strcmp(blob, f->digest)) {
			snprintf(msg, sizeof(msg),
				 "%s: the holder %s offered blob %s instead; "
				 "try another holder",
				 f->digest, wire_chan_name(c), blob);
			finish(c, f, -EPROTO, NULL, msg);
			return;
		}
		int rc = img_blob_rx_begin(f->s, blob, f->max, &f->rx, &err);
		if (rc < 0) {
			f->rx = NULL;
			finish(c, f, rc, NULL, err.msg);
		} else if (f->watch) {
			snprintf(f->watch->blob, sizeof(f->watch->blob), "%s",
				 blob);
		}
		return;
	}
	case BLOBSVC_DATA:
		if (img_blob_rx_feed(f->rx, p, n, &err) < 0)
			finish(c, f, -EFBIG, NULL, err.msg);
		else if (f->watch)
			f->watch->received = img_blob_rx_received(f->rx);
		return;
	case BLOBSVC_ERROR:
		snprintf(msg, sizeof(msg), "%s: the holder %s refused: %.*s",
			 f->digest, wire_chan_name(c), (int)n, (const char *)p);
		finish(c, f,
		       n >= sizeof(BLOBSVC_DENIED) - 1 &&
				       !memcmp(p, BLOBSVC_DENIED,
					       sizeof(BLOBSVC_DENIED) - 1)
			       ? -EACCES
			       : -ENOENT,
		       NULL, msg);
		return;
	case BLOBSVC_END: {
		char *path = NULL;
		uint64_t got = img_blob_rx_received(f->rx);
		int rc = img_blob_rx_finish(f->rx, &path, &err);
		f->rx = NULL;
		if (rc < 0) {
			f->done = true;
			f->cb(rc, NULL, err.msg, got, f->arg);
			wire_chan_close(c);
			return;
		}
		f->done = true;
		f->cb(0, path, NULL, got, f->arg);
		shoal_free(path);
		wire_chan_close(c);
		return;
	}
	}
}

static void fetch_closed(struct wire_chan *c, int reason)
{
	struct fetch *f = wire_chan_data(c);
	if (!f->done) {
		char msg[256];
		uint64_t got = f->rx ? img_blob_rx_received(f->rx) : 0;
		snprintf(msg, sizeof(msg),
			 "%s: the connection to the holder %s ended after "
			 "%llu bytes (%s); try another holder",
			 f->digest, wire_chan_name(c), (unsigned long long)got,
			 reason ? shoal_strerror(reason) : "closed");
		finish(NULL, f, reason ? reason : -ECONNRESET, NULL, msg);
	}
	img_blob_rx_abort(f->rx);
	shoal_free(f);
}

static const struct wire_chan_callbacks fetch_cbs = {
	.connected = fetch_connected,
	.frame = fetch_frame,
	.closed = fetch_closed,
};

static struct fetch *fetch_new(struct img_store *s, const char *digest,
			       unsigned flags, uint64_t max,
			       blobsvc_done_fn *done, void *arg)
{
	char hex[65];
	if (!digest ||
	    img_blob_digest_parse(digest, strlen(digest), hex, NULL) < 0)
		return NULL;
	struct fetch *f = shoal_calloc(1, sizeof(*f));
	if (!f)
		return NULL;
	f->s = s;
	snprintf(f->digest, sizeof(f->digest), "sha256:%s", hex);
	f->flags = flags;
	f->max = max;
	f->cb = done;
	f->arg = arg;
	return f;
}

int blobsvc_fetch_fd(uv_loop_t *loop, int fd,
		     const struct wire_chan_config *cfg, struct img_store *s,
		     const char *digest, unsigned flags, uint64_t max,
		     blobsvc_done_fn *done, void *arg)
{
	return blobsvc_fetch_fd_watch(loop, fd, cfg, s, digest, flags, max,
				      NULL, done, arg);
}

int blobsvc_fetch_fd_watch(uv_loop_t *loop, int fd,
			   const struct wire_chan_config *cfg,
			   struct img_store *s, const char *digest,
			   unsigned flags, uint64_t max,
			   struct blobsvc_watch *w, blobsvc_done_fn *done,
			   void *arg)
{
	struct fetch *f = fetch_new(s, digest, flags, max, done, arg);
	if (!f) {
		close(fd);
		return -EINVAL;
	}
	f->watch = w;
	struct wire_chan *c;
	int rc = wire_chan_open(loop, fd, false, cfg, &fetch_cbs, f, &c);
	if (rc < 0)
		shoal_free(f);
	return rc;
}

int blobsvc_fetch_addr(uv_loop_t *loop, const struct sockaddr *addr,
		       const struct wire_chan_config *cfg, struct img_store *s,
		       const char *digest, unsigned flags, uint64_t max,
		       blobsvc_done_fn *done, void *arg)
{
	return blobsvc_fetch_addr_watch(loop, addr, cfg, s, digest, flags, max,
					NULL, done, arg);
}

int blobsvc_fetch_addr_watch(uv_loop_t *loop, const struct sockaddr *addr,
			     const struct wire_chan_config *cfg,
			     struct img_store *s, const char *digest,
			     unsigned flags, uint64_t max,
			     struct blobsvc_watch *w, blobsvc_done_fn *done,
			     void *arg)
{
	struct fetch *f = fetch_new(s, digest, flags, max, done, arg);
	if (!f)
		return -EINVAL;
	f->watch = w;
	struct wire_chan *c;
	int rc = wire_chan_connect(loop, addr, cfg, &fetch_cbs, f, &c);
	if (rc < 0)
		shoal_free(f);
	return rc;
}

int blobsvc_acl_set_item(struct blobsvc_acl *a, const void *data, size_t len)
{
	json_t *o = NULL;
	if (jsonx_parse(data, len, &o, NULL, 0) < 0 || !json_is_object(o) ||
	    strcmp(jsonx_str(o, "Kind", ""), "blob-clients")) {
		json_decref(o);
		return -EINVAL;
	}
	const json_t *nodes = json_object_get(o, "Nodes");
	size_t n = json_array_size(nodes), i;
	json_t *v;
	if (!json_is_array(nodes) || n > BLOBSVC_ACL_MAX) {
		json_decref(o);
		return -EINVAL;
	}
	const char **ids = shoal_calloc(n ? n : 1, sizeof(*ids));
	int rc = ids ? 0 : -ENOMEM;
	json_array_foreach(nodes, i, v)
	{
		if (rc == 0 && !json_is_string(v))
			rc = -EINVAL;
		if (rc == 0)
			ids[i] = json_string_value(v);
	}
	if (rc == 0)
		rc = blobsvc_acl_set(a, ids, n);
	shoal_free(ids);
	json_decref(o);
	return rc;
}
