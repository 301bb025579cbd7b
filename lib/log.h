/* log.h - the library's only voice: silent unless CUSLICE_LOG asks.
 *
 * A sharing library lives inside someone else's program, so by default it
 * writes nothing anywhere. CUSLICE_LOG=error|warn|info|debug turns messages
 * on; they go to stderr, or to CUSLICE_LOG_FILE when that is set. Nothing
 * here allocates, every message is one write(2), and the total number of
 * messages a process emits is capped so a hot loop cannot flood a log.
 * The one exception is log_unisolated(). A message below the level is never
 * formatted (the macros check first), except an error: the most recent one
 * is kept even when logging is off, so that it can be published (cuslice
 * status shows it).
 */
#ifndef CUSLICE_LOG_H
#define CUSLICE_LOG_H

enum log_level {
	LOG_OFF = 0,
	LOG_ERROR,
	LOG_WARN,
	LOG_INFO,
	LOG_DEBUG,
};

/* Sets the level and the destination. path may be NULL or "" for stderr.
 * On error (path cannot be opened) messages go to stderr. */
void log_setup(enum log_level level, const char *path);

/* Returns nonzero if a message at this level would be written. */
int log_enabled(enum log_level level);

/* Formats and writes one line "cuslice[pid]: <level>: <text>\n", when the
 * level asks for it. Errors are always formatted and remembered for
 * log_last_copy(), even when not written. */
void log_msg(enum log_level level, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/* Reports that this process runs without the isolation it asked for (it
 * could not join a GPU's ring and ledger). Logged as an error; the first
 * such report of the process is also written, as one line, to stderr (or
 * CUSLICE_LOG_FILE) even when logging is off, because a workload that
 * silently runs unfenced is worse than one line of noise. */
void log_unisolated(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Copies the text of the most recent error of this process ("" if none)
 * into out, cut to len - 1 bytes and terminated. Safe while other threads
 * log. */
void log_last_copy(char *out, unsigned long len);

/* The same, in place: for a caller with no other thread logging (tests,
 * the CLI). */
const char *log_last(void);

/* Forgets state inherited from a parent process (after fork). */
void log_reset_after_fork(void);

/* Below the level, the arguments are not even evaluated. */
#define LOG_IF_(level, ...)                          \
	do {                                         \
		if (log_enabled(level))              \
			log_msg(level, __VA_ARGS__); \
	} while (0)

#define log_error(...) log_msg(LOG_ERROR, __VA_ARGS__)
#define log_warn(...)  LOG_IF_(LOG_WARN, __VA_ARGS__)
#define log_info(...)  LOG_IF_(LOG_INFO, __VA_ARGS__)
#define log_debug(...) LOG_IF_(LOG_DEBUG, __VA_ARGS__)

#endif
