/*
 * The libuv node: runs the pure Raft core (raft/raft.h) on a libuv loop
 * with the disk log (raft/disk.h) and a transport (raft/transport.h). This
 * is what the manager uses: it proposes commands, asks for linearizable
 * reads, and gets committed entries through callbacks.
 *
 * Per core update: entries and hard state go to the disk writer thread
 * while the update's messages are sent at once (the leader's write runs in
 * parallel with replication); messages that must wait for durability are
 * copied and sent from the write's completion, which also reports
 * raft_persisted(). Committed entries are applied through the apply
 * callback in order; reads are answered once applied; snapshots are taken
 * through the snapshot callback when the core asks, saved on a work thread,
 * and the log compacted only once the snapshot is durable. A snapshot
 * received from the leader is written chunk by chunk on the disk writer
 * thread and loaded through the restore callback.
 *
 * A disk write error is fatal for the node: it stops feeding the core,
 * logs the cause once and reports it through the error callback; restart
 * the node (reopening the log) to recover. Everything runs on the loop
 * thread.
 */
#ifndef SHOAL_RAFT_NODE_UV_H
#define SHOAL_RAFT_NODE_UV_H

#include <stddef.h>
#include <stdint.h>

#include <uv.h>

#include "raft/disk.h"
#include "raft/raft.h"
#include "raft/transport.h"

struct raft_node;

struct raft_node_callbacks {
	/* A committed entry, in log order (all types; most users look at
	 * RAFT_ENTRY_NORMAL only). @e is borrowed for the call. */
	void (*apply)(void *arg, const struct raft_entry *e);
	/* Role, leader or term changed. Optional. */
	void (*role)(void *arg, enum raft_role role, uint64_t leader,
		     uint64_t term);
	/* Serialize the state machine as of everything applied so far into
	 * an owned buffer (shoal_malloc). Optional: no snapshots if NULL. */
	int (*snapshot_take)(void *arg, void **data, size_t *len);
	/* Replace the state machine with a snapshot's bytes (borrowed). */
	int (*snapshot_restore)(void *arg, const void *data, size_t len);
	/* The node stopped working because of @err (a disk error). */
	void (*error)(void *arg, int err);
};

struct raft_node_options {
	uint64_t id;
	const char *dir; /* the disk log's directory */
	/* Founding members (identical on each), or NULL to wait to be
	 * added. Only used when the log is empty. */
	const struct raft_conf *bootstrap;
	/* Core tuning (raft_options_init() defaults when NULL); id, seed and
	 * readers are filled in by the node. */
	const struct raft_options *raft;
	struct raft_transport *transport; /* borrowed; outlives the node */
	struct raft_node_callbacks cb;
	void *cb_arg;
	/* Disk log tuning; dir is taken from above. Optional. */
	const struct raft_disk_options *disk;
};

/**
 * raft_node_start() - open the log in @o->dir, load the latest snapshot
 * through snapshot_restore, and start the core as a follower. Blocks while
 * opening the log. Returns 0 with *@out (release with raft_node_stop()),
 * SHOAL_ECORRUPT, -EINVAL, -ENOMEM or another code from the disk or core.
 */
int raft_node_start(uv_loop_t *loop, const struct raft_node_options *o,
		    struct raft_node **out);

/**
 * raft_node_propose() - propose @len bytes (copied). @cb runs once with 0
 * when the entry is committed and applied here, or SHOAL_ENOTLEADER when it
 * was lost to another leader (or superseded by a snapshot), -ECANCELED at
 * stop. Returns 0 (@cb will run), SHOAL_ENOTLEADER, -EBUSY (queue full),
 * -EMSGSIZE, -ENOMEM, or the node's fatal error.
 */
typedef void raft_node_cb(void *arg, int status);
int raft_node_propose(struct raft_node *n, const void *data, size_t len,
		      raft_node_cb *cb, void *arg);

/**
 * raft_node_read() - a linearizable read: @cb runs with 0 once the state
 * machine has applied everything committed when the read was asked, so
 * the caller can read it locally; or with SHOAL_ENOTLEADER. Same returns.
 */
int raft_node_read(struct raft_node *n, raft_node_cb *cb, void *arg);

/** raft_node_transfer() - hand leadership to @to (0: the best voter). */
int raft_node_transfer(struct raft_node *n, uint64_t to);

/** raft_node_add_learner(), _promote(), _remove(): membership (raft.h). */
int raft_node_add_learner(struct raft_node *n, uint64_t id);
int raft_node_promote(struct raft_node *n, uint64_t id);
int raft_node_remove(struct raft_node *n, uint64_t id);

void raft_node_status(const struct raft_node *n, struct raft_status *out);

/**
 * raft_node_stop() - stop: pending proposals and reads get -ECANCELED,
 * queued disk writes finish, everything is released; @cb (may be NULL) runs
 * on the loop when done. The transport is not closed.
 */
void raft_node_stop(struct raft_node *n, void (*cb)(void *arg), void *arg);

#endif
