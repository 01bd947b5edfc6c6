/*
 * Internal to the shoal client: what the container, image and volume
 * commands share. Requests of any method with Docker's error messages,
 * the hijacked connections of attach and exec (raw sockets, since
 * common/http's client has no upgrade), the relay of a hijacked stream to
 * the terminal (raw mode for a tty, Docker's 8-byte frames demultiplexed
 * otherwise), a small flag parser with docker's spellings, and the
 * formatting helpers docker's tables use (HumanDuration, HumanSize,
 * truncation). Everything is synchronous: one command, one process.
 */
#ifndef SHOAL_CLI_CTR_H
#define SHOAL_CLI_CTR_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "cli/cli.h"
#include "common/http.h"

#define CLI_MAX_LIST 64

/* ---- flags ---- */

enum cli_flag_kind {
	CLI_FLAG_BOOL,
	CLI_FLAG_STR,
	CLI_FLAG_LIST,
};

struct cli_list {
	const char *v[CLI_MAX_LIST + 1];
	size_t n;
};

struct cli_flag {
	const char *lng; /* "name" for --name */
	char shrt;	 /* 'n' for -n, 0 for none */
	enum cli_flag_kind kind;
	void *dest; /* bool *, const char **, struct cli_list * */
};

/**
 * cli_flags() - parse @argv[1..] against @flags. With @interspersed false
 * parsing stops at the first positional argument (docker run IMAGE CMD...).
 * Returns the index of the first positional argument (argc when none), -1
 * after printing an error, or -2 for --help (usage is the caller's).
 */
int cli_flags(const char *cmd, const struct cli_flag *flags, size_t n, int argc,
	      char **argv, bool interspersed);

/* ---- requests ---- */

/**
 * cli_call() - one request; @body may be NULL. On success (status < 400)
 * returns 0 and fills @out when non-NULL (free with http_result_fini()).
 * Otherwise prints Docker's "Error response from daemon: ..." (or the
 * connection error) to stderr and returns -1, or the HTTP status when
 * @quiet_status matches it (then nothing is printed).
 */
int cli_call(struct cli *cli, const char *method, const char *path,
	     const void *body, size_t len, const char *content_type,
	     struct http_result *out, int quiet_status);

/** cli_last_error() - the daemon's message of the last failed cli_call(). */
const char *cli_last_error(void);

/** cli_call_json() - cli_call() whose answer is parsed into *@out. */
int cli_call_json(struct cli *cli, const char *method, const char *path,
		  const json_t *body, json_t **out);

/** cli_error_message() - the daemon's {"message"} of @r, into @buf. */
const char *cli_error_message(const struct http_result *r, char *buf,
			      size_t cap);

/** cli_escape() - percent-encode @s for a query into @out. */
void cli_escape(const char *s, char *out, size_t cap);

/**
 * cli_filter_add() - one `--filter name=value` into Docker's filters
 * object @o ({"name":["value",...]}). -1 after printing docker's message
 * for a flag without '='.
 */
int cli_filter_add(json_t *o, const char *kv);

/**
 * cli_filters_query() - docker's `--filter name=value` flags (plus
 * @extra, another "name=value" or NULL) as Docker's filters JSON
 * ({"name":["value"]}), percent-encoded into @out; "" when there are
 * none. -1 after printing docker's message for a flag without '='.
 */
int cli_filters_query(const struct cli_list *f, const char *extra, char *out,
		      size_t cap);

/* ---- hijacked streams ---- */

struct cli_conn {
	int fd;
	int status;
	char *left; /* bytes read past the head; owned */
	size_t nleft;
	char msg[512]; /* the error message when status >= 400 */
};

/**
 * cli_conn_open() - connect, send a request (@mode: CLI_CONN_*) and read
 * the answer's head. Returns 0 with @c filled (its
 * status may be an error, with c->msg), or -1 after printing why the
 * daemon could not be reached.
 */
enum {
	CLI_CONN_PLAIN = 0,   /* HTTP/1.1 (chunked answers) */
	CLI_CONN_UPGRADE = 1, /* hijack: Connection: Upgrade */
	CLI_CONN_STREAM = 2,  /* HTTP/1.0: a close-delimited body */
};
int cli_conn_open(struct cli *cli, const char *method, const char *path,
		  const char *body, int mode, struct cli_conn *c);
void cli_conn_close(struct cli_conn *c);

/** cli_wait_status() - read the body of a pending /wait answer. */
int cli_wait_status(struct cli_conn *c);

/**
 * cli_relay() - copy the stream of @c to stdout/stderr (demultiplexing
 * Docker's frames unless @tty) and, when @in, stdin to @c (its EOF half-
 * closes the socket), until the stream ends. A tty stdin is put in raw
 * mode for the duration; with a tty, @winch (may be NULL) runs on every
 * SIGWINCH so the caller can send the new size.
 */
int cli_relay(struct cli_conn *c, bool tty, bool in, void (*winch)(void *arg),
	      void *arg);

/**
 * cli_relay_set_proxy() - docker's --sig-proxy: while cli_relay() relays
 * a stream without a tty, SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGUSR1,
 * SIGUSR2 and SIGALRM are caught and passed to @fn (which sends them to
 * the container) instead of acting on the CLI. NULL @fn: off.
 */
void cli_relay_set_proxy(void (*fn)(int signo, void *arg), void *arg);

/** cli_term_size() - rows and cols of stdout's terminal; false if none. */
bool cli_term_size(unsigned *rows, unsigned *cols);

/* ---- formatting ---- */

/**
 * cli_confirm() - print @warning and "Are you sure you want to continue?
 * [y/N] "; true when the answer starts with y or Y.
 */
bool cli_confirm(const char *warning);
/**
 * cli_print_prune() - a prune answer as docker prints it: "@title:" and
 * the ids of array @key, then "Total reclaimed space: " from the
 * answer's SpaceReclaimed.
 */
void cli_print_prune(const json_t *answer, const char *key, const char *title);
/** Docker's units.HumanSize: decimal units, 3 significant digits. */
void cli_human_size(double bytes, char *out, size_t cap);
/** @s cut to @max code points with "…" as the last one. */
void cli_ellipsis(const char *s, size_t max, char *out, size_t cap);
/** Parse docker's sizes ("512m", "1g", "100k", "1024"); -1 on junk. */
int64_t cli_parse_size(const char *s);

/* ---- subcommands ---- */

int cli_cmd_container(struct cli *cli, int argc, char **argv);
int cli_cmd_image(struct cli *cli, int argc, char **argv);
int cli_cmd_volume(struct cli *cli, int argc, char **argv);
int cli_cmd_network(struct cli *cli, int argc, char **argv);
int cli_ctr_port(struct cli *cli, int argc, char **argv);

/** The networking flags of run/create (cmd_network.c). */
struct cli_net_opts {
	const char *network, *ip, *mac;
	bool publish_all;
	struct cli_list publish, aliases, dns_search, dns_opt, links;
};
/** cli_net_run_flags() - @o into the create @body and its @hc; -1 after
 * printing docker's message for a bad -p. */
int cli_net_run_flags(const struct cli_net_opts *o, json_t *body, json_t *hc);

int cli_ctr_run(struct cli *cli, int argc, char **argv);
int cli_ctr_create(struct cli *cli, int argc, char **argv);
int cli_ctr_exec(struct cli *cli, int argc, char **argv);
int cli_ctr_logs(struct cli *cli, int argc, char **argv);
int cli_ctr_ps(struct cli *cli, int argc, char **argv);
int cli_ctr_start(struct cli *cli, int argc, char **argv);
int cli_ctr_stop(struct cli *cli, int argc, char **argv);
int cli_ctr_restart(struct cli *cli, int argc, char **argv);
int cli_ctr_kill(struct cli *cli, int argc, char **argv);
int cli_ctr_rm(struct cli *cli, int argc, char **argv);
int cli_ctr_pause(struct cli *cli, int argc, char **argv);
int cli_ctr_unpause(struct cli *cli, int argc, char **argv);
int cli_ctr_wait(struct cli *cli, int argc, char **argv);
int cli_ctr_inspect(struct cli *cli, int argc, char **argv);
int cli_ctr_top(struct cli *cli, int argc, char **argv);
int cli_ctr_stats(struct cli *cli, int argc, char **argv);
int cli_ctr_cp(struct cli *cli, int argc, char **argv);
/* cmd_surface.c */
int cli_ctr_rename(struct cli *cli, int argc, char **argv);
int cli_ctr_diff(struct cli *cli, int argc, char **argv);
int cli_ctr_update(struct cli *cli, int argc, char **argv);
int cli_cmd_events(struct cli *cli, int argc, char **argv);
int cli_cmd_system(struct cli *cli, int argc, char **argv);
int cli_img_prune(struct cli *cli, int argc, char **argv);
int cli_ctr_attach(struct cli *cli, int argc, char **argv);
/* cmd_build.c, cmd_commit.c */
int cli_build(struct cli *cli, int argc, char **argv);
int cli_commit(struct cli *cli, int argc, char **argv);
int cli_history(struct cli *cli, int argc, char **argv);
int cli_export(struct cli *cli, int argc, char **argv);

int cli_img_import(struct cli *cli, int argc, char **argv);
int cli_img_load(struct cli *cli, int argc, char **argv);
int cli_img_pull(struct cli *cli, int argc, char **argv);
int cli_img_push(struct cli *cli, int argc, char **argv);
int cli_login(struct cli *cli, int argc, char **argv);
int cli_logout(struct cli *cli, int argc, char **argv);

/*
 * Registry credentials as the docker CLI keeps them (cmd_login.c).
 * cli_auth_lookup() - the user and password config.json text @json holds
 * for registry @host ("docker.io" for Docker Hub): 0 with *@user and
 * *@pass (shoal_free; NULL when there are none), -EINVAL when the file or
 * the entry is malformed.
 */
int cli_auth_lookup(const char *json, size_t len, const char *host, char **user,
		    char **pass);
/* X-Registry-Auth for @host from config.json: *@out (shoal_free) or NULL
 * when there are no credentials; -1 with a message on stderr. */
int cli_registry_auth_header(const char *host, char **out);
/* POST @path with @host's credentials; as cli_call() otherwise. */
int cli_registry_call(struct cli *cli, const char *path, const char *host,
		      struct http_result *out);
int cli_img_ls(struct cli *cli, int argc, char **argv);
int cli_img_rm(struct cli *cli, int argc, char **argv);
int cli_img_inspect(struct cli *cli, int argc, char **argv);
int cli_img_tag(struct cli *cli, int argc, char **argv);

/** cli_inspect_any() - docker inspect: containers, then images. */
int cli_inspect_any(struct cli *cli, int argc, char **argv);

#endif
