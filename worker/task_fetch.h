/*
 * Images fetched for this node's tasks (issue 14, docs/images.md): a task
 * whose image this node lacks comes with "ImageHolders" in its assignment
 * (manager/image_holders.h): the image's id, the tag it goes by, and the
 * ready nodes that hold it with their blob service's address. The task
 * executor (exec.c, start_task()) asks here for the image before it
 * creates the container; the fetch (worker/image_fetch.h: every blob
 * verified by digest, a failing holder replaced by the next, the image
 * assembled all or nothing) runs on the loop, asynchronously.
 *
 * One fetch per image id at a time: every task of that image waits for
 * the same fetch. Its end is told once to the executor (ended()), which
 * moves the waiting tasks on (created) or rejects them with the reason;
 * progress (progress()) goes at most once a second, for the waiting
 * tasks' status messages.
 *
 * The holders item is checked before anything starts (a digest id, a
 * reference-shaped tag, 1..16 holders with IPv4/IPv6 ADDR:PORT and short
 * printable names): a bad item is refused with a message naming the
 * field. The executor may close while fetches are in flight: they finish
 * (their blobs go to the store's tmp/, swept) and tell no one.
 */
#ifndef SHOAL_WORKER_TASK_FETCH_H
#define SHOAL_WORKER_TASK_FETCH_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#include <uv.h>

#include "common/error.h"
#include "image/image.h"
#include "proto/channel.h"

struct wfetch;

struct wfetch_config {
	uv_loop_t *loop;
	struct img_store *store;
	/* The node's channel identity, borrowed (read at each fetch, so a
	 * renewed certificate is used from the next one). */
	const uint8_t *root_pk;
	const struct wire_keypair *identity;
	const uint8_t *cert;
	const size_t *cert_len;
	/* Optional: image @id's fetch made progress (@msg, e.g. "fetching
	 * image from node h1: layer 2 of 3") or ended (@rc 0, or a code and
	 * @msg saying why). Loop thread. */
	void (*progress)(void *arg, const char *id, const char *msg);
	void (*ended)(void *arg, const char *id, int rc, const char *msg);
	void *arg;
	/* For pulls from a registry (image/registry.h), borrowed: the
	 * registries reached over plain HTTP and Docker's certs.d. */
	const char *const *insecure;
	size_t n_insecure;
	const char *certs_dir;
};

/** wfetch_open() - 0 and *@out, or -ENOMEM. */
int wfetch_open(const struct wfetch_config *cfg, struct wfetch **out);

/**
 * wfetch_close() - no more callbacks; freed once its fetches ended (NULL
 * is fine).
 */
void wfetch_close(struct wfetch *f);

/** wfetch_has() - does this node's store resolve @ref? */
bool wfetch_has(struct wfetch *f, const char *ref);

/**
 * wfetch_have() - is the image of the holders item @ih here already (by
 * id)? Then it gets the item's Tag too (it was untagged here, or the tag
 * moved), so the task's name resolves: 1. 0: not here. -EINVAL with @err
 * (a malformed item, a tag refused).
 */
int wfetch_have(struct wfetch *f, const json_t *ih, struct shoal_err *err);

/**
 * wfetch_want() - the image of the holders item @ih (an "ImageHolders"
 * object) is wanted: start its fetch unless one is in flight. 0 with
 * @id_out (the image id, 80 bytes) and @msg_out (a status message, 64
 * bytes) set: a fetch is in flight, ended() will be called for it.
 * -EINVAL with @err: the item is malformed. -ENOMEM.
 */
int wfetch_want(struct wfetch *f, const json_t *ih, char *id_out, char *msg_out,
		struct shoal_err *err);

/**
 * wfetch_names_registry() - does @ref name its registry ("reg:5000/app",
 * "registry.example/app", "localhost/app")? A name without one (Docker
 * Hub's) is never pulled by a task: only the nodes are asked.
 */
bool wfetch_names_registry(const char *ref);

/**
 * wfetch_pull() - no node holds the image @ref of a task and @ref names a
 * registry: pull it (image/registry.h, the registries' settings of the
 * daemon, no credentials) unless a pull of @ref is in flight. 0 with
 * @msg_out (64 bytes) set: ended() will be called with @ref as the id.
 * -EINVAL (@ref too long), -ENOMEM, or the pull's start failure.
 */
int wfetch_pull(struct wfetch *f, const char *ref, char *msg_out,
		struct shoal_err *err);

/** wfetch_busy() - is image @id (or reference, for a pull) being fetched? */
bool wfetch_busy(const struct wfetch *f, const char *id);

/**
 * wfetch_item_check() - check a holders item as wfetch_want() does,
 * without fetching: 0, or -EINVAL with @err naming the field. For tests
 * and the fuzzer.
 */
int wfetch_item_check(const json_t *ih, struct shoal_err *err);

#endif
