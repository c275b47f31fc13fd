/* Runs every registered unit test in its own forked child with a timeout and prints TAP-like
 * lines, closing with `unit: N passed, N failed[, N skipped]`. Exit status 1 when any failed.
 * Usage: unit-tests [substring]   runs only the tests whose name contains the substring. */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "test.h"

#define MAX_TESTS 1024
#define TIMEOUT_S 60

static struct {
  const char *name, *file;
  ll_test_fn fn;
} tests[MAX_TESTS];
static int ntests;

void ll__test_register(const char *name, ll_test_fn fn, const char *file) {
  if (ntests == MAX_TESTS) {
    fprintf(stderr, "unit: too many tests (raise MAX_TESTS)\n");
    exit(2);
  }
  tests[ntests].name = name;
  tests[ntests].file = file;
  tests[ntests].fn = fn;
  ntests++;
}

static int by_file_then_name(const void *a, const void *b) {
  const typeof(tests[0]) *x = a, *y = b;
  int c = strcmp(x->file, y->file);
  return c ? c : strcmp(x->name, y->name);
}

int main(int argc, char **argv) {
  const char *filter = argc > 1 ? argv[1] : NULL;
  qsort(tests, (size_t)ntests, sizeof tests[0], by_file_then_name);
  int passed = 0, failed = 0, skipped = 0, n = 0;
  for (int i = 0; i < ntests; i++) {
    if (filter && !strstr(tests[i].name, filter)) continue;
    n++;
    fflush(stdout);
    pid_t pid = fork();
    if (pid == 0) {
      alarm(TIMEOUT_S);
      tests[i].fn();
      fflush(stdout);
      _exit(0);
    }
    int st = 0;
    waitpid(pid, &st, 0);
    if (WIFEXITED(st) && WEXITSTATUS(st) == 0) {
      printf("ok %d %s\n", n, tests[i].name);
      passed++;
    } else if (WIFEXITED(st) && WEXITSTATUS(st) == 77) {
      printf("ok %d %s # SKIP\n", n, tests[i].name);
      skipped++;
    } else {
      if (WIFSIGNALED(st))
        printf("not ok %d %s (%s: %s)\n", n, tests[i].name, tests[i].file,
               WTERMSIG(st) == SIGALRM ? "timed out" : strsignal(WTERMSIG(st)));
      else
        printf("not ok %d %s (%s: exit %d)\n", n, tests[i].name, tests[i].file, WEXITSTATUS(st));
      failed++;
    }
  }
  if (skipped)
    printf("unit: %d passed, %d failed, %d skipped\n", passed, failed, skipped);
  else
    printf("unit: %d passed, %d failed\n", passed, failed);
  return failed ? 1 : 0;
}
