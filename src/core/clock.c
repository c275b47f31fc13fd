#include "core/clock.h"

#include <stdio.h>

uint64_t ll_mono_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

int64_t ll_wall_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void utc(int64_t epoch_ms, struct tm *tm) {
  time_t t = (time_t)(epoch_ms / 1000);
  gmtime_r(&t, tm);
}

void ll_format_lambda_time(int64_t epoch_ms, char *out, size_t sz) {
  struct tm tm;
  utc(epoch_ms, &tm);
  char base[24];
  strftime(base, sizeof base, "%Y-%m-%dT%H:%M:%S", &tm);
  snprintf(out, sz, "%s.%03d+0000", base, (int)(epoch_ms % 1000));
}

void ll_format_iso_ms(int64_t epoch_ms, char *out, size_t sz) {
  struct tm tm;
  utc(epoch_ms, &tm);
  char base[24];
  strftime(base, sizeof base, "%Y-%m-%dT%H:%M:%S", &tm);
  snprintf(out, sz, "%s.%03dZ", base, (int)(epoch_ms % 1000));
}

void ll_format_http_date(time_t t, char *out, size_t sz) {
  struct tm tm;
  gmtime_r(&t, &tm);
  strftime(out, sz, "%a, %d %b %Y %H:%M:%S GMT", &tm);
}
