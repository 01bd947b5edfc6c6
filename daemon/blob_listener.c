/*
 * The blob service's listener: see daemon/blob_listener.h. Each accepted
 * connection becomes a server channel of worker/blob_service.c, which
 * checks the peer's certificate (same swarm, a certified node) and
 * streams the blob from disk 256 KiB at a time as the channel's write
 * buffer drains (back-pressure: at most one chunk read per writable
 * turn, never the whole blob on the loop).
 */
#define LOG_MODULE "swarm"
#include "daemon/blob_listener.h"

#include "common/alloc.h"
#include "common/clock.h"
#include "common/error.h"
#include "common/jsonx.h"
#include "common/log.h"
#include "manager/image_holders.h"
#include "worker/blob_service.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

struct daemon_blobs {
	uv_tcp_t tcp;
	uv_loop_t *loop;
	const struct swarm_state *st;
	struct img_store *images;
	struct blobsvc_acl *acl; /* the nodes the managers name */
	struct log_ratelimit rl;
};

static void on_connection(uv_stream_t *server, int status)
{
	struct daemon_blobs *b = server->data;
	const struct swarm_state *st = b->st;
	struct wire_chan_config cfg = {
		.security = WIRE_SECURE,
		.root_pk = st->root_pk,
		.identity = &st->identity,
		.cert = st->cert,
		.cert_len = st->cert_len,
		.peer_name = "blob fetcher",
		.quiet_handshake = true,
	};
	int rc = status < 0
			 ? status
			 : blobsvc_accept_acl(b->loop, server, &cfg, b->images,
					      st->cluster_id, b->acl);
	unsigned long held;
	if (rc < 0 && log_ratelimit_pass(&b->rl, time_mono_ns(), &held))
		log_warn("blob service: a connection could not be served: %s",
			 shoal_strerror(rc));
}

/* "10.0.0.1:2377" -> 10.0.0.1 port @port (IPv4 or [IPv6]). */
static int bind_addr(const char *listen, int port, struct sockaddr_storage *ss)
{
	char host[SWARM_ADDR_MAX];
	snprintf(host, sizeof(host), "%s", listen);
	char *colon = strrchr(host, ':');
	if (colon && !strchr(colon, ']'))
		*colon = '\0';
	memset(ss, 0, sizeof(*ss));
	if (host[0] == '[') {
		char *end = strchr(host, ']');
		if (!end)
			return -EINVAL;
		*end = '\0';
		return uv_ip6_addr(host + 1, port, (struct sockaddr_in6 *)ss);
	}
	return uv_ip4_addr(host, port, (struct sockaddr_in *)ss);
}

static void closed(uv_handle_t *h)
{
	shoal_free(h->data);
}

int daemon__blobs_start(uv_loop_t *loop, const struct swarm_state *st,
			struct img_store *images, int port,
			struct daemon_blobs **out, char *err, size_t errlen)
{
	struct sockaddr_storage ss;
	port = port ? port : MGR_BLOB_PORT;
	if (!images) {
		snprintf(err, errlen, "this node has no image store");
		return -ENOENT;
	}
	if (bind_addr(st->listen_addr, port, &ss) < 0) {
		snprintf(err, errlen, "invalid listen address \"%s\"",
			 st->listen_addr);
		return -EINVAL;
	}
	struct daemon_blobs *b = shoal_calloc(1, sizeof(*b));
	if (!b)
		return -ENOMEM;
	b->loop = loop;
	b->st = st;
	b->images = images;
	b->rl.interval_ns = 10 * NSEC_PER_SEC;
	b->acl = blobsvc_acl_new(loop);
	int rc = b->acl ? uv_tcp_init(loop, &b->tcp) : -ENOMEM;
	if (rc < 0) {
		blobsvc_acl_free(b->acl);
		shoal_free(b);
		snprintf(err, errlen, "%s", uv_strerror(rc));
		return rc;
	}
	b->tcp.data = b;
	rc = uv_tcp_bind(&b->tcp, (struct sockaddr *)&ss, 0);
	if (rc == 0)
		rc = uv_listen((uv_stream_t *)&b->tcp, 64, on_connection);
	if (rc < 0) {
		snprintf(err, errlen, "cannot listen on port %d: %s", port,
			 uv_strerror(rc));
		blobsvc_acl_free(b->acl);
		uv_close((uv_handle_t *)&b->tcp, closed);
		return rc;
	}
	*out = b;
	return 0;
}

void daemon__blobs_stop(struct daemon_blobs *b)
{
	if (!b)
		return;
	blobsvc_acl_free(b->acl); /* its connections end too */
	uv_close((uv_handle_t *)&b->tcp, closed);
}

void daemon__blobs_assigned(struct daemon_blobs *b,
			    const struct agent_item *items, size_t n)
{
	if (!b)
		return;
	const struct agent_item *item = NULL;
	int rc = 0;
	for (size_t i = 0; rc == 0 && i < n; i++) {
		json_t *o = NULL;
		if (jsonx_parse((const char *)items[i].data, items[i].len, &o,
				NULL, 0) == 0 &&
		    !strcmp(jsonx_str(o, "Kind", ""), "blob-clients")) {
			if (item)
				rc = -EINVAL; /* one set, never two */
			item = &items[i];
		}
		json_decref(o);
	}
	/* No item: no task elsewhere needs an image of this node. */
	if (rc == 0)
		rc = item ? blobsvc_acl_set_item(b->acl, item->data, item->len)
			  : blobsvc_acl_set(b->acl, NULL, 0);
	if (rc < 0)
		log_warn("blob service: the managers' set of nodes that may "
			 "fetch from this node is refused (%s); the previous "
			 "one stays",
			 rc == -EINVAL ? "malformed" : shoal_strerror(rc));
	else if (rc > 0)
		log_info("blob service: %d connection(s) of nodes no longer "
			 "allowed to fetch from this node closed",
			 rc);
}
