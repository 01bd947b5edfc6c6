/*
 * The engine's side of networking (overlay-net/net.h does the kernel
 * work): around the runtime's create, the container's network namespace
 * and its endpoint are made first (net_ctr_create() under a fresh sandbox
 * key, since the runtime draws the container's id) and handed to the
 * runtime as "ns:<path>"; once the id exists the endpoints are bound to it
 * and the container's /etc/hosts gets its address, as Docker writes it.
 * A create that fails after that abandons the sandbox, so nothing stays
 * behind.
 *
 * Later: every start makes sure the namespace exists (after a reboot it
 * does not; the same addresses are plumbed again), removal releases
 * everything, and the restore at start-up lets the network module release
 * what belongs to no container (a crash between the two steps of create
 * leaves such an endpoint).
 *
 * Without a net module (unit tests, tools) eng_spec.network goes to the
 * runtime unchanged and the network fields must be empty.
 */
#define LOG_MODULE "engine"
#include "common/alloc.h"
#include "common/buf.h"
#include "common/jsonx.h"
#include "common/log.h"
#include "engine/internal.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

struct net *eng_net(const struct eng *e)
{
	return e->net;
}

/* "container:<ref>": the namespace of a running container. */
static int join_other(struct eng *e, const struct eng_spec *s,
		      struct net_ctr_spec *ns, char *buf, size_t cap,
		      struct shoal_err *err)
{
	const char *ref = s->network_mode + 10;
	struct eng_info info;
	json_t *set;
	const char *key;
	int rc = eng_inspect(e, ref, &info);

	if (rc < 0) {
		eng__err(err, "No such container: %s", ref);
		return rc == SHOAL_ENOTFOUND ? rc : -EINVAL;
	}
	if (info.rt.status != RT_STATUS_RUNNING &&
	    info.rt.status != RT_STATUS_PAUSED) {
		eng__err(err,
			 "cannot join network namespace of a non running "
			 "container: %s",
			 info.rt.id);
		eng_info_fini(&info);
		return -EINVAL;
	}
	set = net_ctr_settings(e->net, info.rt.id, "");
	key = jsonx_str(set, "SandboxKey", "");
	if (*key)
		snprintf(buf, cap, "container:%s", key);
	else
		snprintf(buf, cap, "container:/proc/%d/ns/net", info.rt.pid);
	json_decref(set);
	eng_info_fini(&info);
	ns->mode = buf;
	return 0;
}

/* -P: the spec's ports and, on ephemeral host ports, every port the
 * image exposes that the spec does not list; *@out owned (shoal_free). */
static int publish_all(const struct eng_spec *s, const char *const *exposed,
		       struct net_port **out, size_t *n, struct shoal_err *err)
{
	json_t *o = json_object();
	struct net_port *img = NULL, *v;
	size_t ni = 0, k = 0;
	int rc;

	for (size_t i = 0; o && exposed && exposed[i]; i++)
		json_object_set_new(o, exposed[i], json_object());
	rc = o ? net_ports_parse(NULL, o, true, &img, &ni, err) : -ENOMEM;
	json_decref(o);
	if (rc < 0)
		return rc;
	v = shoal_calloc(s->n_ports + ni + 1, sizeof(*v));
	if (!v) {
		shoal_free(img);
		return -ENOMEM;
	}
	for (size_t i = 0; i < s->n_ports; i++)
		v[k++] = s->ports[i];
	for (size_t i = 0; i < ni; i++) {
		bool listed = false;
		for (size_t j = 0; j < s->n_ports && !listed; j++)
			listed = s->ports[j].ctr_port == img[i].ctr_port &&
				 !strcmp(s->ports[j].proto, img[i].proto);
		if (!listed)
			v[k++] = img[i];
	}
	shoal_free(img);
	*out = v;
	*n = k;
	return 0;
}

int eng__net_prepare(struct eng *e, const struct eng_spec *s, const char *name,
		     const char *const *exposed, struct net_ctr_result *out,
		     struct shoal_err *err)
{
	struct net_ctr_spec ns = {
		.name = name,
		.hostname = s->hostname,
		.mode = s->network_mode,
		.eps = s->endpoints,
		.n_eps = s->n_endpoints,
		.ports = s->ports,
		.n_ports = s->n_ports,
		.dns = s->dns,
		.dns_search = s->dns_search,
	};
	char buf[PATH_MAX + 16];
	struct net_port *all = NULL;
	int rc;

	memset(out, 0, sizeof(*out));
	if (!e->net) {
		if (s->network_mode || s->n_ports || s->n_endpoints ||
		    s->n_more_networks || s->publish_all) {
			eng__err(err, "networking is off in this daemon: "
				      "NetworkMode, ports and endpoints are "
				      "not applied");
			return -EINVAL;
		}
		snprintf(out->network, sizeof(out->network), "%s",
			 s->network ? s->network : "");
		return 0;
	}
	if (s->network_mode && !strncmp(s->network_mode, "container:", 10)) {
		if (s->hostname && *s->hostname) {
			eng__err(err, "conflicting options: hostname and the "
				      "network mode");
			return -EINVAL;
		}
		rc = join_other(e, s, &ns, buf, sizeof(buf), err);
		if (rc < 0)
			return rc;
	}
	if (s->publish_all && exposed && exposed[0]) {
		rc = publish_all(s, exposed, &all, &ns.n_ports, err);
		if (rc < 0)
			return rc;
		ns.ports = all;
	}
	rc = net_ctr_create(e->net, &ns, out, err);
	shoal_free(all);
	/* On a user-defined network --dns and --dns-search went to the
	 * resolver at 127.0.0.11 (checked there: at most 3 addresses). */
	return rc;
}

/* The container's /etc/hosts gets "<address>\t<hostname>" (Docker's). */
static int hosts_entry(struct eng *e, const char *id, const char *hostname,
		       const char *line)
{
	const char *colon = strrchr(line, ':');
	char path[PATH_MAX], entry[400];
	int fd, rc = 0;

	if (!colon)
		return 0;
	snprintf(path, sizeof(path), "%s/containers/%s/hosts", e->data_root,
		 id);
	snprintf(entry, sizeof(entry), "%s\t%.*s\n", colon + 1,
		 hostname && *hostname ? 255 : 12,
		 hostname && *hostname ? hostname : id);
	fd = open(path, O_WRONLY | O_APPEND | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0)
		return -errno;
	if (write(fd, entry, strlen(entry)) != (ssize_t)strlen(entry))
		rc = -EIO;
	close(fd);
	return rc;
}

/* A search domain or a resolver option: one word of a resolv.conf line
 * (a newline or a space would add lines or words of its own). */
static bool resolv_word(const char *w, bool option)
{
	size_t n = strlen(w);

	if (!n || n > 253)
		return false;
	for (size_t i = 0; i < n; i++)
		if (!((w[i] >= 'a' && w[i] <= 'z') ||
		      (w[i] >= 'A' && w[i] <= 'Z') ||
		      (w[i] >= '0' && w[i] <= '9') || w[i] == '.' ||
		      w[i] == '-' || w[i] == '_' || (option && w[i] == ':')))
			return false;
	return true;
}

int eng__dns_check(const struct eng_spec *s, struct shoal_err *err)
{
	for (size_t i = 0; s->dns_search && s->dns_search[i]; i++)
		if (!resolv_word(s->dns_search[i], false)) {
			eng__err(err,
				 "invalid --dns-search \"%.100s\": a domain "
				 "name ([a-zA-Z0-9.-_])",
				 s->dns_search[i]);
			return -EINVAL;
		}
	for (size_t i = 0; s->dns_options && s->dns_options[i]; i++)
		if (!resolv_word(s->dns_options[i], true)) {
			eng__err(err,
				 "invalid --dns-option \"%.100s\": one "
				 "resolver option such as ndots:2",
				 s->dns_options[i]);
			return -EINVAL;
		}
	return 0;
}

/* resolv.conf with the search and options lines of @s instead of those
 * the runtime copied from the host. */
static int resolv_lines(struct eng *e, const char *id, const struct eng_spec *s)
{
	bool search = s->dns_search && s->dns_search[0];
	bool opts = s->dns_options && s->dns_options[0];
	char path[PATH_MAX], tmp[PATH_MAX + 8], line[1024];
	FILE *in, *out;
	int rc = 0;

	if (!search && !opts)
		return 0;
	snprintf(path, sizeof(path), "%s/containers/%s/resolv.conf",
		 e->data_root, id);
	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	in = fopen(path, "re");
	if (!in)
		return -errno;
	out = fopen(tmp, "wex");
	if (!out) {
		rc = -errno;
		fclose(in);
		return rc;
	}
	while (fgets(line, sizeof(line), in))
		if (!(search && (!strncmp(line, "search", 6) ||
				 !strncmp(line, "domain", 6))) &&
		    !(opts && !strncmp(line, "options", 7)))
			fputs(line, out);
	fclose(in);
	for (size_t i = 0; search && s->dns_search[i]; i++)
		fprintf(out, "%s%s", i ? " " : "search ", s->dns_search[i]);
	if (search)
		fputc('\n', out);
	for (size_t i = 0; opts && s->dns_options[i]; i++)
		fprintf(out, "%s%s", i ? " " : "options ", s->dns_options[i]);
	if (opts)
		fputc('\n', out);
	if (fflush(out) != 0 || ferror(out))
		rc = -EIO;
	fclose(out);
	if (rc == 0 && rename(tmp, path) < 0)
		rc = -errno;
	if (rc < 0)
		unlink(tmp);
	return rc;
}

int eng__net_created(struct eng *e, const char *id, const struct eng_spec *s,
		     const struct net_ctr_result *r)
{
	const char *mode = s->network_mode && *s->network_mode ? s->network_mode
							       : "bridge";
	int rc = resolv_lines(e, id, s);

	if (rc < 0 || !e->net)
		return rc;
	if (r->sandbox[0] && (rc = net_ctr_bind(e->net, r->sandbox, id)) < 0)
		return rc;
	for (size_t i = 0; i < s->n_more_networks; i++) {
		struct shoal_err cerr = {""};
		rc = net_connect(e->net, id, s->name ? s->name : "",
				 &s->more_networks[i], &cerr);
		if (rc < 0) {
			log_warn("container=%.12s cannot join network %s: %s",
				 id, s->more_networks[i].network, cerr.msg);
			return rc;
		}
	}
	if (r->host_line[0] &&
	    (rc = hosts_entry(e, id, s->hostname, r->host_line)) < 0)
		return rc;
	return eng__record_update(e, id,
				  json_pack("{s:s}", "NetworkMode", mode));
}

void eng__net_abandon(struct eng *e, const struct net_ctr_result *r)
{
	if (e->net && r->sandbox[0])
		net_ctr_abandon(e->net, r->sandbox);
}

int eng__net_start(struct eng *e, const char *id, struct shoal_err *err)
{
	return e->net ? net_ctr_ensure(e->net, id, err) : 0;
}

void eng__net_removed(struct eng *e, const char *id)
{
	if (e->net)
		net_ctr_remove(e->net, id);
}

void eng__net_restore(struct eng *e, char **ids, size_t n)
{
	const char **v;

	if (!e->net)
		return;
	v = shoal_calloc(n + 1, sizeof(*v));
	if (!v) {
		log_warn("cannot reconcile the networks: out of memory");
		return;
	}
	for (size_t i = 0; i < n; i++)
		v[i] = ids[i];
	if (net_reconcile(e->net, v) < 0)
		log_warn("cannot load the nftables table inet shoal: published "
			 "ports and NAT are off");
	shoal_free(v);
}

/* --- legacy links (--link NAME[:ALIAS]) ------------------------------------
 */

/*
 * Docker's legacy links, on the default bridge only: for each linked
 * container (running, on `bridge`) the new one gets Docker's environment
 * (ALIAS_NAME=/me/alias, ALIAS_PORT, ALIAS_PORT_<p>_<PROTO>[_ADDR|_PORT|
 * _PROTO] for its exposed ports, ALIAS_ENV_<var> for its environment but
 * HOME, PATH and HOSTNAME) and an /etc/hosts line "ip alias name id12". The
 * values are those at create; nothing follows the linked container later
 * (its address does not change: it keeps it while it exists).
 */

struct links {
	char **env; /* "K=V", NULL-terminated, owned */
	size_t n;
	struct buf hosts;
};

static int env_add(struct links *l, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
static int env_add(struct links *l, const char *fmt, ...)
{
	char **v;
	char *s;
	va_list ap;
	int len;

	if (l->n >= 4096)
		return -E2BIG;
	va_start(ap, fmt);
	len = vasprintf(&s, fmt, ap);
	va_end(ap);
	if (len < 0)
		return -ENOMEM;
	v = shoal_realloc(l->env, (l->n + 2) * sizeof(*v));
	if (!v) {
		free(s);
		return -ENOMEM;
	}
	l->env = v;
	l->env[l->n] = shoal_strdup(s);
	free(s);
	if (!l->env[l->n])
		return -ENOMEM;
	l->env[++l->n] = NULL;
	return 0;
}

void eng__links_free(char **env)
{
	for (size_t i = 0; env && env[i]; i++)
		shoal_free(env[i]);
	shoal_free(env);
}

/* ALIAS as an environment prefix: upper case, [^A-Z0-9] as '_'. */
static void env_prefix(const char *alias, char *out, size_t cap)
{
	size_t i = 0;

	for (; alias[i] && i + 1 < cap; i++)
		out[i] = isalnum((unsigned char)alias[i])
				 ? (char)toupper((unsigned char)alias[i])
				 : '_';
	out[i] = '\0';
}

static int one_link(struct eng *e, const char *spec, const char *me,
		    struct links *l, struct shoal_err *err)
{
	char name[ENG_NAME_MAX + 2], alias[ENG_NAME_MAX + 2], pre[300];
	const char *colon = strchr(spec, ':');
	struct eng_info info;
	json_t *set = NULL, *ports;
	const json_t *env, *x;
	const char *ip, *k, *lowest = NULL;
	size_t i;
	int rc;

	snprintf(name, sizeof(name), "%.*s",
		 colon ? (int)(colon - spec) : (int)strlen(spec), spec);
	snprintf(alias, sizeof(alias), "%s", colon ? colon + 1 : name);
	if (name[0] == '/')
		memmove(name, name + 1, strlen(name));
	if (!*name || !*alias || strchr(alias, '/') || strchr(alias, ' ')) {
		eng__err(err, "invalid link \"%s\": NAME or NAME:ALIAS", spec);
		return -EINVAL;
	}
	rc = eng_inspect(e, name, &info);
	if (rc < 0) {
		eng__err(err, "could not get container for %s", name);
		return rc == SHOAL_ENOTFOUND ? -EINVAL : rc;
	}
	if (info.rt.status != RT_STATUS_RUNNING) {
		eng__err(err,
			 "Cannot link to a non running container: /%s AS "
			 "/%s/%s",
			 name, me, alias);
		rc = -EINVAL;
		goto out;
	}
	set = net_ctr_settings(e->net, info.rt.id, "");
	ip = jsonx_str(set, "IPAddress", "");
	if (!*ip) {
		eng__err(err,
			 "Cannot link to /%s, as it does not belong to the "
			 "default network",
			 name);
		rc = -EINVAL;
		goto out;
	}
	env_prefix(alias, pre, sizeof(pre));
	rc = env_add(l, "%s_NAME=/%s/%s", pre, me, alias);
	ports = jsonx_obj(
		jsonx_obj(jsonx_obj(info.record, "Annotations"), "Config"),
		"ExposedPorts");
	json_object_foreach(ports, k, x)
	{
		int p = atoi(k);
		const char *proto = strchr(k, '/') ? strchr(k, '/') + 1 : "tcp";
		char up[8];
		env_prefix(proto, up, sizeof(up));
		if (rc == 0 && (!lowest || p < atoi(lowest)))
			lowest = k;
		if (rc == 0)
			rc = env_add(l, "%s_PORT_%d_%s=%s://%s:%d", pre, p, up,
				     proto, ip, p);
		if (rc == 0)
			rc = env_add(l, "%s_PORT_%d_%s_ADDR=%s", pre, p, up,
				     ip);
		if (rc == 0)
			rc = env_add(l, "%s_PORT_%d_%s_PORT=%d", pre, p, up, p);
		if (rc == 0)
			rc = env_add(l, "%s_PORT_%d_%s_PROTO=%s", pre, p, up,
				     proto);
	}
	if (rc == 0 && lowest)
		rc = env_add(l, "%s_PORT=%s://%s:%d", pre,
			     strchr(lowest, '/') ? strchr(lowest, '/') + 1
						 : "tcp",
			     ip, atoi(lowest));
	env = json_object_get(info.record, "Env");
	json_array_foreach(env, i, x)
	{
		const char *v = json_string_value(x);
		if (rc < 0 || !v || !strchr(v, '=') ||
		    !strncmp(v, "HOME=", 5) || !strncmp(v, "PATH=", 5) ||
		    !strncmp(v, "HOSTNAME=", 9))
			continue;
		rc = env_add(l, "%s_ENV_%s", pre, v);
	}
	if (rc == 0)
		buf_printf(&l->hosts, "%s\t%s %s %.12s\n", ip, alias, name,
			   info.rt.id);
	if (rc == -E2BIG) {
		eng__err(err, "too many link variables");
		rc = -EINVAL;
	}
out:
	json_decref(set);
	eng_info_fini(&info);
	return rc;
}

int eng__links(struct eng *e, const struct eng_spec *s, const char *me,
	       char ***env, char **hosts, struct shoal_err *err)
{
	const char *m = s->network_mode ? s->network_mode : "";
	struct links l = {0};
	int rc = 0;

	*env = NULL;
	*hosts = NULL;
	if (!s->links || !s->links[0])
		return 0;
	if (!e->net || (*m && strcmp(m, "default") && strcmp(m, "bridge"))) {
		eng__err(err, "--link is supported on the default bridge "
			      "network only: on a user-defined network, use "
			      "names and --network-alias");
		return -EINVAL;
	}
	buf_init(&l.hosts, 1 << 20);
	for (size_t i = 0; rc == 0 && s->links[i]; i++)
		rc = one_link(e, s->links[i], me, &l, err);
	if (rc == 0 && !l.hosts.data)
		rc = -ENOMEM;
	if (rc < 0) {
		eng__links_free(l.env);
		buf_fini(&l.hosts);
		return rc;
	}
	*env = l.env;
	*hosts = buf_take(&l.hosts, NULL);
	return *hosts ? 0 : -ENOMEM;
}

int eng__links_hosts(struct eng *e, const char *id, const char *hosts)
{
	char path[PATH_MAX];
	int fd, rc = 0;

	if (!hosts || !*hosts)
		return 0;
	snprintf(path, sizeof(path), "%s/containers/%s/hosts", e->data_root,
		 id);
	fd = open(path, O_WRONLY | O_APPEND | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0)
		return -errno;
	if (write(fd, hosts, strlen(hosts)) != (ssize_t)strlen(hosts))
		rc = -EIO;
	close(fd);
	return rc;
}

/* The alias of a HostConfig.Links entry: "name", "name:alias" or Docker's
 * "/name:/parent/alias". Sets @name (no leading '/'); NULL if malformed. */
static const char *link_alias(const char *spec, char *name, size_t cap)
{
	const char *colon, *a;

	if (spec[0] == '/')
		spec++;
	colon = strchr(spec, ':');
	a = colon ? colon + 1 : spec;
	snprintf(name, cap, "%.*s",
		 colon ? (int)(colon - spec) : (int)strlen(spec), spec);
	if (strrchr(a, '/'))
		a = strrchr(a, '/') + 1;
	return *a && *name ? a : NULL;
}

size_t eng__hosts_drop_link(char *data, size_t n, const char *alias,
			    const char *name)
{
	size_t al = strlen(alias), nl = strlen(name), w = 0;
	const char *end = data + n, *line, *next, *nl_at, *tab, *after;

	for (line = data; line < end; line = next) {
		nl_at = memchr(line, '\n', (size_t)(end - line));
		next = nl_at ? nl_at + 1 : end;
		tab = memchr(line, '\t', (size_t)(next - line));
		after = tab && (size_t)(next - tab) >= 2 + al + nl
				? tab + 2 + al + nl
				: NULL;
		if (after && !memcmp(tab + 1, alias, al) &&
		    tab[1 + al] == ' ' && !memcmp(tab + 2 + al, name, nl) &&
		    (after == end || *after == ' ' || *after == '\n'))
			continue;
		memmove(data + w, line, (size_t)(next - line));
		w += (size_t)(next - line);
	}
	return w;
}

/* Drop the link's lines from the hosts file of @id, in place (it is
 * bind-mounted into the container: a rename would not be seen). */
static int hosts_drop(struct eng *e, const char *id, const char *alias,
		      const char *name)
{
	char path[PATH_MAX], *data;
	size_t cap = 1 << 20, w;
	ssize_t n;
	int fd, rc = 0;

	snprintf(path, sizeof(path), "%s/containers/%s/hosts", e->data_root,
		 id);
	fd = open(path, O_RDWR | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0)
		return errno == ENOENT ? 0 : -errno;
	data = shoal_malloc(cap);
	if (!data) {
		close(fd);
		return -ENOMEM;
	}
	n = pread(fd, data, cap, 0);
	if (n < 0 || (size_t)n == cap) {
		rc = n < 0 ? -errno : -EFBIG;
		goto out;
	}
	w = eng__hosts_drop_link(data, (size_t)n, alias, name);
	if (w == (size_t)n)
		goto out;
	if (ftruncate(fd, 0) < 0 || pwrite(fd, data, w, 0) != (ssize_t)w)
		rc = -EIO;
out:
	shoal_free(data);
	close(fd);
	return rc;
}

int eng_link_remove(struct eng *e, const char *parent, const char *alias,
		    struct shoal_err *err)
{
	char id[RT_ID_LEN + 1], name[ENG_NAME_MAX + 2];
	json_t *r = NULL, *links;
	const char *a = NULL;
	size_t i;
	int rc;

	if (eng_resolve(e, parent, id) < 0 || eng__record_load(e, id, &r) < 0) {
		eng__err(err, "Cannot get parent /%s for link name /%s/%s",
			 parent, parent, alias);
		return SHOAL_ENOTFOUND;
	}
	links = json_object_get(
		jsonx_obj(jsonx_obj(r, "Annotations"), "HostConfig"), "Links");
	for (i = 0; i < json_array_size(links); i++) {
		const char *s = json_string_value(json_array_get(links, i));
		a = s ? link_alias(s, name, sizeof(name)) : NULL;
		if (a && !strcmp(a, alias))
			break;
	}
	if (i == json_array_size(links)) {
		json_decref(r);
		eng__err(err, "No such container: /%s/%s", parent, alias);
		return SHOAL_ENOTFOUND;
	}
	rc = hosts_drop(e, id, alias, name);
	if (rc < 0) {
		json_decref(r);
		eng__err(err,
			 "cannot remove the link /%s/%s from the hosts file "
			 "of %s: %s",
			 parent, alias, parent, shoal_strerror(rc));
		return rc;
	}
	rc = json_array_remove(links, i) < 0 ? -ENOMEM
					     : eng__record_save(e, id, r);
	json_decref(r);
	if (rc < 0) {
		eng__err(err,
			 "cannot record the removal of the link /%s/%s: %s",
			 parent, alias, shoal_strerror(rc));
		return rc;
	}
	log_info("container=%s link /%s/%s removed", id, parent, alias);
	return 0;
}
