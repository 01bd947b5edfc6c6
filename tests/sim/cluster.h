/*
 * A deterministic Raft cluster in virtual time: the shell side of the pure
 * core for tests. Each node is a struct raft plus a simulated disk that
 * models fsync (writes complete after a latency, in order; a crash loses
 * what was not complete and may tear the write in progress), a state
 * machine (a running hash of applied commands) and the links of a network
 * that delays, drops, duplicates, reorders and partitions messages.
 *
 * Used by the unit tests (fixed delays, no random faults, exact times) and
 * by the simulator (tests/sim/sim.c, random faults from a seed). After
 * every event the invariants of the Raft paper are checked, each under the
 * name a test uses to expect it (enum cluster_invariant):
 *
 *   election-safety       at most one leader per term;
 *   log-matching          same index and term => same entry and same
 *                         predecessor term (so, by induction, same prefix),
 *                         and terms never decrease along a log;
 *   leader-completeness   a new leader holds every entry applied anywhere;
 *   state-machine-safety  no two nodes apply different entries at an index,
 *                         and an installed snapshot is the state applied at
 *                         its index;
 *   durability            an acknowledged proposal is applied everywhere
 *                         at its index (checked when applied, and at the
 *                         end by cluster_check_converged());
 *   linearizability       a read is served on a state at least as new as
 *                         every write acknowledged before it started;
 *   liveness              after the faults are healed a leader exists and
 *                         every member applies the commit index
 *                         (cluster_check_converged() only);
 *   core-contract         the core keeps its interface: entries handed in
 *                         index order with no gap, messages and snapshots
 *                         it made accepted, a restart from its own disk
 *                         succeeds.
 *
 * The first violation is kept (cluster_violated(), cluster_violation()) and
 * every later call returns -EIO. Single-threaded; all memory through
 * common/alloc.h.
 */
#ifndef SHOAL_TESTS_SIM_CLUSTER_H
#define SHOAL_TESTS_SIM_CLUSTER_H

#include <stdbool.h>
#include <stdint.h>

#include "raft/raft.h"

#define CLUSTER_MAX 5

/* The invariants, by the name tests and the simulator's command line use. */
enum cluster_invariant {
	CLUSTER_INV_NONE = 0,
	CLUSTER_INV_ELECTION_SAFETY,
	CLUSTER_INV_LOG_MATCHING,
	CLUSTER_INV_LEADER_COMPLETENESS,
	CLUSTER_INV_STATE_MACHINE_SAFETY,
	CLUSTER_INV_DURABILITY,
	CLUSTER_INV_LINEARIZABILITY,
	CLUSTER_INV_LIVENESS,
	CLUSTER_INV_CORE_CONTRACT,
	CLUSTER_INV_COUNT
};

/** cluster_invariant_name() - "election-safety", ...; "none" for
 * CLUSTER_INV_NONE. Static storage. */
const char *cluster_invariant_name(enum cluster_invariant inv);

/** cluster_invariant_parse() - the invariant called @name, or
 * CLUSTER_INV_NONE when no invariant has that name. */
enum cluster_invariant cluster_invariant_parse(const char *name);

struct cluster_opts {
	uint32_t n; /* nodes, ids 1..n, all founding voters */
	uint64_t seed;
	uint32_t net_min_ms; /* message delay range */
	uint32_t net_max_ms;
	uint32_t loss_ppm; /* per message */
	uint32_t dup_ppm;
	uint32_t disk_min_ms; /* write latency range */
	uint32_t disk_max_ms;
	uint32_t snapshot_bytes; /* size of a state machine snapshot */
	/* per-node election timeout / jitter overrides (0: template) */
	uint32_t election_ms[CLUSTER_MAX + 1];
	struct raft_options
		raft; /* template; id, seed and readers set per node */
	/* Called for each message sent; returning false drops it. */
	bool (*filter)(void *arg, const struct raft_msg *m);
	void *filter_arg;
	/* Called when a node becomes leader (for fault schedules). */
	void (*on_leader)(void *arg, uint64_t id, uint64_t term, uint64_t now);
	void *on_leader_arg;
	bool trace; /* print every event to stdout */
};

void cluster_opts_init(struct cluster_opts *o, uint32_t n);

struct cluster;

int cluster_new(const struct cluster_opts *o, struct cluster **out);
void cluster_free(struct cluster *c);

/** cluster_step() - run one event: 0, 1 when nothing is scheduled, -EIO
 * after a violation. */
int cluster_step(struct cluster *c);
/** Run every event scheduled at or before @t, then set the time to @t. */
int cluster_run_until(struct cluster *c, uint64_t t);
uint64_t cluster_now(const struct cluster *c);
/** Time of the next scheduled event, UINT64_MAX if none. */
uint64_t cluster_next_time(const struct cluster *c);
uint64_t cluster_events(const struct cluster *c);
/** The invariant the first violation broke; CLUSTER_INV_NONE if none. */
enum cluster_invariant cluster_violated(const struct cluster *c);
/** "<invariant>: <what happened>" for the first violation, or NULL;
 * valid until cluster_free(). */
const char *cluster_violation(const struct cluster *c);

struct raft *cluster_raft(struct cluster *c, uint64_t id); /* NULL if down */
bool cluster_up(const struct cluster *c, uint64_t id);
/** The up node that believes it leads the highest term, or 0. */
uint64_t cluster_leader(const struct cluster *c);
/** Time the current leader of the highest term was elected. */
uint64_t cluster_leader_since(const struct cluster *c);
/** Index through which node @id applied commands. */
uint64_t cluster_applied(const struct cluster *c, uint64_t id);
uint64_t cluster_max_acked(const struct cluster *c);
uint64_t cluster_acked_count(const struct cluster *c);
uint64_t cluster_reads_served(const struct cluster *c);
uint64_t cluster_snapshots_installed(const struct cluster *c);

/** Crash @id: pending writes are lost, the one in progress maybe torn. */
void cluster_crash(struct cluster *c, uint64_t id, bool torn);
int cluster_restart(struct cluster *c, uint64_t id);
/** Block (or unblock) messages from @from to @to. */
void cluster_block(struct cluster *c, uint64_t from, uint64_t to, bool on);
void cluster_isolate(struct cluster *c, uint64_t id);
void cluster_heal(struct cluster *c);
void cluster_set_loss(struct cluster *c, uint32_t loss_ppm, uint32_t dup_ppm);
void cluster_set_disk(struct cluster *c, uint64_t id, uint32_t min_ms,
		      uint32_t max_ms);

/** Propose a unique command on @id; returns the raft_propose() code. */
int cluster_propose(struct cluster *c, uint64_t id, uint64_t *index);
/** Request a linearizable read on @id; returns the raft_read_index() code. */
int cluster_read(struct cluster *c, uint64_t id);
/** Call fn on node @id's core and process the resulting update. */
int cluster_call(struct cluster *c, uint64_t id,
		 int (*fn)(struct raft *r, void *arg), void *arg);

/**
 * cluster_check_converged() - after faults healed: a leader exists and
 * every member of its configuration applied its commit index, which covers
 * every acknowledged write. -EIO (and a violation) otherwise.
 */
int cluster_check_converged(struct cluster *c);

#endif
