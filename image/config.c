/*
 * Image configs (the OCI image spec's "image configuration", which Docker's
 * image JSON extends) and the --change lines of `docker import`.
 *
 * A config arrives from outside (an archive) and is kept as the exact bytes
 * it came in, because its sha256 is the image id. img__config_check()
 * validates the fields the store reads, so that everything after it may
 * trust their types; unknown fields are kept untouched.
 *
 * --change lines use Dockerfile syntax. CMD and ENTRYPOINT take the JSON
 * ("exec") form when the argument is a JSON array of strings, and the shell
 * form (["/bin/sh", "-c", text]) otherwise, as Docker does. ENV and LABEL
 * take key=value words with Dockerfile quoting, or the legacy "KEY value"
 * form. Variables ($FOO) are not expanded (docs/images.md).
 */
#include "image/internal.h"

#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "common/alloc.h"
#include "common/id.h"

static bool is_str_array(const json_t *v)
{
	if (!json_is_array(v))
		return false;
	for (size_t i = 0; i < json_array_size(v); i++)
		if (!json_is_string(json_array_get(v, i)))
			return false;
	return true;
}

static bool is_str_object(const json_t *v)
{
	if (!json_is_object(v))
		return false;
	const char *k;
	json_t *x;
	for (void *it = img__first((json_t *)v, &k, &x); it;
	     it = img__next((json_t *)v, it, &k, &x))
		if (!json_is_string(x))
			return false;
	return true;
}

static bool digest_ok(const char *s)
{
	return strncmp(s, "sha256:", 7) == 0 && id_is_hex(s + 7, 64);
}

static int check_container_config(const json_t *cc, struct shoal_err *err)
{
	static const char *const arrays[] = {"Env", "Cmd", "Entrypoint",
					     "OnBuild", "Shell"};
	static const char *const strings[] = {"WorkingDir", "User",
					      "StopSignal"};
	static const char *const sets[] = {"ExposedPorts", "Volumes"};
	if (!json_is_object(cc))
		return img__fail(err, -EINVAL,
				 "image config: \"config\" is not an object");
	for (size_t i = 0; i < sizeof(arrays) / sizeof(*arrays); i++) {
		json_t *v = json_object_get(cc, arrays[i]);
		if (v && !json_is_null(v) && !is_str_array(v))
			return img__fail(err, -EINVAL,
					 "image config: %s is not an array "
					 "of strings",
					 arrays[i]);
	}
	for (size_t i = 0; i < sizeof(strings) / sizeof(*strings); i++) {
		json_t *v = json_object_get(cc, strings[i]);
		if (v && !json_is_null(v) && !json_is_string(v))
			return img__fail(err, -EINVAL,
					 "image config: %s is not a string",
					 strings[i]);
	}
	for (size_t i = 0; i < sizeof(sets) / sizeof(*sets); i++) {
		json_t *v = json_object_get(cc, sets[i]);
		if (v && !json_is_null(v) && !json_is_object(v))
			return img__fail(err, -EINVAL,
					 "image config: %s is not an object",
					 sets[i]);
	}
	json_t *labels = json_object_get(cc, "Labels");
	if (labels && !json_is_null(labels) && !is_str_object(labels))
		return img__fail(err, -EINVAL,
				 "image config: Labels is not an object of "
				 "strings");
	return 0;
}

int img__config_check(const json_t *cfg, struct shoal_err *err)
{
	static const char *const strings[] = {"architecture", "os",
					      "variant",      "created",
					      "author",	      "comment"};
	if (!json_is_object(cfg))
		return img__fail(err, -EINVAL, "image config is not an object");
	for (size_t i = 0; i < sizeof(strings) / sizeof(*strings); i++) {
		json_t *v = json_object_get(cfg, strings[i]);
		if (v && !json_is_null(v) && !json_is_string(v))
			return img__fail(err, -EINVAL,
					 "image config: %s is not a string",
					 strings[i]);
	}
	json_t *cc = json_object_get(cfg, "config");
	if (cc && !json_is_null(cc)) {
		int rc = check_container_config(cc, err);
		if (rc < 0)
			return rc;
	}
	json_t *rootfs = json_object_get(cfg, "rootfs");
	json_t *type = json_object_get(rootfs, "type");
	json_t *ids = json_object_get(rootfs, "diff_ids");
	if (!json_is_string(type) ||
	    strcmp(json_string_value(type), "layers") != 0 ||
	    !json_is_array(ids))
		return img__fail(err, -EINVAL,
				 "image config: rootfs is not {\"type\": "
				 "\"layers\", \"diff_ids\": [...]}");
	if (json_array_size(ids) > IMG_LAYERS_MAX)
		return img__fail(err, -EINVAL,
				 "image config: more than %d layers",
				 IMG_LAYERS_MAX);
	for (size_t i = 0; i < json_array_size(ids); i++) {
		json_t *x = json_array_get(ids, i);
		if (!json_is_string(x) || !digest_ok(json_string_value(x)))
			return img__fail(err, -EINVAL,
					 "image config: diff_ids[%zu] is not "
					 "a sha256 digest",
					 i);
	}
	return (int)json_array_size(ids);
}

int img__config_parse(const char *data, size_t len, json_t **out,
		      struct shoal_err *err)
{
	json_error_t je;
	if (len > IMG_JSON_MAX)
		return img__fail(err, -EINVAL, "image config is too large");
	json_t *cfg = json_loadb(data, len, JSON_REJECT_DUPLICATES, &je);
	if (!cfg)
		return img__fail(err, -EINVAL, "image config is not JSON: %s",
				 je.text);
	int rc = img__config_check(cfg, err);
	if (rc < 0) {
		json_decref(cfg);
		return rc;
	}
	*out = cfg;
	return 0;
}

static void free_strv(char **v)
{
	if (!v)
		return;
	for (char **p = v; *p; p++)
		shoal_free(*p);
	shoal_free(v);
}

static int dup_str(const json_t *v, char **out)
{
	*out = NULL;
	if (!json_is_string(v))
		return 0;
	*out = shoal_strdup(json_string_value(v));
	return *out ? 0 : -ENOMEM;
}

static int dup_array(const json_t *v, char ***out)
{
	*out = NULL;
	if (!json_is_array(v))
		return 0;
	char **a = shoal_calloc(json_array_size(v) + 1, sizeof(*a));
	if (!a)
		return -ENOMEM;
	size_t i;
	json_t *x;
	for (i = 0; i < json_array_size(v) && (x = json_array_get(v, i)); i++) {
		a[i] = shoal_strdup(json_string_value(x));
		if (!a[i]) {
			free_strv(a);
			return -ENOMEM;
		}
	}
	*out = a;
	return 0;
}

static int dup_keys(const json_t *v, char ***out)
{
	*out = NULL;
	if (!json_is_object(v))
		return 0;
	char **a = shoal_calloc(json_object_size(v) + 1, sizeof(*a));
	if (!a)
		return -ENOMEM;
	size_t i = 0;
	const char *k;
	json_t *x;
	for (void *it = img__first((json_t *)v, &k, &x); it;
	     it = img__next((json_t *)v, it, &k, &x)) {
		a[i] = shoal_strdup(k);
		if (!a[i++]) {
			free_strv(a);
			return -ENOMEM;
		}
	}
	*out = a;
	return 0;
}

static int dup_labels(const json_t *v, struct img_config *c)
{
	if (!json_is_object(v))
		return 0;
	c->labels = shoal_calloc(json_object_size(v) + 1, sizeof(*c->labels));
	if (!c->labels)
		return -ENOMEM;
	const char *k;
	json_t *x;
	for (void *it = img__first((json_t *)v, &k, &x); it;
	     it = img__next((json_t *)v, it, &k, &x)) {
		struct img_kv *kv = &c->labels[c->n_labels];
		kv->key = shoal_strdup(k);
		kv->value = shoal_strdup(json_string_value(x));
		c->n_labels++;
		if (!kv->key || !kv->value)
			return -ENOMEM;
	}
	return 0;
}

int img__config_fill(const json_t *cfg, struct img_config *c)
{
	memset(c, 0, sizeof(*c));
	const json_t *cc = json_object_get(cfg, "config");
	int rc = dup_array(json_object_get(cc, "Env"), &c->env);
	if (rc == 0)
		rc = dup_array(json_object_get(cc, "Cmd"), &c->cmd);
	if (rc == 0)
		rc = dup_array(json_object_get(cc, "Entrypoint"),
			       &c->entrypoint);
	if (rc == 0)
		rc = dup_str(json_object_get(cc, "WorkingDir"),
			     &c->working_dir);
	if (rc == 0)
		rc = dup_str(json_object_get(cc, "User"), &c->user);
	if (rc == 0)
		rc = dup_keys(json_object_get(cc, "ExposedPorts"),
			      &c->exposed_ports);
	if (rc == 0)
		rc = dup_keys(json_object_get(cc, "Volumes"), &c->volumes);
	if (rc == 0)
		rc = dup_labels(json_object_get(cc, "Labels"), c);
	if (rc == 0)
		rc = dup_str(json_object_get(cc, "StopSignal"),
			     &c->stop_signal);
	if (rc < 0)
		img__config_clear(c);
	return rc;
}

void img__config_clear(struct img_config *c)
{
	free_strv(c->env);
	free_strv(c->cmd);
	free_strv(c->entrypoint);
	free_strv(c->exposed_ports);
	free_strv(c->volumes);
	shoal_free(c->working_dir);
	shoal_free(c->user);
	shoal_free(c->stop_signal);
	for (size_t i = 0; i < c->n_labels; i++) {
		shoal_free(c->labels[i].key);
		shoal_free(c->labels[i].value);
	}
	shoal_free(c->labels);
	memset(c, 0, sizeof(*c));
}

/* --change ----------------------------------------------------------- */

#define WORDS_MAX 256

struct words {
	char *w[WORDS_MAX];
	size_t n;
};

static void words_clear(struct words *w)
{
	for (size_t i = 0; i < w->n; i++)
		shoal_free(w->w[i]);
	w->n = 0;
}

/*
 * Dockerfile words: separated by blanks; '...' keeps everything literally,
 * "..." and bare text honour backslash escapes.
 */
static int split_words(const char *s, struct words *w, struct shoal_err *err)
{
	size_t len = strlen(s);
	w->n = 0;
	while (*s) {
		while (isspace((unsigned char)*s))
			s++;
		if (!*s)
			break;
		if (w->n == WORDS_MAX)
			return img__fail(err, -EINVAL, "too many words");
		char *word = shoal_malloc(len + 1);
		if (!word)
			return -ENOMEM;
		size_t o = 0;
		char quote = 0;
		for (; *s && (quote || !isspace((unsigned char)*s)); s++) {
			if (quote == '\'' && *s == '\'') {
				quote = 0;
			} else if (quote == '\'') {
				word[o++] = *s;
			} else if (*s == '\\' && s[1]) {
				word[o++] = *++s;
			} else if (*s == '"' || (!quote && *s == '\'')) {
				quote = quote ? 0 : *s;
			} else {
				word[o++] = *s;
			}
		}
		word[o] = '\0';
		w->w[w->n++] = word;
		if (quote)
			return img__fail(err, -EINVAL,
					 "unterminated quote in \"%s\"", word);
	}
	return 0;
}

static json_t *exec_form(const char *rest)
{
	if (rest[0] != '[')
		return NULL;
	json_t *v = json_loads(rest, JSON_REJECT_DUPLICATES, NULL);
	if (v && is_str_array(v))
		return v;
	json_decref(v);
	return NULL;
}

static json_t *command(const char *rest)
{
	json_t *v = exec_form(rest);
	if (v)
		return v;
	return json_pack("[sss]", "/bin/sh", "-c", rest);
}

/* Env entry "K=v" or label: sets @key in @kv (array of "K=v" or object). */
static int set_env(json_t *env, const char *key, const char *value)
{
	size_t klen = strlen(key);
	char *entry = shoal_malloc(klen + strlen(value) + 2);
	if (!entry)
		return -ENOMEM;
	strcpy(entry, key);
	entry[klen] = '=';
	strcpy(entry + klen + 1, value);
	json_t *s = json_string(entry);
	shoal_free(entry);
	if (!s)
		return -EINVAL; /* not UTF-8 */
	size_t i;
	json_t *x;
	for (i = 0; i < json_array_size(env) && (x = json_array_get(env, i));
	     i++) {
		const char *e = json_string_value(x);
		if (strncmp(e, key, klen) == 0 && e[klen] == '=')
			return json_array_set_new(env, i, s) ? -ENOMEM : 0;
	}
	return json_array_append_new(env, s) ? -ENOMEM : 0;
}

/* ENV and LABEL: "k=v k2=v2" or the legacy "k value with spaces". */
static int key_values(json_t *dst, bool env, const char *rest, const char *what,
		      struct shoal_err *err)
{
	struct words w;
	int rc = split_words(rest, &w, err);
	if (rc < 0)
		goto out;
	rc = img__fail(err, -EINVAL, "%s requires at least one argument", what);
	if (w.n == 0)
		goto out;
	if (!strchr(w.w[0], '=')) {
		/* Legacy form: the key, then the rest of the line. */
		const char *p = rest;
		while (isspace((unsigned char)*p))
			p++;
		p += strcspn(p, " \t");
		while (isspace((unsigned char)*p))
			p++;
		if (!*p)
			goto out;
		rc = env ? set_env(dst, w.w[0], p)
			 : (json_object_set_new(dst, w.w[0], json_string(p))
				    ? -EINVAL
				    : 0);
		goto out;
	}
	for (size_t i = 0; i < w.n; i++) {
		char *eq = strchr(w.w[i], '=');
		if (!eq || eq == w.w[i]) {
			rc = img__fail(err, -EINVAL,
				       "%s names can not be blank or lack "
				       "'=': \"%s\"",
				       what, w.w[i]);
			goto out;
		}
		*eq = '\0';
		rc = env ? set_env(dst, w.w[i], eq + 1)
			 : (json_object_set_new(dst, w.w[i],
						json_string(eq + 1))
				    ? -EINVAL
				    : 0);
		if (rc < 0)
			goto out;
	}
	rc = 0;
out:
	words_clear(&w);
	return rc;
}

static int parse_port(const char *s, long *out)
{
	char *end;
	errno = 0;
	long v = strtol(s, &end, 10);
	if (errno || end == s || v < 1 || v > 65535)
		return -EINVAL;
	*out = v;
	return (int)(end - s);
}

static int expose_one(json_t *ports, const char *spec, struct shoal_err *err)
{
	const char *proto = "tcp";
	const char *slash = strchr(spec, '/');
	if (slash) {
		proto = slash + 1;
		if (strcmp(proto, "tcp") && strcmp(proto, "udp") &&
		    strcmp(proto, "sctp"))
			return img__fail(err, -EINVAL, "invalid proto: %s",
					 proto);
	}
	long lo, hi;
	int n = parse_port(spec, &lo);
	if (n < 0)
		return img__fail(err, -EINVAL, "invalid port: %s", spec);
	hi = lo;
	if (spec[n] == '-') {
		int m = parse_port(spec + n + 1, &hi);
		if (m < 0 || hi < lo || hi - lo >= 1024)
			return img__fail(err, -EINVAL, "invalid port range: %s",
					 spec);
		n += 1 + m;
	}
	if (spec[n] != '\0' && spec[n] != '/')
		return img__fail(err, -EINVAL, "invalid port: %s", spec);
	for (long p = lo; p <= hi; p++) {
		char key[32];
		snprintf(key, sizeof(key), "%ld/%s", p, proto);
		if (json_object_set_new(ports, key, json_object()))
			return -ENOMEM;
	}
	return 0;
}

static int words_into_set(json_t *set, const char *rest, bool ports,
			  struct shoal_err *err)
{
	json_t *arr = ports ? NULL : exec_form(rest);
	if (arr) {
		for (size_t i = 0; i < json_array_size(arr); i++)
			json_object_set_new(
				set, json_string_value(json_array_get(arr, i)),
				json_object());
		json_decref(arr);
		return 0;
	}
	struct words w;
	int rc = split_words(rest, &w, err);
	for (size_t i = 0; rc == 0 && i < w.n; i++) {
		if (ports)
			rc = expose_one(set, w.w[i], err);
		else if (json_object_set_new(set, w.w[i], json_object()))
			rc = -ENOMEM;
	}
	if (rc == 0 && w.n == 0)
		rc = img__fail(err, -EINVAL,
			       "%s requires at least one argument",
			       ports ? "EXPOSE" : "VOLUME");
	words_clear(&w);
	return rc;
}

/* A copy of member @key of @cc of the given kind, made when absent. */
static json_t *member_copy(json_t *cc, const char *key, bool array)
{
	json_t *v = json_object_get(cc, key);
	if (array ? json_is_array(v) : json_is_object(v))
		return json_deep_copy(v);
	return array ? json_array() : json_object();
}

static int workdir(json_t *cc, const char *rest, json_t **out)
{
	if (rest[0] == '/') {
		*out = json_string(rest);
		return *out ? 0 : -EINVAL;
	}
	const char *cur = json_string_value(json_object_get(cc, "WorkingDir"));
	if (!cur || !cur[0])
		cur = "/";
	size_t n = strlen(cur);
	char *p = shoal_malloc(n + strlen(rest) + 2);
	if (!p)
		return -ENOMEM;
	sprintf(p, "%s%s%s", cur, cur[n - 1] == '/' ? "" : "/", rest);
	*out = json_string(p);
	shoal_free(p);
	return *out ? 0 : -EINVAL;
}

/*
 * One --change instruction: the config member it sets and how the new
 * value is made from the argument (and, for the accumulating ones, from
 * the member's current value, copied so that a failure changes nothing).
 */
struct change;
typedef int make_fn(json_t *cc, const struct change *c, const char *arg,
		    json_t **val, struct shoal_err *err);

struct change {
	const char *inst;
	const char *key;
	make_fn *make;
	bool may_be_empty;
};

static int make_command(json_t *cc, const struct change *c, const char *arg,
			json_t **val, struct shoal_err *err)
{
	*val = arg[0] ? command(arg) : json_null();
	return 0;
}

static int make_key_values(json_t *cc, const struct change *c, const char *arg,
			   json_t **val, struct shoal_err *err)
{
	bool env = !strcmp(c->key, "Env");
	*val = member_copy(cc, c->key, env);
	return *val ? key_values(*val, env, arg, c->inst, err) : -ENOMEM;
}

static int make_set(json_t *cc, const struct change *c, const char *arg,
		    json_t **val, struct shoal_err *err)
{
	*val = member_copy(cc, c->key, false);
	return *val ? words_into_set(*val, arg, !strcmp(c->key, "ExposedPorts"),
				     err)
		    : -ENOMEM;
}

static int make_workdir(json_t *cc, const struct change *c, const char *arg,
			json_t **val, struct shoal_err *err)
{
	return workdir(cc, arg, val);
}

static int make_word(json_t *cc, const struct change *c, const char *arg,
		     json_t **val, struct shoal_err *err)
{
	if (strpbrk(arg, " \t"))
		return img__fail(err, -EINVAL,
				 "%s requires exactly one argument", c->inst);
	*val = json_string(arg);
	return 0;
}

static int make_onbuild(json_t *cc, const struct change *c, const char *arg,
			json_t **val, struct shoal_err *err)
{
	*val = member_copy(cc, c->key, true);
	if (!*val)
		return -ENOMEM;
	return json_array_append_new(*val, json_string(arg)) ? -EINVAL : 0;
}

static const struct change changes[] = {
	{"CMD", "Cmd", make_command, true},
	{"ENTRYPOINT", "Entrypoint", make_command, true},
	{"ENV", "Env", make_key_values, false},
	{"LABEL", "Labels", make_key_values, false},
	{"EXPOSE", "ExposedPorts", make_set, false},
	{"VOLUME", "Volumes", make_set, false},
	{"WORKDIR", "WorkingDir", make_workdir, false},
	{"USER", "User", make_word, false},
	{"STOPSIGNAL", "StopSignal", make_word, false},
	{"ONBUILD", "OnBuild", make_onbuild, false},
};

/* The instruction of @line, upper-cased, and where its argument starts. */
static const struct change *instruction(const char *line, const char **rest,
					struct shoal_err *err)
{
	while (isspace((unsigned char)*line))
		line++;
	size_t kw = strcspn(line, " \t");
	char inst[16];
	if (kw == 0 || kw >= sizeof(inst)) {
		img__fail(err, -EINVAL, "%.*s is not a valid change command",
			  (int)(kw < 32 ? kw : 32), line);
		return NULL;
	}
	for (size_t i = 0; i < kw; i++)
		inst[i] = (char)toupper((unsigned char)line[i]);
	inst[kw] = '\0';
	for (size_t i = 0; i < sizeof(changes) / sizeof(*changes); i++) {
		if (!strcmp(inst, changes[i].inst)) {
			for (*rest = line + kw; isspace((unsigned char)**rest);)
				(*rest)++;
			return &changes[i];
		}
	}
	for (char *p = inst; *p; p++)
		*p = (char)tolower((unsigned char)*p);
	img__fail(err, -EINVAL, "%s is not a valid change command", inst);
	return NULL;
}

int img__change_apply(json_t *cc, const char *line, struct shoal_err *err)
{
	const char *rest;
	const struct change *c = instruction(line, &rest, err);
	if (!c)
		return -EINVAL;
	char *arg = shoal_strdup(rest);
	if (!arg)
		return -ENOMEM;
	for (size_t n = strlen(arg);
	     n > 0 && isspace((unsigned char)arg[n - 1]);)
		arg[--n] = '\0';
	json_t *val = NULL;
	int rc = 0;
	if (!arg[0] && !c->may_be_empty)
		rc = img__fail(err, -EINVAL,
			       "%s requires at least one argument", c->inst);
	if (rc == 0)
		rc = c->make(cc, c, arg, &val, err);
	if (rc == 0 && !val)
		rc = img__fail(err, -EINVAL,
			       "%s: invalid argument (not UTF-8?)", c->inst);
	shoal_free(arg);
	if (rc < 0) {
		json_decref(val);
		return rc;
	}
	/* set_new takes @val, on failure too. */
	return json_object_set_new(cc, c->key, val) ? -ENOMEM : 0;
}
