/*
 * Secrets and configs on a node (docs/secrets.md): the "secret" and
 * "config" items of the node's assignment set (contract §1), held in
 * memory only, and written for each task that refers to them into a tmpfs
 * of the task's own, bound into its container: secrets at
 * /run/secrets/TARGET, configs at their target path. Nothing reaches the
 * node's disk; a task's tmpfs is unmounted when the task ends or leaves
 * the set, and an item is forgotten (wiped) when a set no longer carries
 * it.
 *
 * The items come from the leader; they are checked like any outside
 * bytes (fuzzed by tests/fuzz/worker-secrets). Paths in the container come
 * from the task's references: file names are confined to the task's
 * tmpfs (one plain name per secret, numbered files for configs), and the
 * container side goes through the engine's bind mounts.
 *
 * The loop's thread only.
 */
#ifndef SHOAL_WORKER_SECRETS_H
#define SHOAL_WORKER_SECRETS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/error.h"

struct wtask;
struct wsecrets;

/** wsecrets_new() - the store, its tmpfs under @root (created 0700 when
 * first needed). 0 and *@out, or -ENOMEM. */
int wsecrets_new(const char *root, struct wsecrets **out);
/** wsecrets_free() - wipe and free every item (mounts stay: see
 * wsecrets_release()). */
void wsecrets_free(struct wsecrets *s);

/** wsecrets_begin() - a new set starts: items given from now on replace
 * the current ones at wsecrets_commit(). */
void wsecrets_begin(struct wsecrets *s);

/**
 * wsecrets_item() - look at one item of the set: 0 when it is a task (no
 * Kind, or "task"), for the caller to decode; 1 when it was taken (a
 * secret or config) or ignored (a Kind this node does not know, logged
 * at debug); -EINVAL with @err for a malformed secret or config item
 * (not taken); -ENOMEM.
 */
int wsecrets_item(struct wsecrets *s, const void *data, size_t len,
		  struct shoal_err *err);

/** wsecrets_commit() - the items given since wsecrets_begin() become the
 * set; the others are wiped. */
void wsecrets_commit(struct wsecrets *s);

/** wsecrets_count() - how many items the current set holds. */
size_t wsecrets_count(const struct wsecrets *s);

struct wtask_node;

/**
 * wsecrets_prepare() - write task @t's secrets and configs (templates
 * expanded with @t and @node) into a fresh
 * tmpfs at ROOT/<task id> and give the bind mounts for its container in
 * *@binds ("src:dst:ro", NULL-terminated, owned: wsecrets_binds_free),
 * NULL when the task refers to none. -EINVAL with @err (a reference this
 * node has no data for, a bad target), or the mount's error.
 */
int wsecrets_prepare(struct wsecrets *s, const struct wtask *t,
		     const struct wtask_node *node, char ***binds,
		     struct shoal_err *err);

/** wsecrets_binds_free() - free what wsecrets_prepare() gave. */
void wsecrets_binds_free(char **binds);

/** wsecrets_release() - unmount and remove task @task_id's tmpfs, if
 * any. Idempotent. */
void wsecrets_release(struct wsecrets *s, const char *task_id);

#endif
