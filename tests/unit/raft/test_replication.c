/*
 * Log replication (Figure 2 "AppendEntries", thesis §3.5, §3.6, §10.2).
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>

#include <cmocka.h>

#include "common/error.h"
#include "tests/unit/raft/fixture.h"
#include "tests/unit/raft/tests.h"

static struct raft_entry ent(uint64_t index, uint64_t term)
{
	return (struct raft_entry){term, index, RAFT_ENTRY_NORMAL, 0, NULL};
}

static int append(struct one *f, uint64_t term, uint64_t prev_index,
		  uint64_t prev_term, uint64_t commit, struct raft_entry *e,
		  size_t n)
{
	return one_step(f,
			(struct raft_msg){
				.type = RAFT_MSG_APPEND,
				.from = 2,
				.term = term,
				.append = {prev_index, prev_term, commit, n, e},
			});
}

static void follower_rejects_append_with_mismatched_prev_term(void **state)
{
	static const uint64_t terms[] = {1, 1, 1, 2, 2};
	struct raft_entry e = ent(6, 4);
	const struct raft_msg *m;
	struct one f;

	one_init_log(&f, 1, 3, terms, 5, 2);
	assert_int_equal(append(&f, 4, 5, 3, 0, &e, 1), 0);
	assert_true(one_update(&f));
	assert_int_equal(f.u.n_entries, 0);
	m = one_msg(&f, RAFT_MSG_APPEND_RESP, 2, NULL);
	assert_non_null(m);
	assert_true(m->append_resp.reject);
	assert_int_equal(m->append_resp.index, 5);
	/* Hint: the last index whose term is <= 3, skipping term 2 whole. */
	assert_int_equal(m->append_resp.hint_index, 5);
	assert_int_equal(m->append_resp.hint_term, 2);
	one_fini(&f);
}

static void follower_rejects_append_beyond_its_log(void **state)
{
	static const uint64_t terms[] = {1, 1};
	struct raft_entry e = ent(10, 3);
	const struct raft_msg *m;
	struct one f;

	one_init_log(&f, 1, 3, terms, 2, 1);
	assert_int_equal(append(&f, 3, 9, 3, 0, &e, 1), 0);
	assert_true(one_update(&f));
	m = one_msg(&f, RAFT_MSG_APPEND_RESP, 2, NULL);
	assert_true(m->append_resp.reject);
	assert_int_equal(m->append_resp.hint_index, 2);
	assert_int_equal(m->append_resp.hint_term, 1);
	one_fini(&f);
}

static void follower_truncates_conflicting_suffix(void **state)
{
	static const uint64_t terms[] = {1, 1, 1};
	struct raft_entry e[2] = {ent(2, 2), ent(3, 2)};
	const struct raft_msg *m;
	struct raft_status st;
	struct one f;

	one_init_log(&f, 1, 3, terms, 3, 1);
	assert_int_equal(append(&f, 2, 1, 1, 0, e, 2), 0);
	assert_true(one_update(&f));
	assert_int_equal(f.u.truncate_from, 2);
	assert_int_equal(f.u.n_entries, 2);
	assert_int_equal(f.u.entries[0].term, 2);
	m = one_msg(&f, RAFT_MSG_APPEND_RESP, 2, NULL);
	assert_false(m->append_resp.reject);
	assert_int_equal(m->append_resp.index, 3);
	one_persist(&f);
	raft_status(f.r, &st);
	assert_int_equal(st.last_index, 3);
	assert_int_equal(st.last_term, 2);
	one_fini(&f);
}

static void follower_keeps_matching_entries_of_a_duplicate_append(void **state)
{
	static const uint64_t terms[] = {1, 1, 1};
	struct raft_entry e = ent(2, 1);
	struct one f;

	one_init_log(&f, 1, 3, terms, 3, 1);
	assert_int_equal(append(&f, 1, 1, 1, 0, &e, 1), 0);
	assert_true(one_update(&f));
	assert_int_equal(f.u.truncate_from, 0);
	assert_int_equal(f.u.n_entries, 0);
	one_fini(&f);
}

static void follower_acknowledges_append_only_after_it_is_durable(void **state)
{
	struct raft_entry e = ent(1, 1);
	const struct raft_msg *m;
	bool durable = false;
	struct one f;

	one_init(&f, 1, 3, 0, false);
	assert_int_equal(append(&f, 1, 0, 0, 0, &e, 1), 0);
	assert_true(one_update(&f));
	assert_int_equal(f.u.n_entries, 1);
	m = one_msg(&f, RAFT_MSG_APPEND_RESP, 2, &durable);
	assert_non_null(m);
	assert_true(durable);
	assert_int_equal(m->append_resp.index, 1);
	one_fini(&f);
}

static void follower_commit_is_capped_at_last_new_entry(void **state)
{
	struct raft_entry e[2] = {ent(1, 1), ent(2, 1)};
	struct raft_status st;
	struct one f;

	one_init(&f, 1, 3, 0, false);
	assert_int_equal(append(&f, 1, 0, 0, 9, e, 2), 0);
	raft_status(f.r, &st);
	assert_int_equal(st.commit, 2);
	one_fini(&f);
}

static void leader_never_commits_entry_from_older_term_by_counting(void **state)
{
	static const uint64_t terms[] = {1, 1};
	struct raft_status st;
	struct one f;

	one_init_log(&f, 1, 3, terms, 2, 2);
	one_elect(&f); /* term 3, no-op at index 3, persisted */
	raft_status(f.r, &st);
	assert_int_equal(st.term, 3);
	assert_int_equal(st.last_index, 3);
	/* Node 2 stores index 2 (term 1): a majority holds it, yet it is
	 * of an older term: not committed (Figure 8). */
	assert_int_equal(one_step(&f,
				  (struct raft_msg){
					  .type = RAFT_MSG_APPEND_RESP,
					  .from = 2,
					  .term = 3,
					  .append_resp = {.index = 2},
				  }),
			 0);
	raft_status(f.r, &st);
	assert_int_equal(st.commit, 0);
	/* Once the no-op of term 3 is on a majority, everything commits. */
	assert_int_equal(one_step(&f,
				  (struct raft_msg){
					  .type = RAFT_MSG_APPEND_RESP,
					  .from = 2,
					  .term = 3,
					  .append_resp = {.index = 3},
				  }),
			 0);
	raft_status(f.r, &st);
	assert_int_equal(st.commit, 3);
	one_fini(&f);
}

static void leader_counts_itself_only_once_its_write_is_durable(void **state)
{
	struct raft_status st;
	uint64_t idx;
	struct one f;

	one_init(&f, 1, 3, 0, false);
	one_elect(&f);
	assert_int_equal(raft_propose(f.r, "x", 1, &idx, NULL), 0);
	assert_int_equal(idx, 2);
	assert_true(one_update(&f)); /* not persisted yet */
	assert_int_equal(one_step(&f,
				  (struct raft_msg){
					  .type = RAFT_MSG_APPEND_RESP,
					  .from = 2,
					  .term = 1,
					  .append_resp = {.index = 2},
				  }),
			 0);
	raft_status(f.r, &st);
	assert_int_equal(st.commit, 1);
	one_persist(&f);
	raft_status(f.r, &st);
	assert_int_equal(st.commit, 2);
	one_fini(&f);
}

static void leader_sends_appends_while_its_own_write_is_pending(void **state)
{
	uint64_t idx;
	struct one f;
	const struct raft_msg *m;

	bool durable = true;

	one_init(&f, 1, 3, 0, false);
	one_elect(&f);
	assert_int_equal(one_step(&f,
				  (struct raft_msg){
					  .type = RAFT_MSG_APPEND_RESP,
					  .from = 3,
					  .term = 1,
					  .append_resp = {.index = 1},
				  }),
			 0);
	while (one_update(&f))
		;
	assert_int_equal(raft_propose(f.r, "x", 1, &idx, NULL), 0);
	assert_true(one_update(&f));
	assert_int_equal(f.u.n_entries, 1);
	/* The append leaves now, in parallel with the leader's own write. */
	m = one_msg(&f, RAFT_MSG_APPEND, 3, &durable);
	assert_non_null(m);
	assert_false(durable);
	assert_int_equal(m->append.n_entries, 1);
	one_fini(&f);
}

static void leader_pipelines_appends_up_to_the_inflight_limit(void **state)
{
	size_t sent = 0;
	uint64_t idx;
	struct one f;

	one_init(&f, 1, 3, 0, false);
	one_elect(&f);
	/* Node 2 acknowledges the no-op: it moves to pipelined replication. */
	assert_int_equal(one_step(&f,
				  (struct raft_msg){
					  .type = RAFT_MSG_APPEND_RESP,
					  .from = 2,
					  .term = 1,
					  .append_resp = {.index = 1},
				  }),
			 0);
	for (int i = 0; i < 6; i++) {
		assert_int_equal(raft_propose(f.r, "x", 1, &idx, NULL), 0);
		while (one_update(&f)) {
			sent += one_count(&f, RAFT_MSG_APPEND, 2);
			one_persist(&f);
		}
	}
	/* max_inflight_msgs = 4 appends without any answer. */
	assert_int_equal(sent, 4);
	one_fini(&f);
}

static void rejected_append_backs_off_a_whole_term(void **state)
{
	static const uint64_t terms[] = {1, 1, 1, 2, 2};
	const struct raft_msg *m;
	struct one f;

	one_init_log(&f, 1, 3, terms, 5, 2);
	one_elect(&f); /* term 3, no-op at 6 */
	/* Node 2 has 1..3 of term 1 and 4..6 of a term-2 leader's other
	 * branch: it rejects prev 5/2 with hint (3, 1). */
	assert_int_equal(one_step(&f,
				  (struct raft_msg){
					  .type = RAFT_MSG_APPEND_RESP,
					  .from = 2,
					  .term = 3,
					  .append_resp = {.reject = true,
							  .index = 5,
							  .hint_index = 3,
							  .hint_term = 1},
				  }),
			 0);
	assert_true(one_update(&f));
	m = one_msg(&f, RAFT_MSG_APPEND, 2, NULL);
	assert_non_null(m);
	assert_int_equal(m->append.prev_index, 3);
	assert_int_equal(m->append.prev_term, 1);
	one_fini(&f);
}

static void proposal_queue_full_returns_busy(void **state)
{
	uint64_t idx;
	int ok = 0, rc;
	struct one f;

	one_init(&f, 1, 3, 0, false);
	one_elect(&f);
	while ((rc = raft_propose(f.r, "x", 1, &idx, NULL)) == 0)
		ok++;
	assert_int_equal(rc, -EBUSY);
	/* max_uncommitted = 8, the no-op holds one slot. */
	assert_int_equal(ok, 7);
	one_fini(&f);
}

static void propose_on_follower_returns_not_leader(void **state)
{
	uint64_t idx;
	struct one f;

	one_init(&f, 1, 3, 0, false);
	assert_int_equal(raft_propose(f.r, "x", 1, &idx, NULL),
			 SHOAL_ENOTLEADER);
	one_fini(&f);
}

static void acknowledged_writes_survive_a_crash_of_every_node(void **state)
{
	struct cluster *c = fx_cluster(3);
	uint64_t leader = fx_wait_leader(c, 1000), acked;

	for (int i = 0; i < 20; i++)
		assert_int_equal(cluster_propose(c, leader, NULL), 0);
	fx_run(c, 100);
	acked = cluster_max_acked(c);
	assert_int_equal(cluster_acked_count(c), 20);
	for (uint64_t id = 1; id <= 3; id++)
		cluster_crash(c, id, true);
	for (uint64_t id = 1; id <= 3; id++)
		assert_int_equal(cluster_restart(c, id), 0);
	assert_int_not_equal(fx_wait_leader(c, 2000), 0);
	fx_run(c, 500);
	for (uint64_t id = 1; id <= 3; id++)
		assert_true(cluster_applied(c, id) >= acked);
	assert_int_equal(cluster_check_converged(c), 0);
	cluster_free(c);
}

static void lagging_follower_reads_old_entries_back_from_disk(void **state)
{
	struct cluster_opts o;
	struct cluster *c;
	struct raft_status st;
	uint64_t leader;

	fx_opts(&o, 3);
	o.raft.mem_entries = 8;
	o.raft.max_uncommitted = 200;
	c = fx_cluster_opts(&o);
	leader = fx_wait_leader(c, 1000);
	cluster_crash(c, 3, false);
	for (int i = 0; i < 100; i++) {
		assert_int_equal(cluster_propose(c, leader, NULL), 0);
		fx_run(c, 2);
	}
	fx_run(c, 100);
	raft_status(cluster_raft(c, leader), &st);
	assert_true(st.mem_entries <= 8);
	assert_int_equal(cluster_restart(c, 3), 0);
	fx_run(c, 1000);
	assert_int_equal(cluster_applied(c, 3), st.commit);
	assert_int_equal(cluster_check_converged(c), 0);
	cluster_free(c);
}

static void follower_rejects_append_from_older_term(void **state)
{
	struct raft_entry e = ent(1, 1);
	const struct raft_msg *m;
	struct raft_status st;
	struct one f;

	one_init(&f, 1, 3, 0, false);
	assert_int_equal(append(&f, 3, 0, 0, 0, NULL, 0), 0);
	while (one_update(&f))
		;
	assert_int_equal(append(&f, 2, 0, 0, 0, &e, 1), 0);
	assert_true(one_update(&f));
	assert_int_equal(f.u.n_entries, 0);
	m = one_msg(&f, RAFT_MSG_APPEND_RESP, 2, NULL);
	assert_non_null(m);
	assert_true(m->append_resp.reject);
	assert_int_equal(m->term, 3);
	raft_status(f.r, &st);
	assert_int_equal(st.last_index, 0);
	one_fini(&f);
}

static void follower_applies_only_entries_it_has_persisted(void **state)
{
	struct raft_entry e[2] = {ent(1, 1), ent(2, 1)};
	struct one f;

	one_init(&f, 1, 3, 0, false);
	assert_int_equal(append(&f, 1, 0, 0, 2, e, 2), 0);
	assert_true(one_update(&f));
	assert_int_equal(f.u.hard.commit, 2);
	assert_int_equal(f.u.n_committed, 0);
	one_persist(&f);
	assert_true(one_update(&f));
	assert_int_equal(f.u.n_committed, 2);
	assert_int_equal(f.u.committed[0].index, 1);
	assert_int_equal(f.u.committed[1].index, 2);
	one_fini(&f);
}

const struct CMUnitTest raft_replication_tests[] = {
	cmocka_unit_test(follower_rejects_append_from_older_term),
	cmocka_unit_test(follower_applies_only_entries_it_has_persisted),
	cmocka_unit_test(follower_rejects_append_with_mismatched_prev_term),
	cmocka_unit_test(follower_rejects_append_beyond_its_log),
	cmocka_unit_test(follower_truncates_conflicting_suffix),
	cmocka_unit_test(follower_keeps_matching_entries_of_a_duplicate_append),
	cmocka_unit_test(follower_acknowledges_append_only_after_it_is_durable),
	cmocka_unit_test(follower_commit_is_capped_at_last_new_entry),
	cmocka_unit_test(
		leader_never_commits_entry_from_older_term_by_counting),
	cmocka_unit_test(leader_counts_itself_only_once_its_write_is_durable),
	cmocka_unit_test(leader_sends_appends_while_its_own_write_is_pending),
	cmocka_unit_test(leader_pipelines_appends_up_to_the_inflight_limit),
	cmocka_unit_test(rejected_append_backs_off_a_whole_term),
	cmocka_unit_test(proposal_queue_full_returns_busy),
	cmocka_unit_test(propose_on_follower_returns_not_leader),
	cmocka_unit_test(acknowledged_writes_survive_a_crash_of_every_node),
	cmocka_unit_test(lagging_follower_reads_old_entries_back_from_disk),
};
const size_t raft_replication_count =
	sizeof(raft_replication_tests) / sizeof(raft_replication_tests[0]);
