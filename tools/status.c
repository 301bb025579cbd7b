/* status.c - `cuslice status`: one snapshot, as a table or as JSON.
 *
 * Hand-offs per second need two readings: status reads the folder, waits
 * STATUS_SAMPLE_MS, reads it again and shows the second reading with the
 * rate between the two. Everything else comes from one reading (shares over
 * 10 s from each member's own history).
 */
#include <errno.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"
#include "policy.h"
#include "config.h"
#include "json.h"
#include "size.h"

enum { STATUS_SAMPLE_MS = 500, BOX = 87 };

char *fmt_size(unsigned long long bytes, char *buf, unsigned len)
{
	return size_format(bytes, buf, len);
}

char *fmt_wait(uint64_t upper_us, char *buf, unsigned len)
{
	if (upper_us == UINT64_MAX) /* the open-ended last bucket */
		snprintf(buf, len, ">%.1fs", (double)(UINT64_C(1) << (CS_WAIT_BUCKETS - 2)) / 1e6);
	else if (upper_us < 1000)
		snprintf(buf, len, "<%lluus", (unsigned long long)upper_us);
	else if (upper_us < 1000000)
		snprintf(buf, len, "<%.1fms", (double)upper_us / 1e3);
	else
		snprintf(buf, len, "<%.1fs", (double)upper_us / 1e6);
	return buf;
}

unsigned cli_high_guard(void)
{
	struct cs_config cfg;
	config_load_env(&cfg);
	return cfg.high_max_share;
}

/* ---- the table ---- */

static void rule(char c)
{
	printf("+");
	for (int i = 0; i < BOX + 2; i++)
		putchar(c);
	printf("+\n");
}

static void row(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* One line of the box: "| text, padded or cut to BOX |". */
static void row(const char *fmt, ...)
{
	char line[512];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	printf("| %-*.*s |\n", BOX, BOX, line);
}

/* A name cut to width with '~' marking the cut. */
static const char *cut(const char *s, int width, char *buf, size_t len)
{
	if ((int)strlen(s) <= width)
		return s;
	snprintf(buf, len, "%.*s~", width - 1, s);
	return buf;
}

static void gpu_title(const struct snap_gpu *g, char *buf, size_t len)
{
	if (g->nordinals == 0) {
		snprintf(buf, len, "GPU -");
		return;
	}
	size_t o = (size_t)snprintf(buf, len, "GPU ");
	for (unsigned i = 0; i < g->nordinals && o < len; i++)
		o += (size_t)snprintf(buf + o, len - o, "%s%d", i ? "," : "", g->ordinals[i]);
}

static void ring_rows(const struct snap_gpu *g, double rate)
{
	char holder[96], hand[32];
	if (g->holder >= 0) {
		const struct snap_member *h = snapshot_member(g, (unsigned)g->holder);
		if (h != NULL)
			snprintf(holder, sizeof(holder), "holder slot %d (pid %u%s)", g->holder,
				 h->host_pid ? h->host_pid : h->pid, h->alive ? "" : ", dead");
		else
			snprintf(holder, sizeof(holder), "holder slot %d (free slot)", g->holder);
	} else {
		snprintf(holder, sizeof(holder), g->holder_invalid ? "token names no valid slot"
								   : "token free");
	}
	if (rate >= 0)
		snprintf(hand, sizeof(hand), "%.1f hand-offs/s", rate);
	else
		snprintf(hand, sizeof(hand), "hand-offs/s unknown");
	row("Ring: slice %u ms, %s, %s", g->slice_ms, holder, hand);
	row("      %llu overruns, %llu revocations; high priority %.0f%% of the last 1 s "
	    "(guard %u%%)", (unsigned long long)g->overruns, (unsigned long long)g->revocations,
	    g->high_share * 100, cli_high_guard());
}

static void pct(double share, int alive, char *buf, size_t len)
{
	if (!alive)
		snprintf(buf, len, "-");
	else
		snprintf(buf, len, "%.1f%%", share * 100);
}

static void member_time_rows(const struct snap_gpu *g)
{
	row("%4s %7s %8s %-10s %3s %-6s %-7s %7s %7s %8s %8s", "SLOT", "PID", "HOST-PID",
	    "GROUP", "W", "PRIO", "STATE", "GPU-10s", "GPU-all", "WAIT-p50", "WAIT-p99");
	for (unsigned i = 0; i < g->nmembers; i++) {
		const struct snap_member *m = &g->members[i];
		char host[16], grp[16], s10[16], sall[16], p50[16] = "-", p99[16] = "-";
		snprintf(host, sizeof(host), m->host_pid ? "%u" : "-", m->host_pid);
		pct(m->share_window, m->alive, s10, sizeof(s10));
		pct(m->share_life, m->alive, sall, sizeof(sall));
		if (m->has_waits) {
			fmt_wait(m->wait_p50_us, p50, sizeof(p50));
			fmt_wait(m->wait_p99_us, p99, sizeof(p99));
		}
		row("%4u %7u %8s %-10s %3u %-6s %-7s %7s %7s %8s %8s", m->slot, m->pid, host,
		    cut(m->group[0] ? m->group : "-", 10, grp, sizeof(grp)), m->weight,
		    snapshot_priority_name(m->priority), snapshot_state_name(m->state), s10, sall,
		    p50, p99);
	}
}

static void member_memory_rows(const struct snap_gpu *g)
{
	row("%4s %7s  %10s %9s %9s %9s %9s %9s", "SLOT", "PID", "LAUNCHES", "OVERRUNS", "MEM-USED",
	    "MEM-PEAK", "CAP", "OOM");
	for (unsigned i = 0; i < g->nmembers; i++) {
		const struct snap_member *m = &g->members[i];
		char used[16], peak[16], cap[16] = "none";
		if (m->group_cap != 0)
			fmt_size(m->group_cap, cap, sizeof(cap));
		row("%4u %7u  %10llu %9llu %9s %9s %9s %9llu", m->slot, m->pid,
		    (unsigned long long)m->launches, (unsigned long long)m->overruns,
		    fmt_size(m->charged, used, sizeof(used)), fmt_size(m->peak, peak, sizeof(peak)),
		    cap, (unsigned long long)m->refusals);
	}
}

static const char *source_name(uint8_t src)
{
	return src == 0 ? "-" : policy_source_name(src - 1);
}

/* Where each member's cap, weight and priority came from, and its pod. */
static void member_setting_rows(const struct snap_gpu *g)
{
	row("%4s %7s  %-8s %-8s %-8s  %s", "SLOT", "PID", "CAP-FROM", "W-FROM", "PRIO-FROM",
	    "POD");
	for (unsigned i = 0; i < g->nmembers; i++) {
		const struct snap_member *m = &g->members[i];
		char pod[56];
		snprintf(pod, sizeof(pod), "%s%s%s", m->pod_namespace,
			 m->pod_namespace[0] ? "/" : "", m->pod_name[0] ? m->pod_name : "-");
		row("%4u %7u  %-8s %-8s %-8s  %s", m->slot, m->pid, source_name(m->src_mem),
		    source_name(m->src_weight), source_name(m->src_priority), pod);
	}
}

static void group_rows(const struct snap_gpu *g)
{
	if (g->ngroups == 0)
		return;
	row("%s", "");
	row("%-24s %8s %9s %9s  %s", "GROUP", "MEMBERS", "USED", "CAP", "SLOTS");
	for (unsigned i = 0; i < g->ngroups; i++) {
		const struct snap_group *gr = &g->groups[i];
		char used[16], cap[16] = "none", name[32], slots[128] = "";
		size_t o = 0;
		for (unsigned k = 0; k < g->nmembers && o < sizeof(slots) - 8; k++) {
			if (g->members[k].alive && g->members[k].group_index == (int)i)
				o += (size_t)snprintf(slots + o, sizeof(slots) - o, "%s%u",
						      o ? "," : "", g->members[k].slot);
		}
		if (gr->cap != 0)
			fmt_size(gr->cap, cap, sizeof(cap));
		row("%-24s %8u %9s %9s  %s", cut(gr->name, 24, name, sizeof(name)), gr->members,
		    fmt_size(gr->used, used, sizeof(used)), cap, slots);
	}
}

static void print_gpu(const struct snap_gpu *g, double rate)
{
	char title[128];
	gpu_title(g, title, sizeof(title));
	rule('-');
	char count[64];
	snprintf(count, sizeof(count), "%u member%s%s", g->nalive, g->nalive == 1 ? "" : "s",
		 g->ndead ? ", " : "");
	if (g->ndead)
		snprintf(count + strlen(count), sizeof(count) - strlen(count), "%u dead", g->ndead);
	row("%-10s %-52s %23s", title, g->uuid, count);
	ring_rows(g, rate);
	if (g->nmembers == 0) {
		row("%s", "No members.");
		return;
	}
	row("%s", "");
	member_time_rows(g);
	row("%s", "");
	member_memory_rows(g);
	row("%s", "");
	member_setting_rows(g);
	group_rows(g);
	for (unsigned i = 0; i < g->nmembers; i++) {
		char names[400];
		const struct snap_member *m = &g->members[i];
		if (config_bad_vars_text(m->bad_vars, names, sizeof(names)) > 0)
			row("Slot %u has bad values in: %s", m->slot, names);
		if (m->note[0] != '\0')
			row("Slot %u says: %s", m->slot, m->note);
	}
}

static void print_table(const struct gpu_set *set)
{
	char when[64];
	time_t now = time(NULL);
	strftime(when, sizeof(when), "%a %b %e %H:%M:%S %Y", localtime(&now));
	printf("%s\n", when);
	rule('-');
	row("cuslice %-12s %66s", cli_version, set->dir);
	for (unsigned i = 0; i < set->n; i++)
		print_gpu(&set->gpus[i], set->handoff_rate[i]);
	rule('-');
}

/* ---- JSON (schema: help.c, "cuslice help json") ---- */

static double seconds(uint64_t ns)
{
	return (double)ns / 1e9;
}

/* The open-ended last bucket is given by its lower bound. */
static uint64_t json_wait(uint64_t upper_us)
{
	return upper_us == UINT64_MAX ? UINT64_C(1) << (CS_WAIT_BUCKETS - 2) : upper_us;
}

static void json_cap(struct json *j, const char *key, uint64_t cap)
{
	if (cap != 0)
		json_u64(j, key, cap);
	else
		json_null(j, key);
}

static void json_source(struct json *j, const char *key, uint8_t src)
{
	if (src != 0)
		json_str(j, key, policy_source_name(src - 1));
	else
		json_null(j, key);
}

static void json_member(struct json *j, const struct snap_member *m)
{
	json_object(j, NULL);
	json_u64(j, "slot", m->slot);
	json_u64(j, "pid", m->pid);
	if (m->host_pid)
		json_u64(j, "host_pid", m->host_pid);
	else
		json_null(j, "host_pid");
	json_bool(j, "alive", m->alive);
	json_str(j, "state", snapshot_state_name(m->state));
	if (m->group[0])
		json_str(j, "group", m->group);
	else
		json_null(j, "group");
	json_u64(j, "weight", m->weight);
	json_str(j, "priority", snapshot_priority_name(m->priority));
	json_i64(j, "ordinal", m->ordinal);
	json_fixed(j, "joined", seconds(m->join_unix_ns), 6);
	json_fixed(j, "gpu_share_10s", m->alive ? m->share_window : 0, 6);
	json_fixed(j, "gpu_share_since_join", m->alive ? m->share_life : 0, 6);
	json_num(j, "gpu_seconds", seconds(m->held_total_ns));
	json_num(j, "wait_seconds", seconds(m->waited_ns));
	json_u64(j, "grants", m->grants);
	if (m->has_waits) {
		json_u64(j, "wait_p50_us", json_wait(m->wait_p50_us));
		json_u64(j, "wait_p99_us", json_wait(m->wait_p99_us));
	} else {
		json_null(j, "wait_p50_us");
		json_null(j, "wait_p99_us");
	}
	json_u64(j, "launches", m->launches);
	json_u64(j, "overruns", m->overruns);
	json_object(j, "memory");
	json_u64(j, "used_bytes", m->charged);
	json_u64(j, "peak_bytes", m->peak);
	json_cap(j, "declared_cap_bytes", m->declared_cap);
	json_cap(j, "cap_bytes", m->group_cap);
	json_u64(j, "group_used_bytes", m->group_used);
	json_u64(j, "oom_refusals", m->refusals);
	json_u64(j, "allocations", m->allocations);
	json_object_end(j);
	json_object(j, "sources");
	json_source(j, "memory", m->src_mem);
	json_source(j, "weight", m->src_weight);
	json_source(j, "priority", m->src_priority);
	json_object_end(j);
	if (m->pod_name[0] != '\0') {
		json_object(j, "pod");
		json_str(j, "namespace", m->pod_namespace);
		json_str(j, "name", m->pod_name);
		json_object_end(j);
	} else {
		json_null(j, "pod");
	}
	json_str(j, "note", m->note);
	json_array(j, "bad_variables");
	for (unsigned bit = 0; bit < 32; bit++) {
		if (m->bad_vars & (UINT32_C(1) << bit))
			json_str(j, NULL, config_bad_var_name(bit));
	}
	json_array_end(j);
	json_object_end(j);
}

static void json_ring(struct json *j, const struct snap_gpu *g, double rate)
{
	json_object(j, "ring");
	json_u64(j, "slice_ms", g->slice_ms);
	const struct snap_member *h = g->holder >= 0 ? snapshot_member(g, (unsigned)g->holder)
						     : NULL;
	if (g->holder >= 0) {
		json_object(j, "holder");
		json_u64(j, "slot", (uint64_t)g->holder);
		if (h != NULL)
			json_u64(j, "pid", h->pid);
		else
			json_null(j, "pid");
		json_object_end(j);
	} else {
		json_null(j, "holder");
	}
	json_u64(j, "generation", g->generation);
	json_u64(j, "handoffs_total", g->handoffs);
	if (rate >= 0)
		json_fixed(j, "handoffs_per_second", rate, 3);
	else
		json_null(j, "handoffs_per_second");
	json_u64(j, "overruns_total", g->overruns);
	json_u64(j, "revocations_total", g->revocations);
	json_fixed(j, "high_priority_share", g->high_share, 6);
	json_num(j, "high_priority_guard", cli_high_guard() / 100.0);
	json_object_end(j);
}

static void json_groups(struct json *j, const struct snap_gpu *g)
{
	json_array(j, "groups");
	for (unsigned i = 0; i < g->ngroups; i++) {
		json_object(j, NULL);
		json_str(j, "name", g->groups[i].name);
		json_array(j, "members");
		for (unsigned k = 0; k < g->nmembers; k++) {
			if (g->members[k].alive && g->members[k].group_index == (int)i)
				json_u64(j, NULL, g->members[k].slot);
		}
		json_array_end(j);
		json_u64(j, "used_bytes", g->groups[i].used);
		json_cap(j, "cap_bytes", g->groups[i].cap);
		json_object_end(j);
	}
	json_array_end(j);
}

static void json_gpu(struct json *j, const struct snap_gpu *g, double rate)
{
	json_object(j, NULL);
	json_str(j, "uuid", g->uuid);
	json_str(j, "file", g->path);
	json_fixed(j, "created", seconds(g->created_unix_ns), 6);
	if (g->nordinals == 1)
		json_i64(j, "ordinal", g->ordinals[0]);
	else
		json_null(j, "ordinal");
	json_array(j, "ordinals");
	for (unsigned i = 0; i < g->nordinals; i++)
		json_i64(j, NULL, g->ordinals[i]);
	json_array_end(j);
	json_ring(j, g, rate);
	json_array(j, "members");
	for (unsigned i = 0; i < g->nmembers; i++)
		json_member(j, &g->members[i]);
	json_array_end(j);
	json_groups(j, g);
	json_object_end(j);
}

static void print_json(const struct gpu_set *set)
{
	struct timespec now;
	clock_gettime(CLOCK_REALTIME, &now);
	struct json j;
	json_start(&j, stdout);
	json_object(&j, NULL);
	json_u64(&j, "schema_version", 1);
	json_str(&j, "cuslice_version", cli_version);
	json_str(&j, "dir", set->dir);
	json_bool(&j, "dir_exists", !set->dir_missing);
	json_fixed(&j, "time", (double)now.tv_sec + now.tv_nsec / 1e9, 6);
	json_array(&j, "gpus");
	for (unsigned i = 0; i < set->n; i++)
		json_gpu(&j, &set->gpus[i], set->handoff_rate[i]);
	json_array_end(&j);
	json_array(&j, "errors");
	for (unsigned i = 0; i < set->nerrors; i++) {
		json_object(&j, NULL);
		json_str(&j, "file", set->errors[i].path);
		json_str(&j, "reason", set->errors[i].reason);
		json_object_end(&j);
	}
	json_array_end(&j);
	json_object_end(&j);
	json_finish(&j);
}

/* ---- the command ---- */

static int read_twice(struct gpu_set *set, const char *dir)
{
	struct gpu_set first;
	int err = gpus_read(&first, dir);
	if (err != 0)
		return err;
	if (first.n == 0) {
		*set = first;
		return 0;
	}
	usleep(STATUS_SAMPLE_MS * 1000);
	err = gpus_read(set, dir);
	if (err == 0)
		gpus_rates(set, &first);
	gpus_free(&first);
	return err;
}

struct status_opts {
	int as_json;
	const char *dir;
};

static int status_option(const struct cli_command *c, int opt, const char *value, void *arg)
{
	struct status_opts *o = arg;
	if (opt == 'j')
		o->as_json = 1;
	else
		o->dir = value;
	return 0;
}

int cmd_status(const struct cli_command *self, int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "json", no_argument, NULL, 'j' },
		{ "dir", required_argument, NULL, 'd' },
		{ NULL, 0, NULL, 0 },
	};
	struct status_opts o = { 0, NULL };
	int rc = cli_options(self, argc, argv, longopts, status_option, &o);
	if (rc != 0)
		return rc;
	int as_json = o.as_json;
	char dir[256];
	cli_dir(o.dir, dir, sizeof(dir));

	struct gpu_set set;
	int err = read_twice(&set, dir);
	if (err != 0) {
		fprintf(stderr, "cuslice status: cannot read the folder %s: %s\n", dir,
			strerror(-err));
		return EXIT_PROBLEM;
	}
	if (as_json)
		print_json(&set);
	else if (set.n == 0 && set.nerrors > 0)
		printf("No readable cuslice ring in %s.\n", dir);
	else if (set.n == 0)
		printf("No cuslice ring in %s: %s.\n", dir,
		       set.dir_missing ? "the folder does not exist (no process has used a GPU "
					 "through cuslice with this CUSLICE_DIR)"
				       : "no per-GPU file (no process has used a GPU through "
					 "cuslice with this CUSLICE_DIR)");
	else
		print_table(&set);
	gpus_report_errors(&set, "status");
	rc = set.nerrors ? EXIT_PROBLEM : 0;
	gpus_free(&set);
	return rc;
}
