/*
 * scheduler-bench: placing tasks on nodes, in-process (docs/bench.md,
 * docs/services.md). Each scenario (tasks on nodes: 1k on 1k, 100k on 10k,
 * 100k on 100k; or --tasks/--nodes) runs in a child process of its own so
 * that its peak RSS is its own, and prints one JSON line:
 *
 *   placement_ms  the scheduler alone (placement_run()): every task of one
 *                 service pending, from the call until all are assigned
 *   pipeline_ms   the leader's whole path but Raft: a service of N
 *                 replicas created in the store, then orchestrator passes
 *                 (task creation and placement together), each batch
 *                 encoded, applied to the store, and fed back to the model
 *                 through a store watcher, until a pass has nothing left
 *                 to do and every task is assigned
 *   peak_rss_kb   the child's peak resident set (getrusage)
 *
 * Nodes are ready and active with 8 CPUs and 16 GiB each; tasks reserve
 * nothing (as swarmkit's BenchmarkScheduler does). Preconditions checked
 * before any figure: every task assigned, and spread evenly (max - min
 * tasks per node at most 1). Swarmkit's own benchmark: 189 ms for 1k/1k,
 * 29 s for 100k/100k.
 */
#include "common/alloc.h"
#include "common/clock.h"
#include "common/jsonx.h"
#include "manager/orch.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

static uint64_t idx;

static int apply(struct store *s, struct store_batch *b)
{
	uint8_t *data;
	size_t len;
	int rc = store_batch_finish(b, &data, &len);
	if (rc < 0)
		return rc;
	struct store_result res;
	rc = store_apply(s, data, len, ++idx, &res);
	shoal_free(data);
	if (rc < 0)
		fprintf(stderr, "batch refused: %s\n", res.msg);
	return rc;
}

static int add_nodes(struct store *s, size_t n)
{
	for (size_t i = 0; i < n;) {
		struct store_batch b;
		store_batch_init(&b, 1);
		for (size_t k = 0; k < 4000 && i < n; k++, i++) {
			char id[32], st[512];
			snprintf(id, sizeof(id), "node%08zu", i);
			snprintf(st, sizeof(st),
				 "{\"Description\":{\"Hostname\":\"h%zu\","
				 "\"Platform\":{\"OS\":\"linux\","
				 "\"Architecture\":\"x86_64\"},\"Resources\":{"
				 "\"NanoCPUs\":8000000000,\"MemoryBytes\":"
				 "17179869184}},\"Status\":{\"State\":"
				 "\"ready\"}}",
				 i);
			const char *sp =
				"{\"Role\":\"worker\",\"Availability\":"
				"\"active\",\"Labels\":{}}";
			store_batch_create(&b, STORE_NODES, id, NULL, sp,
					   strlen(sp), st, strlen(st));
		}
		if (apply(s, &b) < 0)
			return -1;
	}
	return 0;
}

static int add_service(struct store *s, size_t replicas)
{
	char spec[256];
	snprintf(spec, sizeof(spec),
		 "{\"Name\":\"web\",\"TaskTemplate\":{\"ContainerSpec\":{"
		 "\"Image\":\"busybox\",\"Args\":[\"sleep\",\"1d\"]}},\"Mode\":"
		 "{\"Replicated\":{\"Replicas\":%zu}}}",
		 replicas);
	const char *st = "{\"Generation\":1}";
	struct store_batch b;
	store_batch_init(&b, 1);
	store_batch_create(&b, STORE_SERVICES, "svc0000000000000000000001",
			   "web", spec, strlen(spec), st, strlen(st));
	return apply(s, &b);
}

static unsigned long long ids;

static void new_id(void *arg, char *out)
{
	snprintf(out, 26, "t%024llu", ++ids);
}

static double ms_since(int64_t t0)
{
	return (double)(time_mono_ns() - t0) / 1e6;
}

/* The scheduler alone: @ntasks pending tasks of one service. */
static int placement(size_t nnodes, size_t ntasks, double *ms)
{
	struct store *s;
	struct orch_model m;
	if (store_new(&s) < 0)
		return -1;
	orch_model_init(&m);
	if (add_nodes(s, nnodes) < 0 || add_service(s, ntasks) < 0 ||
	    orch_model_load(&m, s) < 0)
		return -1;
	struct orch_service *svc =
		orch_service_get(&m, "svc0000000000000000000001");
	struct orch_task *tasks = shoal_calloc(ntasks, sizeof(*tasks));
	struct orch_task **ptr = shoal_calloc(ntasks, sizeof(*ptr));
	if (!svc || !tasks || !ptr)
		return -1;
	for (size_t i = 0; i < ntasks; i++) {
		struct orch_task *t = &tasks[i];
		snprintf(t->id, sizeof(t->id), "t%024zu", i);
		snprintf(t->service_id, sizeof(t->service_id), "%s", svc->id);
		t->slot = i + 1;
		t->state = TASK_PENDING;
		t->desired = TASK_RUNNING;
		t->spec_text = svc->template_text;
		t->dirty = ORCH_NEW;
		ptr[i] = t;
	}
	int64_t t0 = time_mono_ns();
	int placed = placement_run(&m, ptr, ntasks, NULL, 0, 1);
	*ms = ms_since(t0);
	/* Precondition: all placed, evenly. */
	uint32_t lo = UINT32_MAX, hi = 0;
	size_t pos = 0, kl;
	const void *k;
	void *v;
	while (hmap_next(&m.nodes, &pos, &k, &kl, &v)) {
		struct orch_node *n = v;
		lo = n->ntasks < lo ? n->ntasks : lo;
		hi = n->ntasks > hi ? n->ntasks : hi;
	}
	for (size_t i = 0; i < ntasks; i++)
		shoal_free(tasks[i].status_text);
	shoal_free(tasks);
	shoal_free(ptr);
	orch_model_fini(&m);
	store_free(s);
	if (placed != (int)ntasks || hi - lo > 1) {
		fprintf(stderr, "placed %d of %zu, per node %u..%u\n", placed,
			ntasks, lo, hi);
		return -1;
	}
	return 0;
}

/* The leader's path without Raft: passes, batches, store, watcher. */
static int pipeline(size_t nnodes, size_t ntasks, double *ms)
{
	struct store *s;
	struct orch_model m;
	struct store_watcher *w;
	if (store_new(&s) < 0)
		return -1;
	orch_model_init(&m);
	if (add_nodes(s, nnodes) < 0 || orch_model_load(&m, s) < 0 ||
	    store_watch(s, STORE_ALL_TABLES, 65536, NULL, NULL, &w) < 0)
		return -1;
	int64_t t0 = time_mono_ns();
	if (add_service(s, ntasks) < 0)
		return -1;
	for (int round = 0;; round++) {
		struct store_event ev;
		int rc;
		while ((rc = store_watch_next(w, &ev)) != -EAGAIN) {
			if (rc == -ENOBUFS) {
				orch_model_load(&m, s);
				continue;
			}
			if (ev.kind == STORE_EVENT_DELETE)
				orch_model_del(&m, ev.table, ev.obj->id);
			else if (ev.obj)
				orch_model_put(&m, ev.obj);
			store_event_fini(&ev);
		}
		struct orch_env env = {
			.now_ns = 1, .new_id = new_id, .history = 5};
		struct store_batch b;
		bool more;
		int64_t wake;
		store_batch_init(&b, 1);
		int n = orch_pass(&m, &env, &b, &more, &wake);
		orch_pass_done(&m, true);
		if (n < 0)
			return -1;
		if (n == 0) {
			store_batch_fini(&b);
			break;
		}
		if (apply(s, &b) < 0 || round > 10000)
			return -1;
	}
	*ms = ms_since(t0);
	size_t assigned = 0, pos = 0, kl;
	const void *k;
	void *v;
	while (hmap_next(&m.tasks, &pos, &k, &kl, &v))
		assigned += ((struct orch_task *)v)->state == TASK_ASSIGNED;
	store_unwatch(w);
	orch_model_fini(&m);
	store_free(s);
	if (assigned != ntasks) {
		fprintf(stderr, "pipeline: %zu of %zu assigned\n", assigned,
			ntasks);
		return -1;
	}
	return 0;
}

static int scenario(size_t nnodes, size_t ntasks)
{
	fflush(stdout);
	pid_t pid = fork();
	if (pid < 0)
		return -1;
	if (pid == 0) {
		double place_ms = 0, pipe_ms = 0;
		if (placement(nnodes, ntasks, &place_ms) < 0 ||
		    pipeline(nnodes, ntasks, &pipe_ms) < 0) {
			printf("{\"bench\":\"scheduler\",\"nodes\":%zu,"
			       "\"tasks\":%zu,\"error\":\"preconditions "
			       "failed\"}\n",
			       nnodes, ntasks);
			_exit(1);
		}
		struct rusage ru;
		getrusage(RUSAGE_SELF, &ru);
		printf("{\"bench\":\"scheduler\",\"nodes\":%zu,\"tasks\":%zu,"
		       "\"placement_ms\":%.1f,\"pipeline_ms\":%.1f,"
		       "\"peak_rss_kb\":%ld}\n",
		       nnodes, ntasks, place_ms, pipe_ms, ru.ru_maxrss);
		fflush(stdout);
		_exit(0);
	}
	int status;
	if (waitpid(pid, &status, 0) < 0)
		return -1;
	return WIFEXITED(status) && WEXITSTATUS(status) == 0 ? 0 : -1;
}

int main(int argc, char **argv)
{
	size_t nodes = 0, tasks = 0;
	for (int i = 1; i + 1 < argc; i += 2) {
		if (strcmp(argv[i], "--nodes") == 0)
			nodes = strtoull(argv[i + 1], NULL, 10);
		else if (strcmp(argv[i], "--tasks") == 0)
			tasks = strtoull(argv[i + 1], NULL, 10);
		else {
			fprintf(stderr,
				"usage: scheduler-bench [--nodes N --tasks N]\n");
			return 2;
		}
	}
	if (nodes && tasks)
		return scenario(nodes, tasks) < 0;
	static const size_t runs[][2] = {
		{1000, 1000}, {10000, 100000}, {100000, 100000}};
	int bad = 0;
	for (size_t i = 0; i < 3; i++)
		bad |= scenario(runs[i][0], runs[i][1]) < 0;
	return bad;
}
