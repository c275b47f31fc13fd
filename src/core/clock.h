/* Time helpers. Monotonic time for durations and deadlines, wall time for the wire. */
#ifndef LL_CORE_CLOCK_H
#define LL_CORE_CLOCK_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

uint64_t ll_mono_ns(void);   /* CLOCK_MONOTONIC in nanoseconds */
int64_t ll_wall_ms(void);    /* Unix epoch milliseconds */
/* "2019-11-21T19:32:12.000+0000" (Lambda's LastModified form) into out (>= 32 bytes). */
void ll_format_lambda_time(int64_t epoch_ms, char *out, size_t sz);
/* "2026-11-25T09:30:01.123Z" (ISO 8601 UTC, millisecond precision) into out (>= 32 bytes). */
void ll_format_iso_ms(int64_t epoch_ms, char *out, size_t sz);
/* RFC 1123 "Tue, 24 Nov 2026 11:53:07 GMT" into out (>= 32 bytes). */
void ll_format_http_date(time_t t, char *out, size_t sz);

#endif
