/*
 * Fuzz target for the HTTP request path: bytes go into a socketless server
 * connection (http__server_feed), through http-parser, the limits, request
 * building (URL and query decoding) and, for every complete request, the
 * API router and a few response kinds (whole, streamed, error). The first
 * byte picks how the input is cut into reads, so partial reads are
 * covered too. Any crash, leak or sanitizer report is a bug.
 */
#include <stdint.h>
#include <string.h>

#include "api/api.h"
#include "common/alloc.h"
#include "common/http.h"
#include "common/http_internal.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct api *api;

static void handler(struct http_request *req, struct http_response *res,
		    void *arg)
{
	if (strstr(req->path, "/logs")) {
		if (http_response_begin(res, 200, "text/plain") < 0) {
			http_response_send_error(res, 500, "begin failed");
			return;
		}
		http_response_write(res, req->body, req->body_len);
		http_response_write(res, req->url, strlen(req->url));
		http_response_end(res);
		return;
	}
	api_http_handler(req, res, api);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static uv_loop_t loop;
	static struct http_server *srv;
	if (!srv) {
		struct api_services svc = {.data_root = "/nonexistent",
					   .exec_root = "/nonexistent"};
		uv_loop_init(&loop);
		if (api_new(&svc, &api) < 0 ||
		    http_server_new(&loop, NULL, handler, NULL, &srv) < 0)
			return 0;
	}
	size_t piece = size ? data[0] % 17 : 0;
	struct buf out;
	buf_init(&out, 1 << 20);
	http__server_feed(srv, data, size, piece, &out);
	buf_fini(&out);
	return 0;
}
