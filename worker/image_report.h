/*
 * This node's images as the agent reports them to the managers (issue 14;
 * swarm.proto NodeImages): internal to the worker.
 */
#ifndef SHOAL_WORKER_IMAGE_REPORT_H
#define SHOAL_WORKER_IMAGE_REPORT_H

#include "common/crypto.h"
#include "proto/swarm.pb-c.h"

#include <jansson.h>

struct img_store;

/* A report and what it borrows its strings from. */
struct image_report {
	Swarm__NodeImages pb;
	Swarm__NodeImage *items;
	Swarm__NodeImage **ptrs;
	char **strs; /* every layer and tag pointer, borrowed from @src */
	json_t *src; /* the inspected images */
	uint8_t fingerprint[SHA256_BYTES]; /* sha256 of the packed report */
};

/**
 * worker__image_report() - every image of @s (at most WIRE_IMAGES_MAX, by
 * id; pb.truncated past that), with its layers (RootFS diff ids) and up to
 * WIRE_IMAGE_TAGS_MAX tags, and the report's fingerprint. 0, or -ENOMEM
 * and nothing to free. Free with worker__image_report_free(). Runs on the
 * loop: the image store answers from memory.
 */
int worker__image_report(struct img_store *s, struct image_report *r);
void worker__image_report_free(struct image_report *r);

#endif
