/*
 * blob-get: fetches one blob from a node's blob service with another
 * node's saved key and certificate, for tests/cluster/images-fetch (a
 * node with no task needing the image, or removed from the swarm, must
 * be refused by the holder):
 *
 *   blob-get DATA_ROOT ADDR:PORT DIGEST
 *
 * DATA_ROOT is the fetching node's (its swarm state: key, certificate,
 * root key); the blob goes to a scratch image store under
 * DATA_ROOT/blob-get and is removed. Prints one line and exits: 0
 * "fetched N bytes", 3 "refused: ..." (the holder's 'X' "not allowed"),
 * 4 "failed: ..." (any other end), 2 for a usage or local error.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <uv.h>

#include "common/alloc.h"
#include "common/error.h"
#include "common/log.h"
#include "image/image.h"
#include "manager/manager.h"
#include "worker/blob_service.h"

struct outcome {
	bool done;
	int rc;
	uint64_t got;
	char msg[1024];
};

static void done(int rc, const char *path, const char *msg, uint64_t got,
		 void *arg)
{
	struct outcome *o = arg;
	o->done = true;
	o->rc = rc;
	o->got = got;
	snprintf(o->msg, sizeof(o->msg), "%s", msg ? msg : "");
	if (path)
		unlink(path);
}

/* "10.0.0.1:2386" or "[fd00::1]:2386" into @ss. */
static int parse_addr(const char *in, struct sockaddr_storage *ss)
{
	char host[128];
	snprintf(host, sizeof(host), "%s", in);
	char *colon = strrchr(host, ':');
	if (!colon)
		return -EINVAL;
	*colon = '\0';
	int port = atoi(colon + 1);
	if (port <= 0 || port > 65535)
		return -EINVAL;
	if (host[0] == '[') {
		size_t l = strlen(host);
		if (l < 2 || host[l - 1] != ']')
			return -EINVAL;
		host[l - 1] = '\0';
		return uv_ip6_addr(host + 1, port, (struct sockaddr_in6 *)ss);
	}
	return uv_ip4_addr(host, port, (struct sockaddr_in *)ss);
}

int main(int argc, char **argv)
{
	if (argc != 4) {
		fprintf(stderr, "usage: blob-get DATA_ROOT ADDR:PORT DIGEST\n");
		return 2;
	}
	shoal_alloc_install();
	log_set_level(LOG_LEVEL_ERROR);
	struct swarm_state st;
	char err[512];
	memset(&st, 0, sizeof(st));
	if (swarm_state_load(argv[1], &st, err, sizeof(err)) < 0) {
		fprintf(stderr, "cannot load the swarm state of %s: %s\n",
			argv[1], err);
		return 2;
	}
	struct sockaddr_storage ss;
	memset(&ss, 0, sizeof(ss));
	if (parse_addr(argv[2], &ss) < 0) {
		fprintf(stderr, "bad address %s (ADDR:PORT)\n", argv[2]);
		return 2;
	}
	char root[4200];
	snprintf(root, sizeof(root), "%s/blob-get", argv[1]);
	struct shoal_err serr = {0};
	struct img_store *store = NULL;
	if (img_store_open(root, &store, &serr) < 0) {
		fprintf(stderr, "cannot open a scratch store at %s: %s\n", root,
			serr.msg);
		return 2;
	}
	struct wire_chan_config cfg = {.security = WIRE_SECURE,
				       .root_pk = st.root_pk,
				       .identity = &st.identity,
				       .cert = st.cert,
				       .cert_len = st.cert_len,
				       .peer_name = argv[2],
				       .quiet_handshake = true};
	uv_loop_t loop;
	uv_loop_init(&loop);
	struct outcome o = {0};
	int rc = blobsvc_fetch_addr(&loop, (const struct sockaddr *)&ss, &cfg,
				    store, argv[3], 0, 0, done, &o);
	if (rc < 0) {
		fprintf(stderr, "cannot start the fetch: %s\n",
			shoal_strerror(rc));
		img_store_close(store);
		return 2;
	}
	uv_run(&loop, UV_RUN_DEFAULT);
	uv_loop_close(&loop);
	img_store_close(store);
	char cmd[4300];
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", root);
	if (system(cmd) != 0)
		fprintf(stderr, "cannot remove %s\n", root);
	if (o.rc == 0) {
		printf("fetched %llu bytes\n", (unsigned long long)o.got);
		return 0;
	}
	printf("%s: %s\n", o.rc == -EACCES ? "refused" : "failed", o.msg);
	return o.rc == -EACCES ? 3 : 4;
}
