/*
 * The agent's overlay side (worker/net.c over overlay-net) driven from
 * the command line, for tests/system/overlay/agent.sh: each run is one
 * start of the agent on a host (a network namespace of the test's own),
 * with its records under DATA and its namespaces under EXEC, so running
 * it again is a restart of shoald on that host.
 *
 *   ovl-agent-tool DATA EXEC VTEP assign SET.json
 *       hand the JSON array SET.json to wnet_assign() as one set
 *   ovl-agent-tool DATA EXEC VTEP attach NETID IP [NETID2 IP2]
 *       a container namespace on overlay NETID with address IP, as the
 *       engine makes a task's (net_ctr_create + bind, then net_connect
 *       for a second network, as eng_spec.more_networks); prints its id
 *       and its namespace's path
 *   ovl-agent-tool DATA EXEC VTEP assign-attach SET.json NETID IP
 *       both in one run (a container that joins after the set, as a
 *       task started after its network's VIPs are known)
 *   ovl-agent-tool DATA EXEC VTEP detach ID
 *       release that container's namespace and endpoint
 *
 * With OVL_AGENT_LOOP set the module runs on a libuv loop as in shoald
 * (VIP tables loaded by the loader thread, overlay-net/nsload.c);
 * without, in line.
 */
#include "common/clock.h"
#include "common/jsonx.h"
#include "overlay-net/net.h"
#include "worker/net.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int attach(struct net *n, const char *netid, const char *ip,
		  const char *netid2, const char *ip2);

static uv_loop_t *loop; /* OVL_AGENT_LOOP: the daemon's way (nsload.c) */

static void set_true(void *arg)
{
	*(bool *)arg = true;
}

static int assign(struct net *n, const char *vtep, const char *path,
		  const char *netid, const char *ip)
{
	json_t *set = NULL, *e;
	struct wnet *w;
	struct wnet_config c = {.net = n, .vtep = vtep};
	struct agent_item items[64];
	char *texts[64];
	size_t i, k = 0;
	int rc = jsonx_load_file(path, 1 << 24, &set);
	if (rc < 0 || !json_is_array(set)) {
		fprintf(stderr, "cannot read the set %s\n", path);
		return 2;
	}
	if ((rc = wnet_open(&c, &w)) < 0) {
		fprintf(stderr, "wnet_open: %s\n", strerror(-rc));
		return 1;
	}
	json_array_foreach(set, i, e)
	{
		if (k == 64)
			break;
		texts[k] = json_dumps(e, JSON_COMPACT);
		items[k].data = (const uint8_t *)texts[k];
		items[k].len = strlen(texts[k]);
		k++;
	}
	/* OVL_AGENT_WARM=SET0: that set first, untimed (the daemon's
	 * steady state: the kernel side is set up, the previous set in). */
	const char *warm = getenv("OVL_AGENT_WARM");
	json_t *set0 = NULL;
	if (warm && jsonx_load_file(warm, 1 << 24, &set0) == 0 &&
	    json_is_array(set0)) {
		struct agent_item w0[64];
		char *t0s[64];
		size_t k0 = 0;
		json_array_foreach(set0, i, e)
		{
			if (k0 == 64)
				break;
			t0s[k0] = json_dumps(e, JSON_COMPACT);
			w0[k0].data = (const uint8_t *)t0s[k0];
			w0[k0].len = strlen(t0s[k0]);
			k0++;
		}
		wnet_assign(w, w0, k0);
		bool settled = !loop;
		if (loop) {
			net_when_loaded(n, set_true, &settled);
			while (!settled)
				uv_run(loop, UV_RUN_ONCE);
		}
		for (i = 0; i < k0; i++)
			free(t0s[i]);
	}
	json_decref(set0);
	int64_t t0 = time_mono_ns();
	wnet_assign(w, items, k);
	/* For bench/overlay-bench: what a set costs the agent (peers,
	 * names and the VIP tables of every namespace on the network):
	 * with a loop (OVL_AGENT_LOOP), the time the loop's thread was
	 * held, then the time until every namespace has its table. */
	int64_t t1 = time_mono_ns();
	if (loop) {
		bool loaded = false;
		net_when_loaded(n, set_true, &loaded);
		while (!loaded)
			uv_run(loop, UV_RUN_ONCE);
	}
	if (getenv("OVL_AGENT_TIMING"))
		fprintf(stderr, "assign_ms %.3f\nloaded_ms %.3f\n",
			(double)(t1 - t0) / 1e6,
			(double)(time_mono_ns() - t0) / 1e6);
	for (i = 0; i < k; i++)
		free(texts[i]);
	rc = netid ? attach(n, netid, ip, NULL, NULL) : 0;
	wnet_close(w);
	json_decref(set);
	return rc;
}

static int attach(struct net *n, const char *netid, const char *ip,
		  const char *netid2, const char *ip2)
{
	struct shoal_err err = {""};
	struct net_ep_req ep = {.network = netid, .ip = ip};
	struct net_ctr_spec s = {
		.name = "task", .mode = netid, .eps = &ep, .n_eps = 1};
	struct net_ctr_result r;
	char id[65];
	int rc = net_ctr_create(n, &s, &r, &err);
	if (rc < 0) {
		fprintf(stderr, "attach: %s\n", err.msg);
		return 1;
	}
	/* A container id of the test's own: the sandbox key's reverse. */
	for (int i = 0; i < 64; i++)
		id[i] = r.sandbox[63 - i];
	id[64] = '\0';
	if ((rc = net_ctr_bind(n, r.sandbox, id)) < 0) {
		fprintf(stderr, "bind: %s\n", strerror(-rc));
		return 1;
	}
	if (netid2) {
		struct net_ep_req ep2 = {.network = netid2, .ip = ip2};
		if ((rc = net_connect(n, id, "task", &ep2, &err)) < 0) {
			fprintf(stderr, "connect: %s\n", err.msg);
			net_ctr_remove(n, id);
			return 1;
		}
	}
	printf("%s %s\n", id, r.network + 3);
	return 0;
}

int main(int argc, char **argv)
{
	struct shoal_err err = {""};
	struct net *n;
	int rc;
	if (argc < 6) {
		fprintf(stderr, "usage: ovl-agent-tool DATA EXEC VTEP "
				"assign SET | attach NETID IP | detach ID\n");
		return 2;
	}
	static uv_loop_t the_loop;
	if (getenv("OVL_AGENT_LOOP") && uv_loop_init(&the_loop) == 0)
		loop = &the_loop;
	struct net_config cfg = {
		.data_root = argv[1], .exec_root = argv[2], .loop = loop};
	if ((rc = net_open(&cfg, &n, &err)) < 0) {
		fprintf(stderr, "net_open: %s\n", err.msg);
		return 1;
	}
	if (!strcmp(argv[4], "assign"))
		rc = assign(n, argv[3], argv[5], NULL, NULL);
	else if (!strcmp(argv[4], "assign-attach") && argc == 8)
		rc = assign(n, argv[3], argv[5], argv[6], argv[7]);
	else if (!strcmp(argv[4], "attach") && argc == 7)
		rc = attach(n, argv[5], argv[6], NULL, NULL);
	else if (!strcmp(argv[4], "attach") && argc == 9)
		rc = attach(n, argv[5], argv[6], argv[7], argv[8]);
	else if (!strcmp(argv[4], "detach")) {
		net_ctr_remove(n, argv[5]);
		rc = 0;
	} else {
		rc = 2;
	}
	net_close(n);
	if (loop) {
		uv_run(loop, UV_RUN_DEFAULT);
		uv_loop_close(loop);
	}
	return rc;
}
