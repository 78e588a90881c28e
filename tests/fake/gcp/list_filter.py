"""list_filter: the `filter` parameter of Compute Engine list methods (stdlib only).

Compute accepts two kinds of filter expression that cannot be mixed in one request
(routes.list reference, parameter `filter`):

  * regular expressions: `FIELD eq LITERAL` / `FIELD ne LITERAL`, one un-parenthesized
    expression (the literal may be unquoted, 'single' or "double" quoted) or several
    parenthesized ones, `(f1 eq a) (f2 ne "b")`, all ANDed. The literal is an RE2 regular
    expression that must match the WHOLE field (Python's re.fullmatch stands in for RE2).
  * AIP-160: `FIELD OP VALUE` with OP one of = != > < <= >= :, combined with AND (also
    implicit, by juxtaposition), OR (binds tighter than AND, as AIP-160 says), NOT / -,
    and parentheses. `FIELD:*` tests presence; `:` on a list field (tags) tests membership;
    `=` and `:` on strings accept `*` wildcards.

parse(text, fields) -> predicate(resource) or raises FilterError(message).
`fields` maps a field name to a function resource -> value (str, int, bool, list or None).
"""

import fnmatch
import re


class FilterError(Exception):
    pass


_TOKEN = re.compile(r'\s*(?:(\()|(\))|("(?:[^"\\]|\\.)*")|(\'(?:[^\'\\]|\\.)*\')|(<=|>=|!=|=|<|>|:)|([^\s()=!<>:"\']+))')


def _tokens(text):
    out, pos = [], 0
    text = text.strip()
    while pos < len(text):
        m = _TOKEN.match(text, pos)
        if not m or m.end() == pos:
            raise FilterError("unexpected character at offset %d" % pos)
        pos = m.end()
        lp, rp, dq, sq, op, word = m.groups()
        if lp:
            out.append(("(", "("))
        elif rp:
            out.append((")", ")"))
        elif dq is not None:
            out.append(("str", dq[1:-1].replace('\\"', '"')))
        elif sq is not None:
            out.append(("str", sq[1:-1].replace("\\'", "'")))
        elif op:
            out.append(("op", op))
        else:
            out.append(("word", word))
    return out


def _as_text(v):
    if isinstance(v, bool):
        return "true" if v else "false"
    return "" if v is None else str(v)


# ---------------------------------------------------------------------------------------
# regular-expression form


_RE_SINGLE = re.compile(r"^\s*([A-Za-z][A-Za-z0-9_.]*)\s+(eq|ne)\s+(.*?)\s*$", re.S)
_RE_PAREN = re.compile(r"\(\s*([A-Za-z][A-Za-z0-9_.]*)\s+(eq|ne)\s+((?:\"[^\"]*\")|(?:'[^']*')|[^()]*?)\s*\)", re.S)


def _unquote(lit):
    if len(lit) >= 2 and lit[0] == lit[-1] and lit[0] in "\"'":
        return lit[1:-1]
    return lit


def _regex_form(text):
    """[(field, negate, compiled)] when text is the eq/ne form, else None."""
    t = text.strip()
    if t.startswith("("):
        parts, pos = [], 0
        while pos < len(t):
            while pos < len(t) and t[pos].isspace():
                pos += 1
            if pos >= len(t):
                break
            m = _RE_PAREN.match(t, pos)
            if not m:
                return None
            parts.append((m.group(1), m.group(2) == "ne", _unquote(m.group(3).strip())))
            pos = m.end()
    else:
        m = _RE_SINGLE.match(t)
        if not m or m.group(3) == "":
            return None
        parts = [(m.group(1), m.group(2) == "ne", _unquote(m.group(3)))]
    out = []
    for f, neg, lit in parts:
        try:
            out.append((f, neg, re.compile(lit)))
        except re.error as e:
            raise FilterError("invalid regular expression %r: %s" % (lit, e))
    return out


# ---------------------------------------------------------------------------------------
# AIP-160 form


class _Parser:
    def __init__(self, toks, fields):
        self.t, self.i, self.fields = toks, 0, fields

    def peek(self):
        return self.t[self.i] if self.i < len(self.t) else (None, None)

    def take(self):
        tok = self.peek()
        self.i += 1
        return tok

    def expression(self, inner=False):
        terms = [self.factor()]
        while True:
            kind, val = self.peek()
            if kind is None or (inner and kind == ")"):
                break
            if kind == "word" and val == "AND":
                self.take()
            terms.append(self.factor())
        return lambda r: all(f(r) for f in terms)

    def factor(self):
        terms = [self.term()]
        while self.peek() == ("word", "OR"):
            self.take()
            terms.append(self.term())
        return lambda r: any(f(r) for f in terms)

    def term(self):
        kind, val = self.peek()
        if kind == "word" and (val == "NOT" or val.startswith("-")):
            if val == "NOT":
                self.take()
            else:
                self.t[self.i] = ("word", val[1:])
            inner = self.term()
            return lambda r: not inner(r)
        if kind == "(":
            self.take()
            e = self.expression(inner=True)
            if self.take()[0] != ")":
                raise FilterError("unbalanced parentheses")
            return e
        return self.restriction()

    def restriction(self):
        kind, field = self.take()
        if kind != "word":
            raise FilterError("expected a field name")
        if field not in self.fields:
            raise FilterError("invalid field name '%s'" % field)
        kind, op = self.take()
        if kind != "op":
            raise FilterError("expected an operator after '%s'" % field)
        kind, value = self.take()
        if kind not in ("word", "str"):
            raise FilterError("expected a value after '%s %s'" % (field, op))
        get = self.fields[field]
        return lambda r: _compare(get(r), op, value)


def _glob(text, pattern):
    if "*" in pattern:
        return fnmatch.fnmatchcase(text, pattern)
    return text == pattern


def _compare(have, op, want):
    if op == ":":
        if want == "*":
            return have not in (None, "", [])
        if isinstance(have, list):
            return any(_glob(_as_text(h), want) for h in have)
        if isinstance(have, str):     # "the : operator can be used with string fields to match substrings"
            return fnmatch.fnmatchcase(have, want) if "*" in want else want in have
        op = "="                      # "for non-string fields it is equivalent to the = operator"
    if isinstance(have, list):
        have = ",".join(_as_text(h) for h in have)
    if isinstance(have, int) and not isinstance(have, bool):
        try:
            w = int(want)
        except ValueError:
            raise FilterError("'%s' is not a number" % want)
        return {"=": have == w, "!=": have != w, "<": have < w, ">": have > w,
                "<=": have <= w, ">=": have >= w}[op]
    h = _as_text(have)
    if op == "=":
        return _glob(h, want)
    if op == "!=":
        return not _glob(h, want)
    return {"<": h < want, ">": h > want, "<=": h <= want, ">=": h >= want}[op]


def parse(text, fields):
    if text is None or not text.strip():
        return lambda r: True
    rx = _regex_form(text)
    if rx is not None:
        for f, _, _ in rx:
            if f not in fields:
                raise FilterError("invalid field name '%s'" % f)

        def match(r):
            for f, neg, c in rx:
                ok = c.fullmatch(_as_text(fields[f](r))) is not None
                if ok == neg:
                    return False
            return True
        return match
    toks = _tokens(text)
    if any(k == "word" and v in ("eq", "ne") for k, v in toks):
        raise FilterError("regular-expression (eq/ne) and AIP-160 expressions cannot be mixed")
    p = _Parser(toks, fields)
    pred = p.expression()
    if p.i != len(toks):
        raise FilterError("unexpected token at the end")
    return pred
