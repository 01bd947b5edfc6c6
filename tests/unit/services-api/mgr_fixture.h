/*
 * A one-manager swarm on loopback (no agent, no container engine) with the
 * Engine API served over a real unix socket, for unit tests of routes that
 * need a manager: unit-services-api and unit-overlay-api. Everything runs
 * on one libuv loop; mgrfx_ask() and mgrfx_spin() turn it.
 */
#ifndef SHOAL_TESTS_UNIT_MGR_FIXTURE_H
#define SHOAL_TESTS_UNIT_MGR_FIXTURE_H

#include <jansson.h>
#include <stdbool.h>

#include <uv.h>

#include "api/api.h"
#include "manager/manager.h"

/** The fixture's state, for tests that need more than asking. */
struct mgrfx {
	uv_loop_t loop;
	struct api *api;
	struct http_server *server;
	struct mgr *mgr;
	struct swarm_state st;
	char dir[64];	/* the manager's data root, removed at teardown */
	char sock[128]; /* where mgrfx_ask() connects */
};

extern struct mgrfx mgrfx;

/** One answer: the status (or a negative code), the body, its JSON. */
struct mgrfx_reply {
	bool done;
	int status;
	json_t *json;
	char body[4096];
};

/** mgrfx_setup() - a cmocka setup: a fresh manager, leading and ready,
 * and the API on mgrfx.sock; @tag names its temporary folder. */
int mgrfx_setup(const char *tag);
/** mgrfx_teardown() - stop and remove everything mgrfx_setup() made. */
int mgrfx_teardown(void);

/** mgrfx_start() - start @method @path with @body (may be NULL); the
 * loop runs it and fills @r (r->done once answered). */
void mgrfx_start(const char *method, const char *path, const char *body,
		 struct mgrfx_reply *r);
/** mgrfx_start_hdr(), mgrfx_ask_hdr() - the same with @nh extra request
 * headers @h. */
void mgrfx_start_hdr(const char *method, const char *path, const char *body,
		     const struct http_header *h, size_t nh,
		     struct mgrfx_reply *r);
void mgrfx_ask_hdr(const char *method, const char *path, const char *body,
		   const struct http_header *h, size_t nh,
		   struct mgrfx_reply *r);

/** mgrfx_ask() - @method @path with @body (may be NULL) on mgrfx.sock;
 * returns when answered (10 s at most). */
void mgrfx_ask(const char *method, const char *path, const char *body,
	       struct mgrfx_reply *r);
void mgrfx_reply_fini(struct mgrfx_reply *r);

/** mgrfx_spin() - run the loop for about @ms (the leader works meanwhile). */
void mgrfx_spin(int ms);

/** The swarm state the fixture's API reports ("active/manager"). */
const char *mgrfx_swarm_state(void *arg);

#endif
