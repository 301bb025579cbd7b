/* test_member.c - lib/member.c: member slots and OFD-lock liveness.
 *
 * Each gpufile_open() is its own open file description, so one process can
 * play several members; other processes are forked children that open the
 * file themselves (an inherited description would share the parent's
 * locks). */
#include <check.h>
#include <errno.h>
#include <ftw.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "member.h"

#define UUID "GPU-00112233-4455-6677-8899-aabbccddeeff"

static char root[64];

static int remove_entry(const char *path, const struct stat *st, int type, struct FTW *ftw)
{
	(void)st, (void)type, (void)ftw;
	return remove(path);
}

static void setup(void)
{
	snprintf(root, sizeof(root), "/tmp/cuslice-test-member-XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(root));
}

static void teardown(void)
{
	nftw(root, remove_entry, 8, FTW_DEPTH | FTW_PHYS);
}

static void open_file(struct gpufile *g)
{
	char why[200] = "";
	int err = gpufile_open(g, root, UUID, 20, why, sizeof(why));
	ck_assert_msg(err == 0, "gpufile_open: %d %s", err, why);
}

static const struct member_info plain = { .weight = 1, .priority = 1, .ordinal = 0 };

/* A cleaner that records its calls. */
struct cleanings {
	int calls;
	unsigned slot;
	struct gpufile *file;
	uint32_t state_seen;    /* the slot's state while it was being cleaned */
	uint32_t pid_seen;
};

static void count_clean(struct gpufile *g, unsigned slot, void *arg)
{
	struct cleanings *c = arg;
	c->calls++;
	c->slot = slot;
	c->file = g;
	c->state_seen = atomic_load(&g->map->members[slot].state);
	c->pid_seen = g->map->members[slot].pid;
}

/* A forked member: opens the file, joins, reports its slot, then waits to
 * be killed (or exits at once when leave is set, after leaving). */
struct child {
	pid_t pid;
	unsigned slot;
};

static struct child spawn_member(const char *group, int leave)
{
	int fds[2];
	ck_assert_int_eq(pipe(fds), 0);
	struct child c = { .pid = fork() };
	ck_assert_int_ge(c.pid, 0);
	if (c.pid == 0) {
		prctl(PR_SET_PDEATHSIG, SIGKILL); /* never outlive a failed test */
		close(fds[0]);
		struct gpufile g;
		char why[200];
		int slot = -1;
		unsigned s;
		struct member_info info = { .weight = 3, .priority = 2, .ordinal = 1,
					    .declared_cap = 4096, .group = group };
		if (gpufile_open(&g, root, UUID, 20, why, sizeof(why)) == 0 &&
		    member_join(&g, &info, NULL, NULL, &s) == 0)
			slot = (int)s;
		if (leave && slot >= 0)
			member_leave(&g, (unsigned)slot);
		if (write(fds[1], &slot, sizeof(slot)) != (ssize_t)sizeof(slot))
			_exit(3);
		if (leave)
			_exit(0);
		for (;;)
			pause();
	}
	close(fds[1]);
	int slot = -1;
	ck_assert_int_eq(read(fds[0], &slot, sizeof(slot)), (ssize_t)sizeof(slot));
	close(fds[0]);
	ck_assert_int_ge(slot, 0);
	c.slot = (unsigned)slot;
	return c;
}

static void kill_member(struct child *c)
{
	ck_assert_int_eq(kill(c->pid, SIGKILL), 0);
	int status;
	ck_assert_int_eq(waitpid(c->pid, &status, 0), c->pid);
	ck_assert(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
}

/* ---- joining and leaving ---- */

START_TEST(join_and_leave)
{
	struct gpufile g;
	open_file(&g);
	struct member_info info = { .weight = 7, .priority = 2, .ordinal = 3,
				    .declared_cap = UINT64_C(4) << 30, .group = "team" };
	unsigned slot = 99;
	ck_assert_int_eq(member_join(&g, &info, NULL, NULL, &slot), 0);
	ck_assert_uint_eq(slot, 0);
	ck_assert_int_eq(g.own_slot, 0);
	const struct cs_member *m = &g.map->members[0];
	ck_assert_uint_eq(atomic_load(&m->state), MEMBER_ACTIVE);
	ck_assert_uint_eq(m->pid, (uint32_t)getpid());
	ck_assert_uint_eq(m->weight, 7);
	ck_assert_uint_eq(m->priority, 2);
	ck_assert_int_eq(m->ordinal, 3);
	ck_assert(m->declared_cap == UINT64_C(4) << 30);
	ck_assert_str_eq(m->group, "team");
	ck_assert(m->group_hash == member_group_hash("team"));
	ck_assert(m->join_unix_ns > 0);
	ck_assert_int_eq(member_alive(&g, 0), 1);
	ck_assert_int_eq(member_alive(&g, 1), 0);

	/* Another description of the file sees this member alive. */
	struct gpufile other;
	open_file(&other);
	ck_assert_int_eq(member_alive(&other, 0), 1);
	ck_assert_int_eq(member_alive(&other, 1), 0);
	/* Joining twice through one handle is refused. */
	ck_assert_int_eq(member_join(&g, &info, NULL, NULL, &slot), -EALREADY);

	member_leave(&g, 0);
	ck_assert_uint_eq(atomic_load(&m->state), MEMBER_FREE);
	ck_assert_int_eq(g.own_slot, -1);
	ck_assert_int_eq(member_alive(&other, 0), 0);
	gpufile_close(&g);
	gpufile_close(&other);
}
END_TEST

START_TEST(two_members_two_slots)
{
	struct gpufile a, b;
	open_file(&a);
	open_file(&b);
	unsigned sa, sb;
	ck_assert_int_eq(member_join(&a, &plain, NULL, NULL, &sa), 0);
	ck_assert_int_eq(member_join(&b, &plain, NULL, NULL, &sb), 0);
	ck_assert_uint_eq(sa, 0);
	ck_assert_uint_eq(sb, 1);
	ck_assert_int_eq(member_alive(&a, sb), 1);
	ck_assert_int_eq(member_alive(&b, sa), 1);
	/* A live member is never reaped. */
	struct cleanings c = { 0 };
	ck_assert_int_eq(member_reap(&a, sb, count_clean, &c), 0);
	ck_assert_int_eq(member_reap_all(&a, count_clean, &c), 0);
	ck_assert_int_eq(c.calls, 0);
	ck_assert_uint_eq(atomic_load(&a.map->members[sb].state), MEMBER_ACTIVE);
	/* Keys tell memberships apart. */
	ck_assert(a.map->members[sa].key != a.map->members[sb].key);
	member_leave(&a, sa);
	member_leave(&b, sb);
	gpufile_close(&a);
	gpufile_close(&b);
}
END_TEST

START_TEST(slot_reuse_after_leave)
{
	struct gpufile a, b, c;
	open_file(&a);
	open_file(&b);
	open_file(&c);
	unsigned sa, sb, sc;
	ck_assert_int_eq(member_join(&a, &plain, NULL, NULL, &sa), 0);
	ck_assert_int_eq(member_join(&b, &plain, NULL, NULL, &sb), 0);
	member_leave(&a, sa);
	struct cleanings cl = { 0 };
	ck_assert_int_eq(member_join(&c, &plain, count_clean, &cl, &sc), 0);
	ck_assert_uint_eq(sc, sa); /* the first free slot again */
	ck_assert_int_eq(cl.calls, 0); /* a clean leave leaves nothing to clean */
	/* The slot was reset: nothing of the previous member is left. */
	ck_assert_uint_eq(atomic_load(&c.map->members[sc].launches), 0);
	/* Leaving through a handle that does not own the slot does nothing. */
	member_leave(&a, sc);
	ck_assert_uint_eq(atomic_load(&c.map->members[sc].state), MEMBER_ACTIVE);
	ck_assert_int_eq(member_alive(&a, sc), 1);
	member_leave(&b, sb);
	member_leave(&c, sc);
	gpufile_close(&a);
	gpufile_close(&b);
	gpufile_close(&c);
}
END_TEST

START_TEST(slot_fields_reset_on_join)
{
	struct gpufile a, b;
	open_file(&a);
	open_file(&b);
	unsigned s;
	ck_assert_int_eq(member_join(&a, &plain, NULL, NULL, &s), 0);
	atomic_store(&a.map->members[s].launches, 77);
	atomic_store(&a.map->members[s].charged, 1234);
	strcpy(a.map->members[s].note, "old problem");
	member_leave(&a, s);
	unsigned s2;
	ck_assert_int_eq(member_join(&b, &plain, NULL, NULL, &s2), 0);
	ck_assert_uint_eq(s2, s);
	ck_assert_uint_eq(atomic_load(&b.map->members[s2].launches), 0);
	ck_assert_uint_eq(atomic_load(&b.map->members[s2].charged), 0);
	ck_assert_str_eq(b.map->members[s2].note, "");
	member_leave(&b, s2);
	gpufile_close(&a);
	gpufile_close(&b);
}
END_TEST

START_TEST(full_file_gives_enospc)
{
	static struct gpufile g[CS_MEMBERS_MAX + 1];
	unsigned slot;
	for (unsigned i = 0; i < CS_MEMBERS_MAX; i++) {
		open_file(&g[i]);
		ck_assert_int_eq(member_join(&g[i], &plain, NULL, NULL, &slot), 0);
		ck_assert_uint_eq(slot, i);
	}
	open_file(&g[CS_MEMBERS_MAX]);
	slot = 12345;
	ck_assert_int_eq(member_join(&g[CS_MEMBERS_MAX], &plain, NULL, NULL, &slot), -ENOSPC);
	ck_assert_uint_eq(slot, 12345);
	ck_assert_int_eq(g[CS_MEMBERS_MAX].own_slot, -1);
	/* One leaves; the latecomer gets exactly that slot. */
	member_leave(&g[40], 40);
	ck_assert_int_eq(member_join(&g[CS_MEMBERS_MAX], &plain, NULL, NULL, &slot), 0);
	ck_assert_uint_eq(slot, 40);
	for (unsigned i = 0; i <= CS_MEMBERS_MAX; i++)
		gpufile_close(&g[i]);
}
END_TEST

START_TEST(out_of_range_slots)
{
	struct gpufile g;
	open_file(&g);
	ck_assert_int_eq(member_alive(&g, CS_MEMBERS_MAX), -EINVAL);
	ck_assert_int_eq(member_alive(&g, 1u << 20), -EINVAL);
	ck_assert_int_eq(member_local_pid(&g, CS_MEMBERS_MAX), 0);
	struct cleanings c = { 0 };
	ck_assert_int_eq(member_reap(&g, CS_MEMBERS_MAX, count_clean, &c), 0);
	ck_assert_int_eq(c.calls, 0);
	member_leave(&g, CS_MEMBERS_MAX); /* harmless */
	gpufile_close(&g);
}
END_TEST

/* ---- other processes, alive and dead ---- */

START_TEST(child_member_seen_alive_with_pid)
{
	struct gpufile g;
	open_file(&g);
	struct child c = spawn_member("grp", 0);
	ck_assert_int_eq(member_alive(&g, c.slot), 1);
	ck_assert_int_eq(member_local_pid(&g, c.slot), c.pid);
	const struct cs_member *m = &g.map->members[c.slot];
	ck_assert_uint_eq(atomic_load(&m->state), MEMBER_ACTIVE);
	ck_assert_uint_eq(m->pid, (uint32_t)c.pid);
	ck_assert_uint_eq(m->weight, 3);
	ck_assert(m->declared_cap == 4096);
	ck_assert_str_eq(m->group, "grp");
	/* A slot nobody holds has no pid. */
	ck_assert_int_eq(member_local_pid(&g, c.slot + 1), 0);
	kill_member(&c);
	gpufile_close(&g);
}
END_TEST

START_TEST(killed_child_is_dead_and_reaped_once)
{
	struct gpufile g;
	open_file(&g);
	struct child c = spawn_member(NULL, 0);
	ck_assert_int_eq(member_alive(&g, c.slot), 1);
	kill_member(&c);
	/* The kernel dropped its lock: dead, though its slot still says ACTIVE. */
	ck_assert_int_eq(member_alive(&g, c.slot), 0);
	ck_assert_int_eq(member_local_pid(&g, c.slot), 0);
	ck_assert_uint_eq(atomic_load(&g.map->members[c.slot].state), MEMBER_ACTIVE);

	struct cleanings cl = { 0 };
	ck_assert_int_eq(member_reap(&g, c.slot, count_clean, &cl), 1);
	ck_assert_int_eq(cl.calls, 1);
	ck_assert_uint_eq(cl.slot, c.slot);
	ck_assert_ptr_eq(cl.file, &g);
	ck_assert_uint_eq(cl.state_seen, MEMBER_ACTIVE); /* cleaned before it was freed */
	ck_assert_uint_eq(cl.pid_seen, (uint32_t)c.pid);
	ck_assert_uint_eq(atomic_load(&g.map->members[c.slot].state), MEMBER_FREE);
	/* Reaping again finds nothing. */
	ck_assert_int_eq(member_reap(&g, c.slot, count_clean, &cl), 0);
	ck_assert_int_eq(member_reap_all(&g, count_clean, &cl), 0);
	ck_assert_int_eq(cl.calls, 1);
	/* The reaper's lock is gone: the slot is free for anyone. */
	struct gpufile other;
	open_file(&other);
	ck_assert_int_eq(member_alive(&other, c.slot), 0);
	gpufile_close(&other);
	gpufile_close(&g);
}
END_TEST

START_TEST(reap_all_counts_every_dead_member)
{
	struct gpufile g;
	open_file(&g);
	unsigned mine;
	ck_assert_int_eq(member_join(&g, &plain, NULL, NULL, &mine), 0);
	struct child a = spawn_member(NULL, 0);
	struct child b = spawn_member(NULL, 0);
	struct child alive = spawn_member(NULL, 0);
	kill_member(&a);
	kill_member(&b);
	struct cleanings cl = { 0 };
	ck_assert_int_eq(member_reap_all(&g, count_clean, &cl), 2);
	ck_assert_int_eq(cl.calls, 2);
	ck_assert_uint_eq(atomic_load(&g.map->members[a.slot].state), MEMBER_FREE);
	ck_assert_uint_eq(atomic_load(&g.map->members[b.slot].state), MEMBER_FREE);
	ck_assert_uint_eq(atomic_load(&g.map->members[alive.slot].state), MEMBER_ACTIVE);
	ck_assert_uint_eq(atomic_load(&g.map->members[mine].state), MEMBER_ACTIVE);
	ck_assert_int_eq(member_alive(&g, alive.slot), 1);
	kill_member(&alive);
	member_leave(&g, mine);
	gpufile_close(&g);
}
END_TEST

START_TEST(join_reaps_dead_members_slot)
{
	struct child c = spawn_member(NULL, 0);
	ck_assert_uint_eq(c.slot, 0);
	kill_member(&c);
	struct gpufile g;
	open_file(&g);
	struct cleanings cl = { 0 };
	unsigned slot;
	ck_assert_int_eq(member_join(&g, &plain, count_clean, &cl, &slot), 0);
	ck_assert_uint_eq(slot, 0);
	ck_assert_int_eq(cl.calls, 1);
	ck_assert_uint_eq(cl.slot, 0);
	ck_assert_uint_eq(cl.pid_seen, (uint32_t)c.pid);
	ck_assert_uint_eq(g.map->members[0].pid, (uint32_t)getpid());
	member_leave(&g, slot);
	gpufile_close(&g);
}
END_TEST

START_TEST(child_that_left_needs_no_cleaning)
{
	struct child c = spawn_member(NULL, 1);
	int status;
	ck_assert_int_eq(waitpid(c.pid, &status, 0), c.pid);
	ck_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	struct gpufile g;
	open_file(&g);
	ck_assert_uint_eq(atomic_load(&g.map->members[c.slot].state), MEMBER_FREE);
	struct cleanings cl = { 0 };
	ck_assert_int_eq(member_reap_all(&g, count_clean, &cl), 0);
	unsigned slot;
	ck_assert_int_eq(member_join(&g, &plain, count_clean, &cl, &slot), 0);
	ck_assert_uint_eq(slot, c.slot);
	ck_assert_int_eq(cl.calls, 0);
	gpufile_close(&g);
}
END_TEST

START_TEST(own_slot_is_never_reaped)
{
	struct gpufile g;
	open_file(&g);
	unsigned slot;
	ck_assert_int_eq(member_join(&g, &plain, NULL, NULL, &slot), 0);
	struct cleanings cl = { 0 };
	ck_assert_int_eq(member_reap(&g, slot, count_clean, &cl), 0);
	ck_assert_int_eq(member_reap_all(&g, count_clean, &cl), 0);
	ck_assert_int_eq(cl.calls, 0);
	ck_assert_int_eq(member_alive(&g, slot), 1);
	member_leave(&g, slot);
	gpufile_close(&g);
}
END_TEST

/* ---- groups ---- */

START_TEST(group_hash)
{
	ck_assert(member_group_hash(NULL) == 0);
	ck_assert(member_group_hash("") == 0);
	uint64_t a = member_group_hash("a");
	ck_assert(a != 0);
	ck_assert(a == member_group_hash("a"));
	ck_assert(a == UINT64_C(0xaf63dc4c8601ec8c)); /* FNV-1a 64 of "a" */
	ck_assert(a != member_group_hash("b"));
	ck_assert(member_group_hash("team-1") != member_group_hash("team-2"));
	ck_assert(member_group_hash("ab") != member_group_hash("ba"));
	/* Only the first CS_NAME_MAX - 1 characters are stored in a slot, but
	 * the hash covers the whole name it is given. */
	ck_assert(member_group_hash("abcdefgh") != member_group_hash("abcdefg"));
}
END_TEST

START_TEST(same_group)
{
	struct cs_member a, b, c, alone1, alone2;
	memset(&a, 0, sizeof(a));
	memset(&b, 0, sizeof(b));
	memset(&c, 0, sizeof(c));
	memset(&alone1, 0, sizeof(alone1));
	memset(&alone2, 0, sizeof(alone2));
	strcpy(a.group, "train");
	a.group_hash = member_group_hash("train");
	b = a;
	strcpy(c.group, "infer");
	c.group_hash = member_group_hash("infer");
	ck_assert(member_same_group(&a, &b));
	ck_assert(member_same_group(&b, &a));
	ck_assert(!member_same_group(&a, &c));
	/* Members alone are only in a group with themselves. */
	ck_assert(member_same_group(&alone1, &alone1));
	ck_assert(!member_same_group(&alone1, &alone2));
	ck_assert(!member_same_group(&alone1, &a));
	ck_assert(!member_same_group(&a, &alone1));
	/* Equal hashes are not enough: the names must match too. */
	struct cs_member forged = a;
	strcpy(forged.group, "other");
	ck_assert(!member_same_group(&a, &forged));
}
END_TEST

START_TEST(same_group_across_processes)
{
	struct gpufile g;
	open_file(&g);
	unsigned mine;
	struct member_info info = plain;
	info.group = "grp";
	ck_assert_int_eq(member_join(&g, &info, NULL, NULL, &mine), 0);
	struct child same = spawn_member("grp", 0);
	struct child other = spawn_member("grp2", 0);
	struct child alone = spawn_member("", 0);
	const struct cs_member *m = g.map->members;
	ck_assert(member_same_group(&m[mine], &m[same.slot]));
	ck_assert(!member_same_group(&m[mine], &m[other.slot]));
	ck_assert(!member_same_group(&m[mine], &m[alone.slot]));
	ck_assert(m[alone.slot].group_hash == 0);
	kill_member(&same);
	kill_member(&other);
	kill_member(&alone);
	member_leave(&g, mine);
	gpufile_close(&g);
}
END_TEST

static Suite *member_suite(void)
{
	Suite *s = suite_create("member");
	TCase *tc = tcase_create("slots");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, join_and_leave);
	tcase_add_test(tc, two_members_two_slots);
	tcase_add_test(tc, slot_reuse_after_leave);
	tcase_add_test(tc, slot_fields_reset_on_join);
	tcase_add_test(tc, full_file_gives_enospc);
	tcase_add_test(tc, out_of_range_slots);
	suite_add_tcase(s, tc);

	tc = tcase_create("liveness");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, child_member_seen_alive_with_pid);
	tcase_add_test(tc, killed_child_is_dead_and_reaped_once);
	tcase_add_test(tc, reap_all_counts_every_dead_member);
	tcase_add_test(tc, join_reaps_dead_members_slot);
	tcase_add_test(tc, child_that_left_needs_no_cleaning);
	tcase_add_test(tc, own_slot_is_never_reaped);
	suite_add_tcase(s, tc);

	tc = tcase_create("groups");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, group_hash);
	tcase_add_test(tc, same_group);
	tcase_add_test(tc, same_group_across_processes);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(member_suite());
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
