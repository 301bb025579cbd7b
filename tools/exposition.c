/* exposition.c - the text of `cuslice metrics`: Prometheus text exposition
 * format 0.0.4; the command itself is metrics.c.
 *
 * Each family is written once, # HELP and # TYPE first, then its samples for
 * every GPU. Units follow Prometheus conventions: seconds and bytes, ratios
 * 0..1, counters end in _total. Cardinality is bounded by the file layout:
 * member = slot index (at most CS_MEMBERS_MAX per GPU), group = a live
 * member's group, so a GPU never has more than 64 member series per family
 * however many processes come and go. Dead members (not yet reaped) are left
 * out: their series end, as a finished process's would.
 */
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "policy.h"

enum value_kind { V_INT, V_NS, V_RATIO, V_NONE /* no sample */ };

struct value {
	enum value_kind kind;
	uint64_t u;
	double d;
};

static struct value vint(uint64_t u)
{
	return (struct value){ V_INT, u, 0 };
}

static struct value vns(uint64_t ns)
{
	return (struct value){ V_NS, ns, 0 };
}

static struct value vratio(double d)
{
	return (struct value){ V_RATIO, 0, d };
}

static struct value vnone(void)
{
	return (struct value){ V_NONE, 0, 0 };
}

static void put_value(FILE *f, struct value v)
{
	if (v.kind == V_INT)
		fprintf(f, "%llu", (unsigned long long)v.u);
	else if (v.kind == V_NS) /* exact: seconds with nine decimals */
		fprintf(f, "%llu.%09llu", (unsigned long long)(v.u / 1000000000u),
			(unsigned long long)(v.u % 1000000000u));
	else
		fprintf(f, "%.6f", v.d);
}

static void family(FILE *f, const char *name, const char *type, const char *help)
{
	fprintf(f, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

static void put_label(FILE *f, const char *name, const char *value, int first)
{
	fprintf(f, "%s%s=\"", first ? "" : ",", name);
	for (const char *p = value; *p != '\0'; p++) {
		if (*p == '\\' || *p == '"')
			fprintf(f, "\\%c", *p);
		else if (*p == '\n')
			fputs("\\n", f);
		else
			fputc(*p, f);
	}
	fputc('"', f);
}

/* ---- per GPU ---- */

typedef struct value gpu_getter(const struct snap_gpu *g);

static struct value gpu_members(const struct snap_gpu *g) { return vint(g->nalive); }
static struct value gpu_dead(const struct snap_gpu *g) { return vint(g->ndead); }
static struct value gpu_slice(const struct snap_gpu *g) { return vns((uint64_t)g->slice_ms * 1000000u); }
static struct value gpu_handoffs(const struct snap_gpu *g) { return vint(g->handoffs); }
static struct value gpu_overruns(const struct snap_gpu *g) { return vint(g->overruns); }
static struct value gpu_revocations(const struct snap_gpu *g) { return vint(g->revocations); }
static struct value gpu_high(const struct snap_gpu *g) { return vratio(g->high_share); }
static struct value gpu_free(const struct snap_gpu *g) { return vint(g->holder < 0); }
/* The card's size is known once a live member has told it: no sample before. */
static struct value gpu_card(const struct snap_gpu *g)
{
	return g->card_total != 0 ? vint(g->card_total) : vnone();
}

static struct value gpu_caps(const struct snap_gpu *g)
{
	return g->card_total != 0 ? vint(g->caps_sum) : vnone();
}

static const struct {
	const char *name, *type, *help;
	gpu_getter *get;
} gpu_metrics[] = {
	{ "cuslice_ring_members", "gauge", "Live member processes of the GPU's ring.", gpu_members },
	{ "cuslice_ring_dead_members", "gauge",
	  "Members that died and whose slot is not reaped yet.", gpu_dead },
	{ "cuslice_ring_slice_seconds", "gauge", "Time slice of the ring.", gpu_slice },
	{ "cuslice_ring_token_free", "gauge", "1 when no member holds the token.", gpu_free },
	{ "cuslice_ring_handoffs_total", "counter", "Token hand-offs between members.",
	  gpu_handoffs },
	{ "cuslice_ring_overruns_total", "counter", "Drains that hit the drain timeout.",
	  gpu_overruns },
	{ "cuslice_ring_revocations_total", "counter",
	  "Tokens taken from dead or stuck holders.", gpu_revocations },
	{ "cuslice_ring_high_priority_ratio", "gauge",
	  "GPU time of high-priority members over the last 1 s window (0..1).", gpu_high },
	{ "cuslice_gpu_memory_total_bytes", "gauge",
	  "Device memory of the card, as its members' driver reports it.", gpu_card },
	{ "cuslice_gpu_memory_caps_bytes", "gauge",
	  "Sum of the memory caps in force on the card: each group's once, each lone "
	  "member's own.", gpu_caps },
};

static void gpu_labels(FILE *f, const struct snap_gpu *g)
{
	put_label(f, "gpu_uuid", g->uuid, 1);
}

static void gpu_families(FILE *f, const struct gpu_set *set)
{
	for (size_t k = 0; k < sizeof(gpu_metrics) / sizeof(gpu_metrics[0]); k++) {
		family(f, gpu_metrics[k].name, gpu_metrics[k].type, gpu_metrics[k].help);
		for (unsigned i = 0; i < set->n; i++) {
			struct value v = gpu_metrics[k].get(&set->gpus[i]);
			if (v.kind == V_NONE)
				continue;
			fprintf(f, "%s{", gpu_metrics[k].name);
			gpu_labels(f, &set->gpus[i]);
			fputs("} ", f);
			put_value(f, v);
			fputc('\n', f);
		}
	}
}

/* ---- per member ---- */

typedef int member_getter(const struct snap_member *m, struct value *v);

#define GETTER(fn, expr) \
	static int fn(const struct snap_member *m, struct value *v) { *v = (expr); return 1; }

GETTER(m_start, vns(m->join_unix_ns))
GETTER(m_weight, vint(m->weight))
GETTER(m_gpu, vns(m->held_total_ns))
GETTER(m_share, vratio(m->share_window))
GETTER(m_grants, vint(m->grants))
GETTER(m_launches, vint(m->launches))
GETTER(m_overruns, vint(m->overruns))
GETTER(m_used, vint(m->charged))
GETTER(m_peak, vint(m->peak))
GETTER(m_refusals, vint(m->refusals))
GETTER(m_allocations, vint(m->allocations))

static int m_cap(const struct snap_member *m, struct value *v)
{
	*v = vint(m->group_cap);
	return m->group_cap != 0; /* no cap: no sample */
}

static const struct {
	const char *name, *type, *help;
	member_getter *get;
} member_metrics[] = {
	{ "cuslice_member_start_time_seconds", "gauge",
	  "When the member joined (Unix time); a new value means a new process in the slot.",
	  m_start },
	{ "cuslice_member_weight", "gauge", "Weight of the member's share of GPU time.", m_weight },
	{ "cuslice_member_gpu_seconds_total", "counter",
	  "Time the member held the token (its work ran or drained).", m_gpu },
	{ "cuslice_member_gpu_share_ratio", "gauge",
	  "Share of GPU time over the last 10 s (0..1).", m_share },
	{ "cuslice_member_grants_total", "counter", "Times the member got the token.", m_grants },
	{ "cuslice_member_launches_total", "counter", "Kernel and graph launches.", m_launches },
	{ "cuslice_member_overruns_total", "counter",
	  "The member's drains that hit the drain timeout.", m_overruns },
	{ "cuslice_member_memory_used_bytes", "gauge", "Device memory charged to the member.",
	  m_used },
	{ "cuslice_member_memory_peak_bytes", "gauge",
	  "Most device memory charged to the member at once.", m_peak },
	{ "cuslice_member_memory_cap_bytes", "gauge",
	  "Memory cap in force for the member (its group's); absent when none.", m_cap },
	{ "cuslice_member_oom_refusals_total", "counter",
	  "Allocations refused because they would pass the cap.", m_refusals },
	{ "cuslice_member_allocations_total", "counter", "Device memory allocations.",
	  m_allocations },
};

static void member_labels(FILE *f, const struct snap_gpu *g, const struct snap_member *m)
{
	char slot[16];
	snprintf(slot, sizeof(slot), "%u", m->slot);
	put_label(f, "gpu_uuid", g->uuid, 1);
	put_label(f, "member", slot, 0);
	put_label(f, "group", m->group, 0);
	/* The pod's, from CUSLICE_POD_NAMESPACE/NAME: "" (no label) when unset. */
	put_label(f, "namespace", m->pod_namespace, 0);
	put_label(f, "pod", m->pod_name, 0);
}

/* Where each member's cap, weight and priority came from (policy.h). */
static void member_sources(FILE *f, const struct gpu_set *set)
{
	static const char *const settings[] = { "memory", "weight", "priority" };
	family(f, "cuslice_member_setting_source", "gauge",
	       "Always 1: where the member's memory cap, weight and priority came from: "
	       "env (its own variable), policy (the node policy) or default.");
	for (unsigned i = 0; i < set->n; i++) {
		const struct snap_gpu *g = &set->gpus[i];
		for (unsigned k = 0; k < g->nmembers; k++) {
			const struct snap_member *m = &g->members[k];
			const uint8_t src[] = { m->src_mem, m->src_weight, m->src_priority };
			for (unsigned s = 0; m->alive && s < 3; s++) {
				if (src[s] == 0)
					continue; /* not recorded by the member's library */
				fputs("cuslice_member_setting_source{", f);
				member_labels(f, g, m);
				put_label(f, "setting", settings[s], 0);
				put_label(f, "source", policy_source_name(src[s] - 1), 0);
				fputs("} 1\n", f);
			}
		}
	}
}

static void member_info(FILE *f, const struct gpu_set *set)
{
	family(f, "cuslice_member_info", "gauge",
	       "Always 1: the member's pid (its own namespace), host pid (0: unknown), "
	       "priority and CUDA ordinal.");
	for (unsigned i = 0; i < set->n; i++) {
		const struct snap_gpu *g = &set->gpus[i];
		for (unsigned k = 0; k < g->nmembers; k++) {
			const struct snap_member *m = &g->members[k];
			char pid[16], host[16], ord[16];
			if (!m->alive)
				continue;
			snprintf(pid, sizeof(pid), "%u", m->pid);
			snprintf(host, sizeof(host), "%u", m->host_pid);
			snprintf(ord, sizeof(ord), "%d", m->ordinal);
			fputs("cuslice_member_info{", f);
			member_labels(f, g, m);
			put_label(f, "pid", pid, 0);
			put_label(f, "host_pid", host, 0);
			put_label(f, "priority", snapshot_priority_name(m->priority), 0);
			put_label(f, "ordinal", ord, 0);
			fputs("} 1\n", f);
		}
	}
}

static void member_state(FILE *f, const struct gpu_set *set)
{
	static const enum snap_state states[] = { SNAP_HOLDING, SNAP_WAITING, SNAP_IDLE };
	family(f, "cuslice_member_state", "gauge",
	       "1 for the member's state: holding the token, waiting for it, or idle.");
	for (unsigned i = 0; i < set->n; i++) {
		const struct snap_gpu *g = &set->gpus[i];
		for (unsigned k = 0; k < g->nmembers; k++) {
			const struct snap_member *m = &g->members[k];
			for (unsigned s = 0; m->alive && s < 3; s++) {
				fputs("cuslice_member_state{", f);
				member_labels(f, g, m);
				put_label(f, "state", snapshot_state_name(states[s]), 0);
				fprintf(f, "} %d\n", m->state == states[s]);
			}
		}
	}
}

/* le of every other wait bucket: 1us, 4us, 16us, ... 4.194304s. */
static void put_le(FILE *f, unsigned b)
{
	uint64_t us = UINT64_C(1) << b;
	char frac[8];
	snprintf(frac, sizeof(frac), "%06llu", (unsigned long long)(us % 1000000u));
	for (int i = 5; i > 0 && frac[i] == '0'; i--)
		frac[i] = '\0';
	fprintf(f, "%llu.%s", (unsigned long long)(us / 1000000u), frac);
}

static void member_waits(FILE *f, const struct gpu_set *set)
{
	const char *name = "cuslice_member_wait_seconds";
	family(f, name, "histogram", "Time the member waited for the token, per grant.");
	for (unsigned i = 0; i < set->n; i++) {
		const struct snap_gpu *g = &set->gpus[i];
		for (unsigned k = 0; k < g->nmembers; k++) {
			const struct snap_member *m = &g->members[k];
			if (!m->alive)
				continue;
			uint64_t cum = 0;
			for (unsigned b = 0; b < CS_WAIT_BUCKETS - 1; b++) {
				cum += m->wait_hist[b]; /* bucket b: waits < 2^b us */
				if (b % 2 != 0)
					continue;
				fprintf(f, "%s_bucket{", name);
				member_labels(f, g, m);
				fputs(",le=\"", f);
				put_le(f, b);
				fprintf(f, "\"} %llu\n", (unsigned long long)cum);
			}
			fprintf(f, "%s_bucket{", name);
			member_labels(f, g, m);
			fprintf(f, ",le=\"+Inf\"} %llu\n", (unsigned long long)m->waits);
			fprintf(f, "%s_sum{", name);
			member_labels(f, g, m);
			fputs("} ", f);
			put_value(f, vns(m->waited_ns));
			fprintf(f, "\n%s_count{", name);
			member_labels(f, g, m);
			fprintf(f, "} %llu\n", (unsigned long long)m->waits);
		}
	}
}

static void member_families(FILE *f, const struct gpu_set *set)
{
	member_info(f, set);
	member_state(f, set);
	member_sources(f, set);
	for (size_t k = 0; k < sizeof(member_metrics) / sizeof(member_metrics[0]); k++) {
		family(f, member_metrics[k].name, member_metrics[k].type, member_metrics[k].help);
		for (unsigned i = 0; i < set->n; i++) {
			const struct snap_gpu *g = &set->gpus[i];
			for (unsigned j = 0; j < g->nmembers; j++) {
				const struct snap_member *m = &g->members[j];
				struct value v;
				if (!m->alive || !member_metrics[k].get(m, &v))
					continue;
				fprintf(f, "%s{", member_metrics[k].name);
				member_labels(f, g, m);
				fputs("} ", f);
				put_value(f, v);
				fputc('\n', f);
			}
		}
	}
	member_waits(f, set);
}

/* ---- per group ---- */

static void group_families(FILE *f, const struct gpu_set *set)
{
	static const struct {
		const char *name, *help;
	} fams[] = {
		{ "cuslice_group_members", "Live members of the memory group." },
		{ "cuslice_group_memory_used_bytes", "Device memory charged to the group's members." },
		{ "cuslice_group_memory_cap_bytes",
		  "The group's cap: the smallest cap its members declared; absent when none." },
	};
	for (unsigned k = 0; k < 3; k++) {
		family(f, fams[k].name, "gauge", fams[k].help);
		for (unsigned i = 0; i < set->n; i++) {
			const struct snap_gpu *g = &set->gpus[i];
			for (unsigned j = 0; j < g->ngroups; j++) {
				const struct snap_group *gr = &g->groups[j];
				uint64_t v = k == 0 ? gr->members : k == 1 ? gr->used : gr->cap;
				if (k == 2 && v == 0)
					continue;
				fprintf(f, "%s{", fams[k].name);
				put_label(f, "gpu_uuid", g->uuid, 1);
				put_label(f, "group", gr->name, 0);
				fprintf(f, "} %llu\n", (unsigned long long)v);
			}
		}
	}
}

char *metrics_render(const struct gpu_set *set, size_t *len)
{
	char *text = NULL;
	FILE *f = open_memstream(&text, len);
	if (f == NULL)
		return NULL;
	family(f, "cuslice_build_info", "gauge", "Always 1: the version of cuslice.");
	fputs("cuslice_build_info{", f);
	put_label(f, "version", cli_version, 1);
	fputs("} 1\n", f);
	family(f, "cuslice_gpu_files", "gauge", "Per-GPU files read from the folder.");
	fprintf(f, "cuslice_gpu_files %u\n", set->n);
	family(f, "cuslice_files_unreadable", "gauge",
	       "Per-GPU files that are corrupt, foreign or unreadable (cuslice doctor tells why).");
	fprintf(f, "cuslice_files_unreadable %u\n", set->nerrors);
	gpu_families(f, set);
	member_families(f, set);
	group_families(f, set);
	if (fclose(f) != 0) {
		free(text);
		return NULL;
	}
	return text;
}

