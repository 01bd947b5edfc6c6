/*
 * libshoal-api: the Docker Engine API over common/http. This header is the
 * whole contract between the daemon, which owns the services, and the route
 * files (system.c now; containers.c, images.c, swarm.c, nodes.c later).
 *
 * Routing. A request path may carry a version prefix ("/v1.45/info") or not
 * ("/info"). Versions 1.24 to 1.47 are served; others get Docker's 400
 * ("client version 1.12 is too old. Minimum supported API version is
 * 1.24, please upgrade your client to a newer version"). After the prefix
 * the path is matched against patterns such as "/containers/{id}/start",
 * where {name} captures one non-empty segment. Unknown paths get 404
 * {"message":"page not found"} (Docker's text); a known path with another
 * method gets 405. HEAD is served by a GET route when no HEAD route exists.
 *
 * Route tables. Each route file defines one const struct api_route_table
 * and api/routes.c lists the tables; adding a file is one line there.
 *
 * Request bodies are JSON, held in memory up to API_JSON_BODY_MAX, except
 * on the routes api/routes.c lists as taking archives (docker cp, import,
 * load): those are spooled by the HTTP server into an unlinked file, up to
 * API_ARCHIVE_BODY_MAX, and read by the handler from req->body_fd.
 * api_body_policy() applies this to the HTTP server, so a connection never
 * holds more than a JSON body in memory. The list is kept in one place
 * because it is what an audit of the server's memory bound reads.
 *
 * Services. struct api_services holds what the daemon lends the routes: its
 * roots, its id, and callbacks into the modules (container and image counts
 * for now). api/ never includes daemon/ headers.
 *
 * Everything runs on the daemon's loop thread.
 */
#ifndef SHOAL_API_API_H
#define SHOAL_API_API_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/http.h"

#define API_VERSION "1.45"
#define API_MIN_VERSION "1.24"
#define API_MAX_MINOR 47
#define API_MIN_MINOR 24
#define API_MAX_PARAMS 4
/* Body limits: JSON bodies in memory, archives spooled to disk. */
#define API_JSON_BODY_MAX ((uint64_t)4 << 20)
#define API_ARCHIVE_BODY_MAX ((uint64_t)32 << 30)

struct eng;

struct api_counts {
	int containers_running;
	int containers_paused;
	int containers_stopped;
	int images;
};

/* What the daemon lends the API; strings are borrowed for the api's life. */
struct api_services {
	const char *data_root;
	const char *exec_root;
	const char *engine_id; /* stable daemon id, Docker's "ID" */
	bool debug;
	void *arg; /* passed to the callbacks */
	/* Counts for /info; NULL means zero of everything. */
	void (*counts)(void *arg, struct api_counts *out);
	/* "inactive", "pending", "active", "error", "locked"; NULL: inactive */
	const char *(*swarm_state)(void *arg);
	const struct api_swarm_ops *swarm_ops; /* api/swarm.h; NULL: none */
	/* The engine (this node's containers, over the runtime and the
	 * image store) and the loop it runs on; NULL when the daemon runs
	 * without them (the container, image and volume routes then answer
	 * 501). Borrowed for the api's life; the engine's restore is the
	 * daemon's business. */
	struct eng *engine;
	uv_loop_t *loop;
	/* shoald's --insecure-registry values (HOST[:PORT] or IPv4 CIDR):
	 * registries reached over plain HTTP; shown in /info. */
	const char *const *insecure_registries; /* --insecure-registry */
	size_t n_insecure_registries;
};

struct api;

/*
 * One call being answered. Valid only while the route's handler runs; an
 * async handler keeps @res (and copies what else it needs), then finishes
 * it as http.h describes.
 */
struct api_call {
	struct api *api;
	const struct api_services *svc;
	struct http_request *req;
	struct http_response *res;
	int version_minor; /* of 1.x: from the prefix, else API_VERSION's */
	size_t nparams;
	const char *param_names[API_MAX_PARAMS];
	const char *param_values[API_MAX_PARAMS];
};

typedef void api_handler_fn(struct api_call *call);

struct api_route {
	const char *method;  /* "GET", "POST", ... */
	const char *pattern; /* "/containers/{id}/start" */
	api_handler_fn *fn;
};

struct api_route_table {
	const char *name; /* "system" */
	const struct api_route *routes;
	size_t nroutes;
};

/**
 * api_new() - an API over @svc (copied; its strings stay borrowed) with
 * every table of api/routes.c registered. Returns 0 and *@out (free with
 * api_free()) or -ENOMEM.
 */
int api_new(const struct api_services *svc, struct api **out);
void api_free(struct api *api);

/**
 * api_add_routes() - register one more table (tests, later modules).
 * @table is borrowed for the api's life. 0, -ENOMEM, or -EEXIST when a
 * method and pattern pair is already taken.
 */
int api_add_routes(struct api *api, const struct api_route_table *table);

/** api_http_handler() - the http_handler_fn to give http_server_new(). */
void api_http_handler(struct http_request *req, struct http_response *res,
		      void *api);

/**
 * api_body_policy() - the http_body_policy_fn to give the HTTP server
 * (with the api as its argument): the limit and place of a request's body
 * from its route (see "Request bodies" above). Unknown routes get the JSON
 * limit.
 */
void api_body_policy(const struct http_request *req,
		     struct http_body_policy *policy, void *api);

/** api_param() - a {name} captured from the path (borrowed), or NULL. */
const char *api_param(const struct api_call *call, const char *name);

/**
 * api_reply_json() - answer @status with @body (stolen, may be NULL for
 * an out-of-memory 500). Finishes call->res.
 */
int api_reply_json(struct api_call *call, int status, json_t *body);

/** api_reply_error() - Docker's {"message": ...} with @status. */
int api_reply_error(struct api_call *call, int status, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/** api_add_common_headers() - Api-Version, Ostype, Server on @res. */
void api_add_common_headers(struct http_response *res);

/* Route tables, one per file; listed in api/routes.c. */
extern const struct api_route_table api_system_table;
extern const struct api_route_table api_swarm_table;
extern const struct api_route_table api_nodes_table;
extern const struct api_route_table api_containers_table;
extern const struct api_route_table api_containers_io_table;
extern const struct api_route_table api_containers_stats_table;
extern const struct api_route_table api_containers_archive_table;
extern const struct api_route_table api_exec_table;
extern const struct api_route_table api_images_table;
extern const struct api_route_table api_images_registry_table;
extern const struct api_route_table api_volumes_table;
extern const struct api_route_table api_events_table;
extern const struct api_route_table api_system_df_table;
extern const struct api_route_table api_services_table;
extern const struct api_route_table api_tasks_table;
extern const struct api_route_table api_service_logs_table;
extern const struct api_route_table api_networks_table;
extern const struct api_route_table api_commit_table;
extern const struct api_route_table api_export_table;
extern const struct api_route_table api_build_table;
extern const struct api_route_table api_secrets_table;
extern const struct api_route_table api_images_cluster_table;

/**
 * api_counts_fill() - container and image counts from the engine lent to
 * @api (zeros when absent).
 */
void api_counts_fill(struct api *api, struct api_counts *out);

#endif
