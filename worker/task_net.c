/*
 * A task's networking as the managers wrote it into the task (contract
 * of docs/overlay.md, "Tasks carry their network attachments"):
 *
 *   NetworksAttachments: [{Network: {ID, ...}, Addresses: ["10.0.1.5/24"]}]
 *       the overlays the container joins (eth0, eth1, ... in this order;
 *       the ingress network is one when the service publishes ingress
 *       ports) with the addresses the allocator gave; the MAC is Docker's
 *       (02:42 + the address), the default route goes through the first
 *       network's gateway, and the container is on no other network (no
 *       default bridge).
 *   Endpoint.Ports: [{Protocol, TargetPort, PublishedPort, PublishMode}]
 *       the host-mode ports, published on this node as `docker run -p`
 *       does; ingress-mode ones are served by the ingress item, not here.
 *
 * The network itself (its devices, its peers) is worker/net.c's, from the
 * set's network items, and is up before the executor creates the
 * container. Pure: the item's bytes are checked, never trusted.
 */
#include "worker/task_internal.h"

#include "common/alloc.h"
#include "common/jsonx.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>

static bool swarm_id_ok(const char *s)
{
	size_t n = s ? strlen(s) : 0;
	return n >= 1 && n <= WTASK_ID_MAX &&
	       strspn(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
			 "0123456789") == n;
}

static int attachment_from(struct wtask *t, const json_t *a)
{
	const json_t *addrs = json_object_get(a, "Addresses");
	const char *id = jsonx_str(jsonx_obj(a, "Network"), "ID", "");
	const char *cidr = json_string_value(json_array_get(addrs, 0));
	struct in_addr ip;
	char buf[16];
	const char *slash;
	if (!swarm_id_ok(id))
		return wtask__bad(t, "NetworksAttachments: a network without "
				     "a valid ID");
	if (!cidr || json_array_size(addrs) != 1 ||
	    !(slash = strchr(cidr, '/')) || slash - cidr >= 16)
		return wtask__bad(t,
				  "NetworksAttachments: network %s needs one "
				  "IPv4 address with its prefix (the "
				  "allocator's)",
				  id);
	snprintf(buf, sizeof(buf), "%.*s", (int)(slash - cidr), cidr);
	if (inet_pton(AF_INET, buf, &ip) != 1)
		return wtask__bad(t, "NetworksAttachments: bad address %.40s",
				  cidr);
	size_t k = t->n_nets;
	for (size_t i = 0; i < k; i++)
		if (!strcmp(t->net_id[i], id))
			return wtask__bad(t,
					  "NetworksAttachments: network %s "
					  "twice",
					  id);
	snprintf(t->net_id[k], sizeof(t->net_id[k]), "%s", id);
	memcpy(t->net_ip[k], buf, sizeof(t->net_ip[k]));
	t->net_ep[k].network = t->net_id[k];
	t->net_ep[k].ip = t->net_ip[k];
	t->n_nets++;
	return 0;
}

static int port_from(struct wtask *t, const json_t *p, size_t *k)
{
	const char *proto = jsonx_str(p, "Protocol", "tcp");
	const char *mode = jsonx_str(p, "PublishMode", "ingress");
	json_int_t target = jsonx_int(p, "TargetPort", 0);
	json_int_t pub = jsonx_int(p, "PublishedPort", 0);
	if (!json_is_object(p) ||
	    (strcmp(proto, "tcp") && strcmp(proto, "udp")))
		return wtask__bad(t,
				  "Endpoint.Ports: protocol \"%.20s\" is not "
				  "supported (tcp or udp)",
				  proto);
	if (target < 1 || target > 65535 || pub < 0 || pub > 65535)
		return wtask__bad(t, "Endpoint.Ports: invalid port %lld:%lld",
				  (long long)pub, (long long)target);
	if (!strcmp(mode, "ingress"))
		return 0; /* the routing mesh's: the ingress item */
	if (strcmp(mode, "host"))
		return wtask__bad(t,
				  "Endpoint.Ports: invalid PublishMode "
				  "\"%.20s\" (ingress or host)",
				  mode);
	struct net_port *np = &t->ports[(*k)++];
	memset(np, 0, sizeof(*np));
	np->ctr_port = (uint16_t)target;
	snprintf(np->proto, sizeof(np->proto), "%s", proto);
	np->host_lo = np->host_hi = (uint16_t)pub;
	return 0;
}

int wtask__net_from(struct wtask *t, const json_t *task)
{
	const json_t *atts = json_object_get(task, "NetworksAttachments");
	const json_t *ports =
		json_object_get(jsonx_obj(task, "Endpoint"), "Ports");
	const json_t *p;
	size_t i, k = 0;
	int rc;
	if (atts && !json_is_null(atts) && !json_is_array(atts))
		return wtask__bad(t, "NetworksAttachments must be a list");
	if (json_array_size(atts) > WTASK_MAX_NETS)
		return wtask__bad(t,
				  "a task on %zu networks: at most %d "
				  "(eth0 to eth7)",
				  json_array_size(atts), WTASK_MAX_NETS);
	json_array_foreach(atts, i, p)
	{
		if ((rc = attachment_from(t, p)) < 0)
			return rc;
	}
	if (!json_array_size(atts) &&
	    !wtask__is_default(
		    json_object_get(jsonx_obj(task, "Spec"), "Networks")))
		return wtask__bad(t, "TaskSpec.Networks names networks but the "
				     "task has no NetworksAttachments (the "
				     "managers did not allocate it)");
	if (ports && !json_is_null(ports) && !json_is_array(ports))
		return wtask__bad(t, "Endpoint.Ports must be a list");
	if (json_array_size(ports) > WTASK_MAX_LIST)
		return wtask__bad(t, "Endpoint.Ports: more than %d ports",
				  WTASK_MAX_LIST);
	if (!json_array_size(ports))
		return 0;
	t->ports = shoal_calloc(json_array_size(ports), sizeof(*t->ports));
	if (!t->ports)
		return -ENOMEM;
	json_array_foreach(ports, i, p)
	{
		if ((rc = port_from(t, p, &k)) < 0)
			return rc;
	}
	t->n_ports = k;
	return 0;
}
