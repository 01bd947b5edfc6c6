/*
 * The images a node holds, as it reports them to the managers in its
 * heartbeats (swarm.proto NodeImages; issue 14). The agent builds the
 * report from its image store (worker/image_report.c); the leader checks
 * every report here before it keeps it beside the node in the store
 * (manager/node_images.c), because the report is a peer's bytes: ids and
 * layer digests must be "sha256:" and 64 lowercase hex digits, tags
 * printable, and everything is bounded so that one node cannot grow the
 * replicated store without limit.
 */
#ifndef SHOAL_PROTO_NODE_IMAGES_H
#define SHOAL_PROTO_NODE_IMAGES_H

#include "proto/swarm.pb-c.h"

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#define WIRE_IMAGES_MAX 256	   /* images in one report */
#define WIRE_IMAGE_LAYERS_MAX 128  /* layers of one image (Docker: 127) */
#define WIRE_IMAGE_TAGS_MAX 16	   /* tags of one image kept */
#define WIRE_IMAGE_TAG_LEN_MAX 255 /* bytes of one tag */

/** wire_digest_ok() - @s is "sha256:" and 64 lowercase hex digits. */
bool wire_digest_ok(const char *s);

/**
 * wire_images_check() - 0 when @pb keeps every limit above and every id
 * and layer is a digest, ids strictly increasing (sorted, no duplicate);
 * -EPROTO with a message in @err otherwise. A NULL @pb is an empty report.
 */
int wire_images_check(const Swarm__NodeImages *pb, char *err, size_t errlen);

/**
 * wire_images_json() - a checked report as JSON, the form kept in the
 * store: {"Images":[{"Id","Layers":[],"RepoTags":[]}], "Truncated":bool}.
 * Owned by the caller (json_decref()); NULL when out of memory.
 */
json_t *wire_images_json(const Swarm__NodeImages *pb);

#endif
