/*
 * Unit tests of the blob service (worker/blob_service.h) over a socket
 * pair and the swarm's secure channel: a certified node of the same swarm
 * fetches an image's config and layers, each verified; a blob corrupted
 * in the holder's store is refused by the fetcher; a blob the holder's
 * images do not name is refused by the holder; a node of another swarm,
 * or one whose certificate names another cluster under the same root, is
 * served nothing; a holder gone mid-transfer ends the fetch with a clear
 * message; the holder's frames are decoded strictly.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include "common/alloc.h"
#include "common/log.h"
#include "image/internal.h"
#include "proto/cert.h"
#include "tests/unit/image/image_fixtures.h"
#include "worker/blob_service.h"
#include "worker/image_fetch.h"

static char run_root[48];
static struct img_store *holder, *fetcher;
static char image_id[65];
static char layer_blob[2][80];
static struct wire_keypair root, other_root;

struct node {
	struct wire_keypair id;
	uint8_t *cert;
	size_t cert_len;
};
static struct node n_holder, n_fetcher, n_stranger, n_other_cluster;

static void node_make(struct node *n, const struct wire_keypair *r,
		      const char *cluster, const char *name)
{
	wire_keypair_generate(&n->id);
	struct wire_cert_info i = {0};
	snprintf(i.cluster_id, sizeof(i.cluster_id), "%s", cluster);
	snprintf(i.node_id, sizeof(i.node_id), "%s", name);
	i.role = WIRE_ROLE_WORKER;
	memcpy(i.public_key, n->id.pk, WIRE_PK_LEN);
	i.not_before = time(NULL) - 60;
	i.not_after = time(NULL) + 3600;
	i.serial = 1;
	assert_int_equal(wire_cert_issue(&i, r->sk, &n->cert, &n->cert_len), 0);
}

static struct wire_chan_config cfg_for(const struct node *n,
				       const struct wire_keypair *r)
{
	struct wire_chan_config c = {0};
	c.security = WIRE_SECURE;
	c.root_pk = r->pk;
	c.identity = &n->id;
	c.cert = n->cert;
	c.cert_len = n->cert_len;
	c.peer_name = "peer";
	c.quiet_handshake = true;
	return c;
}

struct result {
	bool called;
	int rc;
	char hex[65];
	char msg[1024];
	uint64_t got;
};

static void on_done(int rc, const char *path, const char *msg, uint64_t got,
		    void *arg)
{
	struct result *r = arg;
	assert_false(r->called);
	r->called = true;
	r->rc = rc;
	r->got = got;
	if (path) {
		assert_int_equal(fx_sha256_file(path, r->hex), 0);
		unlink(path);
	}
	snprintf(r->msg, sizeof(r->msg), "%s", msg ? msg : "");
}

/* One fetch of @digest from the holder, @fn as the fetching node. */
static struct result fetch_flags(const struct node *fn,
				 const struct wire_keypair *froot,
				 const char *digest, unsigned flags)
{
	uv_loop_t loop;
	int sv[2];
	struct result r = {0};
	assert_int_equal(uv_loop_init(&loop), 0);
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv),
			 0);
	struct wire_chan_config sc = cfg_for(&n_holder, &root);
	struct wire_chan_config cc = cfg_for(fn, froot);
	assert_int_equal(blobsvc_serve_fd(&loop, sv[0], &sc, holder, "swarm1"),
			 0);
	assert_int_equal(blobsvc_fetch_fd(&loop, sv[1], &cc, fetcher, digest,
					  flags, 0, on_done, &r),
			 0);
	assert_int_equal(uv_run(&loop, UV_RUN_DEFAULT), 0);
	assert_int_equal(uv_loop_close(&loop), 0);
	assert_true(r.called);
	return r;
}

static struct result fetch_as(const struct node *fn,
			      const struct wire_keypair *froot,
			      const char *digest)
{
	return fetch_flags(fn, froot, digest, 0);
}

static size_t tmp_entries(void)
{
	char cmd[160];
	snprintf(cmd, sizeof(cmd), "ls -A %s/fetcher/images/tmp | wc -l",
		 run_root);
	FILE *p = popen(cmd, "r");
	assert_non_null(p);
	size_t n = 0;
	assert_int_equal(fscanf(p, "%zu", &n), 1);
	pclose(p);
	return n;
}

static void fetches_config_and_layers_verified(void **state)
{
	(void)state;
	char config[80];
	snprintf(config, sizeof(config), "sha256:%s", image_id);
	const char *digests[] = {config, layer_blob[0], layer_blob[1]};
	for (size_t i = 0; i < 3; i++) {
		struct result r = fetch_as(&n_fetcher, &root, digests[i]);
		assert_int_equal(r.rc, 0);
		assert_string_equal(r.hex, digests[i] + 7);
		assert_true(r.got > 0);
	}
	assert_int_equal(tmp_entries(), 0);
}

static void corrupt_blob_is_refused(void **state)
{
	(void)state;
	char path[400];
	snprintf(path, sizeof(path), "%s/holder/images/blobs/sha256/%s",
		 run_root, layer_blob[0] + 7);
	size_t len;
	char *orig = fx_read(path, &len);
	assert_non_null(orig);
	int fd = open(path, O_WRONLY | O_CLOEXEC);
	assert_true(fd >= 0);
	char b = (char)(orig[len / 2] ^ 0x40);
	assert_int_equal(pwrite(fd, &b, 1, (off_t)(len / 2)), 1);
	struct result r = fetch_as(&n_fetcher, &root, layer_blob[0]);
	assert_int_equal(pwrite(fd, orig + len / 2, 1, (off_t)(len / 2)), 1);
	close(fd);
	free(orig);
	assert_int_equal(r.rc, -EBADMSG);
	assert_non_null(strstr(r.msg, "refused"));
	assert_non_null(strstr(r.msg, layer_blob[0]));
	assert_int_equal(r.got, len);
	assert_int_equal(tmp_entries(), 0);
	/* Restored: served again. */
	r = fetch_as(&n_fetcher, &root, layer_blob[0]);
	assert_int_equal(r.rc, 0);
}

static void unknown_blob_is_refused_by_holder(void **state)
{
	(void)state;
	char digest[80], hex[65];
	fx_sha256("nothing", 7, hex);
	snprintf(digest, sizeof(digest), "sha256:%s", hex);
	struct result r = fetch_as(&n_fetcher, &root, digest);
	assert_int_equal(r.rc, -ENOENT);
	assert_non_null(strstr(r.msg, "no image of this node holds"));
	assert_int_equal(tmp_entries(), 0);
}

static void other_swarms_are_served_nothing(void **state)
{
	(void)state;
	/* Another swarm's root: the handshake fails. */
	struct result r = fetch_as(&n_stranger, &other_root, layer_blob[0]);
	assert_true(r.rc < 0);
	assert_int_equal(r.got, 0);
	assert_non_null(strstr(r.msg, "try another holder"));
	/* Same root, another cluster id: the holder closes. */
	r = fetch_as(&n_other_cluster, &root, layer_blob[0]);
	assert_true(r.rc < 0);
	assert_int_equal(r.got, 0);
	assert_int_equal(tmp_entries(), 0);
}

/* One fetch through a holder that serves only the nodes @acl names. */
static struct result fetch_acl(struct blobsvc_acl *acl, const char *digest)
{
	uv_loop_t loop;
	int sv[2];
	struct result r = {0};
	assert_int_equal(uv_loop_init(&loop), 0);
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv),
			 0);
	struct wire_chan_config sc = cfg_for(&n_holder, &root);
	struct wire_chan_config cc = cfg_for(&n_fetcher, &root);
	assert_int_equal(
		blobsvc_serve_fd_acl(&loop, sv[0], &sc, holder, "swarm1", acl),
		0);
	assert_int_equal(blobsvc_fetch_fd(&loop, sv[1], &cc, fetcher, digest, 0,
					  0, on_done, &r),
			 0);
	assert_int_equal(uv_run(&loop, UV_RUN_DEFAULT), 0);
	assert_int_equal(uv_loop_close(&loop), 0);
	assert_true(r.called);
	return r;
}

/* Only the nodes the managers name are served: the node id of the
 * certificate decides; a malformed set is refused whole. */
static void only_named_nodes_are_served(void **state)
{
	(void)state;
	uv_loop_t aloop;
	assert_int_equal(uv_loop_init(&aloop), 0);
	struct blobsvc_acl *acl = blobsvc_acl_new(&aloop);
	assert_non_null(acl);
	/* Empty: nobody, with the node named in the refusal. */
	struct result r = fetch_acl(acl, layer_blob[0]);
	assert_int_equal(r.rc, -EACCES);
	assert_int_equal(r.got, 0);
	assert_non_null(strstr(r.msg, BLOBSVC_DENIED));
	assert_non_null(strstr(r.msg, "node fetcher"));
	/* Another node named: still not the fetcher. */
	const char *other[] = {"holder", "stranger"};
	assert_int_equal(blobsvc_acl_set(acl, other, 2), 0);
	assert_false(blobsvc_acl_allows(acl, "fetcher"));
	r = fetch_acl(acl, layer_blob[0]);
	assert_int_equal(r.rc, -EACCES);
	/* Named: served. */
	const char *ok[] = {"holder", "fetcher"};
	assert_int_equal(blobsvc_acl_set(acl, ok, 2), 0);
	r = fetch_acl(acl, layer_blob[0]);
	assert_int_equal(r.rc, 0);
	assert_string_equal(r.hex, layer_blob[0] + 7);
	/* Bad ids change nothing. */
	const char *bad[] = {"fetcher", "a/b"};
	assert_int_equal(blobsvc_acl_set(acl, bad, 2), -EINVAL);
	const char *empty[] = {""};
	assert_int_equal(blobsvc_acl_set(acl, empty, 1), -EINVAL);
	assert_true(blobsvc_acl_allows(acl, "fetcher"));
	/* The managers' item: malformed ones change nothing. */
	static const char *const bad_items[] = {
		"{\"Kind\":\"blob-clients\"}",
		"{\"Kind\":\"blob-clients\",\"Nodes\":\"fetcher\"}",
		"{\"Kind\":\"blob-clients\",\"Nodes\":[\"fetcher\",7]}",
		"{\"Kind\":\"secret\",\"Nodes\":[]}",
		"{\"Kind\":\"blob-clients\",\"Nodes\":[\"../x\"]}",
		"[]",
		"{",
	};
	for (size_t i = 0; i < sizeof(bad_items) / sizeof(*bad_items); i++)
		assert_int_equal(blobsvc_acl_set_item(acl, bad_items[i],
						      strlen(bad_items[i])),
				 -EINVAL);
	assert_true(blobsvc_acl_allows(acl, "fetcher"));
	static const char good[] =
		"{\"Kind\":\"blob-clients\",\"Nodes\":[\"n1\",\"n2\"]}";
	assert_int_equal(blobsvc_acl_set_item(acl, good, strlen(good)), 0);
	assert_true(blobsvc_acl_allows(acl, "n2"));
	assert_false(blobsvc_acl_allows(acl, "fetcher"));
	assert_int_equal(tmp_entries(), 0);
	blobsvc_acl_free(acl);
	assert_int_equal(uv_run(&aloop, UV_RUN_DEFAULT), 0);
	assert_int_equal(uv_loop_close(&aloop), 0);
}

struct idle {
	bool connected, closed;
	char err[600];
};

static void idle_connected(struct wire_chan *c, const struct wire_peer *p)
{
	(void)p;
	((struct idle *)wire_chan_data(c))->connected = true;
}

static void idle_frame(struct wire_chan *c, const uint8_t *data, size_t len)
{
	struct idle *i = wire_chan_data(c);
	if (len && data[0] == BLOBSVC_ERROR)
		snprintf(i->err, sizeof(i->err), "%.*s", (int)len - 1,
			 (const char *)data + 1);
}

static void idle_closed(struct wire_chan *c, int reason)
{
	(void)reason;
	((struct idle *)wire_chan_data(c))->closed = true;
}

/* A node served while named, then dropped from the set: its open
 * connection is told why and closed. */
static void connection_closed_when_node_leaves_set(void **state)
{
	(void)state;
	static const struct wire_chan_callbacks cbs = {
		.connected = idle_connected,
		.frame = idle_frame,
		.closed = idle_closed,
	};
	uv_loop_t loop;
	int sv[2];
	struct idle idle = {0};
	struct wire_chan *cc_chan;
	assert_int_equal(uv_loop_init(&loop), 0);
	struct blobsvc_acl *acl = blobsvc_acl_new(&loop);
	const char *ok[] = {"fetcher"};
	assert_int_equal(blobsvc_acl_set(acl, ok, 1), 0);
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv),
			 0);
	struct wire_chan_config sc = cfg_for(&n_holder, &root);
	struct wire_chan_config cc = cfg_for(&n_fetcher, &root);
	assert_int_equal(
		blobsvc_serve_fd_acl(&loop, sv[0], &sc, holder, "swarm1", acl),
		0);
	assert_int_equal(
		wire_chan_open(&loop, sv[1], false, &cc, &cbs, &idle, &cc_chan),
		0);
	for (int i = 0; i < 2000 && !idle.connected; i++)
		uv_run(&loop, UV_RUN_NOWAIT);
	assert_true(idle.connected);
	for (int i = 0; i < 50; i++) { /* the holder's side done too */
		uv_run(&loop, UV_RUN_NOWAIT);
		usleep(1000);
	}
	assert_false(idle.closed);
	/* Still named: nothing closed. */
	assert_int_equal(blobsvc_acl_set(acl, ok, 1), 0);
	const char *other[] = {"holder"};
	assert_int_equal(blobsvc_acl_set(acl, other, 1), 1);
	/* The fetcher here never closes: the holder does. */
	for (int i = 0; i < 3000 && !idle.closed; i++) {
		uv_run(&loop, UV_RUN_NOWAIT);
		usleep(1000);
	}
	assert_true(idle.closed);
	assert_non_null(strstr(idle.err, BLOBSVC_DENIED "node fetcher"));
	blobsvc_acl_free(acl);
	assert_int_equal(uv_run(&loop, UV_RUN_DEFAULT), 0);
	assert_int_equal(uv_loop_close(&loop), 0);
}

/* A holder serves BLOBSVC_MAX_CONNS connections at once (handshakes
 * included): one more is closed as it comes, and once some have gone a new
 * one is taken again. */
struct capped {
	struct blobsvc_acl *acl;
	struct wire_chan_config cfg;
	int accepted, refused;
};

static void capped_connection(uv_stream_t *server, int status)
{
	struct capped *c = server->data;
	assert_int_equal(status, 0);
	int rc = blobsvc_accept_acl(server->loop, server, &c->cfg, holder,
				    "swarm1", c->acl);
	if (rc == 0)
		c->accepted++;
	else if (rc == -EMFILE)
		c->refused++;
	else
		fail_msg("accept: %d", rc);
}

static int dial_tcp(int port)
{
	struct sockaddr_in sa = {.sin_family = AF_INET,
				 .sin_port = htons((uint16_t)port),
				 .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	assert_true(fd >= 0);
	assert_int_equal(connect(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	return fd;
}

static void connections_past_the_cap_are_closed(void **state)
{
	(void)state;
	uv_loop_t loop;
	uv_tcp_t tcp;
	struct sockaddr_in sa;
	int fds[BLOBSVC_MAX_CONNS + 2];
	struct capped c = {.cfg = cfg_for(&n_holder, &root)};
	assert_int_equal(uv_loop_init(&loop), 0);
	c.acl = blobsvc_acl_new(&loop);
	assert_non_null(c.acl);
	assert_int_equal(uv_tcp_init(&loop, &tcp), 0);
	tcp.data = &c;
	assert_int_equal(uv_ip4_addr("127.0.0.1", 0, &sa), 0);
	assert_int_equal(uv_tcp_bind(&tcp, (struct sockaddr *)&sa, 0), 0);
	assert_int_equal(uv_listen((uv_stream_t *)&tcp, 512, capped_connection),
			 0);
	int len = sizeof(sa);
	assert_int_equal(uv_tcp_getsockname(&tcp, (struct sockaddr *)&sa, &len),
			 0);
	int port = ntohs(sa.sin_port);

	for (int i = 0; i <= BLOBSVC_MAX_CONNS; i++)
		fds[i] = dial_tcp(port);
	for (int i = 0; i < 5000 && c.accepted + c.refused <= BLOBSVC_MAX_CONNS;
	     i++)
		uv_run(&loop, UV_RUN_NOWAIT);
	assert_int_equal(c.accepted, BLOBSVC_MAX_CONNS);
	assert_int_equal(c.refused, 1);
	/* The one past the cap reads its end at once. */
	char b;
	struct timeval tv = {.tv_sec = 5};
	setsockopt(fds[BLOBSVC_MAX_CONNS], SOL_SOCKET, SO_RCVTIMEO, &tv,
		   sizeof(tv));
	for (int i = 0; i < 100; i++)
		uv_run(&loop, UV_RUN_NOWAIT); /* its close */
	assert_int_equal(recv(fds[BLOBSVC_MAX_CONNS], &b, 1, 0), 0);

	/* Ten go away: a new one is taken again. */
	for (int i = 0; i < 10; i++)
		close(fds[i]);
	for (int i = 0; i < 200; i++) {
		uv_run(&loop, UV_RUN_NOWAIT);
		usleep(1000);
	}
	fds[BLOBSVC_MAX_CONNS + 1] = dial_tcp(port);
	for (int i = 0; i < 5000 && c.accepted == BLOBSVC_MAX_CONNS; i++)
		uv_run(&loop, UV_RUN_NOWAIT);
	assert_int_equal(c.accepted, BLOBSVC_MAX_CONNS + 1);
	assert_int_equal(c.refused, 1);

	for (int i = 10; i < BLOBSVC_MAX_CONNS + 2; i++)
		close(fds[i]);
	blobsvc_acl_free(c.acl);
	uv_close((uv_handle_t *)&tcp, NULL);
	assert_int_equal(uv_run(&loop, UV_RUN_DEFAULT), 0);
	assert_int_equal(uv_loop_close(&loop), 0);
}

/* The holder's side is a raw socket that sends part of a blob, then
 * closes: the holder died mid-transfer. Plain mode on both ends. */
static void holder_gone_mid_transfer(void **state)
{
	(void)state;
	uv_loop_t loop;
	int sv[2];
	struct result r = {0};
	assert_int_equal(uv_loop_init(&loop), 0);
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv),
			 0);
	struct wire_chan_config cc = {.security = WIRE_PLAIN,
				      .peer_name = "h1"};
	assert_int_equal(blobsvc_fetch_fd(&loop, sv[1], &cc, fetcher,
					  layer_blob[0], 0, 0, on_done, &r),
			 0);
	/* The request first (a plain frame: 4-byte big-endian length, then
	 * "sha256:<hex>"), then part of the blob, then the holder dies. */
	uint8_t req[4 + 71];
	size_t have = 0;
	for (int i = 0; i < 1000 && have < sizeof(req); i++) {
		uv_run(&loop, UV_RUN_NOWAIT);
		ssize_t n = recv(sv[0], req + have, sizeof(req) - have,
				 MSG_DONTWAIT);
		if (n > 0)
			have += (size_t)n;
		else
			usleep(1000);
	}
	assert_int_equal(have, sizeof(req));
	assert_memory_equal(req + 4, layer_blob[0], 71);

	uint8_t head[4 + 1 + 71] = {0, 0, 0, 72, 'B'};
	memcpy(head + 5, layer_blob[0], 71);
	assert_int_equal(write(sv[0], head, sizeof(head)),
			 (ssize_t)sizeof(head));
	uint8_t frame[4 + 1 + 100] = {0, 0, 0, 101, 'D'};
	memset(frame + 5, 'x', 100);
	assert_int_equal(write(sv[0], frame, sizeof(frame)),
			 (ssize_t)sizeof(frame));
	close(sv[0]);
	assert_int_equal(uv_run(&loop, UV_RUN_DEFAULT), 0);
	assert_int_equal(uv_loop_close(&loop), 0);
	assert_true(r.called);
	assert_true(r.rc < 0);
	assert_non_null(strstr(r.msg, "ended after 100 bytes"));
	assert_int_equal(tmp_entries(), 0);
}

/* Asked by DiffID (all a node knows from an image's config), the holder
 * sends the layer's blob: the gzip one differs from its DiffID and is
 * verified against the digest the holder names; without BLOBSVC_LAYER
 * that substitution is refused. */
static void layers_by_diff_id(void **state)
{
	(void)state;
	json_t *layers = json_object_get(
		json_object_get(json_object_get(holder->index, "images"),
				image_id),
		"layers");
	for (size_t i = 0; i < 2; i++) {
		const char *diff = json_string_value(
			json_object_get(json_array_get(layers, i), "diff_id"));
		struct result r =
			fetch_flags(&n_fetcher, &root, diff, BLOBSVC_LAYER);
		assert_int_equal(r.rc, 0);
		assert_string_equal(r.hex, layer_blob[i] + 7);
		if (strcmp(diff, layer_blob[i])) {
			r = fetch_as(&n_fetcher, &root, diff);
			assert_int_equal(r.rc, -EPROTO);
			assert_non_null(strstr(r.msg, "offered blob"));
		}
	}
	assert_int_equal(tmp_entries(), 0);
}

/* Whole images: holders are served from the stores in dial_stores. */
static struct img_store *dial_stores[2];
static uv_loop_t *dial_loop;
static int dials[2];		     /* connections made to each holder */
static struct blobsvc_acl *dial_acl; /* the holders serve only these */

static int dial(void *arg, size_t i)
{
	(void)arg;
	dials[i]++;
	int sv[2];
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0)
		return -errno;
	struct wire_chan_config sc = cfg_for(&n_holder, &root);
	if (blobsvc_serve_fd_acl(dial_loop, sv[0], &sc, dial_stores[i],
				 "swarm1", dial_acl) < 0) {
		close(sv[1]);
		return -EIO;
	}
	return sv[1];
}

struct img_result {
	bool called;
	int rc;
	char msg[2048];
	int progress;
	int waited; /* "waiting for holder ..." messages */
};

static void img_progress(const char *msg, void *arg)
{
	struct img_result *r = arg;
	if (strstr(msg, "waiting for holder")) {
		assert_non_null(strstr(msg, BLOBSVC_DENIED "node fetcher"));
		r->waited++;
		return;
	}
	assert_non_null(strstr(msg, "fetching") ? msg
						: strstr(msg, "assembling"));
	r->progress++;
}

static void img_done(int rc, const char *msg, void *arg)
{
	struct img_result *r = arg;
	assert_false(r->called);
	r->called = true;
	r->rc = rc;
	snprintf(r->msg, sizeof(r->msg), "%s", msg ? msg : "");
}

static struct img_result fetch_image(struct img_store *into,
				     struct img_store *h0, struct img_store *h1,
				     const char *tag)
{
	uv_loop_t loop;
	struct img_result r = {0};
	assert_int_equal(uv_loop_init(&loop), 0);
	dial_loop = &loop;
	dial_stores[0] = h0;
	dial_stores[1] = h1;
	struct wire_chan_config cc = cfg_for(&n_fetcher, &root);
	char id[80];
	snprintf(id, sizeof(id), "sha256:%s", image_id);
	struct imgfetch_opts o = {
		.loop = &loop,
		.store = into,
		.cfg = &cc,
		.n_holders = h1 ? 2 : 1,
		.dial = dial,
		.image_id = id,
		.tag = tag,
		.progress = img_progress,
		.done = img_done,
		.arg = &r,
	};
	assert_int_equal(imgfetch_start(&o), 0);
	assert_int_equal(uv_run(&loop, UV_RUN_DEFAULT), 0);
	assert_int_equal(uv_loop_close(&loop), 0);
	assert_true(r.called);
	return r;
}

static void whole_image_with_failover(void **state)
{
	(void)state;
	char root3[96];
	struct shoal_err err = {0};
	struct img_store *s3;
	struct img_image *img = NULL;
	snprintf(root3, sizeof(root3), "%s/third", run_root);
	assert_int_equal(mkdir(root3, 0755), 0);
	assert_int_equal(img_store_open(root3, &s3, &err), 0);

	/* No holder has it (both serve from the empty third store). */
	struct img_result r = fetch_image(fetcher, s3, s3, "fetched:v1");
	assert_true(r.rc < 0);
	assert_non_null(strstr(r.msg, "from any of its 2 holder(s)"));
	assert_non_null(strstr(r.msg, "no image of this node holds"));
	assert_true(img_resolve(fetcher, "fetched:v1", &img, &err) < 0);

	/* The first holder lacks it, the second has it. */
	r = fetch_image(fetcher, s3, holder, "fetched:v1");
	assert_int_equal(r.rc, 0);
	assert_true(r.progress >= 4); /* config, 2 layers, assembling */
	assert_int_equal(img_resolve(fetcher, "fetched:v1", &img, &err), 0);
	img_image_free(img);
	char id[80];
	snprintf(id, sizeof(id), "sha256:%s", image_id);
	assert_int_equal(img_resolve(fetcher, id, &img, &err), 0);
	img_image_free(img);

	/* A holder whose layer is corrupt on disk: refused, nothing kept;
	 * then fetched again from the fetcher (now a holder itself). */
	char path[400];
	snprintf(path, sizeof(path), "%s/holder/images/blobs/sha256/%s",
		 run_root, layer_blob[1] + 7);
	size_t len;
	char *orig = fx_read(path, &len);
	assert_non_null(orig);
	int fd = open(path, O_WRONLY | O_CLOEXEC);
	assert_true(fd >= 0);
	char b = (char)(orig[len / 2] ^ 0x40);
	assert_int_equal(pwrite(fd, &b, 1, (off_t)(len / 2)), 1);
	r = fetch_image(s3, holder, NULL, NULL);
	assert_true(r.rc < 0);
	assert_non_null(strstr(r.msg, "refused"));
	assert_true(img_resolve(s3, id, &img, &err) < 0);
	r = fetch_image(s3, holder, fetcher, NULL);
	assert_int_equal(r.rc, 0);
	assert_int_equal(img_resolve(s3, id, &img, &err), 0);
	img_image_free(img);
	assert_int_equal(pwrite(fd, orig + len / 2, 1, (off_t)(len / 2)), 1);
	close(fd);
	free(orig);
	img_store_close(s3);
	assert_int_equal(tmp_entries(), 0);
}

static void allow_fetcher(uv_timer_t *t)
{
	const char *ok[] = {"fetcher"};
	assert_int_equal(blobsvc_acl_set(t->data, ok, 1), 0);
}

/* The fetcher asks before the holder has heard of it: refused, it waits
 * and asks again (the reason in its status), then gets the image once
 * the holder's set names it; never named, it gives up after ~2 s. */
static void refused_holder_is_asked_again(void **state)
{
	(void)state;
	const char *roots[] = {"fifth", "sixth"};
	for (int named = 1; named >= 0; named--) {
		char dir[96], id[80];
		struct shoal_err err = {0};
		struct img_store *st;
		snprintf(dir, sizeof(dir), "%s/%s", run_root, roots[named]);
		assert_int_equal(mkdir(dir, 0755), 0);
		assert_int_equal(img_store_open(dir, &st, &err), 0);
		uv_loop_t loop;
		uv_timer_t later;
		struct img_result r = {0};
		assert_int_equal(uv_loop_init(&loop), 0);
		dial_loop = &loop;
		dial_stores[0] = holder;
		dial_acl = blobsvc_acl_new(&loop);
		assert_non_null(dial_acl);
		uv_timer_init(&loop, &later);
		later.data = dial_acl;
		if (named)
			uv_timer_start(&later, allow_fetcher, 1200, 0);
		struct wire_chan_config cc = cfg_for(&n_fetcher, &root);
		snprintf(id, sizeof(id), "sha256:%s", image_id);
		struct imgfetch_opts o = {
			.loop = &loop,
			.store = st,
			.cfg = &cc,
			.n_holders = 1,
			.dial = dial,
			.image_id = id,
			.progress = img_progress,
			.done = img_done,
			.arg = &r,
		};
		assert_int_equal(imgfetch_start(&o), 0);
		while (!r.called)
			uv_run(&loop, UV_RUN_ONCE);
		uv_close((uv_handle_t *)&later, NULL);
		blobsvc_acl_free(dial_acl);
		dial_acl = NULL;
		assert_int_equal(uv_run(&loop, UV_RUN_DEFAULT), 0);
		assert_int_equal(uv_loop_close(&loop), 0);
		struct img_image *img = NULL;
		if (named) {
			assert_int_equal(r.rc, 0);
			assert_true(r.waited >= 1 && r.waited <= 4);
			assert_int_equal(img_resolve(st, id, &img, &err), 0);
			img_image_free(img);
		} else {
			assert_int_equal(r.rc, -EACCES);
			assert_int_equal(r.waited, 4);
			assert_non_null(strstr(r.msg, "from any of its 1"));
			assert_non_null(strstr(r.msg, BLOBSVC_DENIED));
			assert_true(img_resolve(st, id, &img, &err) < 0);
		}
		img_store_close(st);
	}
	assert_int_equal(tmp_entries(), 0);
}

/* Two holders of a two-layer image: the config and the first layer come
 * from the first, the second layer from the other, at the same time. */
static void layers_from_several_holders_at_once(void **state)
{
	(void)state;
	char root4[96];
	struct shoal_err err = {0};
	struct img_store *s4;
	struct img_image *img = NULL;
	snprintf(root4, sizeof(root4), "%s/fourth", run_root);
	assert_int_equal(mkdir(root4, 0755), 0);
	assert_int_equal(img_store_open(root4, &s4, &err), 0);
	dials[0] = dials[1] = 0;
	struct img_result r = fetch_image(s4, holder, fetcher, "par:v1");
	assert_int_equal(r.rc, 0);
	assert_int_equal(dials[0], 2); /* the config and layer 1 */
	assert_int_equal(dials[1], 1); /* layer 2 */
	assert_int_equal(img_resolve(s4, "par:v1", &img, &err), 0);
	img_image_free(img);
	img_store_close(s4);
	assert_int_equal(tmp_entries(), 0);
}

static void frames_are_decoded_strictly(void **state)
{
	(void)state;
	enum blobsvc_kind k;
	const uint8_t *p;
	size_t n;
	assert_int_equal(
		blobsvc_frame_parse((const uint8_t *)"", 0, &k, &p, &n),
		-EINVAL);
	assert_int_equal(
		blobsvc_frame_parse((const uint8_t *)"Dab", 3, &k, &p, &n), 0);
	assert_int_equal(k, BLOBSVC_DATA);
	assert_int_equal(n, 2);
	assert_int_equal(
		blobsvc_frame_parse((const uint8_t *)"E", 1, &k, &p, &n), 0);
	assert_int_equal(
		blobsvc_frame_parse((const uint8_t *)"Ex", 2, &k, &p, &n),
		-EINVAL);
	assert_int_equal(
		blobsvc_frame_parse((const uint8_t *)"X", 1, &k, &p, &n),
		-EINVAL);
	assert_int_equal(
		blobsvc_frame_parse((const uint8_t *)"Xa\nb", 4, &k, &p, &n),
		-EINVAL);
	assert_int_equal(
		blobsvc_frame_parse((const uint8_t *)"Zz", 2, &k, &p, &n),
		-EINVAL);
	uint8_t b[72] = {'B'};
	memcpy(b + 1, layer_blob[0], 71);
	assert_int_equal(blobsvc_frame_parse(b, 72, &k, &p, &n), 0);
	assert_int_equal(k, BLOBSVC_BLOB);
	assert_int_equal(blobsvc_frame_parse(b, 71, &k, &p, &n), -EINVAL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(fetches_config_and_layers_verified),
		cmocka_unit_test(corrupt_blob_is_refused),
		cmocka_unit_test(unknown_blob_is_refused_by_holder),
		cmocka_unit_test(other_swarms_are_served_nothing),
		cmocka_unit_test(holder_gone_mid_transfer),
		cmocka_unit_test(only_named_nodes_are_served),
		cmocka_unit_test(connection_closed_when_node_leaves_set),
		cmocka_unit_test(layers_by_diff_id),
		cmocka_unit_test(whole_image_with_failover),
		cmocka_unit_test(layers_from_several_holders_at_once),
		cmocka_unit_test(refused_holder_is_asked_again),
		cmocka_unit_test(frames_are_decoded_strictly),
		cmocka_unit_test(connections_past_the_cap_are_closed),
	};
	const char *tmp = access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp";
	struct shoal_err err = {0};
	char work[96], archive[128], hroot[96], froot[96];
	json_t *loaded = NULL;
	json_t *layers = NULL;
	int failed = 1, fd = -1;

	shoal_alloc_install();
	signal(SIGPIPE, SIG_IGN); /* as shoald: a write to a gone peer fails */
	log_set_level(LOG_LEVEL_ERROR);
	snprintf(run_root, sizeof(run_root), "%s/shoal-blobsvc.XXXXXX", tmp);
	if (!mkdtemp(run_root))
		return 1;
	snprintf(work, sizeof(work), "%s/work", run_root);
	snprintf(archive, sizeof(archive), "%s/save.tar", run_root);
	snprintf(hroot, sizeof(hroot), "%s/holder", run_root);
	snprintf(froot, sizeof(froot), "%s/fetcher", run_root);
	if (mkdir(work, 0755) < 0 || mkdir(hroot, 0755) < 0 ||
	    mkdir(froot, 0755) < 0 ||
	    fx_docker_save(work, archive, fx_base_layer, fx_base_layer_n,
			   fx_upper_layer, fx_upper_layer_n, fx_config_fmt,
			   "blobsvc:latest", image_id) < 0 ||
	    img_store_open(hroot, &holder, &err) < 0 ||
	    img_store_open(froot, &fetcher, &err) < 0) {
		fprintf(stderr, "setup: %s\n", err.msg);
		goto out;
	}
	fd = open(archive, O_RDONLY | O_CLOEXEC);
	if (fd < 0 || img_load(holder, fd, NULL, NULL, &loaded, &err) < 0) {
		fprintf(stderr, "load: %s\n", err.msg);
		goto out;
	}
	close(fd);
	json_decref(loaded);
	layers = json_object_get(
		json_object_get(json_object_get(holder->index, "images"),
				image_id),
		"layers");
	for (size_t i = 0; i < 2; i++)
		snprintf(layer_blob[i], sizeof(layer_blob[i]), "%s",
			 json_string_value(json_object_get(
				 json_array_get(layers, i), "blob")));
	wire_keypair_generate(&root);
	wire_keypair_generate(&other_root);
	node_make(&n_holder, &root, "swarm1", "holder");
	node_make(&n_fetcher, &root, "swarm1", "fetcher");
	node_make(&n_stranger, &other_root, "swarm1", "stranger");
	node_make(&n_other_cluster, &root, "swarm2", "other");
	failed = cmocka_run_group_tests(tests, NULL, NULL);
	shoal_free(n_holder.cert);
	shoal_free(n_fetcher.cert);
	shoal_free(n_stranger.cert);
	shoal_free(n_other_cluster.cert);
out:
	if (holder)
		img_store_close(holder);
	if (fetcher)
		img_store_close(fetcher);
	img__rmrf(run_root);
	return failed;
}
