/*
 * Snapshots and log compaction (thesis chapter 5).
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>

#include <cmocka.h>

#include "tests/unit/raft/fixture.h"
#include "tests/unit/raft/tests.h"

struct chunk_log {
	uint64_t offsets[256];
	size_t n;
	uint64_t drop_offset; /* drop the first chunk at this offset */
	bool dropped;
};

static bool watch_chunks(void *arg, const struct raft_msg *m)
{
	struct chunk_log *cl = arg;

	if (m->type != RAFT_MSG_SNAPSHOT || m->to != 3)
		return true;
	if (cl->drop_offset && !cl->dropped &&
	    m->snapshot.offset == cl->drop_offset) {
		cl->dropped = true;
		return false;
	}
	if (cl->n < 256)
		cl->offsets[cl->n++] = m->snapshot.offset;
	return true;
}

static struct cluster *snap_cluster(struct chunk_log *cl)
{
	struct cluster_opts o;

	fx_opts(&o, 3);
	o.raft.snapshot_threshold = 20;
	o.raft.snapshot_trailing = 2;
	o.raft.snapshot_chunk = 64;
	o.raft.snapshot_inflight = 2;
	o.raft.max_uncommitted = 200;
	o.snapshot_bytes = 300; /* 5 chunks */
	o.filter = watch_chunks;
	o.filter_arg = cl;
	return fx_cluster_opts(&o);
}

static void lag_node_3(struct cluster *c, uint64_t leader)
{
	cluster_crash(c, 3, false);
	for (int i = 0; i < 60; i++) {
		assert_int_equal(cluster_propose(c, leader, NULL), 0);
		fx_run(c, 2);
	}
	fx_run(c, 100);
}

static size_t count_offset(const struct chunk_log *cl, uint64_t off)
{
	size_t n = 0;

	for (size_t i = 0; i < cl->n; i++)
		n += cl->offsets[i] == off;
	return n;
}

static void snapshot_installed_in_chunks_on_lagging_follower(void **state)
{
	struct chunk_log cl = {0};
	struct cluster *c = snap_cluster(&cl);
	uint64_t leader = fx_wait_leader(c, 1000);
	struct raft_status st;

	lag_node_3(c, leader);
	raft_status(cluster_raft(c, leader), &st);
	assert_true(st.snapshot_index >= 40);
	/* The log was compacted behind the snapshot, keeping 2 entries. */
	assert_int_equal(st.first_index, st.snapshot_index - 2 + 1);
	assert_int_equal(cluster_restart(c, 3), 0);
	fx_run(c, 1000);
	assert_int_equal(cluster_snapshots_installed(c), 1);
	for (uint64_t off = 0; off < 300; off += 64)
		assert_int_equal(count_offset(&cl, off), 1);
	assert_int_equal(cluster_applied(c, 3), cluster_applied(c, leader));
	assert_int_equal(cluster_check_converged(c), 0);
	cluster_free(c);
}

static void snapshot_transfer_resumes_after_a_lost_chunk(void **state)
{
	struct chunk_log cl = {.drop_offset = 128};
	struct cluster *c = snap_cluster(&cl);
	uint64_t leader = fx_wait_leader(c, 1000);

	lag_node_3(c, leader);
	assert_int_equal(cluster_restart(c, 3), 0);
	fx_run(c, 2000);
	assert_true(cl.dropped);
	assert_int_equal(cluster_snapshots_installed(c), 1);
	/* Resumed at the lost chunk, not restarted from the beginning. */
	assert_int_equal(count_offset(&cl, 0), 1);
	assert_int_equal(count_offset(&cl, 128), 1);
	assert_int_equal(cluster_check_converged(c), 0);
	cluster_free(c);
}

static void restart_from_snapshot_restores_the_state_machine(void **state)
{
	struct chunk_log cl = {0};
	struct cluster *c = snap_cluster(&cl);
	uint64_t leader = fx_wait_leader(c, 1000), acked;

	for (int i = 0; i < 50; i++) {
		assert_int_equal(cluster_propose(c, leader, NULL), 0);
		fx_run(c, 2);
	}
	fx_run(c, 100);
	acked = cluster_max_acked(c);
	for (uint64_t id = 1; id <= 3; id++)
		cluster_crash(c, id, false);
	for (uint64_t id = 1; id <= 3; id++)
		assert_int_equal(cluster_restart(c, id), 0);
	assert_int_not_equal(fx_wait_leader(c, 2000), 0);
	fx_run(c, 500);
	for (uint64_t id = 1; id <= 3; id++)
		assert_true(cluster_applied(c, id) >= acked);
	assert_int_equal(cluster_check_converged(c), 0);
	cluster_free(c);
}

static void snapshot_of_unapplied_index_is_refused(void **state)
{
	struct one f;

	one_init(&f, 1, 3, 0, false);
	assert_int_equal(raft_snapshot_done(f.r, 5), -EINVAL);
	assert_int_equal(raft_snapshot_installed(f.r, 5, 1), -EINVAL);
	one_fini(&f);
}

static void take_snapshot_is_asked_after_threshold_applied(void **state)
{
	struct raft_entry e[4];
	struct raft_status st;
	bool asked = false;
	struct one f;

	one_init(&f, 1, 3, 0, false);
	raft_free(f.r);
	f.o.snapshot_threshold = 3;
	{
		struct raft_conf conf = {
			3, {{1, RAFT_VOTER}, {2, RAFT_VOTER}, {3, RAFT_VOTER}}};
		struct raft_restore rs = {.bootstrap = &conf};

		assert_int_equal(raft_new(&f.o, &rs, &f.r), 0);
	}
	for (int i = 0; i < 4; i++)
		e[i] = (struct raft_entry){1, (uint64_t)i + 1,
					   RAFT_ENTRY_NORMAL, 0, NULL};
	assert_int_equal(one_step(&f,
				  (struct raft_msg){
					  .type = RAFT_MSG_APPEND,
					  .from = 2,
					  .term = 1,
					  .append = {0, 0, 4, 4, e},
				  }),
			 0);
	while (one_update(&f)) {
		one_persist(&f);
		asked |= f.u.take_snapshot;
	}
	assert_true(asked);
	raft_status(f.r, &st);
	assert_int_equal(st.applied, 4);
	assert_int_equal(raft_snapshot_done(f.r, 4), 0);
	raft_status(f.r, &st);
	assert_int_equal(st.snapshot_index, 4);
	assert_int_equal(st.snapshot_term, 1);
	one_fini(&f);
}

static struct raft_msg chunk(uint64_t offset, uint32_t len, bool last)
{
	static char bytes[100];

	return (struct raft_msg){
		.type = RAFT_MSG_SNAPSHOT,
		.from = 2,
		.term = 3,
		.snapshot = {.meta = {.index = 50,
				      .term = 2,
				      .conf = {3,
					       {{1, RAFT_VOTER},
						{2, RAFT_VOTER},
						{3, RAFT_VOTER}}}},
			     .offset = offset,
			     .size = 100,
			     .last = last,
			     .len = len,
			     .data = bytes},
	};
}

static void follower_installs_snapshot_only_once_it_is_loaded(void **state)
{
	const struct raft_msg *m;
	struct raft_status st;
	bool durable = false;
	struct one f;

	one_init(&f, 1, 3, 0, false);
	assert_int_equal(one_step(&f, chunk(0, 60, false)), 0);
	assert_true(one_update(&f));
	assert_int_equal(f.u.n_chunks, 1);
	assert_false(f.u.chunks[0].last);
	m = one_msg(&f, RAFT_MSG_SNAPSHOT_RESP, 2, NULL);
	assert_int_equal(m->snapshot_resp.next_offset, 60);
	assert_int_equal(one_step(&f, chunk(60, 40, true)), 0);
	assert_true(one_update(&f));
	assert_true(f.u.chunks[0].last);
	/* Nothing moves until the shell says the snapshot is loaded. */
	raft_status(f.r, &st);
	assert_int_equal(st.snapshot_index, 0);
	assert_int_equal(st.commit, 0);
	assert_int_equal(raft_snapshot_installed(f.r, 50, 1), -EINVAL);
	assert_int_equal(raft_snapshot_installed(f.r, 50, 2), 0);
	assert_true(one_update(&f));
	assert_true(f.u.log_reset);
	assert_int_equal(f.u.log_reset_index, 50);
	m = one_msg(&f, RAFT_MSG_APPEND_RESP, 2, &durable);
	assert_non_null(m);
	assert_true(durable);
	assert_int_equal(m->append_resp.index, 50);
	raft_status(f.r, &st);
	assert_int_equal(st.snapshot_index, 50);
	assert_int_equal(st.commit, 50);
	assert_int_equal(st.applied, 50);
	assert_int_equal(st.last_index, 50);
	one_fini(&f);
}

static void out_of_order_chunk_asks_for_the_expected_offset(void **state)
{
	const struct raft_msg *m;
	struct one f;

	one_init(&f, 1, 3, 0, false);
	assert_int_equal(one_step(&f, chunk(60, 40, true)), 0);
	assert_true(one_update(&f));
	assert_int_equal(f.u.n_chunks, 0);
	m = one_msg(&f, RAFT_MSG_SNAPSHOT_RESP, 2, NULL);
	assert_int_equal(m->snapshot_resp.next_offset, 0);
	assert_int_equal(one_step(&f, chunk(0, 60, false)), 0);
	assert_int_equal(one_step(&f, chunk(0, 60, false)), 0); /* dup */
	assert_true(one_update(&f));
	assert_int_equal(f.u.n_chunks, 1);
	one_fini(&f);
}

const struct CMUnitTest raft_snapshot_tests[] = {
	cmocka_unit_test(follower_installs_snapshot_only_once_it_is_loaded),
	cmocka_unit_test(out_of_order_chunk_asks_for_the_expected_offset),
	cmocka_unit_test(snapshot_installed_in_chunks_on_lagging_follower),
	cmocka_unit_test(snapshot_transfer_resumes_after_a_lost_chunk),
	cmocka_unit_test(restart_from_snapshot_restores_the_state_machine),
	cmocka_unit_test(snapshot_of_unapplied_index_is_refused),
	cmocka_unit_test(take_snapshot_is_asked_after_threshold_applied),
};
const size_t raft_snapshot_count =
	sizeof(raft_snapshot_tests) / sizeof(raft_snapshot_tests[0]);
