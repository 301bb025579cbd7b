/* clock.h - nanosecond clocks and the timespecs the waits need.
 *
 * One conversion between struct timespec and uint64_t nanoseconds for the
 * whole tree. CLOCK_MONOTONIC is one clock per host, shared by every
 * container on it; CLOCK_REALTIME is for times shown to people.
 * clock_gettime on these clocks cannot fail on Linux.
 */
#ifndef CUSLICE_CLOCK_H
#define CUSLICE_CLOCK_H

#include <stdint.h>
#include <time.h>

#define NS_PER_SEC UINT64_C(1000000000)
#define NS_PER_MS UINT64_C(1000000)

/* The time on clock id in nanoseconds. */
static inline uint64_t clock_ns(clockid_t id)
{
	struct timespec ts;
	clock_gettime(id, &ts);
	return (uint64_t)ts.tv_sec * NS_PER_SEC + (uint64_t)ts.tv_nsec;
}

/* ns as a timespec (a duration, or an absolute time on some clock). */
static inline struct timespec clock_ts(uint64_t ns)
{
	struct timespec ts = { (time_t)(ns / NS_PER_SEC), (long)(ns % NS_PER_SEC) };
	return ts;
}

/* The absolute time ns from now on clock id, for timed waits. */
static inline struct timespec clock_deadline(clockid_t id, uint64_t ns)
{
	return clock_ts(clock_ns(id) + ns);
}

#endif
