#!/usr/bin/env python3
"""Runs a composite GitHub Action the way GitHub's runner does, for the tests.

    run_action.py ACTION_DIR REQUEST.json > result.json

request: {"with": {input: value}, "env": {job env}, "secrets": [values GitHub would mask, as it
masks every `secrets.*`], "workspace": dir, "temp": dir}

It reads ACTION_DIR/action.yml, applies the inputs' defaults, evaluates `${{ … }}` in `env:`,
`with:`, `if:`, `working-directory:` and the outputs' `value:` (contexts inputs, github, runner,
steps, env; unknown names are errors), runs each `run:` step as
`bash --noprofile --norc -eo pipefail FILE` with GITHUB_OUTPUT, GITHUB_ENV, GITHUB_PATH,
GITHUB_STEP_SUMMARY, GITHUB_ACTION_PATH and RUNNER_TEMP, and handles the workflow commands a step
prints (`::add-mask::`, `::error::`, `::warning::`, `::notice::`, `::debug::`, groups).

result: {"conclusion": "success"|"failure", "outputs": {...}, "steps": {id: {"outcome", "outputs"}},
"log": the log as GitHub shows it (each step's header with its `env:`, masked values as `***`),
"raw": what the steps' processes printed, unmasked, "annotations": [{"level", "message"}]}

Stricter than GitHub where GitHub's leniency would hide a defect: `${{` inside `run:` text is
refused (inputs must reach scripts through `env:`), `uses:` steps and shells other than bash are
refused, and any expression it does not understand is an error.
"""

import json
import math
import os
import re
import subprocess
import sys
import uuid

import yaml


class ActionError(Exception):
    """The action file is something this runner (or GitHub) refuses."""


# --- workflow-command data -------------------------------------------------------------------

def unescape_data(s):
    return s.replace("%0D", "\r").replace("%0A", "\n").replace("%25", "%")


def unescape_property(s):
    return (s.replace("%0D", "\r").replace("%0A", "\n").replace("%3A", ":")
            .replace("%2C", ",").replace("%25", "%"))


COMMAND = re.compile(r"^::([A-Za-z-]+)(?: ([^:]*))?::(.*)$")


class Masker:
    """GitHub's secret masker: every registered value, wherever it occurs in a line, as ***."""

    def __init__(self):
        self.values = set()

    def add(self, value):
        # Registered whole and line by line, as the runner does for secrets.
        for v in [value] + value.splitlines():
            v = v.strip("\r")
            if v:
                self.values.add(v)

    def mask(self, text):
        spans = []
        for v in self.values:
            start = text.find(v)
            while start != -1:
                spans.append((start, start + len(v)))
                start = text.find(v, start + 1)
        if not spans:
            return text
        spans.sort()
        merged = [list(spans[0])]
        for a, b in spans[1:]:
            if a <= merged[-1][1]:
                merged[-1][1] = max(merged[-1][1], b)
            else:
                merged.append([a, b])
        out, pos = [], 0
        for a, b in merged:
            out.append(text[pos:a])
            out.append("***")
            pos = b
        out.append(text[pos:])
        return "".join(out)


# --- expressions -----------------------------------------------------------------------------

TOKEN = re.compile(r"""
    \s*(?:
      (?P<str>'(?:[^']|'')*')
    | (?P<num>-?(?:0x[0-9a-fA-F]+|\d+(?:\.\d+)?(?:[eE][+-]?\d+)?))
    | (?P<op>==|!=|<=|>=|&&|\|\||[!<>()\[\].,*])
    | (?P<ident>[A-Za-z_][A-Za-z0-9_-]*)
    )""", re.X)

STATUS_FUNCTIONS = {"success", "failure", "always", "cancelled"}


def tokenize(src):
    pos, out = 0, []
    src = src.strip()
    while pos < len(src):
        m = TOKEN.match(src, pos)
        if not m or m.end() == pos:
            raise ActionError(f"cannot read the expression {src!r} at {src[pos:]!r}")
        pos = m.end()
        kind = m.lastgroup
        out.append((kind, m.group(kind)))
    return out


def to_number(v):
    if v is None:
        return 0.0
    if isinstance(v, bool):
        return 1.0 if v else 0.0
    if isinstance(v, (int, float)):
        return float(v)
    if isinstance(v, str):
        s = v.strip()
        if s == "":
            return 0.0
        try:
            return float(int(s, 16)) if s.lower().startswith("0x") else float(s)
        except ValueError:
            return math.nan
    return math.nan


def truthy(v):
    if v is None or v is False or v == "":
        return False
    if isinstance(v, (int, float)) and not isinstance(v, bool):
        return not (v == 0 or math.isnan(v))
    return True


def to_string(v):
    if v is None:
        return ""
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, float):
        return str(int(v)) if v.is_integer() else repr(v)
    if isinstance(v, (dict, list)):
        return json.dumps(v)
    return str(v)


def equal(a, b):
    if type(a) is type(b) or (isinstance(a, (int, float)) and isinstance(b, (int, float))
                              and not isinstance(a, bool) and not isinstance(b, bool)):
        if isinstance(a, str):
            return a.casefold() == b.casefold()  # GitHub compares strings ignoring case
        return a == b
    return to_number(a) == to_number(b)


class Context:
    """What `${{ … }}` can see; unknown names raise ActionError."""

    def __init__(self, runner):
        self.r = runner

    def lookup(self, path):
        head, rest = path[0], path[1:]
        r = self.r
        if head == "inputs":
            if len(rest) != 1:
                raise ActionError("inputs.<name> expected")
            name = rest[0]
            if name not in r.inputs:
                raise ActionError(f"inputs.{name}: the action declares no such input")
            return r.inputs[name]
        if head == "github":
            table = {"action_path": r.action_dir, "workspace": r.workspace,
                     "event_name": "workflow_dispatch", "action": "__run"}
            if len(rest) != 1 or rest[0] not in table:
                raise ActionError(f"github.{'.'.join(rest)}: unknown to this runner")
            return table[rest[0]]
        if head == "runner":
            table = {"temp": r.temp, "os": "Linux", "arch": "X64"}
            if len(rest) != 1 or rest[0] not in table:
                raise ActionError(f"runner.{'.'.join(rest)}: unknown to this runner")
            return table[rest[0]]
        if head == "env":
            if len(rest) != 1:
                raise ActionError("env.<NAME> expected")
            return r.env_context().get(rest[0], "")
        if head == "steps":
            if len(rest) < 2 or rest[0] not in r.step_results:
                raise ActionError(f"steps.{'.'.join(rest)}: no earlier step has that id")
            step = r.step_results[rest[0]]
            if rest[1] == "outputs" and len(rest) == 3:
                return step["outputs"].get(rest[2], "")
            if rest[1] in ("outcome", "conclusion") and len(rest) == 2:
                return step["outcome"]
            raise ActionError(f"steps.{'.'.join(rest)}: unknown")
        raise ActionError(f"unknown context {head!r}")


class Parser:
    def __init__(self, tokens, ctx):
        self.t, self.i, self.ctx = tokens, 0, ctx
        self.status_used = False

    def peek(self):
        return self.t[self.i] if self.i < len(self.t) else (None, None)

    def take(self, value=None):
        tok = self.peek()
        if tok[0] is None or (value is not None and tok[1] != value):
            raise ActionError(f"expected {value or 'more'} in the expression, found {tok[1]!r}")
        self.i += 1
        return tok

    def parse(self):
        v = self.or_()
        if self.i != len(self.t):
            raise ActionError(f"unexpected {self.t[self.i][1]!r} in the expression")
        return v

    def or_(self):
        v = self.and_()
        while self.peek() == ("op", "||"):
            self.take()
            rhs = self.and_()
            v = v if truthy(v) else rhs
        return v

    def and_(self):
        v = self.cmp()
        while self.peek() == ("op", "&&"):
            self.take()
            rhs = self.cmp()
            v = rhs if truthy(v) else v
        return v

    def cmp(self):
        v = self.unary()
        while self.peek()[0] == "op" and self.peek()[1] in ("==", "!=", "<", "<=", ">", ">="):
            op = self.take()[1]
            rhs = self.unary()
            if op == "==":
                v = equal(v, rhs)
            elif op == "!=":
                v = not equal(v, rhs)
            else:
                a, b = to_number(v), to_number(rhs)
                v = {"<": a < b, "<=": a <= b, ">": a > b, ">=": a >= b}[op]
        return v

    def unary(self):
        if self.peek() == ("op", "!"):
            self.take()
            return not truthy(self.unary())
        return self.primary()

    def primary(self):
        kind, val = self.take()
        if kind == "str":
            return val[1:-1].replace("''", "'")
        if kind == "num":
            return to_number(val)
        if kind == "op" and val == "(":
            v = self.or_()
            self.take(")")
            return v
        if kind != "ident":
            raise ActionError(f"unexpected {val!r} in the expression")
        if val in ("true", "false"):
            return val == "true"
        if val == "null":
            return None
        if self.peek() == ("op", "("):
            return self.call(val)
        path = [val]
        while self.peek() in (("op", "."), ("op", "[")):
            if self.take()[1] == ".":
                kind, name = self.take()
                if kind != "ident":
                    raise ActionError(f"a property name expected after '.', found {name!r}")
                path.append(name)
            else:
                kind, name = self.take()
                if kind != "str":
                    raise ActionError("only ['literal'] indexes are supported")
                path.append(name[1:-1].replace("''", "'"))
                self.take("]")
        return self.ctx.lookup(path)

    def call(self, name):
        self.take("(")
        args = []
        if self.peek() != ("op", ")"):
            args.append(self.or_())
            while self.peek() == ("op", ","):
                self.take()
                args.append(self.or_())
        self.take(")")
        r = self.ctx.r
        if name in STATUS_FUNCTIONS:
            self.status_used = True
            if args:
                raise ActionError(f"{name}() takes no arguments")
            return {"success": not r.failed, "failure": r.failed,
                    "always": True, "cancelled": False}[name]
        lowered = [to_string(a).casefold() for a in args]
        if name == "contains" and len(args) == 2:
            if isinstance(args[0], list):
                return any(equal(x, args[1]) for x in args[0])
            return lowered[1] in lowered[0]
        if name == "startsWith" and len(args) == 2:
            return lowered[0].startswith(lowered[1])
        if name == "endsWith" and len(args) == 2:
            return lowered[0].endswith(lowered[1])
        raise ActionError(f"unknown function {name}() (or wrong arguments)")


def evaluate(src, ctx):
    p = Parser(tokenize(src), ctx)
    return p.parse(), p.status_used


TEMPLATE = re.compile(r"\$\{\{(.*?)\}\}", re.S)


def interpolate(value, ctx):
    """A `with:`/`env:` value: a string with `${{ }}` parts, each replaced by its string value."""
    if not isinstance(value, str):
        return to_string(value)
    if "${{" in value and not TEMPLATE.search(value):
        raise ActionError(f"unterminated ${{{{ in {value!r}")
    return TEMPLATE.sub(lambda m: to_string(evaluate(m.group(1), ctx)[0]), value)


# --- the runner ------------------------------------------------------------------------------

def parse_file_commands(path):
    """`name=value` lines and `name<<DELIMITER` … `DELIMITER` blocks (GITHUB_OUTPUT, GITHUB_ENV)."""
    out = {}
    if not os.path.exists(path):
        return out
    with open(path, encoding="utf-8") as f:
        lines = f.read().split("\n")
    i = 0
    while i < len(lines):
        line = lines[i].rstrip("\r")
        i += 1
        if line == "":
            continue
        if "<<" in line and ("=" not in line or line.index("<<") < line.index("=")):
            name, delim = line.split("<<", 1)
            if not name or not delim:
                raise ActionError(f"invalid file command line {line!r}")
            body = []
            while True:
                if i >= len(lines):
                    raise ActionError(f"{path}: no closing delimiter {delim!r} for {name}")
                nxt = lines[i].rstrip("\r")
                i += 1
                if nxt == delim:
                    break
                body.append(nxt)
            out[name] = "\n".join(body)
        elif "=" in line:
            name, value = line.split("=", 1)
            if not name:
                raise ActionError(f"invalid file command line {line!r}")
            out[name] = value
        else:
            raise ActionError(f"invalid file command line {line!r} (neither NAME=VALUE nor NAME<<EOF)")
    return out


class Runner:
    def __init__(self, action_dir, request):
        self.action_dir = os.path.abspath(action_dir)
        with open(os.path.join(self.action_dir, "action.yml"), encoding="utf-8") as f:
            self.action = yaml.safe_load(f)
        self.workspace = os.path.abspath(request.get("workspace", os.getcwd()))
        self.temp = os.path.abspath(request["temp"])
        self.job_env = {k: str(v) for k, v in request.get("env", {}).items()}
        self.added_env = {}
        self.added_path = []
        self.masker = Masker()
        for s in request.get("secrets", []):
            self.masker.add(s)
        self.log, self.raw, self.annotations = [], [], []
        self.step_results = {}
        self.failed = False
        self.ctx = Context(self)
        declared = self.action.get("inputs") or {}
        given = request.get("with", {})
        self.inputs = {}
        for name, spec in declared.items():
            default = (spec or {}).get("default", "")
            self.inputs[name] = str(given[name]) if name in given else interpolate(str(default), self.ctx)
        unexpected = sorted(set(given) - set(declared))
        if unexpected:
            self.annotate("warning", f"Unexpected input(s) {', '.join(map(repr, unexpected))}, "
                          f"valid inputs are {sorted(declared)}")
        self.given = given

    def env_context(self):
        env = dict(self.job_env)
        env.update(self.added_env)
        return env

    def emit(self, line):
        self.log.append(self.masker.mask(line))

    def annotate(self, level, message):
        self.annotations.append({"level": level, "message": message})
        self.emit(f"{level.capitalize()}: {message}")

    def handle_line(self, line):
        self.raw.append(line)
        m = COMMAND.match(line)
        if not m:
            self.emit(line)
            return
        cmd, props, data = m.group(1), m.group(2), unescape_data(m.group(3))
        if props:
            for part in props.split(","):
                if "=" in part:
                    unescape_property(part.split("=", 1)[1])
        if cmd == "add-mask":
            self.masker.add(data)  # the command line itself is never shown
        elif cmd in ("error", "warning", "notice"):
            self.annotate(cmd, self.masker.mask(data))
        elif cmd == "debug":
            pass  # shown only with step debug logging
        elif cmd == "group":
            self.emit(data)
        elif cmd == "endgroup":
            pass
        elif cmd in ("set-output", "save-state", "set-env", "add-path"):
            raise ActionError(f"::{cmd}:: is disabled on GitHub: write to the file instead")
        else:
            self.emit(line)  # unknown commands are printed as they are

    def run(self):
        runs = self.action.get("runs") or {}
        if runs.get("using") != "composite":
            raise ActionError("runs.using must be composite")
        self.emit("Run " + os.path.relpath(self.action_dir, self.workspace))
        if self.given:
            self.emit("  with:")
            for k, v in self.given.items():
                for i, vl in enumerate(str(v).split("\n")):
                    self.emit(f"    {k}: {vl}" if i == 0 else f"      {vl}")
        for index, step in enumerate(runs.get("steps") or []):
            self.run_step(index, step)
        outputs = {}
        for name, spec in (self.action.get("outputs") or {}).items():
            outputs[name] = interpolate(str((spec or {}).get("value", "")), self.ctx)
        return {
            "conclusion": "failure" if self.failed else "success",
            "outputs": outputs,
            "steps": self.step_results,
            "log": "\n".join(self.log) + "\n",
            "raw": "\n".join(self.raw) + "\n",
            "annotations": self.annotations,
        }

    def run_step(self, index, step):
        sid = step.get("id") or f"__{index}"
        if "uses" in step:
            raise ActionError(f"step {sid}: uses: steps are not supported by this runner")
        script = step.get("run")
        if not isinstance(script, str):
            raise ActionError(f"step {sid}: no run:")
        if "${{" in script:
            raise ActionError(f"step {sid}: ${{{{ in run: text (script injection): pass values through env:")
        if step.get("shell") != "bash":
            raise ActionError(f"step {sid}: composite run steps need shell: bash here (got {step.get('shell')!r})")
        cond = step.get("if")
        if cond is None:
            run_it = not self.failed
        else:
            src = str(cond).strip()
            m = re.fullmatch(r"\$\{\{(.*)\}\}", src, re.S)
            value, status_used = evaluate(m.group(1) if m else src, self.ctx)
            run_it = truthy(value) and (status_used or not self.failed)
        if not run_it:
            self.step_results[sid] = {"outcome": "skipped", "outputs": {}}
            return
        step_env = {k: interpolate(v, self.ctx) for k, v in (step.get("env") or {}).items()}
        workdir = interpolate(step.get("working-directory", self.workspace), self.ctx)
        workdir = os.path.join(self.workspace, workdir)

        first = script.strip().split("\n")[0] if script.strip() else ""
        self.emit(f"Run {first}")
        for line in script.rstrip("\n").split("\n"):
            self.emit(f"  {line}")
        self.emit("  shell: /usr/bin/bash --noprofile --norc -e -o pipefail {0}")
        if step_env:
            self.emit("  env:")
            for k, v in step_env.items():
                for i, vl in enumerate(v.split("\n")):
                    self.emit(f"    {k}: {vl}" if i == 0 else f"      {vl}")

        files = {}
        for name in ("GITHUB_OUTPUT", "GITHUB_ENV", "GITHUB_PATH", "GITHUB_STEP_SUMMARY"):
            files[name] = os.path.join(self.temp, f"{name.lower()}_{uuid.uuid4().hex}")
            open(files[name], "w").close()
        script_file = os.path.join(self.temp, f"{uuid.uuid4().hex}.sh")
        with open(script_file, "w", encoding="utf-8") as f:
            f.write(script)

        env = dict(os.environ)
        if self.added_path:
            env["PATH"] = ":".join(reversed(self.added_path)) + ":" + env.get("PATH", "")
        env.update(self.env_context())
        env.update({
            "CI": "true", "GITHUB_ACTIONS": "true", "GITHUB_WORKSPACE": self.workspace,
            "GITHUB_ACTION_PATH": self.action_dir, "RUNNER_TEMP": self.temp,
            "RUNNER_OS": "Linux", **files,
        })
        env.update(step_env)
        proc = subprocess.Popen(
            ["bash", "--noprofile", "--norc", "-eo", "pipefail", script_file],
            cwd=workdir, env=env, stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        buf = b""
        while True:
            chunk = proc.stdout.read1(65536)
            if not chunk:
                break
            buf += chunk
            while b"\n" in buf:
                line, buf = buf.split(b"\n", 1)
                self.handle_line(line.decode("utf-8", "replace").rstrip("\r"))
        if buf:
            self.handle_line(buf.decode("utf-8", "replace").rstrip("\r"))
        code = proc.wait()
        os.remove(script_file)

        outputs = parse_file_commands(files["GITHUB_OUTPUT"])
        self.added_env.update(parse_file_commands(files["GITHUB_ENV"]))
        with open(files["GITHUB_PATH"], encoding="utf-8") as f:
            self.added_path += [p for p in f.read().splitlines() if p]
        for path in files.values():
            os.remove(path)
        if code != 0:
            self.annotate("error", f"Process completed with exit code {code}.")
            self.failed = True
        self.step_results[sid] = {"outcome": "failure" if code else "success", "outputs": outputs}


def main():
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    with open(sys.argv[2], encoding="utf-8") as f:
        request = json.load(f)
    try:
        result = Runner(sys.argv[1], request).run()
    except ActionError as e:
        print(f"run_action.py: {e}", file=sys.stderr)
        sys.exit(2)
    json.dump(result, sys.stdout)


if __name__ == "__main__":
    main()
