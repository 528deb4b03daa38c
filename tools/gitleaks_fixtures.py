#!/usr/bin/env python3
"""Extract gitleaks' rule fixtures (true and false positives) as TSV.

gitleaks keeps each rule's fixtures next to the rule, in Go, under
cmd/generate/config/rules/*.go: a `tps` and an `fps` string slice handed
to utils.Validate. Most true positives are generated at run time
(`utils.GenerateSampleSecrets("github", "ghp_"+secrets.NewSecret(...))`),
so a grep for string literals would miss them. Building gitleaks' own Go
needs its modules, which this workplace cannot download, so this script
evaluates the small subset of Go those files use: string literals, `+`,
slices, maps, append, local and package variables, and the generator
helpers (re-implemented below, with a fixed seed, so the output is
reproducible).

Rerun (from the repository root) after updating rules/secrets/gitleaks.toml:

    git clone https://github.com/gitleaks/gitleaks /tmp/gitleaks   # same commit
    python3 tools/gitleaks_fixtures.py /tmp/gitleaks [COMMIT] > tests/data/gitleaks-fixtures.tsv

(COMMIT defaults to the checkout's `git rev-parse HEAD`.)

Output columns: rule id, `tp` or `fp`, the secret when the generator
knows it (else empty), the fixture text. Text fields escape `\\`, tab,
newline and carriage return as `\\\\`, `\\t`, `\\n`, `\\r`. Fixtures the
evaluator cannot compute are listed on stderr and left out.
"""

import base64
import json
import random
import re
import subprocess
import sys
from pathlib import Path

try:  # Python 3.11+
    import re._parser as sre_parse  # type: ignore
    import re._constants as sre_c  # type: ignore
except ImportError:  # pragma: no cover
    import sre_parse  # type: ignore
    import sre_constants as sre_c  # type: ignore

RNG = random.Random(20240601)


class Unknown:
    """A value the evaluator cannot compute (a regexp, a struct field...)."""

    def __init__(self, why):
        self.why = why

    def __repr__(self):
        return f"Unknown({self.why})"


# ---------------------------------------------------------------- tokens

TOKEN = re.compile(
    r"""
    (?P<ws>[ \t\r\n]+)
  | (?P<lcomment>//[^\n]*)
  | (?P<bcomment>/\*.*?\*/)
  | (?P<raw>`[^`]*`)
  | (?P<str>"(?:[^"\\\n]|\\.)*")
  | (?P<rune>'(?:[^'\\\n]|\\.)*')
  | (?P<num>[0-9][0-9_.xXa-fA-F]*)
  | (?P<ident>[A-Za-z_][A-Za-z0-9_]*)
  | (?P<op>\.\.\.|:=|==|!=|<=|>=|&&|\|\||\+=|[-+*/%&|^<>=!:;,.(){}\[\]])
    """,
    re.S | re.X,
)


def punct(tok):
    return None if tok[0] == "str" else tok[1]


def go_unquote(s):
    """An interpreted Go string literal's value."""
    body = s[1:-1]
    out = []
    i = 0
    simple = {"n": "\n", "t": "\t", "r": "\r", "\\": "\\", '"': '"', "'": "'",
              "a": "\a", "b": "\b", "f": "\f", "v": "\v"}
    while i < len(body):
        c = body[i]
        if c != "\\":
            out.append(c)
            i += 1
            continue
        n = body[i + 1]
        if n in simple:
            out.append(simple[n])
            i += 2
        elif n == "x":
            out.append(chr(int(body[i + 2:i + 4], 16)))
            i += 4
        elif n == "u":
            out.append(chr(int(body[i + 2:i + 6], 16)))
            i += 6
        elif n == "U":
            out.append(chr(int(body[i + 2:i + 10], 16)))
            i += 10
        elif n in "01234567":
            out.append(chr(int(body[i + 1:i + 4], 8)))
            i += 4
        else:
            raise ValueError(f"bad escape {n!r}")
    return "".join(out)


def tokenize(src):
    toks = []
    pos = 0
    while pos < len(src):
        m = TOKEN.match(src, pos)
        if not m:
            raise ValueError(f"cannot tokenize at {src[pos:pos + 20]!r}")
        pos = m.end()
        kind = m.lastgroup
        text = m.group(kind)
        if kind in ("ws", "lcomment", "bcomment"):
            continue
        if kind == "raw":
            # Go drops carriage returns from raw strings.
            toks.append(("str", text[1:-1].replace("\r", "")))
        elif kind == "str":
            toks.append(("str", go_unquote(text)))
        else:
            toks.append((kind, text))
    toks.append(("eof", ""))
    return toks


# ---------------------------------------------------------------- parser
# An expression becomes a small tree: ("lit", v), ("name", "a.b"),
# ("call", fn, args, spread), ("add", l, r), ("composite", type, elems),
# ("index", x, i), ("unknown", why).


class Parser:
    def __init__(self, toks, i=0):
        self.t = toks
        self.i = i

    def peek(self, k=0):
        return self.t[self.i + k]

    def pv(self, k=0):
        """The punctuation or word at k; never a string literal's value."""
        return punct(self.t[self.i + k])

    def take(self, text=None):
        tok = self.t[self.i]
        if text is not None and punct(tok) != text:
            raise ValueError(f"expected {text!r}, got {tok[1]!r}")
        self.i += 1
        return tok

    def expr(self):
        left = self.unary()
        while self.pv() in ("+", "-", "*", "/", "==", "!=", "&&", "||", "<", ">"):
            op = self.take()[1]
            right = self.unary()
            left = ("add", left, right) if op == "+" else ("unknown", f"op {op}")
        return left

    def unary(self):
        if self.pv() in ("&", "*", "!", "-"):
            self.take()
        return self.primary()

    def type_expr(self):
        """`[]string`, `map[string][]string`, `[]*config.Allowlist`, ..."""
        parts = []
        while True:
            k, v = self.peek()
            if v == "[":
                self.take()
                if self.pv() != "]":
                    parts.append("[" + self.type_expr() + "]")
                    self.take("]")
                else:
                    self.take("]")
                    parts.append("[]")
            elif v == "*":
                self.take()
                parts.append("*")
            elif v == "map":
                self.take()
                parts.append("map")
            elif k == "ident":
                name = self.take()[1]
                while self.pv() == "." and self.peek(1)[0] == "ident":
                    self.take()
                    name += "." + self.take()[1]
                parts.append(name)
                return "".join(parts)
            else:
                raise ValueError(f"bad type at {v!r}")

    def primary(self):
        k, v = self.peek()
        if k == "str":
            self.take()
            node = ("lit", v)
        elif k == "num":
            self.take()
            try:
                node = ("lit", int(v.replace("_", ""), 0))
            except ValueError:
                node = ("lit", float(v))
        elif k == "rune":
            self.take()
            node = ("unknown", "rune")
        elif v == "(":
            self.take()
            node = self.expr()
            self.take(")")
        elif v in ("[", "map"):
            typ = self.type_expr()
            if self.pv() == "(":  # conversion: []byte(x)
                self.take()
                arg = self.expr()
                self.take(")")
                return ("convert", typ, arg)
            node = ("composite", typ, self.elements())
        elif v == "func":
            # A function literal: skip its body.
            self.take()
            depth = 0
            while True:
                t = punct(self.take())
                if t == "{":
                    depth += 1
                elif t == "}":
                    depth -= 1
                    if depth == 0:
                        break
            node = ("unknown", "func literal")
            if self.pv() == "(":
                self.args()
        elif k == "ident":
            name = self.take()[1]
            while self.pv() == "." and self.peek(1)[0] == "ident":
                self.take()
                name += "." + self.take()[1]
            node = ("name", name)
        elif v == "{":
            # An elided composite type inside a composite literal.
            node = ("composite", "", self.elements())
        else:
            raise ValueError(f"unexpected {v!r}")
        while True:
            v = self.pv()
            if v == "(":
                args, spread = self.args()
                node = ("call", node, args, spread)
            elif v == "{" and node[0] == "name" and (node[1][:1].isupper() or "." in node[1]):
                node = ("composite", node[1], self.elements())
            elif v == "[":
                self.take()
                idx = self.expr()
                if self.pv() == ":":
                    self.take()
                    if self.pv() != "]":
                        self.expr()
                    node = ("unknown", "slice expr")
                else:
                    node = ("index", node, idx)
                self.take("]")
            elif v == "." and self.peek(1)[0] == "ident":
                self.take()
                node = ("field", node, self.take()[1])
            else:
                return node

    def args(self):
        self.take("(")
        args = []
        spread = False
        while self.pv() != ")":
            args.append(self.expr())
            if self.pv() == "...":
                self.take()
                spread = True
            if self.pv() == ",":
                self.take()
        self.take(")")
        return args, spread

    def elements(self):
        self.take("{")
        elems = []
        while self.pv() != "}":
            first = self.expr()
            if self.pv() == ":":
                self.take()
                elems.append((first, self.expr()))
            else:
                elems.append((None, first))
            if self.pv() == ",":
                self.take()
        self.take("}")
        return elems


# ---------------------------------------------------------------- regex → sample


def go_to_python_regex(pattern):
    """Enough of RE2 → Python for generating samples (not for matching)."""
    posix = {"alnum": "a-zA-Z0-9", "alpha": "a-zA-Z", "digit": "0-9",
             "upper": "A-Z", "lower": "a-z", "xdigit": "0-9a-fA-F",
             "space": r" \t\n", "punct": r"!-/:-@\[-`{-~"}
    for name, cls in posix.items():
        pattern = pattern.replace(f"[:{name}:]", cls)
    # Generation ignores case folding; drop inline flags anywhere.
    pattern = re.sub(r"\(\?-?[imsU]+\)", "", pattern)
    pattern = re.sub(r"\(\?-?[imsU]+(-[imsU]+)?:", "(?:", pattern)
    return pattern.replace(r"\z", r"\Z")


def sample(pattern):
    """A random string matching `pattern` (like lucasjones/reggen)."""
    parsed = sre_parse.parse(go_to_python_regex(pattern))
    return "".join(gen(parsed))


def class_chars(items):
    chars = []
    negate = False
    for op, av in items:
        if op == sre_c.NEGATE:
            negate = True
        elif op == sre_c.LITERAL:
            chars.append(chr(av))
        elif op == sre_c.RANGE:
            chars.extend(chr(c) for c in range(av[0], av[1] + 1))
        elif op == sre_c.CATEGORY:
            chars.extend(category_chars(av))
    if negate:
        excluded = set(chars)
        chars = [chr(c) for c in range(33, 127) if chr(c) not in excluded]
    return chars


def category_chars(cat):
    digits = [chr(c) for c in range(48, 58)]
    letters = [chr(c) for c in range(65, 91)] + [chr(c) for c in range(97, 123)]
    if cat == sre_c.CATEGORY_DIGIT:
        return digits
    if cat == sre_c.CATEGORY_WORD:
        return letters + digits + ["_"]
    if cat == sre_c.CATEGORY_SPACE:
        return [" "]
    if cat == sre_c.CATEGORY_NOT_SPACE:
        return letters + digits
    if cat == sre_c.CATEGORY_NOT_DIGIT or cat == sre_c.CATEGORY_NOT_WORD:
        return ["-", "."]
    raise ValueError(f"category {cat}")


def gen(parsed):
    out = []
    for op, av in parsed:
        if op == sre_c.LITERAL:
            out.append(chr(av))
        elif op == sre_c.NOT_LITERAL:
            out.append("a" if chr(av) != "a" else "b")
        elif op == sre_c.IN:
            out.append(RNG.choice(class_chars(av)))
        elif op == sre_c.ANY:
            out.append(RNG.choice("abcdefghijklmnopqrstuvwxyz0123456789"))
        elif op in (sre_c.MAX_REPEAT, sre_c.MIN_REPEAT):
            lo, hi, sub = av
            hi = lo + 10 if hi == sre_c.MAXREPEAT else hi
            for _ in range(RNG.randint(lo, hi)):
                out.extend(gen(sub))
        elif op == sre_c.SUBPATTERN:
            out.extend(gen(av[-1]))
        elif op == sre_c.BRANCH:
            out.extend(gen(RNG.choice(av[1])))
        elif op == sre_c.AT:
            pass
        elif op == sre_c.CATEGORY:
            out.append(RNG.choice(category_chars(av)))
        else:
            raise ValueError(f"regex op {op}")
    return out


# ---------------------------------------------------------------- evaluator


def shannon(s):
    import math

    if not s:
        return 0.0
    n = len(s.encode())
    counts = {}
    for ch in s:
        counts[ch] = counts.get(ch, 0) + 1
    return -sum(c / n * math.log2(c / n) for c in counts.values())


class Evaluator:
    def __init__(self, root):
        self.root = root
        self.templates = self.sample_templates()
        self.stopwords = []
        self.globals = {}
        # The secret each generated fixture holds, for the redaction check.
        self.known = []

    def sample_templates(self):
        """The sample lines utils.GenerateSampleSecrets fills in."""
        src = (self.root / "cmd/generate/config/utils/generate.go").read_text()
        start = src.index("samples := map[string]string{")
        toks = tokenize(src[start:])
        p = Parser(toks, 2)
        node = p.expr()
        return [self.eval(v, {}) for _, v in node[2]]

    def eval(self, node, env):
        kind = node[0]
        if kind == "lit":
            return node[1]
        if kind == "unknown":
            return Unknown(node[1])
        if kind == "name":
            name = node[1]
            if name in env:
                return env[name]
            if name in self.globals:
                return self.globals[name]
            if name in ("nil",):
                return None
            return Unknown(f"name {name}")
        if kind == "add":
            a, b = self.eval(node[1], env), self.eval(node[2], env)
            if isinstance(a, str) and isinstance(b, str):
                return a + b
            return Unknown("add")
        if kind == "convert":
            return self.eval(node[2], env)
        if kind == "composite":
            typ = node[1]
            if typ.startswith("map"):
                return {self.eval(k, env) if k is not None else None: self.eval(v, env)
                        for k, v in node[2]}
            if typ.startswith("[]") or typ == "":
                if node[2] and node[2][0][0] is not None and typ == "":
                    return {kk[1] if kk[0] == "name" else self.eval(kk, env): self.eval(v, env)
                            for kk, v in node[2]}
                return [self.eval(v, env) for _, v in node[2]]
            # A struct literal: keep its fields by name.
            return {k[1] if k and k[0] == "name" else None: self.eval(v, env) for k, v in node[2]}
        if kind == "index":
            x, i = self.eval(node[1], env), self.eval(node[2], env)
            try:
                return x[i]
            except Exception:
                return Unknown("index")
        if kind == "field":
            x = self.eval(node[1], env)
            if isinstance(x, dict) and node[2] in x:
                return x[node[2]]
            return Unknown("field")
        if kind == "call":
            return self.call(node, env)
        raise ValueError(kind)

    def call(self, node, env):
        fn = node[1][1] if node[1][0] == "name" else None
        args = [self.eval(a, env) for a in node[2]]
        spread = node[3]

        def strs(n):
            if len(args) != n or not all(isinstance(a, str) for a in args):
                raise Unknownable(f"{fn} args")
            return args

        try:
            if fn == "append":
                base = args[0] if isinstance(args[0], list) else ([] if args[0] is None else None)
                if base is None:
                    return Unknown("append base")
                rest = args[1:]
                if spread:
                    last = rest[-1] if rest else []
                    if not isinstance(last, list):
                        return Unknown("append spread")
                    rest = rest[:-1] + last
                return base + rest
            if fn == "utils.GenerateSampleSecrets":
                ident, secret = strs(2)
                out = []
                for t in self.templates:
                    v = t.replace("{i}", ident).replace("{I}", ident.upper()).replace("{s}", secret)
                    out.append(v)
                    self.known.append((v, secret))
                return out
            if fn == "utils.GenerateSampleSecret":
                ident, secret = strs(2)
                v = f'{ident}_api_token = "{secret}"'
                self.known.append((v, secret))
                return v
            if fn in ("secrets.NewSecret", "newPlausibleSecret"):
                (pattern,) = strs(1)
                for _ in range(1000):
                    s = sample(pattern)
                    if fn == "secrets.NewSecret":
                        break
                    low = s.lower()
                    if re.search("[1-9]", s) and not any(w in low for w in self.stopwords):
                        break
                self.known.append((s, s))
                return s
            helpers = {
                "utils.Numeric": "[0-9]{%s}",
                "utils.Hex": "[a-f0-9]{%s}",
                "utils.AlphaNumeric": "[a-z0-9]{%s}",
                "utils.AlphaNumericExtendedShort": "[a-z0-9_-]{%s}",
                "utils.AlphaNumericExtended": "[a-z0-9=_\\-]{%s}",
                "utils.AlphaNumericExtendedLong": "[a-z0-9\\/=_\\+\\-]{%s}",
            }
            if fn in helpers:
                (size,) = strs(1)
                return helpers[fn] % size
            if fn == "utils.Hex8_4_4_4_12":
                return "[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"
            if fn == "fmt.Sprintf":
                if not args or not isinstance(args[0], str):
                    return Unknown("sprintf")
                vals = iter(args[1:])
                return re.sub(r"%[sdvq%]", lambda m: "%" if m.group() == "%%" else
                              (json.dumps(next(vals)) if m.group() == "%q" else str(next(vals))), args[0])
            if fn in ("strings.ToUpper", "strings.ToLower"):
                (s,) = strs(1)
                return s.upper() if fn.endswith("Upper") else s.lower()
            if fn == "strings.Repeat":
                if isinstance(args[0], str) and isinstance(args[1], int):
                    return args[0] * args[1]
            enc = {
                "base64.StdEncoding.EncodeToString": base64.b64encode,
                "b64.StdEncoding.EncodeToString": base64.b64encode,
                "base64.RawStdEncoding.EncodeToString": lambda b: base64.b64encode(b).rstrip(b"="),
                "b64.RawStdEncoding.EncodeToString": lambda b: base64.b64encode(b).rstrip(b"="),
                "b64.URLEncoding.EncodeToString": base64.urlsafe_b64encode,
                "b64.RawURLEncoding.EncodeToString": lambda b: base64.urlsafe_b64encode(b).rstrip(b"="),
            }
            if fn in enc:
                (s,) = strs(1)
                return enc[fn](s.encode()).decode()
        except Unknownable as e:
            return Unknown(str(e))
        return Unknown(f"call {fn}")


class Unknownable(Exception):
    pass


def split_top_level(toks):
    """Top-level declarations as (keyword, start, end) token ranges: each
    starts at a keyword outside any bracket and ends where the next does."""
    starts = []
    depth = 0
    for i, tok in enumerate(toks):
        t = punct(tok)
        if t in ("{", "(", "["):
            depth += 1
        elif t in ("}", ")", "]"):
            depth -= 1
        elif depth == 0 and t in ("func", "var", "import", "package", "type", "const"):
            starts.append(i)
    ends = starts[1:] + [len(toks) - 1]
    return [(punct(toks[s]), s, e) for s, e in zip(starts, ends)]


def statements(toks, start, end):
    """Assignments `a := expr` / `a = expr` anywhere in a function body."""
    i = start
    while i < end:
        k, v = toks[i]
        nxt = punct(toks[i + 1]) if i + 1 < end else ""
        prev = punct(toks[i - 1]) if i > 0 else ""
        if k == "ident" and nxt in (":=", "=") and prev not in (".", ","):
            yield v, i + 2
        i += 1


def main():
    root = Path(sys.argv[1])
    ev = Evaluator(root)
    rules_dir = root / "cmd/generate/config/rules"
    files = sorted(rules_dir.glob("*.go"))
    files = [f for f in files if not f.name.endswith("_test.go")]
    parsed = [(f, tokenize(f.read_text())) for f in files]

    # Package-level variables (shared fixture lists, the stop words).
    for _, toks in parsed:
        for kind, s, e in split_top_level(toks):
            if kind != "var":
                continue
            p = Parser(toks, s + 1)
            name = punct(p.peek())
            try:
                name = p.take()[1]
                if p.pv() != "=":
                    p.type_expr()
                p.take("=")
                ev.globals[name] = ev.eval(p.expr(), {})
            except Exception as exc:  # noqa: BLE001
                print(f"skip var in {name}: {exc}", file=sys.stderr)
    ev.stopwords = [w.lower() for w in ev.globals.get("DefaultStopWords", [])]

    rows = []
    skipped = []
    for f, toks in parsed:
        for kind, s, e in split_top_level(toks):
            if kind != "func":
                continue
            env = {}
            rule_id = None
            for name, at in statements(toks, s, e):
                p = Parser(toks, at)
                try:
                    val = ev.eval(p.expr(), env)
                except Exception as exc:  # noqa: BLE001
                    val = Unknown(f"parse: {exc}")
                env[name] = val
                if isinstance(val, dict) and isinstance(val.get("RuleID"), str):
                    rule_id = val["RuleID"]
            if rule_id is None:
                continue
            if toks[s + 1][1] == "JWTBase64":
                env["tps"] = jwt_base64_samples(ev, toks)
            for label in ("tps", "fps"):
                val = env.get(label)
                if val is None:
                    continue
                if isinstance(val, dict):  # ValidateWithPaths: path → text
                    val = list(val.values())
                if not isinstance(val, list):
                    skipped.append((rule_id, label, repr(val)))
                    continue
                for item in val:
                    if isinstance(item, str):
                        rows.append((rule_id, label[:2], item))
                    else:
                        skipped.append((rule_id, label, repr(item)))

    # Rules gitleaks keeps in the source but not in its shipped config.
    shipped = set(re.findall(r'(?m)^id = "([^"]+)"', (root / "config/gitleaks.toml").read_text()))
    for rule_id in sorted({r for r, _, _ in rows} - shipped):
        print(f"skipped {rule_id}: not in config/gitleaks.toml", file=sys.stderr)
    rows = [r for r in rows if r[0] in shipped]
    known = dict(ev.known)
    commit = sys.argv[2] if len(sys.argv) > 2 else subprocess.run(
        ["git", "-C", str(root), "rev-parse", "HEAD"], capture_output=True, text=True
    ).stdout.strip() or "unknown"
    out = sys.stdout
    out.write("# gitleaks rule fixtures, extracted by tools/gitleaks_fixtures.py from\n")
    out.write(f"# https://github.com/gitleaks/gitleaks at commit {commit}\n")
    out.write("# (cmd/generate/config/rules/*.go). Copyright (c) 2019 Zachary Rice,\n")
    out.write("# MIT licence: see rules/secrets/LICENSE-gitleaks. Generated values use a\n")
    out.write("# fixed seed. Columns: rule, tp|fp, secret (when known), text.\n")
    seen = set()
    for rule_id, label, text in rows:
        if (rule_id, label, text) in seen or text == "":
            continue
        seen.add((rule_id, label, text))
        secret = known.get(text, "") if label == "tp" else ""
        out.write("\t".join([rule_id, label, esc(secret), esc(text)]) + "\n")
    for rule_id, label, why in skipped:
        print(f"skipped {rule_id} {label}: {why[:120]}", file=sys.stderr)
    print(f"{len(seen)} fixtures, {len(skipped)} skipped", file=sys.stderr)


def jwt_base64_samples(ev, toks):
    """gitleaks' generateTestValues() for jwt-base64, which loops over a map:
    the loop is redone here over the map and suffix the evaluator reads."""
    for _, ds, de in split_top_level(toks):
        if toks[ds + 1][1] != "generateTestValues":
            continue
        env = {}
        for name, at in statements(toks, ds, de):
            if name in ("jwtSuffix", "headers"):
                env[name] = ev.eval(Parser(toks, at).expr(), env)
        out = []
        for key, values in env["headers"].items():
            for value in values:
                header = '{"%s":%s}' % (key, value)
                jwt = (base64.urlsafe_b64encode(header.encode()).rstrip(b"=").decode()
                       + env["jwtSuffix"]).encode()
                out.append(base64.b64encode(jwt).decode())
                out.append(base64.b64encode(jwt).rstrip(b"=").decode())
                out.append(base64.urlsafe_b64encode(jwt).decode())
                out.append(base64.urlsafe_b64encode(jwt).rstrip(b"=").decode())
        return out
    return Unknown("generateTestValues")


def esc(s):
    return s.replace("\\", "\\\\").replace("\t", "\\t").replace("\n", "\\n").replace("\r", "\\r")


if __name__ == "__main__":
    main()
