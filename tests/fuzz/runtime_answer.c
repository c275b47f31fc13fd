/* libFuzzer target: the runtime library's reader of Runtime API answers (status line, headers,
 * Content-Length / chunked / read-to-close bodies), fed through a socket as the daemon would.
 * The library's parser is static, so this file includes runtime/runtime.c itself. */
#include <sys/socket.h>

#include "../../runtime/runtime.c"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size > 100000) return 0; /* stays within the socket buffer: no writer thread needed */
  int sv[2];
  if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0) abort();
  int sz = 1 << 20;
  setsockopt(sv[0], SOL_SOCKET, SO_SNDBUF, &sz, sizeof sz);
  size_t off = 0;
  while (off < size) {
    ssize_t n = write(sv[0], data + off, size - off);
    if (n <= 0) abort();
    off += (size_t)n;
  }
  close(sv[0]); /* the answer ends where the input ends */
  rt_t rt;
  memset(&rt, 0, sizeof rt);
  rt.fd = sv[1];
  rt_buf_t body = {0};
  int status = 0;
  for (int next = 0; next < 2; next++) {
    int r = rt_read_answer(&rt, &body, next, &status);
    if (r == 0 && (status < 100 || status > 999)) abort();
    if (r == 0 && body.len > RT_BODY_MAX) abort();
    if (r != 0 || rt.fd < 0) break;
  }
  if (rt.fd >= 0) close(rt.fd);
  buf_free(&body);
  buf_free(&rt.in);
  for (int i = 0; i < HDR__COUNT; i++) buf_free(&rt.hdr[i]);
  buf_free(&rt.payload);
  buf_free(&rt.reply);
  return 0;
}
