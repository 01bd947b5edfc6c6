/*
 * This node's containers on attachable overlays (attach.h; docs/
 * overlay.md, "Attachable overlays").
 *
 * A request goes through three steps: asked (the agent waits for the
 * leader's AttachNetworkResponse), granted (the managers gave an address;
 * the overlay's network item may not have reached this node yet), then
 * answered once net_overlay_list() shows the overlay joined (checked at
 * every set and by a 250 ms timer while a request waits), or refused past
 * WATT_JOIN_WAIT_MS. A granted attachment is claimed from the grant until
 * watt_release() or WATT_CLAIM_MS, so that the reconciliation of a set
 * arriving before the container's endpoint exists does not give it back.
 *
 * The reconciliation (check()) compares the set's attachments with the
 * endpoints the overlays of this node hold (net_network_inspect()): an
 * attachment whose address no endpoint holds, and that nobody claims, is
 * given back once per set, once it has been in the sets for
 * WATT_GRACE_MS (the set that brings a new attachment may come before
 * the answer to its request). Its item leaves the next set, and its
 * address goes back to the pool on the managers.
 *
 * Bounds: WATT_MAX_WAITING requests, WATT_MAX_HELD attachments remembered
 * from a set (more are ignored: they are kept, never given back wrongly).
 */
#define LOG_MODULE "agent"
#include "worker/attach.h"

#include "common/alloc.h"
#include "common/clock.h"
#include "common/error.h"
#include "common/jsonx.h"
#include "common/log.h"
#include "engine/engine.h"
#include "overlay-net/net.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define WATT_MAX_HELD 1024
#define WATT_MAX_CLAIMS 256
#define WATT_TICK_MS 250
/* An attachment first seen in a set is not given back for this long: the
 * set that carries a new attachment may come before the managers' answer
 * to its request (both follow the same write), when nothing claims it
 * yet. */
#define WATT_GRACE_MS 5000

struct waiting {
	uint64_t id; /* 0: a free slot */
	watt_cb *cb;
	void *arg;
	uint64_t agent_id; /* while the managers have not answered */
	bool granted;
	struct watt_grant g;
	int64_t deadline_ns; /* monotonic: for the join */
	struct watt *w;
};

struct claim {
	char task_id[65];
	int64_t until_ns;
};

struct held {
	char task_id[65];
	char net_id[65];
	char addr[16];
	bool given_back; /* in this set */
	int64_t seen_ns; /* monotonic: in a set first */
};

struct watt {
	uv_loop_t *loop;
	struct net *net;
	struct agent *agent;
	struct waiting wait[WATT_MAX_WAITING];
	uint64_t next_id;
	struct claim claims[WATT_MAX_CLAIMS];
	size_t n_claims;
	struct held *held;
	size_t n_held;
	uv_timer_t timer;
	bool timer_open, ticking;
	bool young; /* an unused attachment waits out WATT_GRACE_MS */
	struct eng_sub *sub;
};

/* ------------------------------------------------------------- claims */

static void unclaim(struct watt *w, const char *task_id)
{
	for (size_t i = 0; i < w->n_claims; i++)
		if (!strcmp(w->claims[i].task_id, task_id)) {
			w->claims[i] = w->claims[--w->n_claims];
			return;
		}
}

static void claim(struct watt *w, const char *task_id)
{
	unclaim(w, task_id);
	if (w->n_claims == WATT_MAX_CLAIMS)
		w->claims[0] = w->claims[--w->n_claims]; /* the oldest */
	struct claim *c = &w->claims[w->n_claims++];
	snprintf(c->task_id, sizeof(c->task_id), "%s", task_id);
	c->until_ns = time_mono_ns() + (int64_t)WATT_CLAIM_MS * NSEC_PER_MSEC;
}

static bool claimed(struct watt *w, const char *task_id, int64_t now)
{
	for (size_t i = 0; i < w->n_claims; i++)
		if (!strcmp(w->claims[i].task_id, task_id))
			return now < w->claims[i].until_ns;
	return false;
}

/* ------------------------------------------------------ reconciliation */

/* Whether an endpoint of this node holds @addr on overlay @net_id. */
static bool in_use(struct watt *w, const char *net_id, const char *addr)
{
	int rc = 0;
	json_t *n = w->net ? net_network_inspect(w->net, net_id, &rc) : NULL;
	const char *k;
	json_t *c;
	bool hit = false;
	size_t len = strlen(addr);
	json_object_foreach(jsonx_obj(n, "Containers"), k, c)
	{
		const char *a = jsonx_str(c, "IPv4Address", "");
		hit |= !strncmp(a, addr, len) && (a[len] == '/' || !a[len]);
	}
	json_decref(n);
	return hit;
}

static void tick_start(struct watt *w);

void watt_check(struct watt *w)
{
	int64_t now = time_mono_ns();
	w->young = false;
	for (size_t i = 0; i < w->n_held; i++) {
		struct held *h = &w->held[i];
		if (h->given_back || claimed(w, h->task_id, now) ||
		    in_use(w, h->net_id, h->addr))
			continue;
		if (now - h->seen_ns < (int64_t)WATT_GRACE_MS * NSEC_PER_MSEC) {
			w->young = true; /* checked again by the timer */
			continue;
		}
		int rc = w->agent ? agent_detach(w->agent, h->task_id)
				  : -ENOTCONN;
		if (rc < 0)
			continue; /* the next set tries again */
		h->given_back = true;
		log_info("attachment=%s (%s on network %s) given back: no "
			 "container of this node holds it",
			 h->task_id, h->addr, h->net_id);
	}
	if (w->young)
		tick_start(w);
}

/* An item of Kind "attachment" into @h; false when it has no address. */
static bool held_from(const json_t *o, struct held *h)
{
	const json_t *a =
		json_array_get(json_object_get(o, "NetworksAttachments"), 0);
	const char *id = jsonx_str(o, "ID", "");
	const char *net = jsonx_str(jsonx_obj(a, "Network"), "ID", "");
	const char *cidr = json_string_value(
		json_array_get(json_object_get(a, "Addresses"), 0));
	const char *slash = cidr ? strchr(cidr, '/') : NULL;
	struct in_addr ip;
	memset(h, 0, sizeof(*h));
	if (!*id || strlen(id) > 64 || !*net || strlen(net) > 64 || !slash ||
	    slash - cidr >= (ptrdiff_t)sizeof(h->addr))
		return false;
	snprintf(h->addr, sizeof(h->addr), "%.*s", (int)(slash - cidr), cidr);
	if (inet_pton(AF_INET, h->addr, &ip) != 1)
		return false;
	snprintf(h->task_id, sizeof(h->task_id), "%s", id);
	snprintf(h->net_id, sizeof(h->net_id), "%s", net);
	return true;
}

/* ------------------------------------------------------------ requests */

static void finish(struct waiting *s, int code, const char *error,
		   const struct watt_grant *g)
{
	watt_cb *cb = s->cb;
	void *arg = s->arg;
	s->id = 0;
	s->agent_id = 0;
	cb(arg, code, error, g);
}

static bool joined(struct watt *w, const char *net_id)
{
	struct net_overlay_state *v = NULL;
	size_t n = 0;
	bool hit = false;
	if (!w->net || net_overlay_list(w->net, &v, &n) < 0)
		return false;
	for (size_t i = 0; i < n; i++)
		hit |= !strcmp(v[i].id, net_id);
	shoal_free(v);
	return hit;
}

static void tick(uv_timer_t *t);

/* The timer runs while a request waits for its overlay or an unused
 * attachment waits out its grace. */
static void tick_start(struct watt *w)
{
	if (w->timer_open && !w->ticking) {
		uv_timer_start(&w->timer, tick, WATT_TICK_MS, WATT_TICK_MS);
		w->ticking = true;
	}
}

/* The granted requests whose overlay is now joined, or past their time. */
static void settle(struct watt *w)
{
	int64_t now = time_mono_ns();
	bool more = false;
	for (size_t i = 0; i < WATT_MAX_WAITING; i++) {
		struct waiting *s = &w->wait[i];
		if (!s->id || !s->granted)
			continue;
		if (joined(w, s->g.net_id)) {
			struct watt_grant g = s->g;
			finish(s, 0, "", &g);
		} else if (now >= s->deadline_ns) {
			char err[256];
			snprintf(err, sizeof(err),
				 "the overlay network %s was not set up on "
				 "this node in time; try again",
				 s->g.net_id);
			unclaim(w, s->g.task_id);
			finish(s, -ETIMEDOUT, err, NULL);
		} else {
			more = true;
		}
	}
	if (!more && !w->young && w->ticking) {
		uv_timer_stop(&w->timer);
		w->ticking = false;
	}
}

static void tick(uv_timer_t *t)
{
	struct watt *w = t->data;
	watt_check(w);
	settle(w);
}

/* The managers' answer to request @arg (a slot). */
static void answered(void *arg, int code, const char *error,
		     const char *task_id, const char *net_id, const char *json)
{
	struct waiting *s = arg;
	struct watt *w = s->w;
	json_t *o = NULL;
	s->agent_id = 0;
	if (code < 0) {
		finish(s, code, error, NULL);
		return;
	}
	const char *cidr = NULL, *slash = NULL;
	if (jsonx_parse_object(json, strlen(json), &o, NULL, 0) == 0)
		cidr = json_string_value(
			json_array_get(json_object_get(o, "Addresses"), 0));
	slash = cidr ? strchr(cidr, '/') : NULL;
	struct in_addr ip;
	char addr[16] = "";
	long prefix = slash ? strtol(slash + 1, NULL, 10) : 0;
	if (slash && slash - cidr < (ptrdiff_t)sizeof(addr))
		snprintf(addr, sizeof(addr), "%.*s", (int)(slash - cidr), cidr);
	json_decref(o);
	if (!*addr || inet_pton(AF_INET, addr, &ip) != 1 || prefix < 8 ||
	    prefix > 30) {
		log_warn("the managers' attachment=%s has no address", task_id);
		finish(s, -EPROTO,
		       "the managers' network attachment has no valid address",
		       NULL);
		return;
	}
	s->granted = true;
	snprintf(s->g.task_id, sizeof(s->g.task_id), "%s", task_id);
	snprintf(s->g.net_id, sizeof(s->g.net_id), "%s", net_id);
	snprintf(s->g.addr, sizeof(s->g.addr), "%s", addr);
	s->g.prefix = (int)prefix;
	s->deadline_ns =
		time_mono_ns() + (int64_t)WATT_JOIN_WAIT_MS * NSEC_PER_MSEC;
	claim(w, task_id);
	settle(w);
	if (s->id)
		tick_start(w);
}

int watt_attach(struct watt *w, const struct agent_attach_req *r, watt_cb *cb,
		void *arg, uint64_t *id)
{
	struct waiting *s = NULL;
	if (!w->agent || !w->net)
		return -ENOTCONN;
	for (size_t i = 0; i < WATT_MAX_WAITING && !s; i++)
		if (!w->wait[i].id)
			s = &w->wait[i];
	if (!s)
		return -EBUSY;
	memset(s, 0, sizeof(*s));
	s->w = w;
	s->cb = cb;
	s->arg = arg;
	int rc = agent_attach(w->agent, r, answered, s, &s->agent_id);
	if (rc < 0)
		return rc;
	s->id = ++w->next_id;
	*id = s->id;
	return 0;
}

void watt_cancel(struct watt *w, uint64_t id)
{
	for (size_t i = 0; id && i < WATT_MAX_WAITING; i++) {
		struct waiting *s = &w->wait[i];
		if (s->id != id)
			continue;
		if (s->agent_id && w->agent)
			agent_attach_cancel(w->agent, s->agent_id);
		if (s->granted)
			unclaim(w, s->g.task_id);
		s->id = 0;
		s->agent_id = 0;
		watt_check(w);
	}
}

void watt_release(struct watt *w, const char *task_id)
{
	unclaim(w, task_id);
	watt_check(w);
}

void watt_set_agent(struct watt *w, struct agent *a)
{
	if (w->agent && w->agent != a)
		for (size_t i = 0; i < WATT_MAX_WAITING; i++) {
			struct waiting *s = &w->wait[i];
			if (!s->id || !s->agent_id)
				continue;
			agent_attach_cancel(w->agent, s->agent_id);
			finish(s, -ENOTCONN,
			       "this node left the swarm; it cannot attach "
			       "containers to its overlays",
			       NULL);
		}
	w->agent = a;
}

void watt_assign(struct watt *w, const struct agent_item *items, size_t n)
{
	size_t k = 0, cap = n < WATT_MAX_HELD ? n : WATT_MAX_HELD;
	struct held *v = cap ? shoal_calloc(cap, sizeof(*v)) : NULL;
	int64_t now = time_mono_ns();
	if (cap && !v)
		return; /* the last set's stay: nothing is given back wrongly */
	for (size_t i = 0; i < n && k < cap; i++) {
		json_t *o = NULL;
		if (jsonx_parse_object((const char *)items[i].data,
				       items[i].len, &o, NULL, 0) < 0)
			continue;
		if (!strcmp(jsonx_str(o, "Kind", ""), "attachment") &&
		    held_from(o, &v[k])) {
			v[k].seen_ns = now;
			for (size_t j = 0; j < w->n_held; j++)
				if (!strcmp(w->held[j].task_id, v[k].task_id))
					v[k].seen_ns = w->held[j].seen_ns;
			k++;
		}
		json_decref(o);
	}
	shoal_free(w->held);
	w->held = v;
	w->n_held = k;
	settle(w);
	watt_check(w);
}

/* A container removed: its attachments are given back at once (the
 * release of its endpoints is done by then, engine/network.c). */
static void on_event(const struct eng_event *ev, void *arg)
{
	if (ev->type == ENG_EVENT_DESTROY)
		watt_check(arg);
}

int watt_open(const struct watt_config *cfg, struct watt **out)
{
	struct watt *w = shoal_calloc(1, sizeof(*w));
	if (!w)
		return -ENOMEM;
	w->loop = cfg->loop;
	w->net = cfg->net;
	if (w->loop) {
		uv_timer_init(w->loop, &w->timer);
		w->timer.data = w;
		w->timer_open = true;
	}
	if (cfg->eng && eng_subscribe(cfg->eng, on_event, w, &w->sub) < 0)
		w->sub = NULL; /* checked at each set only */
	*out = w;
	return 0;
}

static void closed(uv_handle_t *h)
{
	struct watt *w = h->data;
	shoal_free(w->held);
	shoal_free(w);
}

void watt_close(struct watt *w)
{
	if (!w)
		return;
	for (size_t i = 0; i < WATT_MAX_WAITING; i++)
		watt_cancel(w, w->wait[i].id);
	if (w->sub)
		eng_unsubscribe(w->sub);
	w->sub = NULL;
	if (w->timer_open) {
		uv_close((uv_handle_t *)&w->timer, closed);
	} else {
		shoal_free(w->held);
		shoal_free(w);
	}
}
