/*
 * Control requests forwarded by a follower manager (cluster_forward.c is
 * the follower's side): the leader runs each write as if its own client
 * had asked, and answers a ControlResponse with the request's id once the
 * change is committed or refused; a read index is answered with the
 * leader's applied index once a heartbeat round confirmed its leadership.
 *
 * Only certificates that still hold manager rights may send them
 * (revoke.c); anything else closes the connection.
 */
#define LOG_MODULE "manager"
#include "common/alloc.h"
#include "common/error.h"
#include "common/log.h"
#include "manager/internal.h"
#include "proto/swarm.pb-c.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

struct control_wait {
	struct mgr_conn *c;
	uint64_t id;
};

static void control_answer(struct mgr_conn *c, uint64_t id, int code,
			   const char *msg, uint64_t index)
{
	if (c->closed)
		return;
	Swarm__Envelope env = SWARM__ENVELOPE__INIT;
	Swarm__ControlResponse cr = SWARM__CONTROL_RESPONSE__INIT;
	cr.id = id;
	cr.code = code;
	cr.index = index;
	cr.message = (char *)(msg ? msg : "");
	env.body_case = SWARM__ENVELOPE__BODY_CONTROL_RESPONSE;
	env.control_response = &cr;
	mgr__send(c, &env);
}

static void read_index_answer(void *ctx, int rc, uint64_t index)
{
	struct control_wait *w = ctx;
	control_answer(w->c, w->id, rc, rc ? shoal_strerror(rc) : "", index);
	mgr__conn_release(w->c);
	shoal_free(w);
}

static void control_done(void *arg, int rc, const char *msg)
{
	struct control_wait *w = arg;
	control_answer(w->c, w->id, rc, msg, 0);
	mgr__conn_release(w->c);
	shoal_free(w);
}

static bool may_control(struct mgr_conn *c)
{
	const char *why = "a joining host has no certificate";
	if (!c->peer.joined && c->peer.role == WIRE_ROLE_MANAGER &&
	    mgr__may_manage(c->m, &c->peer.cert, &why))
		return true;
	log_warn("peer=%s node=%s forwarded a write without manager "
		 "rights: %s",
		 wire_chan_name(c->chan), c->node_id,
		 c->peer.role != WIRE_ROLE_MANAGER ? "not a manager now" : why);
	return false;
}

static int run_op(struct mgr *m, const Swarm__ControlRequest *req,
		  struct control_wait *w, char *err, size_t errlen)
{
	const char *empty = "";
	switch (req->op_case) {
	case SWARM__CONTROL_REQUEST__OP_NODE_UPDATE: {
		const Swarm__NodeUpdateOp *op = req->node_update;
		const char *spec = op->spec_json ? op->spec_json : empty;
		return mgr_node_update(m, op->node_id ? op->node_id : empty,
				       op->version, spec, strlen(spec),
				       control_done, w, err, errlen);
	}
	case SWARM__CONTROL_REQUEST__OP_NODE_REMOVE: {
		const Swarm__NodeRemoveOp *op = req->node_remove;
		return mgr_node_remove(m, op->node_id ? op->node_id : empty,
				       op->force, control_done, w, err, errlen);
	}
	case SWARM__CONTROL_REQUEST__OP_SWARM_UPDATE: {
		const Swarm__SwarmUpdateOp *op = req->swarm_update;
		const char *spec = op->spec_json ? op->spec_json : empty;
		return mgr_swarm_update(m, op->version, spec, strlen(spec),
					op->rotate_worker, op->rotate_manager,
					control_done, w, err, errlen);
	}
	default:
		snprintf(err, errlen, "unknown control operation");
		return -EPROTO;
	}
}

void mgr__on_control(struct mgr_conn *c, const Swarm__ControlRequest *req)
{
	if (!may_control(c)) {
		wire_chan_close(c->chan);
		return;
	}
	struct control_wait *w = shoal_calloc(1, sizeof(*w));
	char err[400] = "";
	int rc = -ENOMEM;
	if (!w) {
		control_answer(c, req->id, rc, "out of memory", 0);
		return;
	}
	w->c = c;
	w->id = req->id;
	if (req->op_case == SWARM__CONTROL_REQUEST__OP_READ_INDEX) {
		rc = mgr__read_index(c->m, read_index_answer, w);
		if (rc < 0)
			snprintf(err, sizeof(err), "%s", shoal_strerror(rc));
	} else {
		rc = run_op(c->m, req, w, err, sizeof(err));
	}
	if (rc < 0) {
		control_answer(c, req->id, rc, err, 0);
		shoal_free(w);
		return;
	}
	c->pending++;
}
