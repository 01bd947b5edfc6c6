/*
 * shoal version: the Client and Server sections of `docker version`, from
 * this binary and from GET /version. The client part prints even when the
 * daemon is away (then the error follows on stderr and the exit status is
 * 1), as docker does.
 */
#include "cli/cli.h"
#include "common/jsonx.h"

#include <stdio.h>
#include <string.h>
#include <sys/utsname.h>

#ifndef SHOAL_GIT_COMMIT
#define SHOAL_GIT_COMMIT "unknown"
#endif
#ifndef SHOAL_BUILD_TIME
#define SHOAL_BUILD_TIME "unknown"
#endif

#ifdef __clang__
#define CLI_COMPILER "n/a (C, clang " __clang_version__ ")"
#else
#define CLI_COMPILER "n/a (C, gcc " __VERSION__ ")"
#endif

static const char *goarch(void)
{
	static struct utsname u;
	if (uname(&u) < 0)
		return "unknown";
	if (strcmp(u.machine, "x86_64") == 0)
		return "amd64";
	if (strcmp(u.machine, "aarch64") == 0)
		return "arm64";
	return u.machine;
}

static json_t *client_json(void)
{
	return json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s}", "Version",
			 SHOAL_VERSION, "ApiVersion", &CLI_API_PREFIX[2],
			 "GoVersion", CLI_COMPILER, "GitCommit",
			 SHOAL_GIT_COMMIT, "BuildTime", SHOAL_BUILD_TIME, "Os",
			 "linux", "Arch", goarch(), "Context", "default");
}

static void print_client(const json_t *c)
{
	printf("Client:\n");
	printf(" Version:           %s\n", jsonx_str(c, "Version", ""));
	printf(" API version:       %s\n", jsonx_str(c, "ApiVersion", ""));
	printf(" Go version:        %s\n", jsonx_str(c, "GoVersion", ""));
	printf(" Git commit:        %s\n", jsonx_str(c, "GitCommit", ""));
	printf(" Built:             %s\n", jsonx_str(c, "BuildTime", ""));
	printf(" OS/Arch:           %s/%s\n", jsonx_str(c, "Os", ""),
	       jsonx_str(c, "Arch", ""));
	printf(" Context:           %s\n", jsonx_str(c, "Context", ""));
}

static void print_server(const json_t *s)
{
	const json_t *platform = jsonx_obj(s, "Platform");
	printf("\nServer: %s\n",
	       platform ? jsonx_str(platform, "Name", "") : "");
	printf(" Engine:\n");
	printf("  Version:          %s\n", jsonx_str(s, "Version", ""));
	printf("  API version:      %s (minimum version %s)\n",
	       jsonx_str(s, "ApiVersion", ""),
	       jsonx_str(s, "MinAPIVersion", ""));
	printf("  Go version:       %s\n", jsonx_str(s, "GoVersion", ""));
	printf("  Git commit:       %s\n", jsonx_str(s, "GitCommit", ""));
	printf("  Built:            %s\n", jsonx_str(s, "BuildTime", ""));
	printf("  OS/Arch:          %s/%s\n", jsonx_str(s, "Os", ""),
	       jsonx_str(s, "Arch", ""));
	printf("  Kernel version:   %s\n", jsonx_str(s, "KernelVersion", ""));
}

int cli_cmd_version(struct cli *cli, int argc, char **argv)
{
	bool json;
	int rc = cli_format_flag("version", argc, argv, &json);
	if (rc != 0)
		return rc < 0 ? 1 : 0;
	json_t *client = client_json();
	if (!client) {
		fprintf(stderr, "shoal: out of memory\n");
		return 1;
	}
	json_t *server = NULL;
	if (!json)
		print_client(client);
	fflush(stdout);
	rc = cli_api_get(cli, "/version", &server);
	if (json) {
		json_t *all =
			json_pack("{s:o, s:o}", "Client", client, "Server",
				  server ? server : json_null());
		if (all)
			cli_print_json(all);
		json_decref(all);
	} else {
		if (rc == 0)
			print_server(server);
		json_decref(client);
		json_decref(server);
	}
	return rc < 0 ? 1 : 0;
}
