/*
 * The agent's session with the managers (worker.h).
 *
 * States: IDLE (waiting out a back-off) -> CONNECTING (channel opening,
 * handshake) -> SESSION (SessionRequest answered; heartbeats flow). One
 * timer drives everything: in IDLE it fires the next connection attempt,
 * in SESSION it sends the next heartbeat and checks that the manager
 * answered within SWARM-style three periods; if not, the channel is closed
 * and the next manager in the list is tried. A connection that fails in
 * any way (refused, handshake, certificate refused, manager gone) ends in
 * on_closed(), which schedules the next attempt; so the agent follows the
 * managers through restarts and failovers with no other logic.
 *
 * Invariants: at most one channel at a time (a->chan); the timer is the
 * only pending callback besides the channel's; agent_stop() closes both
 * and frees the agent when their callbacks have run.
 */
#define LOG_MODULE "agent"
#include "common/alloc.h"
#include "common/clock.h"
#include "common/crypto.h"
#include "common/error.h"
#include "common/log.h"
#include "proto/channel.h"
#include "proto/swarm.pb-c.h"
#include "proto/wire.h"
#include "worker/image_report.h"
#include "worker/internal.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#define MISSED 3
/* The image report is sent again after this many heartbeats without a
 * change, in case the leader could not keep the last one. */
#define IMAGES_RESEND 30
#define BACKOFF_MIN_MS 100
#define BACKOFF_MAX_MS 2000

enum agent_state { AGENT_IDLE, AGENT_CONNECTING, AGENT_SESSION };

struct agent {
	uv_loop_t *loop;
	struct wire_keypair identity;
	uint8_t cert[1024];
	size_t cert_len;
	uint8_t root_pk[WIRE_PK_LEN];
	char managers[AGENT_MAX_MANAGERS][AGENT_ADDR_MAX];
	size_t nmanagers;
	size_t next; /* index of the manager to try next */
	struct agent_desc desc;
	void (*ended)(void *arg, const char *why);
	void (*renewed)(void *arg, const struct agent_renewal *r);
	void (*managers_changed)(void *arg, const char (*list)[AGENT_ADDR_MAX],
				 size_t n);
	void (*assigned)(void *arg, uint64_t generation,
			 const struct agent_item *items, size_t n);
	void (*session)(void *arg);
	void (*logs)(void *arg, const struct agent_logs_req *rq);
	void (*logs_control)(void *arg, uint64_t sub_id, bool cancel,
			     uint32_t credit);
	void *arg;
	struct img_store *images; /* reported in heartbeats; may be NULL */
	uint8_t images_sent[SHA256_BYTES]; /* fingerprint of the last report */
	bool images_fresh;		   /* images_sent is this session's */
	unsigned images_countdown; /* heartbeats until the report is resent */
	uint64_t generation; /* of the last set of assignments this session */
	enum wire_role role; /* our certificate's */
	bool renewing;
	enum agent_state state;
	struct wire_chan *chan;
	char session_id[32];
	uint32_t heartbeat_ms;
	int64_t last_answer_ns;
	uint64_t heartbeats;
	uint64_t backoff_ms;
	uv_timer_t timer;
	bool timer_open;
	bool stopping;
	bool ended_for_good;
	void (*done)(void *arg);
	void *done_arg;
	/* Attachment requests waiting for the leader's answer. */
	struct attach_wait {
		uint64_t id; /* 0: a free slot */
		agent_attach_cb *cb;
		void *arg;
		int64_t deadline_ns; /* monotonic */
	} attach[AGENT_ATTACH_MAX];
	uint64_t attach_next;
};

static void connect_next(struct agent *a);

/* Request @w answered (its slot freed before the callback, which may ask
 * again). */
static void attach_done(struct attach_wait *w, int code, const char *error,
			const char *task_id, const char *net_id,
			const char *json)
{
	struct attach_wait copy = *w;
	w->id = 0;
	copy.cb(copy.arg, code, error, task_id, net_id, json);
}

/* Every request waiting ends with @code: the session ended (@deadline 0)
 * or those past their time. */
static void attach_fail(struct agent *a, int code, const char *why, int64_t now)
{
	for (size_t i = 0; i < AGENT_ATTACH_MAX; i++)
		if (a->attach[i].id &&
		    (!now || now >= a->attach[i].deadline_ns))
			attach_done(&a->attach[i], code, why, "", "", "");
}

/* The leader's answer, checked: a known request, and on success an
 * attachment that is a JSON object naming its task and network. */
static void on_attached(struct agent *a, const Swarm__AttachNetworkResponse *r)
{
	struct attach_wait *w = NULL;
	for (size_t i = 0; i < AGENT_ATTACH_MAX && !w; i++)
		if (r->req_id && a->attach[i].id == r->req_id)
			w = &a->attach[i];
	if (!w)
		return; /* cancelled, or past its time */
	const char *task = r->task_id ? r->task_id : "";
	const char *net = r->network_id ? r->network_id : "";
	const char *json = r->attachment_json ? r->attachment_json : "";
	if (r->code < 0) {
		attach_done(w, r->code,
			    r->error && *r->error ? r->error
						  : "the managers refused the "
						    "network attachment",
			    "", "", "");
	} else if (!*task || strlen(task) > 64 || !*net || strlen(net) > 64 ||
		   *json != '{') {
		log_warn("manager %s answered a network attachment without "
			 "its task, network or address",
			 a->chan ? wire_chan_name(a->chan) : "");
		attach_done(w, -EPROTO,
			    "the managers' answer to the network attachment "
			    "is malformed",
			    "", "", "");
	} else {
		attach_done(w, 0, "", task, net, json);
	}
}
static void tick(uv_timer_t *t);

static void maybe_free(struct agent *a)
{
	if (!a->stopping || a->chan || a->timer_open)
		return;
	void (*done)(void *) = a->done;
	void *arg = a->done_arg;
	wire_keypair_wipe(&a->identity);
	shoal_free(a);
	if (done)
		done(arg);
}

static void send_env(struct agent *a, Swarm__Envelope *env)
{
	int rc = wire_chan_send_pb(a->chan, &env->base);
	if (rc < 0) {
		log_warn("cannot send to manager %s: %s",
			 wire_chan_name(a->chan), shoal_strerror(rc));
		wire_chan_close(a->chan);
	}
}

static void schedule(struct agent *a, uint64_t ms)
{
	uv_timer_start(&a->timer, tick, ms, 0); /* replaces a pending one */
}

static void heartbeat(struct agent *a)
{
	int64_t now = time_mono_ns();
	int64_t period = (int64_t)a->heartbeat_ms * NSEC_PER_MSEC;
	if (now - a->last_answer_ns > MISSED * period) {
		log_warn("manager %s missed %d heartbeat answers; moving on",
			 wire_chan_name(a->chan), MISSED);
		wire_chan_close(a->chan);
		return;
	}
	Swarm__Envelope env = SWARM__ENVELOPE__INIT;
	Swarm__Heartbeat hb = SWARM__HEARTBEAT__INIT;
	hb.session_id = a->session_id;
	env.body_case = SWARM__ENVELOPE__BODY_HEARTBEAT;
	env.heartbeat = &hb;
	struct image_report r;
	bool have = a->images && worker__image_report(a->images, &r) == 0;
	if (have && (!a->images_fresh || a->images_countdown == 0 ||
		     memcmp(r.fingerprint, a->images_sent, SHA256_BYTES))) {
		hb.images = &r.pb;
		memcpy(a->images_sent, r.fingerprint, SHA256_BYTES);
		a->images_fresh = true;
		a->images_countdown = IMAGES_RESEND;
	} else if (a->images_countdown > 0) {
		a->images_countdown--;
	}
	send_env(a, &env);
	if (have)
		worker__image_report_free(&r);
	schedule(a, a->heartbeat_ms);
}

static void tick(uv_timer_t *t)
{
	attach_fail(t->data, -ETIMEDOUT,
		    "the swarm's managers did not answer the network "
		    "attachment in time; try again",
		    time_mono_ns());
	struct agent *a = t->data;
	if (a->stopping || a->ended_for_good)
		return;
	if (a->state == AGENT_IDLE)
		connect_next(a);
	else if (a->state == AGENT_SESSION)
		heartbeat(a);
}

static void set_managers(struct agent *a, char **list, size_t n)
{
	if (n == 0)
		return;
	size_t k = 0;
	char next[AGENT_MAX_MANAGERS][AGENT_ADDR_MAX];
	for (size_t i = 0; i < n && k < AGENT_MAX_MANAGERS; i++)
		if (list[i] && *list[i] && strlen(list[i]) < AGENT_ADDR_MAX)
			snprintf(next[k++], AGENT_ADDR_MAX, "%s", list[i]);
	if (k == 0)
		return;
	bool changed = k != a->nmanagers;
	for (size_t i = 0; i < k && !changed; i++)
		changed = strcmp(next[i], a->managers[i]) != 0;
	if (!changed)
		return;
	memcpy(a->managers, next, sizeof(next[0]) * k);
	a->nmanagers = k;
	a->next %= k;
	if (a->managers_changed)
		a->managers_changed(a->arg,
				    (const char(*)[AGENT_ADDR_MAX])a->managers,
				    a->nmanagers);
}

/* A follower named the leader: try it next, keeping the others. */
static void follow_hint(struct agent *a, char **list, size_t n)
{
	a->backoff_ms = BACKOFF_MIN_MS;
	if (n == 0 || !list[0] || !*list[0] ||
	    strlen(list[0]) >= AGENT_ADDR_MAX)
		return;
	for (size_t i = 0; i < a->nmanagers; i++) {
		if (strcmp(a->managers[i], list[0]) == 0) {
			a->next = i;
			return;
		}
	}
	if (a->nmanagers < AGENT_MAX_MANAGERS)
		a->nmanagers++;
	memmove(a->managers[1], a->managers[0],
		(a->nmanagers - 1) * sizeof(a->managers[0]));
	snprintf(a->managers[0], AGENT_ADDR_MAX, "%s", list[0]);
	a->next = 0;
}

/*
 * Renewal is due once two thirds of the certificate's life have passed.
 * Its life is counted from issue: the CA dates certificates back by
 * AGENT_CERT_SLACK_S for clock skew (manager/ca.c), which is not life.
 */
static bool cert_due(const struct agent *a)
{
	struct wire_cert_info info;
	if (wire_cert_decode(a->cert, a->cert_len, &info) < 0)
		return false;
	int64_t life = info.not_after - info.not_before - AGENT_CERT_SLACK_S;
	if (life <= 0)
		life = info.not_after - info.not_before;
	int64_t now = time_real_ns() / NSEC_PER_SEC;
	return now >= info.not_after - life / 3;
}

bool agent__raft_from_pb(const Swarm__RaftSettings *pb, struct agent_raft *out)
{
	memset(out, 0, sizeof(*out));
	if (!pb)
		return false;
	out->election_tick = pb->election_tick;
	out->heartbeat_tick = pb->heartbeat_tick;
	out->snapshot_interval = pb->snapshot_interval;
	out->keep_old_snapshots = pb->keep_old_snapshots;
	out->log_entries_for_slow_followers =
		pb->log_entries_for_slow_followers;
	return true;
}

static void ask_renewal(struct agent *a, int pb_role, bool rotate)
{
	enum wire_role want =
		pb_role == SWARM__ROLE__ROLE_MANAGER  ? WIRE_ROLE_MANAGER
		: pb_role == SWARM__ROLE__ROLE_WORKER ? WIRE_ROLE_WORKER
						      : WIRE_ROLE_NONE;
	if (a->renewing)
		return;
	if (want != WIRE_ROLE_NONE && want != a->role)
		log_info("the managers made this node a %s; asking for its "
			 "certificate",
			 wire_role_name(want));
	else if (rotate)
		log_info("the managers rotate every node's certificate; "
			 "asking for a new one");
	else if (cert_due(a))
		log_info("the certificate is two thirds through its life; "
			 "asking for a new one");
	else
		return;
	Swarm__Envelope env = SWARM__ENVELOPE__INIT;
	Swarm__RenewRequest rq = SWARM__RENEW_REQUEST__INIT;
	env.body_case = SWARM__ENVELOPE__BODY_RENEW_REQUEST;
	env.renew_request = &rq;
	a->renewing = true;
	send_env(a, &env);
}

static void on_renewal(struct agent *a, const Swarm__RenewResponse *rr)
{
	struct agent_renewal r;
	struct wire_cert_info info;
	const char *why = "too large";
	a->renewing = false;
	memset(&r, 0, sizeof(r));
	if (rr->code != 0) {
		log_warn("certificate renewal refused: %s",
			 rr->error ? rr->error : shoal_strerror(rr->code));
		return;
	}
	if (rr->certificate.len > sizeof(r.cert) ||
	    wire_cert_verify(rr->certificate.data, rr->certificate.len,
			     a->root_pk, time_real_ns() / NSEC_PER_SEC, &info,
			     &why) < 0 ||
	    memcmp(info.public_key, a->identity.pk, WIRE_PK_LEN) != 0 ||
	    (info.role == WIRE_ROLE_MANAGER &&
	     rr->root_sk.len != WIRE_SK_LEN)) {
		log_warn("the manager sent an unusable certificate: %s",
			 why ? why : "not for this node");
		return;
	}
	r.role = info.role;
	memcpy(r.cert, rr->certificate.data, rr->certificate.len);
	r.cert_len = rr->certificate.len;
	if (info.role == WIRE_ROLE_MANAGER) {
		memcpy(r.root_sk, rr->root_sk.data, WIRE_SK_LEN);
		r.has_root_sk = true;
	}
	for (size_t i = 0;
	     i < rr->n_managers && r.nmanagers < AGENT_MAX_MANAGERS; i++) {
		if (!rr->managers[i] ||
		    strlen(rr->managers[i]) >= AGENT_ADDR_MAX)
			continue;
		snprintf(r.managers[r.nmanagers], AGENT_ADDR_MAX, "%s",
			 rr->managers[i]);
		if (i < rr->n_manager_ids && rr->manager_ids[i] &&
		    strlen(rr->manager_ids[i]) <= WIRE_ID_MAX)
			snprintf(r.manager_ids[r.nmanagers], WIRE_ID_MAX + 1,
				 "%s", rr->manager_ids[i]);
		r.nmanagers++;
	}
	if (info.role == WIRE_ROLE_MANAGER)
		r.has_raft = agent__raft_from_pb(rr->raft, &r.raft);
	memcpy(a->cert, r.cert, r.cert_len);
	a->cert_len = r.cert_len;
	a->role = r.role;
	if (a->renewed)
		a->renewed(a->arg, &r);
	shoal_wipe(&r, sizeof(r));
}

/* The session's newest set of assignments, to the caller. An older set
 * (reordered behind a newer one) is ignored. */
static void on_assignments(struct agent *a, const Swarm__Assignments *as)
{
	if (as->n_items > AGENT_MAX_ITEMS) {
		log_warn("manager %s sent %zu assignments, more than %d",
			 wire_chan_name(a->chan), as->n_items, AGENT_MAX_ITEMS);
		wire_chan_close(a->chan);
		return;
	}
	if (as->generation <= a->generation)
		return;
	a->generation = as->generation;
	if (!a->assigned)
		return;
	struct agent_item *items =
		shoal_calloc(as->n_items ? as->n_items : 1, sizeof(*items));
	if (!items) {
		log_warn("assignments dropped: out of memory");
		a->generation = 0; /* the next set is taken whatever it is */
		return;
	}
	for (size_t i = 0; i < as->n_items; i++) {
		items[i].data = as->items[i].data;
		items[i].len = as->items[i].len;
	}
	a->assigned(a->arg, as->generation, items, as->n_items);
	shoal_free(items);
}

/* A request for task logs: checked for size, handed over. A request the
 * agent cannot serve is answered done, with why. */
static void on_logs(struct agent *a, const Swarm__LogsSubscribe *ls)
{
	if (!a->logs || ls->n_task_ids > AGENT_MAX_ITEMS) {
		agent_send_logs(a, ls->sub_id, NULL, 0, true,
				a->logs ? "too many tasks in one request"
					: "this node serves no logs");
		return;
	}
	struct agent_logs_req rq = {
		.sub_id = ls->sub_id,
		.task_ids = (const char *const *)ls->task_ids,
		.n = ls->n_task_ids,
		.follow = ls->follow,
		.tail = ls->tail,
		.since_ns = ls->since_ns,
		.out = ls->stdout,
		.err = ls->stderr,
		.credit = ls->credit,
	};
	a->logs(a->arg, &rq);
}

static uint32_t sane_period(uint32_t ms)
{
	return ms < 10 ? 10 : ms > 3600000 ? 3600000 : ms;
}

static void on_frame(struct wire_chan *c, const uint8_t *data, size_t len)
{
	struct agent *a = wire_chan_data(c);
	struct wire_pb_tracker t;
	wire_pb_tracker_init(&t);
	Swarm__Envelope *env = swarm__envelope__unpack(&t.alloc, len, data);
	if (!env) {
		log_warn("manager %s sent a malformed message",
			 wire_chan_name(c));
		wire_chan_close(c);
		return;
	}
	a->last_answer_ns = time_mono_ns();
	if (env->body_case == SWARM__ENVELOPE__BODY_SESSION_RESPONSE &&
	    a->state == AGENT_CONNECTING) {
		const Swarm__SessionResponse *sr = env->session_response;
		if (sr->code == SHOAL_ENOTLEADER) {
			follow_hint(a, sr->managers, sr->n_managers);
			wire_chan_close(c);
		} else if (sr->code != 0 || !sr->session_id) {
			log_warn("manager %s refused the session: %s",
				 wire_chan_name(c),
				 sr->error ? sr->error : "no reason");
			wire_chan_close(c);
		} else {
			snprintf(a->session_id, sizeof(a->session_id), "%s",
				 sr->session_id);
			a->heartbeat_ms = sane_period(sr->heartbeat_ms);
			set_managers(a, sr->managers, sr->n_managers);
			a->state = AGENT_SESSION;
			a->generation = 0;
			a->images_fresh = false;
			a->backoff_ms = BACKOFF_MIN_MS;
			log_info("session %s with manager %s", a->session_id,
				 wire_chan_name(c));
			schedule(a, a->heartbeat_ms);
			if (a->session)
				a->session(a->arg);
		}
	} else if (env->body_case == SWARM__ENVELOPE__BODY_HEARTBEAT_RESPONSE &&
		   a->state == AGENT_SESSION) {
		const Swarm__HeartbeatResponse *hr = env->heartbeat_response;
		a->heartbeats++;
		a->heartbeat_ms = sane_period(hr->heartbeat_ms);
		set_managers(a, hr->managers, hr->n_managers);
		ask_renewal(a, hr->role, hr->renew);
	} else if (env->body_case == SWARM__ENVELOPE__BODY_RENEW_RESPONSE &&
		   a->state == AGENT_SESSION && a->renewing) {
		on_renewal(a, env->renew_response);
	} else if (env->body_case == SWARM__ENVELOPE__BODY_ASSIGNMENTS &&
		   a->state == AGENT_SESSION) {
		on_assignments(a, env->assignments);
	} else if (env->body_case == SWARM__ENVELOPE__BODY_LOGS_SUBSCRIBE &&
		   a->state == AGENT_SESSION) {
		on_logs(a, env->logs_subscribe);
	} else if (env->body_case == SWARM__ENVELOPE__BODY_LOGS_CONTROL &&
		   a->state == AGENT_SESSION) {
		if (a->logs_control)
			a->logs_control(a->arg, env->logs_control->sub_id,
					env->logs_control->cancel,
					env->logs_control->credit);
	} else if (env->body_case ==
			   SWARM__ENVELOPE__BODY_ATTACH_NETWORK_RESPONSE &&
		   a->state == AGENT_SESSION) {
		on_attached(a, env->attach_network_response);
	} else if (env->body_case == SWARM__ENVELOPE__BODY_SESSION_END) {
		const char *why = env->session_end->error
					  ? env->session_end->error
					  : "the manager ended the session";
		log_warn("manager %s ended our session: %s", wire_chan_name(c),
			 why);
		a->ended_for_good = true;
		if (a->ended)
			a->ended(a->arg, why);
		wire_chan_close(c);
	} else {
		log_warn("manager %s sent an unexpected message (%d)",
			 wire_chan_name(c), (int)env->body_case);
		wire_chan_close(c);
	}
	swarm__envelope__free_unpacked(env, &t.alloc);
}

static void on_connected(struct wire_chan *c, const struct wire_peer *peer)
{
	struct agent *a = wire_chan_data(c);
	Swarm__Envelope env = SWARM__ENVELOPE__INIT;
	Swarm__SessionRequest sr = SWARM__SESSION_REQUEST__INIT;
	Swarm__NodeDescription d = SWARM__NODE_DESCRIPTION__INIT;
	d.hostname = a->desc.hostname;
	d.os = a->desc.os;
	d.architecture = a->desc.arch;
	d.nano_cpus = a->desc.nano_cpus;
	d.memory_bytes = a->desc.memory_bytes;
	d.engine_version = a->desc.engine_version;
	d.addr = a->desc.addr;
	sr.description = &d;
	env.body_case = SWARM__ENVELOPE__BODY_SESSION_REQUEST;
	env.session_request = &sr;
	a->last_answer_ns = time_mono_ns();
	send_env(a, &env);
}

static void on_closed(struct wire_chan *c, int reason)
{
	struct agent *a = wire_chan_data(c);
	if (a->state == AGENT_SESSION && !a->stopping)
		log_info("session %s with manager %s ended: %s", a->session_id,
			 wire_chan_name(c),
			 reason ? shoal_strerror(reason) : "closed by us");
	a->chan = NULL;
	a->renewing = false;
	a->state = AGENT_IDLE;
	a->session_id[0] = '\0';
	attach_fail(a, -ENOTCONN,
		    "this node lost its session with the swarm's managers; "
		    "try again",
		    0);
	if (a->stopping) {
		maybe_free(a);
		return;
	}
	if (a->ended_for_good)
		return;
	schedule(a, a->backoff_ms);
	a->backoff_ms = a->backoff_ms * 2 > BACKOFF_MAX_MS ? BACKOFF_MAX_MS
							   : a->backoff_ms * 2;
}

static const struct wire_chan_callbacks agent_cb = {
	.connected = on_connected,
	.frame = on_frame,
	.closed = on_closed,
};

static void connect_next(struct agent *a)
{
	const char *addr = a->managers[a->next];
	a->next = (a->next + 1) % a->nmanagers;
	struct sockaddr_storage ss;
	struct wire_chan_config cfg = {
		.security = WIRE_SECURE,
		.root_pk = a->root_pk,
		.identity = &a->identity,
		.cert = a->cert,
		.cert_len = a->cert_len,
		.peer_name = addr,
		.handshake_timeout_ms = 5000,
	};
	int rc = agent_parse_addr(addr, &ss);
	if (rc == 0)
		rc = wire_chan_connect(a->loop, (struct sockaddr *)&ss, &cfg,
				       &agent_cb, a, &a->chan);
	if (rc < 0) {
		log_warn("cannot connect to manager %s: %s", addr,
			 shoal_strerror(rc));
		a->chan = NULL;
		schedule(a, BACKOFF_MAX_MS);
		return;
	}
	a->state = AGENT_CONNECTING;
}

int agent_start(const struct agent_config *cfg, struct agent **out)
{
	if (cfg->nmanagers == 0 || cfg->nmanagers > AGENT_MAX_MANAGERS ||
	    cfg->cert_len == 0 ||
	    cfg->cert_len > sizeof(((struct agent *)0)->cert))
		return -EINVAL;
	struct agent *a = shoal_calloc(1, sizeof(*a));
	if (!a)
		return -ENOMEM;
	a->loop = cfg->loop;
	a->identity = *cfg->identity;
	memcpy(a->cert, cfg->cert, cfg->cert_len);
	a->cert_len = cfg->cert_len;
	memcpy(a->root_pk, cfg->root_pk, WIRE_PK_LEN);
	for (size_t i = 0; i < cfg->nmanagers; i++)
		snprintf(a->managers[i], AGENT_ADDR_MAX, "%s",
			 cfg->managers[i]);
	a->nmanagers = cfg->nmanagers;
	a->desc = *cfg->desc;
	a->ended = cfg->ended;
	a->renewed = cfg->renewed;
	a->managers_changed = cfg->managers_changed;
	a->assigned = cfg->assigned;
	a->session = cfg->session;
	a->logs = cfg->logs;
	a->logs_control = cfg->logs_control;
	a->arg = cfg->arg;
	a->images = cfg->images;
	struct wire_cert_info info;
	if (wire_cert_decode(a->cert, a->cert_len, &info) < 0) {
		shoal_free(a);
		return -EINVAL;
	}
	a->role = info.role;
	a->heartbeat_ms = 1000;
	a->backoff_ms = BACKOFF_MIN_MS;
	uv_timer_init(a->loop, &a->timer);
	a->timer.data = a;
	a->timer_open = true;
	schedule(a, 0);
	*out = a;
	return 0;
}

static void timer_closed(uv_handle_t *h)
{
	struct agent *a = h->data;
	a->timer_open = false;
	maybe_free(a);
}

void agent_stop(struct agent *a, void (*done)(void *arg), void *arg)
{
	a->stopping = true;
	a->done = done;
	a->done_arg = arg;
	if (a->chan)
		wire_chan_close(a->chan);
	uv_close((uv_handle_t *)&a->timer, timer_closed);
}

int agent_report(struct agent *a, const char *const *ids,
		 const char *const *statuses, size_t n)
{
	if (a->state != AGENT_SESSION || !a->chan)
		return -ENOTCONN;
	Swarm__TaskStatusItem *items = shoal_calloc(n ? n : 1, sizeof(*items));
	Swarm__TaskStatusItem **ptrs = shoal_calloc(n ? n : 1, sizeof(*ptrs));
	if (!items || !ptrs) {
		shoal_free(items);
		shoal_free(ptrs);
		return -ENOMEM;
	}
	for (size_t i = 0; i < n; i++) {
		swarm__task_status_item__init(&items[i]);
		items[i].task_id = (char *)ids[i];
		items[i].status_json = (char *)statuses[i];
		ptrs[i] = &items[i];
	}
	Swarm__Envelope env = SWARM__ENVELOPE__INIT;
	Swarm__TaskStatusReport rep = SWARM__TASK_STATUS_REPORT__INIT;
	rep.n_items = n;
	rep.items = ptrs;
	env.body_case = SWARM__ENVELOPE__BODY_TASK_STATUS;
	env.task_status = &rep;
	send_env(a, &env);
	shoal_free(ptrs);
	shoal_free(items);
	return 0;
}

int agent_send_logs(struct agent *a, uint64_t sub_id,
		    const struct agent_log_line *lines, size_t n, bool done,
		    const char *error)
{
	if (a->state != AGENT_SESSION || !a->chan)
		return -ENOTCONN;
	Swarm__LogLine *ls = shoal_calloc(n ? n : 1, sizeof(*ls));
	Swarm__LogLine **ptrs = shoal_calloc(n ? n : 1, sizeof(*ptrs));
	if (!ls || !ptrs) {
		shoal_free(ls);
		shoal_free(ptrs);
		return -ENOMEM;
	}
	for (size_t i = 0; i < n; i++) {
		swarm__log_line__init(&ls[i]);
		ls[i].task_id = (char *)lines[i].task_id;
		ls[i].stream = (uint32_t)lines[i].stream;
		ls[i].time_ns = lines[i].time_ns;
		ls[i].data.data = (uint8_t *)lines[i].data;
		ls[i].data.len = lines[i].len;
		ptrs[i] = &ls[i];
	}
	Swarm__Envelope env = SWARM__ENVELOPE__INIT;
	Swarm__LogsData d = SWARM__LOGS_DATA__INIT;
	d.sub_id = sub_id;
	d.n_lines = n;
	d.lines = ptrs;
	d.done = done;
	d.error = (char *)(error ? error : "");
	env.body_case = SWARM__ENVELOPE__BODY_LOGS_DATA;
	env.logs_data = &d;
	send_env(a, &env);
	shoal_free(ptrs);
	shoal_free(ls);
	return 0;
}

int agent_attach(struct agent *a, const struct agent_attach_req *r,
		 agent_attach_cb *cb, void *arg, uint64_t *id)
{
	if (a->state != AGENT_SESSION || !a->chan || a->stopping)
		return -ENOTCONN;
	struct attach_wait *w = NULL;
	for (size_t i = 0; i < AGENT_ATTACH_MAX && !w; i++)
		if (!a->attach[i].id)
			w = &a->attach[i];
	if (!w)
		return -EBUSY;
	Swarm__Envelope env = SWARM__ENVELOPE__INIT;
	Swarm__AttachNetwork an = SWARM__ATTACH_NETWORK__INIT;
	*w = (struct attach_wait){
		.id = ++a->attach_next,
		.cb = cb,
		.arg = arg,
		.deadline_ns = time_mono_ns() +
			       (int64_t)AGENT_ATTACH_WAIT_MS * NSEC_PER_MSEC,
	};
	an.req_id = w->id;
	an.network = (char *)r->network;
	an.container_id = (char *)r->container_id;
	an.names = (char **)r->names;
	an.n_names = r->n;
	env.body_case = SWARM__ENVELOPE__BODY_ATTACH_NETWORK;
	env.attach_network = &an;
	send_env(a, &env);
	*id = w->id;
	return 0;
}

void agent_attach_cancel(struct agent *a, uint64_t id)
{
	for (size_t i = 0; id && i < AGENT_ATTACH_MAX; i++)
		if (a->attach[i].id == id)
			a->attach[i].id = 0;
}

int agent_detach(struct agent *a, const char *task_id)
{
	if (!task_id || !*task_id || strlen(task_id) > 64)
		return -EINVAL;
	if (a->state != AGENT_SESSION || !a->chan)
		return -ENOTCONN;
	Swarm__Envelope env = SWARM__ENVELOPE__INIT;
	Swarm__DetachNetwork d = SWARM__DETACH_NETWORK__INIT;
	d.task_id = (char *)task_id;
	env.body_case = SWARM__ENVELOPE__BODY_DETACH_NETWORK;
	env.detach_network = &d;
	send_env(a, &env);
	return 0;
}

bool agent_in_session(const struct agent *a)
{
	return a->state == AGENT_SESSION;
}

uint64_t agent_heartbeats(const struct agent *a)
{
	return a->heartbeats;
}
