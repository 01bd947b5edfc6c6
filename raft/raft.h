/*
 * The Raft core: a pure, deterministic state machine that implements the
 * consensus algorithm of Ongaro's thesis ("Consensus: Bridging Theory and
 * Practice", 2014) and does no I/O at all. It has no clock (time comes in as
 * an argument of raft_tick()), no randomness of its own (a seed in the
 * options drives a private PRNG), no sockets and no files.
 *
 * The shell (the libuv node in raft/node_uv*, or the simulator in tests/sim)
 * feeds it events:
 *
 *   raft_tick()               virtual or real time advanced
 *   raft_step()               a message arrived from a peer
 *   raft_persisted()          the disk made log entries and hard state durable
 *   raft_snapshot_done()      the state machine took a snapshot
 *   raft_snapshot_installed() a snapshot received from the leader is loaded
 *   raft_propose() / raft_read_index() / raft_transfer_leadership() /
 *   raft_add_learner() / raft_promote() / raft_remove()   client requests
 *
 * and after each event it asks for the work to do with raft_update_get():
 * one batch ("update", etcd calls it Ready) of entries and hard state to
 * persist, messages to send now, messages to send only after this batch is
 * durable, snapshot chunks to write, committed entries to apply, reads that
 * are now safe to serve and a role change notice. The shell performs the
 * batch (persistence may be asynchronous), calls raft_update_done() and later
 * raft_persisted() when the disk write completed.
 *
 * Memory is bounded: the core keeps a window of recent entries; older ones
 * are read back through struct raft_log_reader (the disk log in the real
 * node, the simulator's storage in tests), and snapshot chunks for lagging
 * followers through struct raft_snapshot_reader. Proposals past a bounded
 * queue get -EBUSY.
 *
 * Threading: an instance is used from one thread at a time. Every function
 * returns 0 or a negative error code (common/error.h); on error nothing
 * changed unless said otherwise. Messages given to raft_step() are outside
 * input: they are validated and a malformed one returns -EPROTO and changes
 * nothing.
 */
#ifndef SHOAL_RAFT_RAFT_H
#define SHOAL_RAFT_RAFT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Node ids are non-zero; 0 means "none". */
#define RAFT_ID_NONE 0

/* Most servers (voters plus learners) in one configuration. */
#define RAFT_CONF_MAX 32

/* Largest payload of one entry (the shell may use a smaller frame limit). */
#define RAFT_ENTRY_MAX (8u << 20)

enum raft_role {
	RAFT_FOLLOWER,
	RAFT_PRECANDIDATE,
	RAFT_CANDIDATE,
	RAFT_LEADER,
};

/** raft_role_name() - "follower", "precandidate", ...; static string. */
const char *raft_role_name(enum raft_role role);

enum raft_entry_type {
	RAFT_ENTRY_NORMAL = 1, /* an opaque command for the state machine */
	RAFT_ENTRY_CONF = 2,   /* a configuration (raft_conf_encode()) */
	RAFT_ENTRY_NOOP = 3, /* appended by each new leader (§3.6.2, §6.4) */
};

/*
 * A log entry. In everything the core hands out (updates, messages) the
 * payload is borrowed: valid until raft_update_done() for the update it
 * belongs to. Everything handed in (raft_step()) is borrowed from the caller
 * and copied when kept.
 */
struct raft_entry {
	uint64_t term;
	uint64_t index;
	enum raft_entry_type type;
	uint32_t len;
	void *data; /* len bytes; NULL when len == 0 */
};

enum raft_server_role {
	RAFT_VOTER = 1,
	RAFT_LEARNER = 2, /* receives the log, never votes, never counts */
};

struct raft_server {
	uint64_t id;
	enum raft_server_role role;
};

/* A cluster configuration (§4.1): fixed size, copied by value. */
struct raft_conf {
	uint32_t n;
	struct raft_server servers[RAFT_CONF_MAX];
};

/**
 * raft_conf_encode() - the payload of a RAFT_ENTRY_CONF entry for @conf:
 * 4 bytes n, then n times (8 bytes id, 1 byte role), little-endian. Writes at
 * most raft_conf_encoded_len() bytes into @buf; returns the length, or
 * -ENOBUFS if @cap is too small.
 */
int raft_conf_encode(const struct raft_conf *conf, void *buf, size_t cap);
size_t raft_conf_encoded_len(const struct raft_conf *conf);
/**
 * raft_conf_decode() - parse a conf payload; -EPROTO on malformed input
 * (bad length, id 0, duplicate ids, unknown role, more than RAFT_CONF_MAX).
 */
int raft_conf_decode(const void *buf, size_t len, struct raft_conf *out);
/** raft_conf_find() - the server with @id in @conf, or NULL. */
const struct raft_server *raft_conf_find(const struct raft_conf *conf,
					 uint64_t id);

/* What a snapshot covers: the log up to index/term and its configuration. */
struct raft_snapshot_meta {
	uint64_t index;
	uint64_t term;
	uint64_t conf_index; /* index of the conf entry (0: bootstrap) */
	struct raft_conf conf;
};

/* Term, vote and commit index: persisted atomically (Figure 2). */
struct raft_hard_state {
	uint64_t term;
	uint64_t vote;
	uint64_t commit;
};

/* ---- Messages: plain structs; raft-io encodes them for the wire. ---- */

enum raft_msg_type {
	RAFT_MSG_APPEND = 1,	 /* AppendEntries (§3.5) */
	RAFT_MSG_APPEND_RESP,	 /* its result */
	RAFT_MSG_VOTE,		 /* RequestVote or PreVote (§3.4, §9.6) */
	RAFT_MSG_VOTE_RESP,	 /* its result */
	RAFT_MSG_HEARTBEAT,	 /* empty append carrying commit, read ctx */
	RAFT_MSG_HEARTBEAT_RESP, /* its result */
	RAFT_MSG_SNAPSHOT,	 /* one InstallSnapshot chunk (§5.3) */
	RAFT_MSG_SNAPSHOT_RESP,	 /* chunk accepted / offset wanted */
	RAFT_MSG_TIMEOUT_NOW,	 /* leadership transfer (§3.10) */
	RAFT_MSG_TYPE_MAX = RAFT_MSG_TIMEOUT_NOW,
};

/** raft_msg_type_name() - "append", "vote_resp", ...; static string. */
const char *raft_msg_type_name(enum raft_msg_type type);

struct raft_msg_append {
	uint64_t prev_index;
	uint64_t prev_term;
	uint64_t commit;
	size_t n_entries;
	struct raft_entry *entries; /* prev_index+1 ... contiguous */
};

struct raft_msg_append_resp {
	bool reject;
	/* Accepted: the follower's log matches through @index (durably).
	 * Rejected: @index is the prev_index that did not match; @hint_index
	 * and @hint_term let the leader skip back a whole term at a time:
	 * the follower's last index if shorter, else the first index of the
	 * conflicting term @hint_term (§5.3 "fast back-off"). */
	uint64_t index;
	uint64_t hint_index;
	uint64_t hint_term;
};

struct raft_msg_vote {
	uint64_t last_index;
	uint64_t last_term;
	bool prevote;  /* a pre-vote: term is the proposed term, not ours */
	bool transfer; /* sent after TimeoutNow: voters ignore their lease */
};

struct raft_msg_vote_resp {
	bool granted;
	bool prevote;
};

struct raft_msg_heartbeat {
	uint64_t commit; /* already capped at the follower's match index */
	uint64_t ctx;	 /* read-index round; echoed in the response */
};

struct raft_msg_heartbeat_resp {
	uint64_t ctx;
};

struct raft_msg_snapshot {
	struct raft_snapshot_meta meta;
	uint64_t offset; /* of this chunk in the snapshot's bytes */
	uint64_t size;	 /* total size of the snapshot in bytes */
	bool last;	 /* this chunk ends the snapshot */
	uint32_t len;
	void *data;
};

struct raft_msg_snapshot_resp {
	uint64_t index;	      /* meta.index of the snapshot */
	uint64_t next_offset; /* bytes received in order so far */
	bool reject;	      /* not wanted (stale or unusable) */
};

struct raft_msg {
	enum raft_msg_type type;
	uint64_t from;
	uint64_t to;
	uint64_t term;
	union {
		struct raft_msg_append append;
		struct raft_msg_append_resp append_resp;
		struct raft_msg_vote vote;
		struct raft_msg_vote_resp vote_resp;
		struct raft_msg_heartbeat heartbeat;
		struct raft_msg_heartbeat_resp heartbeat_resp;
		struct raft_msg_snapshot snapshot;
		struct raft_msg_snapshot_resp snapshot_resp;
	};
};

/**
 * raft_msg_validate() - check a decoded message before raft_step(): known
 * type, non-zero ids, contiguous entries with known types and sizes within
 * limits, a sane configuration in snapshot metadata. raft_step() calls it
 * too; decoders may call it early. Returns 0 or -EPROTO.
 */
int raft_msg_validate(const struct raft_msg *m);

/* ---- Injected readers ---- */

/*
 * Entries that left the in-memory window. The core only drops entries from
 * memory after raft_persisted() covered them, so the reader can always serve
 * every index from the first entry it holds up to the last persisted one.
 */
struct raft_log_reader {
	void *arg;
	/*
	 * Read entries [first, first + max) stopping after @max_bytes of
	 * payload (but at least one entry). Fills @out and *@n. Payloads are
	 * allocated with shoal_malloc() and owned by the core afterwards.
	 * Returns 0, -ENOENT if @first was compacted away or is past the end,
	 * or another negative code (the core then retries later).
	 */
	int (*read)(void *arg, uint64_t first, size_t max, size_t max_bytes,
		    struct raft_entry *out, size_t *n);
	/* The term of entry @index, or -ENOENT. */
	int (*term)(void *arg, uint64_t index, uint64_t *term);
};

/*
 * The bytes of the node's own latest snapshot, read by the leader to send
 * InstallSnapshot chunks. At most options.snapshot_chunk bytes per chunk and
 * options.snapshot_inflight chunks per follower are held at once.
 */
struct raft_snapshot_reader {
	void *arg;
	/*
	 * Read up to @len bytes at @offset of the snapshot at @index into
	 * @buf; set *@n and *@size (total). -ENOENT if that snapshot is gone
	 * (the core then moves to the newest one).
	 */
	int (*read)(void *arg, uint64_t index, uint64_t offset, void *buf,
		    size_t len, size_t *n, uint64_t *size);
};

/* ---- Construction ---- */

struct raft_options {
	uint64_t id;   /* this node; non-zero */
	uint64_t seed; /* PRNG seed for election timeouts */

	uint32_t heartbeat_ms;	      /* default 100 */
	uint32_t election_timeout_ms; /* minimum; default 1000 */
	/* Extra random part added to each election timeout, in
	 * [0, election_jitter_ms). Negative (the default): half of
	 * election_timeout_ms, so a failover takes about 1.2 timeouts.
	 * 0 disables randomization (tests with fixed timeouts). The minimum,
	 * election_timeout_ms, is also the leader lease: use the same value on
	 * every node. */
	int64_t election_jitter_ms;

	bool prevote;	   /* default true (use raft_options_init()) */
	bool check_quorum; /* default true */

	/* Replication flow control, per follower. */
	uint32_t max_inflight_msgs; /* default 64 */
	uint32_t max_msg_entries;   /* default 512 */
	uint32_t max_msg_bytes;	    /* default 1 MiB */
	/* Proposal queue: uncommitted entries the leader accepts. */
	uint32_t max_uncommitted;	/* default 4096 entries */
	uint64_t max_uncommitted_bytes; /* default 64 MiB */
	uint32_t max_pending_reads;	/* default 4096 */

	/* In-memory log window: entries beyond these limits are dropped from
	 * memory once persisted and applied, and read back on demand. */
	uint32_t mem_entries; /* default 8192 */
	uint64_t mem_bytes;   /* default 64 MiB */

	/* Snapshots: update.take_snapshot is set once this many entries were
	 * applied since the last snapshot (0 = never). After a snapshot the
	 * disk log keeps @snapshot_trailing entries behind it. */
	uint64_t snapshot_threshold; /* default 8192 */
	uint64_t snapshot_trailing;  /* default 1024 */
	uint32_t snapshot_chunk;     /* default 1 MiB */
	uint32_t snapshot_inflight;  /* chunks per follower, default 4 */

	/* A learner is promoted only when its match index is within this
	 * many entries of the leader's last index. */
	uint64_t catchup_margin; /* default 64 */

	struct raft_log_reader log;
	struct raft_snapshot_reader snapshot;
};

/** raft_options_init() - fill @o with the defaults above (id 0). */
void raft_options_init(struct raft_options *o);

/*
 * The durable state found at start. A brand new node has everything zero
 * and either a bootstrap configuration (the founding members, identical on
 * each; treated as a snapshot at index 0) or none (a node that waits to be
 * added by a leader).
 */
struct raft_restore {
	struct raft_hard_state hard;
	struct raft_snapshot_meta snapshot; /* index 0: none */
	uint64_t log_first; /* first index in the log, 0 if empty */
	uint64_t log_last;  /* last index in the log, 0 if empty */
	const struct raft_conf *bootstrap; /* used when nothing else */
};

struct raft;

/**
 * raft_new() - a core in the follower role at @state. Reads the log's tail
 * through options.log to find configuration entries and the last term.
 * Returns 0 and *@out (free with raft_free()), -EINVAL on bad options or an
 * inconsistent state, -ENOMEM, or the reader's error.
 */
int raft_new(const struct raft_options *options,
	     const struct raft_restore *state, struct raft **out);
void raft_free(struct raft *r);

/* ---- Events ---- */

/**
 * raft_tick() - time is now @now_ms (monotonic; going back is ignored).
 * Fires election timeouts, heartbeats, check-quorum and transfer timeouts.
 * The core's clock is the last tick: call it with the current time before
 * feeding any other event (a real shell may instead tick every few ms, at
 * the cost of that much timer precision). The first call only starts the
 * clock. The next instant at which a tick does something is
 * raft_next_deadline().
 */
int raft_tick(struct raft *r, uint64_t now_ms);
uint64_t raft_next_deadline(const struct raft *r);

/**
 * raft_step() - handle a message from a peer. Returns 0 (also when the
 * message was stale and ignored), -EPROTO if malformed, -ENOMEM.
 */
int raft_step(struct raft *r, const struct raft_msg *m);

/**
 * raft_persisted() - the entries given for persistence up to @index (whose
 * term is @term) and the hard state given with them are durable. A stale
 * call (the entry was since replaced) is ignored.
 */
int raft_persisted(struct raft *r, uint64_t index, uint64_t term);

/**
 * raft_snapshot_done() - the state machine durably saved a snapshot of
 * everything applied up to @index (<= applied index). The core records its
 * metadata, compacts its memory, and asks the disk log (update.compact_upto)
 * to drop entries more than snapshot_trailing behind it. -EINVAL if @index is
 * beyond what was applied.
 */
int raft_snapshot_done(struct raft *r, uint64_t index);

/**
 * raft_snapshot_meta() - the metadata of the latest snapshot (taken or
 * installed), for the shell to store beside the snapshot's bytes; index 0
 * if there is none.
 */
void raft_snapshot_meta(const struct raft *r, struct raft_snapshot_meta *out);

/**
 * raft_snapshot_installed() - the snapshot whose last chunk the core handed
 * out (update.chunks[i].last) is durable and loaded into the state machine.
 * The log restarts after it (update.log_reset) unless it already held a
 * matching entry at meta.index. -EINVAL if no such install is pending.
 */
int raft_snapshot_installed(struct raft *r, uint64_t index, uint64_t term);

/* ---- Client requests (leader only; SHOAL_ENOTLEADER elsewhere) ---- */

/**
 * raft_propose() - append a command. Returns 0 with the *@index and *@term
 * it will have: it is committed when an applied entry has that index and
 * term, and lost if another term's entry is applied at that index.
 * SHOAL_ENOTLEADER, -EBUSY past the uncommitted queue or while leadership
 * is being transferred, -EMSGSIZE past RAFT_ENTRY_MAX, -ENOMEM.
 */
int raft_propose(struct raft *r, const void *data, size_t len, uint64_t *index,
		 uint64_t *term);

/**
 * raft_read_index() - request a linearizable read tagged @token. When safe,
 * an update carries a raft_read_state {token, index, 0}: the read may be
 * served once the state machine applied @index. If leadership is lost first
 * the read state carries SHOAL_ENOTLEADER. -EBUSY past max_pending_reads.
 */
int raft_read_index(struct raft *r, uint64_t token);

/**
 * raft_transfer_leadership() - hand leadership to voter @to (0: the most
 * up-to-date one). New proposals get -EBUSY until it ends; it is abandoned
 * after an election timeout. -EINVAL if @to is not a voter or is us,
 * -EALREADY if a transfer is running.
 */
int raft_transfer_leadership(struct raft *r, uint64_t to);

/**
 * Membership, one server at a time (§4.1, §4.2.1): each call appends a conf
 * entry (its index in *@index) and returns -EBUSY while an earlier one is
 * not committed, before the leader committed an entry of its own term (its
 * no-op), or while a leadership transfer runs, SHOAL_ENOTLEADER off the
 * leader. raft_add_learner(): SHOAL_ECONFLICT if @id is already a member,
 * -ENOSPC past RAFT_CONF_MAX. raft_promote(): -EINVAL unless @id is a learner,
 * -EAGAIN while its log is more than catchup_margin behind (§4.2.1).
 * raft_remove(): -EINVAL if not a member, or if it would leave no voter;
 * removing the leader itself is allowed (§4.2.2): it steps down once the change
 * commits.
 */
int raft_add_learner(struct raft *r, uint64_t id, uint64_t *index);
int raft_promote(struct raft *r, uint64_t id, uint64_t *index);
int raft_remove(struct raft *r, uint64_t id, uint64_t *index);

/* ---- Output ---- */

struct raft_read_state {
	uint64_t token;
	uint64_t index; /* serve once applied >= index */
	int status;	/* 0 or SHOAL_ENOTLEADER */
};

/* A piece of an incoming snapshot for the shell to write at @offset. */
struct raft_snapshot_chunk {
	struct raft_snapshot_meta meta;
	uint64_t offset;
	uint32_t len;
	void *data;
	bool last; /* write, sync, load it, then raft_snapshot_installed() */
};

/*
 * One batch of work. Everything is borrowed until raft_update_done(). The
 * shell must, in this order:
 *  1. Persist, as one atomic step per update and in update order:
 *     if @log_reset: drop the whole log, which restarts after
 *     snapshot index @log_reset_index; then if @truncate_from: drop entries
 *     >= truncate_from; append @entries; if @hard_changed write @hard.
 *     Write @chunks (snapshot being received) at their offsets.
 *     When durable call raft_persisted(last entry index/term) - or with
 *     log_reset_index and its term if only a reset happened.
 *  2. Send @msgs at once (in parallel with the write), and @msgs_durable
 *     only after this update's writes and all earlier ones are durable.
 *  3. Apply @committed in order, serve @reads once applied, and note the
 *     role change. Entries up to @compact_upto may be dropped from disk
 *     lazily (a snapshot covers them).
 */
struct raft_update {
	bool log_reset;
	uint64_t log_reset_index;
	uint64_t truncate_from;
	size_t n_entries;
	const struct raft_entry *entries;
	bool hard_changed;
	struct raft_hard_state hard;
	size_t n_chunks;
	const struct raft_snapshot_chunk *chunks;

	size_t n_msgs;
	const struct raft_msg *msgs;
	size_t n_msgs_durable;
	const struct raft_msg *msgs_durable;

	size_t n_committed;
	const struct raft_entry *committed;
	size_t n_reads;
	const struct raft_read_state *reads;

	uint64_t compact_upto;
	bool take_snapshot; /* applied - snapshot index >= threshold */

	bool role_changed;
	enum raft_role role;
	uint64_t leader; /* known leader or 0 */
	uint64_t term;
};

/** raft_has_update() - whether raft_update_get() has anything to hand. */
bool raft_has_update(const struct raft *r);

/**
 * raft_update_get() - move the pending work into @u. Other events may be fed
 * before raft_update_done(); their work goes to the next update. Returns 0,
 * or -EALREADY if the previous update was not done yet.
 */
int raft_update_get(struct raft *r, struct raft_update *u);

/** raft_update_done() - release the memory of @u (from raft_update_get()). */
void raft_update_done(struct raft *r, struct raft_update *u);

/* ---- Inspection ---- */

struct raft_status {
	uint64_t id;
	enum raft_role role;
	uint64_t term;
	uint64_t vote;
	uint64_t leader;
	uint64_t commit;
	uint64_t applied; /* handed out in update.committed */
	uint64_t persisted;
	uint64_t first_index;
	uint64_t last_index;
	uint64_t last_term;
	uint64_t snapshot_index;
	uint64_t snapshot_term;
	struct raft_conf conf; /* latest, possibly uncommitted */
	uint64_t conf_index;
	uint64_t mem_entries; /* entries held in memory */
	uint64_t mem_bytes;
	uint64_t transfer_to; /* leadership transfer target or 0 */
};

void raft_status(const struct raft *r, struct raft_status *out);

/** raft_match_index() - leader's view of @id's match index, 0 elsewhere. */
uint64_t raft_match_index(const struct raft *r, uint64_t id);

#endif
