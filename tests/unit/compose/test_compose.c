/*
 * libshoal-compose: many small compose files, each checking what a user
 * of `docker stack deploy` relies on: the ServiceSpec docker would send,
 * interpolation, merges of several files, and refusals that name the
 * offending key's path. Files a compose file reads (env_file, secrets,
 * configs) come from an in-memory folder.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "compose/compose.h"

/* The in-memory folder /p: path -> content. */
static const char *const files[][2] = {
	{"/p/app.env", "# comment\n\nA=from_file\nB=b file\nC=\n"},
	{"/p/db_pass.txt", "s3cret"},
	{"/p/nginx.conf", "server {}\n"},
};

static int mem_read(void *arg, const char *path, char **data, size_t *len,
		    struct shoal_err *err)
{
	(void)arg;
	for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++)
		if (!strcmp(files[i][0], path)) {
			*data = strdup(files[i][1]);
			*len = strlen(files[i][1]);
			return 0;
		}
	snprintf(err->msg, sizeof(err->msg), "%s: No such file", path);
	return -ENOENT;
}

static json_t *env_vars;

/* @yaml converted as stack "st"; NULL with @msg filled on error. */
static json_t *conv(const char *yaml, char *msg)
{
	struct compose_env env = {env_vars};
	struct compose_opts o = {
		.stack = "st", .dir = "/p", .env = &env, .read = mem_read};
	struct shoal_err err = {{0}};
	json_t *doc = NULL, *out = NULL;
	int rc = compose_parse(yaml, strlen(yaml), "c.yml", &env, &doc, &err);
	if (rc == 0)
		rc = compose_convert(doc, &o, &out, &err);
	json_decref(doc);
	if (msg)
		snprintf(msg, SHOAL_ERR_MAX, "%s", rc ? err.msg : "");
	return rc ? NULL : out;
}

/* The value at a slash path like "Services/web/Name". */
static json_t *at(json_t *o, const char *path)
{
	char buf[512], *save = NULL;
	snprintf(buf, sizeof(buf), "%s", path);
	for (char *t = strtok_r(buf, "/", &save); t && o;
	     t = strtok_r(NULL, "/", &save)) {
		if (json_is_array(o))
			o = json_array_get(o, strtoul(t, NULL, 10));
		else
			o = json_object_get(o, t);
	}
	return o;
}

static const char *str_at(json_t *o, const char *path)
{
	return json_string_value(at(o, path));
}

static long long int_at(json_t *o, const char *path)
{
	json_t *v = at(o, path);
	assert_non_null(v);
	return json_integer_value(v);
}

static void refused(const char *yaml, const char *want)
{
	char msg[SHOAL_ERR_MAX];
	json_t *r = conv(yaml, msg);
	if (r) {
		char *t = json_dumps(r, 0);
		fail_msg("accepted: %s", t);
	}
	if (!strstr(msg, want))
		fail_msg("error \"%s\" does not contain \"%s\"", msg, want);
}

static void builds_a_docker_service_spec(void **state)
{
	(void)state;
	char msg[SHOAL_ERR_MAX];
	json_t *r = conv("version: '3.8'\n"
			 "services:\n"
			 "  web:\n"
			 "    image: nginx:1.25\n"
			 "    entrypoint: /docker-entrypoint.sh\n"
			 "    command: [\"nginx\", \"-g\", \"daemon off;\"]\n"
			 "    user: '101'\n"
			 "    working_dir: /srv\n"
			 "    hostname: front\n"
			 "    stop_grace_period: 1m30s\n"
			 "    labels: [\"a=b\"]\n"
			 "    ports: [\"8080:80\"]\n",
			 msg);
	assert_non_null(r);
	assert_string_equal(str_at(r, "Services/web/Name"), "st_web");
	assert_string_equal(
		str_at(r, "Services/web/Labels/com.docker.stack.namespace"),
		"st");
	assert_string_equal(
		str_at(r, "Services/web/Labels/com.docker.stack.image"),
		"nginx:1.25");
	json_t *cs = at(r, "Services/web/TaskTemplate/ContainerSpec");
	assert_string_equal(str_at(cs, "Image"), "nginx:1.25");
	assert_string_equal(str_at(cs, "Command/0"), "/docker-entrypoint.sh");
	assert_string_equal(str_at(cs, "Args/2"), "daemon off;");
	assert_string_equal(str_at(cs, "User"), "101");
	assert_string_equal(str_at(cs, "Dir"), "/srv");
	assert_string_equal(str_at(cs, "Hostname"), "front");
	assert_int_equal(int_at(cs, "StopGracePeriod"), 90000000000LL);
	assert_string_equal(str_at(cs, "Labels/a"), "b");
	assert_string_equal(str_at(cs, "Labels/com.docker.stack.namespace"),
			    "st");
	assert_int_equal(int_at(r, "Services/web/Mode/Replicated/Replicas"), 1);
	json_t *p = at(r, "Services/web/EndpointSpec/Ports/0");
	assert_int_equal(int_at(p, "TargetPort"), 80);
	assert_int_equal(int_at(p, "PublishedPort"), 8080);
	assert_string_equal(str_at(p, "Protocol"), "tcp");
	assert_string_equal(str_at(p, "PublishMode"), "ingress");
	/* On no network: the stack's default overlay, aliased by name. */
	assert_string_equal(
		str_at(r, "Services/web/TaskTemplate/Networks/0/Target"),
		"st_default");
	assert_string_equal(
		str_at(r, "Services/web/TaskTemplate/Networks/0/Aliases/0"),
		"web");
	assert_string_equal(str_at(r, "Networks/default/Name"), "st_default");
	assert_string_equal(str_at(r, "Networks/default/Driver"), "overlay");
	json_decref(r);
}

static void splits_a_command_string_as_a_shell_does(void **state)
{
	(void)state;
	json_t *r = conv("services:\n  a:\n    image: busybox\n"
			 "    command: sh -c 'echo \"hi there\"; sleep 1'\n",
			 NULL);
	assert_non_null(r);
	json_t *args = at(r, "Services/a/TaskTemplate/ContainerSpec/Args");
	assert_int_equal(json_array_size(args), 3);
	assert_string_equal(str_at(args, "2"), "echo \"hi there\"; sleep 1");
	json_decref(r);
}

static void merges_env_file_and_environment_sorted(void **state)
{
	(void)state;
	json_object_set_new(env_vars, "FROM_SHELL", json_string("sh"));
	json_t *r = conv("services:\n  a:\n    image: x\n"
			 "    env_file: app.env\n"
			 "    environment:\n"
			 "      B: override\n"
			 "      FROM_SHELL:\n"
			 "      NUM: 3\n",
			 NULL);
	assert_non_null(r);
	json_t *e = at(r, "Services/a/TaskTemplate/ContainerSpec/Env");
	assert_int_equal(json_array_size(e), 5);
	assert_string_equal(str_at(e, "0"), "A=from_file");
	assert_string_equal(str_at(e, "1"), "B=override");
	assert_string_equal(str_at(e, "2"), "C=");
	assert_string_equal(str_at(e, "3"), "FROM_SHELL=sh");
	assert_string_equal(str_at(e, "4"), "NUM=3");
	json_decref(r);
	r = conv("services:\n  a:\n    image: x\n"
		 "    environment: [\"X=1\", \"UNSET_VAR\", \"FROM_SHELL\"]\n",
		 NULL);
	e = at(r, "Services/a/TaskTemplate/ContainerSpec/Env");
	assert_int_equal(json_array_size(e), 2);
	assert_string_equal(str_at(e, "0"), "FROM_SHELL=sh");
	json_decref(r);
}

static void interpolates_variables(void **state)
{
	(void)state;
	json_object_set_new(env_vars, "TAG", json_string("1.2"));
	json_object_set_new(env_vars, "EMPTY", json_string(""));
	json_t *r = conv("services:\n  a:\n    image: \"app:${TAG}\"\n"
			 "    environment:\n"
			 "      - D1=${NOPE:-def}\n"
			 "      - D2=${EMPTY:-def}\n"
			 "      - D3=${EMPTY-def}\n"
			 "      - D4=${NOPE-x${TAG}y}\n"
			 "      - D5=$$HOME\n"
			 "      - D6=$TAG/x\n"
			 "      - D7=${TAG:+set}\n",
			 NULL);
	assert_non_null(r);
	json_t *cs = at(r, "Services/a/TaskTemplate/ContainerSpec");
	assert_string_equal(str_at(cs, "Image"), "app:1.2");
	assert_string_equal(str_at(cs, "Env/0"), "D1=def");
	assert_string_equal(str_at(cs, "Env/1"), "D2=def");
	assert_string_equal(str_at(cs, "Env/2"), "D3=");
	assert_string_equal(str_at(cs, "Env/3"), "D4=x1.2y");
	assert_string_equal(str_at(cs, "Env/4"), "D5=$HOME");
	assert_string_equal(str_at(cs, "Env/5"), "D6=1.2/x");
	assert_string_equal(str_at(cs, "Env/6"), "D7=set");
	json_decref(r);
	refused("services:\n  a:\n    image: ${IMG:?set IMG to the image}\n",
		"c.yml: line 3, column 12: required variable IMG is missing "
		"a value: set IMG to the image");
	refused("services:\n  a:\n    image: x${TAG\n", "missing '}'");
	refused("services:\n  a:\n    image: x$-\n",
		"write $$ for a literal dollar sign");
	refused("services:\n  a:\n    image: ${TAG:=x}\n",
		"invalid interpolation format");
}

static void interpolated_numbers_are_typed(void **state)
{
	(void)state;
	json_object_set_new(env_vars, "N", json_string("3"));
	json_t *r = conv("services:\n  a:\n    image: x\n"
			 "    deploy:\n      replicas: ${N}\n",
			 NULL);
	assert_non_null(r);
	assert_int_equal(int_at(r, "Services/a/Mode/Replicated/Replicas"), 3);
	json_decref(r);
}

static void reads_deploy(void **state)
{
	(void)state;
	char msg[SHOAL_ERR_MAX];
	json_t *r = conv(
		"services:\n  a:\n    image: x\n"
		"    deploy:\n"
		"      replicas: 4\n"
		"      endpoint_mode: dnsrr\n"
		"      labels: {team: core}\n"
		"      placement:\n"
		"        constraints: [node.role == worker]\n"
		"        preferences: [{spread: node.labels.zone}]\n"
		"        max_replicas_per_node: 2\n"
		"      resources:\n"
		"        limits: {cpus: '0.5', memory: 512M, pids: 100}\n"
		"        reservations: {cpus: '0.25', memory: 64m}\n"
		"      restart_policy:\n"
		"        condition: on-failure\n"
		"        delay: 5s\n"
		"        max_attempts: 3\n"
		"        window: 2m\n"
		"      update_config:\n"
		"        parallelism: 2\n"
		"        delay: 10s\n"
		"        failure_action: rollback\n"
		"        monitor: 30s\n"
		"        max_failure_ratio: 0.3\n"
		"        order: start-first\n"
		"      rollback_config: {parallelism: 0, order: stop-first}\n",
		msg);
	if (!r)
		fail_msg("%s", msg);
	json_t *s = at(r, "Services/a"), *tt = at(s, "TaskTemplate");
	assert_int_equal(int_at(s, "Mode/Replicated/Replicas"), 4);
	assert_string_equal(str_at(s, "EndpointSpec/Mode"), "dnsrr");
	assert_string_equal(str_at(s, "Labels/team"), "core");
	assert_string_equal(str_at(tt, "Placement/Constraints/0"),
			    "node.role == worker");
	assert_string_equal(
		str_at(tt, "Placement/Preferences/0/Spread/SpreadDescriptor"),
		"node.labels.zone");
	assert_int_equal(int_at(tt, "Placement/MaxReplicas"), 2);
	assert_int_equal(int_at(tt, "Resources/Limits/NanoCPUs"), 500000000);
	assert_int_equal(int_at(tt, "Resources/Limits/MemoryBytes"),
			 512LL << 20);
	assert_int_equal(int_at(tt, "Resources/Limits/Pids"), 100);
	assert_int_equal(int_at(tt, "Resources/Reservations/MemoryBytes"),
			 64LL << 20);
	assert_string_equal(str_at(tt, "RestartPolicy/Condition"),
			    "on-failure");
	assert_int_equal(int_at(tt, "RestartPolicy/Delay"), 5000000000LL);
	assert_int_equal(int_at(tt, "RestartPolicy/MaxAttempts"), 3);
	assert_int_equal(int_at(tt, "RestartPolicy/Window"), 120000000000LL);
	assert_int_equal(int_at(s, "UpdateConfig/Parallelism"), 2);
	assert_string_equal(str_at(s, "UpdateConfig/FailureAction"),
			    "rollback");
	assert_string_equal(str_at(s, "UpdateConfig/Order"), "start-first");
	assert_int_equal(int_at(s, "UpdateConfig/Monitor"), 30000000000LL);
	assert_true(json_real_value(at(s, "UpdateConfig/MaxFailureRatio")) >
		    0.29);
	assert_int_equal(int_at(s, "RollbackConfig/Parallelism"), 0);
	json_decref(r);
	r = conv("services:\n  a:\n    image: x\n    deploy: {mode: global}\n",
		 NULL);
	assert_non_null(at(r, "Services/a/Mode/Global"));
	assert_null(at(r, "Services/a/Mode/Replicated"));
	json_decref(r);
}

static void reads_ports_short_and_long(void **state)
{
	(void)state;
	json_t *r = conv("services:\n  a:\n    image: x\n"
			 "    ports:\n"
			 "      - 80\n"
			 "      - 9000-9001:90-91/udp\n"
			 "      - {target: 443, published: 8443, mode: host}\n",
			 NULL);
	assert_non_null(r);
	json_t *p = at(r, "Services/a/EndpointSpec/Ports");
	assert_int_equal(json_array_size(p), 4);
	assert_int_equal(int_at(p, "0/TargetPort"), 80);
	assert_null(at(p, "0/PublishedPort"));
	assert_int_equal(int_at(p, "2/TargetPort"), 91);
	assert_int_equal(int_at(p, "2/PublishedPort"), 9001);
	assert_string_equal(str_at(p, "2/Protocol"), "udp");
	assert_string_equal(str_at(p, "3/PublishMode"), "host");
	assert_int_equal(int_at(p, "3/PublishedPort"), 8443);
	json_decref(r);
	refused("services:\n  a:\n    image: x\n    ports: ['127.0.0.1:80:80']\n",
		"services.a.ports[0]: \"127.0.0.1:80:80\": a host IP");
	refused("services:\n  a:\n    image: x\n    ports: ['70000']\n",
		"services.a.ports[0]: invalid port");
	refused("services:\n  a:\n    image: x\n    ports: [{published: 80}]\n",
		"services.a.ports[0]: target is required");
}

static void reads_networks_with_aliases(void **state)
{
	(void)state;
	json_t *r = conv("services:\n  a:\n    image: x\n"
			 "    networks:\n"
			 "      front: {aliases: [www]}\n"
			 "      back:\n"
			 "      outside:\n"
			 "networks:\n"
			 "  front: {attachable: true, labels: {k: v}}\n"
			 "  back: {driver_opts: {encrypted: ''}}\n"
			 "  outside: {external: true}\n",
			 NULL);
	assert_non_null(r);
	json_t *n = at(r, "Services/a/TaskTemplate/Networks");
	assert_int_equal(json_array_size(n), 3);
	assert_string_equal(str_at(n, "0/Target"), "outside");
	assert_string_equal(str_at(n, "1/Target"), "st_back");
	assert_string_equal(str_at(n, "2/Target"), "st_front");
	assert_string_equal(str_at(n, "2/Aliases/0"), "www");
	assert_string_equal(str_at(n, "2/Aliases/1"), "a");
	assert_string_equal(str_at(r, "Networks/front/Name"), "st_front");
	assert_true(json_is_true(at(r, "Networks/front/Attachable")));
	assert_string_equal(str_at(r, "Networks/front/Labels/k"), "v");
	assert_string_equal(
		str_at(r, "Networks/front/Labels/com.docker.stack.namespace"),
		"st");
	assert_string_equal(str_at(r, "Networks/back/Options/encrypted"), "");
	assert_true(json_is_true(at(r, "Networks/outside/External")));
	assert_null(at(r, "Networks/default"));
	json_decref(r);
	refused("services:\n  a:\n    image: x\n    networks: [nope]\n",
		"services.a.networks.nope: undefined network \"nope\"");
}

static void reads_volumes_short_and_long(void **state)
{
	(void)state;
	char msg[SHOAL_ERR_MAX];
	json_t *r =
		conv("services:\n  a:\n    image: x\n"
		     "    volumes:\n"
		     "      - data:/var/lib/kv\n"
		     "      - ./conf:/etc/app:ro\n"
		     "      - /var/log\n"
		     "      - {type: tmpfs, target: /tmp, tmpfs: {size: 1m}}\n"
		     "      - {type: volume, source: data, target: /b, "
		     "volume: {nocopy: true}}\n"
		     "volumes:\n  data: {labels: [x=y]}\n",
		     msg);
	if (!r)
		fail_msg("%s", msg);
	json_t *m = at(r, "Services/a/TaskTemplate/ContainerSpec/Mounts");
	assert_int_equal(json_array_size(m), 5);
	assert_string_equal(str_at(m, "0/Type"), "volume");
	assert_string_equal(str_at(m, "0/Source"), "st_data");
	assert_string_equal(str_at(m, "0/Target"), "/var/lib/kv");
	assert_string_equal(
		str_at(m, "0/VolumeOptions/Labels/com.docker.stack.namespace"),
		"st");
	assert_string_equal(str_at(m, "0/VolumeOptions/Labels/x"), "y");
	assert_string_equal(str_at(m, "1/Type"), "bind");
	assert_string_equal(str_at(m, "1/Source"), "/p/conf");
	assert_true(json_is_true(at(m, "1/ReadOnly")));
	assert_null(at(m, "2/Source"));
	assert_string_equal(str_at(m, "3/Type"), "tmpfs");
	assert_int_equal(int_at(m, "3/TmpfsOptions/SizeBytes"), 1 << 20);
	assert_true(json_is_true(at(m, "4/VolumeOptions/NoCopy")));
	assert_string_equal(str_at(r, "Volumes/data/Name"), "st_data");
	json_decref(r);
	refused("services:\n  a:\n    image: x\n    volumes: [other:/x]\n",
		"services.a.volumes[0]: undefined volume \"other\"");
	refused("services:\n  a:\n    image: x\n    volumes: ['d:rel']\n"
		"volumes: {d: }\n",
		"the target must be an absolute path");
}

static void reads_secrets_and_configs(void **state)
{
	(void)state;
	char msg[SHOAL_ERR_MAX];
	json_t *r =
		conv("services:\n  a:\n    image: x\n"
		     "    secrets:\n"
		     "      - db_pass\n"
		     "      - {source: ext, target: other, uid: '10', mode: "
		     "0400}\n"
		     "    configs:\n"
		     "      - {source: conf, target: /etc/nginx.conf}\n"
		     "secrets:\n"
		     "  db_pass: {file: ./db_pass.txt}\n"
		     "  ext: {external: true}\n"
		     "configs:\n"
		     "  conf: {file: nginx.conf, labels: {a: b}}\n",
		     msg);
	if (!r)
		fail_msg("%s", msg);
	json_t *cs = at(r, "Services/a/TaskTemplate/ContainerSpec");
	assert_string_equal(str_at(cs, "Secrets/0/SecretName"), "st_db_pass");
	assert_string_equal(str_at(cs, "Secrets/0/File/Name"), "db_pass");
	assert_int_equal(int_at(cs, "Secrets/0/File/Mode"), 0444);
	assert_string_equal(str_at(cs, "Secrets/1/SecretName"), "ext");
	assert_string_equal(str_at(cs, "Secrets/1/File/Name"), "other");
	assert_string_equal(str_at(cs, "Secrets/1/File/UID"), "10");
	assert_int_equal(int_at(cs, "Secrets/1/File/Mode"), 0400);
	assert_string_equal(str_at(cs, "Configs/0/ConfigName"), "st_conf");
	assert_string_equal(str_at(cs, "Configs/0/File/Name"),
			    "/etc/nginx.conf");
	assert_string_equal(str_at(r, "Secrets/db_pass/Name"), "st_db_pass");
	assert_string_equal(str_at(r, "Secrets/db_pass/Data"), "czNjcmV0");
	assert_true(json_is_true(at(r, "Secrets/ext/External")));
	assert_string_equal(str_at(r, "Configs/conf/Labels/a"), "b");
	json_decref(r);
	refused("services:\n  a:\n    image: x\n    secrets: [nope]\n",
		"services.a.secrets[0]: undefined secret \"nope\"");
	refused("services:\n  a:\n    image: x\nsecrets:\n  s: {file: gone}\n",
		"/p/gone: No such file");
}

static void reads_healthcheck(void **state)
{
	(void)state;
	json_t *r = conv("services:\n  a:\n    image: x\n"
			 "    healthcheck:\n"
			 "      test: [\"CMD\", \"true\"]\n"
			 "      interval: 10s\n      timeout: 2s\n"
			 "      retries: 3\n      start_period: 1s\n"
			 "  b:\n    image: x\n"
			 "    healthcheck: {test: curl -f localhost}\n"
			 "  c:\n    image: x\n"
			 "    healthcheck: {disable: true}\n",
			 NULL);
	assert_non_null(r);
	json_t *h = at(r, "Services/a/TaskTemplate/ContainerSpec/Healthcheck");
	assert_string_equal(str_at(h, "Test/0"), "CMD");
	assert_int_equal(int_at(h, "Interval"), 10000000000LL);
	assert_int_equal(int_at(h, "Retries"), 3);
	assert_int_equal(int_at(h, "StartPeriod"), 1000000000LL);
	assert_string_equal(
		str_at(r, "Services/b/TaskTemplate/ContainerSpec/Healthcheck/"
			  "Test/0"),
		"CMD-SHELL");
	assert_string_equal(
		str_at(r, "Services/c/TaskTemplate/ContainerSpec/Healthcheck/"
			  "Test/0"),
		"NONE");
	json_decref(r);
}

static void refuses_unknown_keys_by_path(void **state)
{
	(void)state;
	refused("services:\n  a:\n    image: x\n    build: .\n",
		"services.a.build: unsupported key");
	refused("services:\n  a:\n    image: x\n    deploy: {replica: 2}\n",
		"services.a.deploy.replica: unsupported key");
	refused("services:\n  a:\n    image: x\n    deploy:\n"
		"      resources: {limits: {gpus: 1}}\n",
		"services.a.deploy.resources.limits.gpus: unsupported key");
	refused("servics:\n  a: {image: x}\n", "servics: unsupported key");
	refused("services:\n  a:\n    image: x\nnetworks:\n  n: {drvier: x}\n",
		"networks.n.drvier: unsupported key");
	refused("services:\n  a: {command: x}\n", "services.a: image is "
						  "required");
	refused("services:\n  a:\n    image: x\n    deploy: {mode: both}\n",
		"services.a.deploy.mode: \"both\" is not one of replicated, "
		"global");
	refused("services:\n  a:\n    image: x\n"
		"    stop_grace_period: 10\n",
		"services.a.stop_grace_period: a duration needs a unit");
	refused("services:\n  a:\n    image: x\n"
		"    deploy: {resources: {limits: {memory: lots}}}\n",
		"services.a.deploy.resources.limits.memory: \"lots\" is not a "
		"size");
	refused("services: {}\n", "at least one service");
	refused("- a\n- b\n", "the top level must be a mapping");
	refused("services:\n  a: {image: x}\n  a: {image: y}\n",
		"duplicate key \"a\"");
	refused("a: [\n", "c.yml: line 2");
	refused("services:\n  a: {image: x}\n---\nb: 1\n", "one YAML document");
	/* Extension fields are the specification's and stay allowed. */
	json_t *r = conv("x-common: &c {image: x}\nservices:\n  a: *c\n", NULL);
	assert_non_null(r);
	json_decref(r);
}

static void resolves_anchors_and_merge_keys(void **state)
{
	(void)state;
	json_t *r = conv("x-base: &base\n"
			 "  image: app\n"
			 "  environment: {A: '1'}\n"
			 "services:\n"
			 "  a:\n"
			 "    <<: *base\n"
			 "    image: override\n"
			 "  b:\n"
			 "    <<: [*base]\n",
			 NULL);
	assert_non_null(r);
	assert_string_equal(
		str_at(r, "Services/a/TaskTemplate/ContainerSpec/Image"),
		"override");
	assert_string_equal(
		str_at(r, "Services/b/TaskTemplate/ContainerSpec/Image"),
		"app");
	assert_string_equal(
		str_at(r, "Services/b/TaskTemplate/ContainerSpec/Env/0"),
		"A=1");
	json_decref(r);
}

static void stops_a_billion_laughs(void **state)
{
	(void)state;
	char yaml[4096] = "a: &a [x, x, x, x, x, x, x, x, x, x]\n";
	for (char c = 'b'; c <= 'j'; c++)
		snprintf(yaml + strlen(yaml), sizeof(yaml) - strlen(yaml),
			 "%c: &%c [*%c, *%c, *%c, *%c, *%c, *%c, *%c, *%c, "
			 "*%c, *%c]\n",
			 c, c, c - 1, c - 1, c - 1, c - 1, c - 1, c - 1, c - 1,
			 c - 1, c - 1, c - 1);
	struct shoal_err err = {{0}};
	json_t *doc = NULL;
	assert_int_equal(
		compose_parse(yaml, strlen(yaml), "bomb", NULL, &doc, &err),
		-E2BIG);
	assert_non_null(strstr(err.msg, "too large"));
}

static void merges_files_as_docker_does(void **state)
{
	(void)state;
	const char *a = "services:\n  web:\n    image: web:1\n"
			"    environment: [A=1, B=1]\n"
			"    ports: ['80:80']\n"
			"    volumes: ['d:/data', 'e:/logs']\n"
			"    deploy: {replicas: 2, labels: {x: '1'}}\n"
			"volumes: {d: , e: }\n";
	const char *b = "services:\n  web:\n    image: web:2\n"
			"    environment: {B: '2'}\n"
			"    ports: ['443:443']\n"
			"    volumes: ['f:/data']\n"
			"    deploy: {labels: [y=2]}\n"
			"  api:\n    image: api\n"
			"volumes: {f: }\n";
	struct shoal_err err = {{0}};
	json_t *da = NULL, *db = NULL, *out = NULL;
	struct compose_opts o = {.stack = "st", .dir = "/p"};
	assert_int_equal(compose_parse(a, strlen(a), "a", NULL, &da, &err), 0);
	assert_int_equal(compose_parse(b, strlen(b), "b", NULL, &db, &err), 0);
	assert_int_equal(compose_merge(da, db, &err), 0);
	if (compose_convert(da, &o, &out, &err) < 0)
		fail_msg("%s", err.msg);
	json_t *w = at(out, "Services/web");
	assert_string_equal(str_at(w, "TaskTemplate/ContainerSpec/Image"),
			    "web:2");
	assert_string_equal(str_at(w, "TaskTemplate/ContainerSpec/Env/0"),
			    "A=1");
	assert_string_equal(str_at(w, "TaskTemplate/ContainerSpec/Env/1"),
			    "B=2");
	assert_int_equal(json_array_size(at(w, "EndpointSpec/Ports")), 2);
	json_t *m = at(w, "TaskTemplate/ContainerSpec/Mounts");
	assert_int_equal(json_array_size(m), 2);
	assert_string_equal(str_at(m, "0/Source"), "st_f");
	assert_int_equal(int_at(w, "Mode/Replicated/Replicas"), 2);
	assert_string_equal(str_at(w, "Labels/x"), "1");
	assert_string_equal(str_at(w, "Labels/y"), "2");
	assert_non_null(at(out, "Services/api"));
	json_decref(da);
	json_decref(db);
	json_decref(out);
}

static void parses_durations_and_sizes(void **state)
{
	(void)state;
	long long v;
	assert_int_equal(compose_duration("1h2m3.5s", &v), 0);
	assert_int_equal(v, 3723500000000LL);
	assert_int_equal(compose_duration("250ms", &v), 0);
	assert_int_equal(v, 250000000LL);
	assert_int_equal(compose_duration("10", &v), -EINVAL);
	assert_int_equal(compose_duration("s", &v), -EINVAL);
	assert_int_equal(compose_duration("1d", &v), -EINVAL);
	assert_int_equal(compose_bytes("1.5g", &v), 0);
	assert_int_equal(v, 3LL << 29);
	assert_int_equal(compose_bytes("100kb", &v), 0);
	assert_int_equal(v, 102400);
	assert_int_equal(compose_bytes("12", &v), 0);
	assert_int_equal(v, 12);
	assert_int_equal(compose_bytes("-1", &v), -EINVAL);
	assert_int_equal(compose_bytes("1x", &v), -EINVAL);
	assert_true(compose_valid_stack_name("my-app_1.0"));
	assert_false(compose_valid_stack_name("_x"));
	assert_false(compose_valid_stack_name("a b"));
}

static void refuses_a_bad_stack_name(void **state)
{
	(void)state;
	json_t *doc = json_pack("{s:{s:{s:s}}}", "services", "a", "image", "x");
	json_t *out = NULL;
	struct shoal_err err = {{0}};
	struct compose_opts o = {.stack = "bad name"};
	assert_int_equal(compose_convert(doc, &o, &out, &err), -EINVAL);
	assert_non_null(strstr(err.msg, "invalid stack name"));
	json_decref(doc);
}

static void local_mode_makes_a_single_host_project(void **state)
{
	(void)state;
	const char *y = "services:\n  a:\n    image: x\n    secrets: [s]\n"
			"    ports: ['127.0.0.1:8080:80', '10.0.0.1::81', "
			"{target: 82, published: 8082, host_ip: 127.0.0.2}]\n"
			"networks:\n  n: {labels: {k: v}}\n"
			"volumes:\n  v:\n"
			"secrets:\n  s: {file: db_pass.txt}\n";
	struct compose_opts o = {
		.stack = "proj", .dir = "/p", .read = mem_read, .local = true};
	struct shoal_err err = {{0}};
	json_t *doc = NULL, *r = NULL;
	assert_int_equal(compose_parse(y, strlen(y), "c", NULL, &doc, &err), 0);
	if (compose_convert(doc, &o, &r, &err) < 0)
		fail_msg("%s", err.msg);
	assert_string_equal(str_at(r, "Networks/n/Driver"), "bridge");
	assert_string_equal(str_at(r, "Networks/n/Name"), "proj_n");
	assert_string_equal(
		str_at(r, "Networks/n/Labels/com.docker.compose.project"),
		"proj");
	assert_string_equal(
		str_at(r, "Networks/n/Labels/com.docker.compose.network"), "n");
	assert_string_equal(str_at(r, "Networks/n/Labels/k"), "v");
	assert_null(at(r, "Networks/n/Labels/com.docker.stack.namespace"));
	assert_string_equal(str_at(r, "Networks/default/Driver"), "bridge");
	assert_string_equal(
		str_at(r, "Volumes/v/Labels/com.docker.compose.volume"), "v");
	/* On one host a port may be bound to one address. */
	json_t *pt = at(r, "Services/a/EndpointSpec/Ports");
	assert_string_equal(str_at(pt, "0/HostIp"), "127.0.0.1");
	assert_int_equal(int_at(pt, "0/PublishedPort"), 8080);
	assert_string_equal(str_at(pt, "1/HostIp"), "10.0.0.1");
	assert_null(at(pt, "1/PublishedPort"));
	assert_string_equal(str_at(pt, "2/HostIp"), "127.0.0.2");
	/* The secret's file, for a bind mount on one host. */
	assert_string_equal(str_at(r, "Secrets/s/File"), "/p/db_pass.txt");
	json_decref(doc);
	json_decref(r);
}

static void the_file_reader_refuses_what_is_not_a_file(void **state)
{
	(void)state;
	char dir[] = "/tmp/compose-test.XXXXXX", fifo[64], file[64];
	struct shoal_err err = {{0}};
	char *data = NULL;
	size_t len = 0, max = 4;
	assert_non_null(mkdtemp(dir));
	snprintf(fifo, sizeof(fifo), "%s/fifo", dir);
	snprintf(file, sizeof(file), "%s/big", dir);
	assert_int_equal(mkfifo(fifo, 0600), 0);
	/* A FIFO neither blocks the open nor is read. */
	assert_int_equal(compose_read_file(NULL, fifo, &data, &len, &err),
			 -EINVAL);
	assert_non_null(strstr(err.msg, "not a regular file"));
	assert_int_equal(compose_read_file(NULL, dir, &data, &len, &err),
			 -EINVAL);
	FILE *f = fopen(file, "w");
	assert_non_null(f);
	fputs("12345", f);
	fclose(f);
	assert_int_equal(compose_read_file(&max, file, &data, &len, &err),
			 -EFBIG);
	max = 5;
	assert_int_equal(compose_read_file(&max, file, &data, &len, &err), 0);
	assert_int_equal(len, 5);
	free(data);
	unlink(fifo);
	unlink(file);
	rmdir(dir);
}

static void restart_and_depends_on_are_local_only(void **state)
{
	(void)state;
	const char *y = "services:\n"
			"  a:\n    image: x\n    restart: on-failure:3\n"
			"    depends_on: [b]\n"
			"  b:\n    image: x\n    restart: always\n"
			"    depends_on: {c: {condition: service_started}}\n"
			"  c:\n    image: x\n";
	struct compose_opts o = {.stack = "proj", .local = true};
	struct shoal_err err = {{0}};
	json_t *doc = NULL, *r = NULL;
	assert_int_equal(compose_parse(y, strlen(y), "c", NULL, &doc, &err), 0);
	if (compose_convert(doc, &o, &r, &err) < 0)
		fail_msg("%s", err.msg);
	assert_string_equal(str_at(r, "Local/a/Restart/Name"), "on-failure");
	assert_int_equal(int_at(r, "Local/a/Restart/MaximumRetryCount"), 3);
	assert_string_equal(str_at(r, "Local/a/DependsOn/0"), "b");
	assert_string_equal(str_at(r, "Local/b/Restart/Name"), "always");
	assert_string_equal(str_at(r, "Local/b/DependsOn/0"), "c");
	assert_null(at(r, "Local/c"));
	json_decref(r);
	/* A stack refuses both, by path, with the swarm's way. */
	refused("services:\n  a:\n    image: x\n    restart: always\n",
		"services.a.restart: not applied to a stack (a swarm service "
		"restarts by deploy.restart_policy");
	refused("services:\n  a:\n    image: x\n    depends_on: [a]\n",
		"services.a.depends_on: not applied to a stack");
	json_decref(doc);
	o.local = true;
	const char *bad[][2] = {
		{"services:\n  a: {image: x, restart: sometimes}\n",
		 "services.a.restart: \"sometimes\" is not no, always"},
		{"services:\n  a: {image: x, restart: 'on-failure:x'}\n",
		 "invalid retry count"},
		{"services:\n  a: {image: x, depends_on: [zz]}\n",
		 "services.a.depends_on: undefined service \"zz\""},
		{"services:\n  a: {image: x, depends_on: {b: {condition: "
		 "service_healthy}}}\n  b: {image: x}\n",
		 "services.a.depends_on.b.condition: only service_started"},
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		doc = NULL;
		r = NULL;
		assert_int_equal(compose_parse(bad[i][0], strlen(bad[i][0]),
					       "c", NULL, &doc, &err),
				 0);
		assert_int_equal(compose_convert(doc, &o, &r, &err), -EINVAL);
		if (!strstr(err.msg, bad[i][1]))
			fail_msg("\"%s\" lacks \"%s\"", err.msg, bad[i][1]);
		json_decref(doc);
	}
}

static int setup(void **state)
{
	(void)state;
	env_vars = json_object();
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	json_decref(env_vars);
	return 0;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(builds_a_docker_service_spec),
		cmocka_unit_test(splits_a_command_string_as_a_shell_does),
		cmocka_unit_test(merges_env_file_and_environment_sorted),
		cmocka_unit_test(interpolates_variables),
		cmocka_unit_test(interpolated_numbers_are_typed),
		cmocka_unit_test(reads_deploy),
		cmocka_unit_test(reads_ports_short_and_long),
		cmocka_unit_test(reads_networks_with_aliases),
		cmocka_unit_test(reads_volumes_short_and_long),
		cmocka_unit_test(reads_secrets_and_configs),
		cmocka_unit_test(reads_healthcheck),
		cmocka_unit_test(refuses_unknown_keys_by_path),
		cmocka_unit_test(resolves_anchors_and_merge_keys),
		cmocka_unit_test(stops_a_billion_laughs),
		cmocka_unit_test(merges_files_as_docker_does),
		cmocka_unit_test(parses_durations_and_sizes),
		cmocka_unit_test(refuses_a_bad_stack_name),
		cmocka_unit_test(local_mode_makes_a_single_host_project),
		cmocka_unit_test(the_file_reader_refuses_what_is_not_a_file),
		cmocka_unit_test(restart_and_depends_on_are_local_only),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
