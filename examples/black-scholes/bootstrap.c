/* black-scholes: the white paper's first function — one European option priced with
 * Black-Scholes, the cumulative normal by the polynomial approximation of Abramowitz and Stegun
 * 26.2.17 that the paper's q code uses.
 *
 * Event:  {"Ticker":"AAPL","EquityPrice":200,"Strike":220,"Rate":0.025,"Time":0.25,
 *          "Volatility":0.2673,"CallPut":"c"}
 * Result: the event with "BlackScholes_Option_Price" added (4.220232 for this one).
 * Errors: CallPut other than c/p -> PricingError "(c)all/(p)ut error" (the paper's signal);
 *         a missing or non-numeric field -> InvalidEvent naming it.
 * Built with liblambdalite-runtime (make builds build/examples/black-scholes/bootstrap). */
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lambdalite_runtime.h"

/* Cumulative normal distribution (A&S 26.2.17, |error| < 7.5e-8). */
static double cnd(double x) {
  static const double a[5] = {.31938153, -.356563782, 1.781477937, -1.821255978, 1.330274429};
  double l = fabs(x), k = 1.0 / (1.0 + .2316419 * l);
  double poly = k * (a[0] + k * (a[1] + k * (a[2] + k * (a[3] + k * a[4]))));
  double w = 1.0 - exp(-l * l / 2.0) / sqrt(2.0 * M_PI) * poly;
  return x < 0 ? 1.0 - w : w;
}

static double black_scholes(double s, double x, double r, double t, double v, bool call) {
  double d1 = (log(s / x) + (r + v * v / 2.0) * t) / (v * sqrt(t)), d2 = d1 - v * sqrt(t);
  return call ? s * cnd(d1) - x * exp(-r * t) * cnd(d2) : x * exp(-r * t) * cnd(-d2) - s * cnd(-d1);
}

/* The value of "key" in a flat JSON object: a pointer to its first byte, or NULL. Enough for
 * this event (no nested objects are searched; keys are matched with their quotes). */
static const char *field(const char *json, const char *key) {
  char pat[64];
  snprintf(pat, sizeof pat, "\"%s\"", key);
  for (const char *p = json; (p = strstr(p, pat)); p += strlen(pat)) {
    const char *q = p + strlen(pat);
    while (*q == ' ' || *q == '\t' || *q == '\n' || *q == '\r') q++;
    if (*q != ':') continue;
    q++;
    while (*q == ' ' || *q == '\t' || *q == '\n' || *q == '\r') q++;
    return q;
  }
  return NULL;
}

static bool number(const char *json, const char *key, double *out) {
  const char *v = field(json, key);
  if (!v) return false;
  char *end;
  *out = strtod(v, &end);
  return end != v && isfinite(*out);
}

static int handle(const ll_invocation *in, ll_response *out) {
  static const char *const keys[] = {"EquityPrice", "Strike", "Rate", "Time", "Volatility"};
  double v[5];
  char msg[160];
  for (int i = 0; i < 5; i++) {
    if (!number(in->payload, keys[i], &v[i])) {
      snprintf(msg, sizeof msg, "missing field %s (a number)", keys[i]);
      return ll_response_error(out, "InvalidEvent", msg);
    }
  }
  if (v[0] <= 0 || v[1] <= 0 || v[3] <= 0 || v[4] <= 0)
    return ll_response_error(out, "InvalidEvent",
                             "EquityPrice, Strike, Time and Volatility must be positive");
  const char *cp = field(in->payload, "CallPut");
  bool call = cp && (strncmp(cp, "\"c\"", 3) == 0 || strncmp(cp, "\"C\"", 3) == 0);
  bool put = cp && (strncmp(cp, "\"p\"", 3) == 0 || strncmp(cp, "\"P\"", 3) == 0);
  if (!call && !put) return ll_response_error(out, "PricingError", "(c)all/(p)ut error");
  double price = black_scholes(v[0], v[1], v[2], v[3], v[4], call);
  /* the event back, with the price as its last member */
  const char *end = strrchr(in->payload, '}');
  if (!end) return ll_response_error(out, "InvalidEvent", "the event must be a JSON object");
  const char *p = end;
  while (p > in->payload && (p[-1] == ' ' || p[-1] == '\n' || p[-1] == '\t' || p[-1] == '\r')) p--;
  bool empty = p > in->payload && p[-1] == '{';
  return ll_response_printf(out, "%.*s%s\"BlackScholes_Option_Price\":%.6f}", (int)(p - in->payload),
                            in->payload, empty ? "" : ",", price);
}

int main(void) { return ll_runtime_main(handle) ? 1 : 0; }
