/*
 * The list of route tables the API serves. A new route file (containers.c,
 * images.c, swarm.c, nodes.c, ...) defines its table and adds one line here
 * and one declaration in api.h. Below it, the routes whose request bodies
 * are archives (spooled to disk): a new route that takes a tar body, or
 * anything past API_JSON_BODY_MAX, is added there too.
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
	&api_images_registry_table,
	&api_volumes_table,
	&api_events_table,
	&api_system_df_table,
	&api_services_table,
	&api_tasks_table,
	&api_service_logs_table,
	&api_networks_table,
	&api_commit_table,
	&api_export_table,
	&api_build_table,
	&api_secrets_table,
	&api_images_cluster_table,
	/* clang-format on */
};

const size_t api__ntables = sizeof(api__tables) / sizeof(api__tables[0]);

const struct api__archive_route api__archive_routes[] = {
	{"PUT", "/containers/{id}/archive"}, /* docker cp into a container */
	{"POST", "/images/create"},	     /* docker import (fromSrc=-) */
	{"POST", "/images/load"},	     /* docker load */
	{"POST", "/build"},		     /* docker build's context */
};

const size_t api__narchive_routes =
	sizeof(api__archive_routes) / sizeof(api__archive_routes[0]);
