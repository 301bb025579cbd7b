/* commands.c - every word of `cuslice --help`, in one table, and `cuslice
 * help`; see cli.h. The subcommands receive their own entry (self) and never
 * look the table up, so nothing they call leads back here. */
#include <stdio.h>
#include <string.h>

#include "cli.h"

static const struct cli_option run_options[] = {
	{ "--mem SIZE", "Device memory cap (CUSLICE_MEM_LIMIT): 4G, 512M, 1.5G; or per GPU: "
			"0=4G,1=2G or GPU-8f3a=4G. Shared by the --group." },
	{ "--group NAME", "Memory group (CUSLICE_GROUP): processes with the same group on a GPU "
			  "share one cap. Letters, digits, '.', '_', '-'; up to 63." },
	{ "--weight N", "Share of GPU time when every member is busy, 1..100 (CUSLICE_WEIGHT)." },
	{ "--slice-ms N", "Time slice in milliseconds, 1..10000 (CUSLICE_SLICE_MS)." },
	{ "--priority CLASS", "high, normal or low (CUSLICE_PRIORITY)." },
	{ "--trace PATH", "At exit, write the count of every intercepted call to PATH "
			  "(CUSLICE_TRACE); %p becomes the pid. Relative to the current folder." },
	{ "--dir DIR", "Folder of the shared per-GPU files (CUSLICE_DIR)." },
	{ "-h, --help", "Show this help." },
	{ NULL, NULL },
};

static const struct cli_option status_options[] = {
	{ "--json", "Print JSON (schema: cuslice help json) instead of the table." },
	{ "--dir DIR", "Folder of the per-GPU files (default: CUSLICE_DIR, else " DEFAULT_DIR ")." },
	{ "-h, --help", "Show this help." },
	{ NULL, NULL },
};

static const struct cli_option top_options[] = {
	{ "--dir DIR", "Folder of the per-GPU files (default: CUSLICE_DIR, else " DEFAULT_DIR ")." },
	{ "--interval S", "Seconds between refreshes, 0.1..60 (default 1)." },
	{ "-h, --help", "Show this help." },
	{ NULL, NULL },
};

static const struct cli_option metrics_options[] = {
	{ "--dir DIR", "Folder of the per-GPU files (default: CUSLICE_DIR, else " DEFAULT_DIR ")." },
	{ "--textfile PATH", "Write to PATH instead of stdout, atomically (a temporary file in "
			     "the same folder, renamed into place), for node-exporter's "
			     "textfile collector." },
	{ "--interval S", "With --textfile: write again every S seconds until interrupted." },
	{ "--listen ADDR:PORT", "Serve GET /metrics over HTTP, and GET /healthz for probes "
				"(200 while the folder can be read, else 503). A port alone "
				"(or :PORT) binds "
				"127.0.0.1; port 0 picks a free port. IPv6: [::1]:PORT." },
	{ "-h, --help", "Show this help." },
	{ NULL, NULL },
};

static const struct cli_option doctor_options[] = {
	{ "--dir DIR", "Folder of the per-GPU files (default: CUSLICE_DIR, else " DEFAULT_DIR ")." },
	{ "-h, --help", "Show this help." },
	{ NULL, NULL },
};

static const struct cli_option policy_options[] = {
	{ "--dir DIR", "Folder of the per-GPU files (default: CUSLICE_DIR, else " DEFAULT_DIR ")." },
	{ "-h, --help", "Show this help." },
	{ NULL, NULL },
};

static const struct cli_option help_options[] = {
	{ NULL, NULL },
};

static int cmd_help(const struct cli_command *self, int argc, char **argv);

static const struct cli_command commands[] = {
	{ "run", "[OPTIONS] [--] COMMAND [ARGS...]",
	  "Run a command with its GPU shared through cuslice.",
	  run_options,
	  "Checks the options with the library's own parsers (a bad value is an error,\n"
	  "exit 2), sets LD_PRELOAD to libcuslice.so and the matching CUSLICE_*\n"
	  "variables, and executes COMMAND in place of cuslice: its exit status and its\n"
	  "signals are its own. An existing LD_PRELOAD is kept, after libcuslice.so;\n"
	  "another copy of libcuslice.so in it is dropped. COMMAND not found: exit 127;\n"
	  "found but not executable: exit 126.\n"
	  "\n"
	  "libcuslice.so is looked up, in order: $CUSLICE_LIB; next to the cuslice\n"
	  "binary; in the install prefix's library folder (bin/../lib/<multiarch>,\n"
	  "bin/../lib, bin/../lib64); in ../hooks (a meson build tree).\n"
	  "\n"
	  "Variables not given as options (CUSLICE_CTX_RESERVE, CUSLICE_LOG, ...) pass\n"
	  "through from the environment; see: cuslice help env.",
	  cmd_run, 1 },
	{ "status", "[--json] [--dir DIR]",
	  "Show who shares each GPU and what they get, once.",
	  status_options,
	  "One section per per-GPU file in the folder: its UUID and the CUDA ordinal\n"
	  "members use; the ring (slice, token holder, hand-offs per second measured\n"
	  "over 0.5 s, overruns, revocations, the high-priority share of the last 1 s\n"
	  "window); every member (pid, host pid, group, weight, priority, state,\n"
	  "GPU-time share over the last 10 s and since joining, wait p50/p99,\n"
	  "launches, memory used, peak and cap, refused allocations); every group\n"
	  "(members, used, cap).\n"
	  "\n"
	  "A member whose process died before anyone reaped its slot is shown with\n"
	  "state 'dead'; it counts in no share, usage or cap. Wait percentiles are\n"
	  "bucket upper bounds ('<1.0ms'). With no per-GPU file it says so and exits 0.\n"
	  "A file that is corrupt or of another ABI is named on stderr with the reason,\n"
	  "the others are still shown, and the exit status is 1.",
	  cmd_status, 0 },
	{ "top", "[--dir DIR] [--interval S]",
	  "Live view of the GPUs' members, shares as bars.",
	  top_options,
	  "Refreshes every --interval seconds; hand-offs per second are measured\n"
	  "between refreshes. Keys: q quits (so does Ctrl-C), r refreshes now.\n"
	  "The terminal is restored on exit. Needs a terminal and a cuslice built with\n"
	  "ncurses.",
	  cmd_top, 0 },
	{ "metrics", "[--dir DIR] [--textfile PATH [--interval S]] [--listen ADDR:PORT]",
	  "Prometheus metrics of every GPU's ring and ledger.",
	  metrics_options,
	  "Text exposition format 0.0.4, with # HELP and # TYPE for every metric (the\n"
	  "list: cuslice help prometheus). Labels: gpu_uuid; group; member = the slot\n"
	  "index (0..63), so a GPU has at most 64 member series whatever the churn of\n"
	  "processes; the pid is a label of cuslice_member_info only. A slot reused by a\n"
	  "new process restarts its counters, which cuslice_member_start_time_seconds\n"
	  "tells apart. A corrupt file is reported on stderr and counted in\n"
	  "cuslice_files_unreadable; the exit status is then 1 (stdout/--textfile\n"
	  "still get the other GPUs). --listen needs a cuslice built with\n"
	  "libmicrohttpd; it runs until SIGINT or SIGTERM.",
	  cmd_metrics, 0 },
	{ "doctor", "[--dir DIR]",
	  "Check the setup and explain how to fix what is wrong.",
	  doctor_options,
	  "Checks: the CUSLICE_* variables of this environment; the CUDA driver\n"
	  "(libcuda.so.1 as the dynamic loader finds it, LD_LIBRARY_PATH included, and\n"
	  "cuDriverGetVersion); libcuslice.so, and that LD_PRELOAD takes effect in a\n"
	  "child process (cuslice itself, run under the library with CUSLICE_TRACE: the\n"
	  "library writes the trace file at exit); the folder of the shared files\n"
	  "(exists or can be created, is writable, mode 1777 recommended); every\n"
	  "per-GPU file (corrupt, stale: every member dead, not writable by others).\n"
	  "\n"
	  "Each line is [ ok ], [warn] or [FAIL], each problem with its fix. Exit\n"
	  "status 1 when any check FAILs; warnings alone exit 0.",
	  cmd_doctor, 0 },
	{ "policy", "[--dir DIR] check FILE | install FILE | show",
	  "Check, install or show the node policy: defaults for processes that set none.",
	  policy_options,
	  "A node policy is a file of NAME=VALUE lines giving the default of\n"
	  "CUSLICE_MEM_LIMIT (a size, or card/N: the card's memory divided by N),\n"
	  "CUSLICE_WEIGHT and CUSLICE_PRIORITY for every process on the node that does\n"
	  "not set its own; '#' starts a comment. Every process reads DIR/node-policy\n"
	  "when it starts; its own variables win. check prints the settings of FILE, or\n"
	  "its problems (exit 1). install checks FILE and writes it to DIR/node-policy\n"
	  "atomically, or leaves the installed policy as it was (exit 1). show prints\n"
	  "the installed policy. cuslice status shows where each member's settings came\n"
	  "from: env, policy or default.",
	  cmd_policy, 0 },
	{ "help", "[COMMAND | env | pod | json | prometheus]",
	  "Help on a command, the CUSLICE_* variables, the JSON schema or the metrics.",
	  help_options, NULL, cmd_help, 0 },
	{ NULL, NULL, NULL, NULL, NULL, NULL, 0 },
};

const struct cli_command *cli_commands(void)
{
	return commands;
}

const struct cli_command *cli_find(const char *name)
{
	for (const struct cli_command *c = commands; c->name != NULL; c++) {
		if (strcmp(c->name, name) == 0)
			return c;
	}
	return NULL;
}

static int cmd_help(const struct cli_command *self, int argc, char **argv)
{
	(void)self;
	if (argc < 2) {
		cli_overview(stdout, commands);
		return 0;
	}
	const struct cli_command *c = cli_find(argv[1]);
	if (c != NULL) {
		cli_usage(stdout, c);
		return 0;
	}
	if (cli_topic(stdout, argv[1]))
		return 0;
	fprintf(stderr, "cuslice help: no command or topic '%s'. Topics: env, json, prometheus.\n",
		argv[1]);
	return EXIT_USAGE;
}
