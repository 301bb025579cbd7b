/* cli.h - the `cuslice` command: its subcommands and what they share.
 *
 * Every word a user can read in --help lives in one table, commands[] in
 * commands.c; docs/cli.md is generated from the built binary's help
 * (tools/gen-cli-doc.sh), so the two cannot drift apart.
 *
 * Files and what they may call, so that no two lean on each other:
 * cuslice.c (main) -> commands.c (the table, `help`) -> each subcommand's
 * file and help.c (overview, topics) -> usage.c (usage lines, errors, the
 * option loop), common.c (version, folder) and the readers (gpus.c,
 * snapshot.h). A subcommand gets its own table entry as `self` and never
 * looks the table up.
 *
 * Conventions of every subcommand: program output on stdout, messages on
 * stderr prefixed "cuslice <command>: ". Exit status 0 on success, 1 when
 * something is wrong (a corrupt file, a failed check), 2 for a usage error.
 */
#ifndef CUSLICE_CLI_H
#define CUSLICE_CLI_H

#include <stdio.h>

#include "cuslice.h"
#include "snapshot.h"

enum { EXIT_PROBLEM = 1, EXIT_USAGE = 2 };

#define DEFAULT_DIR CUSLICE_DEFAULT_DIR

/* common.c */
extern const char cli_version[]; /* "0.1.0" */

struct cli_option {
	const char *flags;     /* "--mem SIZE" */
	const char *help;
};

struct cli_command {
	const char *name;
	const char *args;      /* what follows the name in the usage line */
	const char *summary;   /* one line */
	const struct cli_option *options; /* ends with { NULL, NULL } */
	const char *details;   /* paragraphs after the options, may be NULL */
	int (*main)(const struct cli_command *self, int argc, char **argv);
	int own_help;          /* --help after the options is an operand's (run) */
};

/* commands.c: the table, ending with an entry whose name is NULL. */
const struct cli_command *cli_commands(void);
/* The entry of a command, or NULL. */
const struct cli_command *cli_find(const char *name);

/* help.c */
void cli_overview(FILE *out, const struct cli_command *commands);
/* A topic of `cuslice help TOPIC`; returns nonzero when it exists. */
int cli_topic(FILE *out, const char *topic);

/* usage.c */
/* Writes text wrapped at width, every line indented by indent; the cursor
 * is at first_col. */
void cli_wrap(FILE *out, const char *text, int indent, int first_col, int width);
/* The usage line, the options and the details of c. */
void cli_usage(FILE *out, const struct cli_command *c);
/* Reports a usage error for command c and returns EXIT_USAGE. */
int cli_usage_error(const struct cli_command *c, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
/* The usage error for what getopt_long returned for a bad option: ':' for
 * a missing value, anything else for an unknown option. */
int cli_option_error(const struct cli_command *c, int opt, char **argv);
/* Returns 0 when getopt consumed every argument, else the usage error for
 * the first one left over. */
int cli_no_operands(const struct cli_command *c, int argc, char **argv);
/* Handles "--help" in argv; returns 1 when help was printed. */
int cli_wants_help(const struct cli_command *c, int argc, char **argv);

struct option;
/* Called for each option found: opt is its val in longopts, value its
 * argument or NULL. Returns 0, or an exit status that ends the parse (after
 * reporting a usage error: cli_usage_error). */
typedef int cli_option_fn(const struct cli_command *c, int opt, const char *value, void *arg);

/* The option loop of a subcommand that takes no operands: getopt_long over
 * argv with longopts, on() for each option. Returns 0, or the exit status
 * of the first usage error (a bad option, a missing value, what on()
 * refused, a leftover operand), already reported. */
int cli_options(const struct cli_command *c, int argc, char **argv, const struct option *longopts,
		cli_option_fn *on, void *arg);

/* Subcommands: self is the command's own entry. */
int cmd_run(const struct cli_command *self, int argc, char **argv);
int cmd_status(const struct cli_command *self, int argc, char **argv);
int cmd_top(const struct cli_command *self, int argc, char **argv);
int cmd_metrics(const struct cli_command *self, int argc, char **argv);
int cmd_doctor(const struct cli_command *self, int argc, char **argv);
int cmd_policy(const struct cli_command *self, int argc, char **argv);

/* common.c: the folder of the per-GPU files: --dir, else CUSLICE_DIR, else the
 * default. Writes it to out. Exits with EXIT_USAGE and a message when
 * CUSLICE_DIR is set but not usable (never the default folder instead). */
void cli_dir(const char *option, char *out, size_t len);

/* libpath.c: the libcuslice.so to preload. Returns 0 with its absolute
 * path in out, or -ENOENT with the places tried in tried. */
int libpath_find(char *out, size_t len, char *tried, size_t triedlen);

/* gpus.c: snapshots of every per-GPU file of a folder. */
struct gpu_error {
	char path[SNAP_PATH_MAX];
	char reason[200];
};

struct gpu_set {
	char dir[256];
	int dir_missing;            /* the folder does not exist */
	unsigned n, nerrors;
	struct snap_gpu *gpus;      /* n */
	struct gpu_error *errors;   /* nerrors: files that could not be read */
	double *handoff_rate;       /* n, per second; < 0 when unknown */
};

/* Reads every file of dir. Returns 0 (problems with single files are in
 * errors), or a negative errno when the folder cannot be listed (a missing
 * folder is not an error: dir_missing is set). */
int gpus_read(struct gpu_set *set, const char *dir);

/* Hand-off rates of now from before (same folder, read earlier). */
void gpus_rates(struct gpu_set *now, const struct gpu_set *before);
void gpus_free(struct gpu_set *set);

/* Prints one line per unreadable file to stderr, prefixed by the command. */
void gpus_report_errors(const struct gpu_set *set, const char *cmd);

/* status.c, used by top and the doc generator too. */
char *fmt_size(unsigned long long bytes, char *buf, unsigned len);
char *fmt_wait(uint64_t upper_us, char *buf, unsigned len);
/* The configured guard of high-priority members, from this environment. */
unsigned cli_high_guard(void);

/* exposition.c: the exposition text for a set. Returns malloc'ed text. */
char *metrics_render(const struct gpu_set *set, size_t *len);
/* http.c or http_none.c: serves metrics_render() at /metrics. */
int http_serve(const char *listen, const char *dir);

#endif
