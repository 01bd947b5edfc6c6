/*
 * The allocator's stage (manager/allocator.c) and the nodes' items
 * (manager/alloc_items.c) over what a client sends: the input is a
 * ServiceSpec; when service_spec_check() accepts it, it is stored (its
 * network Targets as given, on two overlays "front" and "back" of the
 * store) with three nodes, and the leader's passes run until they settle.
 * Every task that has not ended must have distinct addresses, none a
 * VIP, and every node's items must build and parse. The same bytes are
 * also stored as a task object's spec, which the model must decode or
 * leave out without harm (a store written by an older or broken leader).
 */
#include "common/alloc.h"
#include "common/jsonx.h"
#include "manager/orch.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static uint64_t idx;
static unsigned ids;

static int put(struct store *s, enum store_table t, const char *id,
	       const char *name, const void *spec, size_t len,
	       const char *status)
{
	struct store_batch b;
	uint8_t *enc = NULL;
	size_t elen;
	store_batch_init(&b, 1);
	int rc = store_batch_create(&b, t, id, name, spec, len, status,
				    strlen(status));
	if (rc == 0)
		rc = store_batch_finish(&b, &enc, &elen);
	else
		store_batch_fini(&b);
	if (rc == 0)
		rc = store_apply(s, enc, elen, ++idx, NULL);
	shoal_free(enc);
	return rc;
}

static void new_id(void *arg, char *out)
{
	(void)arg;
	snprintf(out, 26, "f%024u", ++ids);
}

static int emit(void *arg, char *json, size_t len)
{
	json_t *j = NULL;
	if (jsonx_parse(json, len, &j, NULL, 0) < 0)
		abort(); /* an item that does not parse */
	json_decref(j);
	shoal_free(json);
	(*(size_t *)arg)++;
	return 0;
}

static void check_unique(struct orch_model *m)
{
	struct hmap used = HMAP_INIT;
	size_t pos = 0, kl;
	const void *k;
	void *v;
	char key[96];
	while (hmap_next(&m->services, &pos, &k, &kl, &v)) {
		const struct orch_service *s = v;
		for (size_t i = 0; i < s->nvips; i++) {
			snprintf(key, sizeof(key), "%s/%u", s->vips[i].net_id,
				 s->vips[i].addr);
			if (hmap_get_str(&used, key))
				abort();
			hmap_put_str(&used, key, (void *)s, NULL);
		}
	}
	pos = 0;
	while (hmap_next(&m->tasks, &pos, &k, &kl, &v)) {
		const struct orch_task *t = v;
		for (size_t i = 0;
		     !task_state_terminal(t->state) && i < t->naddrs; i++) {
			snprintf(key, sizeof(key), "%s/%u", t->addrs[i].net_id,
				 t->addrs[i].addr);
			if (hmap_get_str(&used, key))
				abort(); /* an address given twice */
			hmap_put_str(&used, key, (void *)t, NULL);
		}
	}
	hmap_fini(&used);
}

static void run(const uint8_t *data, size_t size, const json_t *spec)
{
	static const char *const nets[2][2] = {
		{"nfront0000000000000000000",
		 "{\"Name\":\"front\",\"IPAM\":{\"Config\":[{\"Subnet\":"
		 "\"10.0.0.0/28\",\"Gateway\":\"10.0.0.1\"}]},\"VNI\":4096}"},
		{"nback00000000000000000000",
		 "{\"Name\":\"back\",\"IPAM\":{\"Config\":[{\"Subnet\":"
		 "\"10.0.1.0/24\",\"Gateway\":\"10.0.1.1\"}]},\"VNI\":4097}"}};
	struct store *s;
	if (store_new(&s) < 0)
		return;
	idx = 0;
	ids = 0;
	for (int i = 0; i < 2; i++)
		put(s, STORE_NETWORKS, nets[i][0], i ? "back" : "front",
		    nets[i][1], strlen(nets[i][1]), "{}");
	for (int i = 0; i < 3; i++) {
		char id[16], st[256];
		snprintf(id, sizeof(id), "n%d", i);
		snprintf(st, sizeof(st),
			 "{\"Status\":{\"State\":\"ready\",\"Addr\":"
			 "\"192.168.0.%d\"}}",
			 i + 1);
		put(s, STORE_NODES, id, NULL, "{\"Role\":\"worker\"}", 18, st);
	}
	put(s, STORE_TASKS, "traw00000000000000000000x", NULL, data, size,
	    "{\"State\":\"running\"}");
	size_t len = 0;
	char *text = spec ? jsonx_dump(spec, &len) : NULL;
	if (text)
		put(s, STORE_SERVICES, "svc", "web", text, len,
		    "{\"Generation\":1}");
	shoal_free(text);
	struct orch_model m;
	orch_model_init(&m);
	struct orch_env env = {.now_ns = 1700000000000000000LL,
			       .new_id = new_id,
			       .history = 2};
	for (int i = 0; i < 6; i++) {
		if (orch_model_load(&m, s) < 0)
			break;
		struct store_batch b;
		bool more;
		int64_t wake;
		uint8_t *enc = NULL;
		size_t elen;
		store_batch_init(&b, env.now_ns);
		int n = orch_pass(&m, &env, &b, &more, &wake);
		if (n > 0 && store_batch_finish(&b, &enc, &elen) == 0)
			store_apply(s, enc, elen, ++idx, NULL);
		else
			store_batch_fini(&b);
		shoal_free(enc);
		orch_pass_done(&m, true);
		if (n <= 0)
			break;
	}
	if (orch_model_load(&m, s) == 0) {
		check_unique(&m);
		for (int i = 0; i < 3; i++) {
			char id[16];
			size_t items = 0;
			snprintf(id, sizeof(id), "n%d", i);
			alloc_items(&m, id, emit, &items);
		}
	}
	orch_model_fini(&m);
	store_free(s);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	json_t *in = NULL, *out = NULL;
	char err[256] = "";
	if (jsonx_parse_object((const char *)data, size, &in, err,
			       sizeof(err)) < 0) {
		run(data, size, NULL);
		return 0;
	}
	if (service_spec_check(in, &out, err, sizeof(err)) != 0)
		json_decref(out), out = NULL;
	run(data, size, out);
	json_decref(out);
	json_decref(in);
	return 0;
}
