/*
 * Internal state of the raft disk log, shared by disk.c (open, reads,
 * close), disk_writer.c (the writer thread) and disk_meta.c (hard state
 * and snapshots). Not part of any public interface.
 *
 * Ownership by thread: fields marked [loop] are touched only on the loop
 * thread; [writer] only on the writer thread once it runs; [mu] under
 * d->mu (the request queue); [seg] under d->seg_mu (the segment table,
 * which the writer changes and the loop reads for pread).
 */
#ifndef SHOAL_RAFT_DISK_INTERNAL_H
#define SHOAL_RAFT_DISK_INTERNAL_H

#include <pthread.h>

#include "common/list.h"
#include "raft/disk.h"
#include "raft/disk_format.h"
#include "raft/disk_seal.h"

/* One sparse index slot per this many entries of a segment. */
#define DISK_SPARSE 16

struct disk_seg {
	uint64_t first;	    /* first index (the file name) */
	uint64_t last;	    /* last durable entry; first - 1 if none */
	uint64_t last_term; /* its term; 0 if none */
	uint64_t size;	    /* durable bytes: the end of the last mark */
	int fd;
	uint64_t *sparse; /* offset of entry first + k * DISK_SPARSE */
	size_t nsparse;
	size_t cap_sparse;
};

enum disk_req_kind {
	DISK_REQ_WRITE,
	DISK_REQ_COMPACT,
	DISK_REQ_RESET,
	DISK_REQ_CALL,
};

struct disk_req {
	struct list_node link;
	enum disk_req_kind kind;
	bool has_hs;
	struct raft_disk_hard_state hs;
	uint64_t truncate_from; /* write: 0 none; reset: the next index */
	uint64_t upto;		/* compact */
	int (*fn)(void *arg);	/* call */
	void *fn_arg;
	uint64_t first, last, last_term; /* the entries carried */
	uint8_t *buf;			 /* encoded records */
	size_t len;
	uint64_t *offs;		/* offset of each entry in buf */
	uint64_t seq;		/* [loop] order of submission */
	uint64_t end;		/* [loop] last index of the log after it */
	uint64_t new_first;	/* set by the writer: first index afterwards */
	uint64_t new_base_term; /* and the term of the entry before it */
	int status;
	raft_disk_cb *cb;
	void *arg;
};

struct disk_cache_ent {
	uint64_t seq; /* the request that wrote it */
	uint64_t index;
	uint64_t term;
	uint32_t type;
	uint32_t len;
	void *data;
};

struct raft_disk {
	uv_loop_t *loop;
	struct raft_disk_options opt; /* opt.key is NULL: see below */
	bool sealed;		      /* payloads are written encrypted */
	uint8_t key[DISK_KEY_LEN];    /* the DEK, wiped at free */
	char *dir;
	int dirfd;
	int lockfd;

	/* [loop] the log as the core sees it, queued writes included */
	struct raft_disk_hard_state hs;
	uint64_t first_index;
	uint64_t last_index;
	uint64_t last_term;
	uint64_t base_term; /* term of entry first_index - 1, if known */
	uint64_t durable_index;
	uint64_t next_seq;  /* of the next request */
	uint64_t done_seq;  /* every request up to here has completed */
	uint64_t trunc_seq; /* the last request that shortened the log */
	int error;
	bool closing;
	void (*close_cb)(void *arg);
	void *close_arg;
	struct raft_disk_stats stats;

	/* [loop] recent entries: a ring of ncache from head, cap slots */
	struct disk_cache_ent *cache;
	size_t cache_head;
	size_t ncache;
	size_t cap_cache;
	size_t cache_payload;

	/* [mu] the queue to the writer and the completions back */
	pthread_mutex_t mu;
	pthread_cond_t cv;
	struct list_node queue;
	struct list_node done;
	size_t queued_bytes;
	bool stop;
	bool exited;
	uint64_t fsyncs; /* written by the writer, read by stats */
	uint64_t bytes;

	/* [seg] segments, oldest first; the writer appends to the last */
	pthread_mutex_t seg_mu;
	struct disk_seg *segs;
	size_t nsegs;
	size_t cap_segs;
	bool has_snap;
	struct raft_disk_snapshot_meta snap; /* conf owned */

	/* [writer] */
	int hs_fd;
	uint64_t hs_seq;
	struct raft_disk_hard_state hs_disk; /* what the file holds */
	int werror;

	pthread_t thread;
	bool thread_started;
	uv_async_t async;
};

/* disk.c */
int disk__seg_path(const struct raft_disk *d, uint64_t first, char *out,
		   size_t cap);
int disk__seg_sparse_add(struct disk_seg *s, uint64_t index, uint64_t off);
void disk__seg_free(struct disk_seg *s);
int disk__fsync_dir(struct raft_disk *d);

/* disk_open.c: scan every segment into d->segs (see its essay). */
int disk__load_segments(struct raft_disk *d);

/* disk_writer.c */
int disk__writer_start(struct raft_disk *d);
void disk__writer_stop(struct raft_disk *d);
/* Room in the bounded queue for @len more bytes? 0 or -EBUSY. */
int disk__admit(struct raft_disk *d, size_t len);
/* Hand @r to the writer (after disk__admit); cannot fail. */
void disk__submit(struct raft_disk *d, struct disk_req *r);
int disk__seg_create(struct raft_disk *d, uint64_t first, struct disk_seg *s);
int disk__entry_offset(struct raft_disk *d, const struct disk_seg *s,
		       uint64_t index, uint64_t *off, struct disk_rec *rec);

/* disk_meta.c */
int disk__hs_open(struct raft_disk *d);
int disk__hs_write(struct raft_disk *d, const struct raft_disk_hard_state *hs);
int disk__snap_scan(struct raft_disk *d);
void disk__snap_meta_free(struct raft_disk_snapshot_meta *m);

#endif
