/*
 * Internals of the simulated cluster, shared by cluster.c (events, nodes,
 * network), simdisk.c (the disk model, readers, snapshots of the state
 * machine) and oracle.c (the invariants). Test code only.
 */
#ifndef SHOAL_TESTS_SIM_SIM_INTERNAL_H
#define SHOAL_TESTS_SIM_SIM_INTERNAL_H

#include <inttypes.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "common/alloc.h"
#include "raft/raft.h"
#include "tests/sim/cluster.h"

/* ---- PRNG: xoshiro256** seeded by splitmix64 ---- */

struct prng {
	uint64_t s[4];
};

/* ---- events ---- */

enum ev_type { EV_MSG, EV_TICK, EV_DISK };

struct ev {
	uint64_t t, seq;
	enum ev_type type;
	uint32_t node;
	uint64_t gen;
	struct raft_msg *msg;
};

/* ---- per node ---- */

struct dentry { /* a durable entry */
	uint64_t term;
	enum raft_entry_type type;
	uint32_t len;
	void *data;
};

struct disk {
	struct raft_hard_state hard;
	struct raft_snapshot_meta snap;
	unsigned char *snap_data;
	size_t snap_len;
	struct dentry *ents; /* index first + i */
	size_t n, cap;
	uint64_t first;
	unsigned char *in_data; /* snapshot being received */
	size_t in_len, in_cap;
};

struct write {
	uint64_t done_at;
	bool log_reset;
	uint64_t reset_index;
	uint64_t truncate_from;
	struct raft_entry *ents;
	size_t n_ents;
	bool hard_changed;
	struct raft_hard_state hard;
	struct raft_snapshot_chunk *chunks;
	size_t n_chunks;
	struct raft_msg **dmsgs;
	size_t n_dmsgs;
	uint64_t compact_upto;
	struct write *next;
};

struct vent { /* the node's log as handed to its shell, for checks */
	uint64_t term;
	uint64_t hash;
};

struct pending_prop {
	uint64_t index, term, hash;
};

struct pending_read {
	uint64_t token;
	uint64_t min_applied; /* max acked write index when it started */
	uint64_t index;	      /* read index, once granted */
	bool granted;
};

struct node {
	uint64_t id;
	bool up;
	uint64_t gen; /* incarnation */
	struct raft *r;
	struct raft_log_reader lreader;
	struct raft_snapshot_reader sreader;
	struct disk disk;
	struct write *wq, *wq_tail;
	uint32_t disk_min, disk_max;
	uint64_t tick_at, tick_gen;
	bool tick_set;
	/* state machine */
	uint64_t applied, sm_hash, sm_count;
	/* view of the log */
	struct vent *view;
	size_t view_cap;
	uint64_t view_last;
	struct pending_prop *props;
	size_t n_props, cap_props;
	struct pending_read *reads;
	size_t n_reads, cap_reads;
	enum raft_role role;
	uint64_t term;
};

struct okey { /* oracle of appended entries */
	uint64_t term, hash, prev_term;
};

struct oslot {
	struct okey *keys;
	size_t n, cap;
};

struct applied_rec {
	uint64_t term, hash;
	uint64_t sm; /* state machine hash after applying it */
	bool set;
};

struct cluster {
	struct cluster_opts o;
	struct prng rng;
	uint64_t now, seq, events;
	struct ev *heap;
	size_t n_heap, cap_heap;
	struct node nodes[CLUSTER_MAX + 1];
	bool blocked[CLUSTER_MAX + 1][CLUSTER_MAX + 1];
	struct raft_conf boot;
	char violation[512];
	bool failed;
	enum cluster_invariant violated;
	/* oracle */
	struct oslot *appended;
	size_t appended_cap;
	struct applied_rec *applied;
	size_t applied_cap;
	uint64_t applied_max;
	uint64_t *leader_of_term;
	size_t lot_cap;
	uint64_t max_acked, acked, reads_served, installs;
	uint64_t next_op, next_token;
	uint64_t leader_since;
};

static inline uint64_t splitmix(uint64_t *x)
{
	uint64_t z = (*x += 0x9e3779b97f4a7c15ULL);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

static inline void prng_seed(struct prng *p, uint64_t seed)
{
	for (int i = 0; i < 4; i++)
		p->s[i] = splitmix(&seed);
}

static inline uint64_t rotl(uint64_t x, int k)
{
	return (x << k) | (x >> (64 - k));
}

static inline uint64_t prng_next(struct prng *p)
{
	uint64_t *s = p->s, result = rotl(s[1] * 5, 7) * 9, t = s[1] << 17;

	s[2] ^= s[0];
	s[3] ^= s[1];
	s[1] ^= s[2];
	s[0] ^= s[3];
	s[2] ^= t;
	s[3] = rotl(s[3], 45);
	return result;
}

static inline uint64_t prng_range(struct prng *p, uint64_t lo, uint64_t hi)
{
	return hi <= lo ? lo : lo + prng_next(p) % (hi - lo + 1);
}

static inline bool prng_ppm(struct prng *p, uint32_t ppm)
{
	return ppm && prng_next(p) % 1000000 < ppm;
}

static inline uint64_t mix(uint64_t h, uint64_t v)
{
	h ^= v + 0x9e3779b97f4a7c15ULL + (h << 6) + (h >> 2);
	return splitmix(&h);
}

static inline uint64_t hash_bytes(const void *p, size_t n)
{
	const unsigned char *b = p;
	uint64_t h = 1469598103934665603ULL;

	for (size_t i = 0; i < n; i++)
		h = (h ^ b[i]) * 1099511628211ULL;
	return h;
}

static inline void *xgrow(void *p, size_t *cap, size_t need, size_t size)
{
	size_t n = *cap ? *cap : 16;

	if (need <= *cap)
		return p;
	while (n < need)
		n *= 2;
	p = shoal_realloc(p, n * size);
	if (!p)
		abort(); /* test harness: out of memory is fatal */
	*cap = n;
	return p;
}

#define PUSH(arr, n, cap, v)                                                   \
	do {                                                                   \
		(arr) = xgrow((arr), &(cap), (n) + 1, sizeof(*(arr)));         \
		(arr)[(n)++] = (v);                                            \
	} while (0)

#define TRACE(c, ...)                                                          \
	do {                                                                   \
		if ((c)->o.trace) {                                            \
			printf("%8" PRIu64 " ", (c)->now);                     \
			printf(__VA_ARGS__);                                   \
			printf("\n");                                          \
		}                                                              \
	} while (0)

/* Records the first violation: @inv broken, then what happened. */
void sim_fail(struct cluster *c, enum cluster_invariant inv, const char *fmt,
	      ...) __attribute__((format(printf, 3, 4)));

uint64_t sim_entry_hash(const struct raft_entry *e);
void sim_view_set(struct cluster *c, struct node *nd, uint64_t index,
		  uint64_t term, uint64_t hash);
void sim_view_reset(struct node *nd, uint64_t index);
void sim_check_apply(struct cluster *c, struct node *nd, uint64_t index,
		     uint64_t term, uint64_t hash, uint64_t sm);
/* A node became leader: election safety before its first entries are
 * seen (a second leader of a term is named as such, not as the log
 * mismatch its no-op makes), leader completeness after. */
void sim_check_election(struct cluster *c, struct node *nd);
void sim_check_leader(struct cluster *c, struct node *nd);
void sim_apply_entries(struct cluster *c, struct node *nd,
		       const struct raft_update *u);
void sim_serve_reads(struct cluster *c, struct node *nd);
void sim_grant_reads(struct cluster *c, struct node *nd,
		     const struct raft_update *u);
void sim_update_view(struct cluster *c, struct node *nd,
		     const struct raft_update *u);
struct raft_msg *sim_msg_copy(const struct raft_msg *m);
void sim_msg_free(struct raft_msg *m);
uint64_t sim_disk_last(const struct disk *d);
void sim_disk_truncate(struct disk *d, uint64_t from);
void sim_disk_append(struct disk *d, const struct raft_entry *e);
void sim_disk_reset(struct disk *d, uint64_t index);
void sim_disk_compact(struct disk *d, uint64_t upto);
int sim_reader_read(void *arg, uint64_t first, size_t max, size_t max_bytes,
		    struct raft_entry *out, size_t *n);
int sim_reader_term(void *arg, uint64_t index, uint64_t *term);
int sim_snap_read(void *arg, uint64_t index, uint64_t offset, void *buf,
		  size_t len, size_t *n, uint64_t *size);
unsigned char *sim_sm_serialize(struct cluster *c, struct node *nd,
				size_t *len);
bool sim_sm_load(struct cluster *c, struct node *nd, const unsigned char *b,
		 size_t len, uint64_t index);
void sim_write_free(struct write *w);
struct write *sim_write_from(struct cluster *c, struct node *nd,
			     const struct raft_update *u);
void sim_complete_chunks(struct cluster *c, struct node *nd,
			 const struct write *w);
void sim_complete_write(struct cluster *c, struct node *nd, struct write *w);
void sim_send_msg(struct cluster *c, const struct raft_msg *m);

#endif
