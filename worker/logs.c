/*
 * Task logs for service logs (logs.h).
 *
 * A subscription holds one runtime log reader per task it could open
 * (rt_log_open: tail and since applied by the runtime) and a timer. pump()
 * fills a batch by taking lines from each reader in turn until the batch
 * is full or no reader has a line ready, sends it when it has credit, and
 * decides what next: every reader at its end and not following -> a last,
 * empty batch marked done and the subscription freed; following -> the
 * timer polls again in WLOGS_POLL_MS; out of credit -> wait for
 * wlogs_control(). A reader whose container has exited ends (the runtime
 * says so), which ends a follow once every reader has.
 *
 * The timer is the only handle: a subscription is freed in its close
 * callback, never before, and nothing uses it once it is closing.
 */
#define LOG_MODULE "agent"
#include "worker/logs.h"

#include "common/alloc.h"
#include "common/error.h"
#include "common/list.h"
#include "common/log.h"
#include "engine/engine.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#define MAX_LINES 1024

struct reader {
	char task_id[WTASK_ID_MAX + 1];
	struct rt_log_reader *r;
	bool ended;
};

struct sub {
	struct list_node node;
	struct wlogs *l;
	uint64_t id;
	bool follow;
	uint32_t credit;
	struct reader *rd;
	size_t n;
	uv_timer_t timer;
	bool closing;
	/* the batch being filled */
	struct agent_log_line lines[MAX_LINES];
	size_t nlines;
	char data[WLOGS_BATCH_BYTES];
	size_t used;
};

struct wlogs {
	struct wlogs_config cfg;
	struct list_node subs;
	size_t nsubs;
	int open_timers;
	bool closing;
};

static void pump(struct sub *s);

static void maybe_free(struct wlogs *l)
{
	if (l->closing && l->open_timers == 0)
		shoal_free(l);
}

static void sub_closed(uv_handle_t *h)
{
	struct sub *s = h->data;
	struct wlogs *l = s->l;
	for (size_t i = 0; i < s->n; i++)
		if (s->rd[i].r)
			rt_log_close(s->rd[i].r);
	shoal_free(s->rd);
	shoal_free(s);
	l->open_timers--;
	maybe_free(l);
}

static void sub_end(struct sub *s)
{
	if (s->closing)
		return;
	s->closing = true;
	list_remove(&s->node);
	s->l->nsubs--;
	uv_close((uv_handle_t *)&s->timer, sub_closed);
}

static struct sub *find(struct wlogs *l, uint64_t id)
{
	struct list_node *p;
	list_for_each(p, &l->subs)
	{
		struct sub *s = list_entry(p, struct sub, node);
		if (s->id == id)
			return s;
	}
	return NULL;
}

static void on_timer(uv_timer_t *t)
{
	pump(t->data);
}

/* One line from reader @rd into the batch; false when it has none now or
 * the batch is full. */
static bool take(struct sub *s, struct reader *rd)
{
	struct rt_log_entry e;
	if (rd->ended || !rd->r || s->nlines >= MAX_LINES)
		return false;
	if (s->used + 4096 > sizeof(s->data) && s->nlines)
		return false; /* leave room: a line may be long */
	int rc = rt_log_next(rd->r, &e);
	if (rc == -EAGAIN) {
		if (!s->follow)
			rd->ended = true;
		return false;
	}
	if (rc < 0) {
		rd->ended = true;
		return false;
	}
	size_t len = e.len;
	if (len > sizeof(s->data) - s->used)
		len = sizeof(s->data) - s->used; /* cut an over-long line */
	memcpy(s->data + s->used, e.line, len);
	s->lines[s->nlines++] = (struct agent_log_line){
		.task_id = rd->task_id,
		.stream = e.stream,
		.time_ns = e.time_ns,
		.data = s->data + s->used,
		.len = len,
	};
	s->used += len;
	return true;
}

static bool all_ended(const struct sub *s)
{
	for (size_t i = 0; i < s->n; i++)
		if (!s->rd[i].ended)
			return false;
	return true;
}

static void pump(struct sub *s)
{
	struct wlogs *l = s->l;
	while (!s->closing && s->credit > 0) {
		bool any = true;
		while (any) {
			any = false;
			for (size_t i = 0; i < s->n; i++)
				any |= take(s, &s->rd[i]);
		}
		bool done = all_ended(s);
		if (s->nlines == 0 && !done)
			break;
		int rc = l->cfg.send(l->cfg.arg, s->id, s->lines, s->nlines,
				     done, NULL);
		s->nlines = 0;
		s->used = 0;
		s->credit--;
		if (rc < 0 || done) {
			sub_end(s);
			return;
		}
	}
	if (!s->closing && s->follow && s->credit > 0)
		uv_timer_start(&s->timer, on_timer, WLOGS_POLL_MS, 0);
}

int wlogs_open(const struct wlogs_config *cfg, struct wlogs **out)
{
	struct wlogs *l = shoal_calloc(1, sizeof(*l));
	if (!l)
		return -ENOMEM;
	l->cfg = *cfg;
	list_init(&l->subs);
	*out = l;
	return 0;
}

void wlogs_subscribe(struct wlogs *l, const struct agent_logs_req *rq)
{
	struct rt_log_options o = {
		.tail = rq->tail,
		.since_ns = rq->since_ns,
		.stdout_on = rq->out,
		.stderr_on = rq->err,
	};
	char cid[RT_ID_LEN + 1];
	if (l->closing || find(l, rq->sub_id)) {
		l->cfg.send(l->cfg.arg, rq->sub_id, NULL, 0, true,
			    "a subscription of that id exists");
		return;
	}
	if (l->nsubs >= WLOGS_MAX_SUBS) {
		l->cfg.send(l->cfg.arg, rq->sub_id, NULL, 0, true,
			    "too many log subscriptions on this node");
		return;
	}
	struct sub *s = shoal_calloc(1, sizeof(*s));
	if (s)
		s->rd = shoal_calloc(rq->n ? rq->n : 1, sizeof(*s->rd));
	if (!s || !s->rd) {
		if (s)
			shoal_free(s);
		l->cfg.send(l->cfg.arg, rq->sub_id, NULL, 0, true,
			    "out of memory");
		return;
	}
	s->l = l;
	s->id = rq->sub_id;
	s->follow = rq->follow;
	s->credit = rq->credit ? rq->credit : 1;
	for (size_t i = 0; i < rq->n; i++) {
		struct reader *rd = &s->rd[s->n];
		if (!rq->task_ids[i] || strlen(rq->task_ids[i]) > WTASK_ID_MAX)
			continue;
		if (wexec_container_of(l->cfg.tasks, rq->task_ids[i], cid) < 0)
			continue;
		if (rt_log_open(eng_runtime(l->cfg.eng), cid, &o, &rd->r) < 0)
			continue;
		snprintf(rd->task_id, sizeof(rd->task_id), "%s",
			 rq->task_ids[i]);
		s->n++;
	}
	uv_timer_init(l->cfg.loop, &s->timer);
	s->timer.data = s;
	l->open_timers++;
	list_push_back(&l->subs, &s->node);
	l->nsubs++;
	pump(s);
}

void wlogs_control(struct wlogs *l, uint64_t sub_id, bool cancel,
		   uint32_t credit)
{
	struct sub *s = find(l, sub_id);
	if (!s)
		return;
	if (cancel) {
		sub_end(s);
		return;
	}
	/* Bounded: a manager cannot grant more than a few batches ahead. */
	s->credit = s->credit + credit > 16 ? 16 : s->credit + credit;
	pump(s);
}

void wlogs_drop_all(struct wlogs *l)
{
	while (!list_empty(&l->subs))
		sub_end(list_entry(list_front(&l->subs), struct sub, node));
}

void wlogs_close(struct wlogs *l)
{
	l->closing = true;
	wlogs_drop_all(l);
	maybe_free(l);
}
