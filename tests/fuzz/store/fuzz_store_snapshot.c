/*
 * Fuzz target: the store's snapshot decoder (store_restore), fed any bytes
 * as a snapshot received from a leader or read from disk. Beyond "no crash,
 * no leak": a snapshot that restores serialises back to exactly the same
 * bytes (restore is exact and the encoding canonical), and one that does
 * not restore leaves the store as it was.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/alloc.h"
#include "common/buf.h"
#include "manager/store.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	int64_t live = shoal_alloc_live();
	struct store *s;
	if (store_new(&s))
		abort();
	struct store_batch b;
	store_batch_init(&b, 1);
	store_batch_create(&b, STORE_NODES, "n1", "host1", "{}", 2, NULL, 0);
	uint8_t *p;
	size_t n;
	if (store_batch_finish(&b, &p, &n) || store_apply(s, p, n, 1, NULL))
		abort();
	shoal_free(p);

	struct buf before, after;
	buf_init(&before, 0);
	buf_init(&after, 0);
	if (store_snapshot(s, &before))
		abort();
	int rc = store_restore(s, data, size, NULL);
	if (store_snapshot(s, &after))
		abort();
	if (rc == 0 && (after.len != size || memcmp(after.data, data, size)))
		abort();
	if (rc != 0 && (after.len != before.len ||
			memcmp(after.data, before.data, before.len)))
		abort();
	buf_fini(&before);
	buf_fini(&after);
	store_free(s);
	if (shoal_alloc_live() != live)
		abort();
	return 0;
}
