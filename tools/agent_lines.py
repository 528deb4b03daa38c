#!/usr/bin/env python3
"""Extract the shell lines coding agents really ran from public trajectories.

Writes tests/data/agent-lines.tsv, the corpus of tests/agent_lines.rs: one
row per distinct line, `source<TAB>language<TAB>line`, where `source` is
`owner/repo@commit:path` of the trajectory the line was first seen in and
`line` is escaped (backslash as `\\\\`, newline `\\n`, tab `\\t`, CR `\\r`).

The trajectories are read straight out of git snapshots of their public
repositories, each at a pinned commit, so the output is reproducible:

    python3 tools/agent_lines.py \\
        --envpilot     /path/to/HagonChan/EnvPilot.git \\
        --gemini       /path/to/gruckion/mini-swe-agent.git \\
        --minisweagent /path/to/SWE-agent/mini-swe-agent.git \\
        --sweagent     /path/to/SWE-agent/SWE-agent.git \\
        -o tests/data/agent-lines.tsv

Each path is a git directory (bare or not) that holds the pinned commit
below (a clone with all refs: the SWE-agent/mini-swe-agent commit is on
a pull-request ref). Nothing else is read, and nothing is fetched from
the network.

`--polybench /path/to/amazon-science/SWE-PolyBench.git` adds the Atlassian
Rovo Dev trajectories of SWE-PolyBench Verified (Python, Java, JavaScript,
TypeScript). They are left out of the committed corpus: the branch that
holds them is licensed CC BY-NC 4.0, which this MIT/Apache-2.0 project
cannot take in. Use it only for a local measurement.

What counts as a line the agent ran:

* SWE-PolyBench, Atlassian Rovo Dev submission (`trajs/<instance>`, a text
  log): each `TOOL CALL (bash)` block is YAML; its `command` is the line.
  Other tools (open_files, grep, find_and_replace_code, ...) are editor
  tools, not shell, and are skipped.
* EnvPilot (SWE-agent `.traj` JSON): the `action` of each trajectory step,
  except SWE-agent's own editor/navigation commands (open, goto,
  scroll_up/down, create, edit, insert, search_file, search_dir,
  find_file, submit, ...), which are not shell.
* mini-swe-agent (`.traj.json`; gruckion/mini-swe-agent's Gemini 3 Pro
  run, and one run of SWE-agent/mini-swe-agent: see MINISWEAGENT): each
  `extra.actions[].command` of an assistant message (the command the
  harness executed); for the older text format, the single ```bash block
  of an assistant message (one with none or several is not executed).
* SWE-agent (demonstrations and test trajectories, `.traj`): as EnvPilot.
  The CTF demonstrations are left out: they are not coding tasks.

Lines are stripped of leading and trailing whitespace (the formats add a
trailing newline) and otherwise kept exactly, multi-line ones included.
Exact duplicates are dropped, keeping the first source in this order:
SWE-PolyBench (when asked for), EnvPilot, gruckion/mini-swe-agent,
SWE-agent/mini-swe-agent, SWE-agent. Only the standard library is needed,
and PyYAML for --polybench.
"""

import argparse
import json
import re
import subprocess
import sys

POLYBENCH = {
    "repo": "amazon-science/SWE-PolyBench",
    "commit": "e4617f2db5b0a3c509633b3ac0985db6237efe00",
    "ref": "branch submission",
    "licence": "CC BY-NC 4.0 (LICENSE of that branch): not for the committed corpus",
}
ENVPILOT = {
    "repo": "HagonChan/EnvPilot",
    "commit": "87a32d6a166c55717edef5d6b1868728580af6de",
    "ref": "default branch",
    "licence": "MIT (repository LICENSE, inherited from SWE-agent)",
}
MINISWEAGENT = {
    "repo": "SWE-agent/mini-swe-agent",
    # A pull request that committed SWE-bench run outputs (output/<run>/).
    # One run is taken, the SWE-bench dev split with deepseek-chat: the
    # others repeat its instances or are several megabytes of heredocs.
    "commit": "e5e0fbca1c60561bde25fa473b78717aa4b3f9ec",
    "ref": "refs/pull/816/head",
    "run": "output/deepseek_chat_dev/",
    "licence": "MIT (repository LICENSE.md)",
}
GEMINI = {
    "repo": "gruckion/mini-swe-agent",
    "commit": "d12a71affd95403b036b2bdbd827349b77bfffb9",
    "ref": "default branch",
    "licence": "MIT (repository LICENSE.md)",
    "run": "swebench_results/20251118_gemini-3-pro-74pct/trajs/",
}
SWEAGENT = {
    "repo": "SWE-agent/SWE-agent",
    "commit": "3ea751c087f32b16e039a2233dd6eefecef325d5",
    "ref": "default branch",
    "licence": "MIT (repository LICENSE)",
}

# SWE-PolyBench Verified: every repository is one language.
POLYBENCH_LANG = {
    "Significant-Gravitas/AutoGPT": "Python",
    "huggingface/transformers": "Python",
    "keras-team/keras": "Python",
    "langchain-ai/langchain": "Python",
    "yt-dlp/yt-dlp": "Python",
    "apache/dubbo": "Java",
    "apache/rocketmq": "Java",
    "apolloconfig/apollo": "Java",
    "google/gson": "Java",
    "google/guava": "Java",
    "trinodb/trino": "Java",
    "mrdoob/three.js": "JavaScript",
    "prettier/prettier": "JavaScript",
    "serverless/serverless": "JavaScript",
    "sveltejs/svelte": "JavaScript",
    "angular/angular": "TypeScript",
    "coder/code-server": "TypeScript",
    "microsoft/vscode": "TypeScript",
    "mui/material-ui": "TypeScript",
    "tailwindlabs/tailwindcss": "TypeScript",
}

# SWE-agent's own commands (tools/ bundles): editor and navigation, not shell.
SWEAGENT_SPECIAL = {
    "open", "goto", "scroll_up", "scroll_down", "create", "edit", "insert",
    "submit", "search_file", "search_dir", "find_file", "str_replace_editor",
    "filemap", "skip", "exit_cost", "exit_context", "exit_api",
    "exit_format", "exit_forfeit",
}


class Snapshot:
    """Blobs of one commit of a git directory, read with `git cat-file`."""

    def __init__(self, gitdir, commit):
        self.git = ["git", "--git-dir", gitdir]
        self.commit = commit
        out = subprocess.check_output(
            self.git + ["ls-tree", "-r", "-z", commit], text=True
        )
        self.blobs = {}
        for entry in out.split("\0"):
            if not entry:
                continue
            meta, path = entry.split("\t", 1)
            _mode, kind, oid = meta.split()
            if kind == "blob":
                self.blobs[path] = oid
        self.cat = subprocess.Popen(
            self.git + ["cat-file", "--batch"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
        )

    def paths(self):
        return sorted(self.blobs)

    def read(self, path):
        """The blob's bytes, or None if the snapshot lacks its content."""
        self.cat.stdin.write((self.blobs[path] + "\n").encode())
        self.cat.stdin.flush()
        header = self.cat.stdout.readline().decode().split()
        if len(header) < 3 or header[1] == "missing":
            return None
        data = self.cat.stdout.read(int(header[2]))
        self.cat.stdout.read(1)
        return data


def source(repo, commit, path):
    return f"{repo}@{commit[:12]}:{path}"


def instance_repo(instance):
    """`owner__name-123` -> `owner/name`."""
    owner, rest = instance.split("__", 1)
    return owner + "/" + re.sub(r"-\d+$", "", rest)


def polybench(gitdir):
    import yaml  # PyYAML, for this source only

    snap = Snapshot(gitdir, POLYBENCH["commit"])
    prefix = "evaluation/PBVerified/20251208_atlassian-rovo-dev/trajs/"
    sep = "=" * 120 + "\n"
    for path in snap.paths():
        if not path.startswith(prefix):
            continue
        data = snap.read(path)
        if data is None:
            continue
        lang = POLYBENCH_LANG[instance_repo(path[len(prefix):])]
        for block in data.decode("utf-8").split(sep):
            head = "TOOL CALL (bash)\n"
            if not block.startswith(head):
                continue
            try:
                args = yaml.safe_load(block[len(head):])
            except yaml.YAMLError:
                continue
            command = args.get("command") if isinstance(args, dict) else None
            if isinstance(command, str):
                yield source(POLYBENCH["repo"], snap.commit, path), lang, command


def sweagent_actions(doc):
    """The actions of a SWE-agent trajectory, old or new format."""
    if "trajectory" in doc:
        steps = doc["trajectory"]
    else:
        steps = [h for h in doc.get("history", []) if h.get("role") == "assistant"]
    for step in steps:
        action = step.get("action")
        if isinstance(action, str):
            yield action


def is_shell(action):
    words = action.split()
    return bool(words) and words[0] not in SWEAGENT_SPECIAL


def envpilot(gitdir):
    snap = Snapshot(gitdir, ENVPILOT["commit"])
    base = "trajectories_PrepareScript/"
    lang = {}
    for path in snap.paths():
        if path.startswith(base + "repolaunch_") and path.endswith("/instance.json"):
            meta = json.loads(snap.read(path))
            lang[meta["instance_id"]] = meta["language"]
    for path in snap.paths():
        parts = path.split("/")
        # trajectories_PrepareScript/deepseek-v3_<run>/<instance>/<instance>.traj
        if len(parts) != 4 or not parts[1].startswith("deepseek-v3_"):
            continue
        if not path.endswith(".traj"):
            continue
        data = snap.read(path)
        if data is None:
            continue  # over the snapshot's file size limit
        instance = parts[2]
        language = lang.get(instance, "C" if instance.startswith("libgit2__") else "")
        if language == "c":
            language = "C"
        for action in sweagent_actions(json.loads(data)):
            if is_shell(action):
                yield source(ENVPILOT["repo"], snap.commit, path), language, action


BASH_BLOCK = re.compile(r"```bash\s*\n(.*?)\n```", re.DOTALL)


def minisweagent(gitdir, spec=None):
    spec = spec or MINISWEAGENT
    snap = Snapshot(gitdir, spec["commit"])
    for path in snap.paths():
        if not (path.startswith(spec["run"]) and path.endswith(".traj.json")):
            continue
        data = snap.read(path)
        if data is None:
            continue
        for msg in json.loads(data).get("messages", []):
            if msg.get("role") != "assistant":
                continue
            extra = msg.get("extra") or {}
            if "actions" in extra:
                commands = [a.get("command") for a in extra["actions"]]
            else:
                blocks = BASH_BLOCK.findall(str(msg.get("content", "")))
                commands = blocks if len(blocks) == 1 else []
            for command in commands:
                if isinstance(command, str):
                    yield source(spec["repo"], snap.commit, path), "Python", command


def sweagent(gitdir):
    snap = Snapshot(gitdir, SWEAGENT["commit"])
    for path in snap.paths():
        if not path.endswith(".traj") or "/ctf/" in path:
            continue
        if not path.startswith(("trajectories/demonstrations/", "tests/test_data/trajectories/")):
            continue
        data = snap.read(path)
        if data is None:
            continue
        for action in sweagent_actions(json.loads(data)):
            if is_shell(action):
                yield source(SWEAGENT["repo"], snap.commit, path), "Python", action


def escape(line):
    return (
        line.replace("\\", "\\\\")
        .replace("\n", "\\n")
        .replace("\t", "\\t")
        .replace("\r", "\\r")
    )


HEADER = """\
# Shell lines coding agents ran, from public agent trajectories.
# Generated by tools/agent_lines.py; see it for what is extracted and how.
# Columns: source<TAB>language<TAB>line. source is owner/repo@commit:path of
# the trajectory the line was first seen in; language is the task's
# repository language; line is escaped: \\\\ backslash, \\n newline, \\t tab,
# \\r carriage return. Exact duplicates are dropped.
#
# Sources (licences and attribution: tests/data/agent-lines.NOTICE):
#   {ep[repo]} @ {ep[commit]} ({ep[ref]}), {ep[licence]}
#     trajectories_PrepareScript/deepseek-v3_*/*/*.traj: SWE-agent
#     (DeepSeek-V3) setting up and testing 114 repositories in C, C++, Go,
#     Java, JavaScript, PHP, Python, Rust and TypeScript; each step's
#     action, SWE-agent's own editor commands left out.
#   {gm[repo]} @ {gm[commit]} ({gm[ref]}), {gm[licence]}
#     {gm[run]}*/*.traj.json:
#     mini-swe-agent (Gemini 3 Pro) on the 500 SWE-bench Verified (Python)
#     issues; each executed bash block.
#   {ms[repo]} @ {ms[commit]} ({ms[ref]}), {ms[licence]}
#     {ms[run]}*/*.traj.json:
#     mini-swe-agent (deepseek-chat) on 23 SWE-bench dev (Python) issues;
#     each executed action's command.
#   {sw[repo]} @ {sw[commit]} ({sw[ref]}), {sw[licence]}
#     trajectories/demonstrations/**.traj (not ctf/) and
#     tests/test_data/trajectories/**.traj: SWE-agent demonstrations.
{extra}#
# Counts: {counts}
"""


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--envpilot", required=True)
    ap.add_argument("--gemini", required=True)
    ap.add_argument("--minisweagent", required=True)
    ap.add_argument("--sweagent", required=True)
    ap.add_argument("--polybench", help="local measurement only: CC BY-NC 4.0")
    ap.add_argument("-o", "--output", default="tests/data/agent-lines.tsv")
    args = ap.parse_args()

    rows = []
    seen = set()
    gens = [
        envpilot(args.envpilot),
        minisweagent(args.gemini, GEMINI),
        minisweagent(args.minisweagent),
        sweagent(args.sweagent),
    ]
    extra = ""
    if args.polybench:
        gens.insert(0, polybench(args.polybench))
        extra = (
            "#   {pb[repo]} @ {pb[commit]} ({pb[ref]}), {pb[licence]}\n"
            "#     evaluation/PBVerified/20251208_atlassian-rovo-dev/trajs/*: Atlassian\n"
            "#     Rovo Dev on SWE-PolyBench Verified; each bash tool call's command.\n"
        ).format(pb=POLYBENCH)
    for gen in gens:
        for src, lang, line in gen:
            line = line.strip()
            if not line or line in seen:
                continue
            seen.add(line)
            rows.append((src, lang, line))

    per_repo = {}
    for src, _lang, _line in rows:
        repo = src.split("@", 1)[0]
        per_repo[repo] = per_repo.get(repo, 0) + 1
    counts = f"{len(rows)} lines; " + ", ".join(f"{r} {n}" for r, n in per_repo.items())
    header = HEADER.format(
        ep=ENVPILOT, gm=GEMINI, ms=MINISWEAGENT, sw=SWEAGENT, extra=extra, counts=counts
    )
    with open(args.output, "w", encoding="utf-8", newline="\n") as out:
        out.write(header)
        for src, lang, line in rows:
            out.write(f"{src}\t{lang}\t{escape(line)}\n")
    print(counts, file=sys.stderr)


if __name__ == "__main__":
    main()
