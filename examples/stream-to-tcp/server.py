#!/usr/bin/env python3
"""The long-running server outside the platform that examples/stream-to-tcp forwards to: it
accepts connections, reads lines (one stream record's data each) and appends them to --out
(or prints them), saying how many it has received.

    python3 examples/stream-to-tcp/server.py --port 9999 [--out received.txt]
"""
import argparse
import socketserver
import sys
import threading

lock = threading.Lock()
count = 0


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--out", help="file the records are appended to (default: standard output)")
    args = ap.parse_args()
    out = open(args.out, "a", buffering=1) if args.out else sys.stdout

    class Handler(socketserver.StreamRequestHandler):
        def handle(self):
            global count
            for line in self.rfile:
                with lock:
                    out.write(line.decode(errors="replace"))
                    count += 1

    socketserver.ThreadingTCPServer.allow_reuse_address = True
    with socketserver.ThreadingTCPServer((args.host, args.port), Handler) as srv:
        print(f"stream-to-tcp server: listening on {args.host}:{args.port}", file=sys.stderr, flush=True)
        srv.serve_forever()


if __name__ == "__main__":
    main()
