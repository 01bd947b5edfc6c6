/*
 * The shoal client's plumbing for the container commands (see ctr.h):
 * requests with Docker's error messages, hijacked connections over raw
 * sockets (attach, exec start, and the /wait whose head comes at once and
 * body at the exit), the relay between such a connection and the
 * terminal, and the flag parser.
 *
 * The relay is one poll() loop. Without a tty the daemon's bytes are
 * Docker's frames (1 = stdout, 2 = stderr, 8-byte header); a frame may
 * arrive in pieces, so a small buffer collects a header and its payload is
 * copied through as it comes. A terminal put in raw mode is restored on
 * every way out (also by the atexit hook, should a write fail midway).
 */
#include "cli/ctr.h"
#include "common/alloc.h"
#include "common/error.h"
#include "common/fd.h"
#include "common/jsonx.h"

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <termios.h>
#include <unistd.h>

/* ---- flags ---- */

static const struct cli_flag *find_long(const struct cli_flag *f, size_t n,
					const char *name, size_t len)
{
	for (size_t i = 0; i < n; i++)
		if (strlen(f[i].lng) == len && !strncmp(f[i].lng, name, len))
			return &f[i];
	return NULL;
}

static const struct cli_flag *find_short(const struct cli_flag *f, size_t n,
					 char c)
{
	for (size_t i = 0; i < n; i++)
		if (f[i].shrt == c)
			return &f[i];
	return NULL;
}

static int set_flag(const char *cmd, const struct cli_flag *f, const char *val)
{
	if (f->kind == CLI_FLAG_BOOL) {
		*(bool *)f->dest = !val || strcmp(val, "false") != 0;
		return 0;
	}
	if (f->kind == CLI_FLAG_STR) {
		*(const char **)f->dest = val;
		return 0;
	}
	struct cli_list *l = f->dest;
	if (l->n == CLI_MAX_LIST) {
		fprintf(stderr, "shoal %s: too many --%s values\n", cmd,
			f->lng);
		return -1;
	}
	l->v[l->n++] = val;
	l->v[l->n] = NULL;
	return 0;
}

static int need_arg(const char *cmd, const char *flag)
{
	fprintf(stderr, "flag needs an argument: %s\nSee 'shoal %s --help'.\n",
		flag, cmd);
	return -1;
}

int cli_flags(const char *cmd, const struct cli_flag *flags, size_t n, int argc,
	      char **argv, bool interspersed)
{
	char *pos[256];
	int np = 0, i = 1;
	for (; i < argc; i++) {
		char *a = argv[i];
		if (!strcmp(a, "--")) {
			i++;
			break;
		}
		if (a[0] != '-' || !a[1]) {
			if (!interspersed)
				return i;
			if (np < 256)
				pos[np++] = a;
			continue;
		}
		if (!strcmp(a, "--help") || !strcmp(a, "-h"))
			return -2;
		if (a[1] == '-') {
			const char *name = a + 2, *eq = strchr(name, '=');
			size_t len = eq ? (size_t)(eq - name) : strlen(name);
			const struct cli_flag *f =
				find_long(flags, n, name, len);
			if (!f) {
				fprintf(stderr,
					"unknown flag: --%.*s\nSee 'shoal %s "
					"--help'.\n",
					(int)len, name, cmd);
				return -1;
			}
			const char *val = eq ? eq + 1 : NULL;
			if (!val && f->kind != CLI_FLAG_BOOL) {
				if (i + 1 >= argc)
					return need_arg(cmd, a);
				val = argv[++i];
			}
			if (set_flag(cmd, f, val) < 0)
				return -1;
			continue;
		}
		for (char *p = a + 1; *p; p++) {
			const struct cli_flag *f = find_short(flags, n, *p);
			if (!f) {
				fprintf(stderr,
					"unknown shorthand flag: '%c' in %s\n"
					"See 'shoal %s --help'.\n",
					*p, a, cmd);
				return -1;
			}
			if (f->kind == CLI_FLAG_BOOL) {
				set_flag(cmd, f, NULL);
				continue;
			}
			const char *val = p[1] ? p + 1 : NULL;
			if (val && *val == '=')
				val++;
			if (!val) {
				if (i + 1 >= argc)
					return need_arg(cmd, a);
				val = argv[++i];
			}
			if (set_flag(cmd, f, val) < 0)
				return -1;
			break;
		}
	}
	if (!interspersed)
		return i;
	for (; i < argc && np < 256; i++)
		pos[np++] = argv[i];
	int start = argc - np;
	for (int k = 0; k < np; k++)
		argv[start + k] = pos[k];
	return start;
}

/* ---- requests ---- */

static void cannot_connect(struct cli *cli, int rc)
{
	if (cli_unreachable(rc))
		fprintf(stderr,
			"Cannot connect to the Shoal daemon at %s. Is shoald "
			"running?\n",
			cli->host);
	else
		fprintf(stderr, "Error talking to the Shoal daemon at %s: %s\n",
			cli->host, shoal_strerror(rc));
}

const char *cli_error_message(const struct http_result *r, char *buf,
			      size_t cap)
{
	json_t *v = NULL;
	const char *m = NULL;
	if (r->body_len && jsonx_parse(r->body, r->body_len, &v, NULL, 0) == 0)
		m = jsonx_str(v, "message", NULL);
	snprintf(buf, cap, "%s", m ? m : (r->body ? r->body : ""));
	json_decref(v);
	size_t l = strlen(buf);
	while (l && buf[l - 1] == '\n')
		buf[--l] = '\0';
	return buf;
}

static char last_error[1024];

const char *cli_last_error(void)
{
	return last_error;
}

int cli_call(struct cli *cli, const char *method, const char *path,
	     const void *body, size_t len, const char *content_type,
	     struct http_result *out, int quiet_status)
{
	char full[4096];
	snprintf(full, sizeof(full), "%s%s", CLI_API_PREFIX, path);
	struct http_client_req req = {
		.method = method,
		.path = full,
		.body = body,
		.body_len = len,
		.content_type = content_type,
		.timeout_ms = 0,
		.max_body_bytes = (size_t)1 << 31,
	};
	struct http_result r;
	int rc = http_client_fetch(cli->host, &req, &r);
	if (rc < 0) {
		cannot_connect(cli, rc);
		return -1;
	}
	if (r.status >= 400) {
		int st = r.status;
		cli_error_message(&r, last_error, sizeof(last_error));
		if (st != quiet_status)
			fprintf(stderr, "Error response from daemon: %s\n",
				last_error);
		http_result_fini(&r);
		return st == quiet_status ? st : -1;
	}
	if (out)
		*out = r;
	else
		http_result_fini(&r);
	return 0;
}

int cli_call_json(struct cli *cli, const char *method, const char *path,
		  const json_t *body, json_t **out)
{
	size_t len = 0;
	char *s = body ? jsonx_dump(body, &len) : NULL;
	struct http_result r;
	int rc = cli_call(cli, method, path, s, len,
			  s ? "application/json" : NULL, &r, 0);
	shoal_free(s);
	if (rc != 0)
		return -1;
	if (out) {
		char err[256];
		*out = NULL;
		if (r.body_len && jsonx_parse(r.body, r.body_len, out, err,
					      sizeof(err)) < 0) {
			fprintf(stderr, "Error: the daemon answered with %s\n",
				err);
			http_result_fini(&r);
			return -1;
		}
	}
	http_result_fini(&r);
	return 0;
}

void cli_escape(const char *s, char *out, size_t cap)
{
	static const char hex[] = "0123456789ABCDEF";
	size_t o = 0;
	for (; *s && o + 4 < cap; s++) {
		unsigned char c = (unsigned char)*s;
		if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		    (c >= '0' && c <= '9') || strchr("-_.~", c)) {
			out[o++] = (char)c;
		} else {
			out[o++] = '%';
			out[o++] = hex[c >> 4];
			out[o++] = hex[c & 15];
		}
	}
	out[o] = '\0';
}

/* ---- raw connections ---- */

static int dial(struct cli *cli)
{
	struct http_addr a;
	if (http_addr_parse(cli->host, &a) < 0)
		return -EINVAL;
	int fd = socket(a.is_unix ? AF_UNIX : a.sa.ss_family,
			SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	int rc;
	if (a.is_unix) {
		struct sockaddr_un un = {.sun_family = AF_UNIX};
		snprintf(un.sun_path, sizeof(un.sun_path), "%s", a.path);
		rc = connect(fd, (struct sockaddr *)&un, sizeof(un));
	} else {
		rc = connect(fd, (struct sockaddr *)&a.sa,
			     a.sa.ss_family == AF_INET6
				     ? sizeof(struct sockaddr_in6)
				     : sizeof(struct sockaddr_in));
	}
	if (rc < 0) {
		rc = -errno;
		close(fd);
		return rc;
	}
	return fd;
}

static int conn_fail(struct cli *cli, struct cli_conn *c)
{
	fprintf(stderr, "Error: the daemon at %s closed the connection\n",
		cli->host);
	close(c->fd);
	c->fd = -1;
	shoal_free(c->left);
	c->left = NULL;
	return -1;
}

int cli_conn_open(struct cli *cli, const char *method, const char *path,
		  const char *body, int mode, struct cli_conn *c)
{
	bool upgrade = mode == CLI_CONN_UPGRADE;
	memset(c, 0, sizeof(*c));
	c->fd = dial(cli);
	if (c->fd < 0) {
		cannot_connect(cli, c->fd);
		return -1;
	}
	size_t blen = body ? strlen(body) : 0;
	char head[4096];
	int n = snprintf(head, sizeof(head),
			 "%s %s%s HTTP/1.%d\r\nHost: api\r\nUser-Agent: "
			 "shoal/%s\r\nContent-Type: application/json\r\n"
			 "Content-Length: %zu\r\n%s\r\n",
			 method, CLI_API_PREFIX, path,
			 mode == CLI_CONN_STREAM ? 0 : 1, SHOAL_VERSION, blen,
			 upgrade ? "Connection: Upgrade\r\nUpgrade: tcp\r\n"
				 : "");
	if (fd_write_all(c->fd, head, (size_t)n) < 0 ||
	    (blen && fd_write_all(c->fd, body, blen) < 0))
		return conn_fail(cli, c);
	char buf[16384];
	size_t got = 0;
	char *end = NULL;
	while (!end) {
		if (got == sizeof(buf) - 1)
			return conn_fail(cli, c);
		ssize_t r = read(c->fd, buf + got, sizeof(buf) - 1 - got);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			return conn_fail(cli, c);
		got += (size_t)r;
		buf[got] = '\0';
		end = strstr(buf, "\r\n\r\n");
	}
	if (sscanf(buf, "HTTP/1.%*d %d", &c->status) != 1)
		return conn_fail(cli, c);
	size_t hl = (size_t)(end + 4 - buf);
	c->nleft = got - hl;
	c->left = shoal_malloc(c->nleft + 1);
	if (!c->left)
		return conn_fail(cli, c);
	memcpy(c->left, buf + hl, c->nleft);
	if (c->status >= 400) {
		/* The error body: read to the end (the daemon closes or the
		 * length is small); take the message out of it. */
		size_t cap = sizeof(buf) - 1, k = c->nleft;
		memcpy(buf, c->left, k);
		struct pollfd p = {.fd = c->fd, .events = POLLIN};
		while (k < cap && !memchr(buf, '}', k) &&
		       poll(&p, 1, 2000) > 0) {
			ssize_t r = read(c->fd, buf + k, cap - k);
			if (r <= 0)
				break;
			k += (size_t)r;
		}
		buf[k] = '\0';
		struct http_result fake = {.body = strchr(buf, '{'),
					   .body_len = 0};
		if (fake.body) {
			char *close = strrchr(fake.body, '}');
			fake.body_len = close ? (size_t)(close - fake.body + 1)
					      : strlen(fake.body);
			fake.body[fake.body_len] = '\0';
		} else {
			fake.body = buf;
			fake.body_len = k;
		}
		cli_error_message(&fake, c->msg, sizeof(c->msg));
	}
	return 0;
}

void cli_conn_close(struct cli_conn *c)
{
	if (c->fd >= 0)
		close(c->fd);
	c->fd = -1;
	shoal_free(c->left);
	c->left = NULL;
}

int cli_wait_status(struct cli_conn *c)
{
	char buf[4096];
	size_t k = c->nleft < sizeof(buf) - 1 ? c->nleft : sizeof(buf) - 1;
	memcpy(buf, c->left, k);
	buf[k] = '\0';
	while (!strstr(buf, "StatusCode\":") ||
	       !strchr(strstr(buf, "StatusCode"), '}')) {
		if (k == sizeof(buf) - 1)
			return -1;
		ssize_t r = read(c->fd, buf + k, sizeof(buf) - 1 - k);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			return -1;
		k += (size_t)r;
		buf[k] = '\0';
	}
	return atoi(strstr(buf, "StatusCode\":") + 12);
}

/* ---- relay ---- */

static struct termios saved_tio;
static bool raw_on;

static void restore_term(void)
{
	if (raw_on) {
		tcsetattr(STDIN_FILENO, TCSANOW, &saved_tio);
		raw_on = false;
	}
}

static void raw_term(void)
{
	static bool hooked;
	if (!isatty(STDIN_FILENO) || tcgetattr(STDIN_FILENO, &saved_tio) < 0)
		return;
	struct termios t = saved_tio;
	cfmakeraw(&t);
	if (tcsetattr(STDIN_FILENO, TCSANOW, &t) == 0)
		raw_on = true;
	if (!hooked) {
		atexit(restore_term);
		hooked = true;
	}
}

bool cli_term_size(unsigned *rows, unsigned *cols)
{
	struct winsize ws;
	if (ioctl(STDOUT_FILENO, TIOCGWINSZ, &ws) < 0 || !ws.ws_row)
		return false;
	*rows = ws.ws_row;
	*cols = ws.ws_col;
	return true;
}

struct demux {
	unsigned char hdr[8];
	size_t hlen;
	size_t left; /* payload bytes left in the current frame */
	int stream;
};

static void demux(struct demux *d, const char *p, size_t n)
{
	while (n) {
		if (d->left == 0) {
			size_t k = 8 - d->hlen < n ? 8 - d->hlen : n;
			memcpy(d->hdr + d->hlen, p, k);
			d->hlen += k;
			p += k;
			n -= k;
			if (d->hlen < 8)
				return;
			d->hlen = 0;
			d->stream = d->hdr[0];
			d->left = (size_t)d->hdr[4] << 24 |
				  (size_t)d->hdr[5] << 16 |
				  (size_t)d->hdr[6] << 8 | d->hdr[7];
			continue;
		}
		size_t k = d->left < n ? d->left : n;
		fd_write_all(d->stream == 2 ? STDERR_FILENO : STDOUT_FILENO, p,
			     k);
		d->left -= k;
		p += k;
		n -= k;
	}
}

static void output(struct demux *d, bool tty, const char *p, size_t n)
{
	if (tty)
		fd_write_all(STDOUT_FILENO, p, n);
	else
		demux(d, p, n);
}

static void (*proxy_fn)(int signo, void *arg);
static void *proxy_arg;

void cli_relay_set_proxy(void (*fn)(int signo, void *arg), void *arg)
{
	proxy_fn = fn;
	proxy_arg = arg;
}

/* The signals docker's --sig-proxy forwards that a terminal user sends. */
static const int proxied[] = {SIGINT,  SIGTERM, SIGHUP, SIGQUIT,
			      SIGUSR1, SIGUSR2, SIGALRM};

int cli_relay(struct cli_conn *c, bool tty, bool in, void (*winch)(void *arg),
	      void *arg)
{
	struct demux d = {0};
	char buf[65536];
	int sfd = -1;
	bool proxy = proxy_fn && !tty; /* docker: non-tty mode only */
	sigset_t set, old;
	if (tty && in)
		raw_term();
	sigemptyset(&set);
	if (tty && winch)
		/* The terminal's size follows the window, as docker's. */
		sigaddset(&set, SIGWINCH);
	for (size_t k = 0; proxy && k < sizeof(proxied) / sizeof(proxied[0]);
	     k++)
		sigaddset(&set, proxied[k]);
	if ((tty && winch) || proxy) {
		sigprocmask(SIG_BLOCK, &set, &old);
		sfd = signalfd(-1, &set, SFD_CLOEXEC);
	}
	output(&d, tty, c->left, c->nleft);
	struct pollfd p[3] = {{.fd = c->fd, .events = POLLIN},
			      {.fd = in ? STDIN_FILENO : -1, .events = POLLIN},
			      {.fd = sfd, .events = POLLIN}};
	for (;;) {
		if (p[2].fd >= 0 && p[2].revents) {
			struct signalfd_siginfo si = {0};
			if (read(sfd, &si, sizeof(si)) <= 0)
				si.ssi_signo = 0;
			if (si.ssi_signo == SIGWINCH && winch)
				winch(arg);
			else if (proxy && si.ssi_signo &&
				 si.ssi_signo != SIGWINCH)
				proxy_fn((int)si.ssi_signo, proxy_arg);
		}
		if (poll(p, 3, -1) < 0) {
			if (errno == EINTR)
				continue;
			break;
		}
		if (p[0].revents) {
			ssize_t r = read(c->fd, buf, sizeof(buf));
			if (r < 0 && errno == EINTR)
				continue;
			if (r <= 0)
				break;
			output(&d, tty, buf, (size_t)r);
		}
		if (p[1].fd >= 0 && p[1].revents) {
			ssize_t r = read(STDIN_FILENO, buf, sizeof(buf));
			if (r < 0 && errno == EINTR)
				continue;
			if (r <= 0) {
				p[1].fd = -1;
				shutdown(c->fd, SHUT_WR);
				continue;
			}
			if (fd_write_all(c->fd, buf, (size_t)r) < 0)
				p[1].fd = -1;
		}
	}
	if (sfd >= 0) {
		close(sfd);
		sigprocmask(SIG_SETMASK, &old, NULL);
	}
	restore_term();
	return 0;
}

/* ---- formatting ---- */

bool cli_confirm(const char *warning)
{
	char ans[16] = "";
	printf("%s\nAre you sure you want to continue? [y/N] ", warning);
	fflush(stdout);
	return fgets(ans, sizeof(ans), stdin) &&
	       (ans[0] == 'y' || ans[0] == 'Y');
}

int cli_filter_add(json_t *o, const char *kv)
{
	const char *eq = strchr(kv, '=');
	char key[64];
	json_t *a;

	if (!eq) {
		fprintf(stderr,
			"invalid argument \"%s\" for \"-f, --filter\" flag: "
			"bad format of filter (expected name=value)\n",
			kv);
		return -1;
	}
	snprintf(key, sizeof(key), "%.*s", (int)(eq - kv), kv);
	a = json_object_get(o, key);
	if (!a) {
		a = json_array();
		json_object_set_new(o, key, a);
	}
	return json_array_append_new(a, json_string(eq + 1));
}

int cli_filters_query(const struct cli_list *f, const char *extra, char *out,
		      size_t cap)
{
	json_t *o = json_object();
	char *s;

	out[0] = '\0';
	if (!o)
		return -1;
	for (size_t i = 0; i < f->n; i++)
		if (cli_filter_add(o, f->v[i]) < 0) {
			json_decref(o);
			return -1;
		}
	if (extra && cli_filter_add(o, extra) < 0) {
		json_decref(o);
		return -1;
	}
	if (json_object_size(o) == 0) {
		json_decref(o);
		return 0;
	}
	s = json_dumps(o, JSON_COMPACT);
	json_decref(o);
	if (!s)
		return -1;
	cli_escape(s, out, cap);
	free(s);
	return 0;
}

void cli_print_prune(const json_t *answer, const char *key, const char *title)
{
	const json_t *gone = json_object_get(answer, key);
	char size[32];
	if (json_array_size(gone)) {
		printf("%s:\n", title);
		for (size_t k = 0; k < json_array_size(gone); k++) {
			const json_t *g = json_array_get(gone, k);
			/* image prune: {"Untagged": x} / {"Deleted": x} */
			if (json_is_object(g) && jsonx_str(g, "Untagged", NULL))
				printf("untagged: %s\n",
				       jsonx_str(g, "Untagged", ""));
			else if (json_is_object(g))
				printf("deleted: %s\n",
				       jsonx_str(g, "Deleted", ""));
			else
				printf("%s\n", json_string_value(g)
						       ? json_string_value(g)
						       : "");
		}
		printf("\n");
	}
	cli_human_size((double)json_integer_value(
			       json_object_get(answer, "SpaceReclaimed")),
		       size, sizeof(size));
	printf("Total reclaimed space: %s\n", size);
}

void cli_human_size(double b, char *out, size_t cap)
{
	static const char *const u[] = {"B", "kB", "MB", "GB", "TB", "PB"};
	size_t i = 0;
	while (b >= 1000 && i + 1 < sizeof(u) / sizeof(u[0])) {
		b /= 1000;
		i++;
	}
	snprintf(out, cap, "%.3g%s", b, u[i]);
}

void cli_ellipsis(const char *s, size_t max, char *out, size_t cap)
{
	size_t cps = 0, i = 0, cut = 0;
	for (; s[i]; i++)
		if (((unsigned char)s[i] & 0xc0) != 0x80) {
			if (cps == max - 1)
				cut = i;
			cps++;
		}
	if (cps <= max)
		snprintf(out, cap, "%s", s);
	else
		snprintf(out, cap, "%.*s…", (int)cut, s);
}

int64_t cli_parse_size(const char *s)
{
	char *end;
	double v = strtod(s, &end);
	if (end == s || v < 0)
		return -1;
	double mul = 1;
	switch (*end) {
	case 'b':
	case 'B':
		break;
	case 'k':
	case 'K':
		mul = 1024;
		break;
	case 'm':
	case 'M':
		mul = 1024.0 * 1024;
		break;
	case 'g':
	case 'G':
		mul = 1024.0 * 1024 * 1024;
		break;
	case 't':
	case 'T':
		mul = 1024.0 * 1024 * 1024 * 1024;
		break;
	case '\0':
		return (int64_t)v;
	default:
		return -1;
	}
	end++;
	if (*end == 'b' || *end == 'B')
		end++;
	if (*end)
		return -1;
	return (int64_t)(v * mul);
}
