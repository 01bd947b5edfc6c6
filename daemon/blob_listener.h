/*
 * shoald's blob service listener (issue 14, docs/images.md): every node
 * of a swarm serves the blobs of its images to the certified nodes of the
 * same swarm on TCP port MGR_BLOB_PORT (2386) of its listen address, so
 * that a node given a task whose image it lacks fetches it from the nodes
 * that hold it (worker/blob_service.h serves each connection). Only the
 * nodes the managers name in this node's assignments are served (the
 * "blob-clients" item, manager/image_holders.h).
 *
 * The channel's configuration is read from the node's swarm state at each
 * connection, so a renewed certificate is presented from the next
 * connection on. The listener starts with the swarm parts (join, init,
 * restart) and stops with them (leave, role change), closing the
 * connections it serves. Until the first assignment set after a start
 * names some, it serves no node.
 */
#ifndef SHOAL_DAEMON_BLOB_LISTENER_H
#define SHOAL_DAEMON_BLOB_LISTENER_H

#include <stddef.h>

#include <uv.h>

#include "image/image.h"
#include "manager/manager.h"
#include "worker/worker.h"

struct daemon_blobs;

/**
 * daemon__blobs_start() - listen on @st's listen host, port @port (0:
 * MGR_BLOB_PORT) and serve @images. @st and @images are borrowed until
 * daemon__blobs_stop(). 0 and *@out, or a code with @err saying why (the
 * port taken, say): the node then serves no blobs, nothing else changes.
 */
int daemon__blobs_start(uv_loop_t *loop, const struct swarm_state *st,
			struct img_store *images, int port,
			struct daemon_blobs **out, char *err, size_t errlen);

/** daemon__blobs_stop() - close the listener and the connections it
 * serves (freed later); NULL is fine. */
void daemon__blobs_stop(struct daemon_blobs *b);

/**
 * daemon__blobs_assigned() - the node's newest set of assignments @items
 * (@n): its "blob-clients" item, {"Kind": "blob-clients", "Nodes": [node
 * ids]}, becomes the set of nodes served (no item: none); connections of
 * nodes that left it are closed. A malformed item (or two) is logged and
 * the previous set stays. NULL @b is fine.
 */
void daemon__blobs_assigned(struct daemon_blobs *b,
			    const struct agent_item *items, size_t n);

#endif
