/*
 * -u resolution against the container's own /etc/passwd and /etc/group
 * (never the host's, never NSS): names map to ids, a bare uid takes the
 * primary group of its passwd entry (or 0 when there is none, as Docker),
 * and the supplementary groups are Docker's: the primary group, then, when
 * -u names no group, the groups of /etc/group that list the user. Runs in
 * the container's init after pivot_root, so @root is normally "/".
 */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "runtime/internal.h"

#define MAX_GROUPS 64

static bool parse_id(const char *s, unsigned long *out)
{
	char *end;

	if (!*s || !isdigit((unsigned char)*s))
		return false;
	errno = 0;
	*out = strtoul(s, &end, 10);
	return !errno && !*end && *out < 0xffffffffUL;
}

/* Split a colon-separated line in place into at most @max fields. */
static size_t split(char *line, char **f, size_t max)
{
	size_t n = 0;

	line[strcspn(line, "\n")] = '\0';
	f[n++] = line;
	for (char *p = line; *p && n < max; p++)
		if (*p == ':') {
			*p = '\0';
			f[n++] = p + 1;
		}
	return n;
}

static FILE *open_in(const char *root, const char *file)
{
	char path[4096];

	snprintf(path, sizeof(path), "%s/etc/%s", strcmp(root, "/") ? root : "",
		 file);
	return fopen(path, "re");
}

static int find_passwd(const char *root, const char *user, bool by_id,
		       unsigned long uid, char *name, size_t name_len,
		       unsigned long *out_uid, unsigned long *out_gid,
		       char *home, size_t home_len)
{
	char line[1024], *f[7];
	FILE *fp = open_in(root, "passwd");
	unsigned long u, g;

	if (!fp)
		return -ENOENT;
	while (fgets(line, sizeof(line), fp)) {
		if (split(line, f, 7) < 7 || !parse_id(f[2], &u) ||
		    !parse_id(f[3], &g))
			continue;
		if (by_id ? u != uid : strcmp(f[0], user) != 0)
			continue;
		snprintf(name, name_len, "%s", f[0]);
		snprintf(home, home_len, "%s", f[5]);
		*out_uid = u;
		*out_gid = g;
		fclose(fp);
		return 0;
	}
	fclose(fp);
	return -ENOENT;
}

static int find_group(const char *root, const char *group, unsigned long *gid)
{
	char line[4096], *f[4];
	FILE *fp = open_in(root, "group");
	unsigned long g;

	if (!fp)
		return -ENOENT;
	while (fgets(line, sizeof(line), fp)) {
		if (split(line, f, 4) < 3 || !parse_id(f[2], &g))
			continue;
		if (!strcmp(f[0], group)) {
			*gid = g;
			fclose(fp);
			return 0;
		}
	}
	fclose(fp);
	return -ENOENT;
}

static void member_groups(const char *root, const char *user, gid_t *groups,
			  size_t *n)
{
	char line[4096], *f[4];
	FILE *fp = open_in(root, "group");
	unsigned long g;

	if (!fp)
		return;
	while (fgets(line, sizeof(line), fp) && *n < MAX_GROUPS) {
		if (split(line, f, 4) < 4 || !parse_id(f[2], &g))
			continue;
		for (char *m = strtok(f[3], ","); m; m = strtok(NULL, ","))
			if (!strcmp(m, user)) {
				groups[(*n)++] = (gid_t)g;
				break;
			}
	}
	fclose(fp);
}

int rt__user_resolve(const char *root, const char *spec, uid_t *uid, gid_t *gid,
		     gid_t *groups, size_t *n_groups, char *home,
		     size_t home_len, struct shoal_err *err)
{
	struct rt_user_spec us;
	unsigned long u = 0, g = 0, id;
	char name[64] = "";
	bool numeric;

	*n_groups = 0;
	snprintf(home, home_len, "/");
	if (!spec || !*spec)
		spec = "0";
	if (rt_parse_user(spec, &us) < 0) {
		rt__err(err, "invalid user: \"%s\"", spec);
		return -EINVAL;
	}
	numeric = parse_id(us.user, &id);
	if (find_passwd(root, us.user, numeric, numeric ? id : 0, name,
			sizeof(name), &u, &g, home, home_len) < 0) {
		if (!numeric) {
			rt__err(err,
				"unable to find user %s: no matching "
				"entries in passwd file",
				us.user);
			return -ENOENT;
		}
		u = id;
		g = 0;
	}
	if (us.has_group) {
		if (!parse_id(us.group, &g) &&
		    find_group(root, us.group, &g) < 0) {
			rt__err(err,
				"unable to find group %s: no matching "
				"entries in group file",
				us.group);
			return -ENOENT;
		}
	}
	/* Docker (daemon/oci_linux.go getUser): the primary group first, then
	 * the groups that list the user, found only when no group was named
	 * (runc's GetExecUser: "supplementary group ids only make sense if in
	 * the implicit form"). */
	groups[(*n_groups)++] = (gid_t)g;
	if (name[0] && !us.has_group)
		member_groups(root, name, groups, n_groups);
	*uid = (uid_t)u;
	*gid = (gid_t)g;
	return 0;
}

int rt__group_add(const char *root, char *const *names, size_t n, gid_t *groups,
		  size_t *n_groups, size_t cap, struct shoal_err *err)
{
	for (size_t i = 0; i < n; i++) {
		unsigned long g;
		if (!parse_id(names[i], &g) &&
		    find_group(root, names[i], &g) < 0) {
			rt__err(err,
				"Unable to find group %s: no matching entries "
				"in group file",
				names[i]);
			return -EINVAL;
		}
		if (*n_groups == cap) {
			rt__err(err, "too many groups (%zu at most)", cap);
			return -E2BIG;
		}
		groups[(*n_groups)++] = (gid_t)g;
	}
	return 0;
}
