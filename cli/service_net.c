/*
 * The network and port flags of `shoal service create` and `update`, as
 * the docker CLI spells them (docker/cli's service/opts.go, update.go and
 * opts/port.go are the reference), into the ServiceSpec's
 * TaskTemplate.Networks and EndpointSpec (docs/overlay.md):
 *
 *   --network NAME | name=NAME,alias=X[,alias=Y]    TaskTemplate.Networks
 *   --network-add, --network-rm NAME                 (update)
 *   -p, --publish [PUB:]TARGET[/PROTO] |
 *       published=P,target=T,protocol=tcp|udp,mode=ingress|host
 *   --publish-add, --publish-rm TARGET[/PROTO]       (update: by target
 *                                                    port, as docker)
 *   --endpoint-mode vip|dnsrr
 *
 * Names are sent as the user wrote them: the leader resolves them to ids
 * (and refuses unknown or local networks with Docker's words), so the
 * stored spec names networks by id and --network-rm matches a name by
 * asking the API for its id. A value that does not parse is an error
 * naming the flag, before anything is sent.
 */
#include "cli/cli.h"
#include "cli/ctr.h"
#include "cli/service.h"
#include "common/jsonx.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static struct cli *net_cli;

void cli__service_net_cli(struct cli *cli)
{
	net_cli = cli;
}

static int bad(const char *flag, const char *val, const char *why)
{
	fprintf(stderr, "invalid argument \"%s\" for \"--%s\" flag: %s\n", val,
		flag, why);
	return -1;
}

/* "NAME" or "name=NAME,alias=X,..." into a NetworkAttachmentConfig. */
static int net_of(const char *flag, const char *v, json_t **out)
{
	*out = NULL;
	if (!strchr(v, '=')) {
		if (!*v)
			return bad(flag, v, "a network name is needed");
		*out = json_pack("{s:s}", "Target", v);
		return *out ? 0 : -1;
	}
	char buf[1024];
	if (strlen(v) >= sizeof(buf))
		return bad(flag, v, "too long");
	json_t *o = json_object();
	json_t *al = json_array();
	snprintf(buf, sizeof(buf), "%s", v);
	char *save = NULL;
	for (char *f = strtok_r(buf, ",", &save); f && o && al;
	     f = strtok_r(NULL, ",", &save)) {
		char *eq = strchr(f, '=');
		if (!eq) {
			json_decref(o);
			json_decref(al);
			return bad(flag, v, "expected key=value fields");
		}
		*eq = '\0';
		if (!strcmp(f, "name") || !strcmp(f, "target"))
			json_object_set_new(o, "Target", json_string(eq + 1));
		else if (!strcmp(f, "alias"))
			json_array_append_new(al, json_string(eq + 1));
		else {
			char why[128];
			snprintf(why, sizeof(why),
				 "\"%s\" is not supported (name and alias "
				 "are)",
				 f);
			json_decref(o);
			json_decref(al);
			return bad(flag, v, why);
		}
	}
	if (!o || !al || !*jsonx_str(o, "Target", "")) {
		json_decref(o);
		json_decref(al);
		return bad(flag, v, "name= is needed");
	}
	if (json_array_size(al))
		json_object_set_new(o, "Aliases", al);
	else
		json_decref(al);
	*out = o;
	return 0;
}

static int port_num(const char *s, int64_t min, int64_t *out)
{
	char *end;
	long v = strtol(s, &end, 10);
	if (!*s || *end || v < min || v > 65535)
		return -1;
	*out = v;
	return 0;
}

/* The short form: [PUBLISHED:]TARGET[/PROTO]. */
static int port_short(const char *flag, const char *v, json_t *o)
{
	char buf[64], *proto, *colon;
	int64_t pub = 0, tgt;
	if (strlen(v) >= sizeof(buf))
		return bad(flag, v, "too long");
	snprintf(buf, sizeof(buf), "%s", v);
	proto = strchr(buf, '/');
	if (proto)
		*proto++ = '\0';
	colon = strchr(buf, ':');
	if (colon) {
		*colon = '\0';
		if (strchr(colon + 1, ':'))
			return bad(flag, v,
				   "a host address cannot be given: ingress "
				   "and host ports listen on every address");
		if (port_num(buf, 1, &pub) < 0)
			return bad(flag, v, "invalid published port");
	}
	if (port_num(colon ? colon + 1 : buf, 1, &tgt) < 0)
		return bad(flag, v, "invalid target port");
	if (proto && strcmp(proto, "tcp") && strcmp(proto, "udp"))
		return bad(flag, v, "the protocol is tcp or udp");
	json_object_set_new(o, "Protocol", json_string(proto ? proto : "tcp"));
	json_object_set_new(o, "TargetPort", json_integer(tgt));
	json_object_set_new(o, "PublishedPort", json_integer(pub));
	json_object_set_new(o, "PublishMode", json_string("ingress"));
	return 0;
}

/* The long form: published=,target=,protocol=,mode=. */
static int port_long(const char *flag, const char *v, json_t *o)
{
	char buf[256];
	char *save = NULL;
	int64_t n;
	if (strlen(v) >= sizeof(buf))
		return bad(flag, v, "too long");
	snprintf(buf, sizeof(buf), "%s", v);
	json_object_set_new(o, "Protocol", json_string("tcp"));
	json_object_set_new(o, "PublishedPort", json_integer(0));
	json_object_set_new(o, "PublishMode", json_string("ingress"));
	for (char *f = strtok_r(buf, ",", &save); f;
	     f = strtok_r(NULL, ",", &save)) {
		char *eq = strchr(f, '=');
		if (!eq)
			return bad(flag, v, "expected key=value fields");
		*eq++ = '\0';
		if (!strcmp(f, "published") && port_num(eq, 0, &n) == 0)
			json_object_set_new(o, "PublishedPort",
					    json_integer(n));
		else if (!strcmp(f, "target") && port_num(eq, 1, &n) == 0)
			json_object_set_new(o, "TargetPort", json_integer(n));
		else if (!strcmp(f, "protocol") &&
			 (!strcmp(eq, "tcp") || !strcmp(eq, "udp")))
			json_object_set_new(o, "Protocol", json_string(eq));
		else if (!strcmp(f, "mode") &&
			 (!strcmp(eq, "ingress") || !strcmp(eq, "host")))
			json_object_set_new(o, "PublishMode", json_string(eq));
		else {
			char why[160];
			snprintf(why, sizeof(why),
				 "invalid field %s=%s (published, target, "
				 "protocol tcp|udp, mode ingress|host)",
				 f, eq);
			return bad(flag, v, why);
		}
	}
	if (!json_object_get(o, "TargetPort"))
		return bad(flag, v, "target= is needed");
	return 0;
}

static int port_of(const char *flag, const char *v, json_t **out)
{
	json_t *o = json_object();
	*out = NULL;
	if (!o)
		return -1;
	int rc =
		strchr(v, '=') ? port_long(flag, v, o) : port_short(flag, v, o);
	if (rc < 0) {
		json_decref(o);
		return rc;
	}
	*out = o;
	return 0;
}

/* The id the API gives network @ref, or "" (unknown: matched as is). */
static void net_id(const char *ref, char *out, size_t cap)
{
	char path[512];
	json_t *n = NULL;
	*out = '\0';
	snprintf(path, sizeof(path), "/networks/%s", ref);
	if (net_cli && cli_api_get(net_cli, path, &n) == 0)
		snprintf(out, cap, "%s", jsonx_str(n, "Id", ""));
	json_decref(n);
}

static json_t *list_at(json_t *o, const char *key)
{
	json_t *a = json_object_get(o, key);
	if (json_is_array(a))
		return a;
	a = json_array();
	json_object_set_new(o, key, a);
	return a;
}

static int set_networks(json_t *tt, const struct cli_list *set,
			const struct cli_list *add, const struct cli_list *rm)
{
	json_t *nets = list_at(tt, "Networks");
	if (set->n)
		json_array_clear(nets);
	for (size_t i = 0; i < rm->n; i++) {
		char id[128];
		net_id(rm->v[i], id, sizeof(id));
		for (size_t j = json_array_size(nets); j-- > 0;) {
			const char *t = jsonx_str(json_array_get(nets, j),
						  "Target", "");
			if (!strcmp(t, rm->v[i]) || (*id && !strcmp(t, id)))
				json_array_remove(nets, j);
		}
	}
	const struct cli_list *lists[2] = {set, add};
	for (int l = 0; l < 2; l++)
		for (size_t i = 0; i < lists[l]->n; i++) {
			json_t *n;
			if (net_of(l ? "network-add" : "network",
				   lists[l]->v[i], &n) < 0)
				return -1;
			json_array_append_new(nets, n);
		}
	return 0;
}

static int set_ports(json_t *ep, const struct cli_list *set,
		     const struct cli_list *add, const struct cli_list *rm)
{
	json_t *ports = list_at(ep, "Ports");
	if (set->n)
		json_array_clear(ports);
	for (size_t i = 0; i < rm->n; i++) {
		json_t *p;
		if (port_of("publish-rm", rm->v[i], &p) < 0)
			return -1;
		for (size_t j = json_array_size(ports); j-- > 0;) {
			json_t *q = json_array_get(ports, j);
			if (jsonx_int(q, "TargetPort", 0) ==
				    jsonx_int(p, "TargetPort", -1) &&
			    !strcmp(jsonx_str(q, "Protocol", "tcp"),
				    jsonx_str(p, "Protocol", "tcp")))
				json_array_remove(ports, j);
		}
		json_decref(p);
	}
	const struct cli_list *lists[2] = {set, add};
	for (int l = 0; l < 2; l++)
		for (size_t i = 0; i < lists[l]->n; i++) {
			json_t *p;
			if (port_of(l ? "publish-add" : "publish",
				    lists[l]->v[i], &p) < 0)
				return -1;
			json_array_append_new(ports, p);
		}
	return 0;
}

int cli__service_net(json_t *spec, const struct cli_service_net *f)
{
	json_t *tt = json_object_get(spec, "TaskTemplate");
	json_t *ep = json_object_get(spec, "EndpointSpec");
	if (!json_is_object(ep)) {
		ep = json_object();
		json_object_set_new(spec, "EndpointSpec", ep);
	}
	/* The older top-level Networks: one place only. */
	json_t *top = json_object_get(spec, "Networks");
	if (json_array_size(top) &&
	    !json_array_size(json_object_get(tt, "Networks")))
		json_object_set(tt, "Networks", top);
	json_object_del(spec, "Networks");
	if (f->mode && strcmp(f->mode, "vip") && strcmp(f->mode, "dnsrr"))
		return bad("endpoint-mode", f->mode, "use vip or dnsrr");
	if (f->mode)
		json_object_set_new(ep, "Mode", json_string(f->mode));
	if (set_networks(tt, &f->network, &f->network_add, &f->network_rm) <
		    0 ||
	    set_ports(ep, &f->publish, &f->publish_add, &f->publish_rm) < 0)
		return -1;
	return 0;
}
