/* test_ledger.c - lib/ledger.c: reservations within group caps, the
 * smallest-cap rule, dead members, the local ledger and the charge map.
 *
 * Member slots are filled by hand in a cs_file in anonymous shared memory;
 * in the stress test threads stand in for member processes, each with its
 * own slot, and a checker thread watches the bytes a simulated driver holds.
 */
#include <check.h>
#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "ledger.h"
#include "member.h"

#define MiB (UINT64_C(1) << 20)
#define GiB (UINT64_C(1) << 30)

static struct cs_file *f;

static void setup(void)
{
	f = mmap(NULL, sizeof(*f), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	ck_assert_ptr_ne(f, MAP_FAILED);
}

static void teardown(void)
{
	munmap(f, sizeof(*f));
}

/* Makes slot an ACTIVE member of group ("" = alone) declaring cap. */
static void add_member(unsigned slot, const char *group, uint64_t cap)
{
	struct cs_member *m = &f->members[slot];
	memset(m, 0, sizeof(*m));
	m->declared_cap = cap;
	strncpy(m->group, group, sizeof(m->group) - 1);
	m->group_hash = member_group_hash(group);
	atomic_store(&m->state, MEMBER_ACTIVE);
}

static uint64_t charged(unsigned slot)
{
	return atomic_load(&f->members[slot].charged);
}

static void expect_usage(unsigned slot, uint64_t want_used, uint64_t want_cap)
{
	uint64_t used = 1, cap = 1;
	ck_assert_int_eq(ledger_group_usage(f, slot, &used, &cap), 0);
	ck_assert_msg(used == want_used, "slot %u: used %llu, want %llu", slot,
		      (unsigned long long)used, (unsigned long long)want_used);
	ck_assert_msg(cap == want_cap, "slot %u: cap %llu, want %llu", slot,
		      (unsigned long long)cap, (unsigned long long)want_cap);
}

START_TEST(reserve_within_cap)
{
	add_member(0, "", GiB);
	uint64_t used = 0;
	ck_assert_int_eq(ledger_reserve(f, 0, 600 * MiB, NULL, NULL, &used), 0);
	ck_assert_uint_eq(used, 600 * MiB);
	ck_assert_int_eq(ledger_reserve(f, 0, 424 * MiB, NULL, NULL, &used), 0);
	ck_assert_uint_eq(used, GiB);
	ck_assert_int_eq(ledger_reserve(f, 0, 1, NULL, NULL, &used), -ENOMEM);
	ck_assert_uint_eq(charged(0), GiB);
	ck_assert_uint_eq(atomic_load(&f->members[0].refusals), 1);
	ck_assert_uint_eq(atomic_load(&f->members[0].allocations), 2);
	ck_assert_uint_eq(atomic_load(&f->members[0].peak), GiB);
}
END_TEST

START_TEST(unreserve_gives_back)
{
	add_member(0, "", GiB);
	ck_assert_int_eq(ledger_reserve(f, 0, GiB, NULL, NULL, NULL), 0);
	ck_assert_int_eq(ledger_reserve(f, 0, MiB, NULL, NULL, NULL), -ENOMEM);
	ledger_unreserve(f, 0, 256 * MiB);
	ck_assert_uint_eq(charged(0), GiB - 256 * MiB);
	ck_assert_int_eq(ledger_reserve(f, 0, 256 * MiB, NULL, NULL, NULL), 0);
	ledger_unreserve(f, 0, 2 * GiB); /* more than charged: stops at zero */
	ck_assert_uint_eq(charged(0), 0);
	ck_assert_uint_eq(atomic_load(&f->members[0].peak), GiB);
}
END_TEST

START_TEST(no_cap_charges_without_limit)
{
	add_member(0, "", 0);
	ck_assert_int_eq(ledger_reserve(f, 0, 100 * GiB, NULL, NULL, NULL), 0);
	ck_assert_uint_eq(charged(0), 100 * GiB);
	expect_usage(0, 100 * GiB, 0);
	ck_assert_int_eq(ledger_reserve(f, 0, LEDGER_BYTES_MAX + 1, NULL, NULL, NULL), -ENOMEM);
	ck_assert_uint_eq(charged(0), 100 * GiB);
}
END_TEST

START_TEST(bad_slot_is_einval)
{
	uint64_t used = 7, cap = 7;
	ck_assert_int_eq(ledger_reserve(f, CS_MEMBERS_MAX, 1, NULL, NULL, NULL), -EINVAL);
	ck_assert_int_eq(ledger_reserve(NULL, 0, 1, NULL, NULL, NULL), -EINVAL);
	ck_assert_int_eq(ledger_group_usage(f, CS_MEMBERS_MAX, &used, &cap), -EINVAL);
	ck_assert_int_eq(ledger_charge(f, CS_MEMBERS_MAX, 1), -EINVAL);
	ck_assert_uint_eq(used, 7);
	ledger_unreserve(f, CS_MEMBERS_MAX, 1);
	ledger_forget(f, CS_MEMBERS_MAX);
}
END_TEST

START_TEST(group_sums_members)
{
	add_member(0, "pod-a", GiB);
	add_member(1, "pod-a", GiB);
	add_member(2, "pod-b", GiB);
	add_member(3, "", GiB);
	ck_assert_int_eq(ledger_reserve(f, 0, 300 * MiB, NULL, NULL, NULL), 0);
	ck_assert_int_eq(ledger_reserve(f, 1, 500 * MiB, NULL, NULL, NULL), 0);
	ck_assert_int_eq(ledger_reserve(f, 2, 900 * MiB, NULL, NULL, NULL), 0);
	ck_assert_int_eq(ledger_reserve(f, 3, 900 * MiB, NULL, NULL, NULL), 0);
	expect_usage(0, 800 * MiB, GiB);
	expect_usage(1, 800 * MiB, GiB);
	expect_usage(2, 900 * MiB, GiB);
	expect_usage(3, 900 * MiB, GiB);
	uint64_t used = 0;
	ck_assert_int_eq(ledger_reserve(f, 1, 300 * MiB, NULL, NULL, &used), -ENOMEM);
	ck_assert_uint_eq(used, 800 * MiB);
	ck_assert_int_eq(ledger_reserve(f, 1, 224 * MiB, NULL, NULL, &used), 0);
	ck_assert_uint_eq(used, GiB);
	ck_assert_uint_eq(charged(1), 724 * MiB);
}
END_TEST

START_TEST(free_slots_do_not_count)
{
	add_member(0, "pod", GiB);
	add_member(1, "pod", GiB);
	atomic_store(&f->members[1].charged, 900 * MiB);
	expect_usage(0, 900 * MiB, GiB);
	atomic_store(&f->members[1].state, MEMBER_FREE);
	expect_usage(0, 0, GiB);
}
END_TEST

START_TEST(smallest_cap_wins)
{
	add_member(0, "pod", 4 * GiB);
	add_member(1, "pod", 0);       /* declares none: bound by the others */
	expect_usage(1, 0, 4 * GiB);
	add_member(2, "pod", GiB);
	expect_usage(0, 0, GiB);
	expect_usage(1, 0, GiB);
	ck_assert_int_eq(ledger_reserve(f, 0, GiB + 1, NULL, NULL, NULL), -ENOMEM);
	ck_assert_int_eq(ledger_reserve(f, 1, GiB + 1, NULL, NULL, NULL), -ENOMEM);
	ck_assert_int_eq(ledger_reserve(f, 0, GiB, NULL, NULL, NULL), 0);
	atomic_store(&f->members[2].state, MEMBER_FREE); /* the 1G member left */
	expect_usage(0, GiB, 4 * GiB);
}
END_TEST

START_TEST(no_declared_cap_means_no_cap)
{
	add_member(0, "pod", 0);
	add_member(1, "pod", 0);
	ck_assert_int_eq(ledger_reserve(f, 0, 50 * GiB, NULL, NULL, NULL), 0);
	ck_assert_int_eq(ledger_reserve(f, 1, 50 * GiB, NULL, NULL, NULL), 0);
	expect_usage(0, 100 * GiB, 0);
}
END_TEST

START_TEST(invalid_member_closes_group)
{
	add_member(0, "pod", 4 * GiB);
	add_member(1, "pod", 1); /* device.c declares 1 byte for an unusable cap */
	ck_assert_int_eq(ledger_reserve(f, 0, MiB, NULL, NULL, NULL), -ENOMEM);
	expect_usage(0, 0, 1);
}
END_TEST

START_TEST(forget_returns_everything)
{
	add_member(0, "pod", GiB);
	add_member(1, "pod", GiB);
	ck_assert_int_eq(ledger_reserve(f, 1, 900 * MiB, NULL, NULL, NULL), 0);
	ck_assert_int_eq(ledger_reserve(f, 0, 900 * MiB, NULL, NULL, NULL), -ENOMEM);
	ledger_forget(f, 1);
	ck_assert_uint_eq(charged(1), 0);
	ck_assert_int_eq(ledger_reserve(f, 0, 900 * MiB, NULL, NULL, NULL), 0);
}
END_TEST

static int reap_calls;

/* Stands in for device_reap(): slot 1 is dead; reap it like member_reap. */
static int reap_slot1(void *arg)
{
	(void)arg;
	reap_calls++;
	if (atomic_load(&f->members[1].state) != MEMBER_ACTIVE)
		return 0;
	ledger_forget(f, 1);
	atomic_store(&f->members[1].state, MEMBER_FREE);
	return 1;
}

START_TEST(full_reserve_reaps_dead_members)
{
	add_member(0, "pod", GiB);
	add_member(1, "pod", GiB);
	ck_assert_int_eq(ledger_reserve(f, 1, 900 * MiB, NULL, NULL, NULL), 0);
	reap_calls = 0;
	ck_assert_int_eq(ledger_reserve(f, 0, 100 * MiB, reap_slot1, NULL, NULL), 0);
	ck_assert_int_eq(reap_calls, 0); /* it fitted: nobody was reaped */
	ck_assert_int_eq(ledger_reserve(f, 0, 900 * MiB, reap_slot1, NULL, NULL), 0);
	ck_assert_int_eq(reap_calls, 1);
	ck_assert_uint_eq(charged(0), 1000 * MiB);
	ck_assert_int_eq(ledger_reserve(f, 0, 25 * MiB, reap_slot1, NULL, NULL), -ENOMEM);
	ck_assert_int_eq(reap_calls, 2); /* tried once more, found nobody */
}
END_TEST

START_TEST(forced_charge_can_overfill)
{
	add_member(0, "pod", GiB);
	add_member(1, "pod", GiB);
	ck_assert_int_eq(ledger_charge(f, 0, 512 * MiB), 0);
	ck_assert_int_eq(ledger_charge(f, 1, 768 * MiB), -ENOMEM);
	expect_usage(0, 1280 * MiB, GiB);
	ck_assert_int_eq(ledger_reserve(f, 0, 1, NULL, NULL, NULL), -ENOMEM);
	ledger_unreserve(f, 1, 768 * MiB);
	ck_assert_int_eq(ledger_reserve(f, 1, 512 * MiB, NULL, NULL, NULL), 0);
}
END_TEST

START_TEST(usage_by_name_for_non_members)
{
	add_member(0, "pod", 2 * GiB);
	add_member(1, "pod", 0);
	add_member(2, "other", GiB);
	ck_assert_int_eq(ledger_reserve(f, 0, 300 * MiB, NULL, NULL, NULL), 0);
	ck_assert_int_eq(ledger_reserve(f, 1, 200 * MiB, NULL, NULL, NULL), 0);
	ck_assert_int_eq(ledger_reserve(f, 2, 700 * MiB, NULL, NULL, NULL), 0);
	uint64_t used = 1, cap = 1;
	ck_assert_int_eq(ledger_group_usage_by_name(f, "pod", 0, &used, &cap), 0);
	ck_assert_uint_eq(used, 500 * MiB);
	ck_assert_uint_eq(cap, 2 * GiB);
	ck_assert_int_eq(ledger_group_usage_by_name(f, "pod", GiB, &used, &cap), 0);
	ck_assert_uint_eq(cap, GiB);
	ck_assert_int_eq(ledger_group_usage_by_name(f, "", 3 * GiB, &used, &cap), 0);
	ck_assert_uint_eq(used, 0);
	ck_assert_uint_eq(cap, 3 * GiB);
	ck_assert_int_eq(ledger_group_usage_by_name(NULL, "pod", 5, &used, &cap), 0);
	ck_assert_uint_eq(used, 0);
	ck_assert_uint_eq(cap, 5);
}
END_TEST

START_TEST(corrupt_charge_fills_group)
{
	add_member(0, "pod", GiB);
	add_member(1, "pod", GiB);
	add_member(2, "pod", GiB);
	atomic_store(&f->members[1].charged, UINT64_MAX - 5);
	atomic_store(&f->members[2].charged, UINT64_MAX - 5);
	expect_usage(0, UINT64_MAX, GiB);
	ck_assert_int_eq(ledger_reserve(f, 0, 1, NULL, NULL, NULL), -ENOMEM);
	ck_assert_uint_eq(charged(0), 0);
}
END_TEST

/* Issue 14 (3): a member whose reservation cannot fit is told which
 * member and group hold the bytes. */
START_TEST(explain_names_the_holder)
{
	add_member(0, "train", 4 * GiB);
	add_member(1, "train", 4 * GiB);
	add_member(2, "train", 0);
	add_member(3, "eval", 0);
	f->members[1].pid = 4242;
	atomic_store(&f->members[1].charged, 3 * GiB);
	atomic_store(&f->members[2].charged, 512 * MiB);
	atomic_store(&f->members[3].charged, 8 * GiB); /* another group: never named */
	char why[300];
	ck_assert_int_eq(ledger_explain(f, 0, 704 * MiB, why, sizeof(why)), 0);
	ck_assert_msg(strstr(why, "704M does not fit: group 'train' holds 3.5G of its 4G cap") !=
		      NULL, "%s", why);
	ck_assert_msg(strstr(why, "most of it, 3G, by pid 4242 (slot 1, group 'train')") != NULL,
		      "%s", why);
	/* Alone, with nobody else: no holder named. */
	add_member(5, "", 1 * GiB);
	atomic_store(&f->members[5].charged, 1 * GiB);
	ck_assert_int_eq(ledger_explain(f, 5, 2 * MiB, why, sizeof(why)), 0);
	ck_assert_msg(strstr(why, "no group) holds 1G of its 1G cap") != NULL, "%s", why);
	ck_assert_ptr_null(strstr(why, "most of it"));
	/* Short buffers stay strings; bad arguments are refused. */
	ck_assert_int_eq(ledger_explain(f, 0, 1, why, 8), 0);
	ck_assert_uint_eq(strlen(why), 7);
	ck_assert_int_eq(ledger_explain(f, CS_MEMBERS_MAX, 1, why, sizeof(why)), -EINVAL);
	ck_assert_int_eq(ledger_explain(NULL, 0, 1, why, sizeof(why)), -EINVAL);
}
END_TEST

START_TEST(local_ledger)
{
	struct ledger_local l;
	memset(&l, 0, sizeof(l));
	l.cap = GiB;
	uint64_t used = 0, cap = 0;
	ck_assert_int_eq(ledger_local_reserve(&l, 700 * MiB, &used), 0);
	ck_assert_uint_eq(used, 700 * MiB);
	ck_assert_int_eq(ledger_local_reserve(&l, 400 * MiB, &used), -ENOMEM);
	ck_assert_uint_eq(used, 700 * MiB);
	ck_assert_uint_eq(atomic_load(&l.refusals), 1);
	ledger_local_unreserve(&l, 700 * MiB);
	ck_assert_int_eq(ledger_local_reserve(&l, GiB, NULL), 0);
	ck_assert_int_eq(ledger_local_charge(&l, MiB), -ENOMEM);
	ledger_local_usage(&l, &used, &cap);
	ck_assert_uint_eq(used, GiB + MiB);
	ck_assert_uint_eq(cap, GiB);
	ck_assert_uint_eq(atomic_load(&l.peak), GiB + MiB);
	l.cap = 0;
	ck_assert_int_eq(ledger_local_reserve(&l, 100 * GiB, NULL), 0);
}
END_TEST

START_TEST(map_put_take)
{
	struct ledger_map m = LEDGER_MAP_INIT;
	uint64_t old = 9, bytes = 0;
	int old_dev = -1, dev = -1;
	ck_assert_int_eq(ledger_map_put(&m, CHARGE_PTR, 0x7f0000001000, 4096, 0, &old, &old_dev), 0);
	ck_assert_uint_eq(old, 0);
	/* The same number in other namespaces is another key. */
	ck_assert_int_eq(ledger_map_put(&m, CHARGE_HANDLE, 0x7f0000001000, 2 * MiB, 1, &old,
					&old_dev), 0);
	ck_assert_int_eq(ledger_map_put(&m, CHARGE_ARRAY, 0x7f0000001000, 77, 2, &old, &old_dev),
			 0);
	ck_assert_uint_eq(old, 0);
	ck_assert_uint_eq(ledger_map_count(&m), 3);
	ck_assert_int_eq(ledger_map_take(&m, CHARGE_HANDLE, 0x7f0000001000, &bytes, &dev), 0);
	ck_assert_uint_eq(bytes, 2 * MiB);
	ck_assert_int_eq(dev, 1);
	ck_assert_int_eq(ledger_map_take(&m, CHARGE_HANDLE, 0x7f0000001000, &bytes, &dev),
			 -ENOENT);
	ck_assert_int_eq(ledger_map_take(&m, CHARGE_MIPMAP, 0x7f0000001000, &bytes, &dev),
			 -ENOENT);
	ck_assert_int_eq(ledger_map_take(&m, CHARGE_PTR, 0x7f0000001000, &bytes, &dev), 0);
	ck_assert_uint_eq(bytes, 4096);
	ck_assert_uint_eq(ledger_map_count(&m), 1);
	ledger_map_clear(&m);
	ck_assert_uint_eq(ledger_map_count(&m), 0);
}
END_TEST

START_TEST(map_replaces_stale_record)
{
	struct ledger_map m = LEDGER_MAP_INIT;
	uint64_t old = 0, bytes = 0;
	int old_dev = -1, dev = -1;
	ck_assert_int_eq(ledger_map_put(&m, CHARGE_PTR, 0x1000, 100, 3, &old, &old_dev), 0);
	ck_assert_int_eq(ledger_map_put(&m, CHARGE_PTR, 0x1000, 200, 0, &old, &old_dev), 0);
	ck_assert_uint_eq(old, 100);
	ck_assert_int_eq(old_dev, 3);
	ck_assert_uint_eq(ledger_map_count(&m), 1);
	ck_assert_int_eq(ledger_map_take(&m, CHARGE_PTR, 0x1000, &bytes, &dev), 0);
	ck_assert_uint_eq(bytes, 200);
	ck_assert_int_eq(dev, 0);
}
END_TEST

/* Issue 14 (7): a destroyed context's allocations are given back together. */
START_TEST(map_take_by_owner)
{
	struct ledger_map m = LEDGER_MAP_INIT;
	uint64_t ob;
	int od;
	ck_assert_int_eq(ledger_map_put_owned(&m, CHARGE_PTR, 0x1000, 10, 0, 0xc1, &ob, &od), 0);
	ck_assert_int_eq(ledger_map_put_owned(&m, CHARGE_ARRAY, 0x1000, 20, 1, 0xc1, &ob, &od), 0);
	ck_assert_int_eq(ledger_map_put_owned(&m, CHARGE_PTR, 0x2000, 40, 0, 0xc2, &ob, &od), 0);
	ck_assert_int_eq(ledger_map_put(&m, CHARGE_HANDLE, 0x3000, 80, 0, &ob, &od), 0);
	ck_assert_int_eq(ledger_map_put_owned(&m, CHARGE_PTR, 0x4000, 160, 9, 0xc1, &ob, &od), 0);
	uint64_t by_dev[2] = { 0, 0 };
	ck_assert_uint_eq(ledger_map_take_owner(&m, 0xc1, by_dev, 2), 3);
	ck_assert(by_dev[0] == 10 && by_dev[1] == 20); /* device 9: out of range, uncounted */
	ck_assert_uint_eq(ledger_map_count(&m), 2);
	ck_assert_uint_eq(ledger_map_take_owner(&m, 0xc1, by_dev, 2), 0);
	ck_assert_uint_eq(ledger_map_take_owner(&m, 0, by_dev, 2), 0); /* never "no owner" */
	uint64_t bytes;
	int dev;
	ck_assert_int_eq(ledger_map_take(&m, CHARGE_PTR, 0x2000, &bytes, &dev), 0);
	ck_assert(bytes == 40);
	ck_assert_int_eq(ledger_map_take(&m, CHARGE_HANDLE, 0x3000, &bytes, &dev), 0);
	ck_assert(bytes == 80);
	ck_assert_int_eq(ledger_map_take(&m, CHARGE_PTR, 0x1000, &bytes, &dev), -ENOENT);
	ledger_map_clear(&m);
}
END_TEST

START_TEST(map_many_and_abandon)
{
	struct ledger_map m = LEDGER_MAP_INIT;
	uint64_t old, bytes;
	int old_dev, dev;
	for (uint64_t i = 0; i < 10000; i++)
		ck_assert_int_eq(ledger_map_put(&m, CHARGE_PTR, i * 512, i, 0, &old, &old_dev), 0);
	ck_assert_uint_eq(ledger_map_count(&m), 10000);
	for (uint64_t i = 0; i < 10000; i += 2) {
		ck_assert_int_eq(ledger_map_take(&m, CHARGE_PTR, i * 512, &bytes, &dev), 0);
		ck_assert_uint_eq(bytes, i);
	}
	ck_assert_uint_eq(ledger_map_count(&m), 5000);
	struct ledger_map copy = m;
	ledger_map_abandon(&m); /* a forked child: forgets, frees nothing */
	ck_assert_uint_eq(ledger_map_count(&m), 0);
	ck_assert_int_eq(ledger_map_take(&m, CHARGE_PTR, 512, &bytes, &dev), -ENOENT);
	ledger_map_clear(&copy);
}
END_TEST

/* ---- stress: threads as members, a simulated driver, a checker ---- */

enum { STRESS_MEMBERS = 8, STRESS_ROUNDS = 20000, STRESS_HOLD_MAX = 6 };
#define STRESS_CAP (1000 * MiB)

static _Atomic uint64_t driver_used;   /* what the simulated driver holds */
static _Atomic uint64_t driver_peak;
static _Atomic int stress_done;
static _Atomic uint64_t stress_ok, stress_refused;

static void driver_alloc(uint64_t n)
{
	uint64_t now = atomic_fetch_add(&driver_used, n) + n;
	uint64_t p = atomic_load(&driver_peak);
	while (now > p && !atomic_compare_exchange_weak(&driver_peak, &p, now))
		;
}

static void *stress_member(void *arg)
{
	unsigned slot = (unsigned)(uintptr_t)arg;
	unsigned seed = slot * 7919u + 1;
	uint64_t held[STRESS_HOLD_MAX];
	int n = 0;
	for (int round = 0; round < STRESS_ROUNDS; round++) {
		if (n == STRESS_HOLD_MAX || (n > 0 && rand_r(&seed) % 2 == 0)) {
			uint64_t bytes = held[--n];
			atomic_fetch_sub(&driver_used, bytes); /* free, then give back */
			ledger_unreserve(f, slot, bytes);
			continue;
		}
		uint64_t bytes = (1 + rand_r(&seed) % 250) * MiB;
		if (ledger_reserve(f, slot, bytes, NULL, NULL, NULL) == 0) {
			driver_alloc(bytes);
			held[n++] = bytes;
			atomic_fetch_add(&stress_ok, 1);
		} else {
			atomic_fetch_add(&stress_refused, 1);
		}
	}
	while (n > 0) {
		uint64_t bytes = held[--n];
		atomic_fetch_sub(&driver_used, bytes);
		ledger_unreserve(f, slot, bytes);
	}
	return NULL;
}

static void *stress_checker(void *arg)
{
	uint64_t *worst = arg;
	while (!atomic_load(&stress_done)) {
		uint64_t now = atomic_load(&driver_used);
		if (now > *worst)
			*worst = now;
	}
	return NULL;
}

START_TEST(concurrent_members_never_exceed_cap)
{
	for (unsigned i = 0; i < STRESS_MEMBERS; i++)
		add_member(i, "crowd", STRESS_CAP);
	add_member(STRESS_MEMBERS, "bystander", MiB); /* another group: not counted */
	atomic_store(&f->members[STRESS_MEMBERS].charged, 900 * MiB);
	pthread_t members[STRESS_MEMBERS], checker;
	uint64_t worst = 0;
	ck_assert_int_eq(pthread_create(&checker, NULL, stress_checker, &worst), 0);
	for (unsigned i = 0; i < STRESS_MEMBERS; i++)
		ck_assert_int_eq(pthread_create(&members[i], NULL, stress_member,
						(void *)(uintptr_t)i), 0);
	for (unsigned i = 0; i < STRESS_MEMBERS; i++)
		pthread_join(members[i], NULL);
	atomic_store(&stress_done, 1);
	pthread_join(checker, NULL);
	ck_assert_msg(atomic_load(&driver_peak) <= STRESS_CAP,
		      "the group held %llu MiB, over its cap of %llu MiB",
		      (unsigned long long)(atomic_load(&driver_peak) / MiB),
		      (unsigned long long)(STRESS_CAP / MiB));
	ck_assert_uint_le(worst, STRESS_CAP);
	/* Both sides were exercised: the cap was reached and refused. */
	ck_assert_uint_gt(atomic_load(&stress_ok), 1000);
	ck_assert_uint_gt(atomic_load(&stress_refused), 100);
	ck_assert_uint_gt(atomic_load(&driver_peak), STRESS_CAP - 250 * MiB);
	uint64_t used = 1, cap = 0;
	ck_assert_int_eq(ledger_group_usage(f, 0, &used, &cap), 0);
	ck_assert_uint_eq(used, 0);
	ck_assert_uint_eq(charged(STRESS_MEMBERS), 900 * MiB);
}
END_TEST

static Suite *ledger_suite(void)
{
	Suite *s = suite_create("ledger");
	TCase *tc = tcase_create("reserve");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, reserve_within_cap);
	tcase_add_test(tc, unreserve_gives_back);
	tcase_add_test(tc, no_cap_charges_without_limit);
	tcase_add_test(tc, bad_slot_is_einval);
	tcase_add_test(tc, forced_charge_can_overfill);
	suite_add_tcase(s, tc);
	tc = tcase_create("groups");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, group_sums_members);
	tcase_add_test(tc, free_slots_do_not_count);
	tcase_add_test(tc, smallest_cap_wins);
	tcase_add_test(tc, no_declared_cap_means_no_cap);
	tcase_add_test(tc, invalid_member_closes_group);
	tcase_add_test(tc, usage_by_name_for_non_members);
	tcase_add_test(tc, corrupt_charge_fills_group);
	tcase_add_test(tc, explain_names_the_holder);
	suite_add_tcase(s, tc);
	tc = tcase_create("dead members");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, forget_returns_everything);
	tcase_add_test(tc, full_reserve_reaps_dead_members);
	suite_add_tcase(s, tc);
	tc = tcase_create("local");
	tcase_add_test(tc, local_ledger);
	suite_add_tcase(s, tc);
	tc = tcase_create("map");
	tcase_add_test(tc, map_put_take);
	tcase_add_test(tc, map_replaces_stale_record);
	tcase_add_test(tc, map_many_and_abandon);
	tcase_add_test(tc, map_take_by_owner);
	suite_add_tcase(s, tc);
	tc = tcase_create("stress");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, concurrent_members_never_exceed_cap);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(ledger_suite());
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
