/* gen: parameter files for examples/s3-pricing, as the white paper describes them — one option
 * a line, space-delimited "spot strike time rate vol" — from a fixed seed, so the same call
 * always writes the same bytes (values with 2 and 4 decimals, as %.2f / %.4f would print them).
 *
 *   gen [--lines N (1000000)] [--seed S (1)] > params.txt */
#include <getopt.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

static uint64_t state;

static double uniform(double lo, double hi) { /* xorshift64* */
  state ^= state >> 12, state ^= state << 25, state ^= state >> 27;
  uint64_t r = state * 2685821657736338717ull;
  return lo + (hi - lo) * (double)(r >> 11) / 9007199254740992.0;
}

/* v (>= 0) with d decimals into o; returns the end (printf's %.Nf is the slow part of a file). */
static char *fixed(char *o, double v, int d) {
  static const double p10[] = {1, 10, 100, 1000, 10000};
  uint64_t f = (uint64_t)(v * p10[d] + 0.5), div = (uint64_t)p10[d], whole = f / div, frac = f % div;
  char tmp[24];
  int n = 0;
  do tmp[n++] = (char)('0' + whole % 10), whole /= 10; while (whole);
  while (n) *o++ = tmp[--n];
  *o++ = '.';
  for (int i = d - 1; i >= 0; i--) o[i] = (char)('0' + frac % 10), frac /= 10;
  return o + d;
}

int main(int argc, char **argv) {
  long lines = 1000000;
  unsigned long long seed = 1;
  static const struct option opts[] = {{"lines", required_argument, 0, 'l'}, {"seed", required_argument, 0, 's'}, {0, 0, 0, 0}};
  for (int c; (c = getopt_long(argc, argv, "", opts, NULL)) != -1;) {
    if (c == 'l') lines = atol(optarg);
    else if (c == 's') seed = strtoull(optarg, NULL, 10);
    else return 2;
  }
  state = seed * 0x9E3779B97F4A7C15ull + 1;
  static char buf[1 << 16];
  setvbuf(stdout, buf, _IOFBF, sizeof buf);
  for (long i = 0; i < lines; i++) {
    char line[128], *o = line;
    double spot = uniform(50, 250);
    o = fixed(o, spot, 2), *o++ = ' ';
    o = fixed(o, spot * uniform(0.8, 1.2), 2), *o++ = ' ';
    o = fixed(o, uniform(0.05, 2.0), 4), *o++ = ' ';
    o = fixed(o, uniform(0.0, 0.05), 4), *o++ = ' ';
    o = fixed(o, uniform(0.1, 0.6), 4), *o++ = '\n';
    fwrite(line, 1, (size_t)(o - line), stdout);
  }
  return 0;
}
