"""fakectl: the control API every fake serves to its tests, on a port of its own.

  GET  /counters  the fake's request counters      GET /log     the request log
  GET  /state     the fake's model, as JSON        GET /health  {"ok": true}
  POST /...       a JSON body, handed to the fake's dispatch(model, path, body) under the
                  model's lock; None answers 404, a KeyError/ValueError/TypeError 400.

A fake subclasses ControlHandler, names the server attribute holding its model (MODEL:
the model has lock, counters, request_log, snapshot() and args.verbose), its log function
(LOG) and writes dispatch(); faults, denials and settings differ per provider.
"""

import copy
import http.server
import json


class ControlHandler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    MODEL = "cloud"
    LOG = staticmethod(print)

    def model(self):
        return getattr(self.server, self.MODEL)

    def log_message(self, fmt, *a):
        if self.model().args.verbose:
            self.LOG("control " + fmt % a)

    def _json(self, status, obj):
        data = (json.dumps(obj, indent=1, sort_keys=True) + "\n").encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self):
        m = self.model()
        p = self.path.split("?")[0]
        if p == "/counters":
            with m.lock:
                return self._json(200, copy.deepcopy(m.counters))
        if p == "/log":
            with m.lock:
                return self._json(200, list(m.request_log))
        if p == "/state":
            return self._json(200, m.snapshot())
        if p == "/health":
            return self._json(200, {"ok": True})
        self._json(404, {"error": "no such endpoint"})

    def do_POST(self):
        m = self.model()
        n = int(self.headers.get("Content-Length") or 0)
        try:
            req = json.loads(self.rfile.read(n) or b"{}")
        except ValueError:
            return self._json(400, {"error": "body is not JSON"})
        try:
            with m.lock:
                out = self.dispatch(m, self.path.split("?")[0], req)
        except (KeyError, ValueError, TypeError) as e:
            return self._json(400, {"error": "bad request: %r" % e})
        if out is None:
            return self._json(404, {"error": "no such endpoint"})
        self._json(200, out)

    def dispatch(self, model, path, req):
        return None
