/*
 * Throughput of the HTTP server with the API router behind it: GET /_ping
 * over one keep-alive unix-socket connection, then the same spread over 32
 * connections sending one request each in turn. The server runs its loop in
 * a thread; the client uses blocking sockets. Prints one JSON line per
 * result: {"bench":..., "requests":..., "seconds":..., "req_per_sec":...}.
 */
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "api/api.h"
#include "common/alloc.h"
#include "common/clock.h"
#include "common/http.h"

static uv_loop_t loop;
static uv_async_t stop_async;
static struct http_server *srv;
static struct api *api;
static char sock_path[100];

static void on_closed(void *arg)
{
	uv_close((uv_handle_t *)&stop_async, NULL);
}

static void on_stop(uv_async_t *a)
{
	http_server_close(srv, on_closed, NULL);
}

static void *server_main(void *arg)
{
	uv_run(&loop, UV_RUN_DEFAULT);
	return NULL;
}

static int dial(void)
{
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", sock_path);
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		perror("connect");
		exit(1);
	}
	return fd;
}

/* One request, one response (ends with the "OK" body of /_ping). */
static void ping(int fd)
{
	static const char req[] =
		"GET /v1.45/_ping HTTP/1.1\r\nHost: b\r\n\r\n";
	char buf[2048];
	size_t len = 0;
	if (send(fd, req, sizeof(req) - 1, MSG_NOSIGNAL) < 0) {
		perror("send");
		exit(1);
	}
	for (;;) {
		ssize_t n = recv(fd, buf + len, sizeof(buf) - 1 - len, 0);
		if (n <= 0) {
			fprintf(stderr, "bench: connection closed\n");
			exit(1);
		}
		len += (size_t)n;
		buf[len] = '\0';
		if (len >= 6 && strcmp(buf + len - 6, "\r\n\r\nOK") == 0)
			return;
	}
}

static void report(const char *name, int n, int64_t ns)
{
	double s = (double)ns / 1e9;
	printf("{\"bench\":\"%s\",\"requests\":%d,\"seconds\":%.3f,"
	       "\"req_per_sec\":%.0f}\n",
	       name, n, s, n / s);
}

int main(int argc, char **argv)
{
	int n = argc > 1 ? atoi(argv[1]) : 20000;
	signal(SIGPIPE, SIG_IGN);
	shoal_alloc_install();
	char dir[] = "/tmp/shoal-bench-http.XXXXXX";
	if (!mkdtemp(dir))
		return 1;
	snprintf(sock_path, sizeof(sock_path), "%s/s.sock", dir);
	struct api_services svc = {.data_root = dir, .exec_root = dir};
	uv_loop_init(&loop);
	uv_async_init(&loop, &stop_async, on_stop);
	if (api_new(&svc, &api) < 0 ||
	    http_server_new(&loop, NULL, api_http_handler, api, &srv) < 0 ||
	    http_server_listen_unix(srv, sock_path, 0600) < 0)
		return 1;
	pthread_t th;
	pthread_create(&th, NULL, server_main, NULL);

	int fd = dial();
	int64_t t0 = time_mono_ns();
	for (int i = 0; i < n; i++)
		ping(fd);
	report("http_keepalive_ping", n, time_mono_ns() - t0);
	close(fd);

	int fds[32];
	for (int i = 0; i < 32; i++)
		fds[i] = dial();
	t0 = time_mono_ns();
	for (int i = 0; i < n; i++)
		ping(fds[i % 32]);
	report("http_32_conns_ping", n, time_mono_ns() - t0);
	for (int i = 0; i < 32; i++)
		close(fds[i]);

	t0 = time_mono_ns();
	int m = n / 10;
	for (int i = 0; i < m; i++) {
		int c = dial();
		ping(c);
		close(c);
	}
	report("http_connect_per_ping", m, time_mono_ns() - t0);

	uv_async_send(&stop_async);
	pthread_join(th, NULL);
	uv_loop_close(&loop);
	api_free(api);
	rmdir(dir);
	return 0;
}
