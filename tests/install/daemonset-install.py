#!/usr/bin/env python3
"""daemonset-install.py - what the Kubernetes node agent runs node-install.sh with.

    daemonset-install.py DAEMONSET_YAML DEPLOY_DIR

Reads the container (or init container) of DAEMONSET_YAML whose command
starts with /usr/libexec/cuslice/node-install.sh, and prints:
    arg A          one line per argument of that command
    mount PATH     one line per mountPath of that container
    preload PATH   one line per libcuslice.so path that a YAML file under
                   DEPLOY_DIR injects (LD_PRELOAD values)
Exit status 1, with a message, when no such container is found. Line-based
(no YAML module on the CI machine): it expects the block style the file uses,
one list item per line.
"""
import os
import re
import sys

SCRIPT = "/usr/libexec/cuslice/node-install.sh"


def indent(line):
    return len(line) - len(line.lstrip())


def item(line):
    """The value of a '- value' list item line, unquoted."""
    v = line.strip()[2:].strip()
    return v[1:-1] if len(v) >= 2 and v[0] == v[-1] and v[0] in "'\"" else v


def main():
    path, deploy = sys.argv[1:3]
    lines = open(path).read().split("\n")
    start = next((i for i, l in enumerate(lines)
                  if l.strip().startswith("- ") and item(l) == SCRIPT), None)
    if start is None:
        print("%s: no container runs %s" % (path, SCRIPT), file=sys.stderr)
        return 1
    ind = indent(lines[start])
    for l in lines[start + 1:]:
        if indent(l) != ind or not l.strip().startswith("- "):
            break
        print("arg", item(l))
    # The container: the nearest '- name:' above, at a smaller indent.
    top = next(i for i in range(start, -1, -1)
               if re.match(r"\s*- name:", lines[i]) and indent(lines[i]) < ind)
    cind = indent(lines[top])
    for l in lines[top + 1:]:
        if l.strip() and indent(l) <= cind:
            break
        m = re.search(r"mountPath:\s*['\"]?([^'\",}\s]+)", l)
        if m:
            print("mount", m.group(1))
    for d, _, files in os.walk(deploy):
        for f in files:
            if f.endswith((".yaml", ".yml")):
                for m in re.finditer(r"(/[\w./-]*/libcuslice\.so)\b", open(os.path.join(d, f)).read()):
                    print("preload", m.group(1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
