/*
 * The top-level command table. One row per subcommand; keep it sorted as
 * `shoal --help` prints it in this order.
 */
#include "cli/cli.h"
#include "cli/ctr.h"

const struct cli_command cli_commands[] = {
	{"attach", cli_ctr_attach,
	 "Attach local standard input, output, and error streams to a "
	 "running container"},
	{"build", cli_build, "Build an image from a Dockerfile"},
	{"commit", cli_commit, "Create a new image from a container's changes"},
	{"compose", cli_cmd_compose,
	 "Run a compose file on this host (no swarm)"},
	{"config", cli_cmd_config, "Manage Swarm configs"},
	{"container", cli_cmd_container, "Manage containers"},
	{"cp", cli_ctr_cp,
	 "Copy files/folders between a container and the "
	 "local filesystem"},
	{"create", cli_ctr_create, "Create a new container"},
	{"diff", cli_ctr_diff,
	 "Inspect changes to files or directories on a container's "
	 "filesystem"},
	{"events", cli_cmd_events, "Get real time events from the server"},
	{"exec", cli_ctr_exec, "Execute a command in a running container"},
	{"export", cli_export,
	 "Export a container's filesystem as a tar archive"},
	{"history", cli_history, "Show the history of an image"},
	{"image", cli_cmd_image, "Manage images"},
	{"images", cli_img_ls, "List images"},
	{"import", cli_img_import,
	 "Import the contents from a tarball to create a filesystem image"},
	{"info", cli_cmd_info, "Display system-wide information"},
	{"inspect", cli_inspect_any,
	 "Return low-level information on Shoal objects"},
	{"kill", cli_ctr_kill, "Kill one or more running containers"},
	{"load", cli_img_load, "Load an image from a tar archive or STDIN"},
	{"login", cli_login, "Log in to a registry"},
	{"logout", cli_logout, "Log out from a registry"},
	{"logs", cli_ctr_logs, "Fetch the logs of a container"},
	{"network", cli_cmd_network, "Manage networks"},
	{"node", cli_cmd_node, "Manage Swarm nodes"},
	{"pause", cli_ctr_pause,
	 "Pause all processes within one or more containers"},
	{"port", cli_ctr_port,
	 "List port mappings or a specific mapping for the container"},
	{"ps", cli_ctr_ps, "List containers"},
	{"pull", cli_img_pull, "Download an image from a registry"},
	{"push", cli_img_push, "Upload an image to a registry"},
	{"rename", cli_ctr_rename, "Rename a container"},
	{"restart", cli_ctr_restart, "Restart one or more containers"},
	{"rm", cli_ctr_rm, "Remove one or more containers"},
	{"rmi", cli_img_rm, "Remove one or more images"},
	{"run", cli_ctr_run, "Create and run a new container from an image"},
	{"secret", cli_cmd_secret, "Manage Swarm secrets"},
	{"service", cli_cmd_service, "Manage Swarm services"},
	{"stack", cli_cmd_stack, "Manage Swarm stacks"},
	{"start", cli_ctr_start, "Start one or more stopped containers"},
	{"stats", cli_ctr_stats,
	 "Display a live stream of container(s) resource usage statistics"},
	{"stop", cli_ctr_stop, "Stop one or more running containers"},
	{"swarm", cli_cmd_swarm, "Manage Swarm"},
	{"system", cli_cmd_system, "Manage Shoal"},
	{"tag", cli_img_tag,
	 "Create a tag TARGET_IMAGE that refers to SOURCE_IMAGE"},
	{"top", cli_ctr_top, "Display the running processes of a container"},
	{"unpause", cli_ctr_unpause,
	 "Unpause all processes within one or more containers"},
	{"update", cli_ctr_update,
	 "Update configuration of one or more containers"},
	{"version", cli_cmd_version, "Show the Shoal version information"},
	{"volume", cli_cmd_volume, "Manage volumes"},
	{"wait", cli_ctr_wait,
	 "Block until one or more containers stop, then print their exit "
	 "codes"},
};

const size_t cli_ncommands = sizeof(cli_commands) / sizeof(cli_commands[0]);
