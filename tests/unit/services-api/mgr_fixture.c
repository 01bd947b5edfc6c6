/*
 * The one-manager swarm behind the API for unit tests (mgr_fixture.h).
 */
/* clang-format off */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
/* clang-format on */

#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "api/swarm.h"
#include "common/clock.h"
#include "common/http.h"
#include "common/jsonx.h"

#include "mgr_fixture.h"

struct mgrfx mgrfx;

static void fake_local(void *arg, struct api_swarm_local *out)
{
	out->state = "active";
	out->error = "";
	out->st = &mgrfx.st;
	out->mgr = mgrfx.mgr;
}

const char *mgrfx_swarm_state(void *arg)
{
	return "active/manager";
}

static const struct api_swarm_ops ops = {.local = fake_local};

static void on_done(int rc, int status, const char *body, size_t len, void *arg)
{
	struct mgrfx_reply *r = arg;
	r->done = true;
	r->status = rc < 0 ? rc : status;
	snprintf(r->body, sizeof(r->body), "%.*s", (int)len, body ? body : "");
	if (len)
		jsonx_parse(body, len, &r->json, NULL, 0);
}

void mgrfx_start(const char *method, const char *path, const char *body,
		 struct mgrfx_reply *r)
{
	mgrfx_start_hdr(method, path, body, NULL, 0, r);
}

void mgrfx_start_hdr(const char *method, const char *path, const char *body,
		     const struct http_header *h, size_t nh,
		     struct mgrfx_reply *r)
{
	struct http_addr addr;
	char host[200];
	snprintf(host, sizeof(host), "unix://%s", mgrfx.sock);
	assert_int_equal(http_addr_parse(host, &addr), 0);
	memset(r, 0, sizeof(*r));
	struct http_client_req req = {.method = method,
				      .path = path,
				      .body = body,
				      .body_len = body ? strlen(body) : 0,
				      .headers = h,
				      .nheaders = nh,
				      .timeout_ms = 10000};
	struct http_client_cbs cbs = {.on_done = on_done, .arg = r};
	assert_int_equal(http_client_start(&mgrfx.loop, &addr, &req, &cbs), 0);
}

void mgrfx_ask(const char *method, const char *path, const char *body,
	       struct mgrfx_reply *r)
{
	mgrfx_start(method, path, body, r);
	while (!r->done)
		uv_run(&mgrfx.loop, UV_RUN_ONCE);
}

void mgrfx_ask_hdr(const char *method, const char *path, const char *body,
		   const struct http_header *h, size_t nh,
		   struct mgrfx_reply *r)
{
	mgrfx_start_hdr(method, path, body, h, nh, r);
	while (!r->done)
		uv_run(&mgrfx.loop, UV_RUN_ONCE);
}

void mgrfx_reply_fini(struct mgrfx_reply *r)
{
	json_decref(r->json);
	r->json = NULL;
}

static void tick(uv_timer_t *t)
{
}

void mgrfx_spin(int ms)
{
	uv_timer_t t;
	uv_timer_init(&mgrfx.loop, &t);
	int64_t end = time_mono_ns() + (int64_t)ms * 1000000;
	uv_timer_start(&t, tick, 10, 10);
	while (time_mono_ns() < end)
		uv_run(&mgrfx.loop, UV_RUN_ONCE);
	uv_close((uv_handle_t *)&t, NULL);
	uv_run(&mgrfx.loop, UV_RUN_NOWAIT);
}

static bool ready;

static void on_ready(void *arg)
{
	ready = true;
}

int mgrfx_setup(const char *tag)
{
	memset(&mgrfx, 0, sizeof(mgrfx));
	snprintf(mgrfx.dir, sizeof(mgrfx.dir), "/tmp/shoal-%.20s.XXXXXX", tag);
	assert_non_null(mkdtemp(mgrfx.dir));
	snprintf(mgrfx.sock, sizeof(mgrfx.sock), "%s/api.sock", mgrfx.dir);
	uv_loop_init(&mgrfx.loop);
	mgrfx.st.heartbeat_ms = 60000; /* no agent here: the node stays ready */
	snprintf(mgrfx.st.listen_addr, sizeof(mgrfx.st.listen_addr),
		 "127.0.0.1:0");
	assert_int_equal(
		ca_init_cluster(&mgrfx.st, time_real_ns() / NSEC_PER_SEC), 0);
	struct mgr_node_desc self = {0};
	snprintf(self.hostname, sizeof(self.hostname), "m1");
	snprintf(self.os, sizeof(self.os), "linux");
	snprintf(self.arch, sizeof(self.arch), "x86_64");
	self.nano_cpus = 4000000000LL;
	self.memory_bytes = 1LL << 33;
	struct mgr_config cfg = {.loop = &mgrfx.loop,
				 .data_root = mgrfx.dir,
				 .st = &mgrfx.st,
				 .self = &self,
				 .founder = true,
				 .ready = on_ready};
	char err[256];
	ready = false;
	assert_int_equal(mgr_start(&cfg, &mgrfx.mgr, err, sizeof(err)), 0);
	int64_t end = time_mono_ns() + 10 * NSEC_PER_SEC;
	while (!ready && time_mono_ns() < end)
		mgrfx_spin(20);
	assert_true(ready);
	struct api_services svc = {
		.data_root = mgrfx.dir,
		.exec_root = mgrfx.dir,
		.engine_id = "11111111-2222-4333-8444-555555555555",
		.swarm_state = mgrfx_swarm_state,
		.swarm_ops = &ops};
	assert_int_equal(api_new(&svc, &mgrfx.api), 0);
	assert_int_equal(http_server_new(&mgrfx.loop, NULL, api_http_handler,
					 mgrfx.api, &mgrfx.server),
			 0);
	assert_int_equal(
		http_server_listen_unix(mgrfx.server, mgrfx.sock, 0600), 0);
	return 0;
}

static void stopped(void *arg)
{
	*(bool *)arg = true;
}

static int rm_entry(const char *p, const struct stat *sb, int flag,
		    struct FTW *ftw)
{
	return remove(p);
}

int mgrfx_teardown(void)
{
	bool done = false;
	http_server_close(mgrfx.server, NULL, NULL);
	mgr_stop(mgrfx.mgr, stopped, &done);
	while (!done)
		uv_run(&mgrfx.loop, UV_RUN_ONCE);
	uv_run(&mgrfx.loop, UV_RUN_DEFAULT);
	uv_loop_close(&mgrfx.loop);
	api_free(mgrfx.api);
	swarm_state_wipe(&mgrfx.st);
	nftw(mgrfx.dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
	return 0;
}
