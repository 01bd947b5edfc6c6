/*
 * Unit tests of the manager's store: what a manager relies on when it feeds
 * Raft entries to it (determinism, optimistic concurrency, atomic batches),
 * snapshots that restore exactly, and watchers that see every change once
 * or are told they missed some.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "common/alloc.h"
#include "common/buf.h"
#include "common/error.h"
#include "manager/store.h"
#include "proto/store.pb-c.h"

#define T0 1700000000000000000LL

/* ------------------------------------------------------------- helpers */

struct bytes {
	uint8_t *p;
	size_t n;
};

static void bytes_fini(struct bytes *b)
{
	shoal_free(b->p);
	b->p = NULL;
	b->n = 0;
}

static struct bytes finish(struct store_batch *b)
{
	struct bytes out = {0};
	assert_int_equal(store_batch_finish(b, &out.p, &out.n), 0);
	return out;
}

static struct bytes one_create(enum store_table t, const char *id,
			       const char *name, const char *spec,
			       int64_t time_ns)
{
	struct store_batch b;
	store_batch_init(&b, time_ns);
	assert_int_equal(store_batch_create(&b, t, id, name, spec, strlen(spec),
					    NULL, 0),
			 0);
	return finish(&b);
}

static int apply_bytes(struct store *s, struct bytes b, uint64_t index,
		       struct store_result *res)
{
	int rc = store_apply(s, b.p, b.n, index, res);
	bytes_fini(&b);
	return rc;
}

static void apply_ok(struct store *s, struct bytes b, uint64_t index)
{
	struct store_result res;
	int rc = apply_bytes(s, b, index, &res);
	if (rc)
		fail_msg("apply at %llu: %s (%s)", (unsigned long long)index,
			 shoal_strerror(rc), res.msg);
}

static struct buf snap(const struct store *s)
{
	struct buf b;
	buf_init(&b, 0);
	assert_int_equal(store_snapshot(s, &b), 0);
	return b;
}

static void assert_same_snapshot(const struct store *a, const struct store *b)
{
	struct buf x = snap(a), y = snap(b);
	assert_int_equal(x.len, y.len);
	assert_memory_equal(x.data, y.data, x.len);
	buf_fini(&x);
	buf_fini(&y);
}

static struct store *new_store(void)
{
	struct store *s;
	assert_int_equal(store_new(&s), 0);
	return s;
}

/* copy_of: a store restored from @s's snapshot. */
static struct store *copy_of(const struct store *s)
{
	struct buf b = snap(s);
	struct store *c = new_store();
	assert_int_equal(store_restore(c, b.data, b.len, NULL), 0);
	buf_fini(&b);
	return c;
}

/* assert_same_objects: every object equal, whatever the applied index. */
static void assert_same_objects(const struct store *a, const struct store *b)
{
	for (int t = 0; t < STORE_TABLE_COUNT; t++) {
		const struct store_object **x, **y;
		size_t nx, ny;
		assert_int_equal(store_list(a, t, &x, &nx), 0);
		assert_int_equal(store_list(b, t, &y, &ny), 0);
		assert_int_equal(nx, ny);
		for (size_t i = 0; i < nx; i++) {
			assert_string_equal(x[i]->id, y[i]->id);
			assert_string_equal(x[i]->name, y[i]->name);
			assert_int_equal(x[i]->version, y[i]->version);
			assert_int_equal(x[i]->created_ns, y[i]->created_ns);
			assert_int_equal(x[i]->updated_ns, y[i]->updated_ns);
			assert_int_equal(x[i]->spec_len, y[i]->spec_len);
			assert_memory_equal(x[i]->spec, y[i]->spec,
					    x[i]->spec_len);
			assert_int_equal(x[i]->status_len, y[i]->status_len);
			assert_memory_equal(x[i]->status, y[i]->status,
					    x[i]->status_len);
		}
		shoal_free(x);
		shoal_free(y);
	}
}

/* raw_batch: one op packed as given, bypassing the builder's checks. */
static struct bytes raw_batch(int kind, uint32_t table, const char *id,
			      uint64_t version, const char *name,
			      bool with_spec)
{
	Store__Blob spec = STORE__BLOB__INIT;
	Store__Op op = STORE__OP__INIT, *ops[1] = {&op};
	Store__Batch m = STORE__BATCH__INIT;
	op.kind = (Store__OpKind)kind;
	op.table = table;
	op.id = (char *)id;
	op.version = version;
	op.name = (char *)name;
	op.spec = with_spec ? &spec : NULL;
	m.time_ns = T0;
	m.n_ops = 1;
	m.ops = ops;
	struct bytes out;
	out.n = store__batch__get_packed_size(&m);
	out.p = shoal_malloc(out.n);
	store__batch__pack(&m, out.p);
	return out;
}

static void assert_spec(const struct store_object *o, const char *spec)
{
	assert_non_null(o);
	assert_int_equal(o->spec_len, strlen(spec));
	assert_memory_equal(o->spec, spec, o->spec_len);
}

/* A store with a node n1 (index 1) and a service web (index 2). */
static struct store *two_objects(void)
{
	struct store *s = new_store();
	apply_ok(s, one_create(STORE_NODES, "n1", "host1", "{\"role\":1}", T0),
		 1);
	apply_ok(s, one_create(STORE_SERVICES, "s1", "web", "{}", T0 + 5), 2);
	return s;
}

/* ------------------------------------------------------------ objects */

static void created_object_carries_index_times_spec_and_status(void **state)
{
	struct store *s = new_store();
	struct store_batch b;
	store_batch_init(&b, T0);
	assert_int_equal(store_batch_create(&b, STORE_NODES, "n1", "host1",
					    "spec", 4, "\0st", 3),
			 0);
	apply_ok(s, finish(&b), 7);

	const struct store_object *o = store_get(s, STORE_NODES, "n1");
	assert_spec(o, "spec");
	assert_string_equal(o->name, "host1");
	assert_int_equal(o->version, 7);
	assert_int_equal(o->created_ns, T0);
	assert_int_equal(o->updated_ns, T0);
	assert_int_equal(o->status_len, 3);
	assert_memory_equal(o->status, "\0st", 3);
	assert_int_equal(store_applied_index(s), 7);
	assert_int_equal(store_count(s, STORE_NODES), 1);
	assert_null(store_get(s, STORE_TASKS, "n1"));
	store_free(s);
}

static void update_with_current_version_replaces_what_it_carries(void **state)
{
	struct store *s = two_objects();
	struct store_batch b;
	store_batch_init(&b, T0 + 100);
	assert_int_equal(store_batch_update(&b, STORE_NODES, "n1", 1, NULL, 0,
					    "ready", 5),
			 0);
	apply_ok(s, finish(&b), 3);

	const struct store_object *o = store_get(s, STORE_NODES, "n1");
	assert_spec(o, "{\"role\":1}");
	assert_int_equal(o->status_len, 5);
	assert_int_equal(o->version, 3);
	assert_int_equal(o->created_ns, T0);
	assert_int_equal(o->updated_ns, T0 + 100);
	assert_string_equal(o->name, "host1");
	store_free(s);
}

static void stale_update_is_refused_as_out_of_sequence(void **state)
{
	struct store *s = two_objects();
	struct store_batch b;
	struct store_result res;
	struct store *before = copy_of(s);

	store_batch_init(&b, T0);
	store_batch_update(&b, STORE_SERVICES, "s1", 1, "x", 1, NULL, 0);
	assert_int_equal(apply_bytes(s, finish(&b), 3, &res), SHOAL_ESTALE);
	assert_int_equal(res.failed_op, 0);
	assert_non_null(strstr(res.msg, "update out of sequence"));
	assert_spec(store_get(s, STORE_SERVICES, "s1"), "{}");
	assert_int_equal(store_get(s, STORE_SERVICES, "s1")->version, 2);

	store_batch_init(&b, T0);
	store_batch_delete(&b, STORE_SERVICES, "s1", 3);
	assert_int_equal(apply_bytes(s, finish(&b), 4, &res), SHOAL_ESTALE);
	assert_non_null(store_get(s, STORE_SERVICES, "s1"));

	/* Only the consumed index differs from the state before. */
	assert_same_objects(s, before);
	assert_int_equal(store_applied_index(s), 4);
	store_free(before);
	store_free(s);
}

static void update_or_delete_of_a_missing_object_is_not_found(void **state)
{
	struct store *s = two_objects();
	struct store_batch b;
	store_batch_init(&b, T0);
	store_batch_update(&b, STORE_NODES, "nope", 1, "x", 1, NULL, 0);
	assert_int_equal(apply_bytes(s, finish(&b), 3, NULL), SHOAL_ENOTFOUND);
	store_batch_init(&b, T0);
	store_batch_delete(&b, STORE_TASKS, "n1", 1);
	assert_int_equal(apply_bytes(s, finish(&b), 4, NULL), SHOAL_ENOTFOUND);
	assert_non_null(store_get(s, STORE_NODES, "n1"));
	store_free(s);
}

static void delete_with_current_version_removes_object_and_name(void **state)
{
	struct store *s = two_objects();
	struct store_batch b;
	store_batch_init(&b, T0);
	store_batch_delete(&b, STORE_SERVICES, "s1", 2);
	apply_ok(s, finish(&b), 3);
	assert_null(store_get(s, STORE_SERVICES, "s1"));
	assert_null(store_get_by_name(s, STORE_SERVICES, "web"));
	/* The name is free again. */
	apply_ok(s, one_create(STORE_SERVICES, "s2", "web", "{}", T0), 4);
	assert_string_equal(store_get_by_name(s, STORE_SERVICES, "web")->id,
			    "s2");
	store_free(s);
}

static void taken_id_or_unique_name_conflicts(void **state)
{
	struct store *s = two_objects();
	struct store_result res;
	assert_int_equal(
		apply_bytes(s,
			    one_create(STORE_SERVICES, "s1", "other", "{}", T0),
			    3, &res),
		SHOAL_ECONFLICT);
	assert_int_equal(
		apply_bytes(s,
			    one_create(STORE_SERVICES, "s9", "web", "{}", T0),
			    4, &res),
		SHOAL_ECONFLICT);
	assert_non_null(strstr(res.msg, "web"));
	/* Node names are hostnames: two nodes may share one. */
	apply_ok(s, one_create(STORE_NODES, "n2", "host1", "{}", T0), 5);
	/* Names are per table. */
	apply_ok(s, one_create(STORE_NETWORKS, "net1", "web", "{}", T0), 6);
	assert_int_equal(store_count(s, STORE_SERVICES), 1);
	store_free(s);
}

static void same_name_twice_in_one_batch_conflicts(void **state)
{
	struct store *s = new_store();
	struct store_batch b;
	store_batch_init(&b, T0);
	store_batch_create(&b, STORE_CONFIGS, "c1", "cfg", "a", 1, NULL, 0);
	store_batch_create(&b, STORE_CONFIGS, "c2", "cfg", "b", 1, NULL, 0);
	assert_int_equal(apply_bytes(s, finish(&b), 1, NULL), SHOAL_ECONFLICT);
	assert_int_equal(store_count(s, STORE_CONFIGS), 0);
	store_free(s);
}

/* ------------------------------------------------------------- batches */

static void batch_with_one_bad_operation_changes_nothing(void **state)
{
	struct store *s = two_objects();
	struct store_watcher *w;
	struct store_event ev;
	assert_int_equal(store_watch(s, STORE_ALL_TABLES, 16, NULL, NULL, &w),
			 0);
	struct store_batch b;
	store_batch_init(&b, T0 + 9);
	store_batch_create(&b, STORE_NODES, "n2", "host2", "{}", 2, NULL, 0);
	store_batch_update(&b, STORE_NODES, "n1", 1, "new", 3, NULL, 0);
	store_batch_delete(&b, STORE_SERVICES, "s1", 1); /* stale: at 2 */
	struct store_result res;
	assert_int_equal(apply_bytes(s, finish(&b), 3, &res), SHOAL_ESTALE);
	assert_int_equal(res.failed_op, 2);

	assert_null(store_get(s, STORE_NODES, "n2"));
	assert_spec(store_get(s, STORE_NODES, "n1"), "{\"role\":1}");
	assert_int_equal(store_get(s, STORE_NODES, "n1")->version, 1);
	assert_non_null(store_get(s, STORE_SERVICES, "s1"));
	assert_int_equal(store_watch_next(w, &ev), -EAGAIN);
	store_free(s);
}

static void one_object_twice_in_a_batch_is_malformed(void **state)
{
	struct store *s = two_objects();
	struct store_batch b;
	store_batch_init(&b, T0);
	store_batch_update(&b, STORE_NODES, "n1", 1, "a", 1, NULL, 0);
	store_batch_update(&b, STORE_NODES, "n1", 1, "b", 1, NULL, 0);
	assert_int_equal(apply_bytes(s, finish(&b), 3, NULL), -EINVAL);
	assert_spec(store_get(s, STORE_NODES, "n1"), "{\"role\":1}");
	store_free(s);
}

static void malformed_batches_are_refused_and_consume_their_index(void **state)
{
	struct store *s = two_objects();
	struct store *before = copy_of(s);
	struct store_batch b;
	struct store_result res;
	store_batch_init(&b, T0);
	store_batch_create(&b, STORE_NODES, "n7", "h7", "spec", 4, "st", 2);
	struct bytes good = finish(&b);
	uint64_t index = 10;

	/* Every truncation, and one byte too many. */
	for (size_t n = 0; n < good.n; n++) {
		assert_int_equal(store_apply(s, good.p, n, index, &res),
				 -EINVAL);
		assert_int_equal(store_applied_index(s), index);
		index++;
	}
	uint8_t *longer = shoal_malloc(good.n + 1);
	memcpy(longer, good.p, good.n);
	longer[good.n] = 0;
	assert_int_equal(store_apply(s, longer, good.n + 1, index++, &res),
			 -EINVAL);
	shoal_free(longer);

	/* Well-formed protobuf, broken rules. */
	struct bytes bad[] = {
		raw_batch(9, STORE_NODES, "n8", 0, "", true),  /* kind */
		raw_batch(1, 42, "n8", 0, "", true),	       /* table */
		raw_batch(1, STORE_NODES, "n 8", 0, "", true), /* id */
		raw_batch(1, STORE_NODES, "", 0, "", true),    /* no id */
		raw_batch(1, STORE_NODES, "n8", 3, "", true),  /* version */
		raw_batch(1, STORE_NODES, "n8", 0, "", false), /* no spec */
		raw_batch(1, STORE_SERVICES, "n8", 0, "a b", true), /* name */
		raw_batch(2, STORE_NODES, "n1", 1, "", false),	    /* no-op */
		raw_batch(3, STORE_NODES, "n1", 0, "", false), /* version */
		raw_batch(3, STORE_NODES, "n1", 1, "", true),  /* data */
		raw_batch(2, STORE_NODES, "n1", 1, "x", true), /* name */
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		assert_int_equal(
			store_apply(s, bad[i].p, bad[i].n, index++, &res),
			-EINVAL);
		assert_non_null(strstr(res.msg, "malformed batch"));
		bytes_fini(&bad[i]);
	}

	/* The same create, encoded canonically then not: fields out of
	 * order, and an unknown field. */
	static const uint8_t canon[] = {0x12, 0x08, 0x08, 0x01, 0x22,
					0x02, 'n',  '9',  0x32, 0x00};
	static const uint8_t reordered[] = {0x12, 0x08, 0x22, 0x02, 'n',
					    '9',  0x08, 0x01, 0x32, 0x00};
	static const uint8_t unknown[] = {0x12, 0x0a, 0x08, 0x01, 0x22, 0x02,
					  'n',	'9',  0x32, 0x00, 0x78, 0x01};
	assert_int_equal(
		store_apply(s, reordered, sizeof(reordered), index++, &res),
		-EINVAL);
	assert_int_equal(
		store_apply(s, unknown, sizeof(unknown), index++, &res),
		-EINVAL);
	assert_same_objects(s, before);
	assert_int_equal(store_apply(s, canon, sizeof(canon), index, &res), 0);
	assert_non_null(store_get(s, STORE_NODES, "n9"));
	assert_int_equal(store_applied_index(s), index);

	bytes_fini(&good);
	store_free(before);
	store_free(s);
}

static void entry_not_after_the_applied_index_is_refused_untouched(void **state)
{
	struct store *s = two_objects();
	assert_int_equal(
		apply_bytes(s, one_create(STORE_NODES, "n5", "", "{}", T0), 2,
			    NULL),
		-EALREADY);
	assert_int_equal(store_applied_index(s), 2);
	assert_null(store_get(s, STORE_NODES, "n5"));
	store_free(s);
}

static void check_predicts_apply_without_changing_anything(void **state)
{
	struct store *s = two_objects();
	struct store *before = copy_of(s);
	struct store_result res;
	struct store_batch b;
	store_batch_init(&b, T0);
	store_batch_update(&b, STORE_SERVICES, "s1", 1, "x", 1, NULL, 0);
	struct bytes stale = finish(&b);
	store_batch_init(&b, T0);
	store_batch_update(&b, STORE_SERVICES, "s1", 2, "x", 1, NULL, 0);
	struct bytes fresh = finish(&b);
	static const uint8_t junk[] = {0xff, 0xff};

	assert_int_equal(store_check(s, stale.p, stale.n, &res), SHOAL_ESTALE);
	assert_non_null(strstr(res.msg, "update out of sequence"));
	assert_int_equal(store_check(s, fresh.p, fresh.n, &res), 0);
	assert_int_equal(store_check(s, junk, sizeof(junk), &res), -EINVAL);
	assert_int_equal(store_applied_index(s), 2);
	assert_same_objects(s, before);
	/* And apply agrees. */
	assert_int_equal(store_apply(s, stale.p, stale.n, 3, NULL),
			 SHOAL_ESTALE);
	assert_int_equal(store_apply(s, fresh.p, fresh.n, 4, NULL), 0);
	bytes_fini(&stale);
	bytes_fini(&fresh);
	store_free(before);
	store_free(s);
}

static void builder_refuses_bad_input(void **state)
{
	struct store_batch b;
	uint8_t *p;
	size_t n;
	char long_id[STORE_ID_MAX + 2];
	memset(long_id, 'a', sizeof(long_id) - 1);
	long_id[sizeof(long_id) - 1] = '\0';

	store_batch_init(&b, T0);
	assert_int_equal(store_batch_finish(&b, &p, &n), -EINVAL); /* empty */
	const char *bad_ids[] = {"", "has space", "x/y", long_id};
	for (int i = 0; i < 4; i++) {
		store_batch_init(&b, T0);
		assert_int_equal(store_batch_create(&b, STORE_NODES, bad_ids[i],
						    NULL, "{}", 2, NULL, 0),
				 -EINVAL);
		/* A poisoned batch stays poisoned. */
		assert_int_equal(store_batch_delete(&b, STORE_NODES, "ok", 1),
				 -EINVAL);
		assert_int_equal(store_batch_finish(&b, &p, &n), -EINVAL);
	}
	store_batch_init(&b, T0);
	assert_int_equal(
		store_batch_update(&b, STORE_NODES, "n1", 1, NULL, 0, NULL, 0),
		-EINVAL);
	store_batch_fini(&b);
	store_batch_init(&b, T0);
	assert_int_equal(
		store_batch_update(&b, STORE_NODES, "n1", 0, "x", 1, NULL, 0),
		-EINVAL);
	store_batch_fini(&b);
	store_batch_init(&b, T0);
	assert_int_equal(store_batch_create(&b, STORE_SERVICES, "s1", "a b",
					    "{}", 2, NULL, 0),
			 -EINVAL);
	store_batch_fini(&b);
	store_batch_init(&b, T0);
	assert_int_equal(store_batch_create(&b, STORE_TABLE_COUNT, "s1", NULL,
					    "{}", 2, NULL, 0),
			 -EINVAL);
	store_batch_fini(&b);
}

static void decoded_batch_encodes_back_to_the_same_bytes(void **state)
{
	struct store_batch b;
	store_batch_init(&b, -5);
	store_batch_create(&b, STORE_SECRETS, "x1", "pw", "\0\1", 2, "", 0);
	store_batch_update(&b, STORE_NODES, "n.1", 99, NULL, 0, "s", 1);
	store_batch_delete(&b, STORE_TASKS, "t_1", 3);
	struct bytes enc = finish(&b);

	struct store_decoded d;
	char err[128];
	assert_int_equal(store_batch_decode(enc.p, enc.n, &d, err, sizeof(err)),
			 0);
	struct store_op *ops = d.ops;
	assert_int_equal(d.time_ns, -5);
	assert_int_equal(d.nops, 3);
	assert_int_equal(ops[0].kind, STORE_OP_CREATE);
	assert_true(ops[0].has_status);
	assert_int_equal(ops[0].status_len, 0);
	assert_false(ops[1].has_spec);
	assert_int_equal(ops[1].version, 99);
	assert_int_equal(ops[2].table, STORE_TASKS);

	store_batch_init(&b, d.time_ns);
	store_batch_create(&b, ops[0].table, "x1", "pw", ops[0].spec,
			   ops[0].spec_len,
			   ops[0].status ? ops[0].status : (const uint8_t *)"",
			   ops[0].status_len);
	store_batch_update(&b, ops[1].table, "n.1", ops[1].version, NULL, 0,
			   ops[1].status, ops[1].status_len);
	store_batch_delete(&b, ops[2].table, "t_1", ops[2].version);
	struct bytes again = finish(&b);
	assert_int_equal(again.n, enc.n);
	assert_memory_equal(again.p, enc.p, enc.n);
	store_decoded_fini(&d);
	bytes_fini(&enc);
	bytes_fini(&again);
}

/* -------------------------------------------------------- determinism */

/* A history: creates in every table, updates, deletes, refusals. */
static void feed_history(struct store *s, bool reversed, uint64_t from,
			 uint64_t to)
{
	for (uint64_t idx = from; idx <= to; idx++) {
		struct store_batch b;
		char id[32], name[32], spec[64];
		store_batch_init(&b, T0 + (int64_t)idx * 1000);
		if (idx == 1) {
			/* 40 objects in one batch, in either order. */
			for (int k = 0; k < 40; k++) {
				int i = reversed ? 39 - k : k;
				snprintf(id, sizeof(id), "obj%02d", i);
				snprintf(name, sizeof(name), "name%d", i);
				snprintf(spec, sizeof(spec), "{\"i\":%d}", i);
				store_batch_create(&b, i % STORE_TABLE_COUNT,
						   id, name, spec, strlen(spec),
						   NULL, 0);
			}
		} else if (idx % 3 == 0) {
			/* A stale update: refused, index consumed. */
			snprintf(id, sizeof(id), "obj%02d",
				 (int)(idx % 40) / 7 * 7);
			store_batch_update(&b, STORE_NODES, id, idx, "x", 1,
					   NULL, 0);
		} else {
			const struct store_object *o;
			snprintf(id, sizeof(id), "obj%02d",
				 (int)(idx * 7 % 40));
			o = store_get(s, (idx * 7 % 40) % STORE_TABLE_COUNT,
				      id);
			snprintf(spec, sizeof(spec), "{\"at\":%llu}",
				 (unsigned long long)idx);
			if (!o)
				store_batch_create(&b, STORE_TASKS, id, NULL,
						   spec, strlen(spec), NULL, 0);
			else if (idx % 5 == 0)
				store_batch_delete(&b, o->table, id,
						   o->version);
			else
				store_batch_update(&b, o->table, id, o->version,
						   spec, strlen(spec), spec, 3);
		}
		struct bytes enc = finish(&b);
		int rc = store_apply(s, enc.p, enc.n, idx, NULL);
		assert_true(rc == 0 || rc == SHOAL_ESTALE ||
			    rc == SHOAL_ENOTFOUND || rc == SHOAL_ECONFLICT);
		bytes_fini(&enc);
	}
}

static void stores_fed_the_same_batches_have_identical_snapshots(void **state)
{
	struct store *a = new_store(), *b = new_store();
	feed_history(a, false, 1, 60);
	feed_history(b, true, 1, 60);
	assert_int_equal(store_applied_index(a), 60);
	assert_true(store_count(a, STORE_TASKS) > 0);
	assert_same_snapshot(a, b);

	/* A third store restored from a's snapshot at 30 ends the same. */
	struct store *c = new_store(), *mid = new_store();
	feed_history(mid, false, 1, 30);
	struct buf at30 = snap(mid);
	assert_int_equal(store_restore(c, at30.data, at30.len, NULL), 0);
	feed_history(c, false, 31, 60);
	assert_same_snapshot(a, c);
	buf_fini(&at30);
	store_free(a);
	store_free(b);
	store_free(c);
	store_free(mid);
}

static void failed_allocations_leave_the_store_untouched(void **state)
{
	int64_t live = shoal_alloc_live();
	struct store *s = two_objects();
	struct store_watcher *w;
	assert_int_equal(store_watch(s, STORE_ALL_TABLES, 8, NULL, NULL, &w),
			 0);
	struct buf before = snap(s);
	int rc = -ENOMEM;
	for (int64_t k = 0; rc == -ENOMEM; k++) {
		struct store_batch b;
		store_batch_init(&b, T0);
		store_batch_create(&b, STORE_SERVICES, "s2", "api", "{}", 2,
				   NULL, 0);
		store_batch_create(&b, STORE_NETWORKS, "w1", "ingress", "{}", 2,
				   NULL, 0);
		store_batch_update(&b, STORE_NODES, "n1", 1, "u", 1, NULL, 0);
		store_batch_delete(&b, STORE_SERVICES, "s1", 2);
		struct bytes enc = finish(&b);
		shoal_alloc_fail_after(k);
		rc = store_apply(s, enc.p, enc.n, 3, NULL);
		shoal_alloc_fail_after(-1);
		bytes_fini(&enc);
		if (rc == -ENOMEM) {
			struct buf now = snap(s);
			assert_int_equal(now.len, before.len);
			assert_memory_equal(now.data, before.data, now.len);
			buf_fini(&now);
			assert_int_equal(store_watch_pending(w), 0);
		}
		assert_true(k < 1000);
	}
	assert_int_equal(rc, 0);
	assert_int_equal(store_watch_pending(w), 4);
	assert_non_null(store_get_by_name(s, STORE_SERVICES, "api"));
	assert_non_null(store_get_by_name(s, STORE_NETWORKS, "ingress"));
	assert_null(store_get(s, STORE_SERVICES, "s1"));
	buf_fini(&before);
	store_free(s);
	assert_int_equal(shoal_alloc_live(), live); /* nothing leaked */
}

/*
 * An allocation failure while decoding must never look like a malformed
 * batch: apply would consume the index on one manager only and diverge.
 */
static void out_of_memory_in_decoders_is_never_taken_for_bad_input(void **state)
{
	int64_t live = shoal_alloc_live();
	struct store *s = two_objects();
	struct buf good = snap(s);
	struct store_batch b;
	store_batch_init(&b, T0);
	store_batch_create(&b, STORE_TASKS, "t1", NULL, "{}", 2, "", 0);
	store_batch_update(&b, STORE_NODES, "n1", 1, NULL, 0, "up", 2);
	struct bytes enc = finish(&b);
	int rc = -ENOMEM;
	for (int64_t k = 0; rc == -ENOMEM; k++) {
		struct store_decoded d;
		shoal_alloc_fail_after(k);
		rc = store_batch_decode(enc.p, enc.n, &d, NULL, 0);
		shoal_alloc_fail_after(-1);
		assert_true(rc == 0 || rc == -ENOMEM);
		if (rc == 0)
			store_decoded_fini(&d);
	}
	rc = -ENOMEM;
	for (int64_t k = 0; rc == -ENOMEM; k++) {
		struct store *r = new_store();
		shoal_alloc_fail_after(k);
		rc = store_restore(r, good.data, good.len, NULL);
		shoal_alloc_fail_after(-1);
		assert_true(rc == 0 || rc == -ENOMEM);
		if (rc == -ENOMEM) {
			assert_int_equal(store_applied_index(r), 0);
			assert_int_equal(store_count(r, STORE_NODES), 0);
		}
		store_free(r);
	}
	bytes_fini(&enc);
	buf_fini(&good);
	store_free(s);
	assert_int_equal(shoal_alloc_live(), live);
}

/* ----------------------------------------------------------- snapshots */

static void snapshot_restores_exactly(void **state)
{
	struct store *s = two_objects();
	struct store_batch b;
	store_batch_init(&b, -1);
	store_batch_create(&b, STORE_CLUSTERS, "c1", "default", "\0\xff", 2, "",
			   0);
	store_batch_create(&b, STORE_TASKS, "t1", NULL, "", 0, "run", 3);
	apply_ok(s, finish(&b), 9);
	struct buf one = snap(s);

	struct store *r = new_store();
	apply_ok(r, one_create(STORE_NODES, "old", "", "{}", T0), 1);
	assert_int_equal(store_restore(r, one.data, one.len, NULL), 0);
	struct buf two = snap(r);
	assert_int_equal(two.len, one.len);
	assert_memory_equal(two.data, one.data, one.len);

	assert_null(store_get(r, STORE_NODES, "old"));
	assert_int_equal(store_applied_index(r), 9);
	const struct store_object *o =
		store_get_by_name(r, STORE_CLUSTERS, "default");
	assert_non_null(o);
	assert_string_equal(o->id, "c1");
	assert_int_equal(o->created_ns, -1);
	assert_int_equal(o->spec_len, 2);
	assert_memory_equal(o->spec, "\0\xff", 2);
	o = store_get(r, STORE_NODES, "n1");
	assert_int_equal(o->version, 1);
	assert_string_equal(o->name, "host1");
	/* The restored store goes on like the original. */
	store_batch_init(&b, T0);
	store_batch_update(&b, STORE_SERVICES, "s1", 2, "v2", 2, NULL, 0);
	struct bytes next = finish(&b);
	assert_int_equal(store_apply(s, next.p, next.n, 10, NULL), 0);
	assert_int_equal(store_apply(r, next.p, next.n, 10, NULL), 0);
	assert_same_snapshot(s, r);
	bytes_fini(&next);
	buf_fini(&one);
	buf_fini(&two);
	store_free(s);
	store_free(r);
}

static void corrupt_snapshot_is_refused_and_changes_nothing(void **state)
{
	struct store *s = two_objects(), *r = two_objects();
	struct store_result res;
	struct buf good = snap(s);
	struct buf before = snap(r);
	for (size_t n = 0; n < good.len; n++)
		assert_int_equal(store_restore(r, good.data, n, &res), -EINVAL);
	/* Well-formed protobuf, broken rules; the first one is fine. */
	struct {
		uint64_t applied;
		size_t ntables;
		uint32_t table;
		const char *ids[2], *names[2];
		uint64_t versions[2];
		const char *why;
	} cases[] = {
		{2, 7, STORE_SERVICES, {"a", "b"}, {"x", "y"}, {1, 2}, NULL},
		{2,
		 7,
		 STORE_NODES,
		 {"b", "a"},
		 {"", ""},
		 {1, 2},
		 "out of order"},
		{2,
		 7,
		 STORE_NODES,
		 {"a", "a"},
		 {"", ""},
		 {1, 2},
		 "out of order"},
		{2, 7, STORE_NODES, {"a", "b"}, {"", ""}, {1, 5}, "beyond"},
		{2, 7, STORE_NODES, {"a", "b"}, {"", ""}, {0, 1}, "beyond"},
		{2, 7, STORE_SERVICES, {"a", "b"}, {"w", "w"}, {1, 2}, "twice"},
		{2, 7, STORE_NODES, {"a", "b/c"}, {"", ""}, {1, 2}, "invalid"},
		{2, 7, STORE_NODES, {"a", "b"}, {"", "x y"}, {1, 2}, "name"},
		{2, 6, STORE_NODES, {"a", "b"}, {"", ""}, {1, 2}, "tables"},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		Store__Object objs[2], *optr[2] = {&objs[0], &objs[1]};
		Store__Table tabs[7], *tptr[7];
		Store__Snapshot m = STORE__SNAPSHOT__INIT;
		for (int k = 0; k < 2; k++) {
			store__object__init(&objs[k]);
			objs[k].id = (char *)cases[i].ids[k];
			objs[k].name = (char *)cases[i].names[k];
			objs[k].version = cases[i].versions[k];
		}
		for (int t = 0; t < 7; t++) {
			store__table__init(&tabs[t]);
			tptr[t] = &tabs[t];
		}
		tabs[cases[i].table].n_objects = 2;
		tabs[cases[i].table].objects = optr;
		m.applied_index = cases[i].applied;
		m.n_tables = cases[i].ntables;
		m.tables = tptr;
		size_t n = store__snapshot__get_packed_size(&m);
		uint8_t *p = shoal_malloc(n);
		store__snapshot__pack(&m, p);
		struct store *fresh = new_store();
		int want = cases[i].why ? -EINVAL : 0;
		assert_int_equal(store_restore(fresh, p, n, &res), want);
		if (cases[i].why)
			assert_non_null(strstr(res.msg, cases[i].why));
		else
			assert_int_equal(store_count(fresh, cases[i].table), 2);
		assert_int_equal(store_restore(r, p, n, &res), want ? want : 0);
		if (!want) {
			/* Put r back as it was for the checks below. */
			assert_int_equal(
				store_restore(r, before.data, before.len, NULL),
				0);
		}
		store_free(fresh);
		shoal_free(p);
	}

	struct buf after = snap(r);
	assert_int_equal(after.len, before.len);
	assert_memory_equal(after.data, before.data, after.len);
	buf_fini(&good);
	buf_fini(&before);
	buf_fini(&after);
	store_free(s);
	store_free(r);
}

static void list_returns_objects_sorted_by_id(void **state)
{
	struct store *s = new_store();
	const char *ids[] = {"m", "b", "zz", "a", "ba"};
	for (int i = 0; i < 5; i++)
		apply_ok(s, one_create(STORE_TASKS, ids[i], NULL, "{}", T0),
			 (uint64_t)i + 1);
	const struct store_object **objs;
	size_t n;
	assert_int_equal(store_list(s, STORE_TASKS, &objs, &n), 0);
	assert_int_equal(n, 5);
	const char *want[] = {"a", "b", "ba", "m", "zz"};
	for (int i = 0; i < 5; i++)
		assert_string_equal(objs[i]->id, want[i]);
	shoal_free(objs);
	store_free(s);
}

/* ------------------------------------------------------------ watchers */

static void count_notify(struct store_watcher *w, void *arg)
{
	(*(int *)arg)++;
}

static void watcher_sees_changes_of_its_tables_in_order(void **state)
{
	struct store *s = new_store();
	struct store_watcher *w;
	struct store_event ev;
	int notified = 0;
	assert_int_equal(store_watch(s, STORE_TABLE_BIT(STORE_NODES), 8,
				     count_notify, &notified, &w),
			 0);
	apply_ok(s, one_create(STORE_NODES, "n1", "h", "v1", T0), 1);
	apply_ok(s, one_create(STORE_TASKS, "t1", NULL, "{}", T0), 2);
	struct store_batch b;
	store_batch_init(&b, T0);
	store_batch_update(&b, STORE_NODES, "n1", 1, "v2", 2, NULL, 0);
	apply_ok(s, finish(&b), 3);
	store_batch_init(&b, T0);
	store_batch_delete(&b, STORE_NODES, "n1", 3);
	apply_ok(s, finish(&b), 4);
	assert_int_equal(notified, 3); /* not for the task */

	assert_int_equal(store_watch_next(w, &ev), 0);
	assert_int_equal(ev.kind, STORE_EVENT_CREATE);
	assert_int_equal(ev.index, 1);
	assert_spec(ev.obj, "v1");
	assert_null(ev.old);
	store_event_fini(&ev);
	assert_int_equal(store_watch_next(w, &ev), 0);
	assert_int_equal(ev.kind, STORE_EVENT_UPDATE);
	assert_int_equal(ev.index, 3);
	assert_spec(ev.obj, "v2");
	assert_spec(ev.old, "v1");
	assert_int_equal(ev.old->version, 1);
	store_event_fini(&ev);
	assert_int_equal(store_watch_next(w, &ev), 0);
	assert_int_equal(ev.kind, STORE_EVENT_DELETE);
	assert_int_equal(ev.table, STORE_NODES);
	assert_string_equal(ev.obj->id, "n1");
	assert_int_equal(ev.obj->version, 3);
	store_event_fini(&ev);
	assert_int_equal(store_watch_next(w, &ev), -EAGAIN);
	store_unwatch(w);
	store_free(s);
}

static void watcher_that_overflows_is_told_once_then_continues(void **state)
{
	struct store *s = new_store();
	struct store_watcher *w;
	struct store_event ev;
	assert_int_equal(store_watch(s, STORE_ALL_TABLES, 2, NULL, NULL, &w),
			 0);
	apply_ok(s, one_create(STORE_NODES, "n1", NULL, "{}", T0), 1);
	struct store_batch b;
	store_batch_init(&b, T0);
	store_batch_create(&b, STORE_NODES, "n2", NULL, "{}", 2, NULL, 0);
	store_batch_create(&b, STORE_NODES, "n3", NULL, "{}", 2, NULL, 0);
	apply_ok(s, finish(&b), 2); /* 1 queued + 2 > 2 */
	apply_ok(s, one_create(STORE_NODES, "n4", NULL, "{}", T0), 3);

	assert_int_equal(store_watch_next(w, &ev), -ENOBUFS);
	assert_int_equal(store_watch_next(w, &ev), -EAGAIN);
	/* The store has everything; later changes arrive again. */
	assert_int_equal(store_count(s, STORE_NODES), 4);
	apply_ok(s, one_create(STORE_NODES, "n5", NULL, "{}", T0), 4);
	assert_int_equal(store_watch_next(w, &ev), 0);
	assert_string_equal(ev.obj->id, "n5");
	store_event_fini(&ev);
	store_free(s); /* frees the watcher too */
}

static void event_keeps_its_version_after_later_changes(void **state)
{
	struct store *s = new_store();
	struct store_watcher *w;
	struct store_event ev;
	assert_int_equal(store_watch(s, STORE_ALL_TABLES, 4, NULL, NULL, &w),
			 0);
	apply_ok(s, one_create(STORE_NODES, "n1", NULL, "first", T0), 1);
	struct store_batch b;
	store_batch_init(&b, T0);
	store_batch_delete(&b, STORE_NODES, "n1", 1);
	apply_ok(s, finish(&b), 2);
	assert_int_equal(store_watch_next(w, &ev), 0);
	assert_spec(ev.obj, "first");
	const struct store_object *kept = store_object_ref(ev.obj);
	store_event_fini(&ev);
	store_free(s);
	assert_spec(kept, "first"); /* outlives the store */
	store_object_unref(kept);
}

static void restore_gives_watchers_a_reset(void **state)
{
	struct store *s = two_objects(), *r = new_store();
	struct store_watcher *w;
	struct store_event ev;
	int notified = 0;
	assert_int_equal(store_watch(r, STORE_ALL_TABLES, 4, count_notify,
				     &notified, &w),
			 0);
	apply_ok(r, one_create(STORE_NODES, "x", NULL, "{}", T0), 1);
	struct buf b = snap(s);
	assert_int_equal(store_restore(r, b.data, b.len, NULL), 0);
	assert_int_equal(notified, 2);
	assert_int_equal(store_watch_next(w, &ev), 0);
	assert_int_equal(ev.kind, STORE_EVENT_RESET);
	assert_int_equal(ev.index, 2);
	assert_null(ev.obj);
	store_event_fini(&ev);
	assert_int_equal(store_watch_next(w, &ev), -EAGAIN);
	buf_fini(&b);
	store_free(s);
	store_free(r);
}

static void watch_with_bad_arguments_is_refused(void **state)
{
	struct store *s = new_store();
	struct store_watcher *w;
	assert_int_equal(store_watch(s, 0, 4, NULL, NULL, &w), -EINVAL);
	assert_int_equal(store_watch(s, 1u << 30, 4, NULL, NULL, &w), -EINVAL);
	assert_int_equal(store_watch(s, STORE_ALL_TABLES, 0, NULL, NULL, &w),
			 -EINVAL);
	store_free(s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(
			created_object_carries_index_times_spec_and_status),
		cmocka_unit_test(
			update_with_current_version_replaces_what_it_carries),
		cmocka_unit_test(stale_update_is_refused_as_out_of_sequence),
		cmocka_unit_test(
			update_or_delete_of_a_missing_object_is_not_found),
		cmocka_unit_test(
			delete_with_current_version_removes_object_and_name),
		cmocka_unit_test(taken_id_or_unique_name_conflicts),
		cmocka_unit_test(same_name_twice_in_one_batch_conflicts),
		cmocka_unit_test(batch_with_one_bad_operation_changes_nothing),
		cmocka_unit_test(one_object_twice_in_a_batch_is_malformed),
		cmocka_unit_test(
			malformed_batches_are_refused_and_consume_their_index),
		cmocka_unit_test(
			entry_not_after_the_applied_index_is_refused_untouched),
		cmocka_unit_test(
			check_predicts_apply_without_changing_anything),
		cmocka_unit_test(builder_refuses_bad_input),
		cmocka_unit_test(decoded_batch_encodes_back_to_the_same_bytes),
		cmocka_unit_test(
			stores_fed_the_same_batches_have_identical_snapshots),
		cmocka_unit_test(failed_allocations_leave_the_store_untouched),
		cmocka_unit_test(
			out_of_memory_in_decoders_is_never_taken_for_bad_input),
		cmocka_unit_test(snapshot_restores_exactly),
		cmocka_unit_test(
			corrupt_snapshot_is_refused_and_changes_nothing),
		cmocka_unit_test(list_returns_objects_sorted_by_id),
		cmocka_unit_test(watcher_sees_changes_of_its_tables_in_order),
		cmocka_unit_test(
			watcher_that_overflows_is_told_once_then_continues),
		cmocka_unit_test(event_keeps_its_version_after_later_changes),
		cmocka_unit_test(restore_gives_watchers_a_reset),
		cmocka_unit_test(watch_with_bad_arguments_is_refused),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
