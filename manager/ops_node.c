/*
 * Writes on nodes (write.c's "node-update" and "node-remove"): Docker's
 * NodeSpec replaced at a version, which is also how a node is promoted
 * or demoted, and a node's removal, which revokes its certificates.
 *
 * A role change puts the node's ManagerStatus in or out of its status in
 * the same change; the node hears its new role in its next heartbeat
 * answer and asks for a certificate of that role, and the leader's timer
 * (cluster.c) makes the Raft configuration follow. A demotion revokes
 * the node's manager certificates in the same batch (revoke.c). The
 * leader demoting itself hands leadership over first (a Raft transfer to
 * the most caught-up voter), then sends the change to the new leader
 * like any follower; without a handover within HANDOFF_TIMEOUT_NS the
 * write fails and the node stays a manager.
 *
 * Refusals are Docker's where Docker has one: demoting the last manager,
 * removing a manager, removing a node that is not down without force.
 */
#define LOG_MODULE "manager"
#include "common/alloc.h"
#include "common/clock.h"
#include "common/error.h"
#include "common/jsonx.h"
#include "common/log.h"
#include "manager/internal.h"
#include "raft/node_uv.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#define HANDOFF_TIMEOUT_NS (5 * NSEC_PER_SEC)

static size_t count_managers(const struct mgr *m)
{
	const struct store_object **all;
	size_t n, k = 0;
	if (store_list(m->store, STORE_NODES, &all, &n) < 0)
		return 0;
	for (size_t i = 0; i < n; i++)
		k += mgr__node_role(all[i]) == WIRE_ROLE_MANAGER;
	shoal_free(all);
	return k;
}

/*
 * A role change: the node's status gains or loses ManagerStatus in the same
 * change (*@status, owned, or NULL when the role stays).
 */
static int role_change(const struct mgr *m, const struct store_object *o,
		       const json_t *spec, char **status, size_t *len,
		       char *err, size_t errlen)
{
	enum wire_role now = mgr__node_role(o);
	const char *want = jsonx_str(spec, "Role", "");
	*status = NULL;
	if (strcmp(want, wire_role_name(now)) == 0)
		return 0;
	if (now == WIRE_ROLE_MANAGER && count_managers(m) <= 1) {
		snprintf(
			err, errlen,
			"rpc error: code = FailedPrecondition desc = attempting "
			"to demote the last manager of the swarm");
		return SHOAL_ECONFLICT;
	}
	json_t *st = mgr__obj_json(o->status, o->status_len);
	if (!st)
		return -ENOMEM;
	if (now == WIRE_ROLE_MANAGER) {
		json_object_del(st, "ManagerStatus");
	} else {
		char addr[SWARM_ADDR_MAX + 8];
		snprintf(addr, sizeof(addr), "%.*s:%d", SWARM_ADDR_MAX - 8,
			 jsonx_str(jsonx_obj(st, "Status"), "Addr", ""),
			 SWARM_DEFAULT_PORT);
		jsonx_set(st, "ManagerStatus",
			  json_pack("{s:b, s:s, s:s}", "Leader", 0,
				    "Reachability", "unknown", "Addr", addr));
	}
	*status = jsonx_dump(st, len);
	json_decref(st);
	return *status ? 0 : -ENOMEM;
}

/* --- the leader demoting itself ------------------------------------------ */

struct mgr_handoff {
	char id[STORE_ID_MAX + 1];
	uint64_t version;
	char *spec; /* NUL-terminated */
	size_t len;
	mgr_done_fn *done;
	void *arg;
	int64_t deadline_ns;
};

static void handoff_free(struct mgr *m)
{
	shoal_free(m->handoff->spec);
	shoal_free(m->handoff);
	m->handoff = NULL;
}

static int handoff_start(struct mgr__write_ctx *w, char *err, size_t errlen)
{
	struct mgr *m = w->m;
	const struct mgr_write_req *r = w->req;
	if (m->handoff) {
		snprintf(err, errlen, "a leadership handover is in progress");
		return -EBUSY;
	}
	struct mgr_handoff *h = shoal_calloc(1, sizeof(*h));
	if (h)
		h->spec = shoal_malloc(r->body_len + 1);
	if (!h || !h->spec) {
		shoal_free(h);
		return -ENOMEM;
	}
	int rc = raft_node_transfer(m->rn, 0);
	if (rc < 0) {
		snprintf(err, errlen, "cannot hand leadership over: %s",
			 shoal_strerror(rc));
		shoal_free(h->spec);
		shoal_free(h);
		return rc;
	}
	memcpy(h->spec, r->body, r->body_len);
	h->spec[r->body_len] = '\0';
	snprintf(h->id, sizeof(h->id), "%s", r->id);
	h->version = r->version;
	h->len = r->body_len;
	h->done = w->done;
	h->arg = w->arg;
	h->deadline_ns = time_mono_ns() + HANDOFF_TIMEOUT_NS;
	m->handoff = h;
	log_info("node=%s hands leadership over before its demotion", r->id);
	return MGR__WRITE_TAKEN;
}

void mgr__handoff_resume(struct mgr *m)
{
	struct mgr_handoff *h = m->handoff;
	if (!h || m->leader)
		return;
	char err[400];
	m->handoff = NULL;
	int rc = mgr_node_update(m, h->id, h->version, h->spec, h->len, h->done,
				 h->arg, err, sizeof(err));
	if (rc < 0)
		h->done(h->arg, rc, err);
	shoal_free(h->spec);
	shoal_free(h);
}

void mgr__handoff_check(struct mgr *m)
{
	struct mgr_handoff *h = m->handoff;
	if (!h || (!m->stopping && time_mono_ns() < h->deadline_ns))
		return;
	h->done(h->arg, m->stopping ? -ECANCELED : -ETIMEDOUT,
		m->stopping ? "the manager is stopping"
			    : "leadership was not handed over in time; the "
			      "node is still a manager");
	handoff_free(m);
}

/* --- node-update ---------------------------------------------------------- */

static int node_update_check(const json_t *body, const struct mgr_write_req *r,
			     char *err, size_t errlen)
{
	return mgr__validate_spec(body, err, errlen);
}

static int node_update_build(struct mgr__write_ctx *w, char *err, size_t errlen)
{
	struct mgr *m = w->m;
	const char *id = w->req->id;
	const struct store_object *o = store_get(m->store, STORE_NODES, id);
	if (!o) {
		snprintf(err, errlen, "node %s not found", id);
		return SHOAL_ENOTFOUND;
	}
	char *status = NULL;
	size_t tlen = 0, slen;
	int rc = role_change(m, o, w->body, &status, &tlen, err, errlen);
	if (rc < 0)
		return rc;
	bool demotion = status && mgr__node_role(o) == WIRE_ROLE_MANAGER;
	if (demotion && mgr_node_is_leader(m, id)) {
		/* Demoting ourselves: hand leadership over first, then let
		 * the new leader make the change. */
		shoal_free(status);
		return handoff_start(w, err, errlen);
	}
	char *s = jsonx_dump(w->body, &slen);
	if (!s) {
		shoal_free(status);
		return -ENOMEM;
	}
	rc = store_batch_update(w->b, STORE_NODES, id, w->req->version, s, slen,
				status, tlen);
	/* A demotion revokes the node's manager certificates in the same
	 * change (revoke.c). */
	if (rc == 0 && demotion)
		rc = mgr__revoke(m, w->b, id, false, err, errlen);
	shoal_free(s);
	shoal_free(status);
	return rc;
}

const struct mgr__write_op mgr__op_node_update = {
	.name = "node-update",
	.want_body = true,
	.check = node_update_check,
	.build = node_update_build,
};

int mgr_node_update(struct mgr *m, const char *id, uint64_t version,
		    const char *spec_json, size_t len, mgr_done_fn *done,
		    void *arg, char *err, size_t errlen)
{
	struct mgr_write_req r = {.id = id,
				  .version = version,
				  .body = spec_json,
				  .body_len = len};
	return mgr_write(m, mgr__op_node_update.name, &r, done, arg, err,
			 errlen);
}

/* --- node-remove ---------------------------------------------------------- */

static int node_remove_build(struct mgr__write_ctx *w, char *err, size_t errlen)
{
	struct mgr *m = w->m;
	const char *id = w->req->id;
	const struct store_object *o = store_get(m->store, STORE_NODES, id);
	if (!o) {
		snprintf(err, errlen, "node %s not found", id);
		return SHOAL_ENOTFOUND;
	}
	if (mgr__node_role(o) == WIRE_ROLE_MANAGER) {
		snprintf(err, errlen,
			 "rpc error: code = FailedPrecondition desc = node %s "
			 "is a cluster manager and is a member of the raft "
			 "cluster. It must be demoted to worker before "
			 "removal",
			 id);
		return SHOAL_ECONFLICT;
	}
	char state[16];
	if (!(w->req->flags & MGR_WRITE_FORCE) &&
	    strcmp(mgr__node_state(o, state, sizeof(state)), "down") != 0) {
		snprintf(err, errlen,
			 "rpc error: code = FailedPrecondition desc = node %s "
			 "is not down and can't be removed",
			 id);
		return SHOAL_ECONFLICT;
	}
	int rc = store_batch_delete(w->b, STORE_NODES, id, o->version);
	return rc ? rc : mgr__revoke(m, w->b, id, true, err, errlen);
}

static void node_removed(struct mgr *m, const char *id, int rc)
{
	/* Its sessions heard why when the change was applied
	 * (mgr__conns_recheck()). */
	if (rc == 0)
		log_info("node=%s removed; its certificate is refused from "
			 "now on",
			 id);
}

const struct mgr__write_op mgr__op_node_remove = {
	.name = "node-remove",
	.build = node_remove_build,
	.committed = node_removed,
};

int mgr_node_remove(struct mgr *m, const char *id, bool force,
		    mgr_done_fn *done, void *arg, char *err, size_t errlen)
{
	struct mgr_write_req r = {.id = id,
				  .flags = force ? MGR_WRITE_FORCE : 0};
	return mgr_write(m, mgr__op_node_remove.name, &r, done, arg, err,
			 errlen);
}
