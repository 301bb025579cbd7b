/* help.c - the overview and the help topics (the CUSLICE_* variables, the
 * JSON schema, the metrics); see cli.h. */
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "config.h"

void cli_overview(FILE *out, const struct cli_command *commands)
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
		cli_wrap(out, v[i].help, 6, 5, 79);
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
