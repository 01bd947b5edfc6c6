/*
 * POST /build (Docker Engine API v1.45, "ImageBuild"): the classic
 * builder's route. Only the Dockerfile parser of the builder is in the
 * tree so far (engine/build_dockerfile.c); running a build is not, so the
 * route answers 501 with what to do instead rather than the router's
 * "page not found", which would read like a client bug. The context the
 * client sends is not read (the server discards a refused body).
 */
#define LOG_MODULE "api"
#include "api/internal.h"

static void build(struct api_call *call)
{
	api_reply_error(call, 501,
			"docker build is not supported by Shoal yet (only its "
			"Dockerfile parser is done): build the image "
			"elsewhere and bring it here with docker save and "
			"docker load, or make one from a container with "
			"docker commit");
}

static const struct api_route routes[] = {
	{"POST", "/build", build},
};

const struct api_route_table api_build_table = {
	.name = "build",
	.routes = routes,
	.nroutes = sizeof(routes) / sizeof(routes[0]),
};
