/*
 * shoald's swarm membership: the "swarm" service of daemon.c. It owns this
 * node's struct swarm_state (manager/manager.h) and the two things that
 * run from it: the manager (on managers) and the agent (on every node, the
 * managers included, each keeping its session with a manager). The API
 * reaches it through struct api_swarm_ops (api/swarm.h).
 *
 * States: inactive (no state on disk), pending (a join in flight), active,
 * error (state on disk that does not load, or the node was removed: the
 * reason is kept for /info). Init and join write the state only once it is
 * complete and start the parts after; a failure undoes both, so a node is
 * never half-joined. Leave stops the parts and deletes the state.
 *
 * Addresses: the listen address comes from the request, else --listen-addr,
 * else 0.0.0.0:2377. The advertised address comes from the request, else
 * the listen address when it names one interface, else the first
 * non-loopback IPv4 address of the host (Docker refuses to guess when
 * there are several; Shoal takes the first and logs which).
 */
#define LOG_MODULE "swarm"
#include "api/swarm.h"
#include "common/alloc.h"
#include "common/clock.h"
#include "common/crypto.h"
#include "common/error.h"
#include "common/log.h"
#include "daemon/blob_listener.h"
#include "daemon/daemon.h"
#include "daemon/swarm_events.h"
#include "manager/lock.h"
#include "manager/manager.h"
#include "worker/attach.h"
#include "worker/exec.h"
#include "worker/logs.h"
#include "worker/net.h"
#include "worker/task_fetch.h"
#include "worker/worker.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/sysinfo.h>
#include <sys/utsname.h>
#include <unistd.h>

#define DEFAULT_LISTEN "0.0.0.0:2377"

struct daemon_swarm {
	struct daemon *d;
	const char *state; /* static: inactive, pending, active, error,
			    * locked (autolock: waiting for the key) */
	char error[320];
	struct swarm_state st;
	bool have_state;
	struct mgr *mgr;
	struct swarm_events *events; /* docker events of the swarm's objects */
	struct agent *agent;
	struct wexec *tasks;	    /* this node's tasks (worker/exec.h) */
	struct wlogs *logs;	    /* their logs, for service logs */
	struct wnet *nets;	    /* their overlays (worker/net.h) */
	struct watt *atts;	    /* attachable overlays (attach.h) */
	struct daemon_blobs *blobs; /* the blob service (blob_listener.h) */
	struct wfetch *fetch;	    /* images for tasks (task_fetch.h) */
	char certs_dir[DAEMON_PATH_MAX + 16]; /* for its pulls */
	int pending_parts;	      /* stopped parts whose callback is due */
	api_swarm_done_fn *init_done; /* an init waiting for the store */
	void *init_ctx;
	json_t *init_spec; /* the spec of that init, for the bootstrap */
	char init_availability[16];
	void (*after)(struct daemon_swarm *s);
	void (*stopped)(struct daemon *d); /* the service's done */
};

/* --- helpers ------------------------------------------------------------- */

static int port_of(const char *addr)
{
	const char *colon = strrchr(addr, ':');
	return colon ? atoi(colon + 1) : SWARM_DEFAULT_PORT;
}

/* The first non-loopback IPv4 address, or 127.0.0.1. */
static void guess_ip(char *out, size_t cap)
{
	uv_interface_address_t *ifs;
	int n;
	snprintf(out, cap, "127.0.0.1");
	if (uv_interface_addresses(&ifs, &n) < 0)
		return;
	for (int i = 0; i < n; i++) {
		if (ifs[i].is_internal ||
		    ifs[i].address.address4.sin_family != AF_INET)
			continue;
		uv_ip4_name(&ifs[i].address.address4, out, cap);
		break;
	}
	uv_free_interface_addresses(ifs, n);
}

static void pick_addrs(const char *listen_req, const char *adv_req,
		       const char *cfg_listen, struct swarm_state *st)
{
	const char *listen = listen_req && *listen_req ? listen_req
			     : *cfg_listen	       ? cfg_listen
						       : DEFAULT_LISTEN;
	if (!strchr(listen, ':'))
		snprintf(st->listen_addr, sizeof(st->listen_addr), "%s:%d",
			 listen, SWARM_DEFAULT_PORT);
	else
		snprintf(st->listen_addr, sizeof(st->listen_addr), "%s",
			 listen);
	int port = port_of(st->listen_addr);
	if (adv_req && *adv_req) {
		if (strchr(adv_req, ':'))
			snprintf(st->advertise_addr, sizeof(st->advertise_addr),
				 "%s", adv_req);
		else
			snprintf(st->advertise_addr, sizeof(st->advertise_addr),
				 "%s:%d", adv_req, port);
		return;
	}
	char ip[SWARM_ADDR_MAX - 8];
	snprintf(ip, sizeof(ip), "%.110s", st->listen_addr);
	*strrchr(ip, ':') = '\0';
	if (strcmp(ip, "0.0.0.0") == 0 || strcmp(ip, "[::]") == 0)
		guess_ip(ip, sizeof(ip));
	snprintf(st->advertise_addr, sizeof(st->advertise_addr), "%s:%d", ip,
		 port);
}

static void describe(const struct swarm_state *st, struct agent_desc *d)
{
	struct utsname u;
	struct sysinfo si;
	memset(d, 0, sizeof(*d));
	if (gethostname(d->hostname, sizeof(d->hostname) - 1) < 0)
		snprintf(d->hostname, sizeof(d->hostname), "unknown");
	snprintf(d->os, sizeof(d->os), "linux");
	if (uname(&u) == 0)
		snprintf(d->arch, sizeof(d->arch), "%.31s", u.machine);
	long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
	d->nano_cpus = (ncpu > 0 ? ncpu : 1) * 1000000000LL;
	if (sysinfo(&si) == 0)
		d->memory_bytes = (int64_t)si.totalram * si.mem_unit;
	snprintf(d->engine_version, sizeof(d->engine_version), "%s",
		 SHOAL_VERSION);
	snprintf(d->addr, sizeof(d->addr), "%s", st->advertise_addr);
}

/* One line per certificate this node gets: the cluster test reads the
 * lifetime (CAConfig.NodeCertExpiry) from it. */
static void cert_note(const struct swarm_state *st, const char *how)
{
	struct wire_cert_info info;
	char until[48];
	if (wire_cert_decode(st->cert, st->cert_len, &info) < 0)
		return;
	time_format_rfc3339(info.not_after * NSEC_PER_SEC, until,
			    sizeof(until));
	log_info("node=%s %s a %s certificate valid until %s (lifetime %lld "
		 "s)",
		 st->node_id, how, wire_role_name(info.role), until,
		 (long long)(info.not_after - info.not_before -
			     AGENT_CERT_SLACK_S));
}

/* The swarm's Raft settings a manager's answer carried into @st. */
static void take_raft(struct swarm_state *st, bool has,
		      const struct agent_raft *r)
{
	if (!has)
		return;
	st->raft = (struct swarm_raft){
		.election_tick = r->election_tick,
		.heartbeat_tick = r->heartbeat_tick,
		.snapshot_interval = r->snapshot_interval,
		.keep_old_snapshots = r->keep_old_snapshots,
		.log_entries_for_slow_followers =
			r->log_entries_for_slow_followers,
	};
}

static void init_forget(struct daemon_swarm *s)
{
	json_decref(s->init_spec);
	s->init_spec = NULL;
	s->init_availability[0] = '\0';
}

static void save(void *arg)
{
	struct daemon_swarm *s = arg;
	char err[256];
	int rc =
		swarm_state_save(s->d->cfg.data_root, &s->st, err, sizeof(err));
	if (rc < 0)
		log_error("cannot save the swarm state: %s", err);
}

/* --- parts: manager and agent -------------------------------------------- */

static void stop_parts(struct daemon_swarm *s);

static void agent_ended(void *arg, const char *why)
{
	struct daemon_swarm *s = arg;
	s->state = "error";
	snprintf(s->error, sizeof(s->error), "%s", why);
	log_error("swarm session ended for good: %s", why);
}

static int start_parts(struct daemon_swarm *s, char *err, size_t errlen);

/* The parts have stopped after a role change: start them in the new one. */
static void restart_parts(struct daemon_swarm *s)
{
	char err[320];
	if (s->st.role == WIRE_ROLE_WORKER)
		swarm_state_remove_raft(s->d->cfg.data_root);
	int rc = start_parts(s, err, sizeof(err));
	if (rc < 0) {
		s->state = "error";
		snprintf(s->error, sizeof(s->error), "%s", err);
		log_error("cannot restart as %s: %s",
			  wire_role_name(s->st.role), err);
	}
}

/* A new node's data-encryption key, and with @autolock the unlock key that
 * seals it (manager/lock.h). */
static void new_keys(struct swarm_state *st, bool autolock)
{
	shoal_random(st->dek, sizeof(st->dek));
	st->has_dek = true;
	st->autolock = autolock;
	if (autolock)
		shoal_random(st->kek, sizeof(st->kek));
}

/* Promoted or demoted: keep the new certificate, restart in that role. */
static void agent_renewed(void *arg, const struct agent_renewal *r)
{
	struct daemon_swarm *s = arg;
	struct swarm_state *st = &s->st;
	if (r->role == st->role) {
		/* Renewed before expiry: same role, nothing to restart. */
		memcpy(st->cert, r->cert, r->cert_len);
		st->cert_len = r->cert_len;
		if (s->mgr)
			mgr_cert_renewed(s->mgr);
		save(s);
		cert_note(st, "renewed its certificate:");
		return;
	}
	st->role = r->role;
	memcpy(st->cert, r->cert, r->cert_len);
	st->cert_len = r->cert_len;
	st->has_root_sk = r->has_root_sk;
	if (r->has_root_sk)
		memcpy(st->root_sk, r->root_sk, WIRE_SK_LEN);
	else
		shoal_wipe(st->root_sk, WIRE_SK_LEN);
	/* Managers encrypt their data at rest; workers keep none of the
	 * swarm's secrets and, as in Docker, are never locked
	 * (docs/autolock.md). */
	if (r->role == WIRE_ROLE_MANAGER && !st->has_dek)
		new_keys(st, false);
	if (r->role == WIRE_ROLE_MANAGER)
		take_raft(st, r->has_raft, &r->raft);
	if (r->role == WIRE_ROLE_WORKER) {
		st->has_dek = st->autolock = false;
		shoal_wipe(st->dek, sizeof(st->dek));
		shoal_wipe(st->kek, sizeof(st->kek));
		st->has_tokens = false;
		shoal_wipe(&st->worker_token, sizeof(st->worker_token));
		shoal_wipe(&st->manager_token, sizeof(st->manager_token));
	}
	st->founder = false;
	for (size_t i = 0; i < r->nmanagers; i++) {
		snprintf(st->managers[i], SWARM_ADDR_MAX, "%s", r->managers[i]);
		snprintf(st->manager_ids[i], WIRE_ID_MAX + 1, "%s",
			 r->manager_ids[i]);
	}
	if (r->nmanagers)
		st->nmanagers = r->nmanagers;
	char err[320];
	if (swarm_state_save(s->d->cfg.data_root, st, err, sizeof(err)) < 0) {
		log_error("cannot save the new %s certificate: %s",
			  wire_role_name(r->role), err);
		return;
	}
	log_info("node=%s is now a %s; restarting its swarm parts", st->node_id,
		 wire_role_name(r->role));
	cert_note(st, "got");
	s->after = restart_parts;
	stop_parts(s);
	if (s->pending_parts == 0) {
		s->after = NULL;
		restart_parts(s);
	}
}

/* A worker keeps the managers' addresses it hears of, so that it finds
 * them after a restart even if those it joined through are gone. (A
 * manager's list comes from its store, see manager/cluster.c.) */
static void agent_managers(void *arg, const char (*list)[AGENT_ADDR_MAX],
			   size_t n)
{
	struct daemon_swarm *s = arg;
	struct swarm_state *st = &s->st;
	if (s->mgr || n == 0 || n > SWARM_MAX_MANAGERS)
		return;
	char ids[SWARM_MAX_MANAGERS][WIRE_ID_MAX + 1] = {{0}};
	for (size_t i = 0; i < n; i++)
		for (size_t k = 0; k < st->nmanagers; k++)
			if (strcmp(st->managers[k], list[i]) == 0)
				memcpy(ids[i], st->manager_ids[k],
				       sizeof(ids[i]));
	for (size_t i = 0; i < n; i++) {
		snprintf(st->managers[i], SWARM_ADDR_MAX, "%s", list[i]);
		memcpy(st->manager_ids[i], ids[i], sizeof(ids[i]));
	}
	st->nmanagers = n;
	save(s);
}

/* The store holds the cluster object: an init in flight is done. */
static void mgr_ready(void *arg)
{
	struct daemon_swarm *s = arg;
	api_swarm_done_fn *done = s->init_done;
	s->init_done = NULL;
	init_forget(s);
	if (done)
		done(s->init_ctx, 0, "");
}

/* The agent's side of the tasks: assignments in, statuses out. */
static void tasks_assigned(void *arg, uint64_t generation,
			   const struct agent_item *items, size_t n)
{
	struct daemon_swarm *s = arg;
	(void)generation;
	if (s->nets) /* networks first: the tasks' containers join them */
		wnet_assign(s->nets, items, n);
	if (s->tasks)
		wexec_assign(s->tasks, items, n);
	if (s->atts) /* after the networks: a join answers a request */
		watt_assign(s->atts, items, n);
	daemon__blobs_assigned(s->blobs, items, n);
}

static void tasks_session(void *arg)
{
	struct daemon_swarm *s = arg;
	if (s->logs)
		wlogs_drop_all(s->logs); /* they were the old session's */
	if (s->tasks)
		wexec_resend(s->tasks);
}

static void logs_request(void *arg, const struct agent_logs_req *rq)
{
	struct daemon_swarm *s = arg;
	if (s->logs)
		wlogs_subscribe(s->logs, rq);
	else if (s->agent)
		agent_send_logs(s->agent, rq->sub_id, NULL, 0, true,
				"this node serves no logs");
}

static void logs_control(void *arg, uint64_t sub_id, bool cancel,
			 uint32_t credit)
{
	struct daemon_swarm *s = arg;
	if (s->logs)
		wlogs_control(s->logs, sub_id, cancel, credit);
}

static int logs_send(void *arg, uint64_t sub_id,
		     const struct agent_log_line *lines, size_t n, bool done,
		     const char *error)
{
	struct daemon_swarm *s = arg;
	return s->agent ? agent_send_logs(s->agent, sub_id, lines, n, done,
					  error)
			: -ENOTCONN;
}

static void tasks_report(void *arg, const struct wexec_report *r, size_t n)
{
	struct daemon_swarm *s = arg;
	const char *ids[64], *sts[64];
	for (size_t i = 0; i < n && s->agent; i += 64) {
		size_t k = n - i < 64 ? n - i : 64;
		for (size_t j = 0; j < k; j++) {
			ids[j] = r[i + j].task_id;
			sts[j] = r[i + j].status_json;
		}
		/* Outside a session the statuses go at the next one. */
		agent_report(s->agent, ids, sts, k);
	}
}

/* A task of this node about to stop leaves its VIP maps here first. */
static void tasks_leave(void *arg, const char *task_id, void (*done)(void *),
			void *done_arg)
{
	struct daemon_swarm *s = arg;
	if (s->nets)
		wnet_task_leave(s->nets, task_id, done, done_arg);
	else
		done(done_arg);
}

static void image_progress(void *arg, const char *id, const char *msg)
{
	struct daemon_swarm *s = arg;
	if (s->tasks)
		wexec_image_progress(s->tasks, id, msg);
}

static void image_fetched(void *arg, const char *id, int rc, const char *msg)
{
	struct daemon_swarm *s = arg;
	if (s->tasks)
		wexec_image_fetched(s->tasks, id, rc, msg);
}

static int start_tasks(struct daemon_swarm *s, const struct agent_desc *d,
		       char *err, size_t errlen)
{
	struct wfetch_config fc = {
		.loop = &s->d->loop,
		.store = s->d->images,
		.root_pk = s->st.root_pk,
		.identity = &s->st.identity,
		.cert = s->st.cert,
		.cert_len = &s->st.cert_len,
		.progress = image_progress,
		.ended = image_fetched,
		.arg = s,
		.insecure = s->d->insecure,
		.n_insecure = s->d->cfg.n_insecure,
		.certs_dir = s->certs_dir,
	};
	snprintf(s->certs_dir, sizeof(s->certs_dir), "%s/certs.d",
		 s->d->cfg.data_root);
	if (!s->fetch && s->d->images && wfetch_open(&fc, &s->fetch) < 0)
		log_warn("tasks will not fetch missing images from the swarm: "
			 "out of memory");
	struct wexec_config xc = {
		.loop = &s->d->loop,
		.eng = s->d->engine,
		.data_root = s->d->cfg.data_root,
		.node_id = s->st.node_id,
		.node = {d->hostname, d->os, d->arch},
		.report = tasks_report,
		.leave = tasks_leave,
		.arg = s,
		.fetch = s->fetch,
	};
	int rc = wexec_open(&xc, &s->tasks);
	if (rc < 0) {
		snprintf(err, errlen, "cannot start the task executor: %s",
			 shoal_strerror(rc));
		return rc;
	}
	struct wlogs_config lc = {
		.loop = &s->d->loop,
		.eng = s->d->engine,
		.tasks = s->tasks,
		.send = logs_send,
		.arg = s,
	};
	rc = wlogs_open(&lc, &s->logs);
	if (rc < 0) {
		wexec_close(s->tasks);
		s->tasks = NULL;
		snprintf(err, errlen, "cannot start the task logs: %s",
			 shoal_strerror(rc));
		return rc;
	}
	struct wnet_config nc = {
		.loop = &s->d->loop,
		.net = eng_net(s->d->engine),
		.vtep = s->st.advertise_addr,
	};
	if (wnet_open(&nc, &s->nets) < 0)
		log_warn(
			"overlay networks are off on this node: its advertised "
			"address %s is not a unicast IPv4 address",
			s->st.advertise_addr);
	struct watt_config wc = {
		.loop = &s->d->loop,
		.net = s->nets ? eng_net(s->d->engine) : NULL,
		.eng = s->d->engine,
	};
	if (watt_open(&wc, &s->atts) < 0)
		s->atts = NULL; /* attaching answers "not in a swarm" */
	return rc;
}

static int start_parts(struct daemon_swarm *s, char *err, size_t errlen)
{
	struct agent_desc d;
	describe(&s->st, &d);
	if (!s->tasks && s->d->engine) {
		int rc = start_tasks(s, &d, err, errlen);
		if (rc < 0)
			return rc;
	}
	if (s->st.role == WIRE_ROLE_MANAGER && s->st.has_root_sk) {
		struct mgr_node_desc md;
		_Static_assert(sizeof(md) == sizeof(d), "same description");
		memcpy(&md, &d, sizeof(md));
		struct mgr_config mc = {
			.loop = &s->d->loop,
			.data_root = s->d->cfg.data_root,
			.st = &s->st,
			.self = &md,
			.founder = s->st.founder,
			.init_spec = s->init_spec,
			.init_availability = s->init_availability,
			.ready = mgr_ready,
			.state_changed = save,
			.arg = s,
		};
		int rc = mgr_start(&mc, &s->mgr, err, errlen);
		if (rc < 0) {
			stop_parts(s);
			return rc;
		}
		log_info("manager listening on %s (advertised %s)",
			 s->st.listen_addr, s->st.advertise_addr);
		if (s->d->engine &&
		    swarm_events_start(s->d->engine, s->mgr, &s->events) < 0)
			log_warn("docker events will not show this swarm's "
				 "services and nodes: out of memory");
	}
	struct agent_config ac = {
		.loop = &s->d->loop,
		.identity = &s->st.identity,
		.cert = s->st.cert,
		.cert_len = s->st.cert_len,
		.root_pk = s->st.root_pk,
		.managers = (const char(*)[AGENT_ADDR_MAX])s->st.managers,
		.nmanagers = s->st.nmanagers,
		.desc = &d,
		.images = s->d->images,
		.ended = agent_ended,
		.renewed = agent_renewed,
		.managers_changed = agent_managers,
		.assigned = tasks_assigned,
		.session = tasks_session,
		.logs = logs_request,
		.logs_control = logs_control,
		.arg = s,
	};
	_Static_assert(SWARM_ADDR_MAX == AGENT_ADDR_MAX, "same address size");
	int rc = agent_start(&ac, &s->agent);
	if (rc < 0) {
		snprintf(err, errlen, "cannot start the agent: %s",
			 shoal_strerror(rc));
		stop_parts(s);
		return rc;
	}
	if (s->atts)
		watt_set_agent(s->atts, s->agent);
	char berr[200];
	if (!s->blobs &&
	    daemon__blobs_start(&s->d->loop, &s->st, s->d->images, 0, &s->blobs,
				berr, sizeof(berr)) < 0)
		log_warn("this node serves no image blobs to its swarm: %s",
			 berr);
	s->state = "active";
	s->error[0] = '\0';
	return 0;
}

/* Parts still closing; @after runs once none is, if set. */
static void part_stopped(void *arg)
{
	struct daemon_swarm *s = arg;
	if (--s->pending_parts > 0 || !s->after)
		return;
	void (*after)(struct daemon_swarm *) = s->after;
	s->after = NULL;
	after(s);
}

static void stop_parts(struct daemon_swarm *s)
{
	daemon__blobs_stop(s->blobs);
	s->blobs = NULL;
	if (s->logs) {
		wlogs_close(s->logs);
		s->logs = NULL;
	}
	if (s->nets) {
		wnet_close(s->nets);
		s->nets = NULL;
	}
	if (s->atts) {
		watt_close(s->atts);
		s->atts = NULL;
	}
	if (s->tasks) {
		/* Task containers go on running; the next start adopts them. */
		wexec_close(s->tasks);
		s->tasks = NULL;
	}
	wfetch_close(s->fetch);
	s->fetch = NULL;
	if (s->agent) {
		s->pending_parts++;
		agent_stop(s->agent, part_stopped, s);
		s->agent = NULL;
	}
	swarm_events_stop(s->events);
	s->events = NULL;
	if (s->mgr) {
		s->pending_parts++;
		mgr_stop(s->mgr, part_stopped, s);
		s->mgr = NULL;
	}
}

/* --- API operations ------------------------------------------------------ */

static void op_local(void *arg, struct api_swarm_local *out)
{
	struct daemon_swarm *s = ((struct daemon *)arg)->swarm;
	out->state = s->state;
	out->error = s->error;
	out->st = s->have_state && strcmp(s->state, "active") == 0 ? &s->st
								   : NULL;
	out->mgr = s->mgr;
	out->watt = out->st ? s->atts : NULL;
}

static int still_leaving(const struct daemon_swarm *s, char *err,
			 size_t errlen);

static int op_init(void *arg, const struct api_swarm_init *req,
		   api_swarm_done_fn *done, void *ctx, char *err, size_t errlen)
{
	struct daemon_swarm *s = ((struct daemon *)arg)->swarm;
	if (s->have_state || strcmp(s->state, "pending") == 0 ||
	    strcmp(s->state, "locked") == 0)
		return -EEXIST;
	int busy = still_leaving(s, err, errlen);
	if (busy < 0)
		return busy;
	memset(&s->st, 0, sizeof(s->st));
	new_keys(&s->st, req->autolock);
	pick_addrs(req->listen_addr, req->advertise_addr, s->d->cfg.listen_addr,
		   &s->st);
	/* Checked by the API; its settings are this node's from the start
	 * (Raft's included), the rest goes into the cluster object. */
	swarm_spec_to_state(req->spec, &s->st);
	s->init_spec = json_incref((json_t *)req->spec);
	snprintf(s->init_availability, sizeof(s->init_availability), "%s",
		 req->availability ? req->availability : "");
	s->st.created_ns = time_real_ns();
	s->st.founder = true;
	snprintf(s->st.managers[0], SWARM_ADDR_MAX, "%s", s->st.advertise_addr);
	/* node_id is set by ca_init_cluster() below. */
	s->st.nmanagers = 1;
	int rc = ca_init_cluster(&s->st, time_real_ns() / NSEC_PER_SEC);
	if (rc == 0)
		rc = swarm_state_save(s->d->cfg.data_root, &s->st, err, errlen);
	else
		snprintf(err, errlen, "cannot create the cluster: %s",
			 shoal_strerror(rc));
	if (rc == 0) {
		/* A Raft log left by an earlier swarm is not this one's. */
		swarm_state_remove_raft(s->d->cfg.data_root);
		s->init_done = done;
		s->init_ctx = ctx;
		rc = start_parts(s, err, errlen);
	}
	if (rc < 0) {
		s->init_done = NULL;
		init_forget(s);
		swarm_state_remove(s->d->cfg.data_root);
		swarm_state_wipe(&s->st);
		s->state = "inactive";
		return rc;
	}
	s->have_state = true;
	log_info("swarm %s initialized; node=%s is its first manager",
		 s->st.cluster_id, s->st.node_id);
	cert_note(&s->st, "holds");
	return 0;
}

struct join_ctx {
	struct daemon_swarm *s;
	api_swarm_done_fn *done;
	void *ctx;
	char listen[SWARM_ADDR_MAX];
	char advertise[SWARM_ADDR_MAX];
	struct wire_keypair id;
};

static void joined(void *arg, const struct agent_join_result *r)
{
	struct join_ctx *j = arg;
	struct daemon_swarm *s = j->s;
	char err[300];
	int rc = r->rc;
	snprintf(err, sizeof(err), "%s", r->error);
	if (rc == 0) {
		struct swarm_state *st = &s->st;
		memset(st, 0, sizeof(*st));
		if (r->role == WIRE_ROLE_MANAGER)
			new_keys(st, false);
		snprintf(st->listen_addr, sizeof(st->listen_addr), "%s",
			 j->listen);
		snprintf(st->advertise_addr, sizeof(st->advertise_addr), "%s",
			 j->advertise);
		snprintf(st->cluster_id, sizeof(st->cluster_id), "%s",
			 r->cluster_id);
		snprintf(st->node_id, sizeof(st->node_id), "%s", r->node_id);
		st->role = r->role;
		st->identity = j->id;
		memcpy(st->cert, r->cert, r->cert_len);
		st->cert_len = r->cert_len;
		memcpy(st->root_pk, r->root_pk, WIRE_PK_LEN);
		if (r->has_root_sk) {
			memcpy(st->root_sk, r->root_sk, WIRE_SK_LEN);
			st->has_root_sk = true;
		}
		for (size_t i = 0; i < r->nmanagers; i++) {
			snprintf(st->managers[i], SWARM_ADDR_MAX, "%s",
				 r->managers[i]);
			snprintf(st->manager_ids[i], WIRE_ID_MAX + 1, "%s",
				 r->manager_ids[i]);
		}
		st->nmanagers = r->nmanagers;
		st->heartbeat_ms = r->heartbeat_ms ? r->heartbeat_ms
						   : SWARM_DEFAULT_HEARTBEAT_MS;
		take_raft(st, r->has_raft, &r->raft);
		st->created_ns = time_real_ns();
		rc = st->nmanagers ? 0 : -EPROTO;
		if (rc < 0)
			snprintf(err, sizeof(err),
				 "the manager named no managers");
		if (rc == 0)
			rc = swarm_state_save(s->d->cfg.data_root, st, err,
					      sizeof(err));
		if (rc == 0) {
			swarm_state_remove_raft(s->d->cfg.data_root);
			rc = start_parts(s, err, sizeof(err));
		}
		if (rc < 0) {
			swarm_state_remove(s->d->cfg.data_root);
			swarm_state_wipe(st);
		} else {
			s->have_state = true;
			log_info("joined swarm %s as %s node=%s", r->cluster_id,
				 wire_role_name(r->role), r->node_id);
			cert_note(st, "got");
		}
	}
	if (rc < 0) {
		s->state = "inactive";
		log_warn("join failed: %s", err);
	}
	wire_keypair_wipe(&j->id);
	if (rc == 0 && s->mgr && !mgr_cluster(s->mgr)) {
		/* A new manager answers once its store has caught up, so
		 * that it can serve what the caller does next. */
		s->init_done = j->done;
		s->init_ctx = j->ctx;
	} else {
		j->done(j->ctx, rc, err);
	}
	shoal_free(j);
}

static int op_join(void *arg, const struct api_swarm_join *req,
		   api_swarm_done_fn *done, void *ctx, char *err, size_t errlen)
{
	struct daemon_swarm *s = ((struct daemon *)arg)->swarm;
	if (s->have_state || strcmp(s->state, "pending") == 0 ||
	    strcmp(s->state, "locked") == 0)
		return -EEXIST;
	int busy = still_leaving(s, err, errlen);
	if (busy < 0)
		return busy;
	struct join_ctx *j = shoal_calloc(1, sizeof(*j));
	if (!j)
		return -ENOMEM;
	struct swarm_state tmp;
	memset(&tmp, 0, sizeof(tmp));
	pick_addrs(req->listen_addr, req->advertise_addr, s->d->cfg.listen_addr,
		   &tmp);
	snprintf(j->listen, sizeof(j->listen), "%s", tmp.listen_addr);
	snprintf(j->advertise, sizeof(j->advertise), "%s", tmp.advertise_addr);
	j->s = s;
	j->done = done;
	j->ctx = ctx;
	wire_keypair_generate(&j->id);
	struct agent_desc d;
	describe(&tmp, &d);
	int rc = agent_join(&s->d->loop, req->token, req->remote_addr, &j->id,
			    &d, joined, j, err, errlen);
	if (rc < 0) {
		wire_keypair_wipe(&j->id);
		shoal_free(j);
		return rc;
	}
	s->state = "pending";
	return 0;
}

static void drop_raft_log(struct daemon_swarm *s)
{
	int rc = swarm_state_remove_raft(s->d->cfg.data_root);
	if (rc < 0)
		log_error("cannot remove the raft log of the swarm left: %s",
			  shoal_strerror(rc));
}

/* A swarm left a moment ago may still be closing its parts. */
static int still_leaving(const struct daemon_swarm *s, char *err, size_t errlen)
{
	if (s->pending_parts == 0)
		return 0;
	snprintf(err, errlen,
		 "this node is still leaving its previous swarm; "
		 "try again in a moment");
	return -EAGAIN;
}

static int op_leave(void *arg, bool force, char *err, size_t errlen)
{
	struct daemon_swarm *s = ((struct daemon *)arg)->swarm;
	bool locked = strcmp(s->state, "locked") == 0; /* a manager */
	if ((locked || s->st.role == WIRE_ROLE_MANAGER) && !force) {
		snprintf(err, errlen,
			 "You are attempting to leave the swarm on a node that "
			 "is participating as a manager. Removing the last "
			 "manager erases all current state of the swarm. Use "
			 "`--force` to ignore this message.");
		return -EBUSY;
	}
	if (s->init_done) {
		s->init_done(s->init_ctx, -ECANCELED,
			     "the node left the swarm");
		s->init_done = NULL;
	}
	init_forget(s);
	if (s->tasks)
		wexec_leave(s->tasks); /* Docker removes the task containers */
	if (s->nets)
		wnet_leave(s->nets); /* and the overlays they were on */
	stop_parts(s);
	/* The Raft log goes once the manager has stopped writing it. */
	int rc = swarm_state_remove_files(s->d->cfg.data_root);
	if (s->pending_parts == 0)
		swarm_state_remove_raft(s->d->cfg.data_root);
	else
		s->after = drop_raft_log;
	if (rc < 0) {
		snprintf(err, errlen, "cannot remove the swarm state: %s",
			 shoal_strerror(rc));
		log_error("%s", err);
	}
	log_info("left swarm %s", s->st.cluster_id);
	swarm_state_wipe(&s->st);
	s->have_state = false;
	s->state = "inactive";
	s->error[0] = '\0';
	return rc;
}

static void op_saved(void *arg)
{
	save(((struct daemon *)arg)->swarm);
}

static int op_unlock(void *arg, const char *key, char *err, size_t errlen)
{
	struct daemon_swarm *s = ((struct daemon *)arg)->swarm;
	if (strcmp(s->state, "locked") != 0) {
		snprintf(err, errlen, "swarm is not locked");
		return -EAGAIN;
	}
	uint8_t kek[SWARM_KEY_LEN];
	int rc = swarm_lock_key_parse(key, kek);
	if (rc == 0)
		rc = swarm_state_unlock(s->d->cfg.data_root, kek, &s->st, err,
					errlen);
	shoal_wipe(kek, sizeof(kek));
	if (rc == -EINVAL || rc == -EKEYREJECTED) {
		log_warn("swarm unlock refused: invalid key");
		snprintf(err, errlen,
			 "swarm could not be unlocked: invalid key provided");
		return -EINVAL;
	}
	if (rc < 0)
		return rc;
	s->have_state = true;
	rc = start_parts(s, err, errlen);
	if (rc < 0) {
		s->state = "error";
		snprintf(s->error, sizeof(s->error), "%s", err);
		return rc;
	}
	log_info("swarm %s unlocked; node=%s resumes as %s", s->st.cluster_id,
		 s->st.node_id, wire_role_name(s->st.role));
	return 0;
}

static const struct api_swarm_ops ops = {
	.local = op_local,
	.init = op_init,
	.join = op_join,
	.leave = op_leave,
	.saved = op_saved,
	.unlock = op_unlock,
};

const struct api_swarm_ops *daemon__swarm_ops(void)
{
	return &ops;
}

const char *daemon__swarm_state(void *arg)
{
	struct daemon *d = arg;
	struct daemon_swarm *s = d->swarm;
	if (!s)
		return "inactive";
	if (strcmp(s->state, "active") == 0 && s->have_state)
		return s->st.role == WIRE_ROLE_MANAGER ? "active/manager"
						       : "active/worker";
	return s->state;
}

/* --- the service --------------------------------------------------------- */

int daemon__swarm_start(struct daemon *d)
{
	struct daemon_swarm *s = shoal_calloc(1, sizeof(*s));
	if (!s) {
		log_error("cannot start swarm: out of memory");
		return -ENOMEM;
	}
	s->d = d;
	s->state = "inactive";
	d->swarm = s;
	char err[300];
	int rc = swarm_state_load(d->cfg.data_root, &s->st, err, sizeof(err));
	if (rc == -ENOENT)
		return 0;
	if (rc == -ENOKEY) {
		/* Autolock: nothing of the swarm runs until `swarm unlock`. */
		s->state = "locked";
		log_info("swarm is locked: run `shoal swarm unlock` with the "
			 "unlock key");
		return 0;
	}
	if (rc < 0) {
		/* Keep serving the API so the operator can see and leave. */
		s->state = "error";
		snprintf(s->error, sizeof(s->error), "%s", err);
		log_error("swarm state does not load: %s", err);
		return 0;
	}
	s->have_state = true;
	if (s->st.role == WIRE_ROLE_MANAGER && !s->st.has_dek) {
		/* A manager from before encryption at rest: its files are
		 * sealed from now on, its Raft log's new entries encrypted
		 * (older ones still read). */
		new_keys(&s->st, false);
		save(s);
		log_info("node=%s: data at rest is encrypted from now on",
			 s->st.node_id);
	}
	rc = start_parts(s, err, sizeof(err));
	if (rc < 0) {
		s->state = "error";
		snprintf(s->error, sizeof(s->error), "%s", err);
		log_error("cannot resume swarm %s: %s", s->st.cluster_id, err);
		return 0;
	}
	log_info("resumed swarm %s as %s node=%s", s->st.cluster_id,
		 wire_role_name(s->st.role), s->st.node_id);
	return 0;
}

static void free_swarm(struct daemon_swarm *s)
{
	struct daemon *d = s->d;
	void (*done)(struct daemon *) = s->stopped;
	swarm_state_wipe(&s->st);
	shoal_free(s);
	d->swarm = NULL;
	done(d);
}

void daemon__swarm_stop(struct daemon *d, void (*done)(struct daemon *d))
{
	struct daemon_swarm *s = d->swarm;
	s->stopped = done;
	if (s->init_done) {
		s->init_done(s->init_ctx, -ECANCELED, "shoald is stopping");
		s->init_done = NULL;
	}
	init_forget(s);
	stop_parts(s);
	if (s->pending_parts == 0)
		free_swarm(s);
	else
		s->after = free_swarm;
}
