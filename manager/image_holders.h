/*
 * Where a task's image is (issue 14): the leader tells a node which other
 * nodes hold the image of a task it was given and does not hold itself,
 * from the nodes' image reports in the store (manager/node_images.c). The
 * task's assignment item then carries
 *
 *   "ImageHolders": {"Image": "<as the spec names it>",
 *                    "ID": "sha256:<hex>", "Tag": "busybox:latest",
 *                    "Holders": [{"NodeID", "Hostname",
 *                                 "Addr": "<ip>:<MGR_BLOB_PORT>"}]}
 *
 * for tasks not started yet (assigned .. preparing), so the node's agent
 * fetches the image from those nodes' blob service (worker/blob_service.h)
 * before it creates the container. Only ready nodes are holders; at most
 * MGR_HOLDERS_MAX of them. Among several images a name could mean (a tag
 * moved on some nodes), the one held by the most ready nodes wins (then
 * the lowest id). The index is rebuilt when the model's nodes change;
 * a change of any report, address or readiness makes every node's set
 * recomputed (and pushed only where it differs).
 */
#ifndef SHOAL_MANAGER_IMAGE_HOLDERS_H
#define SHOAL_MANAGER_IMAGE_HOLDERS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/map.h"
#include "manager/orch.h"
#include "manager/store.h"

/* The blob service's TCP port on every node's advertised address. */
#define MGR_BLOB_PORT 2386
#define MGR_HOLDERS_MAX 16

struct mgr_holders;

/**
 * mgr_holders_update() - (re)build *@h from the node objects of @store
 * unless it was built at the nodes' generation @gen. Returns 1 when what
 * it holds changed (every node's items must be recomputed), 0 when not,
 * -ENOMEM (then *@h is unchanged).
 */
int mgr_holders_update(struct mgr_holders **h, const struct store *store,
		       uint64_t gen);

/** mgr_holders_free() - NULL is fine. */
void mgr_holders_free(struct mgr_holders *h);

/**
 * mgr_holders_annotate() - when task @t is waiting to start on a node that
 * lacks its image and ready nodes hold it, add "ImageHolders" to its item
 * *@j (@len bytes of JSON, owned; replaced by a new owned string). 0
 * (annotated or not), -ENOMEM (*@j unchanged).
 */
int mgr_holders_annotate(const struct mgr_holders *h, const struct orch_task *t,
			 char **j, size_t *len);

/**
 * mgr_holders_clients() - who may fetch from whom, from the model's tasks
 * @tasks (orch_task values): each holder's clients are the ready nodes
 * of the store with a task waiting to start (assigned .. preparing) whose
 * ImageHolders name that holder (the same choice as
 * mgr_holders_annotate()). Returns 1 when that changed since the last
 * call (every node's items must be recomputed), 0, or -ENOMEM (then
 * every set is empty: nobody rather than some, until the next call).
 */
int mgr_holders_clients(struct mgr_holders *h, const struct hmap *tasks);

/**
 * mgr_holders_clients_item() - node @node_id's "blob-clients" item,
 * {"Kind": "blob-clients", "Nodes": [node ids]} into *@j (owned) and
 * @len, as last computed by mgr_holders_clients(); *@j NULL when no node
 * may fetch from it (no item: the node serves nobody). 0 or -ENOMEM.
 */
int mgr_holders_clients_item(const struct mgr_holders *h, const char *node_id,
			     char **j, size_t *len);

/**
 * mgr_image_ref_matches() - does image name @ref (as a service spec names
 * it: NAME[:TAG][@DIGEST], an id or a short id) name the image @id with
 * tags @tags (@ntags)? Names compare as Docker normalizes them
 * ("busybox" = "busybox:latest" = "docker.io/library/busybox:latest").
 * *@tag gets the matching tag (borrowed from @tags) or NULL (matched by
 * id).
 */
bool mgr_image_ref_matches(const char *ref, const char *id,
			   const char *const *tags, size_t ntags,
			   const char **tag);

#endif
