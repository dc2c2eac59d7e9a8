#!/usr/bin/env python3
"""Recall and false positives of prodready's secret rules on gitleaks' own rule samples.

Every gitleaks rule (cmd/generate/config/rules/*.go, at a pinned commit) carries true samples
(`tps`, which gitleaks must find) and false samples (`fps`, which it must not). This script
takes the samples written as Go string literals (runtime-generated ones, `secrets.NewSecret`
and the like, are skipped and counted), expands `utils.GenerateSampleSecret(s)` exactly as
gitleaks does, writes each sample to its own file and audits them all in one run of
`prodready audit --select SEC`. bench/gitleaks-samples.tsv maps gitleaks rules to the SEC001
pattern ids covering the same credential format; a pattern is "claimed" when its id is in
rules/SEC001-hardcoded-secret.toml. Per claimed format it prints:

  true samples found (any SEC001/SEC002/SEC003 finding in the sample's file) -> recall; a true
  sample of a format whose TOML entry names a `checksum` (bech32, github-crc32), and whose
  secrets all fail that checksum (checked here, independently of prodready), is no credential
  of the format: it is listed and counted apart, not in recall;
  false samples flagged (any SEC finding in the file) -> FP rate, counting only false samples
  that no other gitleaks rule would report (its keywords, regex and entropy threshold, from
  config/gitleaks.toml; `--regex-only`: its regex alone), since some rules' false samples are
  a sibling rule's true ones.

Each sample goes to corpus/<gitleaks rule>/tp-<n>.txt or fp-<n>.txt in a temporary folder
(a sample of `utils.ValidateWithPaths` keeps its file name: corpus/<rule>/tp-<n>/<name>).
Samples are never printed whole: only the first 6 characters of the secret and its length.
A format the TOML claims but the binary does not carry (`prodready rules --format json`; an
older build) is marked `!`, and a second total leaves it out. Rules whose Go code is too
irregular to read are listed as skipped.

Usage (Python 3.11+, standard library only):

  bench/gitleaks-samples.py GITLEAKS_GIT_DIR PRODREADY_BIN [--json OUT] [--regex-only]
  bench/gitleaks-samples.py /work/.mirror/gitleaks+gitleaks/repo target/release/prodready

GITLEAKS_GIT_DIR is a git directory of gitleaks holding the pinned commit (no work tree is
needed). Exit status: 0 when measured, 2 on bad input (missing commit, prodready failure).
"""

import argparse
import json
import math
import os
import re
import shutil
import subprocess
import sys
import tempfile
import zlib

GITLEAKS_COMMIT = "b58d3f102cf3a2c84cb7f923d05c25c9b1aed84b"
RULES_DIR = "cmd/generate/config/rules/"
UTILS_GENERATE = "cmd/generate/config/utils/generate.go"
GITLEAKS_TOML = "config/gitleaks.toml"

HERE = os.path.dirname(os.path.abspath(__file__))
MAPPING_TSV = os.path.join(HERE, "gitleaks-samples.tsv")
SEC001_TOML = os.path.join(HERE, "..", "rules", "SEC001-hardcoded-secret.toml")
FOUND_CODES = {"SEC001", "SEC002", "SEC003"}

try:
    import tomllib
except ImportError:  # Python < 3.11
    sys.exit("gitleaks-samples.py needs Python 3.11+ (tomllib)")


def die(message):
    print(f"gitleaks-samples: {message}", file=sys.stderr)
    sys.exit(2)


# ---------------------------------------------------------------------------------------------
# Reading the gitleaks git directory


class GitFiles:
    """Files of one commit of a git directory without a work tree."""

    def __init__(self, git_dir, commit):
        self.git = ["git", f"--git-dir={git_dir}"]
        self.commit = commit
        probe = subprocess.run(self.git + ["cat-file", "-e", f"{commit}^{{commit}}"],
                               capture_output=True)
        if probe.returncode != 0:
            die(f"commit {commit} is not in {git_dir} (fetch gitleaks first); "
                f"{probe.stderr.decode(errors='replace').strip()}")

    def list(self, folder):
        out = subprocess.run(self.git + ["ls-tree", "--name-only", self.commit, folder],
                             capture_output=True, check=True)
        return sorted(out.stdout.decode().splitlines())

    def read_many(self, paths):
        """{path: text}, through one `git cat-file --batch`."""
        request = "".join(f"{self.commit}:{p}\n" for p in paths).encode()
        out = subprocess.run(self.git + ["cat-file", "--batch"], input=request,
                             capture_output=True, check=True).stdout
        texts, at = {}, 0
        for path in paths:
            end = out.index(b"\n", at)
            header = out[at:end].decode().split()
            if len(header) < 3 or header[1] != "blob":
                die(f"{path} is missing at {self.commit}")
            size = int(header[2])
            texts[path] = out[end + 1:end + 1 + size].decode("utf-8", "surrogateescape")
            at = end + 1 + size + 1
        return texts


# ---------------------------------------------------------------------------------------------
# A small Go lexer and evaluator for string-list expressions


class Irregular(Exception):
    """Go code this script does not understand."""


OPERATORS = ["...", "<<=", ">>=", "&^=", ":=", "==", "!=", "<=", ">=", "&&", "||", "<-", "++",
             "--", "+=", "-=", "*=", "/=", "%=", "&=", "|=", "^=", "<<", ">>", "&^"]
SEMI_AFTER = {")", "]", "}", "++", "--"}
SIMPLE_ESCAPES = {"a": 7, "b": 8, "f": 12, "n": 10, "r": 13, "t": 9, "v": 11, "\\": 92,
                  "'": 39, '"': 34}


class Tok:
    __slots__ = ("kind", "value", "line")

    def __init__(self, kind, value, line):
        self.kind, self.value, self.line = kind, value, line

    def is_op(self, *values):
        return self.kind == "op" and self.value in values

    def __repr__(self):
        return f"{self.kind}:{self.value!r}@{self.line}"


def go_unquote(body, line):
    """The value of an interpreted Go string literal's body (between the quotes)."""
    out, i = bytearray(), 0
    while i < len(body):
        c = body[i]
        if c != "\\":
            out += c.encode("utf-8", "surrogateescape")
            i += 1
            continue
        e = body[i + 1:i + 2]
        if e in SIMPLE_ESCAPES:
            out.append(SIMPLE_ESCAPES[e])
            i += 2
        elif e == "x":
            out.append(int(body[i + 2:i + 4], 16))
            i += 4
        elif e in ("u", "U"):
            n = 4 if e == "u" else 8
            out += chr(int(body[i + 2:i + 2 + n], 16)).encode("utf-8", "surrogatepass")
            i += 2 + n
        elif e and e in "01234567":
            out.append(int(body[i + 1:i + 4], 8) & 0xFF)
            i += 4
        else:
            raise Irregular(f"line {line}: unknown escape \\{e}")
    return out.decode("utf-8", "surrogateescape")


def tokenize(src):
    """Go tokens, comments dropped, semicolons inserted as the Go spec says."""
    toks, i, line, n = [], 0, 1, len(src)

    def newline():
        if toks and (toks[-1].kind in ("ident", "str", "num", "char")
                     or (toks[-1].kind == "op" and toks[-1].value in SEMI_AFTER)):
            toks.append(Tok("op", ";", line))

    while i < n:
        c = src[i]
        if c == "\n":
            newline()
            line += 1
            i += 1
        elif c in " \t\r\f":
            i += 1
        elif src.startswith("//", i):
            j = src.find("\n", i)
            i = n if j < 0 else j
        elif src.startswith("/*", i):
            j = src.find("*/", i + 2)
            if j < 0:
                raise Irregular(f"line {line}: unterminated comment")
            if "\n" in src[i:j]:
                newline()
                line += src.count("\n", i, j)
            i = j + 2
        elif c == "`":
            j = src.find("`", i + 1)
            if j < 0:
                raise Irregular(f"line {line}: unterminated raw string")
            toks.append(Tok("str", src[i + 1:j].replace("\r", ""), line))
            line += src.count("\n", i, j)
            i = j + 1
        elif c == '"' or c == "'":
            j = i + 1
            while j < n and src[j] != c:
                if src[j] == "\n":
                    raise Irregular(f"line {line}: newline in a string")
                j += 2 if src[j] == "\\" else 1
            if j >= n:
                raise Irregular(f"line {line}: unterminated string")
            body = src[i + 1:j]
            toks.append(Tok("str", go_unquote(body, line), line) if c == '"'
                        else Tok("char", body, line))
            i = j + 1
        elif c.isalpha() or c == "_":
            j = i + 1
            while j < n and (src[j].isalnum() or src[j] == "_"):
                j += 1
            toks.append(Tok("ident", src[i:j], line))
            i = j
        elif c.isdigit() or (c == "." and i + 1 < n and src[i + 1].isdigit()):
            j = i + 1
            while j < n and (src[j].isalnum() or src[j] in "._"):
                j += 1
            toks.append(Tok("num", src[i:j], line))
            i = j
        else:
            op = next((o for o in OPERATORS if src.startswith(o, i)), c)
            toks.append(Tok("op", op, line))
            i += len(op)
    newline()
    return toks


OPEN, CLOSE = {"(": ")", "[": "]", "{": "}"}, {")", "]", "}"}


def match_close(toks, at):
    """Index of the bracket closing the one at `at`."""
    depth = 0
    for k in range(at, len(toks)):
        t = toks[k]
        if t.kind == "op" and t.value in OPEN:
            depth += 1
        elif t.kind == "op" and t.value in CLOSE:
            depth -= 1
            if depth == 0:
                return k
    raise Irregular(f"line {toks[at].line}: unbalanced {toks[at].value}")


def split_top(toks, sep):
    """Split a token list at `sep` operators outside brackets."""
    parts, cur, depth = [], [], 0
    for t in toks:
        if t.kind == "op" and t.value in OPEN:
            depth += 1
        elif t.kind == "op" and t.value in CLOSE:
            depth -= 1
        if depth == 0 and t.is_op(sep):
            parts.append(cur)
            cur = []
        else:
            cur.append(t)
    parts.append(cur)
    return parts


def find_top(toks, *ops):
    depth = 0
    for k, t in enumerate(toks):
        if t.kind == "op" and t.value in OPEN:
            depth += 1
        elif t.kind == "op" and t.value in CLOSE:
            depth -= 1
        elif depth == 0 and t.kind == "op" and t.value in ops:
            return k
    return -1


# Values: ("str", s) a constant string; ("dyn",) a string made at run time; ("list", items) a
# []string, items being Sample or Generated; ("map", [(path, Sample|Generated)]) a
# map[string]string of path -> content; ("opaque", why) a list made by code we do not run;
# ("other",) anything else (a type, a regexp, a number).
class Sample:
    __slots__ = ("text", "label", "line")

    def __init__(self, text, label, line):
        self.text, self.label, self.line = text, label, line


class Generated:
    __slots__ = ("why", "line")

    def __init__(self, why, line):
        self.why, self.line = why, line


class GoEval:
    """Evaluates the Go expressions gitleaks uses to build its sample lists."""

    def __init__(self, sample_templates, single_format):
        self.templates = sample_templates  # [(name, template)] of GenerateSampleSecrets
        self.single = single_format  # GenerateSampleSecret's format, two %s
        self.package = {}  # name -> tokens (lazily evaluated)
        self.package_values = {}
        self.evaluating = set()

    # -- package level ------------------------------------------------------------------------

    def add_package_decl(self, toks):
        for spec in specs_of_decl(toks):
            for name, expr in spec:
                self.package[name] = expr

    def lookup(self, name, env, line):
        if name in env:
            value = env[name]
            if value[0] == "bad":
                raise Irregular(value[1])
            return value
        if name in self.package_values:
            return self.package_values[name]
        if name in self.package:
            if name in self.evaluating:
                raise Irregular(f"line {line}: {name} refers to itself")
            self.evaluating.add(name)
            try:
                expr = self.package[name]
                value = ("list", []) if expr is None else self.eval(expr, {})
            finally:
                self.evaluating.discard(name)
            self.package_values[name] = value
            return value
        if name == "nil":
            return ("list", [])
        if name in ("true", "false"):
            return ("other",)
        raise Irregular(f"line {line}: unknown name {name}")

    # -- expressions --------------------------------------------------------------------------

    def eval(self, toks, env):
        if not toks:
            raise Irregular("empty expression")
        value, end = self.expr(toks, 0, env)
        if end != len(toks):
            raise Irregular(f"line {toks[end].line}: unexpected {toks[end].value!r}")
        return value

    def expr(self, toks, at, env):
        value, at = self.primary(toks, at, env)
        while at < len(toks) and toks[at].kind == "op" and toks[at].value in (
                "+", "-", "*", "/", "%", "==", "!=", "<", ">", "<=", ">=", "&&", "||"):
            op = toks[at].value
            right, at = self.primary(toks, at + 1, env)
            if op != "+":
                value = ("other",)
            elif value[0] == "str" and right[0] == "str":
                value = ("str", value[1] + right[1])
            elif value[0] in ("str", "dyn", "opaque") and right[0] in ("str", "dyn", "opaque"):
                value = ("dyn",)
            else:
                raise Irregular(f"line {toks[at - 1].line}: + on {value[0]} and {right[0]}")
        return value, at

    def primary(self, toks, at, env):
        if at >= len(toks):
            raise Irregular("expression ends early")
        t = toks[at]
        if t.kind == "str":
            return ("str", t.value), at + 1
        if t.kind in ("num", "char"):
            return ("other",), at + 1
        if t.is_op("(", ):
            end = match_close(toks, at)
            return self.eval(toks[at + 1:end], env), end + 1
        if t.is_op("&", "*", "-", "!"):
            _, at = self.primary(toks, at + 1, env)
            return ("other",), at
        if t.is_op("[") or (t.kind == "ident" and t.value == "map"):
            # A composite literal ([]string{...}, map[string]string{...}) or a conversion
            # ([]byte(x)).
            after = skip_type(toks, at)
            type_ = "".join(x.value for x in toks[at:after])
            if after < len(toks) and toks[after].is_op("("):
                end = match_close(toks, after)
                self.eval(toks[after + 1:end], env)
                return ("dyn",), end + 1
            if after >= len(toks) or not toks[after].is_op("{"):
                raise Irregular(f"line {t.line}: {type_} without a body")
            end = match_close(toks, after)
            if type_ == "[]string":
                return self.string_list(toks[after + 1:end], env), end + 1
            if type_ == "map[string]string":
                return self.string_map(toks[after + 1:end], env), end + 1
            return ("other",), end + 1
        if t.kind == "ident" and t.value == "func":
            raise Irregular(f"line {t.line}: function literal")
        if t.kind != "ident":
            raise Irregular(f"line {t.line}: unexpected {t.value!r}")
        # A name, a dotted name, a call.
        name, at = t.value, at + 1
        while at + 1 < len(toks) and toks[at].is_op(".") and toks[at + 1].kind == "ident":
            name += "." + toks[at + 1].value
            at += 2
        if at < len(toks) and toks[at].is_op("("):
            end = match_close(toks, at)
            value = self.call(name, toks[at + 1:end], env, t.line)
            at = end + 1
            while at < len(toks) and (toks[at].is_op(".") or toks[at].is_op("(")):
                # Methods on a call's result: never a sample list.
                at = match_close(toks, at + 1) + 1 if toks[at].is_op("(") else at + 2
                value = ("other",)
            return value, at
        if at < len(toks) and toks[at].is_op("{") and "." in name:
            end = match_close(toks, at)  # config.Rule{...}
            return ("other",), end + 1
        if at < len(toks) and toks[at].is_op("["):
            end = match_close(toks, at)
            return ("dyn",), end + 1  # an index: s[1:] and the like
        if "." in name:
            return ("other",), at
        return self.lookup(name, env, t.line), at

    def string_list(self, body, env):
        items = []
        for elem in split_top(body, ","):
            if not elem:
                continue
            value = self.eval(elem, env)
            items.append(self.as_item(value, elem[0].line, "literal"))
        return ("list", items)

    def string_map(self, body, env):
        entries = []
        for elem in split_top(body, ","):
            if not elem:
                continue
            colon = find_top(elem, ":")
            if colon < 0:
                raise Irregular(f"line {elem[0].line}: map entry without a key")
            key = self.eval(elem[:colon], env)
            if key[0] != "str":
                raise Irregular(f"line {elem[0].line}: map key is not a literal")
            value = self.eval(elem[colon + 1:], env)
            entries.append((key[1], self.as_item(value, elem[0].line, "literal")))
        return ("map", entries)

    @staticmethod
    def as_item(value, line, label):
        if value[0] == "str":
            return Sample(value[1], label, line)
        if value[0] in ("dyn", "opaque"):
            return Generated("built at run time", line)
        raise Irregular(f"line {line}: a list element is a {value[0]}")

    def call(self, name, arg_toks, env, line):
        args = split_top(arg_toks, ",")
        if args and not args[-1]:
            args.pop()  # trailing comma
        spread = bool(args) and bool(args[-1]) and args[-1][-1].is_op("...")
        if spread:
            args[-1] = args[-1][:-1]
        if name == "append":
            if not args:
                raise Irregular(f"line {line}: append()")
            base = self.eval(args[0], env)
            if base[0] == "opaque":
                return base
            if base[0] != "list":
                raise Irregular(f"line {line}: append to a {base[0]}")
            items = list(base[1])
            for k, arg in enumerate(args[1:], start=1):
                value = self.eval(arg, env)
                if spread and k == len(args) - 1:
                    if value[0] == "opaque":
                        items.append(Generated(value[1], arg[0].line))
                        continue
                    if value[0] != "list":
                        raise Irregular(f"line {line}: append({value[0]}...)")
                    items.extend(value[1])
                else:
                    items.append(self.as_item(value, arg[0].line, "literal"))
            return ("list", items)
        if name in ("utils.GenerateSampleSecret", "utils.GenerateSampleSecrets"):
            if len(args) != 2:
                raise Irregular(f"line {line}: {name} with {len(args)} arguments")
            ident, secret = self.eval(args[0], env), self.eval(args[1], env)
            known = ident[0] == "str" and secret[0] == "str"
            if name == "utils.GenerateSampleSecret":
                if not known:
                    return ("dyn",)
                return ("str", self.single.replace("%s", ident[1], 1).replace("%s", secret[1], 1))
            items = []
            for tname, template in self.templates:
                if known:
                    text = re.sub(r"\{[iIs]\}", lambda m: {"{i}": ident[1],
                                                            "{I}": ident[1].upper(),
                                                            "{s}": secret[1]}[m.group(0)],
                                  template)
                    items.append(Sample(text, f"GenerateSampleSecrets[{tname}]", line))
                else:
                    items.append(Generated("GenerateSampleSecrets of a run-time secret", line))
            return ("list", items)
        if "." not in name and (name in self.package or name in env):
            raise Irregular(f"line {line}: call of a function value {name}")
        if "." not in name and name not in ("string", "len", "make", "fmt"):
            return ("opaque", f"built by {name}() at run time")
        # secrets.NewSecret, fmt.Sprintf, utils.Hex, strings.Repeat, ...: made at run time.
        for arg in args:
            if arg:
                self.eval(arg, env)  # still fails on code we cannot read
        return ("dyn",)


def skip_type(toks, at):
    """Index just past the Go type starting at `at` ([]string, map[string][]string, *x.T)."""
    if at >= len(toks):
        raise Irregular("a type ends early")
    t = toks[at]
    if t.is_op("*"):
        return skip_type(toks, at + 1)
    if t.is_op("["):
        return skip_type(toks, match_close(toks, at) + 1)
    if t.kind == "ident" and t.value == "map":
        if at + 1 >= len(toks) or not toks[at + 1].is_op("["):
            raise Irregular(f"line {t.line}: map without a key type")
        return skip_type(toks, match_close(toks, at + 1) + 1)
    if t.kind == "ident":
        at += 1
        while at + 1 < len(toks) and toks[at].is_op(".") and toks[at + 1].kind == "ident":
            at += 2
        return at
    raise Irregular(f"line {t.line}: unexpected {t.value!r} in a type")


def specs_of_decl(toks):
    """[(name, expr tokens or None)] groups of a `var`/`const` declaration (keyword first)."""
    body = toks[1:]
    if body and body[0].is_op("("):
        end = match_close(body, 0)
        lines = split_top(body[1:end], ";")
    else:
        lines = [body]
    out = []
    for spec in lines:
        if not spec:
            continue
        eq = find_top(spec, "=")
        names_part = spec if eq < 0 else spec[:eq]
        names = [p[0].value for p in split_top(names_part, ",") if p and p[0].kind == "ident"]
        if eq < 0:
            out.append([(name, None) for name in names])
            continue
        exprs = split_top(spec[eq + 1:], ",")
        if len(exprs) != len(names):
            raise Irregular(f"line {spec[0].line}: {len(names)} names, {len(exprs)} values")
        out.append(list(zip(names, exprs)))
    return out


def top_level(toks):
    """[(kind, name, tokens)] of a Go file: ('func', name, body) and ('decl', None, tokens)."""
    out, at = [], 0
    while at < len(toks):
        t = toks[at]
        if t.kind == "ident" and t.value == "func":
            k = at + 1
            if k < len(toks) and toks[k].is_op("("):
                k = match_close(toks, k) + 1  # a method's receiver
            name = toks[k].value
            k = match_close(toks, k + 1) + 1  # parameters
            depth = 0
            while not (toks[k].is_op("{") and depth == 0):
                if toks[k].is_op("(", "["):
                    depth += 1
                elif toks[k].is_op(")", "]"):
                    depth -= 1
                k += 1
            end = match_close(toks, k)
            out.append(("func", name, toks[k + 1:end]))
            at = end + 1
        elif t.kind == "ident" and t.value in ("var", "const"):
            k = at + 1
            if toks[k].is_op("("):
                end = match_close(toks, k) + 1
            else:
                end = k
                depth = 0
                while end < len(toks) and not (toks[end].is_op(";") and depth == 0):
                    if toks[end].kind == "op" and toks[end].value in OPEN:
                        depth += 1
                    elif toks[end].kind == "op" and toks[end].value in CLOSE:
                        depth -= 1
                    end += 1
            out.append(("decl", None, toks[at:end]))
            at = end
        else:
            at += 1
    return out


CONTROL = {"for", "if", "switch", "select", "go", "defer"}


def rule_of_function(ev, name, body):
    """{'id', 'tps', 'fps', 'problem'} for a function building a rule, or None."""
    ids = [body[k + 2].value for k in range(len(body) - 2)
           if body[k].kind == "ident" and body[k].value == "RuleID" and body[k + 1].is_op(":")
           and body[k + 2].kind == "str"]
    validate = None
    env, assigned_in_blocks = {}, set()
    problem = None
    for st in split_top(body, ";"):
        if not st:
            continue
        head = st[0]
        try:
            if head.kind == "ident" and head.value in ("var", "const"):
                for spec in specs_of_decl(st):
                    for vname, expr in spec:
                        env[vname] = guarded(ev, expr, env)
            elif head.kind == "ident" and head.value == "return":
                for k in range(len(st) - 3):
                    if (st[k].kind == "ident" and st[k].value == "utils"
                            and st[k + 1].is_op(".")
                            and st[k + 2].value in ("Validate", "ValidateWithPaths")
                            and st[k + 3].is_op("(")):
                        end = match_close(st, k + 3)
                        validate = split_top(st[k + 4:end], ",")
            elif (head.kind == "ident" and head.value in CONTROL) or head.is_op("{"):
                for k in range(len(st) - 1):
                    if st[k].kind == "ident" and st[k + 1].is_op("=", ":=", "+="):
                        assigned_in_blocks.add(st[k].value)
            else:
                op = find_top(st, ":=", "=", "+=")
                if op < 0:
                    continue
                lhs = split_top(st[:op], ",")
                if not all(len(p) == 1 and p[0].kind == "ident" for p in lhs):
                    continue  # r.Allowlists = ..., x[i] = ...
                rhs = split_top(st[op + 1:], ",")
                names = [p[0].value for p in lhs]
                if len(rhs) != len(names):
                    for vname in names:
                        env[vname] = ("dyn",)
                    continue
                for vname, expr in zip(names, rhs):
                    value = guarded(ev, expr, env)
                    if st[op].value == "+=":
                        old = env.get(vname, ("bad", "+= on an unknown name"))
                        value = (("str", old[1] + value[1])
                                 if old[0] == "str" and value[0] == "str" else ("dyn",))
                    if vname != "_":
                        env[vname] = value
        except Irregular as e:
            problem = problem or str(e)
    if not ids and validate is None:
        return None
    rule = {"function": name, "id": ids[0] if len(ids) == 1 else None,
            "tps": None, "fps": None, "problem": None}
    if len(ids) != 1:
        rule["problem"] = f"{len(ids)} literal RuleIDs"
        return rule
    if validate is None:
        rule["tps"] = rule["fps"] = ("list", [])
        rule["note"] = "no samples (no utils.Validate call)"
        return rule
    if len(validate) != 3:
        rule["problem"] = "utils.Validate without 3 arguments"
        return rule
    for key, expr in (("tps", validate[1]), ("fps", validate[2])):
        used = {t.value for t in expr if t.kind == "ident"}
        if used & assigned_in_blocks:
            rule["problem"] = f"{key} is changed inside a for/if block"
            return rule
        try:
            rule[key] = ev.eval(expr, env)
        except Irregular as e:
            rule["problem"] = f"{key}: {e}" + (f" (first problem: {problem})" if problem else "")
            return rule
        if rule[key][0] not in ("list", "map", "opaque"):
            rule["problem"] = f"{key} is a {rule[key][0]}"
            return rule
    return rule


def guarded(ev, expr, env):
    """The value of `expr`, or a ('bad', why) value that fails only when used."""
    if expr is None:
        return ("list", [])
    try:
        return ev.eval(expr, env)
    except Irregular as e:
        return ("bad", str(e))


def sample_templates(generate_go):
    """GenerateSampleSecrets' templates [(name, template)] and GenerateSampleSecret's format."""
    funcs = {name: body for kind, name, body in top_level(tokenize(generate_go)) if kind == "func"}
    ev = GoEval([], "")
    body = funcs.get("GenerateSampleSecrets")
    single = funcs.get("GenerateSampleSecret")
    if body is None or single is None:
        die(f"{UTILS_GENERATE}: GenerateSampleSecret(s) not found")
    templates = None
    for st in split_top(body, ";"):
        op = find_top(st, ":=")
        if op == 1 and st[0].value == "samples":
            value = ev.eval(st[op + 1:], {})
            if value[0] == "map":
                templates = sorted((k, s.text) for k, s in value[1])
    if not templates:
        die(f"{UTILS_GENERATE}: the `samples` map of GenerateSampleSecrets was not read")
    formats = [t.value for t in single if t.kind == "str"]
    if len(formats) != 1 or formats[0].count("%s") != 2 or "%" in formats[0].replace("%s", ""):
        die(f"{UTILS_GENERATE}: GenerateSampleSecret's format was not read")
    return templates, formats[0]


def read_rules(files):
    """Every rule function of the rules folder: (rules, per-file problems)."""
    templates, single = sample_templates(files[UTILS_GENERATE])
    ev = GoEval(templates, single)
    parsed, problems = {}, []
    for path in sorted(files):
        if not path.startswith(RULES_DIR) or not path.endswith(".go"):
            continue
        try:
            parsed[path] = top_level(tokenize(files[path]))
            for kind, _, toks in parsed[path]:
                if kind == "decl":
                    ev.add_package_decl(toks)
        except Exception as e:  # noqa: BLE001 - an unreadable file is reported, never fatal
            problems.append((path, f"{type(e).__name__}: {e}"))
    rules = []
    for path, decls in sorted(parsed.items()):
        for kind, name, body in decls:
            if kind != "func":
                continue
            try:
                rule = rule_of_function(ev, name, body)
            except Exception as e:  # noqa: BLE001 - an unreadable rule is reported, never fatal
                rule = {"function": name, "id": None, "tps": None, "fps": None,
                        "problem": f"{type(e).__name__}: {e}"}
            if rule is None:
                continue
            rule["file"] = path[len(RULES_DIR):]
            rules.append(rule)
    return rules, problems


# ---------------------------------------------------------------------------------------------
# gitleaks' regexes, in Python


POSIX = {"alnum": "0-9A-Za-z", "alpha": "A-Za-z", "digit": "0-9", "lower": "a-z",
         "upper": "A-Z", "space": r"\t\n\v\f\r ", "xdigit": "0-9A-Fa-f", "word": r"\w",
         "punct": r"!-/:-@\[-`{-~", "blank": r" \t", "cntrl": r"\x00-\x1f\x7f",
         "print": r" -~", "graph": r"!-~", "ascii": r"\x00-\x7f"}


def go_regex_to_python(rx):
    """RE2 syntax to Python `re`: \\z, [[:class:]], (?P<>), and flags set mid-group."""
    out, i, n = [], 0, len(rx)
    frames = [[]]  # per open group: the flag groups opened inside it and not yet closed
    while i < n:
        c = rx[i]
        if c == "\\":
            nxt = rx[i + 1:i + 2]
            out.append(r"\Z" if nxt == "z" else rx[i:i + 2])
            i += 2
        elif c == "[":
            j = i + 1
            cls = ["["]
            if j < n and rx[j] == "^":
                cls.append("^")
                j += 1
            if j < n and rx[j] == "]":
                cls.append(r"\]")
                j += 1
            while j < n and rx[j] != "]":
                if rx[j] == "\\":
                    cls.append(rx[j:j + 2])
                    j += 2
                elif rx.startswith("[:", j) and ":]" in rx[j:]:
                    end = rx.index(":]", j)
                    name = rx[j + 2:end]
                    if name not in POSIX:
                        raise ValueError(f"unknown class [:{name}:]")
                    cls.append(POSIX[name])
                    j = end + 2
                elif rx[j] == "[":
                    cls.append(r"\[")
                    j += 1
                else:
                    cls.append(rx[j])
                    j += 1
            cls.append("]")
            out.append("".join(cls))
            i = j + 1
        elif c == "(":
            m = re.match(r"\(\?([a-zA-Z]*(?:-[a-zA-Z]+)?)\)", rx[i:])
            if m and m.group(1):
                if i == 0:
                    out.append(m.group(0))  # global flags at the start: same in Python
                else:
                    out.append(f"(?{m.group(1)}:")
                    frames[-1].append(f"(?{m.group(1)}:")
                i += len(m.group(0))
                continue
            if rx.startswith("(?<", i) and rx[i + 3:i + 4] not in ("=", "!"):
                out.append("(?P<")
                i += 3
            else:
                out.append("(")
                i += 1
            frames.append([])
        elif c == ")":
            out.append(")" * len(frames[-1]) + ")")
            if len(frames) > 1:
                frames.pop()
            i += 1
        elif c == "|":
            out.append(")" * len(frames[-1]) + "|" + "".join(frames[-1]))
            i += 1
        else:
            out.append(c)
            i += 1
    out.append(")" * len(frames[0]))
    return "".join(out)


def shannon(text):
    if not text:
        return 0.0
    counts = {}
    for ch in text:
        counts[ch] = counts.get(ch, 0) + 1
    return -sum(c / len(text) * math.log2(c / len(text)) for c in counts.values())


class GitleaksRule:
    def __init__(self, entry):
        self.id = entry["id"]
        self.keywords = [k.lower() for k in entry.get("keywords", [])]
        self.entropy = float(entry.get("entropy", 0) or 0)
        self.group = int(entry.get("secretGroup", 0) or 0)
        self.regex = re.compile(go_regex_to_python(entry["regex"]), re.ASCII)

    def secrets(self, text, spans=False):
        """The secrets this rule's regex takes from text (gitleaks' choice of group)."""
        for m in self.regex.finditer(text):
            index = 0
            if self.regex.groups:
                if self.group:
                    index = self.group
                else:
                    index = next((k for k in range(1, self.regex.groups + 1) if m.group(k)), 0)
            if spans:
                yield m.span(index) if m.group(index) is not None else m.span(0)
            else:
                yield m.group(index) or ""

    def reports(self, text, regex_only):
        if regex_only:
            return self.regex.search(text) is not None
        if self.keywords and not any(k in text.lower() for k in self.keywords):
            return False
        return any(not self.entropy or shannon(s) > self.entropy for s in self.secrets(text))


def gitleaks_regexes(toml_text):
    config = tomllib.loads(toml_text)
    compiled, dropped = {}, []
    for entry in config.get("rules", []):
        if not entry.get("regex"):
            continue  # path-only rules
        try:
            compiled[entry["id"]] = GitleaksRule(entry)
        except (re.error, ValueError) as e:
            dropped.append((entry["id"], str(e)))
    return compiled, sorted(dropped)


# ---------------------------------------------------------------------------------------------
# Mapping and prodready


def read_mapping(path):
    rows = []
    with open(path, encoding="utf-8") as f:
        for number, line in enumerate(f, 1):
            line = line.split("#", 1)[0].rstrip()
            if not line.strip():
                continue
            cols = line.split("\t")
            if len(cols) != 2 or not cols[0].strip() or not cols[1].strip():
                die(f"{path}:{number}: expected gitleaks_rule_id<TAB>prodready_pattern_id")
            rows.append((cols[0].strip(), cols[1].strip()))
    seen = set()
    for gid, _ in rows:
        if gid in seen:
            die(f"{path}: gitleaks rule {gid} is mapped twice")
        seen.add(gid)
    return rows


def claimed_patterns(path):
    """The SEC001 pattern ids of the TOML, each with its `checksum` kind (or None)."""
    with open(path, "rb") as f:
        data = tomllib.load(f)
    return {p["id"]: p.get("checksum") for p in data.get("data", {}).get("pattern", [])}


BECH32_CHARSET = "qpzry9x8gf2tvdw0s3jn54khce6mua7l"
BASE62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"


def bech32_valid(value):
    """BIP-173: a bech32 string (one case) whose checksum validates."""
    if value != value.lower() and value != value.upper():
        return False
    value = value.lower()
    hrp, sep, data = value.rpartition("1")
    if not sep or not hrp or len(data) < 6 or any(c not in BECH32_CHARSET for c in data):
        return False
    check = 1
    generators = (0x3B6A57B2, 0x26508E6D, 0x1EA119FA, 0x3D4233DD, 0x2A1462B3)
    for v in [ord(c) >> 5 for c in hrp] + [0] + [ord(c) & 31 for c in hrp] + [
            BECH32_CHARSET.index(c) for c in data]:
        top = check >> 25
        check = (check & 0x1FFFFFF) << 5 ^ v
        for i, g in enumerate(generators):
            if top >> i & 1:
                check ^= g
    return check == 1


def github_crc32_valid(value):
    """prefix_ + 30 characters + the base62 CRC32 of those 30 (6 characters)."""
    body = value.rsplit("_", 1)[-1]
    if len(body) != 36:
        return False
    n, digits = zlib.crc32(body[:30].encode()), ""
    for _ in range(6):
        n, r = divmod(n, 62)
        digits = BASE62[r] + digits
    return digits == body[30:]


CHECKSUMS = {"bech32": bech32_valid, "github-crc32": github_crc32_valid}


def fails_checksum(kind, text, rule):
    """The sample's secrets (by the gitleaks rule's regex) all fail the format's checksum: no
    credential of that format is in it (however it is spelled)."""
    valid = CHECKSUMS.get(kind)
    if valid is None or rule is None:
        return False
    secrets = list(rule.secrets(text))
    return bool(secrets) and not any(valid(s) for s in secrets)


def binary_patterns(binary):
    """The SEC001 pattern ids the binary carries (`prodready rules --format json`), or None."""
    done = subprocess.run([binary, "rules", "--format", "json"], capture_output=True, text=True)
    if done.returncode != 0:
        return None
    try:
        for rule in json.loads(done.stdout):
            if rule.get("code") == "SEC001":
                return {p["id"] for p in (rule.get("data") or {}).get("pattern", [])}
    except (ValueError, AttributeError, KeyError, TypeError):
        return None
    return None


def safe_relpath(path):
    parts = [p for p in path.replace("\\", "/").split("/") if p not in ("", ".", "..")]
    return "/".join(parts) or "file"


def run_prodready(binary, root, report):
    cmd = [binary, "audit", root, "--format", "json", "--no-cache", "--select", "SEC",
           "--output", report, "--color", "never"]
    done = subprocess.run(cmd, capture_output=True, text=True)
    if done.returncode not in (0, 1):
        die(f"`{' '.join(cmd)}` exited {done.returncode}: "
            f"{(done.stderr or done.stdout).strip()[:500]}")
    with open(report, encoding="utf-8") as f:
        return json.load(f)


TOKEN_CHARS = re.compile(r"[A-Za-z0-9_+/=.~-]")


def mask(text, rule):
    """First 6 characters of the secret-looking part of a sample, and its length."""
    secret = None
    if rule is not None:
        # The secret gitleaks takes, widened to the token around it (a rule may take a part).
        for start, end in rule.secrets(text, spans=True):
            while start > 0 and TOKEN_CHARS.match(text[start - 1]) and text[start - 1] != "=":
                start -= 1
            while end < len(text) and TOKEN_CHARS.match(text[end]):
                end += 1
            if end > start:
                secret = text[start:end]
                break
    if not secret:
        runs = re.findall(r"[A-Za-z0-9_+/=.~-]{8,}", text)
        secret = max(runs, key=len) if runs else text.strip()
    return f"{secret[:6]}... ({len(secret)} chars)"


def pct(part, whole):
    return f"{100.0 * part / whole:5.1f}%" if whole else "   n/a"


# ---------------------------------------------------------------------------------------------


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0].replace("\n", " "))
    parser.add_argument("gitleaks_git_dir")
    parser.add_argument("prodready_bin")
    parser.add_argument("--json", metavar="OUT", help="also write the numbers as JSON to OUT")
    parser.add_argument("--regex-only", action="store_true",
                        help="drop a false sample when another gitleaks rule's regex matches "
                             "it, ignoring that rule's keywords and entropy threshold")
    parser.add_argument("--keep", metavar="DIR",
                        help="write the sample tree to DIR (must not exist) and keep it")
    args = parser.parse_args()

    if not os.path.isfile(args.prodready_bin) or not os.access(args.prodready_bin, os.X_OK):
        die(f"{args.prodready_bin} is not an executable file")
    git = GitFiles(args.gitleaks_git_dir, GITLEAKS_COMMIT)
    paths = [p for p in git.list(RULES_DIR) if p.endswith(".go")]
    files = git.read_many(paths + [UTILS_GENERATE, GITLEAKS_TOML])
    rules, file_problems = read_rules(files)
    templates, _ = sample_templates(files[UTILS_GENERATE])
    regexes, dropped = gitleaks_regexes(files[GITLEAKS_TOML])
    mapping = read_mapping(MAPPING_TSV)
    claimed = claimed_patterns(SEC001_TOML)
    in_binary = binary_patterns(args.prodready_bin)

    # Samples of every readable rule, written to files.
    by_id, skipped = {}, []
    for rule in rules:
        if rule["problem"] or rule["id"] is None:
            skipped.append((rule.get("id") or "?", rule["file"], rule["function"],
                            rule["problem"]))
            continue
        if rule["id"] in by_id:
            skipped.append((rule["id"], rule["file"], rule["function"], "duplicate RuleID"))
            continue
        by_id[rule["id"]] = rule
    for path, problem in file_problems:
        skipped.append(("?", path[len(RULES_DIR):], "-", problem))

    work = tempfile.mkdtemp(prefix="prodready-gitleaks-")
    root = args.keep or os.path.join(work, "tree")
    os.makedirs(root)
    samples = {}  # relative folder or file -> (rule id, kind, index)
    stats = {}
    try:
        for gid, rule in sorted(by_id.items()):
            entry = {"id": gid, "file": rule["file"], "in_config": gid in regexes,
                     "tp": [], "fp": [], "generated_tp": 0, "generated_fp": 0,
                     "runtime_lists": []}
            for kind in ("tp", "fp"):
                value = rule[kind + "s"]
                if value[0] == "opaque":
                    entry["runtime_lists"].append(f"{kind}s {value[1]}")
                    continue
                items = ([(None, it) for it in value[1]] if value[0] == "list"
                         else list(value[1]))
                for path, item in items:
                    if isinstance(item, Generated):
                        entry["generated_" + kind] += 1
                        continue
                    index = len(entry[kind]) + 1
                    if path is None:
                        rel = f"corpus/{gid}/{kind}-{index}.txt"
                        key = rel
                    else:
                        key = f"corpus/{gid}/{kind}-{index}"
                        rel = f"{key}/{safe_relpath(path)}"
                    full = os.path.join(root, rel)
                    os.makedirs(os.path.dirname(full), exist_ok=True)
                    with open(full, "wb") as f:
                        f.write(item.text.encode("utf-8", "surrogateescape"))
                    samples[key] = (gid, kind, index - 1)
                    entry[kind].append({"n": index, "file": rel, "label": item.label,
                                        "go_line": item.line, "text": item.text,
                                        "path": path, "found": False, "codes": [],
                                        "other_rules": []})
            stats[gid] = entry

        report = run_prodready(args.prodready_bin, root, os.path.join(work, "report.json"))
    finally:
        shutil.rmtree(work, ignore_errors=True)

    for finding in report.get("findings", []):
        path = finding.get("path") or ""
        parts = path.split("/")
        key = "/".join(parts[:3])
        hit = samples.get(key)
        if hit is None:
            continue
        gid, kind, i = hit
        sample = stats[gid][kind][i]
        code = finding.get("code", "")
        if code not in sample["codes"]:
            sample["codes"].append(code)
        if kind == "fp" and code.startswith("SEC"):
            sample["found"] = True
        if kind == "tp" and code in FOUND_CODES:
            sample["found"] = True
    not_scanned = sorted(set(report.get("files", {}).get("skipped_files", {}) or []))

    # False samples another gitleaks rule reports are that rule's true samples: not counted.
    for gid, entry in stats.items():
        for sample in entry["fp"]:
            sample["other_rules"] = sorted(
                oid for oid, rx in regexes.items()
                if oid != gid and rx.reports(sample["text"], args.regex_only))
            sample["counted"] = not sample["other_rules"]
    known = set(stats) | {r["id"] for r in rules if r.get("id")}

    # Per prodready format.
    formats = {}
    unknown_rows = []
    for gid, pid in mapping:
        if gid not in known:
            unknown_rows.append((gid, pid))
            continue
        formats.setdefault(pid, []).append(gid)

    def summarize(pid, gids):
        row = {"pattern": pid, "claimed": pid in claimed,
               "in_binary": None if in_binary is None else pid in in_binary,
               "gitleaks_rules": sorted(gids),
               "tp": 0, "found": 0, "fp": 0, "flagged": 0, "fp_excluded": 0,
               "tp_bad_checksum": 0, "generated_skipped": 0, "missed": [], "bad_checksum": [],
               "flagged_samples": [], "unparsed": []}
        for gid in sorted(gids):
            entry = stats.get(gid)
            if entry is None:
                row["unparsed"].append(gid)
                continue
            row["generated_skipped"] += entry["generated_tp"] + entry["generated_fp"]
            rx = regexes.get(gid)
            for s in entry["tp"]:
                if fails_checksum(claimed.get(pid), s["text"], rx):
                    row["tp_bad_checksum"] += 1
                    row["bad_checksum"].append({"rule": gid, "sample": f"tp-{s['n']}",
                                                "label": s["label"], "go_line": s["go_line"],
                                                "masked": mask(s["text"], rx),
                                                "found": s["found"]})
                    continue
                row["tp"] += 1
                if s["found"]:
                    row["found"] += 1
                else:
                    row["missed"].append({"rule": gid, "sample": f"tp-{s['n']}",
                                          "label": s["label"], "go_line": s["go_line"],
                                          "masked": mask(s["text"], rx)})
            for s in entry["fp"]:
                if not s["counted"]:
                    row["fp_excluded"] += 1
                    continue
                row["fp"] += 1
                if s["found"]:
                    row["flagged"] += 1
                    row["flagged_samples"].append(
                        {"rule": gid, "sample": f"fp-{s['n']}", "label": s["label"],
                         "go_line": s["go_line"], "codes": s["codes"],
                         "masked": mask(s["text"], rx)})
        return row

    rows = [summarize(pid, gids) for pid, gids in sorted(formats.items())]
    claimed_rows = [r for r in rows if r["claimed"]]
    open_rows = [r for r in rows if not r["claimed"]]
    totals = {key: sum(r[key] for r in claimed_rows)
              for key in ("tp", "found", "fp", "flagged", "fp_excluded", "tp_bad_checksum",
                          "generated_skipped")}
    totals["recall"] = totals["found"] / totals["tp"] if totals["tp"] else None
    totals["fp_rate"] = totals["flagged"] / totals["fp"] if totals["fp"] else None
    # Formats the TOML claims but the binary measured does not carry (an older build).
    stale = [r for r in claimed_rows if r["in_binary"] is False]
    built_rows = [r for r in claimed_rows if r["in_binary"] is not False]
    built = {key: sum(r[key] for r in built_rows) for key in ("tp", "found", "fp", "flagged")}

    # Output.
    print(f"gitleaks {GITLEAKS_COMMIT[:12]}: {len(rules)} rule functions, {len(by_id)} read, "
          f"{len(skipped)} skipped; {sum(len(e['tp']) for e in stats.values())} true and "
          f"{sum(len(e['fp']) for e in stats.values())} false literal samples "
          f"({sum(e['generated_tp'] + e['generated_fp'] for e in stats.values())} "
          f"run-time samples skipped)")
    print(f"gitleaks regexes: {len(regexes)} compiled, {len(dropped)} dropped"
          + (" (" + ", ".join(d[0] for d in dropped) + ")" if dropped else "")
          + f"; false samples excluded when another rule "
          + ("matches (regex only)" if args.regex_only else
             "reports them (keywords + regex + entropy)"))
    print(f"prodready: {args.prodready_bin} ({report.get('tool', {}).get('version', '?')}), "
          f"{len(claimed)} SEC001 patterns in the TOML; "
          f"{len(samples)} sample files, {len(not_scanned)} skipped by the audit")
    print()
    head = (f"{'prodready format':36} {'rules':>5} {'TP':>4} {'found':>5} {'recall':>7} "
            f"{'FP':>4} {'flag':>4} {'FP%':>7}")
    print(head)
    print("-" * len(head))
    for r in claimed_rows:
        name = r["pattern"] + (" !" if r["in_binary"] is False else "")
        print(f"{name:36} {len(r['gitleaks_rules']):>5} {r['tp']:>4} {r['found']:>5} "
              f"{pct(r['found'], r['tp']):>7} {r['fp']:>4} {r['flagged']:>4} "
              f"{pct(r['flagged'], r['fp']):>7}")
    print("-" * len(head))
    print(f"{'TOTAL (claimed formats)':36} {sum(len(r['gitleaks_rules']) for r in claimed_rows):>5}"
          f" {totals['tp']:>4} {totals['found']:>5} {pct(totals['found'], totals['tp']):>7} "
          f"{totals['fp']:>4} {totals['flagged']:>4} {pct(totals['flagged'], totals['fp']):>7}")
    if stale:
        mapped_rules = sum(len(r["gitleaks_rules"]) for r in built_rows)
        print(f"{'TOTAL (in the binary too)':36} {mapped_rules:>5}"
              f" {built['tp']:>4} {built['found']:>5} {pct(built['found'], built['tp']):>7} "
              f"{built['fp']:>4} {built['flagged']:>4} {pct(built['flagged'], built['fp']):>7}")
        print(f"! in the TOML but not in {args.prodready_bin} (an older build?): "
              + ", ".join(r["pattern"] for r in stale))
    elif in_binary is None:
        print(f"(could not list the binary's patterns with `rules --format json`)")
    print(f"({totals['fp_excluded']} false samples of mapped rules excluded as another rule's; "
          f"{totals['tp_bad_checksum']} true samples excluded because their format's checksum "
          f"fails (listed below); {totals['generated_skipped']} run-time samples of mapped "
          f"rules skipped)")

    def listing(title, rows_, key, extra=lambda s: ""):
        groups = []  # consecutive samples of one rule, one Go line and one secret: one line
        for r in rows_:
            for s in r[key]:
                kind = s["label"].split("[")[0]
                # The variants of one GenerateSampleSecrets call share their secret.
                tag = (r["pattern"], s["rule"], s["go_line"], extra(s), kind,
                       None if kind == "GenerateSampleSecrets" else s["masked"])
                if groups and groups[-1][0] == tag:
                    groups[-1][1].append(s)
                else:
                    groups.append((tag, [s]))
        if not groups:
            return
        print(f"\n{title}:")
        for (pid, rule, line, more, kind, _), group in groups:
            first = group[0]
            masked = first["masked"]
            if len(group) == 1:
                which, label = first["sample"], first["label"]
            else:
                which = f"{first['sample']}..{group[-1]['sample'].split('-')[-1]}"
                if kind == "GenerateSampleSecrets" and len(group) == len(templates):
                    label = f"GenerateSampleSecrets[all {len(group)} templates]"
                else:
                    label = f"{kind} x{len(group)}"
            print(f"  {pid:28} {rule + '/' + which:44} {masked:24} {label} "
                  f"(rules/{stats[rule]['file']}:{line}){more}")

    listing("Missed true samples", claimed_rows, "missed")
    listing("True samples whose format checksum fails (not counted; found = reported anyway)",
            claimed_rows, "bad_checksum", lambda s: " found" if s["found"] else "")
    listing("Flagged false samples", claimed_rows, "flagged_samples",
            lambda s: " " + ",".join(s["codes"]))

    if open_rows:
        print("\nNot claimed yet (pattern id not in the TOML; excluded from totals):")
        for r in open_rows:
            print(f"  {r['pattern']:30} <- {', '.join(r['gitleaks_rules'])}: TP {r['found']}/"
                  f"{r['tp']} found, FP {r['flagged']}/{r['fp']} flagged")
    unparsed = sorted({g for r in rows for g in r["unparsed"]})
    if unknown_rows or unparsed:
        print("\nMapping rows whose gitleaks rule has no samples read:")
        for gid, pid in unknown_rows:
            print(f"  {gid} -> {pid}: no such gitleaks rule at {GITLEAKS_COMMIT[:12]}")
        for gid in unparsed:
            print(f"  {gid}: skipped (see below)")
    no_literal = sorted(gid for gid, e in stats.items() if not e["tp"])
    print(f"\nSkipped rules ({len(skipped)}):" if skipped else "\nSkipped rules: none")
    for gid, file, func, why in sorted(skipped):
        print(f"  {gid} (rules/{file} {func}): {why}")
    mapped = {g for g, _ in mapping}
    print(f"\nRules without literal true samples ({len(no_literal)}; * = mapped): "
          + ", ".join(g + ("*" if g in mapped else "") for g in no_literal))
    if not_scanned:
        print(f"\nSample files prodready did not scan: {', '.join(not_scanned[:20])}")

    if args.json:
        def public(sample):
            return {k: v for k, v in sample.items() if k != "text"}
        out = {
            "gitleaks_commit": GITLEAKS_COMMIT,
            "prodready": args.prodready_bin,
            "prodready_version": report.get("tool", {}).get("version"),
            "fp_filter": "regex" if args.regex_only else "keywords+regex+entropy",
            "regexes_dropped": [{"rule": r, "error": e} for r, e in dropped],
            "totals": totals,
            "totals_in_binary": built if stale else None,
            "claimed_not_in_binary": [r["pattern"] for r in stale],
            "formats": claimed_rows,
            "not_claimed": open_rows,
            "unknown_mapping_rows": [{"gitleaks": g, "prodready": p} for g, p in unknown_rows],
            "skipped_rules": [{"rule": g, "file": f, "function": fn, "why": w}
                              for g, f, fn, w in sorted(skipped)],
            "rules": {gid: {**{k: v for k, v in e.items() if k not in ("tp", "fp")},
                            "tp": [public(s) for s in e["tp"]],
                            "fp": [public(s) for s in e["fp"]]}
                      for gid, e in sorted(stats.items())},
            "files_not_scanned": not_scanned,
        }
        with open(args.json, "w", encoding="utf-8") as f:
            json.dump(out, f, indent=1, sort_keys=True)
            f.write("\n")


if __name__ == "__main__":
    main()
