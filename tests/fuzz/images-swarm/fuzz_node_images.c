/*
 * A NodeImages message from a peer, decoded and checked as the leader
 * does (wire_images_check()), then turned into the stored form
 * (wire_images_json()). Anything is refused with a message, or accepted
 * as a report whose every id and layer is a digest, ids strictly sorted,
 * within the bounds; its stored form has exactly those images.
 */
#include "proto/node_images.h"
#include "proto/wire.h"

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_accepted(const Swarm__NodeImages *pb)
{
	if (pb->n_images > WIRE_IMAGES_MAX)
		abort();
	for (size_t i = 0; i < pb->n_images; i++) {
		const Swarm__NodeImage *im = pb->images[i];
		if (!wire_digest_ok(im->id) ||
		    im->n_layers > WIRE_IMAGE_LAYERS_MAX ||
		    im->n_repo_tags > WIRE_IMAGE_TAGS_MAX)
			abort();
		for (size_t k = 0; k < im->n_layers; k++) {
			if (!wire_digest_ok(im->layers[k]))
				abort();
		}
		if (i > 0 && strcmp(pb->images[i - 1]->id, im->id) >= 0)
			abort();
	}
	json_t *j = wire_images_json(pb);
	if (!j)
		return; /* out of memory */
	if (json_array_size(json_object_get(j, "Images")) != pb->n_images)
		abort();
	json_decref(j);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct wire_pb_tracker t;
	wire_pb_tracker_init(&t);
	Swarm__NodeImages *pb =
		swarm__node_images__unpack(&t.alloc, size, data);
	if (!pb)
		return 0;
	char err[256] = "";
	int rc = wire_images_check(pb, err, sizeof(err));
	if (rc < 0 && (rc != -EPROTO || !*err))
		abort(); /* refused without saying why */
	if (rc == 0)
		check_accepted(pb);
	swarm__node_images__free_unpacked(pb, &t.alloc);
	return 0;
}
