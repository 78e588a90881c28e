#!/usr/bin/env python3
"""The fake's list filter (list_filter.py) on its own: both expression forms, the operators, the
refusals. Run: python3 test_list_filter.py (exit 0 when every case holds)."""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import list_filter  # noqa: E402

ROUTES = [
    {"name": "meshgate-a", "priority": 100, "tags": ["app"], "description": "meshgate:net-1"},
    {"name": "meshgate-b", "priority": 1000, "description": "meshgate:net-2"},
    {"name": "other", "priority": 800, "tags": ["db", "app"]},
]
FIELDS = {"name": lambda r: r["name"], "priority": lambda r: r["priority"],
          "tags": lambda r: r.get("tags", []), "description": lambda r: r.get("description")}

CASES = [
    # regular-expression form: the whole field must match
    ('name eq "meshgate-.*"', ["meshgate-a", "meshgate-b"]),
    ("name eq meshgate", []),
    ("name eq 'meshgate-a'", ["meshgate-a"]),
    ("name ne meshgate-.*", ["other"]),
    ('(name eq "meshgate-.*") (description eq ".*net-2")', ["meshgate-b"]),
    ("(name eq .*) (priority ne 100)", ["meshgate-b", "other"]),
    # AIP-160
    ("name = meshgate-a", ["meshgate-a"]),
    ('name = "meshgate-*"', ["meshgate-a", "meshgate-b"]),
    ("name != other", ["meshgate-a", "meshgate-b"]),
    ("priority < 1000", ["meshgate-a", "other"]),
    ("priority >= 800 AND name:meshgate", ["meshgate-b"]),
    ("priority >= 800 name:meshgate", ["meshgate-b"]),
    ("name:gate", ["meshgate-a", "meshgate-b"]),
    ("priority:800", ["other"]),
    ("tags:app", ["meshgate-a", "other"]),
    ("tags:*", ["meshgate-a", "other"]),
    ("description:*", ["meshgate-a", "meshgate-b"]),
    ("(name = other) OR (priority = 100)", ["meshgate-a", "other"]),
    ("NOT name = other", ["meshgate-a", "meshgate-b"]),
    ("-name = other", ["meshgate-a", "meshgate-b"]),
    ("", ["meshgate-a", "meshgate-b", "other"]),
]
REFUSED = ["color = red", "name eq (unclosed", "(name eq x) AND (priority = 1)", "name =", "priority < many",
           "(name = x", "name ~ x"]


def main():
    bad = 0
    for expr, want in CASES:
        try:
            pred = list_filter.parse(expr, FIELDS)
            got = [r["name"] for r in ROUTES if pred(r)]
        except list_filter.FilterError as e:
            got = "refused: %s" % e
        if got != want:
            print("FAIL %r: got %r, want %r" % (expr, got, want))
            bad += 1
    for expr in REFUSED:
        try:
            pred = list_filter.parse(expr, FIELDS)
            [pred(r) for r in ROUTES]
            print("FAIL %r: accepted" % expr)
            bad += 1
        except list_filter.FilterError:
            pass
    print("%d filter cases, %d failed" % (len(CASES) + len(REFUSED), bad))
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
