/*
 * The swarm manager: this node's membership state on disk, the cluster's
 * certificate authority and join tokens, the swarm's settings (SwarmSpec),
 * and the manager process itself (store of nodes, listener speaking
 * proto's secure channel, join handling, dispatcher sessions and
 * heartbeats, the write path for the API, leader-only components).
 *
 * State on disk (swarm_state_*): <data-root>/certs/ (0700) holds node.key
 * (this node's Ed25519 identity, 0600), node.crt (its certificate, 0644)
 * and, on managers, root.key (the CA's signing key, 0600);
 * <data-root>/swarm/ (0700) holds state.json (0600: cluster id, node id,
 * role, token secrets on managers, addresses, settings) and, on managers,
 * store.snap (the store). Every file is written to a temporary name,
 * fsynced and renamed, so a crash leaves the old or the new file, never a
 * torn one. A node is "in a swarm" exactly when state.json exists.
 *
 * The CA (ca_*) works on a struct swarm_state: it creates a cluster (ids,
 * root key, tokens, the first manager's certificate), issues certificates
 * for joining nodes, formats and rotates tokens, and answers the channel's
 * join lookup. Rotation replaces a token's secret: joins with the old one
 * are refused from then on; nodes already joined keep their certificates.
 *
 * The manager (mgr_*) runs on the daemon's loop. Every change to the
 * store is a Raft proposal (raft/node_uv.h) applied on every manager; the
 * leader alone proposes changes, runs the dispatcher, admits joins and
 * runs the leader-only components; followers answer reads from their copy
 * and forward writes to the leader (mgr_write()). The cluster object
 * carries the join tokens' secrets, so every manager admits the same
 * tokens and a rotation is one replicated change.
 * Revocation (revoke.c): the cluster object lists, per node, the epoch
 * up to which its manager certificates are revoked (set by demotion) and
 * whether all its certificates are (node rm). Every port checks it at each
 * handshake, and again on live connections after every applied change.
 */
#ifndef SHOAL_MANAGER_MANAGER_H
#define SHOAL_MANAGER_MANAGER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>
#include <uv.h>

#include "manager/store.h"
#include "proto/cert.h"
#include "proto/token.h"

#define SWARM_ADDR_MAX 128
#define SWARM_MAX_MANAGERS 16
#define SWARM_DEFAULT_PORT 2377
#define SWARM_DEFAULT_HEARTBEAT_MS 1000
#define SWARM_DEFAULT_CERT_EXPIRY_S (90LL * 24 * 3600)
#define SWARM_MISSED_HEARTBEATS 3

/*
 * Raft timing in Docker's units (SwarmSpec.Raft): swarmkit counts ticks of
 * one second (ElectionTick 10, HeartbeatTick 1); Shoal's tick is 50 ms and
 * its defaults, ElectionTick 10 and HeartbeatTick 2, are the 500 ms
 * election timeout and 100 ms heartbeat it has always run with
 * (docs/swarm.md, "Swarm settings").
 */
#define SWARM_RAFT_TICK_MS 50
#define SWARM_DEFAULT_ELECTION_TICK 10
#define SWARM_DEFAULT_HEARTBEAT_TICK 2
#define SWARM_MAX_ELECTION_TICK 1200 /* 60 s */
#define SWARM_DEFAULT_SNAPSHOT_INTERVAL 10000
#define SWARM_DEFAULT_SLOW_FOLLOWERS 500
#define SWARM_MAX_KEEP_OLD_SNAPSHOTS 64
#define SWARM_DEFAULT_TASK_HISTORY 5

/* SwarmSpec.Raft as a manager applies it when it starts; 0 is the
 * default everywhere but in @keep_old_snapshots. */
struct swarm_raft {
	uint32_t election_tick;
	uint32_t heartbeat_tick;
	uint64_t snapshot_interval;
	uint64_t keep_old_snapshots;
	uint64_t log_entries_for_slow_followers;
};

/** This node's membership, as persisted. Plain value; wipe when done. */
struct swarm_state {
	char cluster_id[WIRE_ID_MAX + 1];
	char node_id[WIRE_ID_MAX + 1];
	enum wire_role role;
	struct wire_keypair identity;
	uint8_t cert[1024];
	size_t cert_len;
	uint8_t root_pk[WIRE_PK_LEN];
	bool has_root_sk; /* managers only */
	uint8_t root_sk[WIRE_SK_LEN];
	bool has_tokens; /* managers only */
	struct wire_token worker_token;
	struct wire_token manager_token;
	uint64_t next_serial;
	char listen_addr[SWARM_ADDR_MAX];    /* ADDR:PORT we listen on */
	char advertise_addr[SWARM_ADDR_MAX]; /* ADDR:PORT others use */
	char managers[SWARM_MAX_MANAGERS][SWARM_ADDR_MAX];
	/* Their node ids when known ("" otherwise): a manager that has not
	 * caught up yet reaches its Raft peers through them. */
	char manager_ids[SWARM_MAX_MANAGERS][WIRE_ID_MAX + 1];
	size_t nmanagers;
	uint32_t heartbeat_ms;
	int64_t cert_expiry_s;
	struct swarm_raft raft; /* the swarm's, from its spec */
	int64_t created_ns;
	bool founder; /* this manager created the swarm */
	/* At rest (manager/lock.h): with @has_dek the key files, this state
	 * and the Raft log are encrypted with @dek; with @autolock the DEK
	 * file is sealed with @kek, the operator's unlock key. */
	bool has_dek;
	uint8_t dek[32];
	bool autolock;
	uint8_t kek[32];
};

/* ------------------------------------------------------------- state */

/**
 * swarm_state_load() - read the state under @data_root into @st. Returns 0;
 * -ENOENT when this node is in no swarm; SHOAL_ECORRUPT (with @err) for a
 * file that does not parse or disagrees with the others; -errno.
 */
int swarm_state_load(const char *data_root, struct swarm_state *st, char *err,
		     size_t errlen);

/**
 * swarm_state_unlock() - swarm_state_load() with the unlock key @kek
 * (NULL: none) for a node whose DEK is sealed (autolock). Beyond
 * swarm_state_load()'s codes: -ENOKEY (locked and no key given) and
 * -EKEYREJECTED (not this node's key; @err says "invalid key"). Nothing
 * changes on disk.
 */
int swarm_state_unlock(const char *data_root, const uint8_t *kek,
		       struct swarm_state *st, char *err, size_t errlen);

/**
 * swarm_state_save() - write @st under @data_root (files as above; the
 * root key only when @st has it). With @st->has_dek the DEK file is
 * written first (sealed with @st->kek when @st->autolock), then the key
 * files and the state sealed with the DEK. Returns 0 or -errno with @err
 * set.
 */
int swarm_state_save(const char *data_root, const struct swarm_state *st,
		     char *err, size_t errlen);

/** swarm_state_remove() - delete every swarm file; 0 or -errno. */
int swarm_state_remove(const char *data_root);

/** swarm_state_remove_files() - the state files but not the Raft log. */
int swarm_state_remove_files(const char *data_root);

/** swarm_state_remove_raft() - delete the Raft log (a demoted manager). */
int swarm_state_remove_raft(const char *data_root);

/** swarm_state_wipe() - zero the secrets in @st. */
void swarm_state_wipe(struct swarm_state *st);

/* --------------------------------------------------------- SwarmSpec */

/*
 * Docker's SwarmSpec (Engine API, "SwarmSpec") as Shoal keeps it in the
 * cluster object: every field present, in Docker's names and units
 * (durations in nanoseconds). Fields Shoal cannot honour yet are refused
 * by name, as are unknown ones (docs/swarm.md, "Swarm settings").
 */

/**
 * swarm_spec_merge() - check the SwarmSpec @in (a JSON object, the body
 * of POST /swarm/update or the Spec of /swarm/init) and lay it over @base
 * (a spec this function made, or NULL for the defaults) into *@out
 * (owned). Absent, null and zero fields keep @base's value (an explicit
 * KeepOldSnapshots or TaskHistoryRetentionLimit of 0 sets 0); Labels are
 * replaced whole. Returns 0, -EINVAL with @err naming the field, or
 * -ENOMEM.
 */
int swarm_spec_merge(const json_t *base, const json_t *in, json_t **out,
		     char *err, size_t errlen);

/**
 * swarm_spec_check() - the checks of swarm_spec_merge() that need no base
 * (names, types, ranges), for a manager that forwards an update. Returns
 * 0 or -EINVAL with @err.
 */
int swarm_spec_check(const json_t *in, char *err, size_t errlen);

/**
 * swarm_spec_read() - the cluster object's spec bytes as a complete spec
 * (owned): a spec stored before some field existed gets its default. NULL
 * only without memory.
 */
json_t *swarm_spec_read(const uint8_t *data, size_t len);

/** swarm_spec_from_state() - the spec of a new swarm with @st's
 * settings (owned, NULL without memory). */
json_t *swarm_spec_from_state(const struct swarm_state *st);

/**
 * swarm_spec_to_state() - the settings a node keeps in its state (the
 * dispatcher's period, the certificate expiry, Raft) from the complete
 * @spec into @st. Returns whether any changed.
 */
bool swarm_spec_to_state(const json_t *spec, struct swarm_state *st);

/** swarm_raft_normalize() - @r with every default made explicit. */
void swarm_raft_normalize(struct swarm_raft *r);

/** swarm_raft_timing() - @r's heartbeat and election timeout in ms. */
void swarm_raft_timing(const struct swarm_raft *r, uint32_t *heartbeat_ms,
		       uint32_t *election_ms);

/* ---------------------------------------------------------------- CA */

/**
 * ca_init_cluster() - a new cluster in @st: cluster and node ids, root
 * key, both tokens, this node's identity and its manager certificate
 * valid from @now for @st->cert_expiry_s (0: 90 days). Returns 0, -EINVAL,
 * -ENOMEM.
 */
int ca_init_cluster(struct swarm_state *st, int64_t now);

/**
 * ca_issue() - a certificate for @node_id with @role and public key @pk,
 * valid from @now (an hour of slack before, for clock skew), signed by the
 * root in @st (which must hold it). @epoch is the issuing leader's applied
 * Raft index, which revocations are measured against (revoke.c). *@out is
 * owned (shoal_free). Returns 0, -EINVAL, -EPERM (no root key here),
 * -ENOMEM.
 */
int ca_issue(struct swarm_state *st, const char *node_id, enum wire_role role,
	     const uint8_t pk[WIRE_PK_LEN], int64_t now, uint64_t epoch,
	     uint8_t **out, size_t *out_len);

/** ca_token() - the text of the token for @role into @out. */
void ca_token(const struct swarm_state *st, enum wire_role role,
	      char out[WIRE_TOKEN_LEN + 1]);

/** ca_rotate() - a fresh secret for @role's token (local only). */
void ca_rotate(struct swarm_state *st, enum wire_role role);

/** ca_join_lookup() - wire_join_lookup_fn over a struct swarm_state. */
int ca_join_lookup(void *st, size_t index,
		   uint8_t secret[WIRE_TOKEN_SECRET_LEN], enum wire_role *role);

/* ----------------------------------------------------------- manager */

struct mgr;

/** Node facts reported by an agent or by the daemon for itself. */
struct mgr_node_desc {
	char hostname[256];
	char os[32];
	char arch[32];
	int64_t nano_cpus;
	int64_t memory_bytes;
	char engine_version[32];
	char addr[SWARM_ADDR_MAX];
};

struct mgr_component;

struct mgr_config {
	uv_loop_t *loop;
	const char *data_root; /* borrowed for the manager's life */
	/* Borrowed for the manager's life; the manager changes its tokens
	 * (from the store) and calls @state_changed to have it saved. */
	struct swarm_state *st;
	const struct mgr_node_desc *self; /* copied */
	/* The founding manager: bootstraps a one-voter Raft group when its
	 * log is empty. Others wait to be added by the leader. */
	bool founder;
	/* The cluster object exists in the store (once; optional). */
	void (*ready)(void *arg);
	void (*state_changed)(void *arg);
	void *arg;
	/* The founder only, when init runs in this process: the swarm's
	 * complete spec (swarm_spec_merge(); borrowed for the call) and the
	 * founder node's Availability ("" or NULL: active). Otherwise the
	 * new swarm's spec comes from @st. */
	const json_t *init_spec;
	const char *init_availability;
	/* Leader-only components, registered before anything runs (as with
	 * mgr_component_add()); the array is copied. */
	const struct mgr_component *components;
	size_t ncomponents;
};

/**
 * mgr_start() - open the Raft log under <data-root>/raft, listen on
 * st->listen_addr (joins, sessions) and on the next port (Raft), and serve.
 * Returns 0 and *@out, or a negative code with @err set (nothing left
 * running).
 */
int mgr_start(const struct mgr_config *cfg, struct mgr **out, char *err,
	      size_t errlen);

/** mgr_stop() - close everything; @done(@arg) runs once it is gone. */
void mgr_stop(struct mgr *m, void (*done)(void *arg), void *arg);

/** mgr_store() - the store, for reads (borrowed, valid until stop). */
const struct store *mgr_store(const struct mgr *m);

/**
 * mgr_watch() - a store watcher (store_watch()) on this manager's store,
 * leader or not, for observers outside the manager (the daemon's swarm
 * events). Freed by store_unwatch() or with the store at mgr_stop(): call
 * store_unwatch() before mgr_stop(), never after. 0, -EINVAL, -ENOMEM.
 */
int mgr_watch(struct mgr *m, uint32_t tables, size_t max_events,
	      store_notify_fn *notify, void *arg, struct store_watcher **out);

/** mgr_port() - the bound TCP port of the listener. */
int mgr_port(const struct mgr *m);

/** mgr_is_leader() - whether this manager leads the Raft group now. */
bool mgr_is_leader(const struct mgr *m);

/** mgr_leader_addr() - the leader's swarm address, "" when unknown. */
const char *mgr_leader_addr(const struct mgr *m, char *buf, size_t cap);

/**
 * mgr_node_is_leader() - whether node @id is the current Raft leader;
 * mgr_node_raft_member() - whether it is in the Raft configuration.
 */
bool mgr_node_is_leader(const struct mgr *m, const char *id);
bool mgr_node_raft_member(const struct mgr *m, const char *id);

/** mgr_find_node() - a node by full id, unique id prefix or hostname. */
const struct store_object *mgr_find_node(const struct mgr *m, const char *ref,
					 int *rc);

/** The result of an asynchronous change: @rc 0 or a code, @msg why. */
typedef void mgr_done_fn(void *arg, int rc, const char *msg);

/*
 * Changes. Each returns 0 and later calls @done exactly once with the
 * outcome once the change is committed (or lost), or returns a negative
 * code with @err set and never calls @done: SHOAL_ENOTLEADER (no leader
 * known, or the leader could not be reached; @err names the leader),
 * SHOAL_ENOTFOUND, -EINVAL for input that does not validate, -ENOMEM. A
 * stale version comes back through @done as SHOAL_ESTALE ("update out of
 * sequence"). Any manager takes any change: a follower checks what it
 * can and forwards the rest to the leader (docs/swarm.md, "Writes").
 */

/** A write as a client asks it (mgr_write()); borrowed for the call. */
struct mgr_write_req {
	const char *id;	  /* the object written, "" or NULL when none */
	uint64_t version; /* the version the client read, 0 when none */
	const char *body; /* the request's JSON body, or NULL */
	size_t body_len;
	uint32_t flags; /* MGR_WRITE_*, by operation */
};

#define MGR_WRITE_FORCE (1u << 0)	   /* node-remove */
#define MGR_WRITE_ROTATE_WORKER (1u << 1)  /* swarm-update, token-rotate */
#define MGR_WRITE_ROTATE_MANAGER (1u << 2) /* swarm-update, token-rotate */
#define MGR_WRITE_ROLLBACK (1u << 3)	   /* service-update: PreviousSpec */
#define MGR_WRITE_REBALANCE (1u << 4)	   /* service-update: spread again */

/**
 * mgr_write() - the write named @op ("node-update", "node-remove",
 * "token-rotate", "swarm-update", "service-create" (@req->id: the new
 * service's id, a fresh id_swarm()), "service-update", "service-remove",
 * "network-create" (@req->id: the new overlay's id, a fresh id_swarm()),
 * "network-remove";
 * manager/write.c holds the table) with @req. Returns as the changes above;
 * -EINVAL for an unknown @op.
 */
int mgr_write(struct mgr *m, const char *op, const struct mgr_write_req *req,
	      mgr_done_fn *done, void *arg, char *err, size_t errlen);

/** mgr_node_update() - replace node @id's spec (JSON NodeSpec). */
int mgr_node_update(struct mgr *m, const char *id, uint64_t version,
		    const char *spec_json, size_t len, mgr_done_fn *done,
		    void *arg, char *err, size_t errlen);

/**
 * mgr_node_remove() - remove node @id: its certificate is refused from now
 * on and its session ends. Without @force a node that is not down is
 * refused (SHOAL_ECONFLICT, Docker's text in @err), and a manager always
 * is while it is one.
 */
int mgr_node_remove(struct mgr *m, const char *id, bool force,
		    mgr_done_fn *done, void *arg, char *err, size_t errlen);

/** mgr_rotate_token() - a new secret for @role's token, replicated
 * ("token-rotate"). */
int mgr_rotate_token(struct mgr *m, enum wire_role role, mgr_done_fn *done,
		     void *arg, char *err, size_t errlen);

/** mgr_cluster() - the cluster object (borrowed as store_get()). */
const struct store_object *mgr_cluster(const struct mgr *m);

/**
 * mgr_swarm_update() - apply Docker's SwarmSpec @spec_json to the cluster
 * object at @version (swarm_spec_merge() over the current spec: zeros
 * keep, unknown fields and those Shoal cannot honour are refused with
 * -EINVAL naming them); @rotate_worker / @rotate_manager replace those
 * tokens, EncryptionConfig turns autolock on or off, and a changed
 * CAConfig.ForceRotate gives every node a new certificate, all in the
 * same change. The dispatcher's period and the certificate expiry apply
 * at once; Raft's settings at each manager's next start.
 */
int mgr_swarm_update(struct mgr *m, uint64_t version, const char *spec_json,
		     size_t len, bool rotate_worker, bool rotate_manager,
		     mgr_done_fn *done, void *arg, char *err, size_t errlen);

/**
 * mgr_sync() - wait until this manager's store reflects every change
 * committed before the call (Raft's read index, asked of the leader by a
 * follower), so that a read served after @done(0) sees the latest writes
 * wherever they were made. Returns as the changes above.
 */
int mgr_sync(struct mgr *m, mgr_done_fn *done, void *arg, char *err,
	     size_t errlen);

/**
 * mgr_cert_renewed() - st->cert was replaced (renewal): present the new one
 * on every later connection, Raft's included.
 */
void mgr_cert_renewed(struct mgr *m);

/**
 * mgr_raft_running() - the Raft settings this manager started with
 * (borrowed, valid until stop); the swarm's current ones are in
 * st->raft and apply from the next start.
 */
const struct swarm_raft *mgr_raft_running(const struct mgr *m);

/** mgr_node_ready() - whether node @id has a live session here. */
bool mgr_node_ready(const struct mgr *m, const char *id);

/** One opaque assignment (a task, later a secret or config it uses). */
struct mgr_item {
	const void *data;
	size_t len;
};

#define MGR_ASSIGN_MAX_ITEMS 4096
/* Per node, under the 16 MiB frame: room for secrets and configs. */
#define MGR_ASSIGN_MAX_BYTES (12u << 20)
#define MGR_ASSIGN_MAX_NODES 65536

/**
 * mgr_assign() - set node @node_id's whole set of assignments to @n
 * @items (copied), replacing the set before; the dispatcher sends it in
 * the node's session now, or when its session opens. For the leader's
 * components: sets live in the leader's memory only and are dropped when
 * it stops leading (the next leader's components push theirs). *@gen
 * (may be NULL) gets the set's generation. Returns 0, SHOAL_ENOTLEADER,
 * SHOAL_ENOTFOUND (no such node), -ENOBUFS (past MGR_ASSIGN_MAX_*),
 * -ENOMEM.
 */
int mgr_assign(struct mgr *m, const char *node_id, const struct mgr_item *items,
	       size_t n, uint64_t *gen);

/* -------------------------------------------------------- components */

/*
 * Leader-only components (the orchestrator, scheduler and allocator) run
 * on the manager that leads, and there only while it leads. A component
 * is started once this manager leads and its store is current (a read
 * index confirmed it holds every entry committed before its term, and the
 * cluster object exists), and stopped when it loses leadership, when Raft
 * fails, and when the manager stops. Each run gets a fresh store watcher
 * on the component's tables, created just before start(): read the store
 * in start(), then follow the events, and nothing is missed.
 *
 * Callbacks run on the manager's loop. start() and changed() run from a
 * loop turn of their own, never inside a Raft or store callback, so they
 * may propose changes; stop() runs where leadership was lost, at once, and
 * must neither propose nor block. A component whose start() fails is
 * retried at every run of the leader's timer (half a heartbeat period).
 */
struct mgr_component {
	const char *name; /* for logs; borrowed for the manager's life */
	uint32_t tables;  /* STORE_TABLE_BIT() mask of the tables watched */
	size_t queue;	  /* the watcher's queue; 0: MGR_COMPONENT_QUEUE */
	/* Begin leading. @w (owned by the manager, valid until stop())
	 * holds every change from now on. 0, or a code: not started. */
	int (*start)(void *arg, struct mgr *m, struct store_watcher *w);
	/* Events are waiting on @w: take them with store_watch_next() until
	 * -EAGAIN (-ENOBUFS: the queue overflowed, re-read the store).
	 * Called again only for later changes. Optional. */
	void (*changed)(void *arg, struct store_watcher *w);
	/* Stop leading now; the watcher is freed right after. */
	void (*stop)(void *arg);
	void *arg;
};

#define MGR_MAX_COMPONENTS 16
#define MGR_COMPONENT_QUEUE 4096

/**
 * mgr_component_add() - register @c (copied; its name and arg are
 * borrowed for the manager's life). If this manager leads already, @c
 * starts in the next loop turn. Returns 0, -EINVAL (no start or stop, no
 * tables) or -ENOSPC (MGR_MAX_COMPONENTS registered).
 */
int mgr_component_add(struct mgr *m, const struct mgr_component *c);

/** mgr_components_running() - whether this manager runs its components
 * now (it leads and its store is current). */
bool mgr_components_running(const struct mgr *m);

#endif
