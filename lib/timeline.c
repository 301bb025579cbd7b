/* timeline.c - the CUSLICE_TIMELINE recorder; see timeline.h.
 *
 * One recorder per process (members of several GPUs share it, one lane per
 * GPU ordinal). Events go into a fixed buffer under a mutex; the agent
 * formats and write()s them. The file is written with plain write(2) on our
 * own descriptor (no stdio), so a forked child that reopens never flushes a
 * copy of its parent's buffer.
 */
#include "timeline.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "config.h"
#include "trace.h"

enum { TL_BUF = 8192, LINE_MAX_ = 512 };

struct tl_event {
	uint64_t t0, t1, a, b;
	int16_t ordinal;
	uint8_t kind;
};

struct timeline {
	pthread_mutex_t lock;
	int fd;
	int pid;                 /* the process that opened fd */
	int refs;
	int broken;              /* a write failed: stop recording */
	uint64_t dropped;
	unsigned n;
	struct tl_event ev[TL_BUF];
	struct tl_event out[TL_BUF]; /* the flusher's copy (flushes are serialised by flush_lock) */
	pthread_mutex_t flush_lock;
};

static struct timeline recorder = {
	.lock = PTHREAD_MUTEX_INITIALIZER,
	.flush_lock = PTHREAD_MUTEX_INITIALIZER,
	.fd = -1,
};
static pthread_mutex_t open_lock = PTHREAD_MUTEX_INITIALIZER;

static const char *const kind_names[TL_KIND_COUNT] = {
	"wait", "hold", "drain", "backfill", "lent", "revoked",
};

/* The names of each kind's two arguments (see enum tl_kind). */
static const char *const arg_names[TL_KIND_COUNT][2] = {
	{ "wait_ns", "unused" },       { "charged_ns", "vtime_ns" },
	{ "timed_out", "unused" },     { "charged_ns", "lender_slot" },
	{ "unused", "borrower_slot" }, { "charged_ns", "holder_now" },
};

static void put(struct timeline *t, const char *s, size_t n)
{
	while (n > 0 && !t->broken) {
		ssize_t w = write(t->fd, s, n);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0) {
			t->broken = 1;
			return;
		}
		s += w;
		n -= (size_t)w;
	}
}

/* The program's command line, spaces between arguments, for the legend. */
static void command_line(char *out, size_t len)
{
	snprintf(out, len, "%s", program_invocation_short_name);
	int fd = open("/proc/self/cmdline", O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return;
	ssize_t n = read(fd, out, len - 1);
	close(fd);
	if (n <= 0)
		return;
	out[n] = '\0';
	for (ssize_t i = 0; i < n - 1; i++) {
		unsigned char c = (unsigned char)out[i];
		out[i] = c == '\0' ? ' ' : (c < 0x20 || c == '"' || c == '\\') ? '_' : (char)c;
	}
}

static int open_file(struct timeline *t, const char *pattern)
{
	char pat[CONFIG_PATH_MAX + 8], path[4096];
	snprintf(pat, sizeof(pat), "%s%s", pattern, strstr(pattern, "%p") ? "" : ".%p");
	int pid = (int)getpid();
	if (trace_path(pat, pid, path, sizeof(path)) != 0)
		return -ENAMETOOLONG;
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0644);
	if (fd < 0)
		return -errno;
	if (t->fd >= 0)
		close(t->fd); /* a forked child's copy of its parent's descriptor */
	t->fd = fd;
	t->pid = pid;
	t->n = 0;
	t->refs = 0;
	t->broken = 0;
	t->dropped = 0;
	char cmd[160], line[LINE_MAX_];
	command_line(cmd, sizeof(cmd));
	int k = snprintf(line, sizeof(line),
			 "[\n{\"name\":\"process_name\",\"ph\":\"M\",\"pid\":%d,\"tid\":0,"
			 "\"args\":{\"name\":\"%s (pid %d)\"}},\n", pid, cmd, pid);
	put(t, line, (size_t)k);
	return 0;
}

struct timeline *timeline_open(const char *pattern)
{
	if (pattern == NULL || pattern[0] == '\0')
		return NULL;
	struct timeline *t = &recorder;
	pthread_mutex_lock(&open_lock);
	int err = 0;
	if (t->fd < 0 || t->pid != (int)getpid())
		err = open_file(t, pattern);
	if (err == 0)
		t->refs++;
	pthread_mutex_unlock(&open_lock);
	if (err != 0)
		errno = -err;
	return err == 0 ? t : NULL;
}

static const char *class_name(int priority)
{
	return priority == PRIORITY_HIGH ? "high" : priority == PRIORITY_LOW ? "low" : "normal";
}

void timeline_member(struct timeline *t, int ordinal, unsigned slot, uint32_t weight,
		     int priority, const char *uuid)
{
	if (t == NULL)
		return;
	char line[LINE_MAX_];
	int k = snprintf(line, sizeof(line),
			 "{\"name\":\"thread_name\",\"ph\":\"M\",\"pid\":%d,\"tid\":%d,"
			 "\"args\":{\"name\":\"GPU %d w=%u %s\"}},\n"
			 "{\"name\":\"cuslice_member\",\"ph\":\"M\",\"pid\":%d,\"tid\":%d,"
			 "\"args\":{\"gpu\":\"%.63s\",\"ordinal\":%d,\"slot\":%u,\"weight\":%u,"
			 "\"class\":\"%s\"}},\n",
			 t->pid, ordinal, ordinal, weight, class_name(priority), t->pid, ordinal,
			 uuid != NULL ? uuid : "", ordinal, slot, weight, class_name(priority));
	pthread_mutex_lock(&t->flush_lock);
	put(t, line, (size_t)(k < (int)sizeof(line) ? k : (int)sizeof(line) - 1));
	pthread_mutex_unlock(&t->flush_lock);
}

void timeline_add(struct timeline *t, int ordinal, enum tl_kind kind, uint64_t t0, uint64_t t1,
		  uint64_t a, uint64_t b)
{
	if (t == NULL)
		return;
	pthread_mutex_lock(&t->lock);
	if (t->n < TL_BUF)
		t->ev[t->n++] = (struct tl_event){ t0, t1 >= t0 ? t1 : t0, a, b, (int16_t)ordinal,
						   (uint8_t)kind };
	else
		t->dropped++;
	pthread_mutex_unlock(&t->lock);
}

static int format_event(const struct timeline *t, const struct tl_event *e, char *line, size_t len)
{
	uint64_t dur = e->t1 - e->t0;
	char span[48] = "\"ph\":\"i\",\"s\":\"t\"";
	if (e->kind != TL_REVOKED)
		snprintf(span, sizeof(span), "\"ph\":\"X\",\"dur\":%llu.%03llu",
			 (unsigned long long)(dur / 1000), (unsigned long long)(dur % 1000));
	return snprintf(line, len,
			"{\"name\":\"%s\",\"cat\":\"cuslice\",%s,\"ts\":%llu.%03llu,"
			"\"pid\":%d,\"tid\":%d,\"args\":{\"%s\":%llu,\"%s\":%llu}},\n",
			kind_names[e->kind], span, (unsigned long long)(e->t0 / 1000),
			(unsigned long long)(e->t0 % 1000), t->pid, e->ordinal,
			arg_names[e->kind][0], (unsigned long long)e->a, arg_names[e->kind][1],
			(unsigned long long)e->b);
}

void timeline_flush(struct timeline *t)
{
	if (t == NULL)
		return;
	pthread_mutex_lock(&t->flush_lock);
	pthread_mutex_lock(&t->lock);
	unsigned n = t->n;
	memcpy(t->out, t->ev, n * sizeof(t->ev[0]));
	t->n = 0;
	pthread_mutex_unlock(&t->lock);
	char buf[16384];
	size_t used = 0;
	for (unsigned i = 0; i < n && !t->broken; i++) {
		if (used + LINE_MAX_ > sizeof(buf)) {
			put(t, buf, used);
			used = 0;
		}
		int k = format_event(t, &t->out[i], buf + used, LINE_MAX_);
		used += (size_t)(k < LINE_MAX_ ? k : LINE_MAX_ - 1);
	}
	if (used > 0)
		put(t, buf, used);
	pthread_mutex_unlock(&t->flush_lock);
}

void timeline_release(struct timeline *t)
{
	if (t == NULL)
		return;
	timeline_flush(t);
	pthread_mutex_lock(&open_lock);
	if (--t->refs <= 0 && t->fd >= 0) {
		char line[LINE_MAX_];
		int k = snprintf(line, sizeof(line),
				 "{\"name\":\"cuslice_dropped\",\"ph\":\"M\",\"pid\":%d,\"tid\":0,"
				 "\"args\":{\"events\":%llu}}\n]\n",
				 t->pid, (unsigned long long)t->dropped);
		put(t, line, (size_t)k);
		close(t->fd);
		t->fd = -1;
	}
	pthread_mutex_unlock(&open_lock);
}
