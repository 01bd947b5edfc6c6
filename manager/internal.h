/*
 * Internal to manager/: the manager's struct and the functions its files
 * share. Not part of libshoal-manager's contract. Who holds what:
 *
 *   cluster.c     life cycle, Raft wiring, apply, the leader's timer
 *   follow.c      what every manager derives from the store after each
 *                 change: tokens, autolock, settings, Raft peers
 *   listener.c    the swarm port: accept, certificate checks, connection
 *                 lifetime, each frame routed to its role
 *   join.c        joins: a certificate for a token holder
 *   dispatcher.c  node sessions, heartbeats, renewals, Down detection
 *   write.c       the one path of every write: check, forward to the
 *                 leader or build and propose, answer; its table of ops
 *   ops_node.c    node update (promote, demote, handoff), node remove
 *   ops_swarm.c   token rotation, swarm update
 *   cluster_forward.c  the follower's channel to the leader, read index
 *   cluster_node.c node objects as JSON
 *   revoke.c      what a certificate may still do
 *   component.c   leader-only components: started and stopped with
 *                 leadership, fed by store watchers
 */
#ifndef SHOAL_MANAGER_INTERNAL_H
#define SHOAL_MANAGER_INTERNAL_H

#include <jansson.h>

#include "common/list.h"
#include "common/map.h"
#include "manager/manager.h"
#include "proto/channel.h"
#include "proto/swarm.pb-c.h"

/* Most connections a manager serves at once; past it new ones close. */
#define MGR_MAX_CONNS 1024

struct mgr_session;
struct mgr_orch;

/* A connection on the swarm port (listener.c). */
struct mgr_conn {
	struct list_node link;
	struct mgr *m;
	int pending;  /* proposals whose answer goes to this connection */
	bool closed;  /* the channel is gone; freed when pending drops to 0 */
	bool revoked; /* the node was removed: closed at its next frame */
	struct wire_chan *chan;
	struct wire_peer peer;
	char node_id[WIRE_ID_MAX + 1];
	struct mgr_session *session; /* dispatcher.c's, NULL outside one */
};

/* A registered component (component.c). */
struct mgr_comp {
	struct mgr *m;
	struct mgr_component c;
	struct store_watcher *w; /* while running */
	bool running;
	bool notified; /* events queued since changed() last ran */
	bool failed;   /* start() failed: the timer retries it */
	bool warned;   /* ...and that was logged, once a leadership */
};

/* The components' state (component.c). */
struct mgr_comps {
	struct mgr_comp all[MGR_MAX_COMPONENTS];
	size_t n;
	uint64_t gen;	/* leadership generation, for the barrier */
	bool barrier;	/* a read index for the current one is out */
	bool current;	/* leading with a current store */
	bool idle_on;	/* @idle initialised and not closing */
	uv_idle_t idle; /* a loop turn for start() and changed() */
};

/* The dispatcher's state (dispatcher.c): node sessions and assignment
 * sets, leader only. */
struct mgr_dispatcher {
	struct list_node sessions;
	size_t nsessions;
	int64_t grace_from_ns; /* monotonic; no node Down before a grace */
	struct list_node sets; /* struct mgr_assign_set, one per node */
	size_t nsets;
	struct hmap sets_by_node;     /* node id -> its set */
	struct hmap sessions_by_node; /* node id -> its newest session */
	uint64_t generation;	      /* of the last set pushed */
};

struct mgr {
	uv_loop_t *loop;
	const char *data_root;
	struct swarm_state *st;
	struct mgr_node_desc self;
	void (*state_changed)(void *arg);
	void *arg;
	struct store *store;
	struct raft_transport *rt;
	struct raft_node *rn;
	struct {
		uint64_t id;
		char addr[SWARM_ADDR_MAX + 8];
	} peers[SWARM_MAX_MANAGERS]; /* as given to the transport */
	size_t npeers;
	uint64_t raft_id;
	uint64_t applied; /* index of the last entry applied to the store */
	/* The cluster object's "Revoked" list (revoke.c), cached per version
	 * of the object. */
	json_t *revoked;
	uint64_t revoked_version;
	uint64_t leader_id;
	bool leader;
	bool ready_sent;
	/* Entries up to here were on disk at start: replaying them must not
	 * re-wrap the DEK with an unlock key of the past (sync_lock). */
	uint64_t replay_upto;
	bool lock_live;
	bool timer_on; /* m->timer initialised and not closing */
	void (*ready)(void *arg);
	bool founder;
	json_t *init_spec;		/* the spec init was given, or NULL */
	char init_availability[16];	/* the founder's, "" for active */
	struct swarm_raft raft_running; /* what Raft was started with */
	/* Certificates of an epoch below this predate the last forced
	 * rotation (CAConfig.ForceRotate): their nodes renew them. */
	uint64_t rotate_epoch;
	int last_rc; /* of the last entry applied, for its proposer */
	struct store_result last_res;
	int closing; /* raft node and transport still closing */
	/* Writes forwarded to the leader (cluster_forward.c). */
	struct wire_chan *fwd_chan;
	bool fwd_connected;
	char fwd_addr[SWARM_ADDR_MAX];
	struct list_node fwd_reqs;
	size_t fwd_nreqs;
	uint64_t fwd_next_id;
	/* Reads waiting for the store to reach an index (mgr_sync). */
	struct list_node sync_waiters;
	size_t nsync;
	/* The leader demoting itself: the update waits for the handover. */
	struct mgr_handoff *handoff;
	uv_tcp_t *listener; /* own allocation: may outlive a failed start */
	uv_timer_t timer;
	int open_handles;
	struct wire_chan_config chan_cfg;
	struct wire_chan_config raft_chan; /* admits managers only */
	struct list_node conns;
	size_t nconns;
	struct mgr_dispatcher disp;
	struct mgr_comps comps;
	struct mgr_orch *orch; /* orch_component.c */
	bool stopping;
	struct mgr_attach *attach; /* attach.c */
	void (*done)(void *arg);
	void *done_arg;
};

/**
 * mgr__propose() - propose the batch @b (finished here) through Raft.
 * Returns 0 and later @done(@arg, rc, msg) with store_apply()'s result on
 * this manager, or SHOAL_ENOTLEADER / -ECANCELED when the entry was lost;
 * or a negative code now (no callback). @done may be NULL.
 */
int mgr__propose(struct mgr *m, struct store_batch *b, mgr_done_fn *done,
		 void *arg);

/** mgr__raft_id() - the Raft id of node @node_id (never 0). */
uint64_t mgr__raft_id(const char *node_id);

/** mgr__not_leader() - SHOAL_ENOTLEADER with the leader named in @err. */
int mgr__not_leader(const struct mgr *m, char *err, size_t errlen);

/**
 * mgr__forward() - send @req (its id is set here) to the leader and call
 * @done with its answer. Same returns as the operations of manager.h. For a
 * read_index request, @done runs once the store has applied the index the
 * leader answered.
 */
int mgr__forward(struct mgr *m, Swarm__ControlRequest *req, mgr_done_fn *done,
		 void *arg, char *err, size_t errlen);
/**
 * mgr__read_index() - on the leader, for a follower's read: @answer runs
 * once with our applied index after a read index round (or an error).
 * Returns 0 or a code (no callback).
 */
int mgr__read_index(struct mgr *m,
		    void (*answer)(void *ctx, int rc, uint64_t index),
		    void *ctx);
/** mgr__sync_wait() - @done once the store applied @index (queued). */
int mgr__sync_wait(struct mgr *m, uint64_t index, mgr_done_fn *done, void *arg);
/** mgr__sync_check() - run the waiters the store has caught up with;
 * with @cancel, end them all with -ECANCELED. */
void mgr__sync_check(struct mgr *m, bool cancel);
/** mgr__forward_stop() - close the channel to the leader (at stop). */
void mgr__forward_stop(struct mgr *m);

/* What every manager derives from the store (follow.c). */
/** mgr__follow() - after each applied change: tokens, autolock, the
 * swarm's settings, Raft peers. */
void mgr__follow(struct mgr *m);
/** mgr__seed_peers() - Raft peers from our state, before the store has
 * them; mgr__sync_peers() - from the store. */
void mgr__seed_peers(struct mgr *m);
void mgr__sync_peers(struct mgr *m);
/** mgr__raft_addr() - a manager's Raft address from its swarm address
 * ("10.0.0.1:2377" -> "10.0.0.1:2378"; port 0 stays 0). */
int mgr__raft_addr(const char *swarm_addr, char *out, size_t cap);

/** mgr__parse_addr() - "ADDR:PORT" (IPv4 or [IPv6]) into @ss. */
int mgr__parse_addr(const char *s, struct sockaddr_storage *ss);

/** mgr__maybe_done() - finish a stop once nothing is left open. */
void mgr__maybe_done(struct mgr *m);
/** mgr__handle_closed() - close callback of a handle in struct mgr
 * counted in open_handles (its data is the manager). */
void mgr__handle_closed(uv_handle_t *h);

/* Node objects (cluster_node.c). Spec and status are JSON, Docker's
 * NodeSpec and {Description, Status, ManagerStatus}. */
json_t *mgr__node_spec_new(enum wire_role role);
json_t *mgr__node_status_new(const struct mgr_node_desc *d, const char *state,
			     bool manager, const char *manager_addr);
/** mgr__obj_json() - the spec or status bytes of @o parsed (owned). */
json_t *mgr__obj_json(const uint8_t *data, size_t len);
/** mgr__node_state() - "ready", "down", "unknown" of a node object. */
const char *mgr__node_state(const struct store_object *o, char *buf,
			    size_t cap);
/** mgr__node_role() - the role the node's spec asks for. */
enum wire_role mgr__node_role(const struct store_object *o);
/**
 * mgr__node_set_status() - propose @o's status with State @state and, when
 * @d is not NULL, that description. 0 or a store/disk code.
 */
int mgr__node_set_status(struct mgr *m, const struct store_object *o,
			 const char *state, const struct mgr_node_desc *d);
/** mgr__add_json() - add "create @id" with JSON spec/status (stolen). */
int mgr__add_json(struct store_batch *b, enum store_table t, const char *id,
		  const char *name, json_t *spec, json_t *status);
/** mgr__validate_spec() - check a NodeSpec from a client; -EINVAL + @err. */
int mgr__validate_spec(const json_t *spec, char *err, size_t errlen);

/* --- the swarm port (listener.c) ------------------------------------ */

int mgr__listen(struct mgr *m, char *err, size_t errlen);
/** mgr__listener_closed() - close callback of the listener. */
void mgr__listener_closed(uv_handle_t *h);
/** mgr__close_conns() - close every connection (leadership lost, stop). */
void mgr__close_conns(struct mgr *m);
int mgr__cert_check(void *arg, const struct wire_cert_info *info);
/** mgr__conns_recheck() - after a change: close the connections of nodes
 * gone from the store or revoked, take manager rights from demoted ones. */
void mgr__conns_recheck(struct mgr *m);
/** mgr__conn_release() - a proposal for @c finished; free it if closed. */
void mgr__conn_release(struct mgr_conn *c);
/** mgr__send() - send @env on @c; a failure closes @c (logged). */
void mgr__send(struct mgr_conn *c, Swarm__Envelope *env);
/** mgr__fill_managers() - every manager's address (or id) from our state,
 * pointers into it, for an answer. */
void mgr__fill_managers(struct mgr *m, char **out, size_t *n);
void mgr__fill_manager_ids(struct mgr *m, char **out, size_t *n);
/** mgr__leader_hint() - the leader's address as a one-element list in
 * @list (pointing into @buf), *@n 0 when unknown. */
void mgr__leader_hint(struct mgr *m, char *buf, size_t cap, char **list,
		      size_t *n);
/** mgr__raft_settings_pb() - the swarm's Raft settings for a manager's
 * first start (join and renewal answers). */
void mgr__raft_settings_pb(const struct mgr *m, Swarm__RaftSettings *out);
/** mgr__desc_from_pb() - a node description from the wire, with every
 * string made printable and bounded. */
void mgr__desc_from_pb(struct mgr_node_desc *d,
		       const Swarm__NodeDescription *pb);

/* --- node images (node_images.c) ------------------------------------- */

/**
 * mgr__node_images() - check node @o's image report @pb and propose it as
 * the node's status "Images" when it differs from the stored one. 0 (also
 * when nothing changed), -EPROTO with @err for a bad report (nothing
 * changes), or mgr__propose()'s codes.
 */
int mgr__node_images(struct mgr *m, const struct store_object *o,
		     const Swarm__NodeImages *pb, char *err, size_t errlen);
/** mgr__on_node_images() - mgr__node_images() for @c's node, logging a
 * refusal (rate-limited). */
void mgr__on_node_images(struct mgr_conn *c, const struct store_object *o,
			 const Swarm__NodeImages *pb);

/* --- joins (join.c) -------------------------------------------------- */

/** mgr__on_join() - a token holder's JoinRequest on @c. */
void mgr__on_join(struct mgr_conn *c, const Swarm__JoinRequest *req);

/* --- service logs (logs.c) -------------------------------------------- */

/** mgr__on_logs_data() - a node's LogsData, for its subscription. */
void mgr__on_logs_data(struct mgr_conn *c, const Swarm__LogsData *d);
/** mgr__logs_stop_all() - end @m's log subscriptions (it stops). */
void mgr__logs_stop_all(struct mgr *m);

/* --- sessions (dispatcher.c) ------------------------------------------ */

void mgr__dispatcher_init(struct mgr *m);
/** mgr__dispatcher_lead() - this manager leads from now: nodes get a
 * grace of SWARM_MISSED_HEARTBEATS periods to open their sessions. */
void mgr__dispatcher_lead(struct mgr *m);
/** mgr__dispatcher_follow() - leadership lost, or the manager is gone:
 * drop the assignment sets. */
void mgr__dispatcher_follow(struct mgr *m);
void mgr__on_session(struct mgr_conn *c, const Swarm__SessionRequest *req);
void mgr__on_heartbeat(struct mgr_conn *c, const Swarm__Heartbeat *hb);
void mgr__on_renew(struct mgr_conn *c);
/** mgr__session_closed() - @c's channel closed: drop its session. */
void mgr__session_closed(struct mgr_conn *c, int reason);
/** mgr__end_sessions() - end node @node_id's sessions with @why. */
void mgr__end_sessions(struct mgr *m, const char *node_id, const char *why);
/** mgr__check_down() - mark nodes without a live session down. */
void mgr__check_down(struct mgr *m);

/* --- the orchestrator's shell (orch_component.c) ------------------------ */

/** mgr__orch_init() - register the built-in orchestrator component. */
int mgr__orch_init(struct mgr *m);
/** mgr__orch_free() - at the manager's end. */
void mgr__orch_free(struct mgr *m);
/** mgr__orch_tick() - the leader's timer: delayed decisions, retries. */
void mgr__orch_tick(struct mgr *m);
/** mgr__orch_reports() - task status reports from node @node_id (the
 * session's certified node). */
void mgr__orch_reports(struct mgr *m, const char *node_id,
		       const Swarm__TaskStatusReport *r);
/** mgr__attach_init() - register the network attachments' component
 * (attach.c); mgr__attach_free() at the manager's end. */
int mgr__attach_init(struct mgr *m);
void mgr__attach_free(struct mgr *m);
/** mgr__on_attach() - an AttachNetwork on @c: checked, written, answered
 * once allocated (attach.c). */
void mgr__on_attach(struct mgr_conn *c, const Swarm__AttachNetwork *r);
/** mgr__on_detach() - a DetachNetwork on @c: the node's own attachment
 * deleted (attach.c). */
void mgr__on_detach(struct mgr_conn *c, const Swarm__DetachNetwork *d);
/**
 * mgr__attach_check() - an AttachNetwork from a node, checked whole against
 * store @s before anything is written: the network it names (by id, name
 * or unique id prefix; *@net, borrowed from @s) exists and is attachable,
 * the container id is empty or 64 hex digits, at most
 * ALLOC_ATTACH_NAMES_MAX names that the nodes' resolver can answer.
 * 0, SHOAL_ENOTFOUND, -EPERM or -EINVAL with Docker's words in @err.
 * Pure (fuzzed by tests/fuzz/swarm: fuzz-swarm-attach).
 */
int mgr__attach_check(const struct store *s, const Swarm__AttachNetwork *r,
		      const struct store_object **net, char *err, size_t cap);
/** mgr__attach_tick() - answer the attachment requests past their time
 * (from the leader's timer). */
void mgr__attach_tick(struct mgr *m);
/** mgr__session_conn() - the connection of session @s (NULL for NULL). */
struct mgr_conn *mgr__session_conn(struct mgr_session *s);

/** mgr__on_task_status() - a TaskStatusReport on @c (dispatcher.c). */
void mgr__on_task_status(struct mgr_conn *c, const Swarm__TaskStatusReport *r);

/* --- components (component.c) ----------------------------------------- */

/** mgr__components_init() - register @cfg's components; 0 or a code. */
int mgr__components_init(struct mgr *m, const struct mgr_config *cfg);
/** mgr__components_open() - their loop handle, once the manager runs. */
void mgr__components_open(struct mgr *m);
/** mgr__components_lead() - leadership won: confirm the store is current
 * (a read index), then start them. */
void mgr__components_lead(struct mgr *m);
/** mgr__components_follow() - leadership lost (or Raft failed): stop
 * them now. */
void mgr__components_follow(struct mgr *m);
/** mgr__components_tick() - the leader's timer: retry what failed. */
void mgr__components_tick(struct mgr *m);
/** mgr__components_changed() - after each applied change: the cluster
 * object may exist now. */
void mgr__components_changed(struct mgr *m);
/** mgr__components_close() - at stop: stop them, close the handle. */
void mgr__components_close(struct mgr *m);

/* --- writes (write.c) -------------------------------------------------- */

/** What an operation's build sees of one write, on the leader. */
struct mgr__write_ctx {
	struct mgr *m;
	const struct mgr_write_req *req; /* id is never NULL here */
	json_t *body;			 /* parsed, for ops with want_body */
	struct store_batch *b;		 /* the change goes here */
	/* For a build that answers the write itself (MGR__WRITE_TAKEN). */
	mgr_done_fn *done;
	void *arg;
};

/* A build's "I answer this write myself, later, through done". */
#define MGR__WRITE_TAKEN 1

/*
 * struct mgr__write_op - one kind of write. A new write is one of these
 * in write.c's table and its build function.
 *
 * @check: the body alone (shape, ranges), on the manager the client
 * asked, before any forwarding, and again on the leader; optional.
 * @build: on the leader, against the store: 0 with the change added to
 * the batch (the write path proposes it and answers when it commits),
 * MGR__WRITE_TAKEN, or a code with @err.
 * @committed: on the leader once the change was applied or refused, before
 * the client hears; optional.
 */
struct mgr__write_op {
	const char *name;
	bool want_body; /* the body is a JSON object */
	int (*check)(const json_t *body, const struct mgr_write_req *req,
		     char *err, size_t errlen);
	int (*build)(struct mgr__write_ctx *w, char *err, size_t errlen);
	void (*committed)(struct mgr *m, const char *id, int rc);
};

/** The operations of ops_node.c and ops_swarm.c, for write.c's table. */
extern const struct mgr__write_op mgr__op_node_update;
extern const struct mgr__write_op mgr__op_node_remove;
extern const struct mgr__write_op mgr__op_token_rotate;
extern const struct mgr__write_op mgr__op_swarm_update;
/** The service writes (ops_service.c). */
extern const struct mgr__write_op mgr__op_service_create;
extern const struct mgr__write_op mgr__op_service_update;
extern const struct mgr__write_op mgr__op_service_remove;
/** The overlay network writes (ops_network.c). */
extern const struct mgr__write_op mgr__op_network_create;
extern const struct mgr__write_op mgr__op_network_remove;
/**
 * mgr__service_nets_resolve() - on the leader, each Target of @spec's
 * TaskTemplate.Networks replaced by the id of the overlay it names (id,
 * name or unique id prefix). SHOAL_ENOTFOUND ("network X not found"),
 * -EINVAL for a predefined or local network (Docker's words), -ENOMEM.
 */
int mgr__service_nets_resolve(const struct store *s, json_t *spec, char *err,
			      size_t errlen);
/**
 * mgr__service_ports_check() - on the leader, the published ports of
 * @spec (service @self) against every other service's (spec and
 * allocated) and those of service writes built and not applied yet: an
 * ingress port's number is the swarm's. Passing claims @spec's ports
 * until mgr__service_ports_done(). 0, -EINVAL with Docker's words,
 * -EBUSY (too many in flight), -ENOMEM.
 */
int mgr__service_ports_check(struct mgr *m, const char *self,
			     const json_t *spec, char *err, size_t errlen);
/** mgr__service_ports_done() - the write of service @id was applied or
 * refused: its claims go (and any older than a minute). */
void mgr__service_ports_done(struct mgr *m, const char *id);
/** The secret and config writes (ops_secret.c). */
extern const struct mgr__write_op mgr__op_secret_create;
extern const struct mgr__write_op mgr__op_secret_update;
extern const struct mgr__write_op mgr__op_secret_remove;
extern const struct mgr__write_op mgr__op_secret_rotate;
extern const struct mgr__write_op mgr__op_config_create;
extern const struct mgr__write_op mgr__op_config_update;
extern const struct mgr__write_op mgr__op_config_remove;
extern const struct mgr__write_op mgr__op_config_rotate;

/** mgr__on_control() - a write or read index forwarded by a follower. */
void mgr__on_control(struct mgr_conn *c, const Swarm__ControlRequest *req);

/* The leader demoting itself (ops_node.c). */
/**
 * mgr__handoff_resume() - after losing leadership, send a pending
 * self-demotion to the new leader; mgr__handoff_check() - give up on it
 * past its deadline. Both do nothing without one.
 */
void mgr__handoff_resume(struct mgr *m);
void mgr__handoff_check(struct mgr *m);

/* --- revocation (revoke.c) ------------------------------------------- */

/** mgr__revoked_refresh() - re-read the revocation list after a change. */
void mgr__revoked_refresh(struct mgr *m);
/**
 * mgr__cert_rights() - what the certificate @info may still do: 0 with
 * *@role its effective role (a demoted node's manager certificate counts
 * as a worker's, *@why saying so), or SHOAL_ECERT with *@why when the
 * node was removed. @why gets static text.
 */
int mgr__cert_rights(const struct mgr *m, const struct wire_cert_info *info,
		     enum wire_role *role, const char **why);
/** mgr__may_manage() - whether @info holds manager rights now (Raft,
 * forwarded writes); *@why says why not. */
bool mgr__may_manage(const struct mgr *m, const struct wire_cert_info *info,
		     const char **why);
/** mgr__manager_cert_check() - mgr__may_manage() as a channel's
 * certificate check (@arg is the manager). */
int mgr__manager_cert_check(void *arg, const struct wire_cert_info *info);
/** mgr__raft_identify() - the Raft transport's identify callback. */
uint64_t mgr__raft_identify(void *arg, const struct wire_peer *peer,
			    const char **why);
/**
 * mgr__revoke() - add to @b the cluster-object change that revokes node
 * @node_id's manager certificates issued so far, and with @all every
 * certificate of it. Returns 0, -ENOSPC (list full, @err says so),
 * SHOAL_ENOTFOUND, -ENOMEM.
 */
int mgr__revoke(struct mgr *m, struct store_batch *b, const char *node_id,
		bool all, char *err, size_t errlen);
#endif
