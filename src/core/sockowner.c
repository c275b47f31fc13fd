#include "core/sockowner.h"

#include <errno.h>
#include <stdio.h>

int ll_tcp_peer_uid(const struct sockaddr_in *local, const struct sockaddr_in *peer, uid_t *out) {
  FILE *f = fopen("/proc/net/tcp", "re");
  if (!f) return -errno;
  char line[512];
  int rc = -ENOENT;
  /* "  sl  local_address rem_address   st ... uid ..."; addresses are hex in host byte order of
   * the 32-bit value as the kernel prints it, ports in hex. */
  unsigned want_ip = peer->sin_addr.s_addr, want_port = ntohs(peer->sin_port);
  unsigned rem_ip = local->sin_addr.s_addr, rem_port = ntohs(local->sin_port);
  if (!fgets(line, sizeof line, f)) goto out; /* header */
  while (fgets(line, sizeof line, f)) {
    unsigned lip, lport, rip, rport, st;
    unsigned long uid;
    if (sscanf(line, " %*d: %x:%x %x:%x %x %*x:%*x %*x:%*x %*x %lu", &lip, &lport, &rip, &rport,
               &st, &uid) != 6)
      continue;
    if (lip == want_ip && lport == want_port && rip == rem_ip && rport == rem_port) {
      *out = (uid_t)uid;
      rc = 0;
      break;
    }
  }
out:
  fclose(f);
  return rc;
}
