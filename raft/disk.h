/*
 * The raft disk log: durable storage for a Raft node's entries, its term
 * and vote (hard state) and its snapshots, in one directory.
 *
 * Entries live in segment files; every record carries a CRC32C and every
 * fsync batch ends with a commit mark. Writes are queued from the libuv
 * loop to a dedicated writer thread that coalesces whatever is queued into
 * one write and one fdatasync (group commit), then reports completion back
 * to the loop through a uv_async_t: the loop never blocks on the disk.
 *
 * At open the segments are scanned and checked. A damaged or unmarked tail
 * after the last commit mark was never acknowledged: it is cut off and the
 * reason logged. Damage before the last commit mark is corruption of the
 * acknowledged log: open fails with SHOAL_ECORRUPT and logs the file and
 * offset; nothing is changed on disk.
 *
 * After any write error (ENOSPC, EIO) the log rolls the file back to its
 * last commit mark and refuses every later write with the same code: the
 * node must stop and reopen. Only recent entries stay in memory (a window
 * bounded in bytes); older ones are read back with pread.
 *
 * Threads: every function here is called on the loop thread, except the
 * snapshot writer (raft_disk_snapshot_begin...commit), which blocks and is
 * meant for a work thread. Formats and decisions: docs/raft-disk.md.
 */
#ifndef SHOAL_RAFT_DISK_H
#define SHOAL_RAFT_DISK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <sys/uio.h>

#include <uv.h>

struct raft_disk;

/** An entry; in requests @data is borrowed, from reads it is owned. */
struct raft_disk_entry {
	uint64_t index;
	uint64_t term;
	uint32_t type;
	uint32_t len;
	void *data;
};

struct raft_disk_hard_state {
	uint64_t term;
	uint64_t vote; /* 0: none */
	/* A hint: written only along with a change of term or vote, so it
	 * may lag after a reopen (Raft's commit index is volatile). */
	uint64_t commit;
};

struct raft_disk_snapshot_meta {
	uint64_t index; /* last index the snapshot covers */
	uint64_t term;	/* its term */
	uint64_t size;	/* bytes of state machine data */
	uint32_t conf_len;
	uint8_t *conf; /* encoded configuration, owned by whoever filled it */
};

/*
 * Test hook standing in for pwritev(2) on segment files: returns bytes
 * written or -1 with errno set, like the real call.
 */
typedef ssize_t raft_disk_pwritev_fn(int fd, const struct iovec *iov,
				     int iovcnt, off_t off, void *arg);

struct raft_disk_options {
	const char *dir;	 /* created if missing */
	uint64_t segment_bytes;	 /* roll over past this; 0: 64 MiB */
	size_t cache_bytes;	 /* entries kept in memory; 0: 16 MiB */
	size_t queue_bytes;	 /* bytes queued to the writer; 0: 64 MiB */
	unsigned snapshots_kept; /* 0: 2 */
	raft_disk_pwritev_fn *pwritev_hook;
	void *hook_arg;
	/* Encryption at rest (docs/autolock.md): a 32-byte data-encryption
	 * key, copied at open; entry payloads and snapshot data are written
	 * encrypted with it. NULL: written in the clear. Either way entries
	 * already written in the clear still read. */
	const uint8_t *key;
};

/**
 * raft_disk_open() - open (or create) the log in @o->dir on @loop.
 *
 * Blocks while it scans the directory: call it before the loop runs or
 * from a work thread. Fills @out with a handle to release with
 * raft_disk_close(). Returns 0, SHOAL_ECORRUPT (acknowledged data damaged;
 * the file and offset are logged), -EBUSY (another process holds the
 * directory), -EINVAL, -ENOMEM or another -errno. Payloads are decrypted
 * only when read: a wrong @o->key shows as SHOAL_ECORRUPT on the first
 * read of an encrypted entry or snapshot, -ENOKEY when no key is set.
 */
int raft_disk_open(uv_loop_t *loop, const struct raft_disk_options *o,
		   struct raft_disk **out);

/** What the log holds, counting writes queued but not yet durable. */
struct raft_disk_state {
	struct raft_disk_hard_state hs;
	uint64_t first_index; /* first entry on disk (or next, if empty) */
	uint64_t last_index;  /* first_index - 1 if empty */
	uint64_t last_term;
	uint64_t durable_index; /* entries up to here are on disk */
	bool has_snapshot;
	struct raft_disk_snapshot_meta snapshot; /* conf NULL: see _latest */
	int error; /* the sticky write error, or 0 */
};

void raft_disk_state(const struct raft_disk *d, struct raft_disk_state *out);

typedef void raft_disk_cb(void *arg, int status);

/**
 * struct raft_disk_write - what the core asks to persist, applied in this
 * order: hard state, then truncation of the suffix from @truncate_from (0:
 * none; at most last_index + 1, at least first_index), then @entries,
 * which must follow the log's last entry once truncated. To restart the log
 * elsewhere (after installing a snapshot) use raft_disk_reset().
 */
struct raft_disk_write {
	const struct raft_disk_hard_state *hs; /* NULL: unchanged */
	uint64_t truncate_from;
	const struct raft_disk_entry *entries;
	size_t n;
};

/**
 * raft_disk_write() - queue @w; @cb runs on the loop once it is all
 * durable (status 0) or has failed. The entries' data is copied before
 * return. Returns 0 (@cb will run exactly once), -EINVAL (entries out of
 * sequence, truncation outside the log), -EBUSY (the bounded queue is
 * full; retry after a completion), or the sticky write error (@cb will not
 * run).
 */
int raft_disk_write(struct raft_disk *d, const struct raft_disk_write *w,
		    raft_disk_cb *cb, void *arg);

/**
 * raft_disk_compact() - drop whole segments whose entries are all at or
 * before @upto (a snapshot covers them). The segment being written is
 * kept. Ordered with writes; same return codes.
 */
int raft_disk_compact(struct raft_disk *d, uint64_t upto, raft_disk_cb *cb,
		      void *arg);

/**
 * raft_disk_reset() - drop every entry; the next one written is
 * @next_index, following an entry of @last_term (after installing a
 * snapshot that ends at @next_index - 1 with that term). Save the snapshot
 * first: the log may only start right after a durable snapshot.
 */
int raft_disk_reset(struct raft_disk *d, uint64_t next_index,
		    uint64_t last_term, raft_disk_cb *cb, void *arg);

/**
 * raft_disk_run() - run @fn(@fn_arg) on the writer thread, in order with
 * the writes queued before and after it (e.g. writing a snapshot chunk);
 * @cb gets its return value. A failure of @fn is not sticky. Same return
 * codes as raft_disk_compact().
 */
int raft_disk_run(struct raft_disk *d, int (*fn)(void *fn_arg), void *fn_arg,
		  raft_disk_cb *cb, void *arg);

/**
 * raft_disk_read() - entry @index into @out; @out->data is owned (free with
 * shoal_free; NULL when len is 0). Served from memory for recent entries,
 * else with pread (may block briefly on a cold page cache). Returns 0,
 * -ENOENT (outside the log), SHOAL_ECORRUPT (the record fails its CRC),
 * -ENOMEM or -errno.
 */
int raft_disk_read(struct raft_disk *d, uint64_t index,
		   struct raft_disk_entry *out);

/** raft_disk_term() - the term of entry @index; -ENOENT, -errno. */
int raft_disk_term(struct raft_disk *d, uint64_t index, uint64_t *term);

struct raft_disk_stats {
	uint64_t writes;     /* requests completed */
	uint64_t fsyncs;     /* fdatasync calls on segments */
	uint64_t bytes;	     /* bytes written to segments */
	uint64_t cache_hits; /* reads served from memory */
	uint64_t disk_reads; /* reads served with pread */
	size_t cache_bytes;  /* payload bytes held in memory */
};

void raft_disk_stats(const struct raft_disk *d, struct raft_disk_stats *out);

/**
 * raft_disk_close() - finish every queued request (their callbacks run
 * first), stop the writer thread, release the handle; @cb (may be NULL)
 * runs on the loop when all is released.
 */
void raft_disk_close(struct raft_disk *d, void (*cb)(void *arg), void *arg);

/* Snapshots: "snap-<index>-<term>" files, the last few kept. */

struct raft_disk_snap_writer;

/**
 * raft_disk_snapshot_begin() - start writing a snapshot described by @m
 * (its size field is ignored: the writer counts). Blocking; call from a
 * work thread. Chunks go in order with raft_disk_snapshot_chunk(); commit
 * fsyncs, renames into place, drops older snapshots beyond the kept count
 * and makes it the latest. abort removes the temporary file. Either one
 * frees @w. Return 0 or -errno.
 */
int raft_disk_snapshot_begin(struct raft_disk *d,
			     const struct raft_disk_snapshot_meta *m,
			     struct raft_disk_snap_writer **out);
int raft_disk_snapshot_chunk(struct raft_disk_snap_writer *w, const void *p,
			     size_t len);
int raft_disk_snapshot_commit(struct raft_disk_snap_writer *w);
void raft_disk_snapshot_abort(struct raft_disk_snap_writer *w);

/**
 * raft_disk_snapshot_save() - write a whole snapshot on a libuv work
 * thread; @data is borrowed until @cb runs on the loop with the status.
 * Returns 0 (@cb will run) or -errno.
 */
int raft_disk_snapshot_save(struct raft_disk *d,
			    const struct raft_disk_snapshot_meta *m,
			    const void *data, size_t len, raft_disk_cb *cb,
			    void *arg);

/**
 * raft_disk_snapshot_latest() - the newest snapshot's metadata; @out->conf
 * is owned (shoal_free). Returns 0 or -ENOENT when there is none.
 */
int raft_disk_snapshot_latest(struct raft_disk *d,
			      struct raft_disk_snapshot_meta *out);

/**
 * raft_disk_snapshot_read() - @len bytes of the latest snapshot's data at
 * @off into @buf, for sending in chunks. Blocking. Returns bytes read,
 * -ENOENT, or -errno. raft_disk_snapshot_load() reads it all (owned, free
 * with shoal_free) and checks its CRC: SHOAL_ECORRUPT on mismatch.
 */
ssize_t raft_disk_snapshot_read(struct raft_disk *d, uint64_t off, void *buf,
				size_t len);
int raft_disk_snapshot_load(struct raft_disk *d,
			    struct raft_disk_snapshot_meta *m, void **data,
			    size_t *len);

#endif
