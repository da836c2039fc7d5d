#!/usr/bin/env bash
# The module graph of common/ and fcgi/, from their `#include "..."` lines (a module is
# X.c + X.h; a header alone, such as sqlproto.h, version.h or pherr.h, is one too; a
# `.c` alone, such as fcgi/main.c, too). Fails (exit 1) when:
#   - two modules reach each other (a cycle; each one is printed, with the lines that
#     make it),
#   - a file of common/ includes a header of fcgi/ (common/ is below fcgi/),
#   - a module is listed nowhere: no row of ARCHITECTURE.md's module table names it.
# A `.c` over 600 lines is printed as a warning only (ARCHITECTURE.md says which files
# read better whole).
#
#   bash tests/deps/cycles.sh            check; exit 1 on any failure
#   DEPS_STRICT=0 bash tests/deps/cycles.sh   the same report, but exit 0 (report only)
#
# `make deps-check` runs it (and `make unit` first runs that) with DEPS_STRICT from the
# Makefile. Includes resolve as the compiler's: the including file's own directory, then
# common/, then fcgi/ (-Icommon -Ifcgi); names found in neither (system headers written
# with quotes) are not modules and are left out.
set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
strict=${DEPS_STRICT:-1}

rc=0
python3 - "$repo" <<'PY' || rc=$?
import os, re, sys

repo = sys.argv[1]
dirs = ["common", "fcgi"]
LONG = 600

files = []
for d in dirs:
    for f in sorted(os.listdir(os.path.join(repo, d))):
        if f.endswith((".c", ".h")):
            files.append(f"{d}/{f}")
present = set(files)

def module(path):
    return path[:-2]  # common/store.c and common/store.h are common/store

def resolve(including, name):
    for d in [os.path.dirname(including)] + dirs:
        p = f"{d}/{name}"
        if p in present:
            return p
    return None

inc = re.compile(r'^\s*#\s*include\s+"([^"]+)"')
edges = {}      # module -> {module: [(file, line, text)]}
problems = 0
for f in files:
    m = module(f)
    edges.setdefault(m, {})
    with open(os.path.join(repo, f), encoding="utf-8", errors="replace") as fh:
        for no, line in enumerate(fh, 1):
            g = inc.match(line)
            if not g:
                continue
            target = resolve(f, g.group(1))
            if target is None:
                continue
            if f.startswith("common/") and target.startswith("fcgi/"):
                print(f"FAIL common/ includes fcgi/: {f}:{no}: {line.strip()}")
                problems += 1
            t = module(target)
            if t != m:
                edges[m].setdefault(t, []).append((f, no, line.strip()))

# Strongly connected components (Tarjan, iterative): each with more than one module
# holds a cycle.
index, low, on, stack, sccs = {}, {}, set(), [], []
counter = 0
for root in sorted(edges):
    if root in index:
        continue
    work = [(root, iter(sorted(edges[root])))]
    index[root] = low[root] = counter; counter += 1
    stack.append(root); on.add(root)
    while work:
        v, it = work[-1]
        w = next(it, None)
        if w is not None:
            if w not in index:
                index[w] = low[w] = counter; counter += 1
                stack.append(w); on.add(w)
                work.append((w, iter(sorted(edges.get(w, {})))))
            elif w in on:
                low[v] = min(low[v], index[w])
            continue
        work.pop()
        if work:
            low[work[-1][0]] = min(low[work[-1][0]], low[v])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop(); on.discard(w); comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                sccs.append(sorted(comp))

def shortest_cycle(comp, start):
    """The shortest path start -> ... -> start inside comp (breadth first)."""
    inside = set(comp)
    prev = {start: None}
    queue = [start]
    for v in queue:
        for w in sorted(edges[v]):
            if w not in inside:
                continue
            if w == start:
                path = [v]      # v, its predecessor, ..., start
                while prev[path[-1]] is not None:
                    path.append(prev[path[-1]])
                return path[::-1] + [start]
            if w not in prev:
                prev[w] = v
                queue.append(w)
    return None

for comp in sccs:
    problems += 1
    print(f"FAIL cycle between {len(comp)} modules: {' '.join(comp)}")
    # Every cycle through the component's modules, shortest first, each printed once.
    seen = set()
    for start in comp:
        cyc = shortest_cycle(comp, start)
        if not cyc:
            continue
        key = frozenset(zip(cyc, cyc[1:]))
        if key in seen:
            continue
        seen.add(key)
        print("  cycle: " + " -> ".join(cyc))
        for a, b in zip(cyc, cyc[1:]):
            f, no, text = edges[a][b][0]
            print(f"    {f}:{no}: {text}")

# Every module named by a row of ARCHITECTURE.md's module table.
rows = []
try:
    with open(os.path.join(repo, "ARCHITECTURE.md"), encoding="utf-8") as fh:
        rows = [l for l in fh if l.startswith("|")]
except FileNotFoundError:
    pass
named = set()
for l in rows:
    first = l.split("|")[1] if l.count("|") >= 2 else ""
    for p in re.findall(r"`([^`]+)`", first):
        # `fcgi/loop.c/.h`, `fcgi/main.c`, `common/version.h`
        p = re.sub(r"\.[ch](/\.[ch])?$", "", p)
        named.add(p)
for m in sorted(edges):
    if m not in named:
        problems += 1
        kinds = "/".join(ext for ext in ("c", "h") if f"{m}.{ext}" in present)
        print(f"FAIL listed nowhere: {m}.{kinds} has no row in ARCHITECTURE.md's module table")

for f in files:
    if f.endswith(".c"):
        with open(os.path.join(repo, f), encoding="utf-8", errors="replace") as fh:
            n = sum(1 for _ in fh)
        if n > LONG:
            print(f"warning: {f} has {n} lines (over {LONG})")

print(f"deps: {len(edges)} modules, "
      f"{sum(len(t) for t in edges.values())} arrows, {problems} failure(s)")
sys.exit(1 if problems else 0)
PY

if ((rc != 0)); then
	if [[ $strict == 0 ]]; then
		echo "deps: report only (DEPS_STRICT=0): the failures above do not fail the build"
		exit 0
	fi
	exit 1
fi
