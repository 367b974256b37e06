#!/usr/bin/env python3
"""Serve the Salvage page locally, with the same rules the page declares.

Binds to 127.0.0.1 only. Every response carries the page's Content-Security-
Policy as an HTTP header, X-Content-Type-Options: nosniff and Cache-Control:
no-store. The policy is read from the <meta> of the served directory's
index.html (or its only .html file), so the two never differ. Standard
library only.

Static hosts: send the same Content-Security-Policy header with every file
(at least the .html and the .js). The page does not depend on it — its
<meta> policy binds the page, and its workers start from blob: URLs that
inherit that policy (www/worker-start.js) — but a worker script opened by
its URL on its own is bound only by its headers.

    python3 scripts/serve.py [--port 8080] [--dir www]

--port 0 picks a free port; the chosen address is printed on the first line
of stdout as "serving http://127.0.0.1:PORT/".
"""

import argparse
import html
import http.server
import os
import re
import sys

# Used only when the served directory has no page with a policy of its own
# (the benchmark's reader page, whose worker loads by URL).
FALLBACK_CSP = (
    "default-src 'none'; script-src 'self' 'wasm-unsafe-eval'; worker-src 'self' blob:; "
    "style-src 'self'; img-src 'self' blob: data:; connect-src 'none'; "
    "base-uri 'none'; form-action 'none'"
)

META_CSP = re.compile(
    r"""<meta\s+http-equiv=["']Content-Security-Policy["']\s+content=(?:"([^"]+)"|'([^']+)')""", re.I)


def page_csp(root):
    """The policy in the <meta> of root's index.html (or its only .html file)."""
    pages = [os.path.join(root, "index.html")]
    if not os.path.exists(pages[0]):
        pages = [os.path.join(root, n) for n in os.listdir(root) if n.endswith(".html")]
    if len(pages) != 1 or not os.path.exists(pages[0]):
        return FALLBACK_CSP
    with open(pages[0], encoding="utf-8") as f:
        m = META_CSP.search(f.read())
    return html.unescape(m.group(1) or m.group(2)) if m else FALLBACK_CSP

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
    csp = FALLBACK_CSP
    extensions_map = {**http.server.SimpleHTTPRequestHandler.extensions_map, **MIME_TYPES}

    def end_headers(self):
        self.send_header("Content-Security-Policy", self.csp)
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

    class PageHandler(Handler):
        csp = page_csp(root)

    def handler(*a, **kw):
        return PageHandler(*a, directory=root, **kw)

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
