/*
 * Network attachments on the leader (docs/overlay.md, "Attachable
 * overlays"): a node's agent asks, over its session, for one of its
 * containers to join an attachable overlay (AttachNetwork); the leader
 * writes a network attachment, a task without ServiceID whose NodeID is
 * the session's certificate's (never a field of the message), and answers
 * once the allocator's stage of the orchestrator's pass (allocator.c) gave
 * it its address, or with why not. DetachNetwork deletes one, only the
 * sending node's own.
 *
 * The request is checked whole before anything is written: a network
 * named by id, name or unique id prefix that exists (SHOAL_ENOTFOUND,
 * Docker's "network X not found"), is attachable (-EPERM with swarmkit's
 * PermissionDenied words), a container id of 64 hex digits and 1 to
 * ALLOC_ATTACH_NAMES_MAX names the resolver can answer (-EINVAL). Asking
 * again for the same container and network (a restarted shoald adopting
 * its containers) answers the attachment that is there.
 *
 * The answer waits for the allocation: a component watching the tasks
 * table looks at the waiting requests after each change it sees. A
 * request has MGR_ATTACH_WAIT_NS; past it, or when its attachment is
 * refused by the allocator (the network went, became full), the node gets
 * the reason and the attachment is deleted. At most MGR_ATTACH_MAX wait
 * at once (-EBUSY). Waiting requests are the leader's memory: they go
 * with leadership, as the sessions do, and the orchestrator deletes an
 * attachment left unallocated (orchestrator.c, attachment()).
 */
#define LOG_MODULE "attach"
#include "common/alloc.h"
#include "common/clock.h"
#include "common/error.h"
#include "common/id.h"
#include "common/jsonx.h"
#include "common/log.h"
#include "manager/allocator.h"
#include "manager/internal.h"
#include "proto/swarm.pb-c.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#define MGR_ATTACH_MAX 256
#define MGR_ATTACH_WAIT_NS (30LL * NSEC_PER_SEC)

struct waiting {
	struct list_node link;
	char node_id[WIRE_ID_MAX + 1];
	uint64_t req_id;
	char task_id[STORE_ID_MAX + 1];
	int64_t deadline_ns; /* monotonic */
	bool seen;	     /* its task was in the store once */
};

struct mgr_attach {
	struct mgr *m;
	bool running;
	struct list_node waiting;
	size_t nwaiting;
	struct log_ratelimit rl;
};

static bool rl(struct mgr_attach *a)
{
	unsigned long held;
	return log_ratelimit_pass(&a->rl, time_mono_ns(), &held);
}

static void answer(struct mgr *m, const char *node_id, uint64_t req_id,
		   int code, const char *error, const char *task_id,
		   const char *net_id, const char *json)
{
	struct mgr_session *s =
		hmap_get_str(&m->disp.sessions_by_node, node_id);
	struct mgr_conn *c = mgr__session_conn(s);
	if (!c || c->closed)
		return; /* the node asks again on its next session */
	Swarm__Envelope env = SWARM__ENVELOPE__INIT;
	Swarm__AttachNetworkResponse r = SWARM__ATTACH_NETWORK_RESPONSE__INIT;
	r.req_id = req_id;
	r.code = code;
	r.error = (char *)(error ? error : "");
	r.task_id = (char *)(task_id ? task_id : "");
	r.network_id = (char *)(net_id ? net_id : "");
	r.attachment_json = (char *)(json ? json : "");
	env.body_case = SWARM__ENVELOPE__BODY_ATTACH_NETWORK_RESPONSE;
	env.attach_network_response = &r;
	mgr__send(c, &env);
}

static void drop(struct mgr_attach *a, struct waiting *w)
{
	list_remove(&w->link);
	a->nwaiting--;
	shoal_free(w);
}

static int delete_task(struct mgr *m, const struct store_object *o)
{
	struct store_batch b;
	store_batch_init(&b, time_real_ns());
	int rc = store_batch_delete(&b, STORE_TASKS, o->id, o->version);
	if (rc < 0) {
		store_batch_fini(&b);
		return rc;
	}
	return mgr__propose(m, &b, NULL, NULL);
}

/* The code for the allocator's reason @err (allocator.c, attach_alloc()). */
static int err_code(const char *err)
{
	if (strstr(err, "PermissionDenied"))
		return -EPERM;
	if (strstr(err, " not found"))
		return SHOAL_ENOTFOUND;
	return -ENOSPC;
}

/*
 * Whether @w is answered: its task allocated (the address), refused by
 * the allocator (the reason; the task deleted), gone, or past its time.
 */
static bool settle(struct mgr_attach *a, struct waiting *w, int64_t now)
{
	struct mgr *m = a->m;
	const struct store_object *o =
		store_get(m->store, STORE_TASKS, w->task_id);
	if (!o) {
		if (!w->seen && now < w->deadline_ns)
			return false; /* not applied yet */
		answer(m, w->node_id, w->req_id, -ECANCELED,
		       "the network attachment was removed before it got an "
		       "address; try again",
		       NULL, NULL, NULL);
		return true;
	}
	w->seen = true;
	json_t *sp = mgr__obj_json(o->spec, o->spec_len);
	json_t *st = mgr__obj_json(o->status, o->status_len);
	json_t *att =
		json_array_get(json_object_get(sp, "NetworksAttachments"), 0);
	const char *err = jsonx_str(st, "Err", "");
	bool done = true;
	if (att) {
		char *text = jsonx_dump(att, NULL);
		const char *net =
			jsonx_str(jsonx_obj(att, "Network"), "ID", "");
		if (text)
			answer(m, w->node_id, w->req_id, 0, NULL, o->id, net,
			       text);
		else
			answer(m, w->node_id, w->req_id, -ENOMEM,
			       "out of memory on the leader", NULL, NULL, NULL);
		shoal_free(text);
	} else if (*err || now >= w->deadline_ns) {
		answer(m, w->node_id, w->req_id,
		       *err ? err_code(err) : -ETIMEDOUT,
		       *err ? err
			    : "the managers gave the network attachment no "
			      "address in time; try again",
		       NULL, NULL, NULL);
		if (delete_task(m, o) < 0 && rl(a))
			log_warn("attachment=%s of node=%s cannot be deleted",
				 o->id, w->node_id);
	} else {
		done = false;
	}
	json_decref(sp);
	json_decref(st);
	return done;
}

static void settle_all(struct mgr_attach *a)
{
	int64_t now = time_mono_ns();
	struct list_node *p, *tmp;
	list_for_each_safe(p, tmp, &a->waiting)
	{
		struct waiting *w = list_entry(p, struct waiting, link);
		if (settle(a, w, now))
			drop(a, w);
	}
}

void mgr__attach_tick(struct mgr *m)
{
	if (m->attach && m->attach->running)
		settle_all(m->attach);
}

/* --- the request's check ------------------------------------------------ */

int mgr__attach_check(const struct store *s, const Swarm__AttachNetwork *r,
		      const struct store_object **net, char *err, size_t cap)
{
	size_t nl = r->network ? strlen(r->network) : 0;
	if (!nl || nl > 128) {
		snprintf(err, cap,
			 "a network name of 1 to 128 bytes is needed");
		return -EINVAL;
	}
	if (r->container_id && *r->container_id &&
	    !id_is_hex(r->container_id, 64)) {
		snprintf(err, cap, "a container id is 64 hex digits");
		return -EINVAL;
	}
	if (r->n_names > ALLOC_ATTACH_NAMES_MAX) {
		snprintf(err, cap,
			 "a container is attached with its name and at most "
			 "%d aliases",
			 ALLOC_ATTACH_NAMES_MAX - 1);
		return -EINVAL;
	}
	for (size_t i = 0; i < r->n_names; i++)
		if (!id_is_dns_name(r->names[i], 255)) {
			snprintf(
				err, cap,
				"%.64s cannot be a name on an overlay network: "
				"use letters, digits, '_' and '-' in labels "
				"of up to 63 separated by dots",
				r->names[i] ? r->names[i] : "");
			return -EINVAL;
		}
	*net = alloc_network_find(s, r->network);
	if (!*net) {
		snprintf(err, cap, "network %.128s not found", r->network);
		return SHOAL_ENOTFOUND;
	}
	json_t *spec = mgr__obj_json((*net)->spec, (*net)->spec_len);
	bool ok = jsonx_bool(spec, "Attachable", false) &&
		  !jsonx_bool(spec, "Ingress", false);
	json_decref(spec);
	if (!ok) {
		snprintf(err, cap,
			 "rpc error: code = PermissionDenied desc = network "
			 "%.128s not manually attachable",
			 r->network);
		return -EPERM;
	}
	return 0;
}

/* The attachment of container @ctr of node @node on @net_id, or NULL. */
static const struct store_object *existing(const struct store *s,
					   const char *node, const char *ctr,
					   const char *net_id)
{
	const struct store_object **all, *hit = NULL;
	size_t n;
	if (store_list(s, STORE_TASKS, &all, &n) < 0)
		return NULL;
	for (size_t i = 0; i < n && !hit; i++) {
		if (!memmem(all[i]->spec, all[i]->spec_len, ctr, strlen(ctr)))
			continue; /* cheap: most tasks are not attachments */
		json_t *sp = mgr__obj_json(all[i]->spec, all[i]->spec_len);
		const json_t *spec = jsonx_obj(sp, "Spec");
		if (!*jsonx_str(sp, "ServiceID", "") &&
		    !strcmp(jsonx_str(sp, "NodeID", ""), node) &&
		    !strcmp(jsonx_str(jsonx_obj(spec, "NetworkAttachmentSpec"),
				      "ContainerID", ""),
			    ctr) &&
		    !strcmp(jsonx_str(json_array_get(
					      json_object_get(spec, "Networks"),
					      0),
				      "Target", ""),
			    net_id))
			hit = all[i];
		json_decref(sp);
	}
	shoal_free(all);
	return hit;
}

static int write_task(struct mgr *m, const char *node,
		      const Swarm__AttachNetwork *r, const char *net_id,
		      char id[ID_SWARM_LEN + 1])
{
	char *spec, *status;
	int rc = alloc_attach_spec(node, net_id, r->container_id,
				   (const char *const *)r->names, r->n_names,
				   time_real_ns(), &spec, &status);
	if (rc < 0)
		return rc;
	struct store_batch b;
	store_batch_init(&b, time_real_ns());
	id_swarm(id);
	rc = store_batch_create(&b, STORE_TASKS, id, NULL, spec, strlen(spec),
				status, strlen(status));
	shoal_free(spec);
	shoal_free(status);
	if (rc < 0) {
		store_batch_fini(&b);
		return rc;
	}
	return mgr__propose(m, &b, NULL, NULL);
}

void mgr__on_attach(struct mgr_conn *c, const Swarm__AttachNetwork *r)
{
	struct mgr *m = c->m;
	struct mgr_attach *a = m->attach;
	if (!m->leader || !c->session) {
		log_warn("peer=%s node=%s network attachment outside its "
			 "session",
			 wire_chan_name(c->chan), c->node_id);
		wire_chan_close(c->chan);
		return;
	}
	char err[320];
	const struct store_object *net = NULL;
	int rc = mgr__attach_check(m->store, r, &net, err, sizeof(err));
	if (rc == 0 && (!a || !a->running)) {
		rc = SHOAL_ENOTLEADER;
		snprintf(err, sizeof(err),
			 "the leader is not ready yet; try again");
	} else if (rc == 0 && a->nwaiting >= MGR_ATTACH_MAX) {
		rc = -EBUSY;
		snprintf(err, sizeof(err),
			 "too many network attachments in flight; try again");
	}
	if (rc < 0) {
		answer(m, c->node_id, r->req_id, rc, err, NULL, NULL, NULL);
		return;
	}
	struct waiting *w = shoal_calloc(1, sizeof(*w));
	if (!w) {
		answer(m, c->node_id, r->req_id, -ENOMEM,
		       "out of memory on the leader", NULL, NULL, NULL);
		return;
	}
	const struct store_object *had =
		r->container_id && *r->container_id
			? existing(m->store, c->node_id, r->container_id,
				   net->id)
			: NULL;
	char id[ID_SWARM_LEN + 1];
	if (had)
		snprintf(id, sizeof(id), "%s", had->id);
	else
		rc = write_task(m, c->node_id, r, net->id, id);
	if (rc < 0) {
		shoal_free(w);
		answer(m, c->node_id, r->req_id, rc,
		       "the network attachment cannot be written; try again",
		       NULL, NULL, NULL);
		return;
	}
	snprintf(w->node_id, sizeof(w->node_id), "%s", c->node_id);
	snprintf(w->task_id, sizeof(w->task_id), "%s", id);
	w->req_id = r->req_id;
	w->deadline_ns = time_mono_ns() + MGR_ATTACH_WAIT_NS;
	list_push_back(&a->waiting, &w->link);
	a->nwaiting++;
	if (had && settle(a, w, time_mono_ns()))
		drop(a, w);
	log_info("node=%s container=%.12s network=%s attachment=%s%s",
		 c->node_id, r->container_id ? r->container_id : "", net->id,
		 id, had ? " (already there)" : "");
}

void mgr__on_detach(struct mgr_conn *c, const Swarm__DetachNetwork *d)
{
	struct mgr *m = c->m;
	if (!m->leader || !c->session) {
		log_warn("peer=%s node=%s network detach outside its session",
			 wire_chan_name(c->chan), c->node_id);
		wire_chan_close(c->chan);
		return;
	}
	const char *id = d->task_id ? d->task_id : "";
	const struct store_object *o =
		*id && strlen(id) <= STORE_ID_MAX
			? store_get(m->store, STORE_TASKS, id)
			: NULL;
	if (!o)
		return; /* gone already (node rm, a retry) */
	json_t *sp = mgr__obj_json(o->spec, o->spec_len);
	bool mine = !*jsonx_str(sp, "ServiceID", "x") &&
		    !strcmp(jsonx_str(sp, "NodeID", ""), c->node_id);
	json_decref(sp);
	if (!mine) {
		if (m->attach && rl(m->attach))
			log_warn(
				"node=%s asked to detach task=%s, which is not "
				"one of its network attachments",
				c->node_id, id);
		return;
	}
	int rc = delete_task(m, o);
	if (rc < 0)
		log_warn("attachment=%s of node=%s cannot be deleted: %s", id,
			 c->node_id, shoal_strerror(rc));
}

/* --- the component -------------------------------------------------------- */

static int start(void *arg, struct mgr *m, struct store_watcher *w)
{
	struct mgr_attach *a = arg;
	(void)m;
	(void)w;
	a->running = true;
	return 0;
}

static void changed(void *arg, struct store_watcher *w)
{
	struct mgr_attach *a = arg;
	struct store_event ev;
	int rc;
	while ((rc = store_watch_next(w, &ev)) != -EAGAIN) {
		if (rc == 0)
			store_event_fini(&ev);
	}
	settle_all(a);
}

static void stop(void *arg)
{
	struct mgr_attach *a = arg;
	a->running = false;
	while (!list_empty(&a->waiting))
		drop(a,
		     list_entry(list_front(&a->waiting), struct waiting, link));
}

int mgr__attach_init(struct mgr *m)
{
	struct mgr_attach *a = shoal_calloc(1, sizeof(*a));
	if (!a)
		return -ENOMEM;
	a->m = m;
	list_init(&a->waiting);
	a->rl.interval_ns = 10 * NSEC_PER_SEC;
	struct mgr_component c = {
		.name = "attach",
		.tables = STORE_TABLE_BIT(STORE_TASKS),
		.start = start,
		.changed = changed,
		.stop = stop,
		.arg = a,
	};
	int rc = mgr_component_add(m, &c);
	if (rc < 0) {
		shoal_free(a);
		return rc;
	}
	m->attach = a;
	return 0;
}

void mgr__attach_free(struct mgr *m)
{
	if (!m->attach)
		return;
	stop(m->attach);
	shoal_free(m->attach);
	m->attach = NULL;
}
