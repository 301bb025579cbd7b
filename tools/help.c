/* help.c - every word of `cuslice --help`, in one table; see cli.h. */
#include <getopt.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "config.h"

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
	  cmd_run },
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
	  cmd_status },
	{ "top", "[--dir DIR] [--interval S]",
	  "Live view of the GPUs' members, shares as bars.",
	  top_options,
	  "Refreshes every --interval seconds; hand-offs per second are measured\n"
	  "between refreshes. Keys: q quits (so does Ctrl-C), r refreshes now.\n"
	  "The terminal is restored on exit. Needs a terminal and a cuslice built with\n"
	  "ncurses.",
	  cmd_top },
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
	  cmd_metrics },
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
	  cmd_doctor },
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
	  cmd_policy },
	{ "help", "[COMMAND | env | pod | json | prometheus]",
	  "Help on a command, the CUSLICE_* variables, the JSON schema or the metrics.",
	  help_options, NULL, cmd_help },
	{ NULL, NULL, NULL, NULL, NULL, NULL },
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

/* Writes text wrapped at width, every line indented by indent. */
static void wrap(FILE *out, const char *text, int indent, int first_col, int width)
{
	int col = first_col;
	const char *p = text;
	while (*p != '\0') {
		while (*p == ' ')
			p++;
		size_t n = strcspn(p, " ");
		if (col > indent && col + 1 + (int)n > width) {
			fprintf(out, "\n%*s", indent, "");
			col = indent;
		}
		if (col < indent) {
			fprintf(out, "%*s", indent - col, "");
			col = indent;
		} else if (col > indent) {
			fputc(' ', out);
			col++;
		}
		fwrite(p, 1, n, out);
		col += (int)n;
		p += n;
	}
	fputc('\n', out);
}

void cli_usage(FILE *out, const struct cli_command *c)
{
	fprintf(out, "Usage: cuslice %s %s\n\n%s\n", c->name, c->args, c->summary);
	if (c->options != NULL && c->options[0].flags != NULL) {
		fprintf(out, "\nOptions:\n");
		for (const struct cli_option *o = c->options; o->flags != NULL; o++) {
			fprintf(out, "  %s", o->flags);
			wrap(out, o->help, 24, 2 + (int)strlen(o->flags), 79);
		}
	}
	if (c->details != NULL)
		fprintf(out, "\n%s\n", c->details);
}

void cli_overview(FILE *out)
{
	fprintf(out, "Usage: cuslice COMMAND [OPTIONS]\n"
		     "       cuslice --version\n\n"
		     "Share one NVIDIA GPU between unmodified processes: time slices through a\n"
		     "token ring, memory caps through a shared ledger.\n\nCommands:\n");
	for (const struct cli_command *c = commands; c->name != NULL; c++)
		fprintf(out, "  %-9s %s\n", c->name, c->summary);
	fprintf(out, "\n'cuslice COMMAND --help' tells more about each.\n");
}

static void topic_env(FILE *out)
{
	size_t n;
	const struct config_var *v = config_vars(&n);
	fprintf(out, "Environment variables read by libcuslice.so (once, at start):\n");
	for (size_t i = 0; i < n; i++) {
		fprintf(out, "\n  %s = %s\n      default: %s\n", v[i].name, v[i].type, v[i].def);
		fprintf(out, "     ");
		wrap(out, v[i].help, 6, 5, 79);
	}
}

/* Machine-readable, for tests/deploy: NAME<TAB>SOURCE per line, for every
 * variable a Kubernetes pod sets (config_pod_source) and LD_PRELOAD. */
static void topic_pod(FILE *out)
{
	size_t n;
	const struct config_var *v = config_vars(&n);
	fprintf(out, "LD_PRELOAD\tlibrary\n");
	for (size_t i = 0; i < n; i++) {
		const char *src = config_pod_source(v[i].name);
		if (src != NULL)
			fprintf(out, "%s\t%s\n", v[i].name, src);
	}
}

static const char json_schema[] =
	"cuslice status --json prints one object. Schema version 1; fields are only\n"
	"ever added within a version, never renamed, removed or retyped. Times are\n"
	"Unix seconds (fractions allowed), durations seconds, memory bytes, shares\n"
	"fractions 0..1. null means unknown or not applicable.\n"
	"\n"
	"{\n"
	"  \"schema_version\": 1,\n"
	"  \"cuslice_version\": string,\n"
	"  \"dir\": string,                      folder read\n"
	"  \"dir_exists\": bool,                 false: no process made it yet\n"
	"  \"time\": number,                     when the snapshot was taken\n"
	"  \"gpus\": [ {                         one per readable per-GPU file\n"
	"    \"uuid\": string,                   \"GPU-...\"\n"
	"    \"file\": string,\n"
	"    \"created\": number,\n"
	"    \"ordinal\": int | null,            CUDA ordinal the live members use, null\n"
	"                                      when none or they differ\n"
	"    \"ordinals\": [int],                every ordinal live members use\n"
	"    \"ring\": {\n"
	"      \"slice_ms\": int,                slice of the member that created the file\n"
	"      \"holder\": {\"slot\": int, \"pid\": int | null} | null,  null: token free\n"
	"      \"generation\": int,              token changes so far\n"
	"      \"handoffs_total\": int,\n"
	"      \"handoffs_per_second\": number | null,  over the 0.5 s status waits\n"
	"      \"overruns_total\": int,          drains that hit the drain timeout\n"
	"      \"revocations_total\": int,       tokens taken from dead or stuck holders\n"
	"      \"high_priority_share\": number,  high members' GPU time, last 1 s window\n"
	"      \"high_priority_guard\": number   CUSLICE_HIGH_MAX_SHARE of this\n"
	"                                      environment (not recorded in the file)\n"
	"    },\n"
	"    \"members\": [ {                    ACTIVE slots, by slot\n"
	"      \"slot\": int,                    0..63, stable while the process lives\n"
	"      \"pid\": int,                     in the member's PID namespace\n"
	"      \"host_pid\": int | null,         in the reader's PID namespace\n"
	"      \"alive\": bool,\n"
	"      \"state\": \"holding\" | \"waiting\" | \"idle\" | \"dead\",\n"
	"      \"group\": string | null,         null: the process alone\n"
	"      \"weight\": int,\n"
	"      \"priority\": \"high\" | \"normal\" | \"low\" | \"invalid\",\n"
	"      \"ordinal\": int,\n"
	"      \"joined\": number,\n"
	"      \"gpu_share_10s\": number,        share over the last 10 s\n"
	"      \"gpu_share_since_join\": number,\n"
	"      \"gpu_seconds\": number,          token held, in total\n"
	"      \"wait_seconds\": number,         waited for the token, in total\n"
	"      \"grants\": int,                  times it got the token\n"
	"      \"wait_p50_us\": int | null,      bucket upper bound (waits < 2^b us), null:\n"
	"                                      no wait yet; 4194304 means >= 4194304\n"
	"      \"wait_p99_us\": int | null,\n"
	"      \"launches\": int,\n"
	"      \"overruns\": int,\n"
	"      \"memory\": {\n"
	"        \"used_bytes\": int,            charged to this member now\n"
	"        \"peak_bytes\": int,\n"
	"        \"declared_cap_bytes\": int | null,  its own --mem, null: none\n"
	"        \"cap_bytes\": int | null,      cap in force: its group's, null: none\n"
	"        \"group_used_bytes\": int,\n"
	"        \"oom_refusals\": int,          allocations refused at the cap\n"
	"        \"allocations\": int\n"
	"      },\n"
	"      \"sources\": {                    where its settings came from: \"env\",\n"
	"                                      \"policy\" (the node policy) or \"default\";\n"
	"                                      null: not recorded by its library\n"
	"        \"memory\": string | null, \"weight\": string | null,\n"
	"        \"priority\": string | null\n"
	"      },\n"
	"      \"pod\": {\"namespace\": string, \"name\": string} | null,\n"
	"                                      CUSLICE_POD_NAMESPACE/NAME; null: unset\n"
	"      \"note\": string,                 last problem the member reported, or \"\"\n"
	"      \"bad_variables\": [string]       every CUSLICE_* variable of the member that held\n"
	"                                      a bad value (note has the last message)\n"
	"    } ],\n"
	"    \"groups\": [ {                     named groups of live members, by name\n"
	"      \"name\": string,\n"
	"      \"members\": [int],               slots\n"
	"      \"used_bytes\": int,\n"
	"      \"cap_bytes\": int | null\n"
	"    } ]\n"
	"  } ],\n"
	"  \"errors\": [ {\"file\": string, \"reason\": string} ]   unreadable files\n"
	"}\n";

int cli_topic(FILE *out, const char *topic)
{
	if (strcmp(topic, "env") == 0)
		topic_env(out);
	else if (strcmp(topic, "pod") == 0)
		topic_pod(out);
	else if (strcmp(topic, "json") == 0)
		fputs(json_schema, out);
	else if (strcmp(topic, "prometheus") == 0) {
		struct gpu_set empty = { .dir = "" };
		size_t len;
		char *text = metrics_render(&empty, &len);
		fprintf(out, "Metrics of cuslice metrics (HELP and TYPE of each; every per-GPU\n"
			     "metric has the label gpu_uuid, member metrics also member and\n"
			     "group, group metrics group):\n\n");
		if (text != NULL) {
			/* Only the # lines: an empty set has no samples but the
			 * build info and the counts of files. */
			for (char *line = strtok(text, "\n"); line != NULL; line = strtok(NULL, "\n"))
				if (line[0] == '#')
					fprintf(out, "%s\n", line);
		}
		free(text);
	} else
		return 0;
	return 1;
}

int cli_usage_error(const struct cli_command *c, const char *fmt, ...)
{
	va_list ap;
	fprintf(stderr, "cuslice %s: ", c->name);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, "\nTry 'cuslice %s --help'.\n", c->name);
	return EXIT_USAGE;
}

int cli_option_error(const struct cli_command *c, int opt, char **argv)
{
	if (opt == ':')
		return cli_usage_error(c, "'%s' needs a value", argv[optind - 1]);
	return cli_usage_error(c, "unknown option '%s'", argv[optind - 1]);
}

int cli_no_operands(const struct cli_command *c, int argc, char **argv)
{
	if (optind < argc)
		return cli_usage_error(c, "unexpected argument '%s'", argv[optind]);
	return 0;
}

int cli_wants_help(const struct cli_command *c, int argc, char **argv)
{
	/* run parses its own: its options end at the command, whose own
	 * --help is not ours. */
	if (c->main == cmd_run)
		return 0;
	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--") == 0)
			break;
		if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
			cli_usage(stdout, c);
			return 1;
		}
	}
	return 0;
}

int cmd_help(int argc, char **argv)
{
	if (argc < 2) {
		cli_overview(stdout);
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
