/*
 * Seccomp profiles in Docker's JSON format (moby's profiles/seccomp), built
 * with libseccomp and exported as classic BPF. The runtime compiles a
 * profile once per capability set and keeps the BPF on disk; a container's
 * init only reads those bytes and hands them to seccomp(2), so a start
 * costs no libseccomp work at all.
 *
 * Semantics follow Docker: a rule applies when the container holds every
 * capability in "includes.caps", none in "excludes.caps", and the arch and
 * minimum kernel match; an ERRNO rule without errnoRet returns EPERM; when
 * one argument index appears twice in a rule, each comparison becomes its
 * own rule (OR), since libseccomp cannot AND two tests of one argument;
 * names libseccomp does not know are skipped. Malformed profiles are
 * rejected with a path to the offending field, never half-applied.
 */
#include <errno.h>
#include <jansson.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <seccomp.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/utsname.h>
#include <unistd.h>

#include "common/alloc.h"
#include "runtime/internal.h"

#define PROFILE_MAX (4 << 20)

static int parse_action(const char *s, uint32_t errno_ret, uint32_t *out)
{
	if (!strcmp(s, "SCMP_ACT_ALLOW"))
		*out = SCMP_ACT_ALLOW;
	else if (!strcmp(s, "SCMP_ACT_ERRNO"))
		*out = SCMP_ACT_ERRNO(errno_ret);
	else if (!strcmp(s, "SCMP_ACT_KILL") ||
		 !strcmp(s, "SCMP_ACT_KILL_THREAD"))
		*out = SCMP_ACT_KILL;
	else if (!strcmp(s, "SCMP_ACT_KILL_PROCESS"))
		*out = SCMP_ACT_KILL_PROCESS;
	else if (!strcmp(s, "SCMP_ACT_TRAP"))
		*out = SCMP_ACT_TRAP;
	else if (!strcmp(s, "SCMP_ACT_TRACE"))
		*out = SCMP_ACT_TRACE(errno_ret);
	else if (!strcmp(s, "SCMP_ACT_LOG"))
		*out = SCMP_ACT_LOG;
	else
		return -EINVAL;
	return 0;
}

static int parse_op(const char *s, enum scmp_compare *op)
{
	static const struct {
		const char *name;
		enum scmp_compare op;
	} ops[] = {
		{"SCMP_CMP_NE", SCMP_CMP_NE},
		{"SCMP_CMP_LT", SCMP_CMP_LT},
		{"SCMP_CMP_LE", SCMP_CMP_LE},
		{"SCMP_CMP_EQ", SCMP_CMP_EQ},
		{"SCMP_CMP_GE", SCMP_CMP_GE},
		{"SCMP_CMP_GT", SCMP_CMP_GT},
		{"SCMP_CMP_MASKED_EQ", SCMP_CMP_MASKED_EQ},
	};

	for (size_t i = 0; i < sizeof(ops) / sizeof(ops[0]); i++)
		if (!strcmp(s, ops[i].name)) {
			*op = ops[i].op;
			return 0;
		}
	return -EINVAL;
}

/* Docker names arches as Go does (GOARCH) in includes/excludes. */
static const char *native_goarch(void)
{
#if defined(__x86_64__)
	return "amd64";
#elif defined(__aarch64__)
	return "arm64";
#elif defined(__i386__)
	return "386";
#else
	return "unknown";
#endif
}

static bool kernel_at_least(const char *want)
{
	struct utsname u;
	unsigned a = 0, b = 0, x = 0, y = 0;

	if (uname(&u) < 0 || sscanf(u.release, "%u.%u", &a, &b) != 2)
		return false;
	if (sscanf(want, "%u.%u", &x, &y) < 1)
		return false;
	return a > x || (a == x && b >= y);
}

struct ctx {
	scmp_filter_ctx sc;
	uint64_t caps;
	uint32_t def_action;
	struct shoal_err *err;
};

static int strings_of(json_t *arr, const char *what, struct shoal_err *err)
{
	size_t i;
	json_t *v;

	if (!json_is_array(arr)) {
		rt__err(err, "invalid seccomp profile: %s must be an array",
			what);
		return -EINVAL;
	}
	json_array_foreach(arr, i, v) if (!json_is_string(v))
	{
		rt__err(err,
			"invalid seccomp profile: %s[%zu] must "
			"be a string",
			what, i);
		return -EINVAL;
	}
	return 0;
}

/* Whether a rule's includes/excludes filter lets it apply here. */
static int filter_matches(json_t *f, bool include, size_t idx,
			  const struct ctx *x, bool *match)
{
	json_t *caps, *arches, *mk, *v;
	size_t i;
	char what[64];

	*match = true;
	if (!f)
		return 0;
	if (!json_is_object(f)) {
		rt__err(x->err,
			"invalid seccomp profile: syscalls[%zu].%s "
			"must be an object",
			idx, include ? "includes" : "excludes");
		return -EINVAL;
	}
	caps = json_object_get(f, "caps");
	arches = json_object_get(f, "arches");
	mk = json_object_get(f, "minKernel");
	snprintf(what, sizeof(what), "syscalls[%zu].caps", idx);
	if (caps && strings_of(caps, what, x->err) < 0)
		return -EINVAL;
	snprintf(what, sizeof(what), "syscalls[%zu].arches", idx);
	if (arches && strings_of(arches, what, x->err) < 0)
		return -EINVAL;
	if (mk && !json_is_string(mk)) {
		rt__err(x->err,
			"invalid seccomp profile: syscalls[%zu]."
			"minKernel must be a string",
			idx);
		return -EINVAL;
	}
	json_array_foreach(caps, i, v)
	{
		int cap = rt__cap_from_name(json_string_value(v));
		bool has = cap >= 0 && (x->caps & (1ULL << cap));
		if (include && !has)
			*match = false;
		if (!include && has)
			*match = false;
	}
	if (arches && json_array_size(arches) > 0) {
		bool found = false;
		json_array_foreach(arches, i, v) found |=
			!strcmp(json_string_value(v), native_goarch());
		if (found != include)
			*match = false;
	}
	if (include && mk && !kernel_at_least(json_string_value(mk)))
		*match = false;
	return 0;
}

static int parse_args(json_t *args, size_t idx, struct scmp_arg_cmp *cmp,
		      size_t *n, bool *split, struct shoal_err *err)
{
	size_t i;
	json_t *a;
	unsigned seen = 0;

	*n = 0;
	*split = false;
	if (!args || json_is_null(args))
		return 0;
	if (!json_is_array(args) || json_array_size(args) > 6)
		goto bad;
	json_array_foreach(args, i, a)
	{
		json_t *ji = json_object_get(a, "index");
		json_t *jv = json_object_get(a, "value");
		json_t *j2 = json_object_get(a, "valueTwo");
		json_t *jo = json_object_get(a, "op");
		enum scmp_compare op;
		json_int_t index;
		if (!json_is_integer(ji) || !json_is_integer(jv) ||
		    (j2 && !json_is_integer(j2)) || !json_is_string(jo))
			goto bad;
		index = json_integer_value(ji);
		if (index < 0 || index > 5 ||
		    parse_op(json_string_value(jo), &op) < 0)
			goto bad;
		if (seen & (1u << index))
			*split = true;
		seen |= 1u << index;
		cmp[i].arg = (unsigned)index;
		cmp[i].op = op;
		cmp[i].datum_a = (scmp_datum_t)json_integer_value(jv);
		cmp[i].datum_b = j2 ? (scmp_datum_t)json_integer_value(j2) : 0;
	}
	*n = json_array_size(args);
	return 0;
bad:
	rt__err(err,
		"invalid seccomp profile: syscalls[%zu].args: each needs "
		"index 0-5, value, op SCMP_CMP_*",
		idx);
	return -EINVAL;
}

static int add_one(struct ctx *x, const char *name, uint32_t action,
		   const struct scmp_arg_cmp *cmp, size_t n, bool split)
{
	int nr = seccomp_syscall_resolve_name(name);
	int rc = 0;

	if (nr == __NR_SCMP_ERROR)
		return 0; /* unknown to this libseccomp: skipped, as Docker */
	if (!split) {
		rc = seccomp_rule_add_array(x->sc, action, nr, (unsigned)n,
					    cmp);
	} else {
		for (size_t i = 0; i < n && rc == 0; i++)
			rc = seccomp_rule_add_array(x->sc, action, nr, 1,
						    &cmp[i]);
	}
	/* -EOPNOTSUPP/-EDOM: no such syscall on a sub-arch; fine. */
	if (rc == -EOPNOTSUPP || rc == -EDOM)
		rc = 0;
	if (rc < 0)
		rt__err(x->err, "seccomp rule for \"%s\" rejected: %s", name,
			strerror(-rc));
	return rc;
}

static int add_rule(struct ctx *x, json_t *r, size_t idx)
{
	json_t *names = json_object_get(r, "names");
	json_t *name = json_object_get(r, "name");
	json_t *act = json_object_get(r, "action");
	json_t *eret = json_object_get(r, "errnoRet");
	struct scmp_arg_cmp cmp[6];
	size_t n, i;
	uint32_t action;
	bool split, inc, exc;
	char what[64];
	json_t *v;
	int rc;

	if (!json_is_object(r) || !json_is_string(act) ||
	    (eret && !json_is_integer(eret)) || (!names && !name) ||
	    (name && !json_is_string(name))) {
		rt__err(x->err,
			"invalid seccomp profile: syscalls[%zu] needs "
			"names and an action",
			idx);
		return -EINVAL;
	}
	snprintf(what, sizeof(what), "syscalls[%zu].names", idx);
	if (names && strings_of(names, what, x->err) < 0)
		return -EINVAL;
	if (eret &&
	    (json_integer_value(eret) < 0 || json_integer_value(eret) > 4095)) {
		rt__err(x->err,
			"invalid seccomp profile: syscalls[%zu]."
			"errnoRet out of range",
			idx);
		return -EINVAL;
	}
	if (parse_action(json_string_value(act),
			 eret ? (uint32_t)json_integer_value(eret) : EPERM,
			 &action) < 0) {
		rt__err(x->err,
			"invalid seccomp profile: syscalls[%zu]: "
			"unknown action \"%s\"",
			idx, json_string_value(act));
		return -EINVAL;
	}
	rc = parse_args(json_object_get(r, "args"), idx, cmp, &n, &split,
			x->err);
	if (rc < 0)
		return rc;
	if (filter_matches(json_object_get(r, "includes"), true, idx, x, &inc) <
		    0 ||
	    filter_matches(json_object_get(r, "excludes"), false, idx, x,
			   &exc) < 0)
		return -EINVAL;
	if (!inc || !exc || action == x->def_action)
		return 0;
	if (name)
		return add_one(x, json_string_value(name), action, cmp, n,
			       split);
	json_array_foreach(names, i, v)
	{
		rc = add_one(x, json_string_value(v), action, cmp, n, split);
		if (rc < 0)
			return rc;
	}
	return 0;
}

static uint32_t arch_token(const char *s)
{
	static const struct {
		const char *name;
		uint32_t token;
	} arches[] = {
		{"SCMP_ARCH_X86", SCMP_ARCH_X86},
		{"SCMP_ARCH_X86_64", SCMP_ARCH_X86_64},
		{"SCMP_ARCH_X32", SCMP_ARCH_X32},
		{"SCMP_ARCH_ARM", SCMP_ARCH_ARM},
		{"SCMP_ARCH_AARCH64", SCMP_ARCH_AARCH64},
		{"SCMP_ARCH_PPC64LE", SCMP_ARCH_PPC64LE},
		{"SCMP_ARCH_S390X", SCMP_ARCH_S390X},
		{"SCMP_ARCH_RISCV64", SCMP_ARCH_RISCV64},
	};

	for (size_t i = 0; i < sizeof(arches) / sizeof(arches[0]); i++)
		if (!strcmp(s, arches[i].name))
			return arches[i].token;
	return 0;
}

/* Add the native arch's sub-architectures named by archMap or
 * architectures; others are irrelevant to this host. */
static int add_arches(struct ctx *x, json_t *root)
{
	json_t *map = json_object_get(root, "archMap");
	json_t *list = json_object_get(root, "architectures");
	uint32_t native = seccomp_arch_native();
	size_t i, j;
	json_t *e, *s;

	if (list && strings_of(list, "architectures", x->err) < 0)
		return -EINVAL;
	if (map && !json_is_array(map)) {
		rt__err(x->err, "invalid seccomp profile: archMap must be an "
				"array");
		return -EINVAL;
	}
	json_array_foreach(map, i, e)
	{
		json_t *a = json_object_get(e, "architecture");
		json_t *subs = json_object_get(e, "subArchitectures");
		if (!json_is_string(a) ||
		    (subs && strings_of(subs, "archMap.subArchitectures",
					x->err) < 0)) {
			rt__err(x->err,
				"invalid seccomp profile: archMap[%zu]"
				" needs an architecture",
				i);
			return -EINVAL;
		}
		if (arch_token(json_string_value(a)) != native)
			continue;
		json_array_foreach(subs, j, s)
		{
			uint32_t t = arch_token(json_string_value(s));
			int rc = t ? seccomp_arch_add(x->sc, t) : 0;
			if (rc < 0 && rc != -EEXIST)
				return rc;
		}
	}
	json_array_foreach(list, i, s)
	{
		uint32_t t = arch_token(json_string_value(s));
		int rc = t && t != native ? seccomp_arch_add(x->sc, t) : 0;
		if (rc < 0 && rc != -EEXIST)
			return rc;
	}
	return 0;
}

static int export_bpf(scmp_filter_ctx sc, void **bpf, size_t *len)
{
	int fd = memfd_create("seccomp-bpf", MFD_CLOEXEC);
	off_t size;
	char *buf;
	int rc;

	if (fd < 0)
		return -errno;
	rc = seccomp_export_bpf(sc, fd);
	if (rc < 0)
		goto err_close;
	size = lseek(fd, 0, SEEK_END);
	if (size <= 0 || size % 8 || size > (off_t)(BPF_MAXINSNS * 8)) {
		rc = -E2BIG;
		goto err_close;
	}
	buf = shoal_malloc((size_t)size);
	if (!buf) {
		rc = -ENOMEM;
		goto err_close;
	}
	if (pread(fd, buf, (size_t)size, 0) != size) {
		rc = -EIO;
		shoal_free(buf);
		goto err_close;
	}
	close(fd);
	*bpf = buf;
	*len = (size_t)size;
	return 0;
err_close:
	close(fd);
	return rc;
}

int rt__seccomp_compile(const char *json, size_t len, uint64_t caps, void **bpf,
			size_t *bpf_len, struct shoal_err *err)
{
	struct ctx x = {.caps = caps, .err = err};
	json_t *root, *def, *dret, *calls, *r;
	json_error_t jerr;
	size_t i;
	int rc;

	if (len > PROFILE_MAX) {
		rt__err(err, "seccomp profile too large");
		return -EINVAL;
	}
	root = json_loadb(json, len, 0, &jerr);
	if (!root) {
		rt__err(err, "invalid seccomp profile: line %d: %s", jerr.line,
			jerr.text);
		return -EINVAL;
	}
	rc = -EINVAL;
	def = json_object_get(root, "defaultAction");
	dret = json_object_get(root, "defaultErrnoRet");
	calls = json_object_get(root, "syscalls");
	if (!json_is_object(root) || !json_is_string(def) ||
	    (dret && !json_is_integer(dret)) ||
	    (calls && !json_is_array(calls))) {
		rt__err(err, "invalid seccomp profile: needs a defaultAction "
			     "string and a syscalls array");
		goto err_root;
	}
	if (parse_action(json_string_value(def),
			 dret ? (uint32_t)json_integer_value(dret) : EPERM,
			 &x.def_action) < 0 ||
	    (dret && (json_integer_value(dret) < 0 ||
		      json_integer_value(dret) > 4095))) {
		rt__err(err,
			"invalid seccomp profile: bad defaultAction \"%s\"",
			json_string_value(def));
		goto err_root;
	}
	x.sc = seccomp_init(x.def_action);
	if (!x.sc) {
		rc = -ENOMEM;
		rt__err(err, "seccomp: out of memory");
		goto err_root;
	}
	/* We set no_new_privs ourselves when the container asks for it. */
	seccomp_attr_set(x.sc, SCMP_FLTATR_CTL_NNP, 0);
	rc = add_arches(&x, root);
	if (rc < 0)
		goto err_ctx;
	json_array_foreach(calls, i, r)
	{
		rc = add_rule(&x, r, i);
		if (rc < 0)
			goto err_ctx;
	}
	rc = export_bpf(x.sc, bpf, bpf_len);
	if (rc < 0)
		rt__err(err, "seccomp profile does not compile: %s",
			strerror(-rc));
err_ctx:
	seccomp_release(x.sc);
err_root:
	json_decref(root);
	if (rc < 0 && err && !err->msg[0])
		rt__err(err, "invalid seccomp profile: %s", strerror(-rc));
	return rc;
}
