/*
 * The list of route tables the API serves. A new route file (containers.c,
 * images.c, swarm.c, nodes.c, ...) defines its table and adds one line here
 * and one declaration in api.h.
 */
#include "api/api.h"
#include "api/internal.h"

const struct api_route_table *const api__tables[] = {
	/* clang-format off */
	&api_system_table,
	&api_swarm_table,
	&api_nodes_table,
	&api_containers_table,
	&api_containers_io_table,
	&api_containers_stats_table,
	&api_containers_archive_table,
	&api_exec_table,
	&api_images_table,
	&api_volumes_table,
	/* clang-format on */
};

const size_t api__ntables = sizeof(api__tables) / sizeof(api__tables[0]);
