/*
 * The container record: what the engine knows of a container beyond the
 * runtime's config and state, in <data-root>/containers/<id>/engine.json,
 * inside the runtime's folder so that it goes with the container. Written
 * whole, to a temporary file renamed over the old one: a crash leaves the
 * old record or the new one, never a mix. docs/engine.md lists the fields.
 *
 * Records written before the engine existed (docker.json, kept by api/:
 * Image, ImageID, Name, Config, HostConfig, Path, Args) are read as
 * records: the fields the engine interprets are taken from Config and
 * HostConfig, and both are kept as the annotations api/ reads back.
 *
 * A record read from disk is validated as an object; its fields are read
 * with defaults, so a damaged field degrades to the default and never
 * crashes the daemon.
 */
#define LOG_MODULE "engine"
#include "common/alloc.h"
#include "common/error.h"
#include "common/jsonx.h"
#include "engine/internal.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#define RECORD "engine.json"
#define LEGACY "docker.json"

static int path_of(struct eng *e, const char *id, const char *file,
		   const char *suffix, char *out, size_t cap)
{
	int n = snprintf(out, cap, "%s/containers/%s/%s%s", e->data_root, id,
			 file, suffix);
	return n < 0 || (size_t)n >= cap ? -ENAMETOOLONG : 0;
}

/* A record is small; 1 MiB bounds a damaged or hostile file. */
#define RECORD_MAX (1u << 20)

static int read_object(const char *path, json_t **out)
{
	json_t *o;
	int rc = jsonx_load_file(path, RECORD_MAX, &o);

	if (rc == -EINVAL || rc == -EFBIG)
		return SHOAL_ECORRUPT;
	if (rc < 0)
		return rc;
	if (!json_is_object(o)) {
		json_decref(o);
		return SHOAL_ECORRUPT;
	}
	*out = o;
	return 0;
}

void eng__record_policy(const json_t *r, struct eng_restart_policy *out)
{
	const json_t *p = json_object_get(r, "RestartPolicy");
	struct eng_restart_policy pol = {ENG_RESTART_NO, 0};

	if (eng_restart_parse(jsonx_str(p, "Name", ""),
			      jsonx_int(p, "MaximumRetryCount", 0), &pol,
			      NULL) < 0)
		pol = (struct eng_restart_policy){ENG_RESTART_NO, 0};
	*out = pol;
}

static json_t *copy_or_null(const json_t *v)
{
	return v ? json_deep_copy(v) : json_null();
}

/* A docker.json of before the engine, as a record. */
static json_t *from_legacy(const json_t *m)
{
	const json_t *cfg = jsonx_obj(m, "Config");
	const json_t *hc = jsonx_obj(m, "HostConfig");
	const json_t *pol = jsonx_obj(hc, "RestartPolicy");
	int sig = eng_signal_parse(jsonx_str(cfg, "StopSignal", ""));
	const json_t *t = json_object_get(cfg, "StopTimeout");
	json_t *r = json_object();
	int rc = 0;

	rc |= jsonx_set(r, "Version", json_integer(1));
	rc |= jsonx_set(r, "Image", json_string(jsonx_str(m, "Image", "")));
	rc |= jsonx_set(r, "ImageID", json_string(jsonx_str(m, "ImageID", "")));
	rc |= jsonx_set(r, "Path", json_string(jsonx_str(m, "Path", "")));
	rc |= jsonx_set(r, "Args", copy_or_null(json_object_get(m, "Args")));
	rc |= jsonx_set(r, "Entrypoint",
			copy_or_null(json_object_get(cfg, "Entrypoint")));
	rc |= jsonx_set(r, "Cmd", copy_or_null(json_object_get(cfg, "Cmd")));
	rc |= jsonx_set(r, "Env", copy_or_null(json_object_get(cfg, "Env")));
	rc |= jsonx_set(r, "WorkingDir",
			json_string(jsonx_str(cfg, "WorkingDir", "")));
	rc |= jsonx_set(r, "User", json_string(jsonx_str(cfg, "User", "")));
	rc |= jsonx_set(r, "Labels",
			json_is_object(json_object_get(cfg, "Labels"))
				? json_deep_copy(json_object_get(cfg, "Labels"))
				: json_object());
	rc |= jsonx_set(r, "Tty", json_boolean(jsonx_bool(cfg, "Tty", false)));
	rc |= jsonx_set(r, "OpenStdin",
			json_boolean(jsonx_bool(cfg, "OpenStdin", false)));
	rc |= jsonx_set(r, "StopSignal", json_integer(sig > 0 ? sig : 0));
	rc |= jsonx_set(r, "StopTimeout",
			json_is_integer(t) ? json_integer(json_integer_value(t))
					   : json_null());
	rc |= jsonx_set(r, "RestartPolicy",
			pol ? json_deep_copy(pol)
			    : json_pack("{s:s, s:i}", "Name", "no",
					"MaximumRetryCount", 0));
	rc |= jsonx_set(r, "AutoRemove",
			json_boolean(jsonx_bool(hc, "AutoRemove", false)));
	rc |= jsonx_set(r, "RestartCount", json_integer(0));
	rc |= jsonx_set(r, "StoppedByUser", json_false());
	rc |= jsonx_set(r, "RestartPending", json_false());
	rc |= jsonx_set(r, "Annotations",
			json_pack("{s:O, s:O}", "Config",
				  cfg ? cfg : json_object(), "HostConfig",
				  hc ? hc : json_object()));
	if (rc) {
		json_decref(r);
		return NULL;
	}
	return r;
}

int eng__record_load(struct eng *e, const char *id, json_t **out)
{
	char path[4200];
	json_t *m;
	int rc = path_of(e, id, RECORD, "", path, sizeof(path));

	if (rc < 0)
		return rc;
	rc = read_object(path, out);
	if (rc != -ENOENT)
		return rc;
	rc = path_of(e, id, LEGACY, "", path, sizeof(path));
	if (rc == 0)
		rc = read_object(path, &m);
	if (rc < 0)
		return rc;
	*out = from_legacy(m);
	json_decref(m);
	return *out ? 0 : -ENOMEM;
}

int eng__record_save(struct eng *e, const char *id, const json_t *r)
{
	char path[4200], tmp[4200];
	size_t len;
	char *s;
	int fd, rc;

	rc = path_of(e, id, RECORD, "", path, sizeof(path));
	if (rc == 0)
		rc = path_of(e, id, RECORD, ".tmp", tmp, sizeof(tmp));
	if (rc < 0)
		return rc;
	s = jsonx_dump(r, &len);
	if (!s)
		return -ENOMEM;
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0) {
		rc = -errno;
		goto err_free;
	}
	if (write(fd, s, len) != (ssize_t)len) {
		rc = -EIO;
		goto err_close;
	}
	if (close(fd) < 0) {
		rc = -errno;
		goto err_unlink;
	}
	if (rename(tmp, path) < 0) {
		rc = -errno;
		goto err_unlink;
	}
	shoal_free(s);
	return 0;
err_close:
	close(fd);
err_unlink:
	unlink(tmp);
err_free:
	shoal_free(s);
	return rc;
}

int eng__record_update(struct eng *e, const char *id, json_t *changes)
{
	json_t *r = NULL;
	int rc = changes ? eng__record_load(e, id, &r) : -ENOMEM;

	if (rc == -ENOENT)
		rc = (r = json_object()) ? 0 : -ENOMEM;
	if (rc == 0)
		rc = json_object_update(r, changes) < 0 ? -ENOMEM : 0;
	if (rc == 0)
		rc = eng__record_save(e, id, r);
	json_decref(r);
	json_decref(changes);
	return rc;
}
