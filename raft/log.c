/*
 * The log as the core sees it (thesis §3.5, §5.1): a contiguous range of
 * entries [first, last] after a snapshot, of which only a window
 * [mem_first, last] is in memory. Entries below the window are durable on
 * disk and read back through the injected struct raft_log_reader, so a
 * lagging follower or a restart never forces the whole log into memory.
 *
 * Entries leave memory only once persisted (rlog_evict() checks), which is
 * what lets the reader serve every index below the window. Truncation of a
 * conflicting suffix may reach below the window: the window then restarts
 * empty at the truncation point and the shell is told (truncate_from) to
 * drop the same suffix from disk before appending.
 *
 * Failure modes: allocation failures return -ENOMEM and leave the log
 * unchanged; reader errors pass through.
 */
#include <errno.h>
#include <string.h>

#include "common/alloc.h"
#include "raft/internal.h"

int raft__grow(void **p, size_t *cap, size_t need, size_t size)
{
	size_t ncap;
	void *np;

	if (need <= *cap)
		return 0;
	ncap = *cap ? *cap : 8;
	while (ncap < need)
		ncap *= 2;
	np = shoal_realloc(*p, ncap * size);
	if (!np)
		return -ENOMEM;
	*p = np;
	*cap = ncap;
	return 0;
}

int raft__entry_copy(struct raft_entry *dst, const struct raft_entry *src)
{
	*dst = *src;
	dst->data = NULL;
	if (src->len) {
		dst->data = shoal_memdup(src->data, src->len);
		if (!dst->data)
			return -ENOMEM;
	}
	return 0;
}

void raft__entries_free(struct raft_entry *e, size_t n)
{
	if (!e)
		return;
	for (size_t i = 0; i < n; i++)
		shoal_free(e[i].data);
	shoal_free(e);
}

void rlog_init(struct rlog *l, const struct raft_log_reader *reader,
	       uint64_t first, uint64_t last, uint64_t last_term,
	       uint64_t snap_index, uint64_t snap_term)
{
	memset(l, 0, sizeof(*l));
	l->reader = reader;
	l->first = first;
	l->last = last;
	l->last_term = last_term;
	l->snap_index = snap_index;
	l->snap_term = snap_term;
	l->persisted = last;
	l->unstable = last + 1;
	l->mem_first = last + 1;
}

void rlog_fini(struct rlog *l)
{
	for (size_t i = 0; i < l->n; i++)
		shoal_free(l->ents[l->off + i].data);
	shoal_free(l->ents);
	l->ents = NULL;
	l->n = l->off = l->cap = 0;
}

const struct raft_entry *rlog_mem(const struct rlog *l, uint64_t index)
{
	if (index < l->mem_first || index > l->last)
		return NULL;
	return &l->ents[l->off + (index - l->mem_first)];
}

bool rlog_term(const struct rlog *l, uint64_t index, uint64_t *term)
{
	const struct raft_entry *e;

	if (index == 0) {
		*term = 0;
		return true;
	}
	if (index > l->last)
		return false;
	if (index == l->last) {
		*term = l->last_term;
		return true;
	}
	e = rlog_mem(l, index);
	if (e) {
		*term = e->term;
		return true;
	}
	if (index == l->snap_index) {
		*term = l->snap_term;
		return true;
	}
	if (index < l->first || !l->reader || !l->reader->term)
		return false;
	return l->reader->term(l->reader->arg, index, term) == 0;
}

uint64_t rlog_term_or0(const struct rlog *l, uint64_t index)
{
	uint64_t t;

	return rlog_term(l, index, &t) ? t : 0;
}

static int make_room(struct rlog *l)
{
	if (l->off && l->off + l->n == l->cap) {
		memmove(l->ents, l->ents + l->off, l->n * sizeof(*l->ents));
		l->off = 0;
	}
	return raft__grow((void **)&l->ents, &l->cap, l->off + l->n + 1,
			  sizeof(*l->ents));
}

int rlog_append_take(struct rlog *l, uint64_t term, enum raft_entry_type t,
		     void *data, uint32_t len)
{
	struct raft_entry *e;
	int rc = make_room(l);

	if (rc)
		return rc;
	e = &l->ents[l->off + l->n++];
	e->term = term;
	e->index = ++l->last;
	e->type = t;
	e->len = len;
	e->data = data;
	l->last_term = term;
	l->mem_bytes += len;
	return 0;
}

int rlog_append(struct rlog *l, const struct raft_entry *e)
{
	void *data = NULL;
	int rc;

	assert(e->index == l->last + 1);
	if (e->len) {
		data = shoal_memdup(e->data, e->len);
		if (!data)
			return -ENOMEM;
	}
	rc = rlog_append_take(l, e->term, e->type, data, e->len);
	if (rc)
		shoal_free(data);
	return rc;
}

static void drop_mem_from(struct rlog *l, uint64_t from)
{
	while (l->n && l->mem_first + l->n - 1 >= from) {
		struct raft_entry *e = &l->ents[l->off + l->n - 1];

		l->mem_bytes -= e->len;
		shoal_free(e->data);
		l->n--;
	}
}

void rlog_truncate(struct rlog *l, uint64_t from)
{
	uint64_t prev_term;

	assert(from > l->snap_index && from <= l->last);
	if (!rlog_term(l, from - 1, &prev_term))
		prev_term = 0;
	if (from < l->mem_first) {
		drop_mem_from(l, l->mem_first);
		l->off = 0;
		l->mem_first = from;
	} else {
		drop_mem_from(l, from);
	}
	l->last = from - 1;
	l->last_term = prev_term;
	if (l->persisted > l->last)
		l->persisted = l->last;
	if (l->unstable > from)
		l->unstable = from;
}

void rlog_reset(struct rlog *l, uint64_t index, uint64_t term)
{
	drop_mem_from(l, l->mem_first);
	l->off = 0;
	l->first = index + 1;
	l->last = index;
	l->last_term = term;
	l->snap_index = index;
	l->snap_term = term;
	l->persisted = index;
	l->unstable = index + 1;
	l->mem_first = index + 1;
}

static int copy_mem(const struct rlog *l, uint64_t index, size_t max,
		    size_t max_bytes, struct raft_entry *out, size_t *n)
{
	size_t bytes = 0;
	size_t i = 0;

	for (uint64_t idx = index; idx <= l->last && i < max; idx++) {
		const struct raft_entry *e = rlog_mem(l, idx);

		if (i && bytes + e->len > max_bytes)
			break;
		if (raft__entry_copy(&out[i], e)) {
			for (size_t j = 0; j < i; j++)
				shoal_free(out[j].data);
			return -ENOMEM;
		}
		bytes += e->len;
		i++;
	}
	*n = i;
	return 0;
}

static int read_disk(const struct rlog *l, uint64_t index, size_t max,
		     size_t max_bytes, struct raft_entry *out, size_t *n)
{
	int rc;

	if (!l->reader || !l->reader->read)
		return -ENOENT;
	if (max > l->mem_first - index)
		max = l->mem_first - index;
	*n = 0;
	rc = l->reader->read(l->reader->arg, index, max, max_bytes, out, n);
	if (rc)
		return rc;
	for (size_t i = 0; i < *n; i++) {
		if (out[i].index != index + i || *n > max) {
			for (size_t j = 0; j < *n; j++)
				shoal_free(out[j].data);
			*n = 0;
			return -EIO;
		}
	}
	return *n ? 0 : -ENOENT;
}

int rlog_copy(const struct rlog *l, uint64_t index, size_t max,
	      size_t max_bytes, struct raft_entry **out, size_t *n)
{
	struct raft_entry *ents;
	int rc;

	*out = NULL;
	*n = 0;
	if (index > l->last || max == 0)
		return 0;
	if (index < l->first)
		return -ENOENT;
	if (max > l->last - index + 1)
		max = l->last - index + 1;
	ents = shoal_calloc(max, sizeof(*ents));
	if (!ents)
		return -ENOMEM;
	if (index < l->mem_first)
		rc = read_disk(l, index, max, max_bytes, ents, n);
	else
		rc = copy_mem(l, index, max, max_bytes, ents, n);
	if (rc) {
		shoal_free(ents);
		*n = 0;
		return rc;
	}
	*out = ents;
	return 0;
}

void rlog_evict(struct rlog *l, uint64_t upto)
{
	if (upto > l->persisted)
		upto = l->persisted;
	while (l->n && l->mem_first <= upto) {
		struct raft_entry *e = &l->ents[l->off];

		l->mem_bytes -= e->len;
		shoal_free(e->data);
		l->off++;
		l->n--;
		l->mem_first++;
	}
	if (!l->n)
		l->off = 0;
}
