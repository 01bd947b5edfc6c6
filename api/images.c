/*
 * Image routes of the Docker Engine API v1.45 over the image store
 * (runtime/image.h): POST /images/create?fromSrc=- (docker import), POST
 * /images/load (docker load, with progress as JSON messages), GET
 * /images/json, GET /images/{name}/json, DELETE /images/{name}, POST
 * /images/{name}/tag, and GET /images/{name}/get and /images/get (docker
 * save). Names with one slash ("library/busybox") have routes of their
 * own, since the router captures one path segment per parameter.
 *
 * Archive bodies are spooled to a file by the HTTP server (api/routes.c
 * lists these routes as taking archives) and handed to the store's workers as
 * their own open file of it, so neither the body nor its unpacking ever sits on
 * the loop or in the daemon's memory. A client that leaves while a job runs
 * does not stop it; the job's result is then only logged. fromImage (docker
 * pull) is api/images_registry.c's.
 */
#define LOG_MODULE "api"
#include "api/internal.h"
#include "common/alloc.h"
#include "common/buf.h"
#include "common/clock.h"
#include "common/error.h"
#include "common/jsonx.h"
#include "common/log.h"
#include "image/image.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#define MAX_CHANGES 64

static struct img_store *need_images(struct api_call *call)
{
	struct api__state *st = api__need(call);
	if (st && !st->img) {
		api_reply_error(call, 501, "this daemon has no image store");
		return NULL;
	}
	return st ? st->img : NULL;
}

/*
 * The request body as a file at offset 0, owned by the caller: its own
 * open file of the spooled body (the server closes its descriptor with the
 * response, and a job may outlive that), else a memfd copy; -errno.
 */
static int body_fd(const struct http_request *req)
{
	if (req->body_fd >= 0) {
		char path[64];
		snprintf(path, sizeof(path), "/proc/self/fd/%d", req->body_fd);
		int fd = open(path, O_RDONLY | O_CLOEXEC);
		return fd >= 0 ? fd : -errno;
	}
	int fd = memfd_create("shoal-image", MFD_CLOEXEC);
	if (fd < 0)
		return -errno;
	size_t off = 0;
	while (off < req->body_len) {
		ssize_t n = write(fd, req->body + off, req->body_len - off);
		if (n < 0) {
			int rc = -errno;
			close(fd);
			return rc;
		}
		off += (size_t)n;
	}
	lseek(fd, 0, SEEK_SET);
	return fd;
}

static int status_of(int rc)
{
	return rc == SHOAL_ENOTFOUND   ? 404
	       : rc == SHOAL_ECONFLICT ? 409
	       : rc == -EINVAL	       ? 400
	       : rc == SHOAL_ECORRUPT  ? 400
				       : 500;
}

/* Docker's progress line: {"status":..,"progressDetail":..,"id":..} */
static void json_line(struct http_response *res, json_t *o)
{
	size_t len;
	char *s = o ? jsonx_dump(o, &len) : NULL;
	json_decref(o);
	if (s)
		http_response_write(res, s, len);
	shoal_free(s);
}

static json_t *error_line(const char *msg)
{
	return json_pack("{s:{s:s}, s:s}", "errorDetail", "message", msg,
			 "error", msg);
}

/* --- import --------------------------------------------------------------- */

/*
 * Docker's image events (moby LogImageEvent): the actor is the image id,
 * the attribute "name" the reference the operation named.
 */
static void image_event(struct eng *eng, const char *action, const char *id,
			const char *name)
{
	if (eng && id && *id)
		eng_event_post(eng, "image", action, id,
			       json_pack("{s:s}", "name", name ? name : id));
}

/* image_event() with the id of @ref looked up in @s. */
static void image_event_ref(struct eng *eng, struct img_store *s,
			    const char *action, const char *ref)
{
	json_t *o = NULL;
	if (img_inspect_json(s, ref, &o, NULL) == 0)
		image_event(eng, action, jsonx_str(o, "Id", NULL), ref);
	json_decref(o);
}

struct job {
	struct http_response *res; /* NULL once the client left */
	struct eng *eng;	   /* for the events */
	struct img_store *s;
	char ref[512]; /* import: the reference given, or "" */
	int fd;
	bool quiet;
	bool streaming;
};

static void job_gone(struct http_response *res, void *arg)
{
	struct job *j = arg;
	j->res = NULL;
}

static void import_done(int status, const char *errmsg, json_t *result,
			void *arg)
{
	struct job *j = arg;
	close(j->fd);
	if (status < 0)
		log_info("image import failed: %s", errmsg ? errmsg : "");
	if (status >= 0) {
		image_event(j->eng, "import", json_string_value(result), NULL);
		if (j->ref[0])
			image_event(j->eng, "tag", json_string_value(result),
				    j->ref);
	}
	if (j->res) {
		http_response_on_close(j->res, NULL, NULL);
		if (status < 0) {
			http_response_send_error(
				j->res, status_of(status),
				errmsg ? errmsg : shoal_strerror(status));
		} else {
			json_t *o =
				json_pack("{s:s}", "status",
					  json_string_value(result)
						  ? json_string_value(result)
						  : "");
			size_t len;
			char *s = o ? jsonx_dump(o, &len) : NULL;
			json_decref(o);
			if (s)
				http_response_send(j->res, 200,
						   "application/json", s, len);
			else
				http_response_send_error(j->res, 500,
							 "out of memory");
			shoal_free(s);
		}
	}
	shoal_free(j);
}

static void create(struct api_call *call)
{
	struct img_store *s = need_images(call);
	if (!s)
		return;
	const char *src = http_request_query(call->req, "fromSrc");
	const char *from = http_request_query(call->req, "fromImage");
	if ((!src || !*src) && from && *from) {
		api__images_pull(call, s, from);
		return;
	}
	if (!src || !*src) {
		api_reply_error(call, 400,
				"fromSrc or fromImage is required: give an "
				"image to pull or an archive to import");
		return;
	}
	if (strcmp(src, "-") != 0) {
		api_reply_error(call, 400,
				"importing from a URL (%s) is not supported: "
				"send the archive in the request body",
				src);
		return;
	}
	const char *repo = http_request_query(call->req, "repo");
	const char *tag = http_request_query(call->req, "tag");
	char ref[512] = "";
	if (repo && *repo) {
		int n = snprintf(ref, sizeof(ref), "%s%s%s", repo,
				 tag && *tag ? ":" : "", tag ? tag : "");
		if (n < 0 || (size_t)n >= sizeof(ref)) {
			api_reply_error(call, 400, "reference too long");
			return;
		}
	}
	const char *changes[MAX_CHANGES];
	size_t nc = 0;
	for (size_t i = 0; i < call->req->nquery; i++) {
		if (strcmp(call->req->query[i].name, "changes") != 0 ||
		    !*call->req->query[i].value)
			continue;
		if (nc == MAX_CHANGES) {
			api_reply_error(call, 400, "too many changes");
			return;
		}
		changes[nc++] = call->req->query[i].value;
	}
	const char *msg = http_request_query(call->req, "message");
	struct job *j = shoal_calloc(1, sizeof(*j));
	if (!j) {
		api_reply_error(call, 500, "out of memory");
		return;
	}
	j->fd = body_fd(call->req);
	if (j->fd < 0) {
		api_reply_error(call, 500, "cannot stage the archive: %s",
				shoal_strerror(j->fd));
		shoal_free(j);
		return;
	}
	struct img_import_opts o = {
		.reference = ref[0] ? ref : NULL,
		.changes = changes,
		.n_changes = nc,
		.message = msg && *msg ? msg : NULL,
	};
	j->res = call->res;
	j->eng = api__state_of(call) ? api__state_of(call)->eng : NULL;
	j->s = s;
	snprintf(j->ref, sizeof(j->ref), "%s", ref);
	int rc = img_import_async(api__state_of(call)->loop, s, j->fd, &o,
				  import_done, j);
	if (rc < 0) {
		close(j->fd);
		shoal_free(j);
		api_reply_error(call, status_of(rc), "cannot import: %s",
				shoal_strerror(rc));
		return;
	}
	http_response_on_close(call->res, job_gone, j);
}

/* --- load ----------------------------------------------------------------- */

static void load_progress(const struct img_progress *p, void *arg)
{
	struct job *j = arg;
	if (!j->res || j->quiet)
		return;
	char bar[80] = "";
	if (p->total)
		snprintf(bar, sizeof(bar), "%llu/%llu",
			 (unsigned long long)p->current,
			 (unsigned long long)p->total);
	json_line(j->res,
		  json_pack("{s:s, s:{s:I, s:I}, s:s, s:s}", "status", p->phase,
			    "progressDetail", "current", (json_int_t)p->current,
			    "total", (json_int_t)p->total, "progress", bar,
			    "id", p->id));
}

/* Docker's lines for one loaded image or tag (image/tarexport/load.go),
 * with its note when the tag moved from another image. */
static void loaded_lines(struct http_response *res, const json_t *entry)
{
	const char *ref = jsonx_str(entry, "ref", NULL);
	const char *was = jsonx_str(entry, "replaced", NULL);
	char line[700];
	if (!ref)
		return;
	if (was) {
		snprintf(line, sizeof(line),
			 "The image %s already exists, renaming the old one "
			 "with ID %s to empty string\n",
			 ref, was);
		json_line(res, json_pack("{s:s}", "stream", line));
	}
	snprintf(line, sizeof(line), "Loaded image%s: %s\n",
		 strncmp(ref, "sha256:", 7) ? "" : " ID", ref);
	json_line(res, json_pack("{s:s}", "stream", line));
}

static void load_done(int status, const char *errmsg, json_t *result, void *arg)
{
	struct job *j = arg;
	close(j->fd);
	for (size_t i = 0; status >= 0 && i < json_array_size(result); i++) {
		const char *ref =
			jsonx_str(json_array_get(result, i), "ref", NULL);
		if (ref)
			image_event_ref(j->eng, j->s, "load", ref);
	}
	if (!j->res) {
		shoal_free(j);
		return;
	}
	http_response_on_close(j->res, NULL, NULL);
	if (status < 0) {
		json_line(j->res,
			  error_line(errmsg ? errmsg : shoal_strerror(status)));
	} else {
		for (size_t i = 0; i < json_array_size(result); i++)
			loaded_lines(j->res, json_array_get(result, i));
	}
	http_response_end(j->res);
	shoal_free(j);
}

static void load(struct api_call *call)
{
	struct img_store *s = need_images(call);
	if (!s)
		return;
	if (call->req->body_len == 0) {
		api_reply_error(call, 400,
				"requested load from stdin, but stdin is "
				"empty");
		return;
	}
	struct job *j = shoal_calloc(1, sizeof(*j));
	if (!j) {
		api_reply_error(call, 500, "out of memory");
		return;
	}
	j->quiet = api__query_bool(call, "quiet", false);
	j->fd = body_fd(call->req);
	if (j->fd < 0) {
		api_reply_error(call, 500, "cannot stage the archive: %s",
				shoal_strerror(j->fd));
		shoal_free(j);
		return;
	}
	if (http_response_begin(call->res, 200, "application/json") < 0) {
		close(j->fd);
		shoal_free(j);
		api_reply_error(call, 500, "out of memory");
		return;
	}
	j->res = call->res;
	j->eng = api__state_of(call) ? api__state_of(call)->eng : NULL;
	j->s = s;
	int rc = img_load_async(api__state_of(call)->loop, s, j->fd,
				load_progress, load_done, j);
	if (rc < 0) {
		json_line(call->res, error_line(shoal_strerror(rc)));
		http_response_end(call->res);
		close(j->fd);
		shoal_free(j);
		return;
	}
	http_response_on_close(call->res, job_gone, j);
}

/* --- list, inspect, remove, tag, save ------------------------------------- */

/* Whether tag "repo:tag" matches a reference filter "repo" or
 * "repo:tag" (Docker also accepts "library/" forms, which the store
 * already folds). */
static bool ref_match(const char *tag, const char *want)
{
	size_t n = strlen(want);
	if (!strcmp(tag, want))
		return true;
	return !strchr(want, ':') && !strncmp(tag, want, n) && tag[n] == ':';
}

/* The values of filter @key as an array (owned; NULL when absent): the
 * docker CLI sends {"k":{"v":true}}, other clients {"k":["v"]}. */
static json_t *filter_values(const json_t *f, const char *key)
{
	json_t *v = json_object_get(f, key);
	if (!json_is_object(v))
		return json_incref(v);
	json_t *a = json_array();
	const char *k;
	json_t *x;
	json_object_foreach(v, k, x) json_array_append_new(a, json_string(k));
	return a;
}

static bool image_wanted(const json_t *im, const json_t *refs,
			 const json_t *dangling)
{
	const json_t *tags = json_object_get(im, "RepoTags");
	for (size_t i = 0; i < json_array_size(dangling); i++) {
		const char *d = json_string_value(json_array_get(dangling, i));
		bool want = d && (!strcmp(d, "true") || !strcmp(d, "1"));
		if (want != (json_array_size(tags) == 0))
			return false;
	}
	if (!json_array_size(refs))
		return true;
	for (size_t i = 0; i < json_array_size(tags); i++)
		for (size_t j = 0; j < json_array_size(refs); j++) {
			const char *t =
				json_string_value(json_array_get(tags, i));
			const char *w =
				json_string_value(json_array_get(refs, j));
			if (t && w && ref_match(t, w))
				return true;
		}
	return false;
}

static void list(struct api_call *call)
{
	struct img_store *s = need_images(call);
	if (!s)
		return;
	const char *fq = http_request_query(call->req, "filters");
	json_t *f = NULL;
	char err[256];
	if (fq && *fq &&
	    jsonx_parse_object(fq, strlen(fq), &f, err, sizeof(err)) < 0) {
		api_reply_error(call, 400, "%s", err);
		return;
	}
	const char *key;
	json_t *val;
	json_object_foreach(f, key, val)
	{
		if (strcmp(key, "reference") && strcmp(key, "dangling")) {
			/* Docker's others (label, before, since, until) are
			 * not done: refused rather than silently ignored. */
			bool docker = !strcmp(key, "label") ||
				      !strcmp(key, "before") ||
				      !strcmp(key, "since") ||
				      !strcmp(key, "until");
			api_reply_error(call, 400,
					docker ? "the image filter '%s' is not "
						 "supported by Shoal"
					       : "invalid filter '%s'",
					key);
			json_decref(f);
			return;
		}
	}
	json_t *l = NULL;
	struct shoal_err e = {""};
	int rc = img_list_json(s, &l, &e);
	if (rc < 0) {
		json_decref(f);
		api_reply_error(call, 500, "%s", e.msg);
		return;
	}
	json_t *refs = filter_values(f, "reference");
	json_t *dangling = filter_values(f, "dangling");
	for (size_t i = json_array_size(l); i-- > 0;)
		if (!image_wanted(json_array_get(l, i), refs, dangling))
			json_array_remove(l, i);
	json_decref(refs);
	json_decref(dangling);
	json_decref(f);
	api_reply_json(call, 200, l);
}

/* {name} or {repo}/{name}, into @out. */
static const char *image_name(struct api_call *call, char *out, size_t cap)
{
	const char *repo = api_param(call, "repo");
	const char *name = api_param(call, "name");
	if (repo)
		snprintf(out, cap, "%s/%s", repo, name);
	else
		snprintf(out, cap, "%s", name);
	return out;
}

static void inspect(struct api_call *call)
{
	struct img_store *s = need_images(call);
	char name[512];
	if (!s)
		return;
	json_t *o = NULL;
	struct shoal_err e = {""};
	int rc = img_inspect_json(s, image_name(call, name, sizeof(name)), &o,
				  &e);
	if (rc < 0) {
		api_reply_error(call, status_of(rc), "%s",
				e.msg[0] ? e.msg : shoal_strerror(rc));
		return;
	}
	api_reply_json(call, 200, o);
}

/* img_running_fn: whether container @cid is running (or paused). */
static bool container_running(const char *cid, void *arg)
{
	struct api__state *st = arg;
	struct rt_info info;
	if (rt_container_inspect(st->rt, cid, &info) < 0)
		return false;
	bool up = info.status == RT_STATUS_RUNNING ||
		  info.status == RT_STATUS_PAUSED;
	rt_info_fini(&info);
	return up;
}

static void remove_(struct api_call *call)
{
	struct img_store *s = need_images(call);
	char name[512];
	if (!s)
		return;
	/* The store asks the runtime, through us, which of an image's users
	 * run: a running one refuses a removal by id even when forced. Set
	 * here, where it is needed, since the state is the API's. */
	img_store_set_running(s, container_running, api__state_of(call));
	json_t *report = NULL;
	struct shoal_err e = {""};
	unsigned flags =
		api__query_bool(call, "force", false) ? IMG_RM_FORCE : 0;
	/* Docker's untag and delete events name the image by its id. */
	char id[80] = "";
	json_t *io = NULL;
	if (img_inspect_json(s, image_name(call, name, sizeof(name)), &io,
			     NULL) == 0)
		snprintf(id, sizeof(id), "%s", jsonx_str(io, "Id", ""));
	json_decref(io);
	int rc = img_remove(s, image_name(call, name, sizeof(name)), flags,
			    &report, &e);
	if (rc < 0) {
		api_reply_error(call, status_of(rc), "%s",
				e.msg[0] ? e.msg : shoal_strerror(rc));
		return;
	}
	struct api__state *st = api__state_of(call);
	for (size_t i = 0; st && i < json_array_size(report); i++) {
		const json_t *r = json_array_get(report, i);
		const char *u = jsonx_str(r, "Untagged", NULL);
		const char *d = jsonx_str(r, "Deleted", NULL);
		if (u)
			image_event(st->eng, "untag", id[0] ? id : u, NULL);
		if (d)
			image_event(st->eng, "delete", d, d);
	}
	api_reply_json(call, 200, report ? report : json_array());
}

static void tag(struct api_call *call)
{
	struct img_store *s = need_images(call);
	char name[512], ref[512];
	if (!s)
		return;
	const char *repo = http_request_query(call->req, "repo");
	const char *t = http_request_query(call->req, "tag");
	if (!repo || !*repo) {
		api_reply_error(call, 400,
				"repository name must have at least "
				"one component");
		return;
	}
	snprintf(ref, sizeof(ref), "%s%s%s", repo, t && *t ? ":" : "",
		 t ? t : "");
	struct shoal_err e = {""};
	int rc = img_tag(s, image_name(call, name, sizeof(name)), ref, &e);
	if (rc < 0) {
		api_reply_error(call, status_of(rc), "%s",
				e.msg[0] ? e.msg : shoal_strerror(rc));
		return;
	}
	if (api__state_of(call))
		image_event_ref(api__state_of(call)->eng, s, "tag", ref);
	http_response_send(call->res, 201, NULL, NULL, 0);
}

static void save_refs(struct api_call *call, const char *const *refs, size_t n)
{
	struct img_store *s = api__state_of(call)->img;
	int fd = memfd_create("shoal-save", MFD_CLOEXEC);
	if (fd < 0) {
		api_reply_error(call, 500, "cannot save: %s", strerror(errno));
		return;
	}
	struct shoal_err e = {""};
	int rc = img_save(s, refs, n, fd, &e);
	off_t len = rc == 0 ? lseek(fd, 0, SEEK_END) : -1;
	void *p =
		len > 0 ? mmap(NULL, (size_t)len, PROT_READ, MAP_PRIVATE, fd, 0)
			: MAP_FAILED;
	close(fd);
	if (rc < 0 || p == MAP_FAILED) {
		api_reply_error(call, rc < 0 ? status_of(rc) : 500, "%s",
				e.msg[0] ? e.msg : "cannot save the images");
		return;
	}
	http_response_send(call->res, 200, "application/x-tar", p, (size_t)len);
	munmap(p, (size_t)len);
}

static void save_one(struct api_call *call)
{
	char name[512];
	if (!need_images(call))
		return;
	const char *refs[1] = {image_name(call, name, sizeof(name))};
	save_refs(call, refs, 1);
}

static void save_many(struct api_call *call)
{
	const char *refs[64];
	size_t n = 0;
	if (!need_images(call))
		return;
	for (size_t i = 0; i < call->req->nquery && n < 64; i++)
		if (!strcmp(call->req->query[i].name, "names"))
			refs[n++] = call->req->query[i].value;
	if (!n) {
		api_reply_error(call, 400, "no image names given");
		return;
	}
	save_refs(call, refs, n);
}

/*
 * POST /images/prune (docker image prune [-a] [--filter]): images no
 * container uses, untagged ones only unless dangling=false (-a), with
 * Docker's filters dangling, until (created at or before) and label /
 * label! (the image's labels); others are "invalid filter 'x'". Each is
 * removed by id, forced so that all its tags go (it is unused); the
 * answer is Docker's {"ImagesDeleted": [{"Untagged"}, {"Deleted"}],
 * "SpaceReclaimed"}, the space being the removed images' sizes (a layer
 * another image shares stays, and is counted: Shoal's store keeps one
 * folder per image).
 */
int api__image_prune(struct api__state *st, const json_t *f, json_t **deleted,
		     uint64_t *space, char *err, size_t cap)
{
	const char *dv[API__FILTER_VALUES + 1], *uv[API__FILTER_VALUES + 1];
	const char *want[API__FILTER_VALUES + 1],
		*reject[API__FILTER_VALUES + 1];
	bool dangling = true;
	int64_t until = 0;
	json_t *list = NULL;
	size_t nd = api__filter_values(f, "dangling", dv);
	size_t nu = api__filter_values(f, "until", uv);
	api__filter_values(f, "label", want);
	api__filter_values(f, "label!", reject);
	for (size_t i = 0; i < nd; i++) {
		if (!strcmp(dv[i], "false") || !strcmp(dv[i], "0"))
			dangling = false;
		else if (strcmp(dv[i], "true") && strcmp(dv[i], "1")) {
			snprintf(err, cap, "invalid filter 'dangling=%s'",
				 dv[i]);
			return -EINVAL;
		}
	}
	if (nu > 1 ||
	    (nu == 1 && eng_parse_until(uv[0], time_real_ns(), &until) < 0)) {
		snprintf(err, cap,
			 nu > 1 ? "more than one until filter specified"
				: "failed to parse value as time or duration: "
				  "\"%s\"",
			 uv[0]);
		return -EINVAL;
	}
	if (!st->img || img_list_json(st->img, &list, NULL) < 0) {
		snprintf(err, cap, "cannot list the images");
		return -EIO;
	}
	struct eng_label_filter lf = {want, reject};
	*deleted = json_array();
	*space = 0;
	for (size_t i = 0; *deleted && i < json_array_size(list); i++) {
		const json_t *im = json_array_get(list, i);
		const char *id = jsonx_str(im, "Id", "");
		json_t *report = NULL;
		if (jsonx_int(im, "Containers", 0) > 0 ||
		    (dangling &&
		     json_array_size(json_object_get(im, "RepoTags"))) ||
		    (until &&
		     jsonx_int(im, "Created", 0) * 1000000000LL > until) ||
		    !eng_labels_match(&lf, json_object_get(im, "Labels")))
			continue;
		if (img_remove(st->img, id, IMG_RM_FORCE, &report, NULL) < 0)
			continue;
		*space += (uint64_t)jsonx_int(im, "Size", 0);
		for (size_t k = 0; k < json_array_size(report); k++) {
			const json_t *r = json_array_get(report, k);
			const char *u = jsonx_str(r, "Untagged", NULL);
			const char *d = jsonx_str(r, "Deleted", NULL);
			if (u)
				image_event(st->eng, "untag", id, NULL);
			if (d)
				image_event(st->eng, "delete", d, d);
			json_array_append(*deleted, (json_t *)r);
		}
		json_decref(report);
	}
	json_decref(list);
	return *deleted ? 0 : -ENOMEM;
}

static void prune(struct api_call *call)
{
	static const char *const known[] = {"dangling", "until", "label",
					    "label!", NULL};
	struct api__state *st = api__need(call);
	json_t *f = NULL, *deleted = NULL;
	uint64_t space = 0;
	char err[256];
	if (!st)
		return;
	if (api__filters_parse(http_request_query(call->req, "filters"), known,
			       &f, err, sizeof(err)) < 0) {
		api_reply_error(call, 400, "%s", err);
		return;
	}
	int rc = api__image_prune(st, f, &deleted, &space, err, sizeof(err));
	json_decref(f);
	if (rc < 0) {
		api_reply_error(call, rc == -EINVAL ? 400 : 500, "%s", err);
		return;
	}
	api_reply_json(call, 200,
		       json_pack("{s:o, s:I}", "ImagesDeleted", deleted,
				 "SpaceReclaimed", (json_int_t)space));
}

static const struct api_route routes[] = {
	{"POST", "/images/prune", prune},
	{"POST", "/images/create", create},
	{"POST", "/images/load", load},
	{"GET", "/images/json", list},
	{"GET", "/images/get", save_many},
	{"GET", "/images/{name}/json", inspect},
	{"GET", "/images/{repo}/{name}/json", inspect},
	{"GET", "/images/{name}/get", save_one},
	{"GET", "/images/{repo}/{name}/get", save_one},
	{"DELETE", "/images/{name}", remove_},
	{"DELETE", "/images/{repo}/{name}", remove_},
	{"POST", "/images/{name}/tag", tag},
	{"POST", "/images/{repo}/{name}/tag", tag},
};

const struct api_route_table api_images_table = {
	.name = "images",
	.routes = routes,
	.nroutes = sizeof(routes) / sizeof(routes[0]),
};
