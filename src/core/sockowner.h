/* Who is on the other end of a loopback TCP connection: the uid that owns the peer's socket,
 * read from /proc/net/tcp (the daemon's network namespace). Used to let only an instance's own
 * processes talk to its Runtime API when instances share the host's network. */
#ifndef LL_CORE_SOCKOWNER_H
#define LL_CORE_SOCKOWNER_H

#include <netinet/in.h>
#include <sys/types.h>

/* The uid owning the socket whose local address is `peer` and remote address `local` (the
 * client's end of the connection we accepted). Returns 0, or -ENOENT when not found. */
int ll_tcp_peer_uid(const struct sockaddr_in *local, const struct sockaddr_in *peer, uid_t *out);

#endif
