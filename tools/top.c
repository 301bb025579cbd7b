/* top.c - `cuslice top`: a live view of every GPU's members, with ncurses.
 *
 * Each refresh reads the folder (a snapshot per file, see snapshot.h) and
 * measures hand-offs per second against the previous refresh. getch()
 * waits for the rest of the interval, so a key is answered at once. SIGINT
 * and SIGTERM are ours, installed before ncurses starts (it then leaves them
 * alone): they set a flag, getch() returns, and the loop ends through
 * endwin() like 'q' does, so the terminal is always restored.
 */
#include <curses.h>
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"

enum { PAIR_BAR = 1, PAIR_WARN = 2 };

static volatile sig_atomic_t stopping;

static void on_stop(int sig)
{
	(void)sig;
	stopping = 1;
}

/* Prints at row *y, cut to the screen width; rows past the screen are
 * dropped. */
static void line(int *y, int attr, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

static void line(int *y, int attr, const char *fmt, ...)
{
	if (*y >= LINES) {
		(*y)++;
		return;
	}
	char buf[1024];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	attron(attr);
	mvaddnstr(*y, 0, buf, COLS);
	attroff(attr);
	(*y)++;
}

static int bar_width(void)
{
	int w = COLS - 86;
	return w < 10 ? 10 : w > 50 ? 50 : w;
}

static void member_row(int *y, const struct snap_member *m)
{
	char grp[16], p50[16] = "-", p99[16] = "-", used[16], cap[16] = "none";
	snprintf(grp, sizeof(grp), "%.10s", m->group[0] ? m->group : "-");
	if (m->has_waits) {
		fmt_wait(m->wait_p50_us, p50, sizeof(p50));
		fmt_wait(m->wait_p99_us, p99, sizeof(p99));
	}
	if (m->group_cap)
		fmt_size(m->group_cap, cap, sizeof(cap));
	fmt_size(m->charged, used, sizeof(used));
	if (*y >= LINES) {
		(*y)++;
		return;
	}
	int width = bar_width();
	int fill = m->alive ? (int)(m->share_window * width + 0.5) : 0;
	mvprintw(*y, 0, "%4u %7u %-10s %3u %-6s %-7s [", m->slot, m->host_pid ? m->host_pid : m->pid,
		 grp, m->weight, snapshot_priority_name(m->priority), snapshot_state_name(m->state));
	attron(COLOR_PAIR(PAIR_BAR) | A_BOLD);
	for (int i = 0; i < width; i++)
		addch(i < fill ? '#' : ' ');
	attroff(COLOR_PAIR(PAIR_BAR) | A_BOLD);
	printw("] %5.1f%%  %8s/%-8s %6s/%-6s", m->alive ? m->share_window * 100 : 0.0, p50, p99,
	       used, cap);
	clrtoeol();
	(*y)++;
}

static void draw_gpu(int *y, const struct snap_gpu *g, double rate)
{
	char title[64] = "GPU -", holder[64] = "token free", hand[32] = "-";
	if (g->nordinals > 0)
		snprintf(title, sizeof(title), "GPU %d%s", g->ordinals[0], g->nordinals > 1 ? "+" : "");
	if (g->holder >= 0) {
		const struct snap_member *h = snapshot_member(g, (unsigned)g->holder);
		snprintf(holder, sizeof(holder), "holder slot %d (pid %u)", g->holder,
			 h ? (h->host_pid ? h->host_pid : h->pid) : 0);
	}
	if (rate >= 0)
		snprintf(hand, sizeof(hand), "%.1f", rate);
	line(y, A_BOLD, "%s  %s  %u member%s%s", title, g->uuid, g->nalive,
	     g->nalive == 1 ? "" : "s", g->ndead ? " (+dead)" : "");
	line(y, 0, "  slice %u ms  %s  hand-offs %s/s  overruns %llu  revocations %llu  "
		   "high %.0f%%/%u%%", g->slice_ms, holder, hand,
	     (unsigned long long)g->overruns, (unsigned long long)g->revocations,
	     g->high_share * 100, cli_high_guard());
	line(y, A_REVERSE, "%4s %7s %-10s %3s %-6s %-7s %-*s  %8s/%-8s %6s/%-6s", "SLOT", "PID",
	     "GROUP", "W", "PRIO", "STATE", bar_width() + 9, "GPU SHARE (last 10 s)", "WAIT p50",
	     "p99", "MEM", "cap");
	for (unsigned i = 0; i < g->nmembers; i++)
		member_row(y, &g->members[i]);
	if (g->nmembers == 0)
		line(y, 0, "  (no members)");
	for (unsigned i = 0; i < g->ngroups; i++) {
		char used[16], cap[16] = "none";
		if (g->groups[i].cap)
			fmt_size(g->groups[i].cap, cap, sizeof(cap));
		line(y, 0, "  group %-16s %u member%s, memory %s of %s", g->groups[i].name,
		     g->groups[i].members, g->groups[i].members == 1 ? "" : "s",
		     fmt_size(g->groups[i].used, used, sizeof(used)), cap);
	}
	(*y)++;
}

static void draw(const struct gpu_set *set, int read_err, double interval)
{
	char when[16];
	time_t now = time(NULL);
	strftime(when, sizeof(when), "%H:%M:%S", localtime(&now));
	erase();
	int y = 0;
	char head[512];
	snprintf(head, sizeof(head), "cuslice top %s  %s  %s  every %.1f s  q: quit",
		 cli_version, set->dir, when, interval);
	line(&y, A_REVERSE | A_BOLD, "%-*s", COLS, head);
	y++;
	if (read_err != 0)
		line(&y, COLOR_PAIR(PAIR_WARN) | A_BOLD, "cannot read %s: %s", set->dir,
		     strerror(-read_err));
	else if (set->n == 0 && set->nerrors == 0)
		line(&y, 0, "No cuslice ring in %s%s.", set->dir,
		     set->dir_missing ? " (the folder does not exist)" : "");
	for (unsigned i = 0; i < set->n; i++)
		draw_gpu(&y, &set->gpus[i], set->handoff_rate[i]);
	for (unsigned i = 0; i < set->nerrors; i++)
		line(&y, COLOR_PAIR(PAIR_WARN) | A_BOLD, "%s %s", set->errors[i].path,
		     set->errors[i].reason);
	refresh();
}

static int start_screen(SCREEN **scr)
{
	struct sigaction sa = { .sa_handler = on_stop }; /* no SA_RESTART: getch returns */
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	*scr = newterm(NULL, stdout, stdin);
	if (*scr == NULL)
		return -1;
	set_term(*scr);
	cbreak();
	noecho();
	keypad(stdscr, TRUE);
	curs_set(0);
	if (has_colors()) {
		start_color();
		use_default_colors();
		init_pair(PAIR_BAR, COLOR_GREEN, -1);
		init_pair(PAIR_WARN, COLOR_RED, -1);
	}
	return 0;
}

static void loop(const char *dir, double interval)
{
	struct gpu_set prev = { .n = 0 };
	int have_prev = 0;
	while (!stopping) {
		struct gpu_set set;
		int err = gpus_read(&set, dir);
		if (err == 0 && have_prev)
			gpus_rates(&set, &prev);
		if (have_prev)
			gpus_free(&prev);
		draw(&set, err, interval);
		prev = set;
		have_prev = err == 0;
		timeout((int)(interval * 1000));
		int ch = getch();
		if (ch == 'q' || ch == 'Q')
			break;
	}
	if (have_prev)
		gpus_free(&prev);
}

struct top_opts {
	const char *dir;
	double interval;
};

static int top_option(const struct cli_command *c, int opt, const char *value, void *arg)
{
	struct top_opts *o = arg;
	char *end;
	if (opt == 'd') {
		o->dir = value;
		return 0;
	}
	o->interval = strtod(value, &end);
	if (*end != '\0' || !(o->interval >= 0.1 && o->interval <= 60))
		return cli_usage_error(c, "--interval '%s' is not valid: expected seconds, 0.1..60",
				       value);
	return 0;
}

int cmd_top(const struct cli_command *self, int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "dir", required_argument, NULL, 'd' },
		{ "interval", required_argument, NULL, 'i' },
		{ NULL, 0, NULL, 0 },
	};
	struct top_opts o = { NULL, 1.0 };
	int rc = cli_options(self, argc, argv, longopts, top_option, &o);
	if (rc != 0)
		return rc;
	const char *dir_opt = o.dir;
	double interval = o.interval;
	if (!isatty(STDIN_FILENO) || !isatty(STDOUT_FILENO)) {
		fprintf(stderr, "cuslice top: needs a terminal; 'cuslice status' prints one "
				"snapshot anywhere\n");
		return EXIT_PROBLEM;
	}
	char dir[256];
	cli_dir(dir_opt, dir, sizeof(dir));
	SCREEN *scr;
	if (start_screen(&scr) != 0) {
		const char *term = getenv("TERM");
		fprintf(stderr, "cuslice top: cannot use the terminal (TERM=%s)\n",
			term ? term : "unset");
		return EXIT_PROBLEM;
	}
	loop(dir, interval);
	endwin();
	delscreen(scr);
	return 0;
}
