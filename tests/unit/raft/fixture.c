/*
 * Fixtures for the Raft unit tests (see fixture.h).
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>

#include <cmocka.h>

#include "common/alloc.h"
#include "tests/unit/raft/fixture.h"

static int one_read(void *arg, uint64_t first, size_t max, size_t max_bytes,
		    struct raft_entry *out, size_t *n)
{
	struct one *f = arg;

	*n = 0;
	if (first == 0 || first > f->last)
		return -ENOENT;
	for (uint64_t i = first; i <= f->last && *n < max; i++) {
		out[*n] = f->log[i];
		out[*n].data = f->log[i].len ? shoal_memdup(f->log[i].data,
							    f->log[i].len)
					     : NULL;
		(*n)++;
	}
	return 0;
}

static int one_term(void *arg, uint64_t index, uint64_t *term)
{
	struct one *f = arg;

	if (index == 0 || index > f->last)
		return -ENOENT;
	*term = f->log[index].term;
	return 0;
}

static void one_start(struct one *f, uint64_t id, const struct raft_conf *c,
		      bool prevote, uint64_t term)
{
	struct raft_restore rs = {0};

	raft_options_init(&f->o);
	f->o.id = id;
	f->o.heartbeat_ms = 10;
	f->o.election_timeout_ms = 100;
	f->o.election_jitter_ms = 0;
	f->o.prevote = prevote;
	f->o.max_inflight_msgs = 4;
	f->o.max_uncommitted = 8;
	f->o.log = (struct raft_log_reader){f, one_read, one_term};
	rs.hard.term = term;
	if (f->last) {
		rs.log_first = 1;
		rs.log_last = f->last;
	}
	rs.bootstrap = c;
	assert_int_equal(raft_new(&f->o, &rs, &f->r), 0);
	one_tick(f, 0);
}

void one_init(struct one *f, uint64_t id, uint32_t voters, uint32_t learners,
	      bool prevote)
{
	struct raft_conf c = {0};

	memset(f, 0, sizeof(*f));
	for (uint32_t i = 0; i < voters + learners; i++)
		c.servers[c.n++] = (struct raft_server){
			i + 1, i < voters ? RAFT_VOTER : RAFT_LEARNER};
	one_start(f, id, &c, prevote, 0);
}

void one_init_log(struct one *f, uint64_t id, uint32_t voters,
		  const uint64_t *terms, uint32_t n, uint64_t term)
{
	struct raft_conf c = {0};

	memset(f, 0, sizeof(*f));
	for (uint32_t i = 0; i < voters; i++)
		c.servers[c.n++] = (struct raft_server){i + 1, RAFT_VOTER};
	for (uint32_t i = 0; i < n; i++)
		f->log[i + 1] = (struct raft_entry){terms[i], i + 1,
						    RAFT_ENTRY_NORMAL, 0, NULL};
	f->last = n;
	one_start(f, id, &c, false, term);
}

static void one_release(struct one *f)
{
	if (f->have_update)
		raft_update_done(f->r, &f->u);
	f->have_update = false;
}

void one_fini(struct one *f)
{
	one_release(f);
	raft_free(f->r);
	for (uint64_t i = 1; i <= f->last; i++)
		shoal_free(f->log[i].data);
}

void one_tick(struct one *f, uint64_t now)
{
	f->now = now;
	assert_int_equal(raft_tick(f->r, now), 0);
}

bool one_update(struct one *f)
{
	one_release(f);
	if (!raft_has_update(f->r))
		return false;
	assert_int_equal(raft_update_get(f->r, &f->u), 0);
	f->have_update = true;
	return true;
}

void one_persist(struct one *f)
{
	const struct raft_update *u = &f->u;

	if (!f->have_update)
		return;
	if (u->truncate_from)
		for (; f->last >= u->truncate_from; f->last--)
			shoal_free(f->log[f->last].data);
	for (size_t i = 0; i < u->n_entries; i++) {
		const struct raft_entry *e = &u->entries[i];

		assert_int_equal(e->index, f->last + 1);
		assert_true(e->index <= ONE_LOG_MAX);
		f->log[e->index] = *e;
		f->log[e->index].data =
			e->len ? shoal_memdup(e->data, e->len) : NULL;
		f->last = e->index;
	}
	if (u->n_entries)
		assert_int_equal(
			raft_persisted(f->r, f->last, f->log[f->last].term), 0);
}

const struct raft_msg *one_msg(struct one *f, enum raft_msg_type type,
			       uint64_t to, bool *durable)
{
	const struct raft_update *u = &f->u;

	if (!f->have_update)
		return NULL;
	for (size_t i = 0; i < u->n_msgs; i++) {
		if (u->msgs[i].type == type && u->msgs[i].to == to) {
			if (durable)
				*durable = false;
			return &u->msgs[i];
		}
	}
	for (size_t i = 0; i < u->n_msgs_durable; i++) {
		if (u->msgs_durable[i].type == type &&
		    u->msgs_durable[i].to == to) {
			if (durable)
				*durable = true;
			return &u->msgs_durable[i];
		}
	}
	return NULL;
}

size_t one_count(struct one *f, enum raft_msg_type type, uint64_t to)
{
	const struct raft_update *u = &f->u;
	size_t n = 0;

	if (!f->have_update)
		return 0;
	for (size_t i = 0; i < u->n_msgs; i++)
		n += u->msgs[i].type == type && u->msgs[i].to == to;
	for (size_t i = 0; i < u->n_msgs_durable; i++)
		n += u->msgs_durable[i].type == type &&
		     u->msgs_durable[i].to == to;
	return n;
}

int one_step(struct one *f, struct raft_msg m)
{
	if (!m.to)
		m.to = f->o.id;
	return raft_step(f->r, &m);
}

void one_elect(struct one *f)
{
	struct raft_status st;

	one_tick(f, f->now + 100);
	assert_true(one_update(f));
	one_persist(f);
	raft_status(f->r, &st);
	assert_int_equal(st.role, RAFT_CANDIDATE);
	assert_int_equal(one_step(f,
				  (struct raft_msg){
					  .type = RAFT_MSG_VOTE_RESP,
					  .from = 2,
					  .term = st.term,
					  .vote_resp = {.granted = true},
				  }),
			 0);
	raft_status(f->r, &st);
	assert_int_equal(st.role, RAFT_LEADER);
	assert_true(one_update(f));
	one_persist(f);
}

void fx_opts(struct cluster_opts *o, uint32_t n)
{
	cluster_opts_init(o, n);
	o->net_min_ms = o->net_max_ms = 1;
	o->disk_min_ms = o->disk_max_ms = 1;
	o->raft.heartbeat_ms = 50;
	o->raft.election_timeout_ms = 300;
	o->raft.snapshot_threshold = 0;
	for (uint32_t i = 1; i <= n; i++)
		o->election_ms[i] = 300 + 100 * (i - 1);
}

struct cluster *fx_cluster_opts(struct cluster_opts *o)
{
	struct cluster *c;

	assert_int_equal(cluster_new(o, &c), 0);
	return c;
}

struct cluster *fx_cluster(uint32_t n)
{
	struct cluster_opts o;

	fx_opts(&o, n);
	return fx_cluster_opts(&o);
}

uint64_t fx_wait_leader(struct cluster *c, uint64_t limit)
{
	uint64_t end = cluster_now(c) + limit;

	while (cluster_now(c) < end) {
		uint64_t l = cluster_leader(c);

		if (l)
			return l;
		assert_int_equal(cluster_step(c), 0);
	}
	return 0;
}

void fx_run(struct cluster *c, uint64_t ms)
{
	int rc = cluster_run_until(c, cluster_now(c) + ms);

	if (rc)
		fail_msg("violation: %s", cluster_violation(c));
}

enum raft_role fx_role(struct cluster *c, uint64_t id)
{
	struct raft_status st;

	raft_status(cluster_raft(c, id), &st);
	return st.role;
}

uint64_t fx_term(struct cluster *c, uint64_t id)
{
	struct raft_status st;

	raft_status(cluster_raft(c, id), &st);
	return st.term;
}
