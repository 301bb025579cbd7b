/* metrics.c - `cuslice metrics`: one scrape to stdout or a text file (once
 * or every --interval), or an HTTP endpoint (http.c); the text is
 * exposition.c's. */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"
#include "textfile.h"

/* ---- the command ---- */

/* One scrape: read, render, write. Returns an exit status. */
static int scrape(const char *dir, const char *textfile)
{
	struct gpu_set set;
	int err = gpus_read(&set, dir);
	if (err != 0) {
		fprintf(stderr, "cuslice metrics: cannot read the folder %s: %s\n", dir,
			strerror(-err));
		return EXIT_PROBLEM;
	}
	gpus_report_errors(&set, "metrics");
	int rc = set.nerrors ? EXIT_PROBLEM : 0;
	size_t len = 0;
	char *text = metrics_render(&set, &len);
	gpus_free(&set);
	if (text == NULL) {
		fprintf(stderr, "cuslice metrics: out of memory\n");
		return EXIT_PROBLEM;
	}
	if (textfile == NULL) {
		fwrite(text, 1, len, stdout);
		fflush(stdout);
	} else if ((err = textfile_write(textfile, text, len)) != 0) {
		fprintf(stderr, "cuslice metrics: cannot write %s: %s\n", textfile, strerror(-err));
		rc = EXIT_PROBLEM;
	}
	free(text);
	return rc;
}

static volatile sig_atomic_t stopping;

static void on_stop(int sig)
{
	(void)sig;
	stopping = 1;
}

static int scrape_every(const char *dir, const char *textfile, double interval)
{
	struct sigaction sa = { .sa_handler = on_stop };
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	int rc = 0;
	while (!stopping) {
		rc = scrape(dir, textfile);
		struct timespec ts = { (time_t)interval,
				       (long)((interval - (double)(time_t)interval) * 1e9) };
		nanosleep(&ts, NULL); /* a signal ends it early */
	}
	return rc == EXIT_PROBLEM ? rc : 0;
}

struct metrics_opts {
	const char *dir, *textfile, *listen;
	double interval;
};

static int metrics_option(const struct cli_command *c, int opt, const char *value, void *arg)
{
	struct metrics_opts *o = arg;
	char *end;
	switch (opt) {
	case 'd':
		o->dir = value;
		break;
	case 't':
		o->textfile = value;
		break;
	case 'l':
		o->listen = value;
		break;
	default: /* 'i' */
		o->interval = strtod(value, &end);
		if (*end != '\0' || !(o->interval >= 0.1 && o->interval <= 86400))
			return cli_usage_error(c, "--interval '%s' is not valid: expected "
						  "seconds, 0.1..86400", value);
	}
	return 0;
}

int cmd_metrics(const struct cli_command *self, int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "dir", required_argument, NULL, 'd' },
		{ "textfile", required_argument, NULL, 't' },
		{ "interval", required_argument, NULL, 'i' },
		{ "listen", required_argument, NULL, 'l' },
		{ NULL, 0, NULL, 0 },
	};
	struct metrics_opts o = { NULL, NULL, NULL, 0 };
	int rc = cli_options(self, argc, argv, longopts, metrics_option, &o);
	if (rc != 0)
		return rc;
	const char *dir_opt = o.dir, *textfile = o.textfile, *listen = o.listen;
	double interval = o.interval;
	if (listen != NULL && (textfile != NULL || interval > 0))
		return cli_usage_error(self, "--listen goes with neither --textfile nor --interval");
	if (interval > 0 && textfile == NULL)
		return cli_usage_error(self, "--interval needs --textfile");
	char dir[256];
	cli_dir(dir_opt, dir, sizeof(dir));
	if (listen != NULL)
		return http_serve(listen, dir);
	if (interval > 0)
		return scrape_every(dir, textfile, interval);
	return scrape(dir, textfile);
}
