/* log.c - capped, allocation-free logging; see log.h. */
#include "log.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

enum { LOG_LINE_MAX = 512, LOG_MESSAGES_MAX = 1000 };

static _Atomic int log_level = LOG_OFF;
static int log_fd = STDERR_FILENO;
static _Atomic unsigned log_count;
static _Atomic int log_unisolated_said;
/* The last error, written and read under last_lock (errors are rare and
 * never on a hot path). */
static char log_last_error[LOG_LINE_MAX];
static pthread_mutex_t last_lock = PTHREAD_MUTEX_INITIALIZER;

static const char *const level_names[] = {
	[LOG_OFF] = "off", [LOG_ERROR] = "error", [LOG_WARN] = "warning",
	[LOG_INFO] = "info", [LOG_DEBUG] = "debug",
};

void log_setup(enum log_level level, const char *path)
{
	if (path != NULL && path[0] != '\0') {
		int fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
		if (fd >= 0)
			log_fd = fd;
	}
	atomic_store(&log_level, level);
}

int log_enabled(enum log_level level)
{
	return level != LOG_OFF && (int)level <= atomic_load_explicit(&log_level, memory_order_relaxed);
}

static void write_all(int fd, const char *buf, size_t len)
{
	while (len > 0) {
		ssize_t n = write(fd, buf, len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return;
		buf += n;
		len -= (size_t)n;
	}
}

/* Formats "cuslice[pid]: <level>: <text>\n" into line; returns its length
 * and the offset of the text in *text_off. */
static size_t format_line(char *line, size_t size, enum log_level level, int *text_off,
			  const char *fmt, va_list ap)
{
	int off = snprintf(line, size, "cuslice[%d]: %s: ", (int)getpid(), level_names[level]);
	int n = vsnprintf(line + off, size - (size_t)off - 1, fmt, ap);
	size_t len = (size_t)off + (n < 0 ? 0 : (size_t)n);
	if (len > size - 2)
		len = size - 2;
	line[len++] = '\n';
	line[len] = '\0';
	*text_off = off;
	return len;
}

static void remember_error(const char *text)
{
	pthread_mutex_lock(&last_lock);
	strncpy(log_last_error, text, sizeof(log_last_error) - 1);
	log_last_error[strcspn(log_last_error, "\n")] = '\0';
	pthread_mutex_unlock(&last_lock);
}

static void write_counted(const char *line, size_t len)
{
	unsigned count = atomic_fetch_add(&log_count, 1);
	if (count < LOG_MESSAGES_MAX) {
		write_all(log_fd, line, len);
	} else if (count == LOG_MESSAGES_MAX) {
		static const char cap[] = "cuslice: further messages suppressed\n";
		write_all(log_fd, cap, sizeof(cap) - 1);
	}
}

/* One message; unisolated: also written once per process when logging is
 * off (log_unisolated). */
static void log_vmsg(enum log_level level, int unisolated, const char *fmt, va_list ap)
{
	char line[LOG_LINE_MAX];
	int saved_errno = errno, off;
	size_t len = format_line(line, sizeof(line), level, &off, fmt, ap);
	if (level == LOG_ERROR)
		remember_error(line + off);
	if (log_enabled(level))
		write_counted(line, len);
	else if (unisolated && atomic_exchange(&log_unisolated_said, 1) == 0)
		write_all(log_fd, line, len);
	errno = saved_errno;
}

void log_msg(enum log_level level, const char *fmt, ...)
{
	if (level != LOG_ERROR && !log_enabled(level))
		return;
	va_list ap;
	va_start(ap, fmt);
	log_vmsg(level, 0, fmt, ap);
	va_end(ap);
}

void log_unisolated(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	log_vmsg(LOG_ERROR, 1, fmt, ap);
	va_end(ap);
}

void log_last_copy(char *out, unsigned long len)
{
	if (len == 0)
		return;
	pthread_mutex_lock(&last_lock);
	strncpy(out, log_last_error, len - 1);
	pthread_mutex_unlock(&last_lock);
	out[len - 1] = '\0';
}

const char *log_last(void)
{
	return log_last_error;
}

void log_reset_after_fork(void)
{
	/* Another thread may have held the lock at the fork. */
	pthread_mutex_init(&last_lock, NULL);
	atomic_store(&log_count, 0);
	atomic_store(&log_unisolated_said, 0);
	log_last_error[0] = '\0';
}
