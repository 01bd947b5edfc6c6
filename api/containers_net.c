/*
 * The networking part of a container's create body and of its inspect
 * object (Engine API 1.44+):
 *
 *   HostConfig.NetworkMode       "", "default", "bridge", a network's name
 *                                or id, "host", "none", "container:<ref>";
 *   HostConfig.PortBindings      {"80/tcp": [{"HostIp", "HostPort"}]};
 *   HostConfig.PublishAllPorts   every Config.ExposedPorts key, ephemeral;
 *   NetworkingConfig.EndpointsConfig.<network>: Aliases, IPAMConfig's
 *                                IPv4Address, MacAddress (only for the
 *                                network the container is created on;
 *                                Docker's CLI sends only that one);
 *   Config.MacAddress            the deprecated place of the MAC, for the
 *                                same endpoint.
 *
 * Dns and ExtraHosts go to the runtime's resolv.conf and hosts
 * (containers_create.c). NetworkSettings comes from overlay-net
 * (net_ctr_settings()); `docker port` reads its Ports.
 */
#include "api/internal.h"
#include "common/alloc.h"
#include "common/jsonx.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int bad(char *err, size_t cap, int *status, int st, const char *fmt,
	       const char *what)
{
	(void)fmt;
	snprintf(err, cap, "%s", what);
	*status = st;
	return -EINVAL;
}

int api__net_spec(const json_t *body, const json_t *hc,
		  struct api__net_spec *out, int *status, char *err, size_t cap)
{
	const json_t *eps = jsonx_obj(jsonx_obj(body, "NetworkingConfig"),
				      "EndpointsConfig");
	const char *mac = jsonx_str(body, "MacAddress", "");
	const char *name;
	struct shoal_err e = {""};
	json_t *ep;
	int rc;

	memset(out, 0, sizeof(*out));
	out->mode = jsonx_str(hc, "NetworkMode", "");
	rc = net_ports_parse(jsonx_obj(hc, "PortBindings"),
			     jsonx_obj(body, "ExposedPorts"),
			     jsonx_bool(hc, "PublishAllPorts", false),
			     &out->ports, &out->n_ports, &e);
	if (rc < 0)
		return bad(err, cap, status, 400, "%s", e.msg);
	if (json_object_size(eps) > 1)
		return bad(err, cap, status, 400, "%s",
			   "Container cannot be connected to network "
			   "endpoints: only one network at create, connect "
			   "the others after it");
	json_object_foreach((json_t *)eps, name, ep)
	{
		const json_t *al = json_object_get(ep, "Aliases"), *x;
		const char *m = jsonx_str(ep, "MacAddress", "");
		size_t i;
		if (json_array_size(al) > API__NET_ALIASES)
			return bad(err, cap, status, 400, "%s",
				   "too many network aliases (at most 32)");
		json_array_foreach(al, i, x)
		{
			if (!json_is_string(x))
				return bad(err, cap, status, 400, "%s",
					   "network aliases must be strings");
			out->aliases[i] = json_string_value(x);
		}
		out->ep.network = name;
		out->ep.aliases = out->aliases;
		out->ep.ip = jsonx_str(jsonx_obj(ep, "IPAMConfig"),
				       "IPv4Address", "");
		out->ep.mac = *m ? m : mac;
		if (*jsonx_str(jsonx_obj(ep, "IPAMConfig"), "IPv6Address", ""))
			return bad(err, cap, status, 400, "%s",
				   "IPv6 addresses are not supported yet");
		out->n_eps = 1;
	}
	if (!out->n_eps && *mac) {
		out->ep.network = *out->mode ? out->mode : "bridge";
		if (!strcmp(out->ep.network, "default"))
			out->ep.network = "bridge";
		out->ep.mac = mac;
		out->n_eps = 1;
	}
	return 0;
}

void api__net_spec_fini(struct api__net_spec *s)
{
	shoal_free(s->ports);
	s->ports = NULL;
}

json_t *api__net_settings(struct api__state *st, const char *id,
			  const json_t *hc)
{
	struct net *n = eng_net(st->eng);

	if (!n)
		return NULL;
	return net_ctr_settings(n, id, jsonx_str(hc, "NetworkMode", ""));
}

json_t *api__net_ports_list(struct api__state *st, const char *id)
{
	json_t *out = json_array(), *set, *ports, *a, *b;
	const char *k;
	size_t i;

	if (!eng_net(st->eng) || !out)
		return out;
	set = net_ctr_settings(eng_net(st->eng), id, "");
	ports = jsonx_obj(set, "Ports");
	json_object_foreach(ports, k, a)
	{
		char proto[8] = "tcp";
		int p = atoi(k);
		const char *slash = strchr(k, '/');
		if (slash)
			snprintf(proto, sizeof(proto), "%s", slash + 1);
		json_array_foreach(a, i, b)
		{
			json_array_append_new(
				out,
				json_pack("{s:s, s:i, s:i, s:s}", "IP",
					  jsonx_str(b, "HostIp", ""),
					  "PrivatePort", p, "PublicPort",
					  atoi(jsonx_str(b, "HostPort", "0")),
					  "Type", proto));
		}
	}
	json_decref(set);
	return out;
}
