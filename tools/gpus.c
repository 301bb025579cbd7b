/* gpus.c - snapshots of every per-GPU file of a folder; see cli.h. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "gpufile.h"

static int add_error(struct gpu_set *set, const char *path, const char *reason)
{
	struct gpu_error *e = &set->errors[set->nerrors++];
	snprintf(e->path, sizeof(e->path), "%s", path);
	snprintf(e->reason, sizeof(e->reason), "%s", reason);
	return 0;
}

/* A file whose header names another GPU than its name: the library never
 * opens it for either GPU (it looks for each at the name of its UUID), so
 * its contents would mislead. */
static int misnamed(const struct gpufile *g, const char *path, char *why, size_t len)
{
	char expect[SNAP_PATH_MAX];
	const char *base = strrchr(path, '/');
	base = base != NULL ? base + 1 : path;
	if (gpufile_name("", g->map->header.uuid, expect, sizeof(expect)) != 0)
		return 0;
	if (strcmp(base, expect + 1) == 0) /* expect is "/gpu-….shm" */
		return 0;
	snprintf(why, len, "is for GPU %.64s, not the GPU its name says (no process of "
		 "either GPU opens it)", g->map->header.uuid);
	return 1;
}

int gpus_read(struct gpu_set *set, const char *dir)
{
	memset(set, 0, sizeof(*set));
	snprintf(set->dir, sizeof(set->dir), "%s", dir);
	struct snap_files files;
	int err = snapshot_list(dir, &files);
	if (err == -ENOENT) {
		set->dir_missing = 1;
		return 0;
	}
	if (err != 0)
		return err;
	if (files.n == 0)
		return 0;
	set->gpus = calloc(files.n, sizeof(set->gpus[0]));
	set->errors = calloc(files.n, sizeof(set->errors[0]));
	set->handoff_rate = calloc(files.n, sizeof(set->handoff_rate[0]));
	if (set->gpus == NULL || set->errors == NULL || set->handoff_rate == NULL) {
		snapshot_files_free(&files);
		gpus_free(set);
		return -ENOMEM;
	}
	for (unsigned i = 0; i < files.n; i++) {
		struct gpufile g;
		char why[200] = "";
		if (gpufile_open_readonly(&g, files.paths[i], why, sizeof(why)) != 0) {
			add_error(set, files.paths[i], why);
			continue;
		}
		if (misnamed(&g, files.paths[i], why, sizeof(why))) {
			add_error(set, files.paths[i], why);
			gpufile_close(&g);
			continue;
		}
		if (snapshot_take(&g, &set->gpus[set->n]) != 0) {
			add_error(set, files.paths[i], "changed while being read: it was truncated "
				  "or overwritten (a member may have repaired it since)");
			gpufile_close(&g);
			continue;
		}
		set->handoff_rate[set->n] = -1;
		set->n++;
		gpufile_close(&g);
	}
	snapshot_files_free(&files);
	return 0;
}

void gpus_rates(struct gpu_set *now, const struct gpu_set *before)
{
	for (unsigned i = 0; i < now->n; i++) {
		const struct snap_gpu *a = &now->gpus[i];
		now->handoff_rate[i] = -1;
		for (unsigned j = 0; j < before->n; j++) {
			const struct snap_gpu *b = &before->gpus[j];
			if (strcmp(a->path, b->path) != 0 || a->created_unix_ns != b->created_unix_ns ||
			    a->taken_mono_ns <= b->taken_mono_ns)
				continue;
			now->handoff_rate[i] = snapshot_rate(b->handoffs, a->handoffs,
							     a->taken_mono_ns - b->taken_mono_ns);
		}
	}
}

void gpus_free(struct gpu_set *set)
{
	free(set->gpus);
	free(set->errors);
	free(set->handoff_rate);
	set->gpus = NULL;
	set->errors = NULL;
	set->handoff_rate = NULL;
	set->n = set->nerrors = 0;
}

void gpus_report_errors(const struct gpu_set *set, const char *cmd)
{
	fflush(stdout); /* after what was shown, when both go to one place */
	for (unsigned i = 0; i < set->nerrors; i++)
		fprintf(stderr, "cuslice %s: %s %s ('cuslice doctor' tells how to fix it)\n",
			cmd, set->errors[i].path, set->errors[i].reason);
}
