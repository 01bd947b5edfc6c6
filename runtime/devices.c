/*
 * --device and --device-cgroup-rule: what a container may reach of the
 * host's devices beyond Docker's default set.
 *
 * At create, a --device "HOST[:CTR[:rwm]]" is parsed and its host node
 * stat()ed (char or block device, major/minor, mode, owner); the result is
 * kept in config.json, so a node replaced on the host later does not
 * change what the container gets. In the init (mounts.c) the node is made
 * with mknod in the container's fresh /dev tmpfs, with the host node's
 * mode and owner, as runc does; in a user namespace, where mknod is
 * refused, the host node is bind-mounted instead. The devices cgroup
 * (cgroup_v1.c) then allows exactly that major:minor with the given
 * permissions, and each --device-cgroup-rule is written as is after
 * Docker's check (Docker's regular expression
 * ^([acb]) ([0-9]+|\*):([0-9]+|\*) ([rwm]{1,3})$).
 *
 * The parsers are pure (unit tests and a fuzz target feed them bytes); the
 * container path stays below /dev and free of "..", so a device node can
 * never be made outside the container's /dev.
 */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>

#include "common/alloc.h"
#include "runtime/internal.h"

static bool perms_ok(const char *p, size_t n)
{
	if (n == 0 || n > 3)
		return false;
	for (size_t i = 0; i < n; i++)
		if (!strchr("rwm", p[i]) || memchr(p, p[i], i))
			return false;
	return true;
}

/* Absolute, no ".." component, no line break, a sane length. */
static bool path_ok(const char *p)
{
	size_t n = strlen(p);

	if (p[0] != '/' || n >= 256 || strchr(p, '\n'))
		return false;
	for (const char *q = p; (q = strstr(q, "..")); q += 2)
		if (q[-1] == '/' && (q[2] == '/' || q[2] == '\0'))
			return false;
	return true;
}

int rt_parse_device(const char *s, struct rt_device_spec *out,
		    struct shoal_err *err)
{
	char *c1, *c2;

	memset(out, 0, sizeof(*out));
	if (!s || strlen(s) >= sizeof(out->buf)) {
		rt__err(err, "invalid device specification: %.64s", s ? s : "");
		return -EINVAL;
	}
	snprintf(out->buf, sizeof(out->buf), "%s", s);
	out->host = out->buf;
	out->path = out->buf;
	snprintf(out->perms, sizeof(out->perms), "rwm");
	c1 = strchr(out->buf, ':');
	if (c1) {
		*c1 = '\0';
		c2 = strchr(c1 + 1, ':');
		if (c2)
			*c2 = '\0';
		if (!c2 && perms_ok(c1 + 1, strlen(c1 + 1))) {
			snprintf(out->perms, sizeof(out->perms), "%s", c1 + 1);
		} else {
			out->path = c1 + 1;
			if (c2) {
				if (!perms_ok(c2 + 1, strlen(c2 + 1))) {
					rt__err(err, "invalid device mode: %s",
						c2 + 1);
					return -EINVAL;
				}
				snprintf(out->perms, sizeof(out->perms), "%s",
					 c2 + 1);
			}
		}
	}
	if (!path_ok(out->host) || !path_ok(out->path)) {
		rt__err(err,
			"invalid device specification: %s (host and "
			"container paths must be absolute, without \"..\")",
			s);
		return -EINVAL;
	}
	if (strncmp(out->path, "/dev/", 5) || !out->path[5]) {
		rt__err(err,
			"invalid device specification: %s (the container "
			"path must be below /dev)",
			s);
		return -EINVAL;
	}
	return 0;
}

/* A major or minor: digits (at most 10) or "*". */
static const char *number(const char *p, bool *ok)
{
	size_t n = 0;

	if (*p == '*')
		return p + 1;
	while (isdigit((unsigned char)p[n]))
		n++;
	*ok = *ok && n > 0 && n <= 10;
	return p + n;
}

int rt_parse_device_rule(const char *s, struct shoal_err *err)
{
	const char *p = s;
	bool ok =
		s && (p[0] == 'a' || p[0] == 'b' || p[0] == 'c') && p[1] == ' ';

	if (ok) {
		p = number(p + 2, &ok);
		ok = ok && *p == ':';
	}
	if (ok) {
		p = number(p + 1, &ok);
		ok = ok && *p == ' ';
	}
	if (ok)
		ok = perms_ok(p + 1, strlen(p + 1));
	if (!ok) {
		rt__err(err, "invalid device cgroup format '%s'", s ? s : "");
		return -EINVAL;
	}
	return 0;
}

int rt__devices_resolve(const char *const *specs, struct rt__config *c,
			struct shoal_err *err)
{
	size_t n = rt__strv_len(specs);
	struct rt_device_spec ds;
	struct stat st;
	int rc;

	if (n > 256) {
		rt__err(err, "too many devices (256 at most)");
		return -EINVAL;
	}
	c->devices = shoal_calloc(n + 1, sizeof(*c->devices));
	if (!c->devices)
		return -ENOMEM;
	for (size_t i = 0; i < n; i++) {
		struct rt__device *d = &c->devices[i];
		if ((rc = rt_parse_device(specs[i], &ds, err)) < 0)
			return rc;
		if (stat(ds.host, &st) < 0) {
			rt__err(err,
				"error gathering device information while "
				"adding custom device \"%s\": %s",
				ds.host, strerror(errno));
			return -EINVAL;
		}
		if (!S_ISCHR(st.st_mode) && !S_ISBLK(st.st_mode)) {
			rt__err(err,
				"error gathering device information while "
				"adding custom device \"%s\": not a device "
				"node",
				ds.host);
			return -EINVAL;
		}
		for (size_t j = 0; j < i; j++)
			if (!strcmp(c->devices[j].path, ds.path)) {
				rt__err(err, "duplicate device path: %s",
					ds.path);
				return -EINVAL;
			}
		c->n_devices = i + 1;
		d->host = shoal_strdup(ds.host);
		d->path = shoal_strdup(ds.path);
		if (!d->host || !d->path)
			return -ENOMEM;
		snprintf(d->perms, sizeof(d->perms), "%s", ds.perms);
		d->type = S_ISCHR(st.st_mode) ? 'c' : 'b';
		d->major = major(st.st_rdev);
		d->minor = minor(st.st_rdev);
		d->mode = st.st_mode & 07777;
		d->uid = st.st_uid;
		d->gid = st.st_gid;
	}
	return 0;
}

void rt__devices_free(struct rt__config *c)
{
	for (size_t i = 0; i < c->n_devices; i++) {
		shoal_free(c->devices[i].host);
		shoal_free(c->devices[i].path);
	}
	shoal_free(c->devices);
	c->devices = NULL;
	c->n_devices = 0;
}

int rt__devices_rule(const struct rt__device *d, char *out, size_t cap)
{
	int n = snprintf(out, cap, "%c %u:%u %s", d->type, d->major, d->minor,
			 d->perms);

	return n > 0 && (size_t)n < cap ? 0 : -ENAMETOOLONG;
}
