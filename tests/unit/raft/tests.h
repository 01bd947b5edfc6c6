/* The groups of the unit-raft-core binary, one per source file. */
#ifndef SHOAL_TESTS_UNIT_RAFT_TESTS_H
#define SHOAL_TESTS_UNIT_RAFT_TESTS_H

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#define RAFT_GROUP(name)                                                       \
	extern const struct CMUnitTest raft_##name##_tests[];                  \
	extern const size_t raft_##name##_count

RAFT_GROUP(election);
RAFT_GROUP(replication);
RAFT_GROUP(membership);
RAFT_GROUP(snapshot);
RAFT_GROUP(reads);
RAFT_GROUP(misc);

#endif
