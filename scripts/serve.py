#!/usr/bin/env python3
"""Serve the Salvage page locally, with the same rules the page declares.

Binds to 127.0.0.1 only. Every response carries the page's Content-Security-
Policy as an HTTP header (so the worker script, which has no <meta>, is bound
by it too), X-Content-Type-Options: nosniff and Cache-Control: no-store.
Standard library only.

    python3 scripts/serve.py [--port 8080] [--dir www]

--port 0 picks a free port; the chosen address is printed on the first line
of stdout as "serving http://127.0.0.1:PORT/".
"""

import argparse
import http.server
import os
import sys

CSP = (
    "default-src 'none'; script-src 'self' 'wasm-unsafe-eval'; worker-src 'self'; "
    "style-src 'self'; img-src 'self' blob: data:; connect-src 'none'; "
    "base-uri 'none'; form-action 'none'"
)

MIME_TYPES = {
    ".html": "text/html; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".mjs": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".wasm": "application/wasm",
    ".json": "application/json",
    ".svg": "image/svg+xml",
    ".png": "image/png",
    ".ico": "image/x-icon",
    ".txt": "text/plain; charset=utf-8",
    ".map": "application/json",
}


class Handler(http.server.SimpleHTTPRequestHandler):
    extensions_map = {**http.server.SimpleHTTPRequestHandler.extensions_map, **MIME_TYPES}

    def end_headers(self):
        self.send_header("Content-Security-Policy", CSP)
        self.send_header("X-Content-Type-Options", "nosniff")
        self.send_header("Cache-Control", "no-store")
        self.send_header("Referrer-Policy", "no-referrer")
        super().end_headers()

    def log_message(self, format, *args):  # noqa: A002 (stdlib signature)
        pass  # quiet: errors still reach stderr through log_error

    def log_error(self, format, *args):  # noqa: A002
        if args and args[0] == 404:
            return  # the page probes for the optional sample disk module
        sys.stderr.write("serve.py: %s\n" % (format % args))


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=8080, help="port on 127.0.0.1 (0 = any free port)")
    parser.add_argument("--dir", default="www", help="directory to serve (default: www)")
    args = parser.parse_args()

    root = os.path.abspath(args.dir)
    if not os.path.isdir(root):
        sys.exit(f"serve.py: {root} is not a directory")

    def handler(*a, **kw):
        return Handler(*a, directory=root, **kw)

    server = http.server.ThreadingHTTPServer(("127.0.0.1", args.port), handler)
    host, port = server.server_address[:2]
    print(f"serving http://{host}:{port}/ from {root}", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()


if __name__ == "__main__":
    main()
