/*
 * Fuzz target for the HTTP request path: bytes go into a socketless server
 * connection (http__server_feed), through http-parser, the limits, request
 * building (URL and query decoding), the body policy (shoald's, per
 * route, with its limits cut down so that 413s are reached: archive routes
 * spool their bodies into a scratch folder) and, for every complete
 * request, the API router and a few response kinds (whole, streamed,
 * error). The first byte picks how the input is cut into reads, so partial
 * reads are covered too. Any crash, leak or sanitizer report is a bug, and
 * so is a spooled body left in the scratch folder.
 */
#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "api/api.h"
#include "common/alloc.h"
#include "common/http.h"
#include "common/http_internal.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct api *api;
static char spool[64];

static void handler(struct http_request *req, struct http_response *res,
		    void *arg)
{
	char piece[4096];
	ssize_t n;

	if (strstr(req->path, "/logs")) {
		if (http_response_begin(res, 200, "text/plain") < 0) {
			http_response_send_error(res, 500, "begin failed");
			return;
		}
		if (req->body_fd < 0)
			http_response_write(res, req->body, req->body_len);
		else if ((n = read(req->body_fd, piece, sizeof(piece))) > 0)
			http_response_write(res, piece, (size_t)n);
		http_response_write(res, req->url, strlen(req->url));
		http_response_end(res);
		return;
	}
	api_http_handler(req, res, api);
}

/* shoald's policy, with limits small enough to be crossed here. */
static void policy(const struct http_request *req, struct http_body_policy *p,
		   void *arg)
{
	api_body_policy(req, p, api);
	if (p->max_bytes > (p->spool ? 65536 : 16384))
		p->max_bytes = p->spool ? 65536 : 16384;
}

static void spool_check_and_remove(void)
{
	DIR *d = opendir(spool);
	struct dirent *e;

	while (d && (e = readdir(d)))
		if (e->d_name[0] != '.') {
			fprintf(stderr, "spooled body left: %s\n", e->d_name);
			abort();
		}
	if (d)
		closedir(d);
	rmdir(spool);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static uv_loop_t loop;
	static struct http_server *srv;
	if (!srv) {
		struct api_services svc = {.data_root = "/nonexistent",
					   .exec_root = "/nonexistent"};
		struct http_server_opts o = {.max_body_bytes = 16384,
					     .body_policy = policy,
					     .spool_dir = spool};
		snprintf(spool, sizeof(spool), "%s/shoal-fuzz-http.XXXXXX",
			 access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp");
		if (!mkdtemp(spool))
			abort();
		atexit(spool_check_and_remove);
		uv_loop_init(&loop);
		if (api_new(&svc, &api) < 0 ||
		    http_server_new(&loop, &o, handler, NULL, &srv) < 0)
			return 0;
	}
	size_t piece = size ? data[0] % 17 : 0;
	struct buf out;
	buf_init(&out, 1 << 20);
	http__server_feed(srv, data, size, piece, &out);
	buf_fini(&out);
	return 0;
}
