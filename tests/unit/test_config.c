/* test_config.c - lib/config.c: the CUSLICE_* table, its parser and
 * CUSLICE_MEM_LIMIT specs. Error messages are captured by pointing the log
 * at a temporary file (log_setup), one file per test. */
#include <check.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config.h"
#include "log.h"

/* ---- helpers ---- */

/* Variables as NULL-terminated name, value pairs. */
struct env_list {
	const char *const *pairs;
	char asked[32][40]; /* names the loader asked for */
	int n_asked;
};

static const char *list_getter(const char *name, void *arg)
{
	struct env_list *e = arg;
	if (e->n_asked < 32)
		snprintf(e->asked[e->n_asked++], sizeof(e->asked[0]), "%s", name);
	for (int i = 0; e->pairs[i] != NULL; i += 2) {
		if (strcmp(e->pairs[i], name) == 0)
			return e->pairs[i + 1];
	}
	return NULL;
}

static char log_path[64];

/* Sends errors to a fresh temporary file. */
static void capture_log(enum log_level level)
{
	snprintf(log_path, sizeof(log_path), "/tmp/cuslice-test-config-XXXXXX");
	int fd = mkstemp(log_path);
	ck_assert_int_ge(fd, 0);
	close(fd);
	log_setup(level, log_path);
}

/* The captured log, NUL-terminated (static buffer). */
static const char *captured(void)
{
	static char buf[8192];
	FILE *f = fopen(log_path, "r");
	ck_assert_ptr_nonnull(f);
	size_t n = fread(buf, 1, sizeof(buf) - 1, f);
	buf[n] = '\0';
	fclose(f);
	return buf;
}

/* Checked teardown: removes the last captured log. */
static void remove_log(void)
{
	if (log_path[0] != '\0')
		unlink(log_path);
}

static int count_lines(const char *text)
{
	int n = 0;
	for (; *text != '\0'; text++)
		n += *text == '\n';
	return n;
}

static int load(struct cs_config *cfg, const char *const *pairs)
{
	struct env_list e = { .pairs = pairs };
	return config_load(cfg, list_getter, &e);
}

/* Loads one variable with a bad value: exactly one error line that names
 * the variable, quotes the value and states the accepted form. */
static void expect_one_error(struct cs_config *cfg, const char *name, const char *value,
			     const char *form)
{
	const char *pairs[] = { name, value, NULL };
	capture_log(LOG_ERROR);
	ck_assert_int_eq(load(cfg, pairs), 1);
	const char *text = captured();
	ck_assert_msg(count_lines(text) == 1, "%s=%s: %d lines: %s", name, value,
		      count_lines(text), text);
	char want[128];
	snprintf(want, sizeof(want), "%s='%.20s", name, value);
	ck_assert_msg(strstr(text, want) != NULL, "no \"%s\" in: %s", want, text);
	ck_assert_msg(strstr(text, form) != NULL, "no accepted form \"%s\" in: %s", form, text);
	ck_assert_msg(strstr(text, "error") != NULL, "not an error line: %s", text);
	unlink(log_path);
}

static void expect_defaults(const struct cs_config *c)
{
	ck_assert_int_eq(c->log_level, LOG_OFF);
	ck_assert_str_eq(c->log_file, "");
	ck_assert_str_eq(c->trace, "");
	ck_assert_str_eq(c->dir, "/dev/shm/cuslice");
	ck_assert_int_eq(c->mem.set, 0);
	ck_assert_int_eq(c->mem.invalid, 0);
	ck_assert(c->mem.all == 0);
	ck_assert_uint_eq(c->mem.n, 0);
	ck_assert_str_eq(c->group, "");
	ck_assert_int_eq(c->count_managed, 1);
	ck_assert(c->ctx_reserve == UINT64_C(704) << 20);
	ck_assert_uint_eq(c->weight, 1);
	ck_assert_uint_eq(c->slice_ms, 20);
	ck_assert_uint_eq(c->drain_timeout_ms, 2000);
	ck_assert_uint_eq(c->hold_timeout_ms, 1000);
	ck_assert_int_eq(c->priority, PRIORITY_NORMAL);
	ck_assert_uint_eq(c->high_max_share, 80);
	ck_assert_uint_eq(c->high_queue, 2);
	ck_assert_int_eq(c->ring, 1);
}

/* ---- the table ---- */

START_TEST(defaults_when_unset)
{
	static const char *const none[] = { NULL };
	struct cs_config cfg;
	memset(&cfg, 0x5a, sizeof(cfg));
	capture_log(LOG_DEBUG);
	ck_assert_int_eq(load(&cfg, none), 0);
	expect_defaults(&cfg);
	ck_assert_str_eq(captured(), "");
}
END_TEST

START_TEST(empty_values_are_unset)
{
	static const char *const pairs[] = {
		"CUSLICE_LOG", "", "CUSLICE_WEIGHT", "", "CUSLICE_DIR", "", "CUSLICE_GROUP", "",
		"CUSLICE_CTX_RESERVE", "", "CUSLICE_RING", "", NULL,
	};
	struct cs_config cfg;
	capture_log(LOG_DEBUG);
	ck_assert_int_eq(load(&cfg, pairs), 0);
	expect_defaults(&cfg);
	ck_assert_str_eq(captured(), "");
}
END_TEST

START_TEST(every_documented_variable_is_read)
{
	static const char *const none[] = { NULL };
	struct env_list e = { .pairs = none };
	struct cs_config cfg;
	config_load(&cfg, list_getter, &e);
	size_t n = 0;
	const struct config_var *vars = config_vars(&n);
	ck_assert_uint_eq(n, 20);
	ck_assert_int_eq(e.n_asked, (int)n);
	for (size_t i = 0; i < n; i++) {
		ck_assert_msg(strncmp(vars[i].name, "CUSLICE_", 8) == 0, "%s", vars[i].name);
		ck_assert_msg(vars[i].type != NULL && vars[i].type[0] != '\0', "%s", vars[i].name);
		ck_assert_msg(vars[i].def != NULL && vars[i].def[0] != '\0', "%s", vars[i].name);
		ck_assert_msg(vars[i].help != NULL && strlen(vars[i].help) > 10, "%s",
			      vars[i].name);
		int asked = 0;
		for (int j = 0; j < e.n_asked; j++)
			asked += strcmp(e.asked[j], vars[i].name) == 0;
		ck_assert_msg(asked == 1, "%s read %d times", vars[i].name, asked);
		for (size_t j = 0; j < i; j++)
			ck_assert_str_ne(vars[i].name, vars[j].name);
	}
}
END_TEST

START_TEST(good_values)
{
	static const char *const pairs[] = {
		"CUSLICE_LOG", "DEBUG",
		"CUSLICE_LOG_FILE", "/var/log/cuslice.log",
		"CUSLICE_TRACE", "/tmp/trace-%p.txt",
		"CUSLICE_DIR", "/run/cuslice",
		"CUSLICE_MEM_LIMIT", "4G",
		"CUSLICE_GROUP", "team-a.job_1",
		"CUSLICE_MANAGED", "exclude",
		"CUSLICE_CTX_RESERVE", "1.5G",
		"CUSLICE_WEIGHT", "100",
		"CUSLICE_SLICE_MS", "10000",
		"CUSLICE_DRAIN_TIMEOUT_MS", "1",
		"CUSLICE_HOLD_TIMEOUT_MS", "10",
		"CUSLICE_PRIORITY", "high",
		"CUSLICE_HIGH_MAX_SHARE", "75",
		"CUSLICE_RING", "off",
		NULL,
	};
	struct cs_config cfg;
	capture_log(LOG_DEBUG);
	ck_assert_int_eq(load(&cfg, pairs), 0);
	ck_assert_str_eq(captured(), "");
	ck_assert_int_eq(cfg.log_level, LOG_DEBUG);
	ck_assert_str_eq(cfg.log_file, "/var/log/cuslice.log");
	ck_assert_str_eq(cfg.trace, "/tmp/trace-%p.txt");
	ck_assert_str_eq(cfg.dir, "/run/cuslice");
	ck_assert_int_eq(cfg.mem.set, 1);
	ck_assert_int_eq(cfg.mem.invalid, 0);
	ck_assert(cfg.mem.all == UINT64_C(4) << 30);
	ck_assert_str_eq(cfg.group, "team-a.job_1");
	ck_assert_int_eq(cfg.count_managed, 0);
	ck_assert(cfg.ctx_reserve == (UINT64_C(3) << 30) / 2);
	ck_assert_uint_eq(cfg.weight, 100);
	ck_assert_uint_eq(cfg.slice_ms, 10000);
	ck_assert_uint_eq(cfg.drain_timeout_ms, 1);
	ck_assert_uint_eq(cfg.hold_timeout_ms, 10);
	ck_assert_int_eq(cfg.priority, PRIORITY_HIGH);
	ck_assert_uint_eq(cfg.high_max_share, 75);
	ck_assert_int_eq(cfg.ring, 0);
}
END_TEST

START_TEST(enum_choices)
{
	struct cs_config cfg;
	static const char *const levels[] = { "off", "error", "warn", "info", "debug" };
	for (int i = 0; i < 5; i++) {
		const char *pairs[] = { "CUSLICE_LOG", levels[i], NULL };
		ck_assert_int_eq(load(&cfg, pairs), 0);
		ck_assert_int_eq(cfg.log_level, i);
	}
	static const char *const prios[] = { "low", "normal", "high" };
	for (int i = 0; i < 3; i++) {
		const char *pairs[] = { "CUSLICE_PRIORITY", prios[i], NULL };
		ck_assert_int_eq(load(&cfg, pairs), 0);
		ck_assert_int_eq(cfg.priority, i);
	}
	const char *on[] = { "CUSLICE_RING", "ON", "CUSLICE_MANAGED", "Count", NULL };
	ck_assert_int_eq(load(&cfg, on), 0);
	ck_assert_int_eq(cfg.ring, 1);
	ck_assert_int_eq(cfg.count_managed, 1);
}
END_TEST

START_TEST(uint_ranges_inclusive)
{
	struct cs_config cfg;
	const char *low[] = { "CUSLICE_WEIGHT", "1", "CUSLICE_SLICE_MS", "1",
			      "CUSLICE_DRAIN_TIMEOUT_MS", "600000", "CUSLICE_HOLD_TIMEOUT_MS",
			      "600000", "CUSLICE_HIGH_MAX_SHARE", "1", NULL };
	ck_assert_int_eq(load(&cfg, low), 0);
	ck_assert_uint_eq(cfg.weight, 1);
	ck_assert_uint_eq(cfg.slice_ms, 1);
	ck_assert_uint_eq(cfg.drain_timeout_ms, 600000);
	ck_assert_uint_eq(cfg.hold_timeout_ms, 600000);
	ck_assert_uint_eq(cfg.high_max_share, 1);
	const char *zero[] = { "CUSLICE_CTX_RESERVE", "0", NULL };
	ck_assert_int_eq(load(&cfg, zero), 0);
	ck_assert(cfg.ctx_reserve == 0);
}
END_TEST

START_TEST(bad_values_fall_back_with_one_message)
{
	struct cs_config cfg;
	static const struct {
		const char *name, *value, *form;
	} bad[] = {
		{ "CUSLICE_LOG", "loud", "off|error|warn|info|debug" },
		{ "CUSLICE_MANAGED", "maybe", "count|exclude" },
		{ "CUSLICE_CTX_RESERVE", "lots", "size" },
		{ "CUSLICE_CTX_RESERVE", "99999999999T", "size" },
		{ "CUSLICE_WEIGHT", "abc", "1..100" },
		{ "CUSLICE_WEIGHT", "0", "1..100" },
		{ "CUSLICE_WEIGHT", "101", "1..100" },
		{ "CUSLICE_WEIGHT", "-3", "1..100" },
		{ "CUSLICE_SLICE_MS", "0", "1..10000" },
		{ "CUSLICE_SLICE_MS", "20ms", "1..10000" },
		{ "CUSLICE_DRAIN_TIMEOUT_MS", "600001", "1..600000" },
		{ "CUSLICE_HOLD_TIMEOUT_MS", "9", "10..600000" },
		{ "CUSLICE_PRIORITY", "urgent", "high|normal|low" },
		{ "CUSLICE_HIGH_MAX_SHARE", "0", "1..100" },
		{ "CUSLICE_HIGH_MAX_SHARE", "50%", "1..100" },
		{ "CUSLICE_HIGH_QUEUE", "17", "0..16" },
		{ "CUSLICE_RING", "yes", "on|off" },
		{ "CUSLICE_GROUP", "has space", "name [A-Za-z0-9._-]" },
		{ "CUSLICE_GROUP", "a/b", "name [A-Za-z0-9._-]" },
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		expect_one_error(&cfg, bad[i].name, bad[i].value, bad[i].form);
		int is_log = strcmp(bad[i].name, "CUSLICE_LOG") == 0;
		if (is_log)
			cfg.log_level = LOG_OFF; /* checked in bad_log_value_turns_errors_on */
		expect_defaults(&cfg);
		char names[256];
		ck_assert_int_eq(config_bad_vars_text(cfg.bad_vars, names, sizeof(names)), 1);
		ck_assert_str_eq(names, bad[i].name);
	}
}
END_TEST

/* A bad CUSLICE_LOG was never reported: it fell back to "off", which hid
 * its own error. Being set at all asks for messages: errors are shown. */
START_TEST(bad_log_value_turns_errors_on)
{
	static const char *const pairs[] = { "CUSLICE_LOG", "verbose", NULL };
	struct cs_config cfg;
	capture_log(LOG_OFF);
	ck_assert_int_eq(load(&cfg, pairs), 1);
	ck_assert_int_eq(cfg.log_level, LOG_ERROR);
	ck_assert_ptr_nonnull(strstr(log_last(), "errors are logged"));
}
END_TEST

/* status showed only the last bad variable: every one is now recorded. */
START_TEST(every_bad_variable_is_recorded)
{
	static const char *const pairs[] = {
		"CUSLICE_WEIGHT", "x", "CUSLICE_CTX_RESERVE", "lots", "CUSLICE_RING", "maybe",
		"CUSLICE_LOG", "loud", "CUSLICE_SLICE_MS", "5", NULL,
	};
	struct cs_config cfg;
	capture_log(LOG_OFF);
	ck_assert_int_eq(load(&cfg, pairs), 4);
	char names[256];
	ck_assert_int_eq(config_bad_vars_text(cfg.bad_vars, names, sizeof(names)), 4);
	ck_assert_str_eq(names, "CUSLICE_LOG, CUSLICE_CTX_RESERVE, CUSLICE_WEIGHT, CUSLICE_RING");
	/* Every bit has a name; a truncated list stays a string. */
	for (unsigned bit = 0; bit < 32; bit++)
		ck_assert_ptr_nonnull(config_bad_var_name(bit));
	ck_assert_ptr_null(config_bad_var_name(32));
	ck_assert_int_eq(config_bad_vars_text(UINT32_MAX, names, 10), 32);
	ck_assert_uint_eq(strlen(names), 9);
}
END_TEST

/* Sizes past any device are refused where they are read. */
START_TEST(sizes_are_bounded)
{
	struct cs_config cfg;
	expect_one_error(&cfg, "CUSLICE_CTX_RESERVE", "2P", "size");
	expect_one_error(&cfg, "CUSLICE_CTX_RESERVE", "1025T", "size");
	ck_assert(cfg.ctx_reserve == UINT64_C(704) << 20);
	static const char *const ok[] = { "CUSLICE_CTX_RESERVE", "1024T", NULL };
	ck_assert_int_eq(load(&cfg, ok), 0);
	ck_assert(cfg.ctx_reserve == CONFIG_SIZE_MAX);
}
END_TEST

START_TEST(bad_value_keeps_other_settings)
{
	static const char *const pairs[] = {
		"CUSLICE_WEIGHT", "7", "CUSLICE_SLICE_MS", "nope", "CUSLICE_PRIORITY", "low", NULL,
	};
	struct cs_config cfg;
	capture_log(LOG_ERROR);
	ck_assert_int_eq(load(&cfg, pairs), 1);
	ck_assert_uint_eq(cfg.weight, 7);
	ck_assert_uint_eq(cfg.slice_ms, 20);
	ck_assert_int_eq(cfg.priority, PRIORITY_LOW);
	ck_assert_int_eq(count_lines(captured()), 1);
}
END_TEST

START_TEST(several_bad_values_one_message_each)
{
	static const char *const pairs[] = {
		"CUSLICE_WEIGHT", "x", "CUSLICE_RING", "maybe", "CUSLICE_MEM_LIMIT", "lots", NULL,
	};
	struct cs_config cfg;
	capture_log(LOG_ERROR);
	ck_assert_int_eq(load(&cfg, pairs), 3);
	const char *text = captured();
	ck_assert_int_eq(count_lines(text), 3);
	ck_assert_ptr_nonnull(strstr(text, "CUSLICE_WEIGHT="));
	ck_assert_ptr_nonnull(strstr(text, "CUSLICE_RING="));
	ck_assert_ptr_nonnull(strstr(text, "CUSLICE_MEM_LIMIT="));
}
END_TEST

START_TEST(long_names_and_paths)
{
	struct cs_config cfg;
	char group[CONFIG_GROUP_MAX + 1];
	memset(group, 'g', sizeof(group));
	group[CONFIG_GROUP_MAX - 1] = '\0'; /* 63 characters: the longest */
	const char *ok[] = { "CUSLICE_GROUP", group, NULL };
	ck_assert_int_eq(load(&cfg, ok), 0);
	ck_assert_str_eq(cfg.group, group);

	group[CONFIG_GROUP_MAX - 1] = 'g';
	group[CONFIG_GROUP_MAX] = '\0'; /* 64: one too many */
	expect_one_error(&cfg, "CUSLICE_GROUP", group, "up to 63");
	ck_assert_str_eq(cfg.group, "");

	char path[CONFIG_PATH_MAX + 1];
	memset(path, 'p', sizeof(path));
	path[0] = '/';
	path[CONFIG_PATH_MAX - 1] = '\0'; /* 255: fits */
	const char *okp[] = { "CUSLICE_TRACE", path, NULL };
	ck_assert_int_eq(load(&cfg, okp), 0);
	ck_assert_str_eq(cfg.trace, path);

	path[CONFIG_PATH_MAX - 1] = 'p';
	path[CONFIG_PATH_MAX] = '\0'; /* 256: too long */
	expect_one_error(&cfg, "CUSLICE_TRACE", path, "path");
	ck_assert_str_eq(cfg.trace, "");
	/* A CUSLICE_DIR too long fell back to the default folder, another
	 * sharing domain: now it is no folder at all. */
	expect_one_error(&cfg, "CUSLICE_DIR", path, "path");
	ck_assert_str_eq(cfg.dir, "");
	ck_assert_int_eq(cfg.dir_invalid, 1);
	ck_assert_ptr_nonnull(strstr(log_last(), "no shared file is used"));
	expect_one_error(&cfg, "CUSLICE_LOG_FILE", path, "path");
	ck_assert_str_eq(cfg.log_file, "");
}
END_TEST

START_TEST(message_is_one_bounded_line)
{
	/* A huge value, newlines included, still gives one short line. */
	char value[2000];
	memset(value, 'x', sizeof(value));
	value[10] = '\n';
	value[sizeof(value) - 1] = '\0';
	const char *pairs[] = { "CUSLICE_WEIGHT", value, NULL };
	struct cs_config cfg;
	capture_log(LOG_ERROR);
	ck_assert_int_eq(load(&cfg, pairs), 1);
	const char *text = captured();
	ck_assert_uint_lt(strlen(text), 512);
	ck_assert_ptr_nonnull(strstr(text, "CUSLICE_WEIGHT="));
	ck_assert_uint_eq(cfg.weight, 1);
}
END_TEST

START_TEST(silent_when_log_off_but_remembered)
{
	static const char *const pairs[] = { "CUSLICE_WEIGHT", "abc", NULL };
	struct cs_config cfg;
	capture_log(LOG_OFF);
	ck_assert_int_eq(load(&cfg, pairs), 1);
	ck_assert_str_eq(captured(), "");
	ck_assert_ptr_nonnull(strstr(log_last(), "CUSLICE_WEIGHT='abc'"));
}
END_TEST

START_TEST(invalid_mem_limit_is_flagged)
{
	static const char *const bad[] = { "lots", "0", "0G", "4G,8G", "0=", "=4G", "foo=4G",
					   "0=abc", "0=0", "-1G", "4G;1=2G" };
	struct cs_config cfg;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		expect_one_error(&cfg, "CUSLICE_MEM_LIMIT", bad[i], "size | card/N | ORD=size");
		ck_assert_msg(cfg.mem.set == 1 && cfg.mem.invalid == 1, "'%s' not invalid",
			      bad[i]);
		ck_assert(cfg.mem.all == 0);
		ck_assert_uint_eq(cfg.mem.n, 0);
		uint64_t cap = 77;
		ck_assert_int_eq(memspec_cap(&cfg.mem, 0, "GPU-1234", &cap), -EINVAL);
	}
	/* The message says a cap is not lifted. */
	const char *pairs[] = { "CUSLICE_MEM_LIMIT", "lots", NULL };
	capture_log(LOG_ERROR);
	load(&cfg, pairs);
	ck_assert_ptr_nonnull(strstr(captured(), "refused"));
}
END_TEST

START_TEST(empty_mem_limit_is_invalid)
{
	/* Unlike the other variables, an empty CUSLICE_MEM_LIMIT is not "unset":
	 * a cap that was meant must never be lifted by accident. */
	static const char *const pairs[] = { "CUSLICE_MEM_LIMIT", "", NULL };
	struct cs_config cfg;
	capture_log(LOG_ERROR);
	ck_assert_int_eq(load(&cfg, pairs), 1);
	ck_assert_int_eq(cfg.mem.invalid, 1);
	ck_assert_int_eq(count_lines(captured()), 1);
}
END_TEST

START_TEST(load_from_environment)
{
	setenv("CUSLICE_WEIGHT", "42", 1);
	setenv("CUSLICE_SLICE_MS", "bad", 1);
	setenv("CUSLICE_GROUP", "envgroup", 1);
	struct cs_config cfg;
	capture_log(LOG_ERROR);
	ck_assert_int_eq(config_load_env(&cfg), 1);
	ck_assert_uint_eq(cfg.weight, 42);
	ck_assert_uint_eq(cfg.slice_ms, 20);
	ck_assert_str_eq(cfg.group, "envgroup");
	ck_assert_ptr_nonnull(strstr(captured(), "CUSLICE_SLICE_MS='bad'"));
}
END_TEST

/* ---- CUSLICE_MEM_LIMIT specs ---- */

START_TEST(memspec_one_size_for_all)
{
	struct memspec m;
	ck_assert_int_eq(memspec_parse("4G", &m), 0);
	ck_assert_int_eq(m.set, 1);
	ck_assert_int_eq(m.invalid, 0);
	uint64_t cap = 0;
	for (int ord = 0; ord < 4; ord++) {
		ck_assert_int_eq(memspec_cap(&m, ord, "GPU-abcd", &cap), 0);
		ck_assert(cap == UINT64_C(4) << 30);
	}
	ck_assert_int_eq(memspec_cap(&m, -1, NULL, &cap), 0);
	ck_assert(cap == UINT64_C(4) << 30);
}
END_TEST

START_TEST(memspec_per_ordinal)
{
	struct memspec m;
	ck_assert_int_eq(memspec_parse("0=4G,1=512M", &m), 0);
	ck_assert_uint_eq(m.n, 2);
	ck_assert(m.all == 0);
	uint64_t cap = 1;
	ck_assert_int_eq(memspec_cap(&m, 0, NULL, &cap), 0);
	ck_assert(cap == UINT64_C(4) << 30);
	ck_assert_int_eq(memspec_cap(&m, 1, "GPU-ffff", &cap), 0);
	ck_assert(cap == UINT64_C(512) << 20);
	ck_assert_int_eq(memspec_cap(&m, 2, NULL, &cap), 0);
	ck_assert(cap == 0); /* not listed, no default: no cap */
	ck_assert_int_eq(memspec_cap(&m, 10, NULL, &cap), 0);
	ck_assert(cap == 0); /* "1" is not a prefix match for ordinal 10 */
}
END_TEST

START_TEST(memspec_uuid_prefix_and_default)
{
	struct memspec m;
	/* Spaces separate entries too. */
	ck_assert_int_eq(memspec_parse("2G, GPU-8f3a=1G MIG-77=3G", &m), 0);
	ck_assert_uint_eq(m.n, 2);
	uint64_t cap = 0;
	ck_assert_int_eq(memspec_cap(&m, 0, "GPU-8f3a1234-5678-9abc-def0-123456789abc", &cap), 0);
	ck_assert(cap == UINT64_C(1) << 30);
	ck_assert_int_eq(memspec_cap(&m, 0, "gpu-8F3A1234", &cap), 0); /* case-insensitive */
	ck_assert(cap == UINT64_C(1) << 30);
	ck_assert_int_eq(memspec_cap(&m, 0, "GPU-8f3b0000", &cap), 0);
	ck_assert(cap == UINT64_C(2) << 30); /* no match: the default */
	ck_assert_int_eq(memspec_cap(&m, 0, "GPU-8f3", &cap), 0);
	ck_assert(cap == UINT64_C(2) << 30); /* shorter than the key: no match */
	ck_assert_int_eq(memspec_cap(&m, 3, "MIG-77aa", &cap), 0);
	ck_assert(cap == UINT64_C(3) << 30);
	ck_assert_int_eq(memspec_cap(&m, 3, NULL, &cap), 0);
	ck_assert(cap == UINT64_C(2) << 30);
}
END_TEST

START_TEST(memspec_first_match_wins)
{
	struct memspec m;
	ck_assert_int_eq(memspec_parse("0=1G,GPU-aa=2G", &m), 0);
	uint64_t cap = 0;
	ck_assert_int_eq(memspec_cap(&m, 0, "GPU-aabb", &cap), 0);
	ck_assert(cap == UINT64_C(1) << 30);
	ck_assert_int_eq(memspec_cap(&m, 1, "GPU-aabb", &cap), 0);
	ck_assert(cap == UINT64_C(2) << 30);
}
END_TEST

START_TEST(memspec_limits)
{
	struct memspec m;
	char text[600];
	size_t o = 0;
	for (int i = 0; i < MEMSPEC_ENTRIES_MAX; i++)
		o += (size_t)snprintf(text + o, sizeof(text) - o, "%s%d=%dM", i ? "," : "", i,
				      i + 1);
	ck_assert_int_eq(memspec_parse(text, &m), 0);
	ck_assert_uint_eq(m.n, MEMSPEC_ENTRIES_MAX);
	uint64_t cap = 0;
	ck_assert_int_eq(memspec_cap(&m, 15, NULL, &cap), 0);
	ck_assert(cap == UINT64_C(16) << 20);

	snprintf(text + o, sizeof(text) - o, ",16=1G"); /* one entry too many */
	ck_assert_int_eq(memspec_parse(text, &m), -EINVAL);
	ck_assert_int_eq(m.invalid, 1);
	ck_assert_uint_eq(m.n, 0);

	char key[MEMSPEC_KEY_MAX + 8];
	memset(key, 'a', sizeof(key));
	memcpy(key, "GPU-", 4);
	snprintf(key + MEMSPEC_KEY_MAX, 8, "=1G"); /* key of 48 characters: too long */
	ck_assert_int_eq(memspec_parse(key, &m), -EINVAL);
	memcpy(key + MEMSPEC_KEY_MAX - 1, "=1G", 4); /* 47: fits */
	ck_assert_int_eq(memspec_parse(key, &m), 0);

	char huge[700];
	memset(huge, ' ', sizeof(huge));
	memcpy(huge, "4G", 2);
	huge[sizeof(huge) - 1] = '\0';
	ck_assert_int_eq(memspec_parse(huge, &m), -EINVAL);
}
END_TEST

START_TEST(memspec_card_share)
{
	struct memspec m;
	uint64_t cap = 0;
	ck_assert_int_eq(memspec_parse("card/10", &m), 0);
	ck_assert_uint_eq(m.card_div, 10);
	ck_assert_int_eq(memspec_cap_card(&m, 0, "GPU-1", 100ULL << 30, &cap), 0);
	ck_assert_uint_eq(cap, 10ULL << 30);
	ck_assert_int_eq(memspec_cap_card(&m, 0, "GPU-1", 0, &cap), -EINVAL); /* card unknown */
	ck_assert_int_eq(memspec_parse("CARD/4,0=2G", &m), 0); /* an entry still wins */
	ck_assert_int_eq(memspec_cap_card(&m, 0, NULL, 100ULL << 30, &cap), 0);
	ck_assert_uint_eq(cap, 2ULL << 30);
	ck_assert_int_eq(memspec_cap_card(&m, 1, NULL, 100ULL << 30, &cap), 0);
	ck_assert_uint_eq(cap, 25ULL << 30);
	static const char *const bad[] = { "card/0", "card/", "card/1025", "card/x", "card/2,4G",
					   "4G,card/2", "card/2,card/3", "card10" };
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		ck_assert_msg(memspec_parse(bad[i], &m) == -EINVAL && m.invalid, "%s", bad[i]);
}
END_TEST

START_TEST(pod_labels_and_sources)
{
	static const char *const pairs[] = { "CUSLICE_POD_NAME", "trainer-7f9c-x2",
					     "CUSLICE_POD_NAMESPACE", "ml", "CUSLICE_WEIGHT", "2",
					     NULL };
	struct env_list e = { .pairs = pairs };
	struct cs_config cfg;
	ck_assert_int_eq(config_load(&cfg, list_getter, &e), 0);
	ck_assert_str_eq(cfg.pod_name, "trainer-7f9c-x2");
	ck_assert_str_eq(cfg.pod_namespace, "ml");
	ck_assert_int_eq(config_source(&cfg, "CUSLICE_WEIGHT"), SOURCE_ENV);
	ck_assert_int_eq(config_source(&cfg, "CUSLICE_PRIORITY"), SOURCE_DEFAULT);
	ck_assert_str_eq(config_pod_source("CUSLICE_GROUP"), "field:metadata.uid");
	ck_assert_ptr_null(config_pod_source("CUSLICE_SLICE_MS"));
	char name[300];
	memset(name, 'a', sizeof(name) - 1);
	name[sizeof(name) - 1] = '\0';
	static const char *bad[] = { "CUSLICE_POD_NAME", NULL, NULL };
	bad[1] = name;                /* longer than a pod name can be */
	struct env_list b = { .pairs = bad };
	ck_assert_int_eq(config_load(&cfg, list_getter, &b), 1);
	ck_assert_str_eq(cfg.pod_name, "");
	ck_assert_int_eq(config_set(&cfg, "CUSLICE_POD_NAMESPACE", "a b", SOURCE_ENV), -EINVAL);
	ck_assert_int_eq(config_set(&cfg, "CUSLICE_NOPE", "1", SOURCE_ENV), -ENOENT);
}
END_TEST

static Suite *config_suite(void)
{
	Suite *s = suite_create("config");
	TCase *tc = tcase_create("table");
	tcase_add_checked_fixture(tc, NULL, remove_log);
	tcase_add_test(tc, defaults_when_unset);
	tcase_add_test(tc, empty_values_are_unset);
	tcase_add_test(tc, every_documented_variable_is_read);
	tcase_add_test(tc, good_values);
	tcase_add_test(tc, enum_choices);
	tcase_add_test(tc, uint_ranges_inclusive);
	tcase_add_test(tc, bad_values_fall_back_with_one_message);
	tcase_add_test(tc, bad_value_keeps_other_settings);
	tcase_add_test(tc, bad_log_value_turns_errors_on);
	tcase_add_test(tc, every_bad_variable_is_recorded);
	tcase_add_test(tc, sizes_are_bounded);
	tcase_add_test(tc, several_bad_values_one_message_each);
	tcase_add_test(tc, long_names_and_paths);
	tcase_add_test(tc, message_is_one_bounded_line);
	tcase_add_test(tc, silent_when_log_off_but_remembered);
	tcase_add_test(tc, invalid_mem_limit_is_flagged);
	tcase_add_test(tc, empty_mem_limit_is_invalid);
	tcase_add_test(tc, load_from_environment);
	suite_add_tcase(s, tc);
	tc = tcase_create("memspec");
	tcase_add_test(tc, memspec_one_size_for_all);
	tcase_add_test(tc, memspec_per_ordinal);
	tcase_add_test(tc, memspec_uuid_prefix_and_default);
	tcase_add_test(tc, memspec_first_match_wins);
	tcase_add_test(tc, memspec_limits);
	tcase_add_test(tc, memspec_card_share);
	tcase_add_test(tc, pod_labels_and_sources);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(config_suite());
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
