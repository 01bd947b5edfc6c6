/*
 * image-bench/distribute: distributing one image from the node that holds
 * it to 4 nodes, through the blob service and the whole-image fetch
 * (worker/image_fetch.c) over the swarm's secure channel, in one process
 * (socket pairs, one libuv loop, as each node's shoald runs its side on
 * one loop).
 *
 * Compared: the 4 fetches started at once, from the start of the first
 * to the end of the last (each fetch: config, layer streamed and verified,
 * the image assembled and unpacked into the fetcher's store), against 4
 * fetches one after the other (the same work in sequence), and the goal:
 * at once faster than 2 sequential copies (half the sequential figure).
 * The image: one layer of SIZE MB (default 100) of random bytes, imported
 * into the holder's store. Every fetch's image is resolved by id in its
 * store afterwards, or the run is an error.
 *
 * What this measures and what it does not: one holder serving 4 fetchers
 * on this machine's cores (the channel's encryption, the hashing and the
 * unpacking share them), not the network between lab hosts, and not yet
 * fetchers serving each other (docs/images.md: one blob at a time, from
 * one holder, is what the fetch does today).
 *
 * Prints one JSON line per figure:
 *   {"bench":"image-distribute","mode":"sequential4","seconds":S,"mb":M}
 *   {"bench":"image-distribute","mode":"parallel4","seconds":S,"mb":M}
 *   {"bench":"image-distribute","goal":"parallel4 < sequential4/2",
 *    "met":true|false}
 * Usage: distribute [SIZE_MB] [SCRATCH_DIR]
 */
#include <archive.h>
#include <archive_entry.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <sodium.h>

#include "common/alloc.h"
#include "common/log.h"
#include "image/blob.h"
#include "image/internal.h"
#include "proto/cert.h"
#include "worker/blob_service.h"
#include "worker/image_fetch.h"

#define FETCHERS 4

static struct wire_keypair root_kp;
struct node {
	struct wire_keypair id;
	uint8_t *cert;
	size_t cert_len;
};
static struct node holder_node, fetcher_node;
static struct img_store *holder;
static uv_loop_t loop;
static int pending, failures;

static int node_make(struct node *n, const char *name)
{
	wire_keypair_generate(&n->id);
	struct wire_cert_info i = {0};
	snprintf(i.cluster_id, sizeof(i.cluster_id), "bench");
	snprintf(i.node_id, sizeof(i.node_id), "%s", name);
	i.role = WIRE_ROLE_WORKER;
	memcpy(i.public_key, n->id.pk, WIRE_PK_LEN);
	i.not_before = time(NULL) - 60;
	i.not_after = time(NULL) + 86400;
	i.serial = 1;
	return wire_cert_issue(&i, root_kp.sk, &n->cert, &n->cert_len);
}

static struct wire_chan_config cfg_for(const struct node *n)
{
	struct wire_chan_config c = {0};
	c.security = WIRE_SECURE;
	c.root_pk = root_kp.pk;
	c.identity = &n->id;
	c.cert = n->cert;
	c.cert_len = n->cert_len;
	return c;
}

static int dial(void *arg, size_t i)
{
	(void)arg;
	(void)i;
	int sv[2];
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0)
		return -errno;
	struct wire_chan_config sc = cfg_for(&holder_node);
	if (blobsvc_serve_fd(&loop, sv[0], &sc, holder, "bench") < 0) {
		close(sv[1]);
		return -EIO;
	}
	return sv[1];
}

static void done(int rc, const char *msg, void *arg)
{
	(void)arg;
	if (rc < 0) {
		fprintf(stderr, "fetch failed: %s\n", msg ? msg : "?");
		failures++;
	}
	pending--;
}

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int make_layer_tar(const char *path, size_t mb)
{
	struct archive *a = archive_write_new();
	archive_write_set_format_pax_restricted(a);
	if (archive_write_open_filename(a, path) != ARCHIVE_OK)
		return -1;
	struct archive_entry *e = archive_entry_new();
	archive_entry_set_pathname(e, "data.bin");
	archive_entry_set_filetype(e, AE_IFREG);
	archive_entry_set_perm(e, 0644);
	archive_entry_set_size(e, (la_int64_t)(mb << 20));
	if (archive_write_header(a, e) != ARCHIVE_OK)
		return -1;
	archive_entry_free(e);
	static unsigned char buf[1 << 20];
	for (size_t i = 0; i < mb; i++) {
		randombytes_buf(buf, sizeof(buf));
		if (archive_write_data(a, buf, sizeof(buf)) != sizeof(buf))
			return -1;
	}
	archive_write_close(a);
	archive_write_free(a);
	return 0;
}

/* Runs the fetches into @stores, @together at once or one by one. */
static double run(struct img_store **stores, const char *id, bool together)
{
	struct wire_chan_config cc = cfg_for(&fetcher_node);
	double t0 = now_s();
	for (int i = 0; i < FETCHERS; i++) {
		struct imgfetch_opts o = {
			.loop = &loop,
			.store = stores[i],
			.cfg = &cc,
			.n_holders = 1,
			.dial = dial,
			.image_id = id,
			.done = done,
		};
		pending++;
		if (imgfetch_start(&o) < 0) {
			pending--;
			failures++;
		}
		if (!together)
			uv_run(&loop, UV_RUN_DEFAULT);
	}
	uv_run(&loop, UV_RUN_DEFAULT);
	double t = now_s() - t0;
	for (int i = 0; i < FETCHERS; i++) {
		struct img_image *img;
		struct shoal_err err = {0};
		if (img_resolve(stores[i], id, &img, &err) < 0)
			failures++;
		else
			img_image_free(img);
	}
	return t;
}

int main(int argc, char **argv)
{
	size_t mb = argc > 1 ? strtoul(argv[1], NULL, 10) : 100;
	const char *base = argc > 2 ? argv[2] : "/tmp";
	char dir[256], path[512], id[DIGEST_STR_LEN];
	struct shoal_err err = {0};
	struct img_store *seq[FETCHERS] = {0}, *par[FETCHERS] = {0};
	struct img_import_opts io = {.reference = "bench:latest"};
	double ts = 0, tp = 0;
	int rc = 1, fd = -1;

	signal(SIGPIPE, SIG_IGN);
	shoal_alloc_install();
	log_set_level(LOG_LEVEL_ERROR);
	if (!mb || mb > 4096 || sodium_init() < 0)
		return 2;
	snprintf(dir, sizeof(dir), "%s/shoal-image-distribute.XXXXXX", base);
	if (!mkdtemp(dir)) {
		printf("{\"error\":\"cannot make a scratch folder in %s: %s\"}\n",
		       base, strerror(errno));
		return 1;
	}
	wire_keypair_generate(&root_kp);
	if (uv_loop_init(&loop) < 0 || node_make(&holder_node, "h1") < 0 ||
	    node_make(&fetcher_node, "h2") < 0)
		goto out;
	snprintf(path, sizeof(path), "%s/holder", dir);
	mkdir(path, 0700);
	if (img_store_open(path, &holder, &err) < 0)
		goto out;
	snprintf(path, sizeof(path), "%s/layer.tar", dir);
	if (make_layer_tar(path, mb) < 0)
		goto out;
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0 || img_import(holder, fd, &io, id, &err) < 0) {
		printf("{\"error\":\"import: %s\"}\n", err.msg);
		goto out;
	}
	close(fd);
	unlink(path);
	for (int i = 0; i < FETCHERS; i++) {
		snprintf(path, sizeof(path), "%s/seq%d", dir, i);
		mkdir(path, 0700);
		if (img_store_open(path, &seq[i], &err) < 0)
			goto out;
		snprintf(path, sizeof(path), "%s/par%d", dir, i);
		mkdir(path, 0700);
		if (img_store_open(path, &par[i], &err) < 0)
			goto out;
	}
	ts = run(seq, id, false);
	tp = run(par, id, true);
	if (failures) {
		printf("{\"error\":\"%d fetch(es) failed\"}\n", failures);
		goto out;
	}
	printf("{\"bench\":\"image-distribute\",\"mode\":\"sequential4\","
	       "\"seconds\":%.3f,\"mb\":%zu}\n",
	       ts, mb);
	printf("{\"bench\":\"image-distribute\",\"mode\":\"parallel4\","
	       "\"seconds\":%.3f,\"mb\":%zu}\n",
	       tp, mb);
	printf("{\"bench\":\"image-distribute\",\"goal\":\"parallel4 < "
	       "sequential4/2\",\"met\":%s}\n",
	       tp < ts / 2 ? "true" : "false");
	rc = 0;
out:
	if (rc && err.msg[0])
		printf("{\"error\":\"%s\"}\n", err.msg);
	for (int i = 0; i < FETCHERS; i++) {
		if (seq[i])
			img_store_close(seq[i]);
		if (par[i])
			img_store_close(par[i]);
	}
	if (holder)
		img_store_close(holder);
	shoal_free(holder_node.cert);
	shoal_free(fetcher_node.cert);
	uv_loop_close(&loop);
	img__rmrf(dir);
	return rc;
}
