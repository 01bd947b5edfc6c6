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
#include "common/jsonx.h"
#include "common/log.h"
#include "engine/internal.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
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

int eng__net_prepare(struct eng *e, const struct eng_spec *s, const char *name,
		     struct net_ctr_result *out, struct shoal_err *err)
{
	struct net_ctr_spec ns = {
		.name = name,
		.hostname = s->hostname,
		.mode = s->network_mode,
		.eps = s->endpoints,
		.n_eps = s->n_endpoints,
		.ports = s->ports,
		.n_ports = s->n_ports,
	};
	char buf[PATH_MAX + 16];
	int rc;

	memset(out, 0, sizeof(*out));
	if (!e->net) {
		if (s->network_mode || s->n_ports || s->n_endpoints) {
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
	rc = net_ctr_create(e->net, &ns, out, err);
	if (rc == 0 && out->dns[0] && s->dns && s->dns[0]) {
		/* The resolver forwards to the daemon's servers, not to
		 * per-container ones: refused rather than ignored. */
		net_ctr_abandon(e->net, out->sandbox);
		eng__err(err, "--dns on a user-defined network is not "
			      "supported yet: its containers resolve through "
			      "127.0.0.11, which forwards to the daemon's "
			      "servers");
		return -EINVAL;
	}
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
