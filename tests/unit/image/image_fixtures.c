/*
 * Fixtures of the image tests; see image_fixtures.h. Plain malloc here: the
 * fixtures are not the code under test and stay out of its leak counts.
 */
#include "image_fixtures.h"

#include <archive.h>
#include <archive_entry.h>
#include <ftw.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

const struct fx_entry fx_base_layer[] = {
	{"bin/", 'd', NULL, 0755},
	{"bin/sh", 'f', "#!base shell\n", 0755},
	{"etc/", 'd', NULL, 0755},
	{"etc/passwd", 'f', "root:x:0:0:root:/root:/bin/sh\n", 0644},
	{"etc/passwd.hl", 'h', "etc/passwd", 0644},
	{"etc/old", 'f', "to be deleted\n", 0600},
	{"dir/", 'd', NULL, 0750},
	{"dir/a", 'f', "a\n", 0644},
	{"dir/b", 'f', "b\n", 0644},
	{"ro/", 'd', NULL, 0555},
	{"ro/file", 'f', "in a read-only folder\n", 0444},
	{"sh", 'l', "/bin/sh", 0777},
};
const size_t fx_base_layer_n = sizeof(fx_base_layer) / sizeof(*fx_base_layer);

const struct fx_entry fx_upper_layer[] = {
	{"etc/.wh.old", 'f', "", 0600},		  {"dir/", 'd', NULL, 0750},
	{"dir/.wh..wh..opq", 'f', "", 0600},	  {"dir/c", 'f', "c\n", 0644},
	{"bin/sh", 'f', "#!upper shell\n", 0755},
};
const size_t fx_upper_layer_n =
	sizeof(fx_upper_layer) / sizeof(*fx_upper_layer);

const char fx_config_fmt[] =
	"{\"architecture\":\"amd64\",\"os\":\"linux\","
	"\"created\":\"2026-01-02T03:04:05.5Z\",\"author\":\"tests\","
	"\"config\":{\"Env\":[\"PATH=/bin\",\"MODE=test\"],"
	"\"Cmd\":[\"/bin/sh\",\"-c\",\"echo hi\"],\"WorkingDir\":\"/dir\","
	"\"User\":\"nobody\",\"ExposedPorts\":{\"80/tcp\":{}},"
	"\"Volumes\":{\"/data\":{}},\"Labels\":{\"org.test\":\"yes\"}},"
	"\"rootfs\":{\"type\":\"layers\",\"diff_ids\":[\"sha256:%s\","
	"\"sha256:%s\"]}}";

static struct archive *open_writer(const char *path, enum fx_filter filter)
{
	struct archive *a = archive_write_new();
	archive_write_set_format_pax_restricted(a);
	if (filter == FX_GZIP)
		archive_write_add_filter_gzip(a);
	else if (filter == FX_XZ)
		archive_write_add_filter_xz(a);
	else if (filter == FX_BZIP2)
		archive_write_add_filter_bzip2(a);
	else if (filter == FX_ZSTD &&
		 archive_write_add_filter_zstd(a) != ARCHIVE_OK) {
		archive_write_free(a);
		return NULL; /* libarchive built without zstd */
	}
	if (archive_write_open_filename(a, path) != ARCHIVE_OK) {
		archive_write_free(a);
		return NULL;
	}
	return a;
}

int fx_write_tar(const char *path, const struct fx_entry *e, size_t n,
		 enum fx_filter filter)
{
	struct archive *a = open_writer(path, filter);
	if (!a)
		return -1;
	int rc = 0;
	for (size_t i = 0; i < n && rc == 0; i++) {
		struct archive_entry *en = archive_entry_new();
		archive_entry_set_pathname(en, e[i].path);
		archive_entry_set_perm(en, e[i].mode);
		archive_entry_set_mtime(en, 1700000000, 0);
		archive_entry_set_uid(en, 0);
		archive_entry_set_gid(en, 0);
		size_t len = 0;
		switch (e[i].type) {
		case 'd':
			archive_entry_set_filetype(en, AE_IFDIR);
			break;
		case 'l':
			archive_entry_set_filetype(en, AE_IFLNK);
			archive_entry_set_symlink(en, e[i].data);
			break;
		case 'h':
			archive_entry_set_filetype(en, AE_IFREG);
			archive_entry_set_hardlink(en, e[i].data);
			break;
		case 'u':
			/* A set-uid file owned by 1234:5678. */
			archive_entry_set_filetype(en, AE_IFREG);
			archive_entry_set_uid(en, 1234);
			archive_entry_set_gid(en, 5678);
			len = strlen(e[i].data);
			archive_entry_set_size(en, (la_int64_t)len);
			break;
		case 'X':
			/* A folder whose tar entry carries xattrs: one a layer
			 * may set, one it must never forge. */
			archive_entry_set_filetype(en, AE_IFDIR);
			archive_entry_xattr_add_entry(en, "user.shoal.test",
						      "yes", 3);
			archive_entry_xattr_add_entry(
				en, "trusted.overlay.opaque", "y", 1);
			archive_entry_xattr_add_entry(en, "user.overlay.opaque",
						      "y", 1);
			break;
		case 'c':
			archive_entry_set_filetype(en, AE_IFCHR);
			archive_entry_set_rdev(en, 0);
			break;
		default:
			archive_entry_set_filetype(en, AE_IFREG);
			len = strlen(e[i].data);
			archive_entry_set_size(en, (la_int64_t)len);
		}
		if (archive_write_header(a, en) != ARCHIVE_OK ||
		    (len &&
		     archive_write_data(a, e[i].data, len) != (la_ssize_t)len))
			rc = -1;
		archive_entry_free(en);
	}
	if (archive_write_close(a) != ARCHIVE_OK)
		rc = -1;
	archive_write_free(a);
	return rc;
}

int fx_write_files(const char *path, const struct fx_file *f, size_t n,
		   enum fx_filter filter)
{
	struct archive *a = open_writer(path, filter);
	if (!a)
		return -1;
	int rc = 0;
	for (size_t i = 0; i < n && rc == 0; i++) {
		struct archive_entry *en = archive_entry_new();
		archive_entry_set_pathname(en, f[i].name);
		archive_entry_set_filetype(en, AE_IFREG);
		archive_entry_set_perm(en, 0644);
		archive_entry_set_size(en, (la_int64_t)f[i].len);
		archive_entry_set_mtime(en, 1700000000, 0);
		if (archive_write_header(a, en) != ARCHIVE_OK ||
		    archive_write_data(a, f[i].data, f[i].len) !=
			    (la_ssize_t)f[i].len)
			rc = -1;
		archive_entry_free(en);
	}
	if (archive_write_close(a) != ARCHIVE_OK)
		rc = -1;
	archive_write_free(a);
	return rc;
}

char *fx_read(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	if (!f)
		return NULL;
	fseek(f, 0, SEEK_END);
	long n = ftell(f);
	fseek(f, 0, SEEK_SET);
	char *d = malloc((size_t)n + 1);
	if (d && fread(d, 1, (size_t)n, f) != (size_t)n) {
		free(d);
		d = NULL;
	}
	fclose(f);
	if (d) {
		d[n] = '\0';
		if (len)
			*len = (size_t)n;
	}
	return d;
}

void fx_sha256(const void *p, size_t n, char *hex)
{
	unsigned char d[32];
	crypto_hash_sha256(d, p, n);
	for (int i = 0; i < 32; i++)
		sprintf(hex + 2 * i, "%02x", d[i]);
}

int fx_sha256_file(const char *path, char *hex)
{
	size_t n;
	char *d = fx_read(path, &n);
	if (!d)
		return -1;
	fx_sha256(d, n, hex);
	free(d);
	return 0;
}

/* The config format is the caller's: the tests' own, trusted text. */
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wformat-nonliteral"
void fx_fill_config(char *out, size_t cap, const char *fmt, const char *d1,
		    const char *d2)
{
	snprintf(out, cap, fmt, d1, d2);
}
#pragma GCC diagnostic pop

static struct fx_file file_from(const char *name, const char *path)
{
	struct fx_file f = {strdup(name), NULL, 0};
	f.data = fx_read(path, &f.len);
	return f;
}

static struct fx_file file_text(const char *name, const char *text)
{
	struct fx_file f = {strdup(name), strdup(text), strlen(text)};
	return f;
}

static void files_free(struct fx_file *f, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		free(f[i].name);
		free(f[i].data);
	}
}

int fx_docker_save(const char *work, const char *out, const struct fx_entry *l1,
		   size_t n1, const struct fx_entry *l2, size_t n2,
		   const char *config_fmt, const char *tag, char *id)
{
	char p1[512], p2[512], p2gz[512], d1[65], d2[65];
	snprintf(p1, sizeof(p1), "%s/l1.tar", work);
	snprintf(p2, sizeof(p2), "%s/l2.tar", work);
	snprintf(p2gz, sizeof(p2gz), "%s/l2.tar.gz", work);
	if (fx_write_tar(p1, l1, n1, FX_PLAIN) ||
	    fx_write_tar(p2, l2, n2, FX_PLAIN) ||
	    fx_write_tar(p2gz, l2, n2, FX_GZIP) || fx_sha256_file(p1, d1) ||
	    fx_sha256_file(p2, d2))
		return -1;
	char config[4096], cid[65], cname[80], manifest[1024];
	fx_fill_config(config, sizeof(config), config_fmt, d1, d2);
	fx_sha256(config, strlen(config), cid);
	snprintf(cname, sizeof(cname), "%s.json", cid);
	snprintf(manifest, sizeof(manifest),
		 "[{\"Config\":\"%s\",\"RepoTags\":[\"%s\"],"
		 "\"Layers\":[\"l1/layer.tar\",\"l2/layer.tar\"]}]",
		 cname, tag);
	struct fx_file f[] = {
		file_text("manifest.json", manifest),
		file_text(cname, config),
		file_from("l1/layer.tar", p1),
		file_from("l2/layer.tar", p2gz),
		file_text("repositories", "{}"),
	};
	size_t n = sizeof(f) / sizeof(*f);
	int rc = fx_write_files(out, f, n, FX_PLAIN);
	files_free(f, n);
	if (id)
		memcpy(id, cid, 65);
	return rc;
}

int fx_oci_layout(const char *work, const char *out, const struct fx_entry *l,
		  size_t n, const char *name, char *id)
{
	char p[512], pgz[512], diff[65], lhex[65];
	snprintf(p, sizeof(p), "%s/oci.tar", work);
	snprintf(pgz, sizeof(pgz), "%s/oci.tar.gz", work);
	if (fx_write_tar(p, l, n, FX_PLAIN) ||
	    fx_write_tar(pgz, l, n, FX_GZIP) || fx_sha256_file(p, diff) ||
	    fx_sha256_file(pgz, lhex))
		return -1;
	struct stat st;
	stat(pgz, &st);
	char config[1024], chex[65], manifest[2048], mhex[65], index[1024];
	snprintf(config, sizeof(config),
		 "{\"architecture\":\"amd64\",\"os\":\"linux\","
		 "\"config\":{\"Cmd\":[\"/bin/sh\"]},\"rootfs\":{\"type\":"
		 "\"layers\",\"diff_ids\":[\"sha256:%s\"]}}",
		 diff);
	fx_sha256(config, strlen(config), chex);
	snprintf(manifest, sizeof(manifest),
		 "{\"schemaVersion\":2,\"mediaType\":\"application/"
		 "vnd.oci.image.manifest.v1+json\",\"config\":{\"mediaType\":"
		 "\"application/vnd.oci.image.config.v1+json\",\"digest\":"
		 "\"sha256:%s\",\"size\":%zu},\"layers\":[{\"mediaType\":"
		 "\"application/vnd.oci.image.layer.v1.tar+gzip\",\"digest\":"
		 "\"sha256:%s\",\"size\":%lld}]}",
		 chex, strlen(config), lhex, (long long)st.st_size);
	fx_sha256(manifest, strlen(manifest), mhex);
	snprintf(index, sizeof(index),
		 "{\"schemaVersion\":2,\"manifests\":[{\"mediaType\":"
		 "\"application/vnd.oci.image.manifest.v1+json\",\"digest\":"
		 "\"sha256:%s\",\"size\":%zu,\"annotations\":{"
		 "\"io.containerd.image.name\":\"%s\","
		 "\"org.opencontainers.image.ref.name\":\"1\"}}]}",
		 mhex, strlen(manifest), name);
	char bc[80], bm[80], bl[80];
	snprintf(bc, sizeof(bc), "blobs/sha256/%s", chex);
	snprintf(bm, sizeof(bm), "blobs/sha256/%s", mhex);
	snprintf(bl, sizeof(bl), "blobs/sha256/%s", lhex);
	struct fx_file f[] = {
		file_text("oci-layout", "{\"imageLayoutVersion\":\"1.0.0\"}"),
		file_text("index.json", index),
		file_text(bc, config),
		file_text(bm, manifest),
		file_from(bl, pgz),
	};
	size_t nf = sizeof(f) / sizeof(*f);
	int rc = fx_write_files(out, f, nf, FX_PLAIN);
	files_free(f, nf);
	if (id)
		memcpy(id, chex, 65);
	return rc;
}

static char *listing;
static size_t listing_len;
static size_t root_len;

static int list_one(const char *path, const struct stat *st, int flag,
		    struct FTW *ftw)
{
	char line[4200];
	int n = snprintf(line, sizeof(line), "%s %o %lld\n", path + root_len,
			 st->st_mode,
			 S_ISDIR(st->st_mode) ? 0LL : (long long)st->st_size);
	char *grown = realloc(listing, listing_len + (size_t)n + 1);
	if (!grown)
		return -1;
	listing = grown;
	memcpy(listing + listing_len, line, (size_t)n + 1);
	listing_len += (size_t)n;
	return 0;
}

static int cmp_lines(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

char *fx_listing(const char *dir)
{
	listing = NULL;
	listing_len = 0;
	root_len = strlen(dir);
	nftw(dir, list_one, 16, FTW_PHYS);
	if (!listing)
		return strdup("");
	/* Sort the lines so that readdir order does not matter. */
	size_t n = 0;
	for (char *p = listing; *p; p++)
		n += *p == '\n';
	char **lines = calloc(n + 1, sizeof(*lines));
	size_t i = 0;
	for (char *save, *t = strtok_r(listing, "\n", &save); t;
	     t = strtok_r(NULL, "\n", &save))
		lines[i++] = t;
	qsort(lines, i, sizeof(*lines), cmp_lines);
	char *out = malloc(listing_len + 1);
	size_t o = 0;
	for (size_t j = 0; j < i; j++)
		o += (size_t)sprintf(out + o, "%s\n", lines[j]);
	out[o] = '\0';
	free(lines);
	free(listing);
	listing = NULL;
	return out;
}

int fx_copy_without(const char *in, const char *out, const char *skip)
{
	struct archive *r = archive_read_new();
	archive_read_support_format_tar(r);
	if (archive_read_open_filename(r, in, 65536) != ARCHIVE_OK) {
		archive_read_free(r);
		return -1;
	}
	struct archive *w = open_writer(out, FX_PLAIN);
	struct archive_entry *e;
	int rc = w ? 0 : -1;
	char buf[65536];
	while (rc == 0 && archive_read_next_header(r, &e) == ARCHIVE_OK) {
		if (!strcmp(archive_entry_pathname(e), skip))
			continue;
		if (archive_write_header(w, e) != ARCHIVE_OK)
			rc = -1;
		la_ssize_t n;
		while (rc == 0 &&
		       (n = archive_read_data(r, buf, sizeof(buf))) > 0)
			if (archive_write_data(w, buf, (size_t)n) != n)
				rc = -1;
	}
	if (w) {
		archive_write_close(w);
		archive_write_free(w);
	}
	archive_read_free(r);
	return rc;
}

static void add_text_blob(struct fx_file *f, size_t *n, const char *text,
			  char *hex)
{
	fx_sha256(text, strlen(text), hex);
	char name[80];
	snprintf(name, sizeof(name), "blobs/sha256/%s", hex);
	f[(*n)++] = file_text(name, text);
}

static void manifest_for(char *out, size_t cap, const char *chex, size_t clen,
			 const char *lhex, long long llen)
{
	snprintf(out, cap,
		 "{\"schemaVersion\":2,\"mediaType\":\"application/"
		 "vnd.oci.image.manifest.v1+json\",\"config\":{\"mediaType\":"
		 "\"application/vnd.oci.image.config.v1+json\",\"digest\":"
		 "\"sha256:%s\",\"size\":%zu},\"layers\":[{\"mediaType\":"
		 "\"application/vnd.oci.image.layer.v1.tar\",\"digest\":"
		 "\"sha256:%s\",\"size\":%lld}]}",
		 chex, clen, lhex, llen);
}

int fx_oci_multiarch(const char *work, const char *out,
		     const struct fx_entry *l, size_t n, const char *name,
		     char *id)
{
	char p[512], diff[65];
	snprintf(p, sizeof(p), "%s/multi-layer.tar", work);
	if (fx_write_tar(p, l, n, FX_PLAIN) || fx_sha256_file(p, diff))
		return -1;
	struct fx_file f[10];
	size_t nf = 0;
	f[nf] = file_from("", p);
	free(f[nf].name);
	char lname[80];
	snprintf(lname, sizeof(lname), "blobs/sha256/%s", diff);
	f[nf].name = strdup(lname);
	long long llen = (long long)f[nf].len;
	nf++;
	/* Two platforms sharing the layer, and an attestation. */
	const char *arches[] = {"arm64", "amd64"};
	char cfg[2][512], chex[2][65], man[3][1024], mhex[3][65];
	for (int i = 0; i < 2; i++) {
		snprintf(cfg[i], sizeof(cfg[i]),
			 "{\"architecture\":\"%s\",\"os\":\"linux\","
			 "\"rootfs\":{\"type\":\"layers\",\"diff_ids\":"
			 "[\"sha256:%s\"]}}",
			 arches[i], diff);
		add_text_blob(f, &nf, cfg[i], chex[i]);
		manifest_for(man[i], sizeof(man[i]), chex[i], strlen(cfg[i]),
			     diff, llen);
		add_text_blob(f, &nf, man[i], mhex[i]);
	}
	manifest_for(man[2], sizeof(man[2]), chex[0], strlen(cfg[0]), diff,
		     llen);
	/* Same content as man[0] would dedupe; make it distinct. */
	strcat(man[2], " ");
	add_text_blob(f, &nf, man[2], mhex[2]);
	char nested[2048], nhex[65], index[1024];
	snprintf(
		nested, sizeof(nested),
		"{\"schemaVersion\":2,\"mediaType\":\"application/"
		"vnd.oci.image.index.v1+json\",\"manifests\":["
		"{\"mediaType\":\"application/vnd.oci.image.manifest.v1+json\","
		"\"digest\":\"sha256:%s\",\"size\":%zu,\"platform\":"
		"{\"architecture\":\"unknown\",\"os\":\"unknown\"},"
		"\"annotations\":{\"vnd.docker.reference.type\":"
		"\"attestation-manifest\"}},"
		"{\"mediaType\":\"application/vnd.oci.image.manifest.v1+json\","
		"\"digest\":\"sha256:%s\",\"size\":%zu,\"platform\":"
		"{\"architecture\":\"arm64\",\"os\":\"linux\"}},"
		"{\"mediaType\":\"application/vnd.oci.image.manifest.v1+json\","
		"\"digest\":\"sha256:%s\",\"size\":%zu,\"platform\":"
		"{\"architecture\":\"amd64\",\"os\":\"linux\"}}]}",
		mhex[2], strlen(man[2]), mhex[0], strlen(man[0]), mhex[1],
		strlen(man[1]));
	add_text_blob(f, &nf, nested, nhex);
	snprintf(index, sizeof(index),
		 "{\"schemaVersion\":2,\"manifests\":[{\"mediaType\":"
		 "\"application/vnd.oci.image.index.v1+json\",\"digest\":"
		 "\"sha256:%s\",\"size\":%zu,\"annotations\":{"
		 "\"org.opencontainers.image.ref.name\":\"%s\"}}]}",
		 nhex, strlen(nested), name);
	f[nf++] = file_text("index.json", index);
	f[nf++] = file_text("oci-layout", "{\"imageLayoutVersion\":\"1.0.0\"}");
	int rc = fx_write_files(out, f, nf, FX_GZIP);
	files_free(f, nf);
	if (id)
		memcpy(id, chex[1], 65);
	return rc;
}

int fx_docker_save_legacy(const char *work, const char *out,
			  const struct fx_entry *l, size_t n, const char *tag,
			  char *id)
{
	/* Docker before 25 wrote one folder per layer and, for a layer
	 * used twice, a symbolic link to the first copy. */
	char p[512], diff[65];
	snprintf(p, sizeof(p), "%s/legacy-layer.tar", work);
	if (fx_write_tar(p, l, n, FX_PLAIN) || fx_sha256_file(p, diff))
		return -1;
	char config[1024], cid[65], cname[80], manifest[512];
	snprintf(config, sizeof(config),
		 "{\"os\":\"linux\",\"architecture\":\"amd64\",\"rootfs\":"
		 "{\"type\":\"layers\",\"diff_ids\":[\"sha256:%s\","
		 "\"sha256:%s\"]}}",
		 diff, diff);
	fx_sha256(config, strlen(config), cid);
	snprintf(cname, sizeof(cname), "%s.json", cid);
	snprintf(manifest, sizeof(manifest),
		 "[{\"Config\":\"%s\",\"RepoTags\":[\"%s\"],\"Layers\":"
		 "[\"aaaa/layer.tar\",\"bbbb/layer.tar\"]}]",
		 cname, tag);
	struct archive *a = open_writer(out, FX_PLAIN);
	if (!a)
		return -1;
	struct fx_file f[] = {
		file_text("manifest.json", manifest),
		file_text(cname, config),
		file_from("aaaa/layer.tar", p),
	};
	int rc = 0;
	for (size_t i = 0; i < 3 && rc == 0; i++) {
		struct archive_entry *en = archive_entry_new();
		archive_entry_set_pathname(en, f[i].name);
		archive_entry_set_filetype(en, AE_IFREG);
		archive_entry_set_perm(en, 0644);
		archive_entry_set_size(en, (la_int64_t)f[i].len);
		if (archive_write_header(a, en) != ARCHIVE_OK ||
		    archive_write_data(a, f[i].data, f[i].len) !=
			    (la_ssize_t)f[i].len)
			rc = -1;
		archive_entry_free(en);
	}
	struct archive_entry *en = archive_entry_new();
	archive_entry_set_pathname(en, "bbbb/layer.tar");
	archive_entry_set_filetype(en, AE_IFLNK);
	archive_entry_set_perm(en, 0777);
	archive_entry_set_symlink(en, "../aaaa/layer.tar");
	if (rc == 0 && archive_write_header(a, en) != ARCHIVE_OK)
		rc = -1;
	archive_entry_free(en);
	archive_write_close(a);
	archive_write_free(a);
	files_free(f, 3);
	if (id)
		memcpy(id, cid, 65);
	return rc;
}
