/*
 * docker commit (POST /commit): a container's writable layer and config
 * made into an image, as moby's daemon/commit.go does it.
 *
 * On the loop: the container is resolved, its config for the image is
 * made from its record (Env, Cmd, Entrypoint, WorkingDir, User, Labels,
 * and Docker's ExposedPorts, Volumes, StopSignal, Tty, OpenStdin from the
 * Config it was created with), with the caller's config over it, and a
 * running container is frozen (rt_container_pause(), no event, as Docker
 * pauses for a commit) unless the caller said pause=false. Then on a
 * worker of libuv's pool: img_commit() writes the layer from the
 * container's upper folder (<data-root>/containers/<id>/upper; the files
 * the runtime makes there for its mounts are left out, as Docker's init
 * layer never reaches an image) and records the image. Back on the loop
 * the container is thawed (when it was frozen here), a "commit" event is
 * posted and @done runs once.
 *
 * The upper folder belongs to the container: the layer writer walks it
 * without following a symbolic link (image/layer_tar.c).
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "common/alloc.h"
#include "common/log.h"
#include "engine/internal.h"
#include "image/image.h"
#include "runtime/runtime.h"

/* What the runtime makes in the upper folder for its mounts. */
static const char *const init_files[] = {
	"etc/hostname", "etc/hosts",  "etc/resolv.conf",
	"etc/mtab",	".dockerenv", "dev/console",
	"dev/pts",	"dev/shm",    NULL};

struct commit_job {
	uv_work_t work;
	struct eng *e;
	char id[RT_ID_LEN + 1];
	char *upper;
	char *parent;
	char *reference;
	char **changes;
	size_t n_changes;
	char *comment;
	char *author;
	char *created_by;
	json_t *config;
	bool paused_here;
	int rc;
	struct shoal_err err;
	char image_id[DIGEST_STR_LEN];
	eng_commit_fn *done;
	void *arg;
};

static void job_free(struct commit_job *j)
{
	shoal_free(j->upper);
	shoal_free(j->parent);
	shoal_free(j->reference);
	for (size_t i = 0; i < j->n_changes; i++)
		shoal_free(j->changes[i]);
	shoal_free(j->changes);
	shoal_free(j->comment);
	shoal_free(j->author);
	shoal_free(j->created_by);
	json_decref(j->config);
	shoal_free(j);
}

static int copy_key(json_t *dst, const json_t *src, const char *from,
		    const char *to)
{
	json_t *v = json_object_get(src, from);
	if (!v || json_is_null(v))
		return 0;
	return json_object_set_new(dst, to, json_deep_copy(v)) ? -ENOMEM : 0;
}

/* The image config from the record, with @over's non-empty keys over it. */
static json_t *container_config(const json_t *rec, const json_t *over)
{
	static const char *const from_record[] = {
		"Env",	"Cmd",	  "Entrypoint", "WorkingDir",
		"User", "Labels", "Tty",	"OpenStdin"};
	static const char *const from_docker[] = {"ExposedPorts", "Volumes",
						  "StopSignal",	  "Healthcheck",
						  "OnBuild",	  "Shell"};
	json_t *cc = json_object();
	json_t *docker =
		json_object_get(json_object_get(rec, "Annotations"), "Config");
	int rc = cc ? 0 : -ENOMEM;
	for (size_t i = 0; rc == 0 && i < 8; i++)
		rc = copy_key(cc, rec, from_record[i], from_record[i]);
	for (size_t i = 0; rc == 0 && i < 6; i++)
		rc = copy_key(cc, docker, from_docker[i], from_docker[i]);
	const char *k;
	json_t *v;
	void *it = json_object_iter((json_t *)over);
	for (; rc == 0 && it; it = json_object_iter_next((json_t *)over, it)) {
		k = json_object_iter_key(it);
		v = json_object_iter_value(it);
		bool empty = json_is_null(v) ||
			     (json_is_string(v) && !json_string_length(v)) ||
			     (json_is_array(v) && !json_array_size(v)) ||
			     (json_is_object(v) && !json_object_size(v)) ||
			     json_is_false(v);
		if (!empty && json_object_set_new(cc, k, json_deep_copy(v)))
			rc = -ENOMEM;
	}
	if (rc < 0) {
		json_decref(cc);
		return NULL;
	}
	return cc;
}

/* "Path Args..." as Docker's history shows a commit's command. */
static char *command_of(const json_t *rec)
{
	size_t cap = 1;
	json_t *args = json_object_get(rec, "Args");
	const char *path = json_string_value(json_object_get(rec, "Path"));
	cap += path ? strlen(path) : 0;
	for (size_t i = 0; i < json_array_size(args); i++)
		cap += 1 +
		       strlen(json_string_value(json_array_get(args, i)) ?: "");
	char *s = shoal_malloc(cap);
	if (!s)
		return NULL;
	snprintf(s, cap, "%s", path ? path : "");
	for (size_t i = 0; i < json_array_size(args); i++) {
		strcat(s, " ");
		strcat(s, json_string_value(json_array_get(args, i)) ?: "");
	}
	return s;
}

static void run(uv_work_t *w)
{
	struct commit_job *j = w->data;
	struct img_commit_opts o = {
		.parent = j->parent,
		.reference = j->reference,
		.config = j->config,
		.changes = (const char *const *)j->changes,
		.n_changes = j->n_changes,
		.comment = j->comment,
		.author = j->author,
		.created_by = j->created_by,
		.skip = init_files,
	};
	j->rc = img_commit(j->e->img, j->upper, &o, j->image_id, &j->err);
}

static void after(uv_work_t *w, int status)
{
	struct commit_job *j = w->data;
	if (status < 0 && j->rc == 0) {
		j->rc = status;
		snprintf(j->err.msg, sizeof(j->err.msg), "commit: %s",
			 uv_strerror(status));
	}
	if (j->paused_here && rt_container_unpause(j->e->rt, j->id) < 0)
		log_warn("container=%.12s stays paused: thawing it after the "
			 "commit failed",
			 j->id);
	if (j->rc == 0)
		eng_event_post_container(
			j->e, j->id, "commit",
			json_pack("{s:s}", "comment", j->comment ?: ""));
	j->done(j->rc, j->rc < 0 ? j->err.msg : NULL,
		j->rc == 0 ? j->image_id : NULL, j->arg);
	job_free(j);
}

static int dup_opts(struct commit_job *j, const struct eng_commit_opts *o)
{
	j->changes = shoal_calloc(o->n_changes + 1, sizeof(char *));
	if (!j->changes)
		return -ENOMEM;
	for (size_t i = 0; i < o->n_changes; i++) {
		j->changes[i] = shoal_strdup(o->changes[i]);
		if (!j->changes[i])
			return -ENOMEM;
		j->n_changes++;
	}
	if ((o->reference && !(j->reference = shoal_strdup(o->reference))) ||
	    (o->comment && !(j->comment = shoal_strdup(o->comment))) ||
	    (o->author && !(j->author = shoal_strdup(o->author))))
		return -ENOMEM;
	return 0;
}

static int prepare(struct commit_job *j, const struct eng_info *info,
		   const struct eng_commit_opts *o, struct shoal_err *err)
{
	const json_t *rec = info->record;
	const char *image = json_string_value(json_object_get(rec, "ImageID"));
	if (!image || !*image) {
		snprintf(err->msg, sizeof(err->msg),
			 "container %.12s has no image to commit on", j->id);
		return -EINVAL;
	}
	j->parent = shoal_strdup(image);
	j->upper = shoal_malloc(strlen(j->e->data_root) + RT_ID_LEN + 32);
	j->created_by = command_of(rec);
	j->config = container_config(rec, o->config);
	if (!j->parent || !j->upper || !j->created_by || !j->config)
		return -ENOMEM;
	sprintf(j->upper, "%s/containers/%s/upper", j->e->data_root, j->id);
	return dup_opts(j, o);
}

int eng_commit_async(struct eng *e, const char *ref,
		     const struct eng_commit_opts *o, eng_commit_fn *done,
		     void *arg, struct shoal_err *err)
{
	struct eng_info info;
	err->msg[0] = '\0';
	int rc = eng_inspect(e, ref, &info);
	if (rc == SHOAL_ENOTFOUND) {
		snprintf(err->msg, sizeof(err->msg), "No such container: %s",
			 ref);
		return rc;
	}
	if (rc < 0)
		return rc;
	/* Refused before the container is paused. */
	for (size_t i = 0; rc == 0 && i < o->n_changes; i++)
		rc = img_change_check(o->changes[i], err);
	struct commit_job *j = rc == 0 ? shoal_calloc(1, sizeof(*j)) : NULL;
	if (rc == 0 && !j)
		rc = -ENOMEM;
	if (rc == 0) {
		j->e = e;
		j->done = done;
		j->arg = arg;
		j->work.data = j;
		snprintf(j->id, sizeof(j->id), "%s", info.rt.id);
		rc = prepare(j, &info, o, err);
	}
	if (rc == 0 && o->pause && info.state == ENG_STATE_RUNNING) {
		rc = rt_container_pause(e->rt, j->id);
		if (rc < 0)
			snprintf(err->msg, sizeof(err->msg),
				 "cannot pause container %.12s for the commit: "
				 "%s (commit with --pause=false)",
				 j->id, shoal_strerror(rc));
		j->paused_here = rc == 0;
	}
	eng_info_fini(&info);
	if (rc == 0) {
		rc = uv_queue_work(e->loop, &j->work, run, after);
		if (rc < 0 && j->paused_here)
			rt_container_unpause(e->rt, j->id);
	}
	if (rc < 0 && j)
		job_free(j);
	if (rc < 0 && !err->msg[0])
		snprintf(err->msg, sizeof(err->msg), "commit: %s",
			 shoal_strerror(rc));
	return rc;
}
