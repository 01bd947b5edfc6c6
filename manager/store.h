/*
 * The manager's replicated store: every object of the cluster (nodes, the
 * cluster object, and next services, tasks, networks, secrets, configs) in
 * tables keyed by id. Every manager holds one store and feeds it the same
 * Raft log; the store is a pure function of that log.
 *
 * Objects. Each object has an id, an optional name, a version (the Raft
 * index of the batch that last changed it, which clients send back as
 * Docker's ?version= for optimistic concurrency), created/updated times, a
 * spec (what the user asked for) and a status (what the managers observed).
 * Spec and status are opaque bytes to the store (JSON or protobuf written by
 * the modules that own each table): the store guarantees ordering,
 * atomicity, versions and name uniqueness, not their meaning. Names are
 * unique within the tables of services, networks, secrets, configs and
 * clusters (as Docker's are); names cannot change after creation. An object
 * is immutable once stored: a change stores a new object, so a reader or a
 * watcher holding a reference keeps a consistent version.
 *
 * Changes. A change is a batch of operations (create, update with the
 * expected version, delete with the expected version) built with
 * store_batch_*, encoded as a store.Batch protobuf (proto/store.proto),
 * proposed through Raft, and applied on every manager by store_apply() with
 * the entry's index. Apply is deterministic: no clock (the batch carries its
 * timestamp), no randomness, no dependence on hash order, so every manager
 * that applies the same entries holds a byte-identical store. A batch is
 * atomic: if any operation is refused (stale version, missing object, id or
 * name taken, malformed bytes) nothing changes. A refused batch still
 * consumes its index, like an applied one, since every manager refuses it
 * alike.
 *
 * Snapshots. store_snapshot() serialises the whole store canonically as a
 * store.Snapshot (tables in order, objects sorted by id) and
 * store_restore() rebuilds it exactly, so snapshot(restore(x)) == x for
 * any x that restores.
 *
 * Watchers. A watcher gets an event for each object change after the batch
 * that made it is applied, in apply order, through a bounded queue. If a
 * batch's events do not fit, the watcher's queue is dropped and its next
 * read returns -ENOBUFS once: the reader must re-read the store, then
 * continues with later events. Restoring a snapshot gives every watcher a
 * RESET event (re-read everything).
 *
 * Not thread-safe: one loop owns a store. Nothing here logs; errors come
 * back as codes and a message in struct store_result.
 */
#ifndef SHOAL_MANAGER_STORE_H
#define SHOAL_MANAGER_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/buf.h"

enum store_table {
	STORE_NODES,
	STORE_CLUSTERS,
	STORE_SERVICES,
	STORE_TASKS,
	STORE_NETWORKS,
	STORE_SECRETS,
	STORE_CONFIGS,
	STORE_TABLE_COUNT,
};

#define STORE_TABLE_BIT(t) (1u << (t))
#define STORE_ALL_TABLES ((1u << STORE_TABLE_COUNT) - 1)

/* Limits, checked on every batch and snapshot. */
#define STORE_ID_MAX 64		    /* bytes of [A-Za-z0-9_.-] */
#define STORE_NAME_MAX 128	    /* bytes of printable ASCII, no space */
#define STORE_BLOB_MAX (1u << 20)   /* spec or status bytes */
#define STORE_BATCH_OPS_MAX 4096    /* operations in one batch */
#define STORE_BATCH_MAX (16u << 20) /* encoded batch bytes */

/**
 * struct store_object - one immutable version of an object. Every field is
 * read-only; @refs is the store's. @id and @name are NUL-terminated (@name is
 * "" when the object has none). Times are nanoseconds since the epoch, taken
 * from the batches that created and last changed the object.
 */
struct store_object {
	const char *id;
	const char *name;
	uint64_t version;
	int64_t created_ns;
	int64_t updated_ns;
	const uint8_t *spec;
	size_t spec_len;
	const uint8_t *status;
	size_t status_len;
	enum store_table table;
	uint32_t refs;
};

/** store_object_ref() - keep @o past the next change; returns @o. */
const struct store_object *store_object_ref(const struct store_object *o);
/** store_object_unref() - drop a reference taken by store_object_ref(). */
void store_object_unref(const struct store_object *o);

/** store_table_name() - "nodes", "clusters", ...; "?" if out of range. */
const char *store_table_name(enum store_table t);
/** store_table_unique_names() - whether names are unique in @t. */
bool store_table_unique_names(enum store_table t);

/* ------------------------------------------------------------- batches */

enum store_op_kind {
	STORE_OP_CREATE = 1,
	STORE_OP_UPDATE = 2,
	STORE_OP_DELETE = 3,
};

/**
 * struct store_op - one operation. In a decoded batch the pointers borrow
 * the decoded message (strings are not NUL-terminated; use the lengths);
 * has_* tell which optional fields the op carries.
 */
struct store_op {
	enum store_op_kind kind;
	enum store_table table;
	uint64_t version;
	const char *id;
	size_t id_len;
	const char *name;
	size_t name_len;
	const uint8_t *spec;
	size_t spec_len;
	const uint8_t *status;
	size_t status_len;
	bool has_spec;
	bool has_status;
};

/**
 * struct store_batch - a batch being built for proposal: the operations
 * (with copies of their bytes) until store_batch_finish() encodes them.
 */
struct store_batch {
	int64_t time_ns;
	struct store_op *ops;
	uint32_t nops;
	uint32_t cap;
	size_t bytes; /* data held, to refuse batches past STORE_BATCH_MAX */
	int err; /* first error of an add; store_batch_finish() returns it */
};

/** store_batch_init() - an empty batch stamped with @time_ns. */
void store_batch_init(struct store_batch *b, int64_t time_ns);
/** store_batch_fini() - free the batch's operations. */
void store_batch_fini(struct store_batch *b);

/**
 * store_batch_create() - add "create @id in @t". @name may be NULL or "" (no
 * name). @spec is required (may be empty); @status may be NULL (empty).
 * The bytes are copied. Returns 0, -EINVAL (bad table, id, name, length,
 * or too many ops or bytes) or -ENOMEM; after an error the batch is
 * poisoned and store_batch_finish() returns that error.
 */
int store_batch_create(struct store_batch *b, enum store_table t,
		       const char *id, const char *name, const void *spec,
		       size_t spec_len, const void *status, size_t status_len);

/**
 * store_batch_update() - add "replace @id's spec and/or status, if its
 * version is still @version". A NULL @spec or @status keeps the current
 * one; at least one must be given. Returns as store_batch_create().
 */
int store_batch_update(struct store_batch *b, enum store_table t,
		       const char *id, uint64_t version, const void *spec,
		       size_t spec_len, const void *status, size_t status_len);

/** store_batch_delete() - add "delete @id if its version is @version". */
int store_batch_delete(struct store_batch *b, enum store_table t,
		       const char *id, uint64_t version);

/**
 * store_batch_finish() - the encoded batch (a store.Batch protobuf, see
 * proto/store.proto), owned by the caller (free with shoal_free); the batch
 * is freed. Returns 0, the first error of an earlier add, -EINVAL for a
 * batch without operations, or -ENOMEM.
 */
int store_batch_finish(struct store_batch *b, uint8_t **out, size_t *len);

/**
 * struct store_decoded - a decoded batch: @nops operations in @ops, which
 * borrow @msg (the decoded protobuf). Release with store_decoded_fini().
 */
struct store_decoded {
	int64_t time_ns;
	uint32_t nops;
	struct store_op *ops;
	void *msg;
};

/**
 * store_batch_decode() - check @data as an encoded batch and decode it
 * into @out. Validation is strict (the canonical protobuf encoding only, no
 * unknown fields, every kind, table, id, name and limit checked, one object
 * at most once per batch), so anything that decodes re-encodes to the same
 * bytes. Returns 0, -EINVAL with a message in @err (may be NULL), or
 * -ENOMEM.
 */
int store_batch_decode(const void *data, size_t len, struct store_decoded *out,
		       char *err, size_t err_cap);

/** store_decoded_fini() - free what store_batch_decode() made. */
void store_decoded_fini(struct store_decoded *d);

/* --------------------------------------------------------------- store */

struct store;

/** store_new() - an empty store at index 0; 0 or -ENOMEM. */
int store_new(struct store **out);
/** store_free() - free @s, its objects and any watchers still attached. */
void store_free(struct store *s);

/**
 * struct store_result - what store_apply() did: @failed_op is the index of
 * the refused operation in the batch (-1 when the batch as a whole was
 * refused or applied), @msg a one-line reason ("" on success).
 */
struct store_result {
	int failed_op;
	char msg[192];
};

/**
 * store_apply() - apply the encoded batch @data as Raft entry @index.
 *
 * Returns 0 (applied: every changed object now has version @index), or a
 * refusal that changed no object but consumed @index: SHOAL_ESTALE (an
 * expected version is not the object's), SHOAL_ENOTFOUND (update or delete
 * of a missing object), SHOAL_ECONFLICT (id or unique name taken), -EINVAL
 * (malformed batch). Two codes leave the store untouched, index included:
 * -EALREADY (@index is not above the last applied index) and -ENOMEM, after
 * which the caller must retry or stop, never skip the entry. @res may be
 * NULL.
 */
int store_apply(struct store *s, const void *data, size_t len, uint64_t index,
		struct store_result *res);

/**
 * store_check() - what store_apply() of @data as the next entry would
 * return, without changing anything: 0, a refusal (SHOAL_ESTALE, ...,
 * -EINVAL) with its message in @res, or -ENOMEM. For the leader, to answer
 * a stale update at once instead of proposing it; apply still decides,
 * since other entries may come first.
 */
int store_check(const struct store *s, const void *data, size_t len,
		struct store_result *res);

/** store_applied_index() - the index of the last entry applied. */
uint64_t store_applied_index(const struct store *s);

/**
 * store_get() - the object @id of @t, or NULL. Borrowed: valid until the
 * next store_apply() or store_restore() unless referenced.
 */
const struct store_object *store_get(const struct store *s, enum store_table t,
				     const char *id);

/**
 * store_get_by_name() - the object named @name in @t (a table with unique
 * names), or NULL. Borrowed as store_get().
 */
const struct store_object *
store_get_by_name(const struct store *s, enum store_table t, const char *name);

/** store_count() - how many objects @t holds. */
size_t store_count(const struct store *s, enum store_table t);

/**
 * store_list() - the objects of @t sorted by id: *@out is owned (free with
 * shoal_free), its objects borrowed as store_get(). 0 or -ENOMEM.
 */
int store_list(const struct store *s, enum store_table t,
	       const struct store_object ***out, size_t *n);

/**
 * store_snapshot() - append the whole store, canonically encoded, to @out.
 * 0, -ENOMEM or -ENOBUFS (then @out holds a partial tail to discard).
 */
int store_snapshot(const struct store *s, struct buf *out);

/**
 * store_restore() - replace the whole store with the snapshot @data.
 * Validation is strict; on any error the store is unchanged. Watchers stay
 * attached and get a RESET event. Returns 0, -EINVAL (message in @res) or
 * -ENOMEM. @res may be NULL.
 */
int store_restore(struct store *s, const void *data, size_t len,
		  struct store_result *res);

/* ------------------------------------------------------------ watchers */

enum store_event_kind {
	STORE_EVENT_CREATE = 1,
	STORE_EVENT_UPDATE,
	STORE_EVENT_DELETE,
	STORE_EVENT_RESET,
};

/**
 * struct store_event - one change. @obj is the object after the change (for
 * DELETE: the last version), @old the version before an UPDATE (else NULL);
 * both NULL for RESET. @index is the Raft index of the change. The event
 * owns references: release with store_event_fini().
 */
struct store_event {
	enum store_event_kind kind;
	enum store_table table;
	uint64_t index;
	const struct store_object *obj;
	const struct store_object *old;
};

void store_event_fini(struct store_event *ev);

struct store_watcher;

/** Called after an apply or restore that queued events for @w. */
typedef void store_notify_fn(struct store_watcher *w, void *arg);

/**
 * store_watch() - watch the tables in @tables (STORE_TABLE_BIT mask) with
 * a queue of @max_events (1..65536). @notify may be NULL. The watcher
 * belongs to @s: free it with store_unwatch() or store_free(). Returns 0,
 * -EINVAL or -ENOMEM.
 */
int store_watch(struct store *s, uint32_t tables, size_t max_events,
		store_notify_fn *notify, void *arg, struct store_watcher **out);

/** store_unwatch() - detach and free @w and its queued events. */
void store_unwatch(struct store_watcher *w);

/**
 * store_watch_next() - take the oldest queued event into @ev (release it
 * with store_event_fini()). Returns 0, -EAGAIN when the queue is empty, or
 * -ENOBUFS once after the queue overflowed and was dropped.
 */
int store_watch_next(struct store_watcher *w, struct store_event *ev);

/** store_watch_pending() - events waiting in @w's queue. */
size_t store_watch_pending(const struct store_watcher *w);

#endif
