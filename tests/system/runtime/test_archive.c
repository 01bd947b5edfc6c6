/*
 * rt_archive_* (docker cp) at the runtime level, for what the API's tests
 * (tests/system/api/archive.sh) cannot reach: a container in a user
 * namespace, whose copied-in files must belong to its own root (the
 * host's mapped uid), not the host's; a copy of a stopped container, which
 * holds it (start and remove refused) until it is done and leaves no
 * mount behind; a helper killed by a signal midway, which is an -EINTR
 * result with no process left. Each test drives a libuv loop of its own.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
// clang-format off
#include <cmocka.h>
// clang-format on

#include <archive.h>
#include <archive_entry.h>
#include <dirent.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/error.h"
#include "fixture.h"

struct xfer {
	uv_loop_t loop;
	struct rt_archive *a;
	bool done, has_stat, pause_at_first, paused;
	int rc;
	char msg[512];
	struct rt_path_stat st;
	char *data; /* the first MiB of a GET */
	size_t len;
	uint64_t total;
};

static int setup(void **state)
{
	struct fx *fx = calloc(1, sizeof(*fx));

	fx_setup(fx);
	*state = fx;
	return 0;
}

static int teardown(void **state)
{
	fx_teardown(*state);
	free(*state);
	return 0;
}

static void on_stat(struct rt_archive *a, const struct rt_path_stat *st,
		    void *arg)
{
	struct xfer *x = arg;

	x->st = *st;
	x->has_stat = true;
}

static void on_data(struct rt_archive *a, const char *d, size_t n, void *arg)
{
	struct xfer *x = arg;
	size_t room = (1u << 20) - x->len;

	memcpy(x->data + x->len, d, n < room ? n : room);
	x->len += n < room ? n : room;
	x->total += n;
	if (x->pause_at_first && !x->paused) {
		x->paused = true;
		rt_archive_pause(a);
		uv_stop(&x->loop);
	}
}

static void on_done(struct rt_archive *a, int rc, const char *msg, void *arg)
{
	struct xfer *x = arg;

	x->done = true;
	x->rc = rc;
	snprintf(x->msg, sizeof(x->msg), "%s", msg);
	uv_stop(&x->loop);
}

static void xfer_begin(struct fx *fx, struct xfer *x, const char *id,
		       const struct rt_archive_req *req)
{
	struct rt_archive_cbs cbs = {on_stat, on_data, on_done, x};
	struct shoal_err err = {""};

	x->data = calloc(1, 1u << 20);
	uv_loop_init(&x->loop);
	if (rt_archive_start(fx->rt, &x->loop, id, req, &cbs, &x->a, &err) < 0)
		fail_msg("archive: %s", err.msg);
}

/* Run until done (or paused), at most @s seconds. */
static void xfer_run(struct xfer *x, int s)
{
	for (int i = 0; i < s * 10 && !x->done; i++) {
		uv_run(&x->loop, UV_RUN_NOWAIT);
		if (x->paused && !x->done && x->pause_at_first)
			return;
		usleep(100000);
	}
}

static void xfer_end(struct xfer *x)
{
	rt_archive_close(x->a);
	uv_run(&x->loop, UV_RUN_DEFAULT); /* reaped, handles closed */
	assert_int_equal(uv_loop_close(&x->loop), 0);
	free(x->data);
}

/* A tar with one file "f" ("hello", uid 4321) in a memfd. */
static int small_tar(void)
{
	struct archive *a = archive_write_new();
	struct archive_entry *e = archive_entry_new();
	int fd = memfd_create("tar", MFD_CLOEXEC);

	archive_write_set_format_pax_restricted(a);
	assert_int_equal(archive_write_open_fd(a, fd), ARCHIVE_OK);
	archive_entry_set_pathname(e, "f");
	archive_entry_set_filetype(e, AE_IFREG);
	archive_entry_set_perm(e, 0640);
	archive_entry_set_uid(e, 4321);
	archive_entry_set_gid(e, 4321);
	archive_entry_set_size(e, 5);
	assert_int_equal(archive_write_header(a, e), ARCHIVE_OK);
	assert_int_equal(archive_write_data(a, "hello", 5), 5);
	archive_write_close(a);
	archive_write_free(a);
	archive_entry_free(e);
	return fd;
}

static void put_small(struct fx *fx, const char *id, bool copy_ids)
{
	struct rt_archive_req req = {.op = RT_ARCHIVE_PUT,
				     .path = "/tmp",
				     .input_fd = small_tar(),
				     .copy_uid_gid = copy_ids};
	struct xfer x = {0};

	xfer_begin(fx, &x, id, &req);
	close(req.input_fd);
	xfer_run(&x, 30);
	assert_true(x.done);
	if (x.rc)
		fail_msg("put: %d %s", x.rc, x.msg);
	xfer_end(&x);
}

static uid_t upper_uid(struct fx *fx, const char *id, const char *rel)
{
	char path[1024];
	struct stat st;

	snprintf(path, sizeof(path), "%s/containers/%s/upper/%s", fx->data_root,
		 id, rel);
	assert_int_equal(stat(path, &st), 0);
	return st.st_uid;
}

static void copies_into_a_user_namespace_belong_to_its_root(void **state)
{
	struct fx *fx = *state;
	const char *argv[] = {"sleep", "100", NULL};
	struct rt_archive_req get = {.op = RT_ARCHIVE_GET, .path = "/tmp/f"};
	char id[RT_ID_LEN + 1];
	struct archive_entry *e;
	struct rt_spec s;
	struct xfer x = {0};
	char body[8] = "";

	chmod(fx->root, 0755); /* the mapped root reaches its upper dir */
	fx_spec(fx, &s, argv);
	s.userns_host_id = 100000;
	s.userns_size = 65536;
	fx_start(fx, &s, id);
	put_small(fx, id, false);
	assert_int_equal(upper_uid(fx, id, "tmp/f"), 100000);
	put_small(fx, id, true);
	assert_int_equal(upper_uid(fx, id, "tmp/f"), 100000 + 4321);

	/* Read back: the container's view of the owner. */
	xfer_begin(fx, &x, id, &get);
	xfer_run(&x, 30);
	assert_true(x.done && x.has_stat);
	assert_int_equal(x.rc, 0);
	assert_string_equal(x.st.name, "f");
	struct archive *a = archive_read_new();
	archive_read_support_format_tar(a);
	assert_int_equal(archive_read_open_memory(a, x.data, x.len),
			 ARCHIVE_OK);
	assert_int_equal(archive_read_next_header(a, &e), ARCHIVE_OK);
	assert_string_equal(archive_entry_pathname(e), "f");
	assert_int_equal(archive_entry_uid(e), 4321);
	assert_int_equal(archive_read_data(a, body, 5), 5);
	assert_string_equal(body, "hello");
	archive_read_free(a);
	xfer_end(&x);
	assert_int_equal(rt_container_remove(fx->rt, id, true, true), 0);
}

static void a_stopped_containers_copy_holds_it_until_done(void **state)
{
	struct fx *fx = *state;
	const char *argv[] = {"truncate", "-s", "64M", "/big", NULL};
	struct rt_archive_req get = {.op = RT_ARCHIVE_GET, .path = "/big"};
	char id[RT_ID_LEN + 1], out[256];
	struct shoal_err err = {""};
	struct rt_spec s;
	struct xfer x = {.pause_at_first = true};
	char **ids;
	size_t n;

	fx_spec(fx, &s, argv);
	assert_int_equal(fx_run(fx, &s, out, sizeof(out)), 0);
	assert_int_equal(rt_container_list(fx->rt, &ids, &n), 0);
	assert_int_equal(n, 1);
	snprintf(id, sizeof(id), "%s", ids[0]);
	rt_list_free(ids, n);

	xfer_begin(fx, &x, id, &get);
	xfer_run(&x, 30);
	assert_true(x.paused && !x.done);
	/* Its overlay is mounted in the helper's own namespace only. */
	assert_int_equal(fx_mounts_mentioning(id), 0);
	assert_int_equal(rt_container_start(fx->rt, id, &err), SHOAL_ECONFLICT);
	assert_non_null(strstr(err.msg, "copied"));
	assert_int_equal(rt_container_remove(fx->rt, id, false, true),
			 SHOAL_ECONFLICT);
	x.pause_at_first = false;
	rt_archive_resume(x.a);
	xfer_run(&x, 60);
	assert_true(x.done);
	assert_int_equal(x.rc, 0);
	assert_true(x.total > 64u << 20);
	xfer_end(&x);
	assert_int_equal(rt_container_start(fx->rt, id, &err), 0);
	assert_int_equal(rt_container_remove(fx->rt, id, true, true), 0);
}

/* The archive helper among our children (its comm), or 0. */
static pid_t find_helper(void)
{
	char path[300], comm[64];
	struct dirent *d;
	DIR *proc = opendir("/proc");
	pid_t found = 0;
	int ppid;

	while (proc && !found && (d = readdir(proc))) {
		snprintf(path, sizeof(path), "/proc/%s/stat", d->d_name);
		FILE *f = fopen(path, "r");
		if (!f)
			continue;
		if (fscanf(f, "%*d (%63[^)]) %*c %d", comm, &ppid) == 2 &&
		    ppid == getpid() && !strcmp(comm, "shoal-archive"))
			found = (pid_t)atoi(d->d_name);
		fclose(f);
	}
	if (proc)
		closedir(proc);
	return found;
}

static void a_helper_killed_midway_is_an_error(void **state)
{
	struct fx *fx = *state;
	const char *argv[] = {"sh", "-c", "truncate -s 64M /big; sleep 100",
			      NULL};
	struct rt_archive_req get = {.op = RT_ARCHIVE_GET, .path = "/big"};
	struct xfer x = {.pause_at_first = true};
	char id[RT_ID_LEN + 1];
	struct rt_spec s;
	pid_t helper;

	fx_spec(fx, &s, argv);
	fx_start(fx, &s, id);
	usleep(300000);
	xfer_begin(fx, &x, id, &get);
	xfer_run(&x, 30);
	assert_true(x.paused && !x.done);
	helper = find_helper();
	assert_true(helper > 0);
	kill(helper, SIGKILL);
	x.pause_at_first = false;
	rt_archive_resume(x.a);
	xfer_run(&x, 30);
	assert_true(x.done);
	assert_int_equal(x.rc, -EINTR);
	assert_non_null(strstr(x.msg, "signal 9"));
	xfer_end(&x);
	assert_true(fx_gone(helper));
	assert_int_equal(find_helper(), 0);
	assert_int_equal(rt_container_remove(fx->rt, id, true, true), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)
		T(copies_into_a_user_namespace_belong_to_its_root),
		T(a_stopped_containers_copy_holds_it_until_done),
		T(a_helper_killed_midway_is_an_error),
	};

	fx_skip_unless_root();
	signal(SIGPIPE, SIG_IGN);
	if (getenv("TEST_FILTER"))
		cmocka_set_test_filter(getenv("TEST_FILTER"));
	return cmocka_run_group_tests(tests, NULL, NULL);
}
