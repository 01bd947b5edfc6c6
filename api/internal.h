/*
 * Internal to api/: the table list and the host facts /info and /version
 * report. Not part of libshoal-api's contract.
 */
#ifndef SHOAL_API_INTERNAL_H
#define SHOAL_API_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#include "api/api.h"

extern const struct api_route_table *const api__tables[];
extern const size_t api__ntables;

/* Facts about this host, read from uname, sysinfo, /etc and /sys. */
struct api__host {
	char hostname[256];
	char kernel[128];
	char arch[128];	     /* uname's: x86_64 */
	const char *goarch;  /* Docker's: amd64 */
	char os_name[256];   /* PRETTY_NAME of os-release */
	char os_version[64]; /* VERSION_ID */
	int ncpu;
	int64_t mem_total;
	const char *cgroup_version; /* "1" or "2" */
	bool ipv4_forwarding;
	int nfd;
};

/** api__host_read() - fill @h; never fails (unknowns become ""). */
void api__host_read(struct api__host *h);

#endif
