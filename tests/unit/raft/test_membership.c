/*
 * Membership changes (thesis chapter 4): one server at a time, learners
 * that catch up before promotion, removal of the leader.
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

struct change {
	int (*fn)(struct raft *r, uint64_t id, uint64_t *index);
	uint64_t id;
	uint64_t index;
};

static int do_change(struct raft *r, void *arg)
{
	struct change *ch = arg;

	return ch->fn(r, ch->id, &ch->index);
}

static int change(struct cluster *c, uint64_t on,
		  int (*fn)(struct raft *, uint64_t, uint64_t *), uint64_t id)
{
	struct change ch = {fn, id, 0};

	return cluster_call(c, on, do_change, &ch);
}

static const struct raft_server *member(struct cluster *c, uint64_t on,
					uint64_t id, struct raft_status *st)
{
	raft_status(cluster_raft(c, on), st);
	return raft_conf_find(&st->conf, id);
}

static void configuration_takes_effect_when_appended(void **state)
{
	struct cluster *c = fx_cluster(3);
	uint64_t l = fx_wait_leader(c, 1000);
	struct raft_status st;
	const struct raft_server *s;

	fx_run(c, 100);
	assert_int_equal(change(c, l, raft_remove, 3), 0);
	/* Not committed yet, already in effect on the leader (§4.1). */
	assert_null(member(c, l, 3, &st));
	assert_true(st.conf_index > st.commit);
	assert_int_equal(change(c, l, raft_add_learner, 4), -EBUSY);
	fx_run(c, 100);
	s = member(c, 2, 1, &st);
	assert_non_null(s);
	assert_null(member(c, 2, 3, &st));
	assert_true(st.commit >= st.conf_index);
	cluster_free(c);
}

static void one_membership_change_at_a_time(void **state)
{
	struct cluster *c = fx_cluster(3);
	uint64_t l = fx_wait_leader(c, 1000);

	fx_run(c, 100);
	assert_int_equal(change(c, l, raft_remove, 3), 0);
	assert_int_equal(change(c, l, raft_remove, 2), -EBUSY);
	fx_run(c, 100);
	assert_int_equal(change(c, l, raft_add_learner, 3), 0);
	cluster_free(c);
}

static void membership_errors_are_reported(void **state)
{
	struct cluster *c = fx_cluster(3);
	uint64_t l = fx_wait_leader(c, 1000);

	fx_run(c, 100);
	assert_int_equal(change(c, l, raft_add_learner, 2), SHOAL_ECONFLICT);
	assert_int_equal(change(c, l, raft_promote, 2), -EINVAL);
	assert_int_equal(change(c, l, raft_remove, 9), -EINVAL);
	assert_int_equal(change(c, l == 1 ? 2 : 1, raft_remove, 3),
			 SHOAL_ENOTLEADER);
	cluster_free(c);
}

static void last_voter_cannot_be_removed(void **state)
{
	struct cluster *c = fx_cluster(1);
	uint64_t l = fx_wait_leader(c, 1000);

	assert_int_equal(l, 1);
	fx_run(c, 10);
	assert_int_equal(change(c, 1, raft_remove, 1), -EINVAL);
	cluster_free(c);
}

static void learner_catches_up_before_promotion(void **state)
{
	struct cluster_opts o;
	struct cluster *c;
	struct raft_status st;
	uint64_t l;

	fx_opts(&o, 3);
	o.raft.max_uncommitted = 500;
	o.raft.catchup_margin = 4;
	c = fx_cluster_opts(&o);
	l = fx_wait_leader(c, 1000);
	fx_run(c, 100);
	assert_int_equal(change(c, l, raft_remove, 3), 0);
	fx_run(c, 100);
	cluster_crash(c, 3, false);
	assert_int_equal(change(c, l, raft_add_learner, 3), 0);
	for (int i = 0; i < 100; i++)
		assert_int_equal(cluster_propose(c, l, NULL), 0);
	fx_run(c, 100);
	/* Far behind: promoting it would stall commitment (§4.2.1). */
	assert_int_equal(change(c, l, raft_promote, 3), -EAGAIN);
	assert_int_equal(cluster_restart(c, 3), 0);
	fx_run(c, 1000);
	assert_int_equal(change(c, l, raft_promote, 3), 0);
	fx_run(c, 100);
	assert_int_equal(member(c, l, 3, &st)->role, RAFT_VOTER);
	assert_true(st.commit >= st.conf_index);
	assert_int_equal(cluster_check_converged(c), 0);
	cluster_free(c);
}

static void leader_removal_steps_down_after_commit(void **state)
{
	struct cluster *c = fx_cluster(3);
	uint64_t l = fx_wait_leader(c, 1000), next;
	struct raft_status st;

	assert_int_equal(l, 1);
	fx_run(c, 100);
	assert_int_equal(change(c, 1, raft_remove, 1), 0);
	/* Still leading the change, without counting itself (§4.2.2). */
	assert_int_equal(fx_role(c, 1), RAFT_LEADER);
	fx_run(c, 10);
	raft_status(cluster_raft(c, 1), &st);
	assert_true(st.commit >= st.conf_index);
	assert_int_equal(st.role, RAFT_FOLLOWER);
	next = fx_wait_leader(c, 2000);
	assert_true(next == 2 || next == 3);
	fx_run(c, 3000);
	assert_int_not_equal(fx_role(c, 1), RAFT_LEADER);
	assert_int_equal(cluster_check_converged(c), 0);
	cluster_free(c);
}

static void uncommitted_configuration_is_rolled_back_on_truncation(void **state)
{
	struct raft_conf conf = {0};
	unsigned char buf[4 + RAFT_CONF_MAX * 9];
	struct raft_entry e[1];
	struct raft_status st;
	struct one f;
	int len;

	one_init(&f, 1, 3, 0, false);
	raft_status(f.r, &st);
	conf = st.conf;
	conf.servers[conf.n++] = (struct raft_server){4, RAFT_LEARNER};
	len = raft_conf_encode(&conf, buf, sizeof(buf));
	e[0] = (struct raft_entry){1, 1, RAFT_ENTRY_CONF, (uint32_t)len, buf};
	assert_int_equal(one_step(&f,
				  (struct raft_msg){
					  .type = RAFT_MSG_APPEND,
					  .from = 2,
					  .term = 1,
					  .append = {0, 0, 0, 1, e},
				  }),
			 0);
	raft_status(f.r, &st);
	assert_int_equal(st.conf.n, 4);
	e[0] = (struct raft_entry){2, 1, RAFT_ENTRY_NORMAL, 0, NULL};
	assert_int_equal(one_step(&f,
				  (struct raft_msg){
					  .type = RAFT_MSG_APPEND,
					  .from = 3,
					  .term = 2,
					  .append = {0, 0, 0, 1, e},
				  }),
			 0);
	raft_status(f.r, &st);
	assert_int_equal(st.conf.n, 3);
	assert_int_equal(st.conf_index, 0);
	one_fini(&f);
}

const struct CMUnitTest raft_membership_tests[] = {
	cmocka_unit_test(configuration_takes_effect_when_appended),
	cmocka_unit_test(one_membership_change_at_a_time),
	cmocka_unit_test(membership_errors_are_reported),
	cmocka_unit_test(last_voter_cannot_be_removed),
	cmocka_unit_test(learner_catches_up_before_promotion),
	cmocka_unit_test(leader_removal_steps_down_after_commit),
	cmocka_unit_test(
		uncommitted_configuration_is_rolled_back_on_truncation),
};
const size_t raft_membership_count =
	sizeof(raft_membership_tests) / sizeof(raft_membership_tests[0]);
