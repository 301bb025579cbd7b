#!/usr/bin/env python3
"""check-dockerfile.py - checks the Dockerfile as far as a machine that cannot
pull base images can.

    check-dockerfile.py ROOT CONTEXT_OUT SCRIPT_OUT DEB

ROOT is the repository. The script
  - checks that every COPY source of the build context exists and that
    .dockerignore leaves out no file that git tracks under a folder meson
    reads (meson.build, lib/, hooks/, tools/, ...: every tracked file is
    kept, only build trees and local state go);
  - copies the build context (git's files minus .dockerignore) to CONTEXT_OUT;
  - writes the RUN lines between "# install: begin" and "# install: end" to
    SCRIPT_OUT as a shell script, with the stage's ARG defaults, so that the
    caller runs them with SRC/BUILD/STAGE pointing at its own folders;
  - checks that the build stage installs every Build-Depends of
    debian/control (debhelper aside) and that the final stage installs every
    Depends of the built .deb DEB (libc6 and libtinfo6, in every Debian
    image, aside).
Prints one line per problem and exits 1 if there is any, else 0.
"""
import fnmatch
import os
import re
import shutil
import subprocess
import sys

ALWAYS_PRESENT = {"libc6", "libtinfo6"}   # in debian:*-slim already


def instructions(text):
    """Yields (line number, instruction, arguments), continuation lines joined.
    Comment lines are yielded as ('#', text)."""
    lines = text.split("\n")
    i = 0
    while i < len(lines):
        start, line = i + 1, lines[i].strip()
        i += 1
        if not line:
            continue
        if line.startswith("#"):
            yield start, "#", line
            continue
        while line.endswith("\\") and i < len(lines):
            nxt = lines[i].strip()
            i += 1
            if nxt.startswith("#"):
                continue
            line = line[:-1].rstrip() + " " + nxt
        word, _, rest = line.partition(" ")
        yield start, word.upper(), rest.strip()


def stages(text):
    """Splits the instructions into stages: a list of lists, one per FROM."""
    out = [[]]
    for ins in instructions(text):
        if ins[1] == "FROM":
            out.append([])
        out[-1].append(ins)
    return out[1:]


def apt_packages(stage):
    pkgs = set()
    for _, word, rest in stage:
        if word == "RUN":
            for m in re.finditer(r"apt-get install ((?:[^&;|])*)", rest):
                pkgs |= {w for w in m.group(1).split() if not w.startswith("-")}
    return pkgs


def context_files(root):
    """git's files (tracked and untracked, not ignored) minus .dockerignore."""
    out = subprocess.run(["git", "ls-files", "-co", "--exclude-standard"], cwd=root,
                         check=True, capture_output=True, text=True).stdout.split()
    patterns = []
    with open(os.path.join(root, ".dockerignore")) as f:
        for line in f:
            line = line.strip()
            if line and not line.startswith("#"):
                patterns.append(line.strip("/"))

    def ignored(path):
        parts = path.split("/")
        prefixes = ["/".join(parts[:n]) for n in range(1, len(parts) + 1)]
        return any(fnmatch.fnmatchcase(p, pat) for p in prefixes for pat in patterns)

    return [p for p in out if os.path.isfile(os.path.join(root, p))], \
        [p for p in out if not ignored(p) and os.path.isfile(os.path.join(root, p))]


def control_build_depends(root):
    text = open(os.path.join(root, "debian/control")).read()
    m = re.search(r"^Build-Depends:(.*?)^\S", text, re.S | re.M)
    names = set()
    for line in m.group(1).split("\n"):
        if line.strip().startswith("#"):
            continue
        for alt in line.split(","):
            alt = alt.strip()
            if alt:
                names.add(frozenset(re.sub(r"\(.*?\)", "", a).strip()
                                    for a in alt.split("|")))
    return names


def deb_depends(deb):
    out = subprocess.run(["dpkg-deb", "-f", deb, "Depends"], check=True,
                         capture_output=True, text=True).stdout
    return {re.sub(r"\(.*?\)", "", d).split("|")[0].strip() for d in out.split(",") if d.strip()}


def main():
    root, ctx_out, script_out, deb = sys.argv[1:5]
    problems = []
    text = open(os.path.join(root, "Dockerfile")).read()
    st = stages(text)
    if len(st) < 2:
        print("Dockerfile: expected a build stage and a final stage")
        return 1
    build = next((s for s in st if s[0][2].endswith(" AS build")), None)
    final = st[-1]
    if build is None:
        print("Dockerfile: no stage named build")
        return 1

    tracked, kept = context_files(root)
    for path in sorted(set(tracked) - set(kept)):
        problems.append(f".dockerignore leaves out {path}, which git has: the image "
                        "would not build what CI tests")
    for line, word, rest in instructions(text):
        if word != "COPY" or "--from=" in rest:
            continue
        for src in rest.split()[:-1]:
            if not os.path.exists(os.path.join(root, src)):
                problems.append(f"Dockerfile:{line}: COPY source {src} does not exist")

    # The install lines, with the stage's ARG defaults.
    m = re.search(r"^# install: begin.*?\n(.*?)^# install: end", text, re.S | re.M)
    if m is None:
        problems.append("Dockerfile: no '# install: begin' ... '# install: end' block")
    else:
        script = ["#!/bin/sh", "set -eu"]
        for _, word, rest in instructions(m.group(1)):
            if word == "ARG":
                for a in rest.split():
                    name, _, val = a.partition("=")
                    script.append(f': "${{{name}:={val}}}"')
            elif word == "RUN":
                script.append(rest)
            elif word != "#":
                problems.append(f"Dockerfile: {word} in the install block (only ARG and RUN)")
        with open(script_out, "w") as f:
            f.write("\n".join(script) + "\n")

    have = apt_packages(build)
    for alts in control_build_depends(root):
        if "debhelper-compat" in alts:
            continue
        if not alts & have:
            problems.append("Dockerfile: the build stage lacks Build-Depends " +
                            " | ".join(sorted(alts)))
    have = apt_packages(final) | ALWAYS_PRESENT
    for dep in sorted(deb_depends(deb) - have):
        problems.append(f"Dockerfile: the final stage lacks {dep}, which the .deb depends on")

    for p in kept:
        dest = os.path.join(ctx_out, p)
        os.makedirs(os.path.dirname(dest), exist_ok=True)
        shutil.copy2(os.path.join(root, p), dest)

    for p in problems:
        print(p)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
