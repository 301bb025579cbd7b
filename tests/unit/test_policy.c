/* test_policy.c - lib/policy.c: the node policy file, its precedence under
 * the process's own variables, and what a bad policy does. Each test writes
 * its policy into a fresh temporary folder. */
#include <check.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "config.h"
#include "policy.h"

/* ---- helpers ---- */

static char dir[64];
static char said[4096]; /* every message reported, one per line */
static int nsaid;

static void collect(const char *msg, void *arg)
{
	(void)arg;
	size_t used = strlen(said);
	snprintf(said + used, sizeof(said) - used, "%s\n", msg);
	nsaid++;
}

static void setup(void)
{
	snprintf(dir, sizeof(dir), "/tmp/cuslice-test-policy-XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(dir));
	said[0] = '\0';
	nsaid = 0;
}

static void teardown(void)
{
	char cmd[128];
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	ck_assert_int_eq(system(cmd), 0);
}

static void write_policy(const char *text, size_t len)
{
	char path[128];
	snprintf(path, sizeof(path), "%s/%s", dir, POLICY_FILE);
	FILE *f = fopen(path, "w");
	ck_assert_ptr_nonnull(f);
	ck_assert_uint_eq(fwrite(text, 1, len, f), len);
	ck_assert_int_eq(fchmod(fileno(f), 0644), 0); /* whatever the umask */
	fclose(f);
}

/* Variables as NULL-terminated name, value pairs. */
static const char *pairs_getter(const char *name, void *arg)
{
	const char *const *pairs = arg;
	for (int i = 0; pairs[i] != NULL; i += 2) {
		if (strcmp(pairs[i], name) == 0)
			return pairs[i + 1];
	}
	return NULL;
}

/* Loads the variables, then the policy of dir; returns the problems that
 * policy_read and policy_apply reported. */
static int load(struct cs_config *cfg, const char *const *env)
{
	struct node_policy p;
	config_load(cfg, pairs_getter, (void *)env);
	if (policy_read(dir, &p, collect, NULL) == -ENOENT)
		return 0;
	policy_apply(&p, cfg, collect, NULL);
	return nsaid;
}

static const char *const no_env[] = { NULL };

static uint64_t cap_of(const struct cs_config *cfg, uint64_t card)
{
	uint64_t cap = UINT64_MAX;
	ck_assert_int_eq(memspec_cap_card(&cfg->mem, 0, "GPU-1", card, &cap), 0);
	return cap;
}

/* ---- tests ---- */

START_TEST(no_policy_changes_nothing)
{
	struct cs_config cfg;
	ck_assert_int_eq(load(&cfg, no_env), 0);
	ck_assert_int_eq(cfg.mem.set, 0);
	ck_assert_uint_eq(cfg.weight, 1);
	ck_assert_int_eq(config_source(&cfg, "CUSLICE_MEM_LIMIT"), SOURCE_DEFAULT);
	ck_assert_int_eq(config_source(&cfg, "CUSLICE_WEIGHT"), SOURCE_DEFAULT);
	ck_assert_int_eq(nsaid, 0);
}
END_TEST

START_TEST(policy_gives_defaults)
{
	static const char text[] = "# node defaults\n"
				   "CUSLICE_MEM_LIMIT = card/10   # a tenth of the card\n"
				   "\n  CUSLICE_WEIGHT=3\nCUSLICE_PRIORITY=low";
	struct cs_config cfg;
	write_policy(text, sizeof(text) - 1);
	ck_assert_int_eq(load(&cfg, no_env), 0);
	ck_assert_uint_eq(cap_of(&cfg, 80ULL << 30), (80ULL << 30) / 10);
	ck_assert_uint_eq(cfg.weight, 3);
	ck_assert_int_eq(cfg.priority, PRIORITY_LOW);
	ck_assert_int_eq(config_source(&cfg, "CUSLICE_MEM_LIMIT"), SOURCE_POLICY);
	ck_assert_int_eq(config_source(&cfg, "CUSLICE_WEIGHT"), SOURCE_POLICY);
	ck_assert_int_eq(config_source(&cfg, "CUSLICE_PRIORITY"), SOURCE_POLICY);
	ck_assert_int_eq(config_source(&cfg, "CUSLICE_SLICE_MS"), SOURCE_DEFAULT);
}
END_TEST

START_TEST(policy_size_cap)
{
	static const char text[] = "CUSLICE_MEM_LIMIT=8G\n";
	struct cs_config cfg;
	write_policy(text, sizeof(text) - 1);
	ck_assert_int_eq(load(&cfg, no_env), 0);
	ck_assert_uint_eq(cap_of(&cfg, 80ULL << 30), 8ULL << 30);
}
END_TEST

START_TEST(own_variables_win)
{
	static const char text[] = "CUSLICE_MEM_LIMIT=card/10\nCUSLICE_WEIGHT=3\n";
	static const char *const env[] = { "CUSLICE_MEM_LIMIT", "2G", "CUSLICE_WEIGHT", "7",
					   NULL };
	struct cs_config cfg;
	write_policy(text, sizeof(text) - 1);
	ck_assert_int_eq(load(&cfg, env), 0);
	ck_assert_uint_eq(cap_of(&cfg, 80ULL << 30), 2ULL << 30);
	ck_assert_uint_eq(cfg.weight, 7);
	ck_assert_int_eq(config_source(&cfg, "CUSLICE_MEM_LIMIT"), SOURCE_ENV);
	ck_assert_int_eq(config_source(&cfg, "CUSLICE_WEIGHT"), SOURCE_ENV);
}
END_TEST

START_TEST(bad_own_weight_falls_to_policy)
{
	static const char text[] = "CUSLICE_WEIGHT=3\n";
	static const char *const env[] = { "CUSLICE_WEIGHT", "lots", NULL };
	struct cs_config cfg;
	write_policy(text, sizeof(text) - 1);
	load(&cfg, env);
	ck_assert_uint_eq(cfg.weight, 3);
	ck_assert_int_eq(config_source(&cfg, "CUSLICE_WEIGHT"), SOURCE_POLICY);
}
END_TEST

START_TEST(bad_own_cap_is_not_replaced_by_policy)
{
	static const char text[] = "CUSLICE_MEM_LIMIT=8G\n";
	static const char *const env[] = { "CUSLICE_MEM_LIMIT", "lots", NULL };
	struct cs_config cfg;
	uint64_t cap;
	write_policy(text, sizeof(text) - 1);
	load(&cfg, env);
	ck_assert_int_eq(cfg.mem.invalid, 1);
	ck_assert_int_eq(memspec_cap_card(&cfg.mem, 0, "GPU-1", 80ULL << 30, &cap), -EINVAL);
	ck_assert_int_eq(config_source(&cfg, "CUSLICE_MEM_LIMIT"), SOURCE_ENV);
}
END_TEST

START_TEST(bad_lines_are_reported_and_skipped)
{
	static const char text[] = "CUSLICE_WEIGHT=4\n"
				   "CUSLICE_SLICE_MS=5\n"     /* not a policy setting */
				   "just words\n"             /* not NAME=VALUE */
				   "=3\n"                     /* no name */
				   "CUSLICE_PRIORITY=urgent\n"; /* bad value */
	struct cs_config cfg;
	write_policy(text, sizeof(text) - 1);
	ck_assert_int_eq(load(&cfg, no_env), 4);
	ck_assert_uint_eq(cfg.weight, 4);         /* the good line holds */
	ck_assert_uint_eq(cfg.slice_ms, 20);      /* untouched */
	ck_assert_int_eq(cfg.priority, PRIORITY_NORMAL);
	ck_assert_int_eq(config_source(&cfg, "CUSLICE_PRIORITY"), SOURCE_DEFAULT);
	ck_assert_ptr_nonnull(strstr(said, "line 2: CUSLICE_SLICE_MS=5 is not a setting"));
	ck_assert_ptr_nonnull(strstr(said, "line 3: 'just words' is not NAME=VALUE"));
	ck_assert_ptr_nonnull(strstr(said, "line 4:"));
	ck_assert_ptr_nonnull(strstr(said, "line 5: CUSLICE_PRIORITY='urgent' is not valid: "
					   "expected high|normal|low; using the default"));
}
END_TEST

START_TEST(bad_policy_cap_refuses_allocations)
{
	static const char text[] = "CUSLICE_MEM_LIMIT=card/0\n";
	struct cs_config cfg;
	uint64_t cap;
	write_policy(text, sizeof(text) - 1);
	ck_assert_int_eq(load(&cfg, no_env), 1);
	ck_assert_int_eq(memspec_cap_card(&cfg.mem, 0, "GPU-1", 80ULL << 30, &cap), -EINVAL);
	ck_assert_ptr_nonnull(strstr(said, "never lifted silently"));
}
END_TEST

START_TEST(card_share_needs_the_card_size)
{
	static const char text[] = "CUSLICE_MEM_LIMIT=card/4\n";
	struct cs_config cfg;
	uint64_t cap;
	write_policy(text, sizeof(text) - 1);
	load(&cfg, no_env);
	ck_assert_int_eq(memspec_cap_card(&cfg.mem, 0, "GPU-1", 0, &cap), -EINVAL);
	ck_assert_int_eq(memspec_cap(&cfg.mem, 0, "GPU-1", &cap), -EINVAL);
}
END_TEST

START_TEST(unreadable_policy_keeps_a_cap)
{
	struct cs_config cfg;
	uint64_t cap;
	static char big[POLICY_SIZE_MAX + 1];
	memset(big, '#', sizeof(big)); /* ours, 0644, but cannot be read whole */
	write_policy(big, sizeof(big));
	ck_assert_int_eq(load(&cfg, no_env), 2);
	ck_assert_ptr_nonnull(strstr(said, "cannot be read"));
	ck_assert_int_eq(memspec_cap_card(&cfg.mem, 0, "GPU-1", 80ULL << 30, &cap), -EINVAL);
	ck_assert_uint_eq(cfg.weight, 1);
}
END_TEST

START_TEST(unreadable_policy_leaves_own_cap)
{
	static const char *const env[] = { "CUSLICE_MEM_LIMIT", "2G", NULL };
	struct cs_config cfg;
	static char big[POLICY_SIZE_MAX + 1];
	memset(big, '#', sizeof(big));
	write_policy(big, sizeof(big));
	ck_assert_int_eq(load(&cfg, env), 1); /* only "cannot be read" */
	ck_assert_uint_eq(cap_of(&cfg, 80ULL << 30), 2ULL << 30);
}
END_TEST

START_TEST(oversized_and_binary_files)
{
	static char big[POLICY_SIZE_MAX + 100];
	struct cs_config cfg;
	memset(big, '#', sizeof(big));
	write_policy(big, sizeof(big));
	ck_assert_int_gt(load(&cfg, no_env), 0);
	ck_assert_ptr_nonnull(strstr(said, "larger than 4096 bytes"));

	static const char nul[] = "CUSLICE_WEIGHT=2\0garbage\nCUSLICE_PRIORITY=high\n";
	said[0] = '\0';
	nsaid = 0;
	write_policy(nul, sizeof(nul) - 1);
	ck_assert_int_eq(load(&cfg, no_env), 1);
	ck_assert_ptr_nonnull(strstr(said, "NUL byte"));
	ck_assert_uint_eq(cfg.weight, 1);          /* the line with the NUL is dropped */
	ck_assert_int_eq(cfg.priority, PRIORITY_HIGH);
}
END_TEST

START_TEST(too_many_and_too_long)
{
	char text[POLICY_SIZE_MAX];
	size_t o = 0;
	struct cs_config cfg;
	for (int i = 0; i < POLICY_ENTRIES_MAX + 2; i++)
		o += (size_t)snprintf(text + o, sizeof(text) - o, "CUSLICE_WEIGHT=%d\n", i + 1);
	write_policy(text, o);
	ck_assert_int_eq(load(&cfg, no_env), 2);
	ck_assert_ptr_nonnull(strstr(said, "more than 8 settings"));

	char longval[POLICY_VALUE_MAX + 40] = "CUSLICE_MEM_LIMIT=";
	memset(longval + strlen(longval), '9', POLICY_VALUE_MAX + 10);
	said[0] = '\0';
	nsaid = 0;
	write_policy(longval, strlen(longval));
	ck_assert_int_eq(load(&cfg, no_env), 1);
	ck_assert_int_eq(cfg.mem.invalid, 1); /* a cap that cannot be read is not lifted */
}
END_TEST

START_TEST(symlinked_policy_is_refused)
{
	char path[128];
	struct cs_config cfg;
	snprintf(path, sizeof(path), "%s/%s", dir, POLICY_FILE);
	ck_assert_int_eq(symlink("/etc/hostname", path), 0);
	ck_assert_int_eq(load(&cfg, no_env), 1); /* refused, then ignored */
	ck_assert_ptr_nonnull(strstr(said, "refused and ignored"));
	ck_assert_ptr_nonnull(strstr(said, "not a regular file"));
	ck_assert_int_eq(cfg.mem.set, 0);
	ck_assert_int_eq(cfg.mem.invalid, 0); /* no cap, and none refused */
}
END_TEST

/* The policy the next tests write: it would cap, weigh and prioritise. */
static const char hostile[] = "CUSLICE_MEM_LIMIT=1\nCUSLICE_WEIGHT=9\nCUSLICE_PRIORITY=high\n";

/* Asserts that the policy was refused for why, once, and that nothing of
 * it applies: no cap (not even a failing one), default weight and
 * priority. */
static void assert_ignored(const struct cs_config *cfg, int problems, const char *why)
{
	ck_assert_int_eq(problems, 1);
	ck_assert_ptr_nonnull(strstr(said, "refused and ignored"));
	ck_assert_ptr_nonnull(strstr(said, why));
	ck_assert_int_eq(cfg->mem.set, 0);
	ck_assert_int_eq(cfg->mem.invalid, 0);
	ck_assert_uint_eq(cfg->weight, 1);
	ck_assert_int_eq(cfg->priority, PRIORITY_NORMAL);
	ck_assert_int_eq(config_source(cfg, "CUSLICE_MEM_LIMIT"), SOURCE_DEFAULT);
}

static void policy_path(char *path, size_t len)
{
	snprintf(path, len, "%s/%s", dir, POLICY_FILE);
}

START_TEST(world_writable_policy_is_refused)
{
	char path[128];
	struct cs_config cfg;
	policy_path(path, sizeof(path));
	write_policy(hostile, sizeof(hostile) - 1);
	ck_assert_int_eq(chmod(path, 0666), 0);
	assert_ignored(&cfg, load(&cfg, no_env), "mode 0666: writable by group or others");
	said[0] = '\0';
	nsaid = 0;
	ck_assert_int_eq(chmod(path, 0620), 0); /* group alone is enough */
	assert_ignored(&cfg, load(&cfg, no_env), "writable by group or others");
}
END_TEST

START_TEST(own_0644_policy_is_accepted)
{
	char path[128];
	struct cs_config cfg;
	struct stat st;
	policy_path(path, sizeof(path));
	write_policy(hostile, sizeof(hostile) - 1);
	ck_assert_int_eq(chmod(path, 0644), 0);
	ck_assert_int_eq(stat(path, &st), 0);
	ck_assert_uint_eq(st.st_uid, geteuid());
	ck_assert_int_eq(load(&cfg, no_env), 0);
	ck_assert_uint_eq(cfg.weight, 9);
	ck_assert_int_eq(cfg.priority, PRIORITY_HIGH);
	ck_assert_uint_eq(cap_of(&cfg, 80ULL << 30), 1);
}
END_TEST

START_TEST(fifo_policy_is_refused)
{
	char path[128];
	struct cs_config cfg;
	policy_path(path, sizeof(path));
	ck_assert_int_eq(mkfifo(path, 0644), 0);
	assert_ignored(&cfg, load(&cfg, no_env), "not a regular file");
	said[0] = '\0';
	nsaid = 0;
	ck_assert_int_eq(unlink(path), 0);
	ck_assert_int_eq(mkdir(path, 0755), 0); /* a folder: refused too, not "unreadable" */
	assert_ignored(&cfg, load(&cfg, no_env), "not a regular file");
}
END_TEST

START_TEST(foreign_owner_policy_is_refused)
{
	char path[128];
	struct cs_config cfg;
	if (geteuid() != 0) {
		printf("foreign_owner_policy_is_refused: skipped, not root (cannot give a file "
		       "to another user)\n");
		return;
	}
	policy_path(path, sizeof(path));
	write_policy(hostile, sizeof(hostile) - 1);
	ck_assert_int_eq(chmod(path, 0644), 0);
	ck_assert_int_eq(chown(path, 65534, 65534), 0);
	assert_ignored(&cfg, load(&cfg, no_env), "owner uid 65534, mode 0644: owned by neither");

	/* The folder's owner is trusted: the same file in a folder of 65534's. */
	said[0] = '\0';
	nsaid = 0;
	ck_assert_int_eq(chown(dir, 65534, 65534), 0);
	ck_assert_int_eq(load(&cfg, no_env), 0);
	ck_assert_uint_eq(cfg.weight, 9);
}
END_TEST

START_TEST(source_names)
{
	ck_assert_str_eq(policy_source_name(SOURCE_DEFAULT), "default");
	ck_assert_str_eq(policy_source_name(SOURCE_POLICY), "policy");
	ck_assert_str_eq(policy_source_name(SOURCE_ENV), "env");
	ck_assert_str_eq(policy_source_name(99), "default");
}
END_TEST

START_TEST(only_documented_policy_variables)
{
	ck_assert(config_policy_var("CUSLICE_MEM_LIMIT"));
	ck_assert(config_policy_var("CUSLICE_WEIGHT"));
	ck_assert(config_policy_var("CUSLICE_PRIORITY"));
	ck_assert(!config_policy_var("CUSLICE_DIR"));
	ck_assert(!config_policy_var("CUSLICE_NOPE"));
}
END_TEST

static Suite *policy_suite(void)
{
	Suite *s = suite_create("policy");
	TCase *tc = tcase_create("policy");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, no_policy_changes_nothing);
	tcase_add_test(tc, policy_gives_defaults);
	tcase_add_test(tc, policy_size_cap);
	tcase_add_test(tc, own_variables_win);
	tcase_add_test(tc, bad_own_weight_falls_to_policy);
	tcase_add_test(tc, bad_own_cap_is_not_replaced_by_policy);
	tcase_add_test(tc, bad_lines_are_reported_and_skipped);
	tcase_add_test(tc, bad_policy_cap_refuses_allocations);
	tcase_add_test(tc, card_share_needs_the_card_size);
	tcase_add_test(tc, unreadable_policy_keeps_a_cap);
	tcase_add_test(tc, unreadable_policy_leaves_own_cap);
	tcase_add_test(tc, oversized_and_binary_files);
	tcase_add_test(tc, too_many_and_too_long);
	tcase_add_test(tc, symlinked_policy_is_refused);
	tcase_add_test(tc, world_writable_policy_is_refused);
	tcase_add_test(tc, own_0644_policy_is_accepted);
	tcase_add_test(tc, fifo_policy_is_refused);
	tcase_add_test(tc, foreign_owner_policy_is_refused);
	tcase_add_test(tc, source_names);
	tcase_add_test(tc, only_documented_policy_variables);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(policy_suite());
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
