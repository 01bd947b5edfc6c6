/*
 * unit-raft-core: every rule of Figure 2 and of the membership and
 * snapshot chapters of the thesis as a named test, on a single core driven
 * by hand or on a simulated cluster in virtual time.
 */
#include "common/alloc.h"
#include "common/log.h"
#include "tests/unit/raft/tests.h"

#define RUN(name)                                                              \
	_cmocka_run_group_tests(#name, raft_##name##_tests,                    \
				raft_##name##_count, NULL, NULL)

int main(void)
{
	int failed = 0;

	log_set_level(LOG_LEVEL_ERROR);
	failed += RUN(election);
	failed += RUN(replication);
	failed += RUN(membership);
	failed += RUN(snapshot);
	failed += RUN(reads);
	failed += RUN(misc);
	return failed ? 1 : 0;
}
