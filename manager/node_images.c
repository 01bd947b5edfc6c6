/*
 * Which node holds which images (issue 14): the leader keeps each node's
 * last image report (proto/node_images.h) in the node's status in the
 * store, under "Images" ({"Images":[{"Id","Layers","RepoTags"}],
 * "Truncated"}), beside the Description the node's session wrote. The
 * node API serves only Description, Status and ManagerStatus of that
 * status, so the report shows only where it is asked for
 * (GET /swarm/images, api/images_cluster.c).
 *
 * A report comes from the node's own session (its certificate names the
 * node, never the message) and is checked before anything is kept: a bad
 * one is dropped with a rate-limited warning and changes nothing. A
 * report equal to the stored one writes nothing, so the agent's periodic
 * resend costs no Raft entry; a write that loses a version race is
 * repaired by that resend.
 */
#define LOG_MODULE "dispatcher"
#include "proto/node_images.h"
#include "common/alloc.h"
#include "common/clock.h"
#include "common/error.h"
#include "common/jsonx.h"
#include "common/log.h"
#include "manager/internal.h"

#include <errno.h>
#include <string.h>

static struct log_ratelimit bad_rl = {.interval_ns = 10 * NSEC_PER_SEC};

static int propose_status(struct mgr *m, const struct store_object *o,
			  json_t *st)
{
	size_t len;
	char *text = jsonx_dump(st, &len);
	if (!text)
		return -ENOMEM;
	struct store_batch b;
	store_batch_init(&b, time_real_ns());
	int rc = store_batch_update(&b, STORE_NODES, o->id, o->version, NULL, 0,
				    text, len);
	shoal_free(text);
	if (rc == 0)
		rc = mgr__propose(m, &b, NULL, NULL);
	store_batch_fini(&b);
	return rc;
}

int mgr__node_images(struct mgr *m, const struct store_object *o,
		     const Swarm__NodeImages *pb, char *err, size_t errlen)
{
	int rc = wire_images_check(pb, err, errlen);
	if (rc < 0)
		return rc;
	json_t *report = wire_images_json(pb);
	json_t *st = mgr__obj_json(o->status, o->status_len);
	if (!st)
		st = json_object();
	if (!report || !st) {
		json_decref(report);
		json_decref(st);
		return -ENOMEM;
	}
	if (json_equal(json_object_get(st, "Images"), report)) {
		json_decref(report);
		json_decref(st);
		return 0;
	}
	rc = jsonx_set(st, "Images", report);
	if (rc == 0)
		rc = propose_status(m, o, st);
	json_decref(st);
	return rc;
}

void mgr__on_node_images(struct mgr_conn *c, const struct store_object *o,
			 const Swarm__NodeImages *pb)
{
	char err[256] = "";
	int rc = mgr__node_images(c->m, o, pb, err, sizeof(err));
	unsigned long held = 0;
	if (rc < 0 && log_ratelimit_pass(&bad_rl, time_mono_ns(), &held))
		log_warn("node=%s image report not kept: %s (%lu more held "
			 "back)",
			 c->node_id, rc == -EPROTO ? err : shoal_strerror(rc),
			 held);
}
