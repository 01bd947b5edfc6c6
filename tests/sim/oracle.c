/*
 * The invariants of tests/sim/cluster.h, checked as the cluster runs. The
 * oracle remembers, for every (index, term) ever appended to any node's
 * log, the entry's hash and its predecessor's term (log matching by
 * induction); for every index ever applied, the entry and the state
 * machine's hash after it (state machine safety, also for installed
 * snapshots); the leader of each term (election safety); and acknowledged
 * writes and reads (durability, linearizability). The first violation is
 * kept, with the invariant it broke; everything after it is moot.
 *
 * Each invariant has a name (the table below), which is what a planted-bug
 * test expects (`sim-planted --bug N --expect-violation NAME`): a bug that
 * is caught by the wrong check shows the checker is not testing what the
 * test says it does. Where one event could break two invariants, the more
 * specific one is checked first: a second leader of a term is election
 * safety, checked before its no-op entry meets the log-matching oracle.
 */
#include <assert.h>
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/alloc.h"
#include "tests/sim/sim_internal.h"

static const char *const invariant_names[CLUSTER_INV_COUNT] = {
	[CLUSTER_INV_NONE] = "none",
	[CLUSTER_INV_ELECTION_SAFETY] = "election-safety",
	[CLUSTER_INV_LOG_MATCHING] = "log-matching",
	[CLUSTER_INV_LEADER_COMPLETENESS] = "leader-completeness",
	[CLUSTER_INV_STATE_MACHINE_SAFETY] = "state-machine-safety",
	[CLUSTER_INV_DURABILITY] = "durability",
	[CLUSTER_INV_LINEARIZABILITY] = "linearizability",
	[CLUSTER_INV_LIVENESS] = "liveness",
	[CLUSTER_INV_CORE_CONTRACT] = "core-contract",
};

const char *cluster_invariant_name(enum cluster_invariant inv)
{
	if ((unsigned)inv >= CLUSTER_INV_COUNT)
		return "unknown";
	return invariant_names[inv];
}

enum cluster_invariant cluster_invariant_parse(const char *name)
{
	for (int i = CLUSTER_INV_NONE + 1; i < CLUSTER_INV_COUNT; i++)
		if (!strcmp(name, invariant_names[i]))
			return (enum cluster_invariant)i;
	return CLUSTER_INV_NONE;
}

void sim_fail(struct cluster *c, enum cluster_invariant inv, const char *fmt,
	      ...)
{
	va_list ap;
	int n;

	assert(inv > CLUSTER_INV_NONE && inv < CLUSTER_INV_COUNT);
	if (c->failed)
		return;
	c->failed = true;
	c->violated = inv;
	n = snprintf(c->violation, sizeof(c->violation),
		     "%s: ", cluster_invariant_name(inv));
	va_start(ap, fmt);
	vsnprintf(c->violation + n, sizeof(c->violation) - (size_t)n, fmt, ap);
	va_end(ap);
	if (c->o.trace)
		printf("%8" PRIu64 " VIOLATION %s\n", c->now, c->violation);
}

uint64_t sim_entry_hash(const struct raft_entry *e)
{
	return mix(mix(e->type, e->len), hash_bytes(e->data, e->len));
}

static void oracle_append(struct cluster *c, struct node *nd, uint64_t index,
			  uint64_t term, uint64_t hash)
{
	uint64_t prev = index > 1 && index - 1 <= nd->view_last
				? nd->view[index - 1].term
				: 0;
	struct oslot *s;

	if (index > 1 && prev > term)
		sim_fail(c, CLUSTER_INV_LOG_MATCHING,
			 "node %" PRIu64 " index %" PRIu64 " has term %" PRIu64
			 " after term %" PRIu64,
			 nd->id, index, term, prev);
	if (index >= c->appended_cap) {
		size_t old = c->appended_cap;

		c->appended = xgrow(c->appended, &c->appended_cap, index + 1,
				    sizeof(*c->appended));
		memset(c->appended + old, 0,
		       (c->appended_cap - old) * sizeof(*c->appended));
	}
	s = &c->appended[index];
	for (size_t i = 0; i < s->n; i++) {
		struct okey *k = &s->keys[i];

		if (k->term != term)
			continue;
		if (k->hash != hash)
			sim_fail(c, CLUSTER_INV_LOG_MATCHING,
				 "two entries at index %" PRIu64
				 " term %" PRIu64 " differ (node %" PRIu64 ")",
				 index, term, nd->id);
		if (prev && k->prev_term && k->prev_term != prev)
			sim_fail(c, CLUSTER_INV_LOG_MATCHING,
				 "index %" PRIu64 " term %" PRIu64
				 " follows term %" PRIu64 " on node %" PRIu64
				 " but term %" PRIu64 " elsewhere",
				 index, term, prev, nd->id, k->prev_term);
		if (!k->prev_term)
			k->prev_term = prev;
		return;
	}
	s->keys = xgrow(s->keys, &s->cap, s->n + 1, sizeof(*s->keys));
	s->keys[s->n++] = (struct okey){term, hash, prev};
}

void sim_view_set(struct cluster *c, struct node *nd, uint64_t index,
		  uint64_t term, uint64_t hash)
{
	if (index >= nd->view_cap) {
		size_t old = nd->view_cap;

		nd->view = xgrow(nd->view, &nd->view_cap, index + 1,
				 sizeof(*nd->view));
		memset(nd->view + old, 0,
		       (nd->view_cap - old) * sizeof(*nd->view));
	}
	oracle_append(c, nd, index, term, hash);
	nd->view[index] = (struct vent){term, hash};
	nd->view_last = index;
}

void sim_view_reset(struct node *nd, uint64_t index)
{
	if (nd->view_cap)
		memset(nd->view, 0, nd->view_cap * sizeof(*nd->view));
	nd->view_last = index;
}

void sim_check_apply(struct cluster *c, struct node *nd, uint64_t index,
		     uint64_t term, uint64_t hash, uint64_t sm)
{
	struct applied_rec *a;

	if (index >= c->applied_cap) {
		size_t old = c->applied_cap;

		c->applied = xgrow(c->applied, &c->applied_cap, index + 1,
				   sizeof(*c->applied));
		memset(c->applied + old, 0,
		       (c->applied_cap - old) * sizeof(*c->applied));
	}
	a = &c->applied[index];
	if (!a->set) {
		*a = (struct applied_rec){term, hash, sm, true};
		if (index > c->applied_max)
			c->applied_max = index;
	} else if (a->term != term || a->hash != hash || a->sm != sm) {
		sim_fail(c, CLUSTER_INV_STATE_MACHINE_SAFETY,
			 "node %" PRIu64 " applied term %" PRIu64
			 " at index %" PRIu64
			 ", another node applied term %" PRIu64,
			 nd->id, term, index, a->term);
	}
}

void sim_check_election(struct cluster *c, struct node *nd)
{
	uint64_t t = nd->term;

	if (t >= c->lot_cap) {
		size_t old = c->lot_cap;

		c->leader_of_term = xgrow(c->leader_of_term, &c->lot_cap, t + 1,
					  sizeof(uint64_t));
		memset(c->leader_of_term + old, 0,
		       (c->lot_cap - old) * sizeof(uint64_t));
	}
	if (c->leader_of_term[t] && c->leader_of_term[t] != nd->id) {
		sim_fail(c, CLUSTER_INV_ELECTION_SAFETY,
			 "nodes %" PRIu64 " and %" PRIu64
			 " both lead term %" PRIu64,
			 c->leader_of_term[t], nd->id, t);
		return;
	}
	c->leader_of_term[t] = nd->id;
}

void sim_check_leader(struct cluster *c, struct node *nd)
{
	uint64_t t = nd->term;

	if (c->failed)
		return;
	c->leader_since = c->now;
	if (c->o.on_leader)
		c->o.on_leader(c->o.on_leader_arg, nd->id, t, c->now);
	/* Leader completeness: every applied entry is in the new leader's
	 * log (entries covered by its snapshot are in its state). */
	for (uint64_t i = 1; i <= c->applied_max; i++) {
		const struct applied_rec *a = &c->applied[i];

		if (!a->set || i >= nd->view_cap || !nd->view[i].term)
			continue;
		if (i > nd->view_last || nd->view[i].term != a->term ||
		    nd->view[i].hash != a->hash) {
			sim_fail(c, CLUSTER_INV_LEADER_COMPLETENESS,
				 "leader %" PRIu64 " of term %" PRIu64
				 " lacks applied index %" PRIu64
				 " (has term %" PRIu64 ", applied term %" PRIu64
				 ", last %" PRIu64 ")",
				 nd->id, t, i, nd->view[i].term, a->term,
				 nd->view_last);
			return;
		}
	}
	if (nd->view_last < c->applied_max)
		sim_fail(c, CLUSTER_INV_LEADER_COMPLETENESS,
			 "leader %" PRIu64 " of term %" PRIu64
			 " has last index %" PRIu64 " < applied %" PRIu64,
			 nd->id, t, nd->view_last, c->applied_max);
}

static void ack_props(struct cluster *c, struct node *nd, uint64_t index,
		      uint64_t term, uint64_t hash)
{
	size_t k = 0;

	for (size_t i = 0; i < nd->n_props; i++) {
		struct pending_prop *p = &nd->props[i];

		if (p->index > index) {
			nd->props[k++] = *p;
			continue;
		}
		if (p->index == index && p->term == term) {
			if (p->hash != hash)
				sim_fail(c, CLUSTER_INV_DURABILITY,
					 "index %" PRIu64
					 " applied with another payload",
					 index);
			c->acked++;
			if (index > c->max_acked)
				c->max_acked = index;
		}
	}
	nd->n_props = k;
}

void sim_apply_entries(struct cluster *c, struct node *nd,
		       const struct raft_update *u)
{
	for (size_t i = 0; i < u->n_committed; i++) {
		const struct raft_entry *e = &u->committed[i];
		uint64_t h = sim_entry_hash(e);

		if (e->index != nd->applied + 1) {
			sim_fail(c, CLUSTER_INV_CORE_CONTRACT,
				 "node %" PRIu64 " applied %" PRIu64
				 " then %" PRIu64,
				 nd->id, nd->applied, e->index);
			return;
		}
		nd->applied = e->index;
		if (e->type == RAFT_ENTRY_NORMAL) {
			nd->sm_hash = mix(nd->sm_hash, h);
			nd->sm_count++;
		}
		sim_check_apply(c, nd, e->index, e->term, h, nd->sm_hash);
		ack_props(c, nd, e->index, e->term, h);
	}
}

void sim_serve_reads(struct cluster *c, struct node *nd)
{
	size_t k = 0;

	for (size_t i = 0; i < nd->n_reads; i++) {
		struct pending_read *rd = &nd->reads[i];

		if (!rd->granted || nd->applied < rd->index) {
			nd->reads[k++] = *rd;
			continue;
		}
		if (nd->applied < rd->min_applied)
			sim_fail(c, CLUSTER_INV_LINEARIZABILITY,
				 "node %" PRIu64
				 " served a read at applied %" PRIu64
				 " missing acknowledged write %" PRIu64,
				 nd->id, nd->applied, rd->min_applied);
		c->reads_served++;
	}
	nd->n_reads = k;
}

void sim_grant_reads(struct cluster *c, struct node *nd,
		     const struct raft_update *u)
{
	for (size_t i = 0; i < u->n_reads; i++) {
		const struct raft_read_state *rs = &u->reads[i];

		for (size_t j = 0; j < nd->n_reads; j++) {
			struct pending_read *rd = &nd->reads[j];

			if (rd->token != rs->token)
				continue;
			if (rs->status) {
				nd->reads[j] = nd->reads[--nd->n_reads];
			} else {
				rd->granted = true;
				rd->index = rs->index;
			}
			break;
		}
	}
}

void sim_update_view(struct cluster *c, struct node *nd,
		     const struct raft_update *u)
{
	if (u->log_reset) {
		TRACE(c, "n%" PRIu64 " log reset after %" PRIu64, nd->id,
		      u->log_reset_index);
		sim_view_reset(nd, u->log_reset_index);
	}
	if (u->truncate_from && u->truncate_from <= nd->view_last) {
		TRACE(c, "n%" PRIu64 " log truncated from %" PRIu64, nd->id,
		      u->truncate_from);
		nd->view_last = u->truncate_from - 1;
	}
	for (size_t i = 0; i < u->n_entries; i++) {
		const struct raft_entry *e = &u->entries[i];

		if (e->index != nd->view_last + 1) {
			sim_fail(c, CLUSTER_INV_CORE_CONTRACT,
				 "node %" PRIu64 " appends %" PRIu64
				 " after %" PRIu64,
				 nd->id, e->index, nd->view_last);
			return;
		}
		sim_view_set(c, nd, e->index, e->term, sim_entry_hash(e));
	}
}
