/*
 * Fuzz target: the store's batch decoder and apply, fed any bytes as a Raft
 * entry. Beyond "no crash, no leak" it checks the properties managers rely
 * on: a batch that decodes re-encodes to the same bytes (the encoding is
 * canonical); apply refuses as malformed exactly what the decoder refuses;
 * and a refused batch changes no object.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/alloc.h"
#include "manager/store.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct store *seeded(void)
{
	struct store *s;
	if (store_new(&s))
		abort();
	struct store_batch b;
	store_batch_init(&b, 1);
	store_batch_create(&b, STORE_NODES, "n1", "host1", "{}", 2, "up", 2);
	store_batch_create(&b, STORE_SERVICES, "s1", "web", "{}", 2, NULL, 0);
	store_batch_create(&b, STORE_CLUSTERS, "c1", "default", "", 0, NULL, 0);
	uint8_t *p;
	size_t n;
	if (store_batch_finish(&b, &p, &n) || store_apply(s, p, n, 1, NULL))
		abort();
	shoal_free(p);
	return s;
}

static void check_canonical(const uint8_t *data, size_t size,
			    const struct store_op *ops, uint32_t n,
			    int64_t time_ns)
{
	struct store_batch b;
	store_batch_init(&b, time_ns);
	for (uint32_t i = 0; i < n; i++) {
		const struct store_op *op = &ops[i];
		char id[STORE_ID_MAX + 1], name[STORE_NAME_MAX + 1];
		memcpy(id, op->id, op->id_len);
		id[op->id_len] = '\0';
		if (op->name_len)
			memcpy(name, op->name, op->name_len);
		name[op->name_len] = '\0';
		const void *spec = op->has_spec ? (const void *)op->spec : NULL;
		const void *st =
			op->has_status ? (const void *)op->status : NULL;
		/* Empty blobs still need a non-NULL pointer to be present. */
		if (op->has_spec && !spec)
			spec = "";
		if (op->has_status && !st)
			st = "";
		if (op->kind == STORE_OP_CREATE)
			store_batch_create(&b, op->table, id, name, spec,
					   op->spec_len, st, op->status_len);
		else if (op->kind == STORE_OP_UPDATE)
			store_batch_update(&b, op->table, id, op->version, spec,
					   op->spec_len, st, op->status_len);
		else
			store_batch_delete(&b, op->table, id, op->version);
	}
	uint8_t *p;
	size_t len;
	if (store_batch_finish(&b, &p, &len))
		abort();
	if (len != size || memcmp(p, data, size) != 0)
		abort();
	shoal_free(p);
}

static bool same_object(const struct store_object *x,
			const struct store_object *y)
{
	return !strcmp(x->id, y->id) && !strcmp(x->name, y->name) &&
	       x->version == y->version && x->created_ns == y->created_ns &&
	       x->updated_ns == y->updated_ns && x->spec_len == y->spec_len &&
	       !memcmp(x->spec, y->spec, x->spec_len) &&
	       x->status_len == y->status_len &&
	       !memcmp(x->status, y->status, x->status_len);
}

/* same_objects: every object equal, whatever the applied index. */
static bool same_objects(const struct store *a, const struct store *b)
{
	bool same = true;
	for (int t = 0; t < STORE_TABLE_COUNT && same; t++) {
		const struct store_object **x, **y;
		size_t nx, ny;
		if (store_list(a, t, &x, &nx) || store_list(b, t, &y, &ny))
			abort();
		same = nx == ny;
		for (size_t i = 0; same && i < nx; i++)
			same = same_object(x[i], y[i]);
		shoal_free(x);
		shoal_free(y);
	}
	return same;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	int64_t live = shoal_alloc_live();
	struct store *s = seeded(), *before = seeded();

	struct store_decoded d;
	char err[128];
	int drc = store_batch_decode(data, size, &d, err, sizeof(err));
	if (drc == 0) {
		check_canonical(data, size, d.ops, d.nops, d.time_ns);
		store_decoded_fini(&d);
	}

	int rc = store_apply(s, data, size, 2, NULL);
	if ((drc == -EINVAL) != (rc == -EINVAL))
		abort();
	if (store_applied_index(s) != 2)
		abort();
	/* Refused: no object changed. */
	if (rc != 0 && !same_objects(s, before))
		abort();
	store_free(s);
	store_free(before);
	if (shoal_alloc_live() != live)
		abort();
	return 0;
}
