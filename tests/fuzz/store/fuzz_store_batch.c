/*
 * Fuzz target: the store's batch decoder and apply, fed any bytes as a Raft
 * entry. Beyond "no crash, no leak" it checks the properties managers rely
 * on: a batch that decodes re-encodes to the same bytes (the encoding is
 * canonical); apply refuses as malformed exactly what the decoder refuses;
 * and a refused batch changes no object.
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/alloc.h"
#include "common/buf.h"
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

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	int64_t live = shoal_alloc_live();
	struct store *s = seeded();

	int64_t time_ns;
	struct store_op *ops;
	uint32_t n;
	char err[128];
	int drc = store_batch_decode(data, size, &time_ns, &ops, &n, err,
				     sizeof(err));
	if (drc == 0) {
		check_canonical(data, size, ops, n, time_ns);
		shoal_free(ops);
	}

	struct buf before, after;
	buf_init(&before, 0);
	buf_init(&after, 0);
	if (store_snapshot(s, &before))
		abort();
	int rc = store_apply(s, data, size, 2, NULL);
	if ((drc == -EINVAL) != (rc == -EINVAL))
		abort();
	if (store_snapshot(s, &after))
		abort();
	/* Refused: only the applied index (bytes 4..11) may differ. */
	if (rc != 0 &&
	    (before.len != after.len ||
	     memcmp(before.data + 12, after.data + 12, before.len - 12) != 0))
		abort();
	buf_fini(&before);
	buf_fini(&after);
	store_free(s);
	if (shoal_alloc_live() != live)
		abort();
	return 0;
}
