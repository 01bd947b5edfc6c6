/*
 * Exit notification on a libuv loop: a uv_poll_t on the pidfd of the
 * container's monitor. The monitor exits right after writing the exit
 * status into state.json, so when the pidfd turns readable the state on
 * disk is final; the callback reads it and reports once. Nothing here
 * blocks the loop. Works the same for containers started by this process
 * and for those re-attached after a daemon restart (the monitor is never
 * our child, so there is nothing to reap).
 *
 * A container can exit before its watch starts: a short-lived command
 * (`echo`, `true`) on a loaded machine is often gone between the start and
 * the pidfd_open() of its monitor. The exit has then already happened and
 * is on disk, so the watch is armed anyway and reports it from a zero
 * timer on the next turn of the loop: never from inside the call, whose
 * caller may not be ready for it (a start still has to connect the
 * attached clients and answer). Failing instead, as this once did, left
 * the exit unseen for good: `docker run` and `docker start -a` waited
 * forever for it and --rm containers were never removed. Only a container
 * that never ran (created) has no exit to report and fails with -ESRCH.
 */
#include <errno.h>
#include <string.h>
#include <unistd.h>

#include "common/alloc.h"
#include "runtime/internal.h"

struct rt_exit_watch {
	union {
		uv_handle_t handle;
		uv_poll_t poll;	  /* on the monitor's pidfd */
		uv_timer_t timer; /* it had exited already */
	} h;
	struct rt *rt;
	char id[RT_ID_LEN + 1];
	int fd; /* -1 for the timer */
	bool fired;
	bool closing;
	rt_exit_cb *cb;
	void *arg;
};

static void on_close(uv_handle_t *h)
{
	struct rt_exit_watch *w = h->data;

	if (w->fd >= 0)
		close(w->fd);
	shoal_free(w);
}

static void fire(struct rt_exit_watch *w)
{
	struct rt_info info;
	int code = -1;
	bool oom = false;

	if (w->fired || w->closing)
		return;
	w->fired = true;
	if (rt_container_inspect(w->rt, w->id, &info) == 0) {
		code = info.exit_code;
		oom = info.oom_killed;
		rt_info_fini(&info);
	}
	w->cb(w, w->id, code, oom, w->arg);
}

static void on_ready(uv_poll_t *p, int status, int events)
{
	struct rt_exit_watch *w = p->data;

	if (!w->fired && !w->closing)
		uv_poll_stop(p);
	fire(w);
}

static void on_timer(uv_timer_t *t)
{
	fire(t->data);
}

/* -ESRCH from the pidfd: 0 when the container has run and exited since
 * (its exit is on disk), -ESRCH when it never ran. */
static int exited_already(struct rt *rt, const char *id)
{
	struct rt_info info;
	int rc = rt_container_inspect(rt, id, &info);

	if (rc < 0)
		return rc;
	rc = info.status == RT_STATUS_EXITED ? 0 : -ESRCH;
	rt_info_fini(&info);
	return rc;
}

/* Report an exit that happened before the watch, on the next loop turn. */
static int start_late(struct rt_exit_watch *w, uv_loop_t *loop)
{
	int rc;

	w->fd = -1;
	w->h.timer.data = w;
	rc = uv_timer_init(loop, &w->h.timer);
	if (rc < 0)
		return rc;
	rc = uv_timer_start(&w->h.timer, on_timer, 0, 0);
	if (rc < 0) {
		w->closing = true;
		uv_close(&w->h.handle, on_close);
	}
	return rc;
}

int rt_exit_watch_start(struct rt *rt, uv_loop_t *loop, const char *id,
			rt_exit_cb *cb, void *arg, struct rt_exit_watch **out)
{
	struct rt_exit_watch *w = shoal_calloc(1, sizeof(*w));
	char full[RT_ID_LEN + 1];
	int rc;

	if (!w)
		return -ENOMEM;
	rc = rt_container_resolve(rt, id, full);
	if (rc < 0)
		goto err_free;
	memcpy(w->id, full, sizeof(full));
	w->rt = rt;
	w->cb = cb;
	w->arg = arg;
	rc = rt_container_exit_fd(rt, full, &w->fd);
	if (rc == -ESRCH && (rc = exited_already(rt, full)) == 0) {
		rc = start_late(w, loop);
		if (rc == 0)
			goto out;
		if (w->closing)
			return rc; /* freed by on_close */
	}
	if (rc < 0)
		goto err_free;
	w->h.poll.data = w;
	rc = uv_poll_init(loop, &w->h.poll, w->fd);
	if (rc < 0) {
		close(w->fd);
		goto err_free;
	}
	rc = uv_poll_start(&w->h.poll, UV_READABLE, on_ready);
	if (rc < 0) {
		/* Once initialised, the handle is released only by close. */
		w->closing = true;
		uv_close(&w->h.handle, on_close);
		return rc;
	}
out:
	*out = w;
	return 0;
err_free:
	shoal_free(w);
	return rc;
}

void rt_exit_watch_close(struct rt_exit_watch *w)
{
	if (!w || w->closing)
		return;
	w->closing = true;
	uv_close(&w->h.handle, on_close);
}
