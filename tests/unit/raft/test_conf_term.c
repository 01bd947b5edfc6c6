/*
 * The single-server membership change rule that §4.1 of the thesis needs
 * and that Ongaro's 2015 raft-dev correction made explicit: a leader must
 * not append a configuration entry before it has committed an entry of its
 * own term. Without it, a new leader whose log lacks an uncommitted change
 * of an earlier leader can commit a second change whose majority does not
 * overlap the first one's; the earlier leader can then be elected by the
 * other configuration and overwrite committed entries.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>

#include <cmocka.h>

#include "common/log.h"
#include "tests/unit/raft/fixture.h"

static void ack(struct one *f, uint64_t from, uint64_t index)
{
	struct raft_status st;
	raft_status(f->r, &st);
	assert_int_equal(one_step(f,
				  (struct raft_msg){
					  .type = RAFT_MSG_APPEND_RESP,
					  .from = from,
					  .term = st.term,
					  .append_resp = {.index = index},
				  }),
			 0);
}

static void
new_leader_changes_membership_only_after_committing_in_its_term(void **state)
{
	const uint64_t terms[] = {1, 1};
	struct one f;
	struct raft_status st;
	uint64_t idx;

	/* Entries 1..2 of term 1; the bootstrap configuration is committed
	 * as far as this node knows. */
	one_init_log(&f, 1, 3, terms, 2, 2);
	one_elect(&f); /* term 3, no-op at index 3 */
	raft_status(f.r, &st);
	assert_int_equal(st.role, RAFT_LEADER);
	assert_true(st.conf_index <= st.commit);
	assert_true(st.commit < 3);
	assert_int_equal(raft_remove(f.r, 3, &idx), -EBUSY);
	assert_int_equal(raft_add_learner(f.r, 4, &idx), -EBUSY);
	raft_status(f.r, &st);
	assert_int_equal(st.last_index, 3);

	/* Once the no-op is committed, changes are accepted again. */
	ack(&f, 2, 3);
	raft_status(f.r, &st);
	assert_int_equal(st.commit, 3);
	assert_int_equal(raft_remove(f.r, 3, &idx), 0);
	assert_int_equal(idx, 4);
	one_fini(&f);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(
			new_leader_changes_membership_only_after_committing_in_its_term),
	};
	log_set_level(LOG_LEVEL_ERROR);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
