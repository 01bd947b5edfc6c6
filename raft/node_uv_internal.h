/*
 * Internal to raft/node_uv*.c: the node's state and the helpers its files
 * share. node_uv.c runs the core and persistence; node_uv_snapshot.c
 * takes, saves, receives and restores snapshots. Not a public interface.
 */
#ifndef SHOAL_RAFT_NODE_UV_INTERNAL_H
#define SHOAL_RAFT_NODE_UV_INTERNAL_H

#include "common/list.h"
#include "raft/node_uv.h"

struct waiter {
	struct list_node link;
	uint64_t index; /* proposal: its index; read: the read index */
	uint64_t term;
	uint64_t token; /* reads */
	bool granted;	/* reads: index known */
	raft_node_cb *cb;
	void *arg;
};

struct persist {
	struct raft_node *n;
	uint64_t index; /* raft_persisted() with these, if index */
	uint64_t term;
	struct raft_msg *msgs; /* deep copies */
	size_t n_msgs;
};

struct raft_node {
	uv_loop_t *loop;
	uint64_t id;
	struct raft *r;
	struct raft_disk *disk;
	struct raft_transport *tr;
	struct raft_node_callbacks cb;
	void *cb_arg;
	uv_timer_t timer;
	int err;
	bool stopping;
	int pending_jobs; /* snapshot saves and disk callbacks in flight */
	void (*stop_cb)(void *arg);
	void *stop_arg;
	struct list_node proposals; /* by index */
	struct list_node reads;	    /* by token, then by index */
	uint64_t next_token;
	uint64_t applied;
	uint64_t snap_durable;	  /* newest snapshot index on disk */
	uint64_t compact_pending; /* compaction waiting for it */
	bool snap_saving;
	struct raft_disk_snap_writer *snap_w; /* [writer thread] */
	uint64_t snap_w_off;		      /* [writer thread] */
};

/* node_uv.c */
uint64_t node__now_ms(void);
/* Stop the node for @err (once), logging what failed. */
void node__fatal(struct raft_node *n, int err, const char *what);
/* Hand the core's pending updates to the disk, the network and the app. */
void node__process(struct raft_node *n);
/* Finish stopping once nothing is in flight. */
void node__maybe_stopped(struct raft_node *n);
void node__finish_waiters(struct list_node *head, int status);

/* node_uv_snapshot.c */
/* struct raft_snapshot_reader's read: chunks of our latest snapshot. */
int node__snap_read(void *arg, uint64_t index, uint64_t offset, void *buf,
		    size_t len, size_t *n, uint64_t *size);
/* Queue the update's received snapshot chunks on the disk writer. */
int node__persist_chunks(struct raft_node *n, const struct raft_update *u);
/* Compact the disk log up to @upto, once a durable snapshot covers it. */
void node__compact(struct raft_node *n, uint64_t upto);
/* Serialize the state machine, tell the core, save on a work thread. */
void node__take_snapshot(struct raft_node *n);
/* At start: load the newest snapshot into the app and @rs. */
int node__restore_snapshot(struct raft_node *n, struct raft_restore *rs);

#endif
