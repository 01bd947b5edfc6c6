/*
 * A command-line front to overlay-net/vxlan.h for tests/system/overlay:
 * run inside a namespace (nsenter) it makes or removes one overlay's
 * devices and peers there, as the agent will.
 *
 *   ovl-vxlan-tool up VNI LOCAL MTU [GATEWAY/PREFIX]
 *   ovl-vxlan-tool down VNI
 *   ovl-vxlan-tool peer add|del VNI IP MAC VTEP
 */
#include "overlay-net/vxlan.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static uint32_t ip_of(const char *s)
{
	struct in_addr a;
	if (inet_pton(AF_INET, s, &a) != 1) {
		fprintf(stderr, "bad address %s\n", s);
		exit(2);
	}
	return ntohl(a.s_addr);
}

static int usage(void)
{
	fprintf(stderr, "usage: ovl-vxlan-tool up VNI LOCAL MTU [GW/P] | "
			"down VNI | peer add|del VNI IP MAC VTEP\n");
	return 2;
}

int main(int argc, char **argv)
{
	char err[256] = "";
	int rc;
	if (argc >= 5 && !strcmp(argv[1], "up")) {
		struct ovl_vxlan_cfg c = {.vni = (uint32_t)atol(argv[2]),
					  .local = ip_of(argv[3]),
					  .mtu = atoi(argv[4])};
		if (argc > 5) {
			char *slash = strchr(argv[5], '/');
			if (!slash)
				return usage();
			*slash = '\0';
			c.gateway = ip_of(argv[5]);
			c.prefix = atoi(slash + 1);
		}
		rc = ovl_vxlan_up(&c, err, sizeof(err));
	} else if (argc == 3 && !strcmp(argv[1], "down")) {
		rc = ovl_vxlan_down((uint32_t)atol(argv[2]), err, sizeof(err));
	} else if (argc == 7 && !strcmp(argv[1], "peer")) {
		unsigned m[6];
		uint8_t mac[6];
		if (sscanf(argv[5], "%x:%x:%x:%x:%x:%x", &m[0], &m[1], &m[2],
			   &m[3], &m[4], &m[5]) != 6)
			return usage();
		for (int i = 0; i < 6; i++)
			mac[i] = (uint8_t)m[i];
		rc = ovl_vxlan_peer((uint32_t)atol(argv[3]), ip_of(argv[4]),
				    mac, ip_of(argv[6]),
				    !strcmp(argv[2], "add"), err, sizeof(err));
	} else {
		return usage();
	}
	if (rc < 0) {
		fprintf(stderr, "ovl-vxlan-tool: %s\n", err);
		return 1;
	}
	return 0;
}
