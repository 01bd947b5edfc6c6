/*
 * libshoal-worker: the agent's side of the swarm. Two things for now:
 *
 * agent_join() runs the join handshake of DESIGN.md against one manager:
 * the token's digest authenticates the cluster's root key, the token's
 * secret is proven without being sent, and the manager answers with this
 * node's id and a certificate for our identity key. The result is checked
 * (the certificate must verify under the root key the token names, for
 * our key and the granted role) before the caller sees it; the caller
 * persists it. A manager that is not the leader answers with the leader's
 * address, and the join is tried there once.
 *
 * The agent (agent_start()) keeps one session with a manager using the
 * node's certificate: it reports the node's description, heartbeats every
 * period the manager announces, and when the connection fails or the
 * manager stops answering for SWARM_MISSED_HEARTBEATS periods it moves to
 * the next manager it knows of (the list comes with every answer), after
 * a short back-off. A manager that ends the session for good (the node was
 * removed) stops the agent and the ended() callback says why. When the
 * heartbeat answers name a role other than our certificate's (node
 * promote/demote), or say the certificate predates a forced rotation
 * (swarm ca --rotate), or once two thirds of the certificate's life have
 * passed, the agent asks for a certificate of that role for the same key,
 * checks it, and hands it over through renewed(). The leader's
 * dispatcher pushes the node's whole set of assignments in the session;
 * the agent hands the newest set of each session over through assigned()
 * (the task executor, worker/exec.h, runs them), says when a session
 * opens (session(): statuses are sent again), sends task statuses
 * (agent_report()) and serves the leader's requests for task logs
 * (logs(), agent_send_logs(); worker/logs.h).
 *
 * Everything runs on the daemon's loop; libuv conventions for callbacks
 * (a call that returns an error never calls back).
 */
#ifndef SHOAL_WORKER_WORKER_H
#define SHOAL_WORKER_WORKER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <uv.h>

#include "proto/cert.h"

#define AGENT_ADDR_MAX 128
/* How far the CA dates certificates back for clock skew (manager/ca.c). */
#define AGENT_CERT_SLACK_S 3600
#define AGENT_MAX_MANAGERS 16

/** The node's description, reported at join and session start. */
struct agent_desc {
	char hostname[256];
	char os[32];
	char arch[32];
	int64_t nano_cpus;
	int64_t memory_bytes;
	char engine_version[32];
	char addr[AGENT_ADDR_MAX]; /* where managers reach this node */
};

/* The swarm's Raft settings for a manager's first start (0: default). */
struct agent_raft {
	uint32_t election_tick;
	uint32_t heartbeat_tick;
	uint64_t snapshot_interval;
	uint64_t keep_old_snapshots;
	uint64_t log_entries_for_slow_followers;
};

struct agent_join_result {
	int rc; /* 0 or the cause; @error says it for a user */
	char error[256];
	char node_id[WIRE_ID_MAX + 1];
	char cluster_id[WIRE_ID_MAX + 1];
	enum wire_role role;
	uint8_t cert[1024];
	size_t cert_len;
	uint8_t root_pk[WIRE_PK_LEN];
	bool has_root_sk; /* a manager gets the CA's key */
	uint8_t root_sk[WIRE_SK_LEN];
	char managers[AGENT_MAX_MANAGERS][AGENT_ADDR_MAX];
	char manager_ids[AGENT_MAX_MANAGERS][WIRE_ID_MAX + 1]; /* or "" */
	size_t nmanagers;
	uint32_t heartbeat_ms;
	bool has_raft; /* a manager's, from a manager that sends them */
	struct agent_raft raft;
};

typedef void agent_join_cb(void *arg, const struct agent_join_result *r);

/**
 * agent_join() - join the swarm through the manager at @addr (ADDR:PORT)
 * with @token (text) for the identity @id (copied). @cb runs exactly once
 * with the result. Returns 0, or SHOAL_ETOKEN/-EINVAL (with @err) for a
 * token or address that does not parse, -ENOMEM; then no callback.
 */
int agent_join(uv_loop_t *loop, const char *token, const char *addr,
	       const struct wire_keypair *id, const struct agent_desc *desc,
	       agent_join_cb *cb, void *arg, char *err, size_t errlen);

struct agent;
struct img_store;

/* A new certificate after a role change (promote or demote). */
struct agent_renewal {
	enum wire_role role;
	uint8_t cert[1024];
	size_t cert_len;
	bool has_root_sk;
	uint8_t root_sk[WIRE_SK_LEN];
	char managers[AGENT_MAX_MANAGERS][AGENT_ADDR_MAX];
	char manager_ids[AGENT_MAX_MANAGERS][WIRE_ID_MAX + 1];
	size_t nmanagers;
	bool has_raft; /* a manager's, as in struct agent_join_result */
	struct agent_raft raft;
};

/* One assignment as the manager sent it. */
struct agent_item {
	const uint8_t *data;
	size_t len;
};

#define AGENT_MAX_ITEMS 4096

/* A manager's request for the logs of some of this node's tasks (service
 * logs); borrowed for the callback. */
struct agent_logs_req {
	uint64_t sub_id;
	const char *const *task_ids;
	size_t n;
	bool follow;
	int64_t tail; /* -1: all */
	int64_t since_ns;
	bool out, err; /* stdout, stderr */
	uint32_t credit;
};

/* One log line for agent_send_logs(); borrowed. */
struct agent_log_line {
	const char *task_id;
	int stream; /* 1 stdout, 2 stderr */
	int64_t time_ns;
	const void *data;
	size_t len;
};

struct agent_config {
	uv_loop_t *loop;
	const struct wire_keypair *identity; /* copied */
	const uint8_t *cert;		     /* copied */
	size_t cert_len;
	const uint8_t *root_pk; /* copied */
	const char (*managers)[AGENT_ADDR_MAX];
	size_t nmanagers;
	const struct agent_desc *desc; /* copied */
	/* This node's image store, borrowed for the agent's life: its images
	 * (ids, layers, tags) go to the managers in heartbeats when they
	 * change (issue 14). Optional. */
	struct img_store *images;
	/* The manager ended the session for good; the agent has stopped
	 * trying (agent_stop() is still needed to free it). Optional. */
	void (*ended)(void *arg, const char *why);
	/* The manager changed our role and issued a certificate for it
	 * (verified); @r is borrowed for the call. Optional. */
	void (*renewed)(void *arg, const struct agent_renewal *r);
	/* The managers' addresses changed (the managers' answers name them
	 * all), for the caller to keep across restarts. Optional. */
	void (*managers_changed)(void *arg, const char (*list)[AGENT_ADDR_MAX],
				 size_t n);
	/* The leader sent this node's whole set of assignments (@n items,
	 * borrowed for the call), replacing the set before; @generation
	 * grows within a session. Optional. */
	void (*assigned)(void *arg, uint64_t generation,
			 const struct agent_item *items, size_t n);
	/* A session opened (the first, or after a failover): statuses sent
	 * before may have been lost with the old one. Optional. */
	void (*session)(void *arg);
	/* The manager asks for task logs, or controls a subscription
	 * (cancel, credit for more batches). Optional. */
	void (*logs)(void *arg, const struct agent_logs_req *rq);
	void (*logs_control)(void *arg, uint64_t sub_id, bool cancel,
			     uint32_t credit);
	void *arg;
};

/** agent_start() - start the session loop. 0, -EINVAL, -ENOMEM. */
int agent_start(const struct agent_config *cfg, struct agent **out);

/** agent_stop() - close the session; @done(@arg) once freed (may be NULL). */
void agent_stop(struct agent *a, void (*done)(void *arg), void *arg);

/**
 * agent_report() - send @n task statuses (@ids[i], Docker's TaskStatus as
 * JSON @statuses[i], borrowed) in one TaskStatusReport. 0, -ENOTCONN
 * outside a session (the caller resends at the next session()), -ENOMEM.
 */
int agent_report(struct agent *a, const char *const *ids,
		 const char *const *statuses, size_t n);

/**
 * agent_send_logs() - one batch of subscription @sub_id's lines (@n,
 * borrowed), @done when it is the last, with @error when it ended early.
 * 0, -ENOTCONN outside a session, -ENOMEM.
 */
int agent_send_logs(struct agent *a, uint64_t sub_id,
		    const struct agent_log_line *lines, size_t n, bool done,
		    const char *error);

/*
 * Network attachments (docs/overlay.md, "Attachable overlays"): a
 * container of this node on an attachable overlay. agent_attach() asks
 * the leader over the session; @cb(@arg, ...) runs exactly once unless
 * agent_attach_cancel() came first: @code 0 with the attachment's task id,
 * its network's id and Docker's NetworkAttachment JSON (Network,
 * Addresses, Aliases), borrowed for the call; or a negative code
 * (SHOAL_ENOTFOUND: no such network; -EPERM: not attachable; -ENOTCONN:
 * no session, or it ended; -ETIMEDOUT: no answer within
 * AGENT_ATTACH_WAIT_MS) with Docker's words in @error.
 */
typedef void agent_attach_cb(void *arg, int code, const char *error,
			     const char *task_id, const char *net_id,
			     const char *json);

struct agent_attach_req {
	const char *network;	  /* name, id or unique id prefix */
	const char *container_id; /* 64 hex digits */
	const char *const *names; /* the container's name, then aliases */
	size_t n;
};

#define AGENT_ATTACH_MAX 64
#define AGENT_ATTACH_WAIT_MS 35000

/**
 * agent_attach() - ask for an attachment (above); *@id names the request
 * for agent_attach_cancel(). 0, -ENOTCONN outside a session, -EBUSY with
 * AGENT_ATTACH_MAX requests waiting, -ENOMEM (no callback then).
 */
int agent_attach(struct agent *a, const struct agent_attach_req *r,
		 agent_attach_cb *cb, void *arg, uint64_t *id);

/** agent_attach_cancel() - @id's callback will not run. */
void agent_attach_cancel(struct agent *a, uint64_t id);

/**
 * agent_detach() - the attachment @task_id (this node's) is no longer
 * used: the leader deletes it. 0, -ENOTCONN outside a session (the
 * caller tries again at the next session), -EINVAL.
 */
int agent_detach(struct agent *a, const char *task_id);

/** agent_in_session() - whether a manager answered our session. */
bool agent_in_session(const struct agent *a);

/** agent_heartbeats() - heartbeats answered so far (for tests). */
uint64_t agent_heartbeats(const struct agent *a);

/** agent_parse_addr() - "ADDR:PORT" (IPv4, or [IPv6]) into @ss. */
int agent_parse_addr(const char *s, struct sockaddr_storage *ss);

#endif
