/*
 * Fixtures for the Raft unit tests: a single core driven by hand (struct
 * one: messages crafted by the test, updates inspected field by field) and
 * a small helper set over the simulated cluster of tests/sim/cluster.h
 * (fixed delays of 1 ms on every link and every disk write, fixed election
 * timeouts, so times are exact).
 */
#ifndef SHOAL_TESTS_UNIT_RAFT_FIXTURE_H
#define SHOAL_TESTS_UNIT_RAFT_FIXTURE_H

#include <stdbool.h>
#include <stdint.h>

#include "raft/raft.h"
#include "tests/sim/cluster.h"

#define ONE_LOG_MAX 1024

/* One core, its "disk" (entries the test persisted) and its last update. */
struct one {
	struct raft *r;
	struct raft_options o;
	struct raft_entry log[ONE_LOG_MAX + 1]; /* by index */
	uint64_t last;
	struct raft_update u;
	bool have_update;
	uint64_t now;
};

/* A core of node @id in a cluster of voters 1..@voters plus @learners
 * learners (ids voters+1...), with fixed 100 ms election timeout, 10 ms
 * heartbeat, no jitter, pre-vote as given. */
void one_init(struct one *f, uint64_t id, uint32_t voters, uint32_t learners,
	      bool prevote);
/* Same, with the log already holding entries of the given terms. */
void one_init_log(struct one *f, uint64_t id, uint32_t voters,
		  const uint64_t *terms, uint32_t n, uint64_t term);
void one_fini(struct one *f);
void one_tick(struct one *f, uint64_t now);
/* Release the previous update and take the next one (false if none). */
bool one_update(struct one *f);
/* Persist the current update's entries and tell the core. */
void one_persist(struct one *f);
/* The first message of @type to @to in the current update (either list). */
const struct raft_msg *one_msg(struct one *f, enum raft_msg_type type,
			       uint64_t to, bool *durable);
size_t one_count(struct one *f, enum raft_msg_type type, uint64_t to);
int one_step(struct one *f, struct raft_msg m);
/* Make @f (id 1, prevote off) the leader of its term via granted votes. */
void one_elect(struct one *f);

/* Cluster with fixed 1 ms links and disks, election timeouts 300, 400,
 * 500... ms for nodes 1, 2, 3..., heartbeat 50 ms. */
struct cluster *fx_cluster(uint32_t n);
struct cluster *fx_cluster_opts(struct cluster_opts *o);
void fx_opts(struct cluster_opts *o, uint32_t n);
/* Run until some node leads, at most @limit ms; returns it. */
uint64_t fx_wait_leader(struct cluster *c, uint64_t limit);
void fx_run(struct cluster *c, uint64_t ms);
enum raft_role fx_role(struct cluster *c, uint64_t id);
uint64_t fx_term(struct cluster *c, uint64_t id);

#endif
