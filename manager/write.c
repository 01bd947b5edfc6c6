/*
 * Writes: the one path every change a client asks for takes, on any
 * manager (docs/swarm.md, "Writes").
 *
 *   1. check    the body parses (a JSON object for ops that take one) and
 *               passes the op's check, which needs no store; a refusal
 *               here costs no round trip to the leader.
 *   2. forward  a follower sends the write to the leader
 *               (cluster_forward.c) and relays the answer.
 *   3. build    the leader runs the op's build against its store: it
 *               refuses at once what it can decide (existence, Docker's
 *               preconditions), or adds the change to a batch.
 *   4. propose  the batch goes through Raft; the op's committed hook and
 *               then the caller hear the outcome once it is applied here
 *               (a stale version comes back as SHOAL_ESTALE then).
 *
 * A new write (e.g. "service create") is an entry in the table below and
 * its build function: the API calls mgr_write() with the op's name, and
 * forwarding, answers and the leader's side of a forwarded request come
 * with it.
 *
 * On the wire, a forwarded write is a ControlRequest. The writes that
 * managers before this table knew travel as their typed ops (NodeUpdateOp,
 * NodeRemoveOp, SwarmUpdateOp), so a mixed cluster keeps working; every
 * other write travels as a WriteOp carrying the op's name. The leader runs
 * a forwarded write with the same path, minus the forwarding: a write is
 * forwarded once at most, so two managers that each believe the other
 * leads cannot bounce it between them (the client hears "not the leader"
 * and retries).
 *
 * Only certificates that still hold manager rights may send control
 * requests (revoke.c); anything else closes the connection.
 */
#define LOG_MODULE "manager"
#include "common/alloc.h"
#include "common/clock.h"
#include "common/error.h"
#include "common/jsonx.h"
#include "common/log.h"
#include "manager/internal.h"
#include "proto/swarm.pb-c.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

enum write_kind {
	W_NODE_UPDATE,
	W_NODE_REMOVE,
	W_TOKEN_ROTATE,
	W_SWARM_UPDATE,
	W_SERVICE_CREATE,
	W_SERVICE_UPDATE,
	W_SERVICE_REMOVE,
	W_NETWORK_CREATE,
	W_NETWORK_REMOVE,
	W_SECRET_CREATE,
	W_SECRET_UPDATE,
	W_SECRET_REMOVE,
	W_SECRET_ROTATE,
	W_CONFIG_CREATE,
	W_CONFIG_UPDATE,
	W_CONFIG_REMOVE,
	W_CONFIG_ROTATE,
	W_COUNT,
};

static const struct mgr__write_op *const ops[W_COUNT] = {
	[W_NODE_UPDATE] = &mgr__op_node_update,
	[W_NODE_REMOVE] = &mgr__op_node_remove,
	[W_TOKEN_ROTATE] = &mgr__op_token_rotate,
	[W_SWARM_UPDATE] = &mgr__op_swarm_update,
	[W_SERVICE_CREATE] = &mgr__op_service_create,
	[W_SERVICE_UPDATE] = &mgr__op_service_update,
	[W_SERVICE_REMOVE] = &mgr__op_service_remove,
	[W_NETWORK_CREATE] = &mgr__op_network_create,
	[W_NETWORK_REMOVE] = &mgr__op_network_remove,
	[W_SECRET_CREATE] = &mgr__op_secret_create,
	[W_SECRET_UPDATE] = &mgr__op_secret_update,
	[W_SECRET_REMOVE] = &mgr__op_secret_remove,
	[W_SECRET_ROTATE] = &mgr__op_secret_rotate,
	[W_CONFIG_CREATE] = &mgr__op_config_create,
	[W_CONFIG_UPDATE] = &mgr__op_config_update,
	[W_CONFIG_REMOVE] = &mgr__op_config_remove,
	[W_CONFIG_ROTATE] = &mgr__op_config_rotate,
};

static int kind_of(const char *name)
{
	for (int k = 0; k < W_COUNT; k++)
		if (strcmp(ops[k]->name, name) == 0)
			return k;
	return -1;
}

/* --- 1. check ------------------------------------------------------------ */

/* The body parsed into *@body (owned, NULL for ops without one) and the
 * op's check passed. */
static int check(const struct mgr__write_op *op, const struct mgr_write_req *r,
		 json_t **body, char *err, size_t errlen)
{
	*body = NULL;
	if (op->want_body) {
		int rc = jsonx_parse_object(r->body ? r->body : "",
					    r->body ? r->body_len : 0, body,
					    err, errlen);
		if (rc < 0)
			return rc;
	}
	int rc = op->check ? op->check(*body, r, err, errlen) : 0;
	if (rc < 0) {
		json_decref(*body);
		*body = NULL;
	}
	return rc;
}

/* --- 2. forward ---------------------------------------------------------- */

/* A NUL-terminated copy of a body for the wire; NULL without memory. */
static char *body_copy(const struct mgr_write_req *r)
{
	size_t len = r->body ? r->body_len : 0;
	char *s = shoal_malloc(len + 1);
	if (s) {
		if (len)
			memcpy(s, r->body, len);
		s[len] = '\0';
	}
	return s;
}

static int forward(struct mgr *m, enum write_kind k,
		   const struct mgr_write_req *r, mgr_done_fn *done, void *arg,
		   char *err, size_t errlen)
{
	Swarm__ControlRequest req = SWARM__CONTROL_REQUEST__INIT;
	Swarm__NodeUpdateOp nu = SWARM__NODE_UPDATE_OP__INIT;
	Swarm__NodeRemoveOp nr = SWARM__NODE_REMOVE_OP__INIT;
	Swarm__SwarmUpdateOp su = SWARM__SWARM_UPDATE_OP__INIT;
	Swarm__WriteOp wo = SWARM__WRITE_OP__INIT;
	char *body = body_copy(r);
	if (!body)
		return -ENOMEM;
	switch (k) {
	case W_NODE_UPDATE:
		nu.node_id = (char *)r->id;
		nu.version = r->version;
		nu.spec_json = body;
		req.op_case = SWARM__CONTROL_REQUEST__OP_NODE_UPDATE;
		req.node_update = &nu;
		break;
	case W_NODE_REMOVE:
		nr.node_id = (char *)r->id;
		nr.force = r->flags & MGR_WRITE_FORCE;
		req.op_case = SWARM__CONTROL_REQUEST__OP_NODE_REMOVE;
		req.node_remove = &nr;
		break;
	case W_SWARM_UPDATE:
		su.version = r->version;
		su.spec_json = body;
		su.rotate_worker = r->flags & MGR_WRITE_ROTATE_WORKER;
		su.rotate_manager = r->flags & MGR_WRITE_ROTATE_MANAGER;
		req.op_case = SWARM__CONTROL_REQUEST__OP_SWARM_UPDATE;
		req.swarm_update = &su;
		break;
	default:
		wo.op = (char *)ops[k]->name;
		wo.id = (char *)r->id;
		wo.version = r->version;
		wo.body_json = body;
		wo.flags = r->flags;
		req.op_case = SWARM__CONTROL_REQUEST__OP_WRITE;
		req.write = &wo;
		break;
	}
	int rc = mgr__forward(m, &req, done, arg, err, errlen);
	shoal_free(body);
	return rc;
}

/* --- 3. build and 4. propose ---------------------------------------------- */

struct write_wait {
	struct mgr *m;
	const struct mgr__write_op *op;
	char id[STORE_ID_MAX + 1];
	mgr_done_fn *done;
	void *arg;
};

static void committed(void *arg, int rc, const char *msg)
{
	struct write_wait *w = arg;
	if (w->op->committed)
		w->op->committed(w->m, w->id, rc);
	if (w->done)
		w->done(w->arg, rc, msg);
	shoal_free(w);
}

static int propose(struct mgr *m, const struct mgr__write_op *op,
		   const struct mgr_write_req *r, json_t *body,
		   mgr_done_fn *done, void *arg, char *err, size_t errlen)
{
	struct write_wait *w = shoal_calloc(1, sizeof(*w));
	if (!w)
		return -ENOMEM;
	*w = (struct write_wait){.m = m, .op = op, .done = done, .arg = arg};
	snprintf(w->id, sizeof(w->id), "%s", r->id);
	struct store_batch b;
	store_batch_init(&b, time_real_ns());
	struct mgr__write_ctx ctx = {.m = m,
				     .req = r,
				     .body = body,
				     .b = &b,
				     .done = done,
				     .arg = arg};
	int rc = op->build(&ctx, err, errlen);
	if (rc == 0) {
		rc = mgr__propose(m, &b, committed, w);
		if (rc < 0)
			snprintf(err, errlen, "%s", shoal_strerror(rc));
	}
	store_batch_fini(&b);
	if (rc != 0)
		shoal_free(w);
	return rc == MGR__WRITE_TAKEN ? 0 : rc;
}

/* The write path; @may_forward is false for a write a follower forwarded
 * to us. */
static int run(struct mgr *m, enum write_kind k, const struct mgr_write_req *in,
	       bool may_forward, mgr_done_fn *done, void *arg, char *err,
	       size_t errlen)
{
	const struct mgr__write_op *op = ops[k];
	struct mgr_write_req r = *in;
	json_t *body;
	*err = '\0';
	if (!r.id)
		r.id = "";
	int rc = check(op, &r, &body, err, errlen);
	if (rc < 0)
		return rc;
	if (!m->leader) {
		json_decref(body);
		if (!may_forward)
			return mgr__not_leader(m, err, errlen);
		return forward(m, k, &r, done, arg, err, errlen);
	}
	rc = propose(m, op, &r, body, done, arg, err, errlen);
	json_decref(body);
	if (rc < 0 && !*err)
		snprintf(err, errlen, "%s", shoal_strerror(rc));
	return rc;
}

int mgr_write(struct mgr *m, const char *op, const struct mgr_write_req *req,
	      mgr_done_fn *done, void *arg, char *err, size_t errlen)
{
	int k = kind_of(op);
	if (k < 0) {
		snprintf(err, errlen, "unknown write \"%s\"", op);
		return -EINVAL;
	}
	return run(m, (enum write_kind)k, req, true, done, arg, err, errlen);
}

/* --- the leader's side of a forwarded request ------------------------------
 */

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

static const char *str_or_empty(const char *s)
{
	return s ? s : "";
}

/* A forwarded write as the table's kind and request (borrowing @req). */
static int decode(const Swarm__ControlRequest *req, enum write_kind *k,
		  struct mgr_write_req *r, char *err, size_t errlen)
{
	memset(r, 0, sizeof(*r));
	switch (req->op_case) {
	case SWARM__CONTROL_REQUEST__OP_NODE_UPDATE:
		*k = W_NODE_UPDATE;
		r->id = str_or_empty(req->node_update->node_id);
		r->version = req->node_update->version;
		r->body = str_or_empty(req->node_update->spec_json);
		break;
	case SWARM__CONTROL_REQUEST__OP_NODE_REMOVE:
		*k = W_NODE_REMOVE;
		r->id = str_or_empty(req->node_remove->node_id);
		r->flags = req->node_remove->force ? MGR_WRITE_FORCE : 0;
		break;
	case SWARM__CONTROL_REQUEST__OP_SWARM_UPDATE:
		*k = W_SWARM_UPDATE;
		r->version = req->swarm_update->version;
		r->body = str_or_empty(req->swarm_update->spec_json);
		r->flags = (req->swarm_update->rotate_worker
				    ? MGR_WRITE_ROTATE_WORKER
				    : 0) |
			   (req->swarm_update->rotate_manager
				    ? MGR_WRITE_ROTATE_MANAGER
				    : 0);
		break;
	case SWARM__CONTROL_REQUEST__OP_WRITE: {
		int kk = kind_of(str_or_empty(req->write->op));
		if (kk < 0) {
			snprintf(err, errlen, "unknown write \"%.64s\"",
				 str_or_empty(req->write->op));
			return -EPROTO;
		}
		*k = (enum write_kind)kk;
		r->id = str_or_empty(req->write->id);
		r->version = req->write->version;
		r->body = str_or_empty(req->write->body_json);
		r->flags = req->write->flags;
		break;
	}
	default:
		snprintf(err, errlen, "unknown control operation");
		return -EPROTO;
	}
	r->body_len = r->body ? strlen(r->body) : 0;
	return 0;
}

static int run_control(struct mgr *m, const Swarm__ControlRequest *req,
		       struct control_wait *w, char *err, size_t errlen)
{
	if (req->op_case == SWARM__CONTROL_REQUEST__OP_READ_INDEX) {
		int rc = mgr__read_index(m, read_index_answer, w);
		if (rc < 0)
			snprintf(err, errlen, "%s", shoal_strerror(rc));
		return rc;
	}
	enum write_kind k;
	struct mgr_write_req r;
	int rc = decode(req, &k, &r, err, errlen);
	if (rc == 0)
		rc = run(m, k, &r, false, control_done, w, err, errlen);
	return rc;
}

void mgr__on_control(struct mgr_conn *c, const Swarm__ControlRequest *req)
{
	if (!may_control(c)) {
		wire_chan_close(c->chan);
		return;
	}
	struct control_wait *w = shoal_calloc(1, sizeof(*w));
	char err[400] = "";
	if (!w) {
		control_answer(c, req->id, -ENOMEM, "out of memory", 0);
		return;
	}
	w->c = c;
	w->id = req->id;
	int rc = run_control(c->m, req, w, err, sizeof(err));
	if (rc < 0) {
		control_answer(c, req->id, rc, err, 0);
		shoal_free(w);
		return;
	}
	c->pending++;
}
