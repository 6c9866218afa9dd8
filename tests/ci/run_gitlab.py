#!/usr/bin/env python3
"""Runs one job of a .gitlab-ci.yml the way a GitLab runner's shell executor does, for the tests.

    run_gitlab.py REQUEST.json > result.json

request: {"ci_file": the pipeline's YAML text, "job": its name, "include_root": the repository
root for `include: local:`, "project_dir": CI_PROJECT_DIR (the job's working directory),
"variables": {the project's CI/CD variables}, "masked": [names of masked ones]}

It merges `include: local:` files under the pipeline (the pipeline's own keys win), resolves the
job's `extends:` like GitLab (hashes merged deeply, arrays and scalars replaced, the job's own
keys last), exports the variables (YAML ones, then CI/CD ones over them, then CI_PROJECT_DIR,
CI_JOB_ID, CI_JOB_NAME, CI, GITLAB_CI), runs `before_script` and `script` in one bash with
`set -eo pipefail`, each command announced as `$ command` like the runner does, then
`after_script` in a shell of its own, and replaces masked variables' values by [MASKED] in the log.

result: {"status": "success"|"failed", "exit_code": n, "log": the job log, "job": the resolved
job, "artifacts": [artifact paths that exist after the job]}
"""

import copy
import json
import os
import random
import subprocess
import sys

import yaml


class JobError(Exception):
    pass


def deep_merge(base, over):
    """GitLab's merge for `extends` and `include`: hashes merged key by key, anything else replaced."""
    if isinstance(base, dict) and isinstance(over, dict):
        out = dict(base)
        for k, v in over.items():
            out[k] = deep_merge(base[k], v) if k in base else copy.deepcopy(v)
        return out
    return copy.deepcopy(over)


def load_pipeline(text, include_root):
    config = yaml.safe_load(text) or {}
    includes = config.pop("include", [])
    if isinstance(includes, (str, dict)):
        includes = [includes]
    merged = {}
    for inc in includes:
        path = inc if isinstance(inc, str) else inc.get("local")
        if not path:
            raise JobError(f"only local includes are supported: {inc!r}")
        with open(os.path.join(include_root, path.lstrip("/")), encoding="utf-8") as f:
            merged = deep_merge(merged, yaml.safe_load(f) or {})
    return deep_merge(merged, config)


def resolve(config, name, seen=()):
    if name in seen:
        raise JobError(f"circular extends: {' -> '.join(seen + (name,))}")
    if name not in config or not isinstance(config[name], dict):
        raise JobError(f"no job {name!r}")
    job = config[name]
    parents = job.get("extends", [])
    if isinstance(parents, str):
        parents = [parents]
    out = {}
    for parent in parents:
        out = deep_merge(out, resolve(config, parent, seen + (name,)))
    own = {k: v for k, v in job.items() if k != "extends"}
    return deep_merge(out, own)


def lines_of(value):
    if value is None:
        return []
    if isinstance(value, str):
        return [value]
    out = []
    for item in value:
        out += lines_of(item) if isinstance(item, list) else [str(item)]
    return out


def announce(cmd):
    """What the runner prints before a command: its first line, with a note if there are more."""
    first, _, rest = cmd.strip("\n").partition("\n")
    return f"$ {first}" + (" # collapsed multi-line command" if rest.strip() else "")


def shell_quote(s):
    return "'" + s.replace("'", "'\\''") + "'"


def build_script(commands):
    parts = ["set -eo pipefail", "set +o noclobber"]
    for cmd in commands:
        parts.append(f"printf '%s\\n' {shell_quote(announce(cmd))}")
        parts.append(cmd.rstrip("\n"))
    return "\n".join(parts) + "\n"


def run_shell(script, env, cwd):
    proc = subprocess.run(["bash", "--noprofile", "--norc"], input=script.encode(), env=env,
                          cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    return proc.returncode, proc.stdout.decode("utf-8", "replace")


def main():
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    with open(sys.argv[1], encoding="utf-8") as f:
        req = json.load(f)
    try:
        config = load_pipeline(req["ci_file"], req["include_root"])
        job = resolve(config, req["job"])
    except (JobError, OSError, yaml.YAMLError) as e:
        print(f"run_gitlab.py: {e}", file=sys.stderr)
        sys.exit(2)
    if "script" not in job:
        print(f"run_gitlab.py: job {req['job']!r} has no script", file=sys.stderr)
        sys.exit(2)

    project_dir = os.path.abspath(req["project_dir"])
    env = dict(os.environ)
    variables = {}
    for k, v in (config.get("variables") or {}).items():
        variables[k] = v
    for k, v in (job.get("variables") or {}).items():
        variables[k] = v
    for k, v in variables.items():
        if isinstance(v, dict):
            v = v.get("value", "")
        v = "" if v is None else str(v)
        if "$" in v:
            # GitLab would expand references here; this runner does not, so it refuses.
            print(f"run_gitlab.py: variable {k} refers to another variable", file=sys.stderr)
            sys.exit(2)
        env[k] = v
    env.update({k: str(v) for k, v in req.get("variables", {}).items()})
    env.update({
        "CI": "true", "GITLAB_CI": "true", "CI_PROJECT_DIR": project_dir,
        "CI_JOB_ID": str(random.randint(10**8, 10**9)), "CI_JOB_NAME": req["job"],
        "CI_BUILDS_DIR": os.path.dirname(project_dir),
    })

    code, out = run_shell(
        build_script(lines_of(job.get("before_script")) + lines_of(job["script"])), env, project_dir)
    log = out
    if job.get("after_script"):
        log += "Running after_script\n"
        _, after = run_shell(build_script(lines_of(job["after_script"])), env, project_dir)
        log += after
    log += "Job succeeded\n" if code == 0 else f"ERROR: Job failed: exit code {code}\n"
    for name in req.get("masked", []):
        value = req.get("variables", {}).get(name, "")
        if value:
            log = log.replace(value, "[MASKED]")

    paths = ((job.get("artifacts") or {}).get("paths")) or []
    present = [p for p in paths if os.path.exists(os.path.join(project_dir, p))]
    json.dump({"status": "success" if code == 0 else "failed", "exit_code": code, "log": log,
               "job": job, "artifacts": present}, sys.stdout)


if __name__ == "__main__":
    main()
