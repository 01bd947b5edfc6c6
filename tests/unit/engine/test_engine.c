/*
 * Unit tests of engine/'s pure parts, no root and no clock: Docker's
 * restart back-off, the restart decision, restart policy parsing with
 * Docker's errors, signals, label filters (label and label!), `until`
 * times, and the create warnings for a host without swap accounting.
 */
/* cmocka needs these first */
/* clang-format off */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
/* clang-format on */

#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/clock.h"
#include "engine/engine.h"
#include "engine/internal.h"

static void backoff_starts_at_100ms_and_doubles_up_to_a_minute(void **state)
{
	static const uint64_t want[] = {100,   200,   400,   800,   1600,
					3200,  6400,  12800, 25600, 51200,
					60000, 60000, 60000};
	uint64_t d = 0;

	for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
		d = eng_restart_delay(d, 0);
		assert_int_equal(d, want[i]);
	}
}

static void backoff_resets_after_a_run_of_ten_seconds(void **state)
{
	assert_int_equal(eng_restart_delay(60000, 10LL * 1000000000), 100);
	assert_int_equal(eng_restart_delay(3200, 11LL * 1000000000), 100);
	/* just under 10 s: still doubling */
	assert_int_equal(eng_restart_delay(3200, 10LL * 1000000000 - 1), 6400);
}

static void on_failure_restarts_only_a_failure_and_at_most_n_times(void **state)
{
	struct eng_restart_policy p = {ENG_RESTART_ON_FAILURE, 2};

	assert_false(eng_restart_wanted(&p, 0, false, 0));
	assert_true(eng_restart_wanted(&p, 3, false, 0));
	assert_true(eng_restart_wanted(&p, 3, false, 1));
	assert_false(eng_restart_wanted(&p, 3, false, 2));
	assert_false(eng_restart_wanted(&p, 137, true, 0));
	p.max_retries = 0; /* no maximum */
	assert_true(eng_restart_wanted(&p, 1, false, 1000));
	assert_false(eng_restart_wanted(&p, 0, false, 1000));
}

static void
always_and_unless_stopped_restart_any_exit_but_a_users_stop(void **state)
{
	struct eng_restart_policy a = {ENG_RESTART_ALWAYS, 0};
	struct eng_restart_policy u = {ENG_RESTART_UNLESS_STOPPED, 0};
	struct eng_restart_policy no = {ENG_RESTART_NO, 0};

	assert_true(eng_restart_wanted(&a, 0, false, 50));
	assert_true(eng_restart_wanted(&a, 1, false, 0));
	assert_false(eng_restart_wanted(&a, 143, true, 0));
	assert_true(eng_restart_wanted(&u, 0, false, 0));
	assert_false(eng_restart_wanted(&u, 137, true, 0));
	assert_false(eng_restart_wanted(&no, 1, false, 0));
}

static void restart_policies_parse_with_dockers_errors(void **state)
{
	struct eng_restart_policy p;
	struct shoal_err e = {""};

	assert_int_equal(eng_restart_parse("on-failure", 3, &p, &e), 0);
	assert_int_equal(p.kind, ENG_RESTART_ON_FAILURE);
	assert_int_equal(p.max_retries, 3);
	assert_int_equal(eng_restart_parse("", 5, &p, &e), 0);
	assert_int_equal(p.kind, ENG_RESTART_NO);
	assert_int_equal(eng_restart_parse("unless-stopped", 0, &p, &e), 0);
	assert_int_equal(p.kind, ENG_RESTART_UNLESS_STOPPED);
	assert_string_equal(eng_restart_name(p.kind), "unless-stopped");

	assert_int_equal(eng_restart_parse("sometimes", 0, &p, &e), -EINVAL);
	assert_string_equal(e.msg, "invalid restart policy: unknown policy "
				   "'sometimes'; use one of 'no', 'always', "
				   "'on-failure', or 'unless-stopped'");
	assert_int_equal(eng_restart_parse("always", 2, &p, &e), -EINVAL);
	assert_string_equal(e.msg, "invalid restart policy: maximum retry "
				   "count can only be used with 'on-failure'");
	assert_int_equal(eng_restart_parse("no", -1, &p, &e), -EINVAL);
	assert_string_equal(e.msg, "invalid restart policy: maximum retry "
				   "count can only be used with 'on-failure' "
				   "and cannot be negative");
	assert_int_equal(eng_restart_parse("on-failure", -1, &p, &e), -EINVAL);
	assert_string_equal(e.msg, "invalid restart policy: maximum retry "
				   "count cannot be negative");
}

static void signals_parse_by_name_and_number(void **state)
{
	assert_int_equal(eng_signal_parse("SIGTERM"), SIGTERM);
	assert_int_equal(eng_signal_parse("term"), SIGTERM);
	assert_int_equal(eng_signal_parse("9"), SIGKILL);
	assert_int_equal(eng_signal_parse("SIGNOPE"), -EINVAL);
	assert_int_equal(eng_signal_parse("0"), -EINVAL);
	assert_int_equal(eng_signal_parse(""), -EINVAL);
}

static void label_terms_match_as_dockers_prune_does(void **state)
{
	json_t *l = json_pack("{s:s, s:s}", "tier", "a", "env", "prod");
	const char *want_tier[] = {"tier", NULL};
	const char *want_a_prod[] = {"tier=a", "env=prod", NULL};
	const char *want_b[] = {"tier=b", NULL};
	const char *rej_env[] = {"env", NULL};
	const char *rej_both[] = {"env=prod", "tier=b", NULL};
	struct eng_label_filter f = {0};

	assert_true(eng_labels_match(&f, l));
	assert_true(eng_labels_match(NULL, l));
	f.want = want_tier;
	assert_true(eng_labels_match(&f, l));
	f.want = want_a_prod;
	assert_true(eng_labels_match(&f, l));
	f.want = want_b;
	assert_false(eng_labels_match(&f, l));
	f.want = NULL;
	f.reject = rej_env;
	assert_false(eng_labels_match(&f, l));
	assert_true(eng_labels_match(&f, NULL)); /* no labels at all */
	/* label! leaves out only what matches every term */
	f.reject = rej_both;
	assert_true(eng_labels_match(&f, l));
	json_decref(l);
}

static void until_takes_durations_unix_times_and_dates(void **state)
{
	const int64_t now = 1700000000LL * NSEC_PER_SEC;
	int64_t t;

	setenv("TZ", "UTC", 1);
	tzset();
	assert_int_equal(eng_parse_until("10m", now, &t), 0);
	assert_true(t == now - 600LL * NSEC_PER_SEC);
	assert_int_equal(eng_parse_until("1h30m", now, &t), 0);
	assert_true(t == now - 5400LL * NSEC_PER_SEC);
	assert_int_equal(eng_parse_until("1690000000", now, &t), 0);
	assert_true(t == 1690000000LL * NSEC_PER_SEC);
	assert_int_equal(eng_parse_until("1690000000.5", now, &t), 0);
	assert_true(t == 1690000000LL * NSEC_PER_SEC + 500000000);
	assert_int_equal(eng_parse_until("0", now, &t), 0);
	assert_true(t == 0);
	assert_int_equal(eng_parse_until("2023-11-14T22:13:20Z", now, &t), 0);
	assert_true(t == now);
	assert_int_equal(eng_parse_until("2023-11-15T00:13:20+02:00", now, &t),
			 0);
	assert_true(t == now);
	assert_int_equal(eng_parse_until("2023-11-14", now, &t), 0);
	assert_true(t == 1699920000LL * NSEC_PER_SEC);
	assert_int_equal(eng_parse_until("2023-11-14T22:13", now, &t), 0);
	assert_true(t == now - 20LL * NSEC_PER_SEC);
	assert_int_equal(eng_parse_until("yesterday", now, &t), -EINVAL);
	assert_int_equal(eng_parse_until("2023-13-01", now, &t), -EINVAL);
	assert_int_equal(eng_parse_until("12abc", now, &t), -EINVAL);
	assert_int_equal(eng_parse_until("", now, &t), -EINVAL);
}

static void create_warns_of_a_memory_limit_without_swap_accounting(void **state)
{
	struct eng_spec s = {.memory = 64 << 20, .cpu_shares = 512};
	struct eng_created c;

	eng__create_warnings(&s, RT_CG_SWAP | RT_CG_CPU | RT_CG_PIDS,
			     RT_CGROUP_HYBRID, &c);
	assert_int_equal(c.n_warnings, 0);
	eng__create_warnings(&s, RT_CG_CPU | RT_CG_PIDS, RT_CGROUP_V2, &c);
	assert_int_equal(c.n_warnings, 1);
	assert_string_equal(c.warnings[0],
			    "Your kernel does not support swap limit "
			    "capabilities or the cgroup is not mounted. "
			    "Memory limited without swap.");
	eng__create_warnings(&s, RT_CG_SWAP, RT_CGROUP_V1, &c);
	assert_int_equal(c.n_warnings, 1);
	assert_non_null(strstr(c.warnings[0], "CPU shares"));
	s.memory = 0;
	s.cpu_shares = 0;
	eng__create_warnings(&s, 0, RT_CGROUP_V1, &c);
	assert_int_equal(c.n_warnings, 0);
	/* --oom-kill-disable without a memory limit: Docker's warning. */
	s.oom_kill_disable = true;
	eng__create_warnings(&s, RT_CG_SWAP | RT_CG_CPU, RT_CGROUP_V1, &c);
	assert_int_equal(c.n_warnings, 1);
	assert_string_equal(c.warnings[0],
			    "OOM killer is disabled for the container, but no "
			    "memory limit is set, this can result in the "
			    "system running out of resources.");
	s.memory = 64 << 20;
	eng__create_warnings(&s, RT_CG_SWAP | RT_CG_CPU, RT_CGROUP_V1, &c);
	assert_int_equal(c.n_warnings, 0);
}

static void state_and_event_names_are_dockers(void **state)
{
	assert_string_equal(eng_state_name(ENG_STATE_RESTARTING), "restarting");
	assert_string_equal(eng_state_name(ENG_STATE_EXITED), "exited");
	assert_string_equal(eng_event_name(ENG_EVENT_DIE), "die");
	assert_string_equal(eng_event_name(ENG_EVENT_DESTROY), "destroy");
}

/* Subscribers: a log of what each one saw, and what it does when called. */
struct sub {
	struct eng *e;
	struct eng_sub *s;
	struct sub *other; /* unsubscribed by this one's first call */
	struct sub *add;   /* subscribed by this one's first call */
	bool leave;	   /* unsubscribes itself on its first call */
	int seen[8];
	int n;
};

static void sub_fn(const struct eng_event *ev, void *arg)
{
	struct sub *x = arg;

	x->seen[x->n++] = ev->type;
	if (x->n > 1)
		return;
	if (x->other) {
		eng_unsubscribe(x->other->s);
		x->other->s = NULL;
	}
	if (x->add)
		assert_int_equal(
			eng_subscribe(x->e, sub_fn, x->add, &x->add->s), 0);
	if (x->leave) {
		eng_unsubscribe(x->s);
		x->s = NULL;
	}
}

static void
subscribers_see_later_events_and_may_leave_from_callbacks(void **state)
{
	struct eng_config cfg = {.data_root = "/nonexistent"};
	struct sub a = {0}, b = {0}, c = {0}, d = {0};
	struct eng *e;

	assert_int_equal(eng_open(&cfg, &e), 0);
	a.e = b.e = c.e = d.e = e;
	a.add = &d;	/* d joins during the first event: sees the second */
	a.other = &c;	/* c leaves before it is called */
	b.leave = true; /* b leaves from its own callback */
	assert_int_equal(eng_subscribe(e, sub_fn, &a, &a.s), 0);
	assert_int_equal(eng_subscribe(e, sub_fn, &b, &b.s), 0);
	assert_int_equal(eng_subscribe(e, sub_fn, &c, &c.s), 0);
	eng__emit(e, ENG_EVENT_START, "x", -1, false, false, 0);
	eng__emit(e, ENG_EVENT_DIE, "x", 3, false, true, 0);
	assert_int_equal(a.n, 2);
	assert_int_equal(a.seen[0], ENG_EVENT_START);
	assert_int_equal(a.seen[1], ENG_EVENT_DIE);
	assert_int_equal(b.n, 1);
	assert_int_equal(c.n, 0);
	assert_int_equal(d.n, 1);
	assert_int_equal(d.seen[0], ENG_EVENT_DIE);
	eng_unsubscribe(a.s);
	eng_close(e); /* frees d's subscription */
}

/* --- the event log ------------------------------------------------------- */

struct seen {
	char actions[ENG_EVENT_RING + 8][32];
	int64_t times[ENG_EVENT_RING + 8];
	size_t n;
	struct eng_listener *l;
	bool leave;
};

static void seen_fn(const json_t *msg, int64_t t, void *arg)
{
	struct seen *x = arg;
	snprintf(x->actions[x->n], sizeof(x->actions[0]), "%s",
		 json_string_value(json_object_get(msg, "Action")));
	x->times[x->n++] = t;
	if (x->leave) {
		eng_event_unlisten(x->l);
		x->l = NULL;
	}
}

static void events_are_kept_in_order_in_a_bounded_ring(void **state)
{
	struct eng_config cfg = {.data_root = "/nonexistent"};
	struct eng *e;
	static struct seen all;
	char name[32];

	memset(&all, 0, sizeof(all));
	assert_int_equal(eng_open(&cfg, &e), 0);
	for (int i = 0; i < ENG_EVENT_RING + 5; i++) {
		snprintf(name, sizeof(name), "a%d", i);
		assert_int_equal(eng_event_post(e, "volume", name, "v", NULL),
				 0);
	}
	/* The ring keeps the last ENG_EVENT_RING, oldest first. */
	assert_int_equal(eng_event_replay(e, 0, 0, seen_fn, &all),
			 ENG_EVENT_RING);
	assert_string_equal(all.actions[0], "a5");
	snprintf(name, sizeof(name), "a%d", ENG_EVENT_RING + 4);
	assert_string_equal(all.actions[ENG_EVENT_RING - 1], name);
	for (size_t i = 1; i < all.n; i++)
		assert_true(all.times[i] >= all.times[i - 1]);
	/* since / until select by time: nothing after the last event. */
	all.n = 0;
	assert_int_equal(eng_event_replay(e, all.times[ENG_EVENT_RING - 1] + 1,
					  0, seen_fn, &all),
			 0);
	eng_close(e);
}

static void listeners_see_only_later_events_and_may_leave(void **state)
{
	struct eng_config cfg = {.data_root = "/nonexistent"};
	struct eng *e;
	static struct seen a, b;

	memset(&a, 0, sizeof(a));
	memset(&b, 0, sizeof(b));
	assert_int_equal(eng_open(&cfg, &e), 0);
	assert_int_equal(eng_event_post(e, "image", "tag", "sha256:1", NULL),
			 0);
	assert_int_equal(eng_event_listen(e, seen_fn, &a, &a.l), 0);
	b.leave = true;
	assert_int_equal(eng_event_listen(e, seen_fn, &b, &b.l), 0);
	assert_int_equal(eng_event_post(e, "image", "untag", "sha256:1", NULL),
			 0);
	assert_int_equal(eng_event_post(e, "image", "delete", "sha256:1", NULL),
			 0);
	assert_int_equal(a.n, 2);
	assert_string_equal(a.actions[0], "untag");
	assert_string_equal(a.actions[1], "delete");
	assert_int_equal(b.n, 1);
	assert_null(b.l);
	eng_event_unlisten(a.l);
	eng_close(e);
}

static json_t *msg(const char *type, const char *action, const char *id,
		   const char *name, const char *image)
{
	json_t *a = json_pack("{s:s, s:s}", "name", name, "team", "blue");
	if (image)
		json_object_set_new(a, "image", json_string(image));
	return json_pack("{s:s, s:s, s:{s:s, s:o}}", "Type", type, "Action",
			 action, "Actor", "ID", id, "Attributes", a);
}

static void event_filters_match_as_dockers_do(void **state)
{
	json_t *die = msg("container", "die", "abcdef0123", "web", "busybox");
	json_t *exec = msg("container", "exec_start: sh -c true", "abcdef0123",
			   "web", "busybox:1.36");
	json_t *tag = msg("image", "tag", "sha256:99", "busybox:latest", NULL);
	const char *container[] = {"container", NULL};
	const char *image_t[] = {"image", NULL};
	const char *by_name[] = {"web", NULL};
	const char *by_prefix[] = {"abc", NULL};
	const char *other[] = {"db", NULL};
	const char *die_ev[] = {"die", NULL};
	const char *exec_ev[] = {"exec_start", NULL};
	const char *busybox[] = {"busybox", NULL};
	const char *blue[] = {"team=blue", NULL};
	const char *red[] = {"team=red", NULL};
	struct eng_event_filter none = {0};

	assert_true(eng_event_match(&none, die));
	assert_true(eng_event_match(
		&(struct eng_event_filter){.type = container}, die));
	assert_false(eng_event_match(
		&(struct eng_event_filter){.type = image_t}, die));
	/* container: the name or an id prefix */
	assert_true(eng_event_match(
		&(struct eng_event_filter){.container = by_name}, die));
	assert_true(eng_event_match(
		&(struct eng_event_filter){.container = by_prefix}, die));
	assert_false(eng_event_match(
		&(struct eng_event_filter){.container = other}, die));
	/* event: exact, but exec_start also matches "exec_start: cmd" */
	assert_true(eng_event_match(&(struct eng_event_filter){.event = die_ev},
				    die));
	assert_false(eng_event_match(
		&(struct eng_event_filter){.event = die_ev}, exec));
	assert_true(eng_event_match(
		&(struct eng_event_filter){.event = exec_ev}, exec));
	/* image: a container's image with or without its tag, an image's
	 * name without its tag */
	assert_true(eng_event_match(
		&(struct eng_event_filter){.image = busybox}, die));
	assert_true(eng_event_match(
		&(struct eng_event_filter){.image = busybox}, exec));
	assert_true(eng_event_match(
		&(struct eng_event_filter){.image = busybox}, tag));
	/* label: the attributes */
	assert_true(eng_event_match(
		&(struct eng_event_filter){.labels = {.want = blue}}, die));
	assert_false(eng_event_match(
		&(struct eng_event_filter){.labels = {.want = red}}, die));
	/* names combine with AND */
	assert_false(eng_event_match(
		&(struct eng_event_filter){.type = container,
					   .event = die_ev,
					   .labels = {.want = red}},
		die));
	/* network (and node, service, ...) apply to every event, by the
	 * actor's id or name, as moby's; scope is exact */
	const char *net[] = {"net1", NULL};
	const char *local[] = {"local", NULL};
	const char *swarm[] = {"swarm", NULL};
	json_t *conn = msg("network", "connect", "net1abc", "net1", NULL);
	assert_false(eng_event_match(&(struct eng_event_filter){.network = net},
				     die));
	assert_true(eng_event_match(&(struct eng_event_filter){.network = net},
				    conn));
	json_object_set_new(conn, "scope", json_string("local"));
	assert_true(eng_event_match(&(struct eng_event_filter){.scope = local},
				    conn));
	assert_false(eng_event_match(&(struct eng_event_filter){.scope = swarm},
				     conn));
	json_decref(conn);
	json_decref(die);
	json_decref(exec);
	json_decref(tag);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(
			backoff_starts_at_100ms_and_doubles_up_to_a_minute),
		cmocka_unit_test(backoff_resets_after_a_run_of_ten_seconds),
		cmocka_unit_test(
			on_failure_restarts_only_a_failure_and_at_most_n_times),
		cmocka_unit_test(
			always_and_unless_stopped_restart_any_exit_but_a_users_stop),
		cmocka_unit_test(restart_policies_parse_with_dockers_errors),
		cmocka_unit_test(signals_parse_by_name_and_number),
		cmocka_unit_test(label_terms_match_as_dockers_prune_does),
		cmocka_unit_test(until_takes_durations_unix_times_and_dates),
		cmocka_unit_test(
			create_warns_of_a_memory_limit_without_swap_accounting),
		cmocka_unit_test(state_and_event_names_are_dockers),
		cmocka_unit_test(
			subscribers_see_later_events_and_may_leave_from_callbacks),
		cmocka_unit_test(events_are_kept_in_order_in_a_bounded_ring),
		cmocka_unit_test(listeners_see_only_later_events_and_may_leave),
		cmocka_unit_test(event_filters_match_as_dockers_do),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
