/*
 * Elections (Figure 2 "RequestVote", thesis §3.4, §4.2.3, §6.2, §9.6).
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

/*
 * Node 1 times out at 300 ms; pre-vote out and back (2 ms); its term and
 * self-vote are written (1 ms) before the vote requests leave; the votes
 * travel (1 ms), are written (1 ms) and travel back (1 ms): leader at 306.
 */
static void first_election_ends_at_306_ms(void **state)
{
	struct cluster *c = fx_cluster(3);

	assert_int_equal(fx_wait_leader(c, 1000), 1);
	assert_int_equal(cluster_leader_since(c), 306);
	assert_int_equal(fx_term(c, 1), 1);
	cluster_free(c);
}

/*
 * Production timers: every node has the same minimum (300 ms, also the
 * lease) plus a random part below 300 ms. The first follower to time out
 * finds the other's lease expired too and wins term 2 at once.
 */
static void election_completes_in_one_round_after_leader_crash(void **state)
{
	struct cluster_opts o;
	struct cluster *c;
	uint64_t crash_at, leader;

	fx_opts(&o, 3);
	memset(o.election_ms, 0, sizeof(o.election_ms));
	o.raft.election_jitter_ms = 300;
	o.seed = 7;
	c = fx_cluster_opts(&o);
	leader = fx_wait_leader(c, 2000);
	assert_int_not_equal(leader, 0);
	fx_run(c, 1000);
	crash_at = cluster_now(c);
	cluster_crash(c, leader, false);
	assert_int_not_equal(fx_wait_leader(c, 2000), 0);
	assert_int_equal(fx_term(c, cluster_leader(c)),
			 fx_term(c, leader == 1 ? 2 : 1));
	for (uint64_t id = 1; id <= 3; id++)
		if (id != leader)
			assert_int_equal(fx_term(c, id), 2);
	/* Within one election timeout, its random part and one round
	 * (6 ms) of the crash; no earlier than a lease after it. */
	assert_true(cluster_leader_since(c) <= crash_at + 600 + 6);
	assert_true(cluster_leader_since(c) >= crash_at + 300 - 50);
	cluster_free(c);
}

static void prevote_does_not_disrupt_stable_leader(void **state)
{
	struct cluster *c = fx_cluster(3);

	assert_int_equal(fx_wait_leader(c, 1000), 1);
	cluster_isolate(c, 3);
	fx_run(c, 5000);
	/* The isolated node never got pre-votes: its term did not grow. */
	assert_int_equal(fx_term(c, 3), 1);
	cluster_heal(c);
	fx_run(c, 2000);
	assert_int_equal(cluster_leader(c), 1);
	assert_int_equal(fx_term(c, 1), 1);
	assert_int_equal(fx_term(c, 3), 1);
	cluster_free(c);
}

static void follower_in_lease_ignores_higher_term_votes(void **state)
{
	struct cluster *c = fx_cluster(3);
	struct raft_status st;
	struct raft_msg m = {
		.type = RAFT_MSG_VOTE,
		.from = 3,
		.to = 2,
		.term = 7,
		.vote = {.last_index = 100, .last_term = 6},
	};

	assert_int_equal(fx_wait_leader(c, 1000), 1);
	fx_run(c, 100);
	assert_int_equal(raft_step(cluster_raft(c, 2), &m), 0);
	raft_status(cluster_raft(c, 2), &st);
	assert_int_equal(st.term, 1);
	assert_int_equal(st.vote, 1);
	cluster_free(c);
}

static void candidate_steps_down_on_higher_term(void **state)
{
	struct one f;
	struct raft_status st;

	one_init(&f, 1, 3, 0, false);
	one_tick(&f, 100);
	raft_status(f.r, &st);
	assert_int_equal(st.role, RAFT_CANDIDATE);
	assert_int_equal(st.term, 1);
	assert_int_equal(one_step(&f,
				  (struct raft_msg){
					  .type = RAFT_MSG_HEARTBEAT,
					  .from = 2,
					  .term = 2,
				  }),
			 0);
	raft_status(f.r, &st);
	assert_int_equal(st.role, RAFT_FOLLOWER);
	assert_int_equal(st.term, 2);
	assert_int_equal(st.leader, 2);
	one_fini(&f);
}

static void
candidate_sends_vote_requests_only_after_its_vote_is_durable(void **state)
{
	struct one f;
	bool durable = false;
	const struct raft_msg *m;

	one_init(&f, 1, 3, 0, false);
	one_tick(&f, 100);
	assert_true(one_update(&f));
	assert_true(f.u.hard_changed);
	assert_int_equal(f.u.hard.term, 1);
	assert_int_equal(f.u.hard.vote, 1);
	m = one_msg(&f, RAFT_MSG_VOTE, 2, &durable);
	assert_non_null(m);
	assert_true(durable);
	one_fini(&f);
}

static void vote_is_granted_once_per_term_and_persisted_first(void **state)
{
	struct one f;
	const struct raft_msg *m;
	bool durable = false;
	struct raft_msg req = {
		.type = RAFT_MSG_VOTE,
		.from = 2,
		.term = 1,
	};

	one_init(&f, 1, 3, 0, false);
	assert_int_equal(one_step(&f, req), 0);
	assert_true(one_update(&f));
	assert_int_equal(f.u.hard.vote, 2);
	m = one_msg(&f, RAFT_MSG_VOTE_RESP, 2, &durable);
	assert_non_null(m);
	assert_true(m->vote_resp.granted);
	assert_true(durable);
	req.from = 3;
	assert_int_equal(one_step(&f, req), 0);
	assert_true(one_update(&f));
	m = one_msg(&f, RAFT_MSG_VOTE_RESP, 3, NULL);
	assert_non_null(m);
	assert_false(m->vote_resp.granted);
	one_fini(&f);
}

static void vote_refused_to_candidate_with_stale_log(void **state)
{
	static const uint64_t terms[] = {1, 2};
	struct one f;
	const struct raft_msg *m;

	one_init_log(&f, 1, 3, terms, 2, 2);
	/* Longer log, older last term: not up to date (§3.6.1). */
	assert_int_equal(
		one_step(&f,
			 (struct raft_msg){
				 .type = RAFT_MSG_VOTE,
				 .from = 2,
				 .term = 3,
				 .vote = {.last_index = 5, .last_term = 1},
			 }),
		0);
	assert_true(one_update(&f));
	m = one_msg(&f, RAFT_MSG_VOTE_RESP, 2, NULL);
	assert_non_null(m);
	assert_false(m->vote_resp.granted);
	/* Same last term, shorter log: refused too. */
	assert_int_equal(
		one_step(&f,
			 (struct raft_msg){
				 .type = RAFT_MSG_VOTE,
				 .from = 3,
				 .term = 3,
				 .vote = {.last_index = 1, .last_term = 2},
			 }),
		0);
	assert_true(one_update(&f));
	m = one_msg(&f, RAFT_MSG_VOTE_RESP, 3, NULL);
	assert_false(m->vote_resp.granted);
	one_fini(&f);
}

static void prevote_does_not_change_the_voters_term(void **state)
{
	struct one f;
	struct raft_status st;
	const struct raft_msg *m;

	one_init(&f, 1, 3, 0, true);
	assert_int_equal(one_step(&f,
				  (struct raft_msg){
					  .type = RAFT_MSG_VOTE,
					  .from = 2,
					  .term = 5,
					  .vote = {.prevote = true},
				  }),
			 0);
	assert_true(one_update(&f));
	m = one_msg(&f, RAFT_MSG_VOTE_RESP, 2, NULL);
	assert_non_null(m);
	assert_true(m->vote_resp.granted);
	assert_true(m->vote_resp.prevote);
	raft_status(f.r, &st);
	assert_int_equal(st.term, 0);
	assert_int_equal(st.vote, 0);
	one_fini(&f);
}

static void leader_steps_down_without_quorum(void **state)
{
	struct cluster *c = fx_cluster(3);
	uint64_t cut;

	assert_int_equal(fx_wait_leader(c, 1000), 1);
	fx_run(c, 100);
	cut = cluster_now(c);
	cluster_isolate(c, 1);
	/* Check-quorum runs every election timeout (300 ms): the leader
	 * gives up at the first check that finds no majority. */
	fx_run(c, 299 * 2);
	assert_int_not_equal(fx_role(c, 1), RAFT_LEADER);
	assert_int_equal(fx_term(c, 1), 1);
	(void)cut;
	cluster_free(c);
}

static void learner_never_campaigns(void **state)
{
	struct one f;
	struct raft_status st;

	one_init(&f, 3, 2, 1, true);
	for (uint64_t t = 100; t <= 2000; t += 100) {
		one_tick(&f, t);
		while (one_update(&f))
			assert_int_equal(one_count(&f, RAFT_MSG_VOTE, 1), 0);
	}
	raft_status(f.r, &st);
	assert_int_equal(st.role, RAFT_FOLLOWER);
	assert_int_equal(st.term, 0);
	one_fini(&f);
}

static void learner_does_not_vote(void **state)
{
	struct one f;
	struct raft_status st;

	/* Voters 1, 2, 3 (quorum 2) and learner 4. */
	memset(&f, 0, sizeof(f));
	one_init(&f, 1, 3, 1, false);
	one_tick(&f, 100);
	assert_int_equal(one_step(&f,
				  (struct raft_msg){
					  .type = RAFT_MSG_VOTE_RESP,
					  .from = 4,
					  .term = 1,
					  .vote_resp = {.granted = true},
				  }),
			 0);
	raft_status(f.r, &st);
	assert_int_equal(st.role, RAFT_CANDIDATE);
	assert_int_equal(one_step(&f,
				  (struct raft_msg){
					  .type = RAFT_MSG_VOTE_RESP,
					  .from = 3,
					  .term = 1,
					  .vote_resp = {.granted = true},
				  }),
			 0);
	raft_status(f.r, &st);
	assert_int_equal(st.role, RAFT_LEADER);
	one_fini(&f);
}

static void split_vote_is_retried_with_a_new_term(void **state)
{
	struct one f;
	struct raft_status st;

	one_init(&f, 1, 3, 0, false);
	one_tick(&f, 100);
	for (uint64_t from = 2; from <= 3; from++)
		assert_int_equal(one_step(&f,
					  (struct raft_msg){
						  .type = RAFT_MSG_VOTE_RESP,
						  .from = from,
						  .term = 1,
					  }),
				 0);
	raft_status(f.r, &st);
	assert_int_equal(st.role, RAFT_FOLLOWER);
	one_tick(&f, 200);
	raft_status(f.r, &st);
	assert_int_equal(st.role, RAFT_CANDIDATE);
	assert_int_equal(st.term, 2);
	one_fini(&f);
}

static void heartbeats_keep_followers_from_campaigning(void **state)
{
	struct cluster *c = fx_cluster(3);

	assert_int_equal(fx_wait_leader(c, 1000), 1);
	fx_run(c, 10000);
	assert_int_equal(cluster_leader(c), 1);
	for (uint64_t id = 1; id <= 3; id++)
		assert_int_equal(fx_term(c, id), 1);
	cluster_free(c);
}

static void leader_steps_down_on_higher_term_response(void **state)
{
	struct raft_status st;
	struct one f;

	one_init(&f, 1, 3, 0, false);
	one_elect(&f);
	assert_int_equal(one_step(&f,
				  (struct raft_msg){
					  .type = RAFT_MSG_APPEND_RESP,
					  .from = 3,
					  .term = 4,
					  .append_resp = {.reject = true},
				  }),
			 0);
	raft_status(f.r, &st);
	assert_int_equal(st.role, RAFT_FOLLOWER);
	assert_int_equal(st.term, 4);
	assert_int_equal(st.vote, 0);
	one_fini(&f);
}

static void new_leader_appends_a_noop_of_its_term(void **state)
{
	static const uint64_t terms[] = {1, 1, 2};
	struct one f;

	one_init_log(&f, 1, 3, terms, 3, 2);
	one_tick(&f, 100);
	assert_true(one_update(&f));
	one_persist(&f);
	assert_int_equal(one_step(&f,
				  (struct raft_msg){
					  .type = RAFT_MSG_VOTE_RESP,
					  .from = 3,
					  .term = 3,
					  .vote_resp = {.granted = true},
				  }),
			 0);
	assert_true(one_update(&f));
	assert_int_equal(f.u.n_entries, 1);
	assert_int_equal(f.u.entries[0].index, 4);
	assert_int_equal(f.u.entries[0].term, 3);
	assert_int_equal(f.u.entries[0].type, RAFT_ENTRY_NOOP);
	assert_true(f.u.role_changed);
	assert_int_equal(f.u.role, RAFT_LEADER);
	assert_non_null(one_msg(&f, RAFT_MSG_APPEND, 2, NULL));
	assert_non_null(one_msg(&f, RAFT_MSG_APPEND, 3, NULL));
	one_fini(&f);
}

const struct CMUnitTest raft_election_tests[] = {
	cmocka_unit_test(heartbeats_keep_followers_from_campaigning),
	cmocka_unit_test(leader_steps_down_on_higher_term_response),
	cmocka_unit_test(new_leader_appends_a_noop_of_its_term),
	cmocka_unit_test(first_election_ends_at_306_ms),
	cmocka_unit_test(election_completes_in_one_round_after_leader_crash),
	cmocka_unit_test(prevote_does_not_disrupt_stable_leader),
	cmocka_unit_test(follower_in_lease_ignores_higher_term_votes),
	cmocka_unit_test(candidate_steps_down_on_higher_term),
	cmocka_unit_test(
		candidate_sends_vote_requests_only_after_its_vote_is_durable),
	cmocka_unit_test(vote_is_granted_once_per_term_and_persisted_first),
	cmocka_unit_test(vote_refused_to_candidate_with_stale_log),
	cmocka_unit_test(prevote_does_not_change_the_voters_term),
	cmocka_unit_test(leader_steps_down_without_quorum),
	cmocka_unit_test(learner_never_campaigns),
	cmocka_unit_test(learner_does_not_vote),
	cmocka_unit_test(split_vote_is_retried_with_a_new_term),
};
const size_t raft_election_count =
	sizeof(raft_election_tests) / sizeof(raft_election_tests[0]);
