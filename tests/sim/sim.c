/*
 * sim: the deterministic Raft cluster simulator. One run is a seed: the
 * seed picks the fault rates and drives every decision, so
 * `sim --seed N [--nodes 3|5] [--events N] -v` replays run N exactly and
 * prints its trace.
 *
 * A run has two phases. Chaos, for --events cluster events: client
 * proposals and reads throughout, message loss/duplication/reordering
 * (random delays), symmetric and asymmetric partitions, crashes that lose
 * unsynced writes (half of them tearing the write in progress), restarts,
 * slow disks, membership changes (add learner, promote, remove - the leader
 * included) and leadership transfers. Then healing: every node restarted,
 * the network whole, and after a bounded virtual time a leader must exist
 * and every member must have applied everything committed (liveness).
 * The invariants of tests/sim/cluster.h are checked after every event.
 *
 * Exit status: 0 all runs passed; 1 a run violated an invariant (the line
 * names it and the seed); 2 usage. With --expect-violation NAME (the
 * planted-bug build, --bug N) the meaning flips: the run stops at the first
 * seed that violates anything, and exits 0 only if what it violated is the
 * invariant NAME; 1 when another invariant was violated (the bug was caught
 * by the wrong check, or something else is broken) or when no seed of the
 * range caught anything. `sim --list-invariants` prints the names
 * (tests/sim/cluster.h says what each one means).
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/error.h"
#include "common/log.h"
#include "raft/internal.h"
#include "tests/sim/cluster.h"

struct args {
	uint64_t seed_lo, seed_hi;
	uint32_t nodes;
	uint64_t events;
	bool verbose;
	int bug;
	enum cluster_invariant expect; /* CLUSTER_INV_NONE: expect none */
	bool list;
};

struct rng {
	uint64_t s;
};

static uint64_t rnd(struct rng *r)
{
	uint64_t z = (r->s += 0x9e3779b97f4a7c15ULL);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

static uint64_t between(struct rng *r, uint64_t lo, uint64_t hi)
{
	return lo + rnd(r) % (hi - lo + 1);
}

static uint64_t any_node(struct rng *r, uint32_t n)
{
	return between(r, 1, n);
}

struct member_arg {
	struct rng *rng;
	uint32_t n;
};

static int change_membership(struct raft *r, void *arg)
{
	struct member_arg *a = arg;
	struct raft_status st;
	uint64_t idx, voters = 0;

	raft_status(r, &st);
	for (uint64_t id = 1; id <= a->n; id++)
		if (!raft_conf_find(&st.conf, id))
			return raft_add_learner(r, id, &idx);
	for (uint32_t i = 0; i < st.conf.n; i++) {
		if (st.conf.servers[i].role == RAFT_LEARNER)
			return raft_promote(r, st.conf.servers[i].id, &idx);
		voters++;
	}
	if (voters < 3)
		return 0;
	return raft_remove(r, st.conf.servers[rnd(a->rng) % st.conf.n].id,
			   &idx);
}

static int transfer(struct raft *r, void *arg)
{
	return raft_transfer_leadership(r, 0);
}

/*
 * Short-lived leaders: a quarter of new leaders are crashed or cut off a
 * few ms after winning, before their no-op is everywhere. This is the
 * interleaving of the thesis' Figure 3.7 (the paper's Figure 8), where
 * committing an older term's entry by counting replicas loses it.
 */
struct schedule {
	struct rng *rng;
	uint64_t next;
	bool fault_leader;
	uint64_t cut_leader; /* a leader cut off and not yet healed */
};

static void chaos_action(struct cluster *c, struct rng *r, uint32_t n,
			 struct schedule *s)
{
	uint64_t roll = rnd(r) % 1000, id = any_node(r, n);
	uint64_t leader = cluster_leader(c);
	struct member_arg ma = {r, n};

	if (roll < 450) {
		uint64_t k = between(r, 1, 4);

		for (uint64_t i = 0; i < k; i++)
			cluster_propose(c, leader ? leader : id, NULL);
	} else if (roll < 650) {
		/* Half the reads go to any node: a deposed leader that does not
		 * know it yet must not serve them. */
		if (s->cut_leader && (rnd(r) & 1))
			cluster_read(c, s->cut_leader); /* deposed? */
		else
			cluster_read(c, leader && (rnd(r) & 1) ? leader : id);
	} else if (roll < 690) {
		cluster_crash(c, id, rnd(r) & 1);
	} else if (roll < 770) {
		cluster_restart(c, id);
	} else if (roll < 790) {
		cluster_isolate(c, id);
	} else if (roll < 810) {
		cluster_block(c, id, any_node(r, n), true);
	} else if (roll < 860) {
		cluster_heal(c);
		s->cut_leader = 0;
	} else if (roll < 875) {
		cluster_set_disk(c, id, 20, 200);
	} else if (roll < 890) {
		cluster_set_disk(c, id, 1, 5);
	} else if (roll < 920) {
		if (leader)
			cluster_call(c, leader, change_membership, &ma);
	} else if (roll < 945) {
		if (leader)
			cluster_call(c, leader, transfer, NULL);
	} else if (roll < 960) {
		cluster_set_loss(c, (uint32_t)between(r, 0, 100000),
				 (uint32_t)between(r, 0, 20000));
	} else if (leader && roll < 980) {
		/* Crash the leader: the most interesting fault. */
		cluster_crash(c, leader, rnd(r) & 1);
	} else if (leader) {
		/* Cut the leader off with its uncommitted tail (Figure 8). */
		cluster_isolate(c, leader);
		s->cut_leader = leader;
	}
}

static int heal_and_check(struct cluster *c, uint32_t n, struct schedule *s)
{
	uint64_t t;
	int rc;

	s->next = UINT64_MAX; /* no more leader faults */
	s->rng = NULL;
	cluster_heal(c);
	cluster_set_loss(c, 0, 0);
	for (uint64_t id = 1; id <= n; id++) {
		cluster_set_disk(c, id, 1, 5);
		cluster_restart(c, id);
	}
	t = cluster_now(c);
	rc = cluster_run_until(c, t + 20000);
	if (rc)
		return rc;
	if (cluster_leader(c))
		cluster_propose(c, cluster_leader(c), NULL);
	rc = cluster_run_until(c, t + 30000);
	if (rc)
		return rc;
	return cluster_check_converged(c);
}

static void on_leader(void *arg, uint64_t id, uint64_t term, uint64_t now)
{
	struct schedule *s = arg;

	if (!s->rng || rnd(s->rng) % 4)
		return;
	s->fault_leader = true;
	if (s->next > now + 25)
		s->next = now + between(s->rng, 1, 25);
}

static void fault_leader(struct cluster *c, struct rng *r, struct schedule *s)
{
	uint64_t leader = cluster_leader(c);

	if (!leader)
		return;
	if (rnd(r) & 1)
		cluster_crash(c, leader, rnd(r) & 1);
	else
		cluster_isolate(c, leader);
	s->cut_leader = leader;
}

static int chaos(struct cluster *c, struct rng *r, struct schedule *s,
		 const struct args *a)
{
	int rc = 0;

	while (!rc && cluster_events(c) < a->events) {
		while (!rc && cluster_next_time(c) <= s->next)
			rc = cluster_step(c);
		if (rc)
			break;
		rc = cluster_run_until(c, s->next);
		if (s->fault_leader) {
			s->fault_leader = false;
			fault_leader(c, r, s);
		} else {
			chaos_action(c, r, a->nodes, s);
		}
		s->next = cluster_now(c) + between(r, 5, 120);
	}
	return rc;
}

/* One seed: 0 when it passed, the invariant it violated, -1 when it could
 * not start. */
static int run(const struct args *a, uint64_t seed)
{
	struct cluster_opts o;
	struct cluster *c;
	struct rng r = {seed * 0x9e3779b97f4a7c15ULL + a->nodes};
	struct schedule sched = {&r, 0, false, 0};
	int rc;

	cluster_opts_init(&o, a->nodes);
	o.seed = seed;
	o.net_min_ms = 1;
	o.net_max_ms = (uint32_t)between(&r, 2, 30);
	o.loss_ppm = (uint32_t)between(&r, 0, 50000);
	o.dup_ppm = (uint32_t)between(&r, 0, 20000);
	o.disk_min_ms = 1;
	o.disk_max_ms = (uint32_t)between(&r, 1, 10);
	o.raft.snapshot_threshold = between(&r, 20, 200);
	o.raft.snapshot_trailing = between(&r, 0, 20);
	o.raft.max_msg_entries = (uint32_t)between(&r, 1, 16);
	o.raft.max_inflight_msgs = (uint32_t)between(&r, 1, 16);
	if (rnd(&r) % 4 == 0) {
		/* One entry per message, one message in flight: the leader's
		 * no-op trails its older entries (Figure 3.7 needs this). */
		o.raft.max_msg_entries = 1;
		o.raft.max_inflight_msgs = 1;
	}
	o.trace = a->verbose;
	o.on_leader = on_leader;
	o.on_leader_arg = &sched;
	sched.next = UINT64_MAX;
	rc = cluster_new(&o, &c);
	if (rc) {
		fprintf(stderr, "sim: seed %" PRIu64 ": cannot start: %s\n",
			seed, shoal_strerror(rc));
		return -1;
	}
	sched.next = between(&r, 10, 100);
	sched.fault_leader = false;
	rc = chaos(c, &r, &sched, a);
	o.on_leader = NULL;
	if (!rc)
		rc = heal_and_check(c, a->nodes, &sched);
	if (rc) {
		printf("sim: seed %" PRIu64 " nodes %u: VIOLATION %s\n", seed,
		       a->nodes, cluster_violation(c));
	} else if (a->verbose || a->seed_lo == a->seed_hi) {
		printf("sim: seed %" PRIu64 " nodes %u: ok: %" PRIu64
		       " events, %" PRIu64 " ms, %" PRIu64
		       " writes acknowledged, %" PRIu64 " reads, %" PRIu64
		       " snapshots installed\n",
		       seed, a->nodes, cluster_events(c), cluster_now(c),
		       cluster_acked_count(c), cluster_reads_served(c),
		       cluster_snapshots_installed(c));
	}
	rc = rc ? (int)cluster_violated(c) : 0;
	cluster_free(c);
	return rc;
}

static void usage(void)
{
	fprintf(stderr,
		"usage: sim (--seed N | --seeds A:B) [--nodes 3|5] [--events N] [-v]\n"
		"           [--bug N --expect-violation INVARIANT]   (sim-planted only)\n"
		"       sim --list-invariants\n");
}

static void list_invariants(void)
{
	for (int i = CLUSTER_INV_NONE + 1; i < CLUSTER_INV_COUNT; i++)
		printf("%s\n",
		       cluster_invariant_name((enum cluster_invariant)i));
}

static int parse_u64(const char *s, uint64_t *out)
{
	char *end;

	errno = 0;
	*out = strtoull(s, &end, 10);
	return errno || end == s || *end ? -EINVAL : 0;
}

static int parse(int argc, char **argv, struct args *a)
{
	uint64_t v;

	memset(a, 0, sizeof(*a));
	a->nodes = 3;
	a->events = 10000;
	for (int i = 1; i < argc; i++) {
		const char *arg = argv[i],
			   *val = i + 1 < argc ? argv[i + 1] : NULL;

		if (!strcmp(arg, "-v")) {
			a->verbose = true;
		} else if (!strcmp(arg, "--list-invariants")) {
			a->list = true;
		} else if (!val) {
			return -EINVAL;
		} else if (!strcmp(arg, "--expect-violation")) {
			a->expect = cluster_invariant_parse(val);
			if (a->expect == CLUSTER_INV_NONE) {
				fprintf(stderr,
					"sim: no invariant called '%s'; "
					"sim --list-invariants names them\n",
					val);
				return -EINVAL;
			}
			i++;
		} else if (!strcmp(arg, "--seed")) {
			if (parse_u64(val, &a->seed_lo))
				return -EINVAL;
			a->seed_hi = a->seed_lo;
			i++;
		} else if (!strcmp(arg, "--seeds")) {
			char *colon = strchr(val, ':');

			if (!colon)
				return -EINVAL;
			*colon = '\0';
			if (parse_u64(val, &a->seed_lo) ||
			    parse_u64(colon + 1, &a->seed_hi) ||
			    a->seed_hi < a->seed_lo)
				return -EINVAL;
			i++;
		} else if (!strcmp(arg, "--nodes")) {
			if (parse_u64(val, &v) || v < 1 || v > CLUSTER_MAX)
				return -EINVAL;
			a->nodes = (uint32_t)v;
			i++;
		} else if (!strcmp(arg, "--events")) {
			if (parse_u64(val, &a->events))
				return -EINVAL;
			i++;
		} else if (!strcmp(arg, "--bug")) {
			if (parse_u64(val, &v) || v > 5)
				return -EINVAL;
			a->bug = (int)v;
			i++;
		} else {
			return -EINVAL;
		}
	}
	return 0;
}

/* --expect-violation: 0 when the first violating seed broke the expected
 * invariant, 1 otherwise. */
static int report_expected(const struct args *a, uint64_t seed, int got)
{
	const char *want = cluster_invariant_name(a->expect);

	if (!got) {
		printf("sim: planted bug %d NOT caught in seeds %" PRIu64
		       "..%" PRIu64 " (expected %s)\n",
		       a->bug, a->seed_lo, a->seed_hi, want);
		return 1;
	}
	if (got != (int)a->expect) {
		printf("sim: planted bug %d: seed %" PRIu64 " violated %s, "
		       "not the expected %s\n",
		       a->bug, seed,
		       cluster_invariant_name((enum cluster_invariant)got),
		       want);
		return 1;
	}
	printf("sim: planted bug %d caught by seed %" PRIu64 " as %s\n", a->bug,
	       seed, want);
	return 0;
}

int main(int argc, char **argv)
{
	struct args a;
	uint64_t failed = 0, first_failed = 0;
	int first_rc = 0;

	if (parse(argc, argv, &a)) {
		usage();
		return 2;
	}
	if (a.list) {
		list_invariants();
		return 0;
	}
	log_set_level(a.verbose ? LOG_LEVEL_INFO : LOG_LEVEL_ERROR);
#ifdef RAFT_PLANTED_BUGS
	raft__planted = a.bug;
#else
	if (a.bug) {
		fprintf(stderr, "sim: --bug needs the sim-planted build\n");
		return 2;
	}
#endif
	for (uint64_t s = a.seed_lo; s <= a.seed_hi; s++) {
		int rc = run(&a, s);

		if (rc < 0)
			return 2;
		if (rc && !failed++) {
			first_failed = s;
			first_rc = rc;
		}
		if (rc && a.expect)
			break;
	}
	if (a.expect)
		return report_expected(&a, first_failed, first_rc);
	if (a.seed_lo != a.seed_hi)
		printf("sim: %" PRIu64 " seeds, %" PRIu64 " failed\n",
		       a.seed_hi - a.seed_lo + 1, failed);
	return failed ? 1 : 0;
}
