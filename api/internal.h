/*
 * Internal to api/: the table list and the host facts /info and /version
 * report. Not part of libshoal-api's contract.
 */
#ifndef SHOAL_API_INTERNAL_H
#define SHOAL_API_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#include "api/api.h"
#include "common/list.h"
#include "common/map.h"
#include "engine/engine.h"
#include "runtime/runtime.h"

extern const struct api_route_table *const api__tables[];
extern const size_t api__ntables;

/* A route (method and pattern, as in its table) whose body is an archive. */
struct api__archive_route {
	const char *method;
	const char *pattern;
};
extern const struct api__archive_route api__archive_routes[];
extern const size_t api__narchive_routes;

/* Facts about this host, read from uname, sysinfo, /etc and /sys. */
struct api__host {
	char hostname[256];
	char kernel[128];
	char arch[128];	     /* uname's: x86_64 */
	const char *goarch;  /* Docker's: amd64 */
	char os_name[256];   /* PRETTY_NAME of os-release */
	char os_version[64]; /* VERSION_ID */
	int ncpu;
	int64_t mem_total;
	const char *cgroup_version; /* "1" or "2" */
	bool ipv4_forwarding;
	int nfd;
};

/** api__host_read() - fill @h; never fails (unknowns become ""). */
void api__host_read(struct api__host *h);

/* --- containers: state shared by the container, exec and image routes --- */

/*
 * What the API keeps beside the engine (engine/engine.h), which owns the
 * containers, their records, exit watches, waiters and restart policies:
 * the exec instances (transient, kept where they have always been) and
 * the attach streams waiting for a start. @rt and @img are the engine's,
 * for the routes that read or stream from the runtime directly (logs,
 * attach, exec, stats, top, archive) and the image routes.
 */
struct api__state {
	struct eng *eng;
	struct rt *rt;
	struct img_store *img;
	uv_loop_t *loop;
	const char *data_root;
	struct eng_sub *sub;	   /* engine events: starts connect attaches */
	struct hmap execs;	   /* exec id -> struct api__exec */
	struct list_node exec_lru; /* oldest first */
	struct list_node attaches; /* attach streams waiting for a start */
	size_t nexecs;
};

/** api__state() - the state behind @call, or NULL without a runtime. */
struct api__state *api__state_of(const struct api_call *call);
/** api__state_for() - the same from the api. */
struct api__state *api__state_for(struct api *api);

int api__state_new(const struct api_services *svc, struct api__state **out);
void api__state_free(struct api__state *st);

/** api__no_runtime() - answer 501 when the daemon has no runtime. */
struct api__state *api__need(struct api_call *call);

/** api__query_bool() - Docker's boolean query values ("1", "true"). */
bool api__query_bool(const struct api_call *call, const char *name, bool def);

/** api__exec_free_all() - drop every exec instance (api shutdown). */
void api__exec_free_all(struct api__state *st);

/** api__attach_started() - container @id started: connect the attach
 * streams that were waiting for it (attach before start). */
void api__attach_started(struct api__state *st, const char *id);

/** api__status_text() - Docker's "Up 3 seconds" / "Exited (0) 2 seconds
 * ago" / "Restarting (1) 1 second ago" / "Created" into @out. */
void api__status_text(const struct eng_info *info, char *out, size_t cap);

/* Handlers shared between route files. */
void api__container_create(struct api_call *call);

/** api__container_json() - Docker's inspect object of container @id. */
json_t *api__container_json(struct api__state *st, const char *id);

/** api__resolve() - the full id of @ref, or answer 404 and return -1. */
int api__resolve(struct api_call *call, struct api__state *st, const char *ref,
		 char id[RT_ID_LEN + 1]);

/** api__images_pull() - POST /images/create?fromImage= (images_registry.c). */
void api__images_pull(struct api_call *call, struct img_store *s,
		      const char *from);

/* --- filters (filters.c) -------------------------------------------------- */

#define API__FILTER_VALUES 64

/**
 * api__filters_parse() - Docker's `filters` query: a JSON object mapping
 * a filter's name to a list of strings, or (older clients) to an object
 * whose keys are the values. Names not in @known (NULL-terminated) are
 * refused as Docker does ("invalid filter 'x'"). An absent or empty query
 * gives an empty object. 0 and *@out (json_decref) or -EINVAL with @err.
 */
int api__filters_parse(const char *query, const char *const *known,
		       json_t **out, char *err, size_t cap);

/**
 * api__filter_values() - the values of filter @name in @f (parsed above)
 * into @out, NULL-terminated, at most API__FILTER_VALUES (borrowed from
 * @f); NULL in out[0] when absent. Returns the count.
 */
size_t api__filter_values(const json_t *f, const char *name,
			  const char *out[API__FILTER_VALUES + 1]);

/**
 * api__create_check() - refuse what POST /containers/create accepts but
 * the engine does not apply: a Config or HostConfig field set to anything
 * but its default names itself in a 400 ("HostConfig.BlkioWeight is not
 * supported yet"). Pure. 0, or -EINVAL with @err, or SHOAL_ENOTFOUND (a
 * 404: a volume driver that is not "local").
 */
int api__create_check(const json_t *body, char *err, size_t cap);

/* --- container list filters beyond containers_json.c's (ps_filters.c) --- */

/** api__ps_filter_known() - before, since, volume, network, health,
 * is-task. */
bool api__ps_filter_known(const char *k);
/** api__ps_filter_check() - refuse their bad values (400 with @err). */
int api__ps_filter_check(struct api__state *st, const json_t *f, char *err,
			 size_t cap);
/** api__ps_filter_pass() - whether inspect object @o passes them. */
bool api__ps_filter_pass(struct api__state *st, const json_t *f,
			 const json_t *o);
/** api__ps_size() - SizeRw and SizeRootFs into @summary (ps -s). */
void api__ps_size(struct api__state *st, const json_t *o, json_t *summary);

/**
 * api__image_prune() - image prune with filters @f (dangling, until,
 * label, label!; parsed): the report entries into *@deleted (owned), the
 * bytes into *@space. -EINVAL with @err for a bad value. (images.c)
 */
int api__image_prune(struct api__state *st, const json_t *f, json_t **deleted,
		     uint64_t *space, char *err, size_t cap);
/* --- container networking (containers_net.c) ------------------------------ */

#define API__NET_ALIASES 32

/** The networking of a create body; strings borrowed from the body. */
struct api__net_spec {
	const char *mode; /* HostConfig.NetworkMode */
	struct net_port *ports;
	size_t n_ports;
	struct net_ep_req ep; /* NetworkingConfig's one endpoint */
	size_t n_eps;
	const char *aliases[API__NET_ALIASES + 1];
};

/** api__net_spec() - read it from @body; -EINVAL with @err and @status.
 * Free with api__net_spec_fini(). */
int api__net_spec(const json_t *body, const json_t *hc,
		  struct api__net_spec *out, int *status, char *err,
		  size_t cap);
void api__net_spec_fini(struct api__net_spec *s);
/* `docker run --network REF` on a manager: 0 when REF names no overlay
 * of the swarm's store (or this node is no manager), 1 for an attachable
 * one (the node's agent asks the leader: worker/attach.h); otherwise
 * -EPERM with Docker's words in @err (api/networks.c). */
int api__swarm_net_attach_check(struct api_call *call, const char *ref,
				char *err, size_t cap);
/* This node's attachments to overlays (worker/attach.h), NULL outside a
 * swarm. */
struct watt *api__swarm_watt(struct api_call *call);
/** api__net_settings() - Docker's NetworkSettings of @id (owned), NULL
 * without networking. */
json_t *api__net_settings(struct api__state *st, const char *id,
			  const json_t *hc);
/** api__net_ports_list() - the Ports of a container list entry. */
json_t *api__net_ports_list(struct api__state *st, const char *id);

struct eng_pruned;
/**
 * api__reply_pruned() - answer a prune with @rc's error ("cannot prune
 * @what: ...", 500) or with {@key: [names], "SpaceReclaimed": bytes};
 * frees @p in both cases.
 */
void api__reply_pruned(struct api_call *call, int rc, const char *what,
		       const char *key, struct eng_pruned *p);

#endif
