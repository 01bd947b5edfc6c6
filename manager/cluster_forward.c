/*
 * Writes at a follower, forwarded to the leader (docs/swarm.md,
 * "Replication"), so that any manager answers any command.
 *
 * The follower keeps at most one channel to the leader's swarm listener,
 * certified with its own manager certificate, opened on demand. Each
 * forwarded write is a ControlRequest with an id; the leader runs it as
 * if a client had asked it and answers a ControlResponse with the same id
 * once the change is committed or refused. Requests wait in a bounded list
 * while the channel connects.
 *
 * Failures: no leader known yet gives SHOAL_ENOTLEADER at once. If the
 * channel fails with requests outstanding, they are answered -ECONNRESET
 * saying the outcome is unknown (the leader may have committed them
 * before it went away): a client retries with the object's new version,
 * and an "update out of sequence" then tells it the first attempt landed.
 * When the leader changes, the channel to the old one is closed the same
 * way. At stop, outstanding requests get -ECANCELED.
 */
#define LOG_MODULE "manager"
#include "common/alloc.h"
#include "common/error.h"
#include "common/log.h"
#include "manager/internal.h"
#include "proto/swarm.pb-c.h"
#include "proto/wire.h"
#include "raft/node_uv.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#define FWD_MAX_PENDING 256

struct fwd_req {
	struct list_node link;
	uint64_t id;
	bool read_index; /* wait for the answered index before done */
	mgr_done_fn *done;
	void *arg;
	uint8_t *frame; /* the packed Envelope, until sent */
	size_t len;
};

static void fail_all(struct mgr *m, int rc, const char *msg)
{
	while (!list_empty(&m->fwd_reqs)) {
		struct fwd_req *r = list_entry(list_front(&m->fwd_reqs),
					       struct fwd_req, link);
		list_remove(&r->link);
		m->fwd_nreqs--;
		r->done(r->arg, rc, msg);
		shoal_free(r->frame);
		shoal_free(r);
	}
}

static void send_queued(struct mgr *m)
{
	struct list_node *p;
	list_for_each(p, &m->fwd_reqs)
	{
		struct fwd_req *r = list_entry(p, struct fwd_req, link);
		if (!r->frame)
			continue;
		int rc = wire_chan_send(m->fwd_chan, r->frame, r->len);
		if (rc < 0) {
			log_warn("cannot forward to the leader at %s: %s",
				 m->fwd_addr, shoal_strerror(rc));
			wire_chan_close(m->fwd_chan);
			return;
		}
		shoal_free(r->frame);
		r->frame = NULL;
	}
}

static void fwd_connected(struct wire_chan *c, const struct wire_peer *peer)
{
	struct mgr *m = wire_chan_data(c);
	m->fwd_connected = true;
	send_queued(m);
}

static void fwd_frame(struct wire_chan *c, const uint8_t *data, size_t len)
{
	struct mgr *m = wire_chan_data(c);
	struct wire_pb_tracker t;
	wire_pb_tracker_init(&t);
	Swarm__Envelope *env = swarm__envelope__unpack(&t.alloc, len, data);
	if (!env || env->body_case != SWARM__ENVELOPE__BODY_CONTROL_RESPONSE) {
		log_warn("the leader at %s sent %s", m->fwd_addr,
			 env ? "an unexpected message" : "a malformed message");
		if (env)
			swarm__envelope__free_unpacked(env, &t.alloc);
		wire_chan_close(c);
		return;
	}
	const Swarm__ControlResponse *cr = env->control_response;
	struct list_node *p;
	list_for_each(p, &m->fwd_reqs)
	{
		struct fwd_req *r = list_entry(p, struct fwd_req, link);
		if (r->id != cr->id || r->frame)
			continue;
		list_remove(&r->link);
		m->fwd_nreqs--;
		int rc = cr->code > 0 ? -EPROTO : cr->code;
		if (rc == 0 && r->read_index)
			rc = mgr__sync_wait(m, cr->index, r->done, r->arg);
		if (rc < 0 || !r->read_index)
			r->done(r->arg, rc,
				rc == -ENOMEM ? "out of memory"
				: cr->message ? cr->message
					      : "");
		shoal_free(r);
		break;
	}
	swarm__envelope__free_unpacked(env, &t.alloc);
}

static void fwd_closed(struct wire_chan *c, int reason)
{
	struct mgr *m = wire_chan_data(c);
	m->fwd_chan = NULL;
	m->fwd_connected = false;
	m->open_handles--;
	fail_all(m, m->stopping ? -ECANCELED : -ECONNRESET,
		 m->stopping ? "the manager is stopping"
			     : "lost the connection to the leader; the change "
			       "may or may not have been applied");
	mgr__maybe_done(m);
}

static const struct wire_chan_callbacks fwd_cb = {
	.connected = fwd_connected,
	.frame = fwd_frame,
	.closed = fwd_closed,
};

static int dial(struct mgr *m, const char *addr)
{
	struct sockaddr_storage ss;
	int rc = mgr__parse_addr(addr, &ss);
	if (rc < 0)
		return rc;
	struct wire_chan_config cfg = {
		.security = WIRE_SECURE,
		.root_pk = m->st->root_pk,
		.identity = &m->st->identity,
		.cert = m->st->cert,
		.cert_len = m->st->cert_len,
		/* The leader's certificate, checked against our store as
		 * the leader checks ours. */
		.cert_check = mgr__manager_cert_check,
		.cert_check_arg = m,
		.peer_name = addr,
		.handshake_timeout_ms = 5000,
	};
	rc = wire_chan_connect(m->loop, (struct sockaddr *)&ss, &cfg, &fwd_cb,
			       m, &m->fwd_chan);
	if (rc < 0)
		return rc;
	m->open_handles++;
	snprintf(m->fwd_addr, sizeof(m->fwd_addr), "%s", addr);
	return 0;
}

int mgr__forward(struct mgr *m, Swarm__ControlRequest *req, mgr_done_fn *done,
		 void *arg, char *err, size_t errlen)
{
	char leader[SWARM_ADDR_MAX];
	mgr_leader_addr(m, leader, sizeof(leader));
	if (!*leader || m->stopping)
		return mgr__not_leader(m, err, errlen);
	if (m->fwd_nreqs >= FWD_MAX_PENDING) {
		snprintf(err, errlen, "too many writes waiting for the leader");
		return -EBUSY;
	}
	if (m->fwd_chan && strcmp(m->fwd_addr, leader) != 0)
		wire_chan_close(m->fwd_chan); /* the old leader's */
	struct fwd_req *r = shoal_calloc(1, sizeof(*r));
	if (!r)
		return -ENOMEM;
	Swarm__Envelope env = SWARM__ENVELOPE__INIT;
	req->id = r->id = ++m->fwd_next_id;
	env.body_case = SWARM__ENVELOPE__BODY_CONTROL_REQUEST;
	env.control_request = req;
	r->len = protobuf_c_message_get_packed_size(&env.base);
	r->frame = shoal_malloc(r->len ? r->len : 1);
	if (!r->frame) {
		shoal_free(r);
		return -ENOMEM;
	}
	protobuf_c_message_pack(&env.base, r->frame);
	r->done = done;
	r->arg = arg;
	r->read_index = req->op_case == SWARM__CONTROL_REQUEST__OP_READ_INDEX;
	int rc = 0;
	if (!m->fwd_chan || strcmp(m->fwd_addr, leader) != 0) {
		if (m->fwd_chan) {
			/* Still closing: the new channel needs the slot. */
			rc = -EAGAIN;
			snprintf(err, errlen,
				 "the leader changed; try again in a moment");
		} else {
			rc = dial(m, leader);
			if (rc < 0)
				snprintf(err, errlen,
					 "cannot reach the leader at %s: %s",
					 leader, shoal_strerror(rc));
		}
	}
	if (rc < 0) {
		shoal_free(r->frame);
		shoal_free(r);
		return rc;
	}
	list_push_back(&m->fwd_reqs, &r->link);
	m->fwd_nreqs++;
	if (m->fwd_connected)
		send_queued(m);
	return 0;
}

/* --- read index ---------------------------------------------------------- */

#define SYNC_MAX_WAITERS 1024

struct sync_waiter {
	struct list_node link;
	uint64_t index;
	mgr_done_fn *done;
	void *arg;
};

int mgr__sync_wait(struct mgr *m, uint64_t index, mgr_done_fn *done, void *arg)
{
	if (store_applied_index(m->store) >= index) {
		done(arg, 0, "");
		return 0;
	}
	if (m->nsync >= SYNC_MAX_WAITERS)
		return -EBUSY;
	struct sync_waiter *w = shoal_calloc(1, sizeof(*w));
	if (!w)
		return -ENOMEM;
	w->index = index;
	w->done = done;
	w->arg = arg;
	list_push_back(&m->sync_waiters, &w->link);
	m->nsync++;
	return 0;
}

void mgr__sync_check(struct mgr *m, bool cancel)
{
	uint64_t applied = store_applied_index(m->store);
	struct list_node *p, *tmp;
	list_for_each_safe(p, tmp, &m->sync_waiters)
	{
		struct sync_waiter *w = list_entry(p, struct sync_waiter, link);
		if (!cancel && w->index > applied)
			continue;
		list_remove(&w->link);
		m->nsync--;
		w->done(w->arg, cancel ? -ECANCELED : 0,
			cancel ? "the manager is stopping" : "");
		shoal_free(w);
	}
}

struct leader_read {
	struct mgr *m;
	mgr_done_fn *done;
	void *arg;
};

static void leader_read_done(void *arg, int status)
{
	struct leader_read *r = arg;
	r->done(r->arg, status,
		status == 0 ? ""
		: status == SHOAL_ENOTLEADER
			? "leadership changed during the read"
			: shoal_strerror(status));
	shoal_free(r);
}

/* On the leader: a linearizable read index (raft_node_read). */
static int leader_read(struct mgr *m, mgr_done_fn *done, void *arg)
{
	struct leader_read *r = shoal_calloc(1, sizeof(*r));
	if (!r)
		return -ENOMEM;
	r->m = m;
	r->done = done;
	r->arg = arg;
	int rc = raft_node_read(m->rn, leader_read_done, r);
	if (rc < 0)
		shoal_free(r);
	return rc;
}

int mgr_sync(struct mgr *m, mgr_done_fn *done, void *arg, char *err,
	     size_t errlen)
{
	if (m->leader) {
		int rc = leader_read(m, done, arg);
		if (rc < 0)
			snprintf(err, errlen, "%s", shoal_strerror(rc));
		return rc;
	}
	Swarm__ControlRequest req = SWARM__CONTROL_REQUEST__INIT;
	Swarm__ReadIndexOp op = SWARM__READ_INDEX_OP__INIT;
	req.op_case = SWARM__CONTROL_REQUEST__OP_READ_INDEX;
	req.read_index = &op;
	return mgr__forward(m, &req, done, arg, err, errlen);
}

/* The leader's side of a follower's read index: answer our applied index
 * once a read index round confirms we still lead. */
struct remote_read {
	void (*answer)(void *ctx, int rc, uint64_t index);
	void *ctx;
	struct mgr *m;
};

static void remote_read_done(void *arg, int rc, const char *msg)
{
	struct remote_read *r = arg;
	r->answer(r->ctx, rc, store_applied_index(r->m->store));
	shoal_free(r);
}

int mgr__read_index(struct mgr *m,
		    void (*answer)(void *ctx, int rc, uint64_t index),
		    void *ctx)
{
	if (!m->leader)
		return SHOAL_ENOTLEADER;
	struct remote_read *r = shoal_calloc(1, sizeof(*r));
	if (!r)
		return -ENOMEM;
	r->answer = answer;
	r->ctx = ctx;
	r->m = m;
	int rc = leader_read(m, remote_read_done, r);
	if (rc < 0)
		shoal_free(r);
	return rc;
}

void mgr__forward_stop(struct mgr *m)
{
	if (m->fwd_chan)
		wire_chan_close(m->fwd_chan);
	else
		fail_all(m, -ECANCELED, "the manager is stopping");
}
