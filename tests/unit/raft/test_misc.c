/*
 * Input validation, configuration encoding, restore and the update
 * protocol of the core.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>

#include <cmocka.h>

#include "tests/unit/raft/fixture.h"
#include "tests/unit/raft/tests.h"

static void malformed_append_is_rejected_without_change(void **state)
{
	struct raft_entry e[2] = {
		{1, 1, RAFT_ENTRY_NORMAL, 0, NULL},
		{1, 3, RAFT_ENTRY_NORMAL, 0, NULL}, /* gap */
	};
	struct raft_status before, after;
	struct raft_msg m = {
		.type = RAFT_MSG_APPEND,
		.from = 2,
		.term = 1,
		.append = {0, 0, 0, 2, e},
	};
	struct one f;

	one_init(&f, 1, 3, 0, false);
	raft_status(f.r, &before);
	assert_int_equal(one_step(&f, m), -EPROTO);
	e[1].index = 2;
	e[1].term = 5; /* above the sender's term */
	assert_int_equal(one_step(&f, m), -EPROTO);
	e[1].term = 1;
	e[1].type = 99;
	assert_int_equal(one_step(&f, m), -EPROTO);
	e[1].type = RAFT_ENTRY_NORMAL;
	e[1].len = 4; /* no data */
	assert_int_equal(one_step(&f, m), -EPROTO);
	raft_status(f.r, &after);
	assert_memory_equal(&before, &after, sizeof(before));
	assert_false(raft_has_update(f.r));
	one_fini(&f);
}

static void messages_with_bad_ids_or_types_are_rejected(void **state)
{
	struct one f;

	one_init(&f, 1, 3, 0, false);
	assert_int_equal(one_step(&f,
				  (struct raft_msg){
					  .type = RAFT_MSG_HEARTBEAT,
					  .from = 0,
					  .term = 1,
				  }),
			 -EPROTO);
	assert_int_equal(one_step(&f,
				  (struct raft_msg){
					  .type = RAFT_MSG_HEARTBEAT,
					  .from = 2,
					  .to = 3,
					  .term = 1,
				  }),
			 -EPROTO);
	assert_int_equal(one_step(&f,
				  (struct raft_msg){
					  .type = 77,
					  .from = 2,
					  .term = 1,
				  }),
			 -EPROTO);
	assert_int_equal(
		one_step(&f,
			 (struct raft_msg){
				 .type = RAFT_MSG_SNAPSHOT,
				 .from = 2,
				 .term = 1,
				 .snapshot = {.meta = {.index = 5, .term = 1},
					      .offset = 10,
					      .size = 12,
					      .len = 4,
					      .data = (char[]){"abcd"}},
			 }),
		-EPROTO);
	one_fini(&f);
}

static void conf_roundtrips_and_bad_payloads_are_refused(void **state)
{
	struct raft_conf c = {3,
			      {{1, RAFT_VOTER},
			       {7, RAFT_LEARNER},
			       {UINT64_MAX, RAFT_VOTER}}},
			 d;
	unsigned char buf[64];
	int len = raft_conf_encode(&c, buf, sizeof(buf));

	assert_int_equal(len, 4 + 3 * 9);
	assert_int_equal(raft_conf_encode(&c, buf, 10), -ENOBUFS);
	assert_int_equal(raft_conf_decode(buf, (size_t)len, &d), 0);
	assert_memory_equal(&c, &d, sizeof(c));
	assert_int_equal(raft_conf_decode(buf, (size_t)len - 1, &d), -EPROTO);
	buf[4 + 9 + 8] = 9; /* unknown role */
	assert_int_equal(raft_conf_decode(buf, (size_t)len, &d), -EPROTO);
	buf[4 + 9 + 8] = RAFT_LEARNER;
	memcpy(buf + 4 + 9, buf + 4, 8); /* duplicate id */
	assert_int_equal(raft_conf_decode(buf, (size_t)len, &d), -EPROTO);
	memset(buf + 4 + 9, 0, 8); /* id 0 */
	assert_int_equal(raft_conf_decode(buf, (size_t)len, &d), -EPROTO);
	buf[0] = 200; /* too many servers */
	assert_int_equal(raft_conf_decode(buf, (size_t)len, &d), -EPROTO);
}

static void update_must_be_done_before_the_next(void **state)
{
	struct raft_update u;
	struct one f;

	one_init(&f, 1, 3, 0, false);
	one_tick(&f, 100);
	assert_true(one_update(&f));
	assert_int_equal(raft_update_get(f.r, &u), -EALREADY);
	one_fini(&f);
}

static void
restore_discards_a_log_that_does_not_reach_the_snapshot(void **state)
{
	struct raft_restore rs = {0};
	struct raft_status st;
	struct one f;

	one_init(&f, 1, 3, 0, false);
	raft_free(f.r);
	rs.snapshot = (struct raft_snapshot_meta){
		10,
		2,
		0,
		{3, {{1, RAFT_VOTER}, {2, RAFT_VOTER}, {3, RAFT_VOTER}}}};
	rs.hard = (struct raft_hard_state){2, 0, 10};
	assert_int_equal(raft_new(&f.o, &rs, &f.r), 0);
	assert_true(one_update(&f));
	assert_true(f.u.log_reset);
	assert_int_equal(f.u.log_reset_index, 10);
	raft_status(f.r, &st);
	assert_int_equal(st.last_index, 10);
	assert_int_equal(st.last_term, 2);
	assert_int_equal(st.applied, 10);
	one_fini(&f);
}

static void restore_clamps_commit_beyond_a_torn_log(void **state)
{
	static const uint64_t terms[] = {1, 1};
	struct raft_status st;
	struct one f;

	one_init_log(&f, 1, 3, terms, 2, 1);
	raft_free(f.r);
	{
		struct raft_conf c = {
			3, {{1, RAFT_VOTER}, {2, RAFT_VOTER}, {3, RAFT_VOTER}}};
		struct raft_restore rs = {.hard = {1, 0, 5},
					  .log_first = 1,
					  .log_last = 2,
					  .bootstrap = &c};

		assert_int_equal(raft_new(&f.o, &rs, &f.r), 0);
	}
	raft_status(f.r, &st);
	assert_int_equal(st.commit, 2);
	one_fini(&f);
}

static void invalid_options_are_refused(void **state)
{
	struct raft_options o;
	struct raft_restore rs = {0};
	struct raft *r = NULL;

	raft_options_init(&o);
	assert_int_equal(raft_new(&o, &rs, &r), -EINVAL); /* id 0 */
	o.id = 1;
	o.heartbeat_ms = o.election_timeout_ms;
	assert_int_equal(raft_new(&o, &rs, &r), -EINVAL);
	assert_null(r);
}

static void single_node_cluster_commits_alone(void **state)
{
	struct cluster *c = fx_cluster(1);

	assert_int_equal(fx_wait_leader(c, 1000), 1);
	/* 300 ms timeout, then the self-vote and no-op need one write. */
	assert_int_equal(cluster_leader_since(c), 300);
	assert_int_equal(cluster_propose(c, 1, NULL), 0);
	fx_run(c, 5);
	assert_int_equal(cluster_acked_count(c), 1);
	cluster_free(c);
}

const struct CMUnitTest raft_misc_tests[] = {
	cmocka_unit_test(malformed_append_is_rejected_without_change),
	cmocka_unit_test(messages_with_bad_ids_or_types_are_rejected),
	cmocka_unit_test(conf_roundtrips_and_bad_payloads_are_refused),
	cmocka_unit_test(update_must_be_done_before_the_next),
	cmocka_unit_test(
		restore_discards_a_log_that_does_not_reach_the_snapshot),
	cmocka_unit_test(restore_clamps_commit_beyond_a_torn_log),
	cmocka_unit_test(invalid_options_are_refused),
	cmocka_unit_test(single_node_cluster_commits_alone),
};
const size_t raft_misc_count =
	sizeof(raft_misc_tests) / sizeof(raft_misc_tests[0]);
