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
 * What the API keeps beside the runtime: one exit watch per running
 * container (armed when a container starts or is found running at
 * start-up), the waiters on exits and removals (wait, stop, restart, attach
 * streams), and the exec instances. Docker's view of a container (Image,
 * Config, HostConfig as sent to create) lives in docker.json inside the
 * runtime's container folder, so it is removed with the container.
 */
struct api__state {
	struct rt *rt;
	struct img_store *img;
	uv_loop_t *loop;
	const char *data_root;
	struct hmap watches;	   /* id -> struct api__watch */
	struct list_node waiters;  /* struct api__waiter */
	struct hmap execs;	   /* exec id -> struct api__exec */
	struct list_node exec_lru; /* oldest first */
	struct list_node attaches; /* attach streams waiting for a start */
	size_t nexecs;
};

enum api__wait_kind {
	API__WAIT_EXIT,	   /* the next exit (or the removal) */
	API__WAIT_REMOVED, /* the removal */
};

struct api__waiter;
/* @removed: the container is gone; @code: its last exit code (-1: none) */
typedef void api__wait_fn(struct api__waiter *w, int code, bool removed);

struct api__waiter {
	struct list_node node;
	char id[65];
	enum api__wait_kind kind;
	api__wait_fn *fn;
	void *arg;
	int last_code; /* the exit seen before a removal */
};

/** api__state() - the state behind @call, or NULL without a runtime. */
struct api__state *api__state_of(const struct api_call *call);
/** api__state_for() - the same from the api. */
struct api__state *api__state_for(struct api *api);

int api__state_new(const struct api_services *svc, struct api__state **out);
void api__state_free(struct api__state *st);

/** api__watch() - arm the exit watch of a running container (idempotent). */
int api__watch(struct api__state *st, const char *id);
/** api__wait_add() - queue @w (fields set by the caller). */
void api__wait_add(struct api__state *st, struct api__waiter *w);
/** api__wait_cancel() - unqueue @w if queued. */
void api__wait_cancel(struct api__waiter *w);
/** api__gone() - container @id was removed: wake every waiter on it. */
void api__gone(struct api__state *st, const char *id, int code);

/** api__meta_load() - docker.json of container @id; *@out owned. */
int api__meta_load(struct api__state *st, const char *id, json_t **out);
/** api__meta_save() - write docker.json (temp file and rename). */
int api__meta_save(struct api__state *st, const char *id, const json_t *m);

/**
 * api__remove() - remove container @id (killing it when @force), release
 * its image and wake its waiters. Returns 0 or a negative code.
 */
int api__remove(struct api__state *st, const char *id, bool force,
		bool volumes);

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
 * ago" / "Created" into @out. */
void api__status_text(const struct rt_info *info, char *out, size_t cap);

/* Handlers shared between route files. */
void api__container_create(struct api_call *call);

/** api__container_json() - Docker's inspect object of container @id. */
json_t *api__container_json(struct api__state *st, const char *id);

/** api__resolve() - the full id of @ref, or answer 404 and return -1. */
int api__resolve(struct api_call *call, struct api__state *st, const char *ref,
		 char id[RT_ID_LEN + 1]);

#endif
