/*
 * shoal swarm unlock, shoal swarm unlock-key [-q] [--rotate], and the
 * unlock-key paragraph that init --autolock and update --autolock=true
 * print: docker's commands and texts over GET /swarm/unlockkey and POST
 * /swarm/unlock (docs/autolock.md), naming shoal where docker names
 * docker. The key is read from stdin, never from the command line, so it
 * stays out of shell history and ps.
 */
#include "cli/swarm_call.h"
#include "common/crypto.h"
#include "common/jsonx.h"

#include <stdio.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>

void cli__print_unlock_key(const char *key)
{
	if (!key || !*key)
		return;
	printf("To unlock a swarm manager after it restarts, run the `shoal "
	       "swarm unlock`\ncommand and provide the following key:\n\n"
	       "    %s\n\nRemember to store this key in a password manager, "
	       "since without it you\nwill not be able to restart the "
	       "manager.\n",
	       key);
}

/* The unlock key, or NULL (printed) when none is set. Owned: json. */
static json_t *get_key(struct cli *cli, const char **key)
{
	json_t *r = NULL;
	if (cli__call(cli, "GET", "/swarm/unlockkey", NULL, &r) < 0)
		return NULL;
	*key = jsonx_str(r, "UnlockKey", "");
	if (!**key) {
		fprintf(stderr, "Error: no unlock key is set\n");
		json_decref(r);
		return NULL;
	}
	return r;
}

int cli__print_unlock_key_of(struct cli *cli)
{
	const char *key;
	json_t *r = get_key(cli, &key);
	if (!r)
		return 1;
	cli__print_unlock_key(key);
	json_decref(r);
	return 0;
}

static int rotate(struct cli *cli)
{
	json_t *sw = NULL;
	if (cli__call(cli, "GET", "/swarm", NULL, &sw) < 0)
		return -1;
	json_t *spec = jsonx_obj(sw, "Spec");
	if (!jsonx_bool(jsonx_obj(spec, "EncryptionConfig"), "AutoLockManagers",
			false)) {
		fprintf(stderr, "Error: Cannot rotate because autolock is not "
				"turned on\n");
		json_decref(sw);
		return -1;
	}
	char path[128];
	snprintf(path, sizeof(path),
		 "/swarm/update?version=%lld&rotateManagerUnlockKey=true",
		 (long long)jsonx_int(jsonx_obj(sw, "Version"), "Index", 0));
	int rc = cli__call(cli, "POST", path, spec, NULL);
	json_decref(sw);
	return rc;
}

static int swarm_unlock_key(struct cli *cli, int argc, char **argv)
{
	bool quiet = false, rot = false;
	for (int i = 1; i < argc; i++) {
		if (cli__flag(argv[i], "--quiet", "-q"))
			quiet = true;
		else if (strcmp(argv[i], "--rotate") == 0)
			rot = true;
		else {
			fprintf(stderr,
				"shoal swarm unlock-key: unknown argument: "
				"%s\n",
				argv[i]);
			return 1;
		}
	}
	if (rot && rotate(cli) < 0)
		return 1;
	const char *key;
	json_t *r = get_key(cli, &key);
	if (!r)
		return 1;
	if (quiet) {
		printf("%s\n", key);
	} else {
		if (rot)
			printf("Successfully rotated manager unlock key.\n\n");
		cli__print_unlock_key(key);
	}
	json_decref(r);
	return 0;
}

/* One line from stdin without echo when it is a terminal. */
static int read_key(char *out, size_t cap)
{
	struct termios old, raw;
	bool tty = isatty(STDIN_FILENO) && tcgetattr(STDIN_FILENO, &old) == 0;
	if (tty) {
		fprintf(stderr, "Enter unlock key: ");
		raw = old;
		raw.c_lflag &= ~(tcflag_t)ECHO;
		tcsetattr(STDIN_FILENO, TCSAFLUSH, &raw);
	}
	char *got = fgets(out, (int)cap, stdin);
	if (tty) {
		tcsetattr(STDIN_FILENO, TCSAFLUSH, &old);
		fprintf(stderr, "\n");
	}
	if (!got)
		return -1;
	out[strcspn(out, "\r\n")] = '\0';
	return 0;
}

static int swarm_unlock(struct cli *cli, int argc, char **argv)
{
	if (argc > 1) {
		fprintf(stderr,
			"\"shoal swarm unlock\" accepts no arguments.\n");
		return 1;
	}
	json_t *info = NULL;
	if (cli__call(cli, "GET", "/info", NULL, &info) < 0)
		return 1;
	const char *state =
		jsonx_str(jsonx_obj(info, "Swarm"), "LocalNodeState", "");
	int rc = 0;
	if (strcmp(state, "inactive") == 0) {
		fprintf(stderr, "Error: This node is not part of a swarm\n");
		rc = 1;
	} else if (strcmp(state, "locked") != 0) {
		fprintf(stderr, "Error: swarm is not locked\n");
		rc = 1;
	}
	json_decref(info);
	if (rc)
		return rc;
	char key[256];
	if (read_key(key, sizeof(key)) < 0) {
		fprintf(stderr, "Error: no unlock key given\n");
		return 1;
	}
	json_t *body = json_pack("{s:s}", "UnlockKey", key);
	shoal_wipe(key, sizeof(key));
	rc = body ? cli__call(cli, "POST", "/swarm/unlock", body, NULL) : -1;
	json_decref(body);
	return rc < 0 ? 1 : 0;
}

int cli__swarm_unlock_key(struct cli *cli, int argc, char **argv)
{
	return swarm_unlock_key(cli, argc, argv);
}

int cli__swarm_unlock(struct cli *cli, int argc, char **argv)
{
	return swarm_unlock(cli, argc, argv);
}
