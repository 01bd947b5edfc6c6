/*
 * What the daemon lends the swarm and node routes (api/swarm.c,
 * api/nodes.c): this node's membership and the actions that change it.
 * The daemon (daemon/swarm.c) owns the state, the manager and the agent;
 * the routes shape requests and answers in the Engine API's JSON. Reads
 * of cluster state go straight to the manager (manager/manager.h) when
 * this node is one.
 */
#ifndef SHOAL_API_SWARM_H
#define SHOAL_API_SWARM_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "api/api.h"

struct mgr;
struct watt;
struct swarm_state;

struct api_swarm_init {
	const char *listen_addr;    /* "" or NULL: the daemon's default */
	const char *advertise_addr; /* "" or NULL: guessed */
	/* The new swarm's complete spec (swarm_spec_merge(), checked);
	 * borrowed for the call. */
	const json_t *spec;
	const char *availability; /* the founder's: "" (active) or a value */
	bool autolock;		  /* seal the DEK with a new unlock key */
};

typedef void api_swarm_done_fn(void *ctx, int rc, const char *msg);

struct api_swarm_join {
	const char *listen_addr;
	const char *advertise_addr;
	const char *remote_addr; /* the manager to join through */
	const char *token;
};

/* This node's membership, borrowed until the next call into the daemon. */
struct api_swarm_local {
	const char *state;	      /* inactive, pending, active, error */
	const char *error;	      /* "" unless state is error */
	const struct swarm_state *st; /* NULL unless active */
	struct mgr *mgr;	      /* NULL unless a running manager */
	struct watt *watt; /* attachable overlays (worker/attach.h); NULL
			    * outside a swarm */
};

struct api_swarm_ops {
	void (*local)(void *arg, struct api_swarm_local *out);
	/* 0 and later @done once the new swarm's store is ready, or a code
	 * + @err (no callback). */
	int (*init)(void *arg, const struct api_swarm_init *req,
		    api_swarm_done_fn *done, void *ctx, char *err,
		    size_t errlen);
	/* 0 and later @done exactly once, or a code + @err (no callback). */
	int (*join)(void *arg, const struct api_swarm_join *req,
		    api_swarm_done_fn *done, void *ctx, char *err,
		    size_t errlen);
	int (*leave)(void *arg, bool force, char *err, size_t errlen);
	/* The swarm's settings changed (heartbeat period...): save them. */
	void (*saved)(void *arg);
	/* A locked node: unlock with the text of @key and start its swarm
	 * parts. -EINVAL with @err "invalid key..." for a key that is
	 * malformed or not this node's; -EAGAIN when the node is not locked;
	 * nothing changes on failure. (manager/lock.h) */
	int (*unlock)(void *arg, const char *key, char *err, size_t errlen);
};

/**
 * struct api__answer - an API answer waiting for an asynchronous change.
 * api__answer_new() keeps @res and notices if its client leaves;
 * api__answer_done() is the mgr_done_fn / api_swarm_done_fn that answers
 * (200 empty, or Docker's error) and frees it.
 */
struct api__answer;
struct api__answer *api__answer_new(struct api_call *call);
void api__answer_done(void *wait, int rc, const char *msg);
/** api__answer_set_body() - answer success with @body (stolen). */
void api__answer_set_body(struct api__answer *w, json_t *body);
/** api__answer_cancel() - the change never started: free @w, no answer. */
void api__answer_cancel(struct api__answer *w);
/**
 * api__after_sync() - run @fn with (a copy of) @call once manager @m has
 * applied everything committed so far (mgr_sync()), or at once from the
 * local copy when that cannot be known. @fn answers the call.
 */
void api__after_sync(struct api_call *call, struct mgr *m, api_handler_fn *fn);

/** api__status_of() - the HTTP status Docker uses for @rc. */
int api__status_of(int rc);

/** api__swarm_info() - the Swarm section of GET /info (owned). */
json_t *api__swarm_info(const struct api_call *call);

/**
 * api__version_param() - ?version= as Docker reads it (required, a whole
 * number) of a @what ("node", "swarm"); on failure the 400 is sent and
 * -EINVAL returned.
 */
int api__version_param(struct api_call *call, const char *what, uint64_t *out);

#endif
