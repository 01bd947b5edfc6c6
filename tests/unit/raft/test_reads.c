/*
 * Linearizable reads (thesis §6.4) and leadership transfer (§3.10).
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

static void read_index_waits_for_commit_in_term(void **state)
{
	const struct raft_msg *hb;
	uint64_t ctx;
	struct one f;

	one_init(&f, 1, 3, 0, false);
	one_elect(&f);
	assert_int_equal(raft_read_index(f.r, 7), 0);
	while (one_update(&f))
		assert_int_equal(f.u.n_reads, 0);
	/* The no-op commits: now the read gets its index and a round. */
	assert_int_equal(one_step(&f,
				  (struct raft_msg){
					  .type = RAFT_MSG_APPEND_RESP,
					  .from = 2,
					  .term = 1,
					  .append_resp = {.index = 1},
				  }),
			 0);
	assert_true(one_update(&f));
	assert_int_equal(f.u.n_reads, 0);
	hb = one_msg(&f, RAFT_MSG_HEARTBEAT, 3, NULL);
	assert_non_null(hb);
	ctx = hb->heartbeat.ctx;
	assert_true(ctx > 0);
	/* One more voter confirms the round: a majority with the leader. */
	assert_int_equal(one_step(&f,
				  (struct raft_msg){
					  .type = RAFT_MSG_HEARTBEAT_RESP,
					  .from = 3,
					  .term = 1,
					  .heartbeat_resp = {.ctx = ctx},
				  }),
			 0);
	assert_true(one_update(&f));
	assert_int_equal(f.u.n_reads, 1);
	assert_int_equal(f.u.reads[0].token, 7);
	assert_int_equal(f.u.reads[0].index, 1);
	assert_int_equal(f.u.reads[0].status, 0);
	one_fini(&f);
}

static void read_index_ignores_acks_of_older_rounds(void **state)
{
	struct one f;

	one_init(&f, 1, 3, 0, false);
	one_elect(&f);
	assert_int_equal(one_step(&f,
				  (struct raft_msg){
					  .type = RAFT_MSG_APPEND_RESP,
					  .from = 2,
					  .term = 1,
					  .append_resp = {.index = 1},
				  }),
			 0);
	assert_int_equal(raft_read_index(f.r, 1), 0);
	assert_int_equal(one_step(&f,
				  (struct raft_msg){
					  .type = RAFT_MSG_HEARTBEAT_RESP,
					  .from = 3,
					  .term = 1,
					  .heartbeat_resp = {.ctx = 0},
				  }),
			 0);
	while (one_update(&f))
		assert_int_equal(f.u.n_reads, 0);
	one_fini(&f);
}

static void read_on_follower_returns_not_leader(void **state)
{
	struct one f;

	one_init(&f, 1, 3, 0, false);
	assert_int_equal(raft_read_index(f.r, 1), SHOAL_ENOTLEADER);
	one_fini(&f);
}

static void pending_reads_fail_when_leadership_is_lost(void **state)
{
	struct one f;

	one_init(&f, 1, 3, 0, false);
	one_elect(&f);
	assert_int_equal(raft_read_index(f.r, 5), 0);
	assert_int_equal(one_step(&f,
				  (struct raft_msg){
					  .type = RAFT_MSG_HEARTBEAT,
					  .from = 2,
					  .term = 2,
				  }),
			 0);
	assert_true(one_update(&f));
	assert_int_equal(f.u.n_reads, 1);
	assert_int_equal(f.u.reads[0].token, 5);
	assert_int_equal(f.u.reads[0].status, SHOAL_ENOTLEADER);
	one_fini(&f);
}

static void read_queue_full_returns_busy(void **state)
{
	struct one f;
	uint32_t i;

	one_init(&f, 1, 3, 0, false);
	one_elect(&f);
	for (i = 0; i < f.o.max_pending_reads; i++)
		assert_int_equal(raft_read_index(f.r, i), 0);
	assert_int_equal(raft_read_index(f.r, i), -EBUSY);
	one_fini(&f);
}

static void reads_are_served_by_a_healthy_leader_only(void **state)
{
	struct cluster *c = fx_cluster(3);
	uint64_t l = fx_wait_leader(c, 1000), served;

	fx_run(c, 100);
	assert_int_equal(cluster_read(c, l), 0);
	fx_run(c, 10);
	assert_int_equal(cluster_reads_served(c), 1);
	/* Cut off, the leader cannot confirm its leadership: the read
	 * waits, then fails when it steps down; never served stale. */
	cluster_isolate(c, l);
	served = cluster_reads_served(c);
	assert_int_equal(cluster_read(c, l), 0);
	fx_run(c, 1000);
	assert_int_equal(cluster_reads_served(c), served);
	assert_int_not_equal(fx_role(c, l), RAFT_LEADER);
	cluster_free(c);
}

static int transfer_to(struct raft *r, void *arg)
{
	return raft_transfer_leadership(r, *(uint64_t *)arg);
}

static void leadership_transfer_to_up_to_date_follower(void **state)
{
	struct cluster *c = fx_cluster(3);
	uint64_t l = fx_wait_leader(c, 1000), to = 3, start;

	assert_int_equal(l, 1);
	fx_run(c, 1000);
	start = cluster_now(c);
	assert_int_equal(cluster_call(c, 1, transfer_to, &to), 0);
	assert_int_equal(cluster_propose(c, 1, NULL), -EBUSY);
	fx_run(c, 50);
	assert_int_equal(cluster_leader(c), 3);
	assert_int_equal(fx_term(c, 3), 2);
	/* TimeoutNow (1 ms), vote written and sent (2 ms), granted vote
	 * written and sent back (2 ms): no election timeout waited. */
	assert_int_equal(cluster_leader_since(c), start + 5);
	cluster_free(c);
}

static void transfer_to_non_voter_or_self_is_invalid(void **state)
{
	struct cluster *c = fx_cluster(3);
	uint64_t l = fx_wait_leader(c, 1000), to;

	fx_run(c, 100);
	to = l;
	assert_int_equal(cluster_call(c, l, transfer_to, &to), -EINVAL);
	to = 9;
	assert_int_equal(cluster_call(c, l, transfer_to, &to), -EINVAL);
	cluster_free(c);
}

static void transfer_is_abandoned_after_an_election_timeout(void **state)
{
	struct cluster *c = fx_cluster(3);
	uint64_t l = fx_wait_leader(c, 1000), to = 3;

	fx_run(c, 100);
	cluster_crash(c, 3, false);
	assert_int_equal(cluster_call(c, l, transfer_to, &to), 0);
	assert_int_equal(cluster_propose(c, l, NULL), -EBUSY);
	fx_run(c, 301);
	assert_int_equal(cluster_leader(c), l);
	assert_int_equal(cluster_propose(c, l, NULL), 0);
	cluster_free(c);
}

const struct CMUnitTest raft_reads_tests[] = {
	cmocka_unit_test(read_index_waits_for_commit_in_term),
	cmocka_unit_test(read_index_ignores_acks_of_older_rounds),
	cmocka_unit_test(read_on_follower_returns_not_leader),
	cmocka_unit_test(pending_reads_fail_when_leadership_is_lost),
	cmocka_unit_test(read_queue_full_returns_busy),
	cmocka_unit_test(reads_are_served_by_a_healthy_leader_only),
	cmocka_unit_test(leadership_transfer_to_up_to_date_follower),
	cmocka_unit_test(transfer_to_non_voter_or_self_is_invalid),
	cmocka_unit_test(transfer_is_abandoned_after_an_election_timeout),
};
const size_t raft_reads_count =
	sizeof(raft_reads_tests) / sizeof(raft_reads_tests[0]);
