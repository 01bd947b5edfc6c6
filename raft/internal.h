/*
 * Internal state of the Raft core, shared by its files and by nothing else
 * (the shells see only raft.h). The files follow the thesis:
 *
 *   log.c         the log window and its reader fallback (§3.5, §5.1)
 *   progress.c    the leader's view of each follower (§3.5, §10.2)
 *   election.c    elections, pre-vote, leases, check-quorum (§3.4, §4.2.3,
 *                 §6.2, §9.6)
 *   replication.c AppendEntries, heartbeats, commit (§3.5, §3.6, §10.2.1)
 *   membership.c  one-server changes, learners, removal (§4.1-§4.3)
 *   snapshot.c    snapshots and chunked InstallSnapshot (§5.1-§5.3)
 *   read_index.c  linearizable reads without a log write (§6.4)
 *   transfer.c    leadership transfer with TimeoutNow (§3.10)
 *   update.c      the batch of work handed to the shell
 *   raft.c        construction, events, validation, status
 *
 * Invariants (asserted where cheap):
 *   snap.index < log.first <= log.mem_first <= log.last + 1, with
 *     log.first possibly <= snap.index when a trailing window is kept;
 *   log.mem_first - 1 <= log.persisted: only durable entries leave memory;
 *   applied <= min(commit, persisted) <= log.last;
 *   every entry above commit is in memory (the uncommitted queue is bounded
 *   by max_uncommitted on the leader that produced it).
 */
#ifndef SHOAL_RAFT_INTERNAL_H
#define SHOAL_RAFT_INTERNAL_H

#include <assert.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "raft/raft.h"

/*
 * Planted bugs (tests/sim proves the simulator catches each). Compiled only
 * with RAFT_PLANTED_BUGS; switched on at run time by the simulator.
 */
enum raft_planted {
	RAFT_BUG_NONE = 0,
	RAFT_BUG_VOTE_NO_LOG_CHECK = 1,	   /* grant votes to stale logs */
	RAFT_BUG_COMMIT_OLD_TERM = 2,	   /* count replicas of old terms */
	RAFT_BUG_KEEP_CONFLICT_SUFFIX = 3, /* don't truncate on conflict */
	RAFT_BUG_VOTE_NOT_DURABLE = 4,	   /* reply before the vote is saved */
	RAFT_BUG_READ_NO_ROUND = 5,	   /* serve reads without a heartbeat */
};
#ifdef RAFT_PLANTED_BUGS
extern int raft__planted;
#define PLANTED(bug) (raft__planted == (bug))
#else
#define PLANTED(bug) false
#endif

/* ---- log.c ---- */

struct rlog {
	const struct raft_log_reader *reader;
	uint64_t first;	    /* first index held (disk or memory) */
	uint64_t last;	    /* last index */
	uint64_t last_term; /* term of @last (snapshot term if empty) */
	uint64_t snap_index;
	uint64_t snap_term;
	uint64_t persisted; /* durable through this index */
	uint64_t unstable;  /* first index not yet handed out to persist */
	/* memory window: entries [mem_first, last] in ents[off .. off+n) */
	uint64_t mem_first;
	struct raft_entry *ents;
	size_t off, n, cap;
	uint64_t mem_bytes;
};

void rlog_init(struct rlog *l, const struct raft_log_reader *reader,
	       uint64_t first, uint64_t last, uint64_t last_term,
	       uint64_t snap_index, uint64_t snap_term);
void rlog_fini(struct rlog *l);
/* The term of @index into *@term; false if unknown (compacted/absent). */
bool rlog_term(const struct rlog *l, uint64_t index, uint64_t *term);
/* Term of @index or 0 when unknown. */
uint64_t rlog_term_or0(const struct rlog *l, uint64_t index);
/* Append a copy of @e (index must be last + 1). 0 or -ENOMEM. */
int rlog_append(struct rlog *l, const struct raft_entry *e);
/* Append taking @data (shoal_malloc'd) on success. */
int rlog_append_take(struct rlog *l, uint64_t term, enum raft_entry_type t,
		     void *data, uint32_t len);
/* Drop entries >= @from (from > snap_index); fixes persisted/unstable. */
void rlog_truncate(struct rlog *l, uint64_t from);
/* Restart the log empty after a snapshot at @index/@term. */
void rlog_reset(struct rlog *l, uint64_t index, uint64_t term);
/*
 * Copies of entries from @index: at most @max entries and (beyond the
 * first) @max_bytes of payload; payloads allocated, free with
 * raft__entries_free(). 0, -ENOENT if compacted, -ENOMEM, reader errors.
 */
int rlog_copy(const struct rlog *l, uint64_t index, size_t max,
	      size_t max_bytes, struct raft_entry **out, size_t *n);
/* The in-memory entry at @index or NULL. */
const struct raft_entry *rlog_mem(const struct rlog *l, uint64_t index);
/* Drop from memory entries <= @upto that are persisted. */
void rlog_evict(struct rlog *l, uint64_t upto);

void raft__entries_free(struct raft_entry *e, size_t n);
int raft__entry_copy(struct raft_entry *dst, const struct raft_entry *src);
int raft__grow(void **p, size_t *cap, size_t need, size_t size);

/* ---- progress.c ---- */

enum pr_state {
	PR_PROBE,     /* one append at a time until the match point is found */
	PR_REPLICATE, /* optimistic pipeline of appends */
	PR_SNAPSHOT,  /* sending InstallSnapshot chunks */
};

struct progress {
	uint64_t id;
	bool voter;
	enum pr_state state;
	uint64_t match;
	uint64_t next;
	bool paused;	      /* probe: an append is outstanding */
	bool active;	      /* heard from since the last quorum check */
	uint64_t progress_ms; /* last time match advanced */
	uint64_t read_ctx;    /* highest read-index round acknowledged */
	uint64_t commit_sent; /* highest commit index it was told */
	/* in-flight appends: last index of each, oldest first */
	uint64_t *inflight;
	uint32_t in_head, in_n, in_cap;
	/* snapshot being sent */
	uint64_t snap_index;
	uint64_t snap_sent;  /* next offset to send */
	uint64_t snap_acked; /* offset the follower confirmed */
	uint64_t snap_size;
	bool snap_done_sent;
	uint64_t snap_ms; /* last chunk activity */
};

int pr_init(struct progress *p, uint64_t id, bool voter, uint32_t inflight,
	    uint64_t next, uint64_t now);
void pr_fini(struct progress *p);
void pr_become_probe(struct progress *p, uint64_t now);
void pr_become_replicate(struct progress *p, uint64_t now);
void pr_become_snapshot(struct progress *p, uint64_t index, uint64_t now);
bool pr_inflight_full(const struct progress *p);
void pr_inflight_add(struct progress *p, uint64_t last);
void pr_inflight_free_to(struct progress *p, uint64_t index);
/* Acknowledged through @index: true if match advanced. */
bool pr_update(struct progress *p, uint64_t index, uint64_t now);

/* ---- the core ---- */

struct conf_rec {
	uint64_t index;
	struct raft_conf conf;
};

struct pending_read {
	uint64_t token;
	uint64_t index; /* commit when registered, 0 until a commit in term */
	uint64_t ctx;	/* heartbeat round that confirms it, 0 until sent */
};

struct out {
	struct raft_msg *msgs;
	size_t n_msgs, cap_msgs;
	struct raft_msg *dmsgs;
	size_t n_dmsgs, cap_dmsgs;
	struct raft_entry *ents;
	size_t n_ents;
	struct raft_entry *committed;
	size_t n_committed;
	struct raft_read_state *reads;
	size_t n_reads, cap_reads;
	struct raft_snapshot_chunk *chunks;
	size_t n_chunks, cap_chunks;
	bool log_reset;
	uint64_t log_reset_index;
	uint64_t truncate_from;
};

struct raft {
	struct raft_options o;
	uint64_t id;
	uint64_t now;
	bool ticked;
	uint64_t rng;

	/* persistent state (Figure 2) */
	uint64_t term;
	uint64_t vote;
	uint64_t commit;
	struct raft_hard_state hard_out; /* last handed to the shell */

	/* volatile */
	enum raft_role role;
	uint64_t leader;
	bool role_dirty;
	uint64_t applied;
	uint64_t leader_contact; /* last time the leader was heard */
	uint64_t election_deadline;
	uint64_t heartbeat_deadline;
	uint64_t quorum_deadline;
	bool bcast_pending; /* new entries to send at the next update */
	bool hb_pending;    /* a read-index round to start at the next update */

	/* votes received in the current (pre-)election */
	uint64_t votes_for[RAFT_CONF_MAX];
	uint64_t votes_against[RAFT_CONF_MAX];
	uint32_t n_for, n_against;
	bool transfer_campaign;

	struct rlog log;

	/* configurations in the log: [0] is the one at or before the
	 * snapshot, later ones are entries; the last is in effect (§4.1) */
	struct conf_rec *confs;
	size_t n_confs, cap_confs;

	/* leader state */
	struct progress prs[RAFT_CONF_MAX];
	uint32_t n_prs;
	uint64_t uncommitted_bytes;
	uint64_t transfer_to;
	uint64_t transfer_deadline;

	/* read-index */
	struct pending_read *reads;
	size_t n_reads, cap_reads;
	uint64_t read_ctx;

	/* snapshots */
	struct raft_snapshot_meta snap;
	struct {
		bool active;  /* receiving chunks of @meta */
		bool pending; /* last chunk handed; waiting for installed() */
		struct raft_snapshot_meta meta;
		uint64_t offset;
		uint64_t from;
	} recv;
	uint64_t snap_asked_at; /* applied index when take_snapshot was set */
	bool take_snapshot;
	uint64_t compact_upto;

	struct out pend;
	struct out handed;
	bool handed_active;
};

/* raft.c */
uint64_t raft__rand(struct raft *r);
const struct raft_conf *raft__conf(const struct raft *r);
uint64_t raft__conf_index(const struct raft *r);
bool raft__is_voter(const struct raft_conf *c, uint64_t id);
uint32_t raft__quorum(const struct raft *r);

/* update.c */
struct raft_msg *raft__msg(struct raft *r, enum raft_msg_type type, uint64_t to,
			   bool durable);
int raft__read_out(struct raft *r, uint64_t token, uint64_t index, int status);
struct raft_snapshot_chunk *raft__chunk_out(struct raft *r);
void raft__out_free(struct out *o);

/* election.c */
void raft__reset_election_timer(struct raft *r);
void raft__become_follower(struct raft *r, uint64_t term, uint64_t leader);
void raft__campaign(struct raft *r, bool prevote, bool transfer);
void raft__tick_election(struct raft *r);
void raft__tick_leader(struct raft *r);
void raft__recv_vote(struct raft *r, const struct raft_msg *m);
void raft__recv_vote_resp(struct raft *r, const struct raft_msg *m);
bool raft__in_lease(const struct raft *r);

/* replication.c */
struct progress *raft__pr(struct raft *r, uint64_t id);
void raft__become_leader(struct raft *r);
bool raft__send_append(struct raft *r, struct progress *p, bool empty_ok);
void raft__bcast_append(struct raft *r);
void raft__bcast_heartbeat(struct raft *r);
void raft__maybe_commit(struct raft *r);
void raft__recv_append(struct raft *r, const struct raft_msg *m);
void raft__recv_append_resp(struct raft *r, const struct raft_msg *m);
void raft__recv_heartbeat(struct raft *r, const struct raft_msg *m);
void raft__recv_heartbeat_resp(struct raft *r, const struct raft_msg *m);
int raft__append_local(struct raft *r, enum raft_entry_type type,
		       const void *data, size_t len, uint64_t *index);
void raft__follower_commit(struct raft *r, uint64_t commit);

/* membership.c */
int raft__confs_push(struct raft *r, uint64_t index, const struct raft_conf *c);
void raft__confs_truncate(struct raft *r, uint64_t from);
void raft__confs_compact(struct raft *r, uint64_t upto);
const struct raft_conf *raft__conf_at(const struct raft *r, uint64_t index,
				      uint64_t *conf_index);
int raft__prs_sync(struct raft *r);
void raft__prs_clear(struct raft *r);
void raft__conf_committed(struct raft *r);
void raft__note_entry(struct raft *r, const struct raft_entry *e);

/* snapshot.c */
void raft__send_snapshot(struct raft *r, struct progress *p);
void raft__recv_snapshot(struct raft *r, const struct raft_msg *m);
void raft__recv_snapshot_resp(struct raft *r, const struct raft_msg *m);
void raft__tick_snapshots(struct raft *r);

/* read_index.c */
void raft__reads_fail(struct raft *r);
void raft__reads_on_commit(struct raft *r);
void raft__reads_check(struct raft *r);

/* transfer.c */
void raft__transfer_check(struct raft *r, struct progress *p);
void raft__transfer_abort(struct raft *r);
void raft__recv_timeout_now(struct raft *r, const struct raft_msg *m);

#endif
