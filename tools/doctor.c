/* doctor.c - `cuslice doctor`: checks the setup and says how to fix it.
 *
 * Every check prints one line, [ ok ], [warn] or [FAIL], and a problem is
 * followed by its fix. Nothing is changed: the folder is tested by creating
 * and removing a temporary file, the files are opened read-only, and the
 * preload probe runs cuslice itself (`cuslice __probe`, which makes no CUDA
 * call) under the library with CUSLICE_TRACE in a temporary folder.
 */
#include <dirent.h>
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <link.h>
#include <signal.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cli.h"
#include "config.h"
#include "gpufile.h"
#include "policy.h"

enum level { OK, WARN, FAIL };

struct doctor {
	unsigned warns, fails;
};

static void say(struct doctor *d, enum level lv, const char *fix, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

static void say(struct doctor *d, enum level lv, const char *fix, const char *fmt, ...)
{
	static const char *const tags[] = { "[ ok ]", "[warn]", "[FAIL]" };
	va_list ap;
	printf("%s ", tags[lv]);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	printf("\n");
	if (fix != NULL && lv != OK)
		printf("       fix: %s\n", fix);
	d->warns += lv == WARN;
	d->fails += lv == FAIL;
}

/* ---- CUSLICE_* of this environment ---- */

struct one_var {
	const char *name, *value;
};

static const char *only_one(const char *name, void *arg)
{
	const struct one_var *v = arg;
	return strcmp(name, v->name) == 0 ? v->value : NULL;
}

static void check_env(struct doctor *d)
{
	size_t n;
	const struct config_var *vars = config_vars(&n);
	unsigned set = 0, bad = 0;
	for (size_t i = 0; i < n; i++) {
		struct one_var v = { vars[i].name, getenv(vars[i].name) };
		struct cs_config cfg;
		if (v.value == NULL)
			continue;
		set++;
		if (config_load(&cfg, only_one, &v) == 0)
			continue;
		bad++;
		char fix[512];
		snprintf(fix, sizeof(fix), "set %s to %s (default %s), or unset it", v.name,
			 vars[i].type, vars[i].def);
		say(d, FAIL, fix, "environment: %s='%s' is not valid; the library %s", v.name,
		    v.value, strcmp(v.name, "CUSLICE_MEM_LIMIT") == 0
				     ? "refuses every allocation until it is fixed"
				     : "uses the default instead");
	}
	if (bad == 0)
		say(d, OK, NULL, "environment: %u CUSLICE_* variable%s set, all valid", set,
		    set == 1 ? "" : "s");
}

/* ---- the driver ---- */

static void check_driver(struct doctor *d)
{
	const char *llp = getenv("LD_LIBRARY_PATH");
	void *h = dlopen("libcuda.so.1", RTLD_NOW | RTLD_LOCAL);
	if (h == NULL) {
		char fix[1024];
		snprintf(fix, sizeof(fix),
			 "install the NVIDIA driver (it provides libcuda.so.1; in a container, "
			 "run it with the NVIDIA container toolkit, e.g. --gpus). If it is "
			 "installed in a folder the loader does not search, add that folder to "
			 "LD_LIBRARY_PATH (now: %s) or to /etc/ld.so.conf.d and run ldconfig.",
			 llp && llp[0] ? llp : "unset");
		say(d, FAIL, fix, "driver: libcuda.so.1 cannot be loaded: %s", dlerror());
		return;
	}
	char where[PATH_MAX] = "?";
	struct link_map *lm = NULL;
	if (dlinfo(h, RTLD_DI_LINKMAP, &lm) == 0 && lm != NULL && lm->l_name != NULL)
		snprintf(where, sizeof(where), "%s", lm->l_name);
	int (*version)(int *) = (int (*)(int *))dlsym(h, "cuDriverGetVersion");
	int (*init)(unsigned) = (int (*)(unsigned))dlsym(h, "cuInit");
	int (*count)(int *) = (int (*)(int *))dlsym(h, "cuDeviceGetCount");
	int v = 0, rc;
	if (version == NULL || (rc = version(&v)) != 0) {
		say(d, FAIL, "reinstall the NVIDIA driver: this libcuda.so.1 is broken or not "
			     "NVIDIA's", "driver: %s does not answer cuDriverGetVersion", where);
		goto close;
	}
	say(d, OK, NULL, "driver: %s, CUDA driver API %d.%d%s%s", where, v / 1000, (v % 1000) / 10,
	    llp && llp[0] ? ", LD_LIBRARY_PATH=" : "", llp && llp[0] ? llp : "");
	int gpus = 0;
	if (init == NULL || count == NULL || (rc = init(0)) != 0 || (rc = count(&gpus)) != 0) {
		char why[64];
		snprintf(why, sizeof(why), "cuInit/cuDeviceGetCount returned %d", rc);
		say(d, FAIL, "check that nvidia-smi sees the GPU, that /dev/nvidia* are "
			     "accessible, and CUDA_VISIBLE_DEVICES",
		    "driver: no usable GPU (%s%s)", why, rc == 100 ? ": no device" : "");
		goto close;
	}
	if (gpus == 0)
		say(d, FAIL, "check nvidia-smi and CUDA_VISIBLE_DEVICES", "driver: it sees no GPU");
	else
		say(d, OK, NULL, "driver: %d GPU%s visible", gpus, gpus == 1 ? "" : "s");
close:
	dlclose(h);
}

/* ---- the library and LD_PRELOAD ---- */

/* Runs `cuslice __probe` under lib; its output (ld.so errors included) goes
 * to out. Returns the child's wait status, or -1. */
static int run_probe(const char *lib, const char *trace, const char *dir, char *out,
		     size_t len)
{
	int pipefd[2];
	if (pipe2(pipefd, O_CLOEXEC) != 0)
		return -1;
	fflush(stdout);
	pid_t pid = fork();
	if (pid < 0) {
		close(pipefd[0]);
		close(pipefd[1]);
		return -1;
	}
	if (pid == 0) {
		dup2(pipefd[1], STDOUT_FILENO);
		dup2(pipefd[1], STDERR_FILENO);
		setenv("LD_PRELOAD", lib, 1);
		setenv("CUSLICE_TRACE", trace, 1);
		setenv("CUSLICE_DIR", dir, 1);
		setenv("CUSLICE_LOG", "error", 1);
		execl("/proc/self/exe", "cuslice", "__probe", (char *)NULL);
		_exit(127);
	}
	close(pipefd[1]);
	size_t used = 0;
	ssize_t r;
	while ((r = read(pipefd[0], out + used, len - 1 - used)) > 0 || (r < 0 && errno == EINTR))
		used += r > 0 ? (size_t)r : 0;
	out[used] = '\0';
	close(pipefd[0]);
	int status;
	while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
		;
	return status;
}

static unsigned count_lines(const char *path)
{
	FILE *f = fopen(path, "re");
	unsigned n = 0;
	int c;
	if (f == NULL)
		return 0;
	while ((c = fgetc(f)) != EOF)
		n += c == '\n';
	fclose(f);
	return n;
}

static void check_preload(struct doctor *d, const char *dir)
{
	char lib[PATH_MAX], tried[2048];
	if (libpath_find(lib, sizeof(lib), tried, sizeof(tried)) != 0) {
		say(d, FAIL, "reinstall cuslice (libcuslice.so belongs in the library folder of "
			     "its prefix), or set CUSLICE_LIB to the library's path",
		    "library: libcuslice.so not found; looked at:\n%s", tried);
		return;
	}
	say(d, OK, NULL, "library: %s", lib);
	char tmp[] = "/tmp/cuslice-doctor-XXXXXX";
	if (mkdtemp(tmp) == NULL) {
		say(d, WARN, "make /tmp writable", "preload: cannot make a temporary folder: %s",
		    strerror(errno));
		return;
	}
	char trace[sizeof(tmp) + 16], out[4096];
	snprintf(trace, sizeof(trace), "%s/trace", tmp);
	int status = run_probe(lib, trace, dir, out, sizeof(out));
	unsigned symbols = count_lines(trace);
	int wrote = access(trace, F_OK) == 0;
	unlink(trace);
	rmdir(tmp);
	for (char *p = out + strlen(out); p > out && p[-1] == '\n'; p--)
		p[-1] = '\0';
	if (wrote && symbols > 0) {
		say(d, OK, NULL, "preload: LD_PRELOAD takes effect: a child process under the "
				 "library wrote its CUSLICE_TRACE (%u symbols counted)", symbols);
		return;
	}
	say(d, FAIL, "check that the library is a shared object for this machine (file, ldd "
		     "on it); LD_PRELOAD is ignored for setuid programs; a wrapper that clears "
		     "the environment drops it",
	    "preload: a child process run with LD_PRELOAD=%s wrote no trace (exit status "
	    "%d)%s%s", lib, status >= 0 && WIFEXITED(status) ? WEXITSTATUS(status) : -1,
	    out[0] ? "; it said:\n       " : "", out);
}

/* ---- the folder ---- */

/* The nearest existing ancestor of path (path itself if it exists). */
static void existing_ancestor(const char *path, char *out, size_t len)
{
	snprintf(out, len, "%s", path);
	struct stat st;
	while (stat(out, &st) != 0) {
		char *slash = strrchr(out, '/');
		if (slash == NULL) {
			snprintf(out, len, ".");
			return;
		}
		if (slash == out) {
			out[1] = '\0';
			return;
		}
		*slash = '\0';
	}
}

static int check_missing_dir(struct doctor *d, const char *dir)
{
	char anc[PATH_MAX];
	existing_ancestor(dir, anc, sizeof(anc));
	struct stat st;
	char fix[PATH_MAX + 256];
	if (stat(anc, &st) == 0 && !S_ISDIR(st.st_mode)) {
		snprintf(fix, sizeof(fix), "point CUSLICE_DIR (or --dir) at a folder, e.g. the "
					   "default %s; %s is a file", DEFAULT_DIR, anc);
		say(d, FAIL, fix, "folder: %s cannot be created: %s is not a folder", dir, anc);
		return -1;
	}
	if (access(anc, W_OK | X_OK) != 0) {
		snprintf(fix, sizeof(fix), "create it once as root: mkdir -m 1777 %s", dir);
		say(d, FAIL, fix, "folder: %s does not exist and cannot be created (%s: %s)", dir,
		    anc, strerror(errno));
		return -1;
	}
	say(d, OK, NULL, "folder: %s does not exist yet; the first process creates it (mode "
			 "1777)", dir);
	return 1;
}

/* Returns 0 when the folder can hold the files, 1 when it does not exist
 * yet, -1 when it cannot be used. */
static int check_dir(struct doctor *d, const char *dir)
{
	struct stat st;
	char fix[PATH_MAX + 256];
	if (stat(dir, &st) != 0) {
		if (errno == ENOENT)
			return check_missing_dir(d, dir);
		snprintf(fix, sizeof(fix), "point CUSLICE_DIR (or --dir) at a folder every GPU "
					   "process can write, e.g. %s", DEFAULT_DIR);
		say(d, FAIL, fix, "folder: %s cannot be used: %s", dir, strerror(errno));
		return -1;
	}
	if (!S_ISDIR(st.st_mode)) {
		snprintf(fix, sizeof(fix), "point CUSLICE_DIR (or --dir) at a folder, e.g. %s",
			 DEFAULT_DIR);
		say(d, FAIL, fix, "folder: %s is not a folder", dir);
		return -1;
	}
	/* The library's own checks: link, owner, sticky bit. */
	char why[PATH_MAX + 400];
	int dfd = gpufile_open_dir(dir, &st, why, sizeof(why));
	if (dfd < 0) {
		snprintf(fix, sizeof(fix), "the library refuses this folder and every process runs "
					   "unthrottled: fix what the message names");
		say(d, FAIL, fix, "folder: the per-GPU files %s", why);
		return -1;
	}
	close(dfd);
	char probe[PATH_MAX];
	snprintf(probe, sizeof(probe), "%s/.cuslice-doctor-XXXXXX", dir);
	int fd = mkstemp(probe);
	if (fd < 0) {
		int err = errno;
		if (err == EROFS)
			snprintf(fix, sizeof(fix), "mount it read-write (in Kubernetes: the "
						   "hostPath volume without readOnly)");
		else
			snprintf(fix, sizeof(fix), "chmod 1777 %s (as its owner or root), or point "
						   "CUSLICE_DIR at a writable folder", dir);
		say(d, FAIL, fix, "folder: %s is not writable: %s; processes there run "
				  "unthrottled, with per-process memory caps only", dir,
		    strerror(err));
		return -1;
	}
	close(fd);
	unlink(probe);
	unsigned mode = st.st_mode & 07777;
	if (mode != 01777) {
		snprintf(fix, sizeof(fix), "chmod 1777 %s", dir);
		say(d, WARN, fix, "folder: %s is writable, but its mode is %04o (owner uid %u): "
				  "%s", dir, mode, (unsigned)st.st_uid,
		    (mode & 0002) ? "anyone may delete anyone's files (no sticky bit)"
				  : "processes of other users cannot create files there");
		return 0;
	}
	say(d, OK, NULL, "folder: %s is writable, mode 1777", dir);
	return 0;
}

/* ---- the files ---- */

static void check_one_file(struct doctor *d, const char *dir, const char *path)
{
	struct gpufile g;
	char why[200] = "", fix[1024];
	if (gpufile_open_readonly(&g, path, why, sizeof(why)) != 0) {
		snprintf(fix, sizeof(fix),
			 strstr(why, "ABI") != NULL
				 ? "run one cuslice version on the node; once no process uses the "
				   "GPU, rm %s (the next process creates a new one)"
				 : "no cuslice process can share this GPU while it is there (they run "
				   "unthrottled); once no process uses the GPU, rm %s (the next "
				   "process creates a new one)", path);
		say(d, FAIL, fix, "file: %s %s", path, why);
		return;
	}
	char expect[SNAP_PATH_MAX];
	struct snap_gpu *s = malloc(sizeof(*s));
	if (s == NULL || gpufile_name(dir, g.map->header.uuid, expect, sizeof(expect)) != 0) {
		free(s);
		gpufile_close(&g);
		return;
	}
	snapshot_take(&g, s);
	int writable = access(path, R_OK | W_OK) == 0;
	gpufile_close(&g);
	if (strcmp(expect, path) != 0) {
		snprintf(fix, sizeof(fix), "once no process uses the GPU, rm %s", path);
		say(d, FAIL, fix, "file: %s is for GPU %s, but the library looks for that GPU at %s",
		    path, s->uuid, expect);
	} else if (s->nmembers > 0 && s->nalive == 0) {
		snprintf(fix, sizeof(fix), "nothing is needed: the next process on this GPU reaps "
					   "them; to clean up now, rm %s while no process uses the GPU",
			 path);
		say(d, WARN, fix, "file: %s is stale: all %u member%s dead (memory charges and the "
				  "token are returned when the next process joins)", path, s->nmembers,
		    s->nmembers == 1 ? " is" : "s are");
	} else if (!writable) {
		snprintf(fix, sizeof(fix), "chmod 0666 %s", path);
		say(d, WARN, fix, "file: %s is not writable for this user: its processes run "
				  "unthrottled there", path);
	} else {
		say(d, OK, NULL, "file: %s: GPU %s, %u live member%s%s", path, s->uuid, s->nalive,
		    s->nalive == 1 ? "" : "s", s->ndead ? ", dead ones will be reaped" : "");
	}
	free(s);
}

/* gpu-*.shm.new.<pid> of a creator that died between creating and linking. */
static void check_leftovers(struct doctor *d, const char *dir)
{
	DIR *dp = opendir(dir);
	if (dp == NULL)
		return;
	for (struct dirent *e = readdir(dp); e != NULL; e = readdir(dp)) {
		const char *mark = strstr(e->d_name, ".shm.new.");
		if (strncmp(e->d_name, "gpu-", 4) != 0 || mark == NULL)
			continue;
		long pid = strtol(mark + 9, NULL, 10);
		if (pid > 0 && (kill((pid_t)pid, 0) == 0 || errno == EPERM))
			continue; /* its creator is still at work */
		char fix[PATH_MAX + 16];
		snprintf(fix, sizeof(fix), "rm %s/%s", dir, e->d_name);
		say(d, WARN, fix, "file: %s/%s was left by a process that died while creating it",
		    dir, e->d_name);
	}
	closedir(dp);
}

static void check_files(struct doctor *d, const char *dir)
{
	struct snap_files files;
	int err = snapshot_list(dir, &files);
	if (err != 0) {
		say(d, FAIL, "make the folder readable", "files: cannot list %s: %s", dir,
		    strerror(-err));
		return;
	}
	if (files.n == 0)
		say(d, OK, NULL, "files: no per-GPU file yet (no process has used a GPU here)");
	for (unsigned i = 0; i < files.n; i++)
		check_one_file(d, dir, files.paths[i]);
	snapshot_files_free(&files);
	check_leftovers(d, dir);
}

/* ---- the node policy ---- */

struct policy_says {
	struct doctor *d;
	unsigned problems;
};

static void policy_problem(const char *msg, void *arg)
{
	struct policy_says *p = arg;
	say(p->d, FAIL, "correct the file (cuslice policy check FILE), then reinstall it with "
			"cuslice policy install FILE", "policy: %s", msg);
	p->problems++;
}

static const char *no_variable(const char *name, void *arg)
{
	(void)name, (void)arg;
	return NULL;
}

static void check_policy(struct doctor *d, const char *dir)
{
	struct node_policy p;
	struct policy_says says = { d, 0 };
	if (policy_read(dir, &p, policy_problem, &says) == -ENOENT) {
		say(d, OK, NULL, "policy: no %s/%s (processes use their own settings and the "
				 "defaults)", dir, POLICY_FILE);
		return;
	}
	struct cs_config scratch;
	config_load(&scratch, no_variable, NULL);
	policy_apply(&p, &scratch, policy_problem, &says);
	if (says.problems != 0)
		return;
	char text[400] = "";
	size_t o = 0;
	for (unsigned i = 0; i < p.n && o < sizeof(text); i++)
		o += (size_t)snprintf(text + o, sizeof(text) - o, "%s%s=%s", i ? ", " : "",
				      p.entries[i].name, p.entries[i].value);
	say(d, OK, NULL, "policy: %s/%s gives %s", dir, POLICY_FILE, p.n ? text : "nothing");
}

static int doctor_option(const struct cli_command *c, int opt, const char *value, void *arg)
{
	*(const char **)arg = value; /* --dir, the only option */
	return 0;
}

int cmd_doctor(const struct cli_command *self, int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "dir", required_argument, NULL, 'd' },
		{ NULL, 0, NULL, 0 },
	};
	const char *dir_opt = NULL;
	int rc = cli_options(self, argc, argv, longopts, doctor_option, &dir_opt);
	if (rc != 0)
		return rc;
	char dir[256];
	cli_dir(dir_opt, dir, sizeof(dir));
	struct doctor d = { 0, 0 };
	check_env(&d);
	check_driver(&d);
	check_preload(&d, dir);
	if (check_dir(&d, dir) == 0) {
		check_policy(&d, dir);
		check_files(&d, dir);
	}
	printf("\n%u problem%s, %u warning%s.\n", d.fails, d.fails == 1 ? "" : "s", d.warns,
	       d.warns == 1 ? "" : "s");
	return d.fails ? EXIT_PROBLEM : 0;
}
