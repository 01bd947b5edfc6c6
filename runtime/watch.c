/*
 * Exit notification on a libuv loop: a uv_poll_t on the pidfd of the
 * container's monitor. The monitor exits right after writing the exit
 * status into state.json, so when the pidfd turns readable the state on
 * disk is final; the callback reads it and reports once. Nothing here
 * blocks the loop. Works the same for containers started by this process
 * and for those re-attached after a daemon restart (the monitor is never
 * our child, so there is nothing to reap).
 */
#include <errno.h>
#include <string.h>
#include <unistd.h>

#include "common/alloc.h"
#include "runtime/internal.h"

struct rt_exit_watch {
	uv_poll_t poll;
	struct rt *rt;
	char id[RT_ID_LEN + 1];
	int fd;
	bool fired;
	bool closing;
	rt_exit_cb *cb;
	void *arg;
};

static void on_close(uv_handle_t *h)
{
	struct rt_exit_watch *w = h->data;

	close(w->fd);
	shoal_free(w);
}

static void on_ready(uv_poll_t *p, int status, int events)
{
	struct rt_exit_watch *w = p->data;
	struct rt_info info;
	int code = -1;
	bool oom = false;

	if (w->fired || w->closing)
		return;
	w->fired = true;
	uv_poll_stop(p);
	if (rt_container_inspect(w->rt, w->id, &info) == 0) {
		code = info.exit_code;
		oom = info.oom_killed;
		rt_info_fini(&info);
	}
	w->cb(w, w->id, code, oom, w->arg);
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
	if (rc == 0)
		rc = rt_container_exit_fd(rt, full, &w->fd);
	if (rc < 0) {
		shoal_free(w);
		return rc;
	}
	memcpy(w->id, full, sizeof(full));
	w->rt = rt;
	w->cb = cb;
	w->arg = arg;
	w->poll.data = w;
	rc = uv_poll_init(loop, &w->poll, w->fd);
	if (rc == 0)
		rc = uv_poll_start(&w->poll, UV_READABLE, on_ready);
	if (rc < 0) {
		/* Once initialised, the handle is released only by close. */
		w->closing = true;
		uv_close((uv_handle_t *)&w->poll, on_close);
		return rc;
	}
	*out = w;
	return 0;
}

void rt_exit_watch_close(struct rt_exit_watch *w)
{
	if (!w || w->closing)
		return;
	w->closing = true;
	uv_close((uv_handle_t *)&w->poll, on_close);
}
