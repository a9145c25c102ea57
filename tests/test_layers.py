"""The package layering of docs/architecture.md, read from the source with ``ast``.

A *unit* is a subpackage of ``vitdet_cli`` (``runtime``) or a top-level module (``errors``).
Every import counts, module-level or deferred inside a function. A unit may import units of a
strictly lower layer; only the base layer's units import each other. The exceptions that exist
today are listed in ``ALLOWED`` with the reason or the issue that removes them: a new one fails,
and so does an entry that no longer happens (delete it when the issue lands).

An import inside a function (deferred) outside ``commands/`` and ``app.py`` either imports a
heavy or optional package (``DEFERRABLE``) or says why on its line or the line above its block:
``# deferred: loads torch``, ``# deferred: keeps --help fast``, ``# deferred: optional
dependency (openvino)`` (``REASON``); a "loads X" on one of our modules must be true.

``python tests/test_layers.py`` prints the measured import graph (two-way pairs, deferred
imports) that docs/architecture.md quotes.
"""

from __future__ import annotations

import ast
import graphlib
import re
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PKG = ROOT / "vitdet_cli"

LAYERS = [  # lowest first
    ("base", {"vitdet_cli", "errors", "io_checks", "atomic", "metafile", "cache_dir", "shipped",
              "progress"}),
    ("foundations", {"artifacts", "config", "data", "platform", "report"}),
    ("core", {"model", "runtime", "mmcv_build"}),
    ("envcheck", {"envcheck"}),
    ("scoring", {"evaluation"}),
    ("pipelines", {"export", "atc", "training", "compare", "bench"}),
    ("tuning", {"tune"}),
    ("demo", {"demo"}),
    ("commands", {"commands"}),
    ("app", {"app"}),
    ("main", {"__main__"}),
]
OPEN = {"base"}
"""Layers whose units may import each other (acyclically)."""
LAYER = {unit: i for i, (_, units) in enumerate(LAYERS) for unit in units}

ALLOWED = {
    # Upward: none left (the five two-way package pairs are gone).
    # Sideways within a layer.
    ("report", "data"): "deliberate: pictures share data.preview's colours and label style",
    ("runtime", "model"): "deliberate: the torch reference backend rebuilds the trained model; "
    "deferred so the deploy path stays torch-free",
}

HEAVY = {"torch", "torchvision", "onnx", "onnxruntime", "mmcv", "mmdet", "mmengine"}
DEFERRABLE = HEAVY | {"torch_npu", "openvino", "pycocotools", "matplotlib"}
"""Packages a function may import without saying why: heavy at import, or optional."""
ENTRY = {"commands", "app", "__main__"}
"""Units whose deferred imports need no reason: they keep ``vitdet --help`` fast."""
REASON = re.compile(r"#\s*deferred: (loads [\w.]+|keeps --help fast|optional dependency \([^)]+\))")
"""Why any other import sits inside a function (docs/architecture.md, rule 5)."""


@dataclass(frozen=True)
class Import:
    module: str  # importing module, dotted
    target: str  # imported module, dotted
    deferred: bool  # inside a function
    line: int = field(default=0, compare=False)  # the statement's first and last line
    end: int = field(default=0, compare=False)


def unit(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else parts[0]


def module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imports_of(path: Path) -> list[Import]:
    """Every import in ``path``; ``from vitdet_cli import x`` names submodule ``x`` if any."""
    module, found = module_name(path), []

    def visit(node: ast.AST, deferred: bool) -> None:
        for child in ast.iter_child_nodes(node):
            inner = deferred or isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef))
            lines = (getattr(child, "lineno", 0), getattr(child, "end_lineno", 0))
            if isinstance(child, ast.Import):
                found.extend(Import(module, a.name, deferred, *lines) for a in child.names)
            elif isinstance(child, ast.ImportFrom):
                base = child.module or ""
                if child.level:  # relative: resolve against this module's package
                    pkg = module.split(".")[: len(module.split(".")) - child.level + 1]
                    pkg = pkg if path.name == "__init__.py" else pkg[:-1]
                    base = ".".join(pkg + ([base] if base else []))
                targets = {base}
                for a in child.names:
                    sub = ROOT.joinpath(*base.split("."), a.name)
                    if sub.is_dir() or sub.with_suffix(".py").is_file():
                        targets = (targets - {base}) | {f"{base}.{a.name}"}
                found.extend(Import(module, t, deferred, *lines) for t in sorted(targets))
            visit(child, inner)

    visit(ast.parse(path.read_text(encoding="utf-8")), False)
    return found


def all_imports() -> list[Import]:
    return [imp for path in sorted(PKG.rglob("*.py")) for imp in imports_of(path)]


def internal(imports: list[Import]) -> list[Import]:
    return [i for i in imports if i.target.split(".")[0] == "vitdet_cli"]


def unit_edges(imports: list[Import]) -> Counter:
    """(importer unit, imported unit) → number of imports, across units only."""
    return Counter(
        (unit(i.module), unit(i.target))
        for i in internal(imports)
        if unit(i.module) != unit(i.target)
    )


def test_every_unit_has_a_layer():
    units = {unit(module_name(p)) for p in PKG.rglob("*.py")}
    assert units - set(LAYER) == set(), "place the new package in LAYERS (docs/architecture.md)"
    assert set(LAYER) - units == set(), "LAYERS names a unit that no longer exists"


def test_no_package_imports_a_higher_layer_or_a_sibling():
    edges = unit_edges(all_imports())
    placed = [(a, b) for a, b in edges if a in LAYER and b in LAYER]  # the rest: test above
    bad = sorted(
        (a, b)
        for a, b in placed
        if (LAYER[b] > LAYER[a] or (LAYER[b] == LAYER[a] and LAYERS[LAYER[a]][0] not in OPEN))
        and (a, b) not in ALLOWED
    )
    assert bad == [], "import a lower layer only (docs/architecture.md, 'Where a new piece goes')"
    stale = sorted(set(ALLOWED) - set(edges))
    assert stale == [], "these allowed imports are gone: delete them from ALLOWED and the doc"


def test_no_import_cycle_between_packages():
    graph: dict[str, set[str]] = {}
    for a, b in unit_edges(all_imports()):
        if (a, b) not in ALLOWED:
            graph.setdefault(a, set()).add(b)
    graphlib.TopologicalSorter(graph).prepare()  # raises CycleError, naming the cycle


def test_artifacts_package_imports_no_torch_or_onnx_even_deferred():
    """The import-time check (tests/runtime/test_host_import.py) misses imports in functions."""
    found = [
        (i.module, i.target)
        for p in (PKG / "artifacts").rglob("*.py")
        for i in imports_of(p)
        if i.target.split(".")[0] in HEAVY
    ]
    assert found == []


def reasons(path: Path) -> list[tuple[Import, str | None]]:
    """Each deferred import in ``path`` outside a ``DEFERRABLE`` package, with its reason.

    The reason is a ``# deferred: …`` comment (``REASON``) on the import's own lines or on the
    line above the block of imports it opens; None when there is none.
    """
    text = path.read_text(encoding="utf-8").splitlines()
    found = imports_of(path)
    in_import = {n for i in found for n in range(i.line, i.end + 1)}
    out = []
    for i in found:
        if not i.deferred or i.target.split(".")[0] in DEFERRABLE:
            continue
        above = i.line - 1
        while above in in_import:
            above -= 1
        said = text[i.line - 1 : i.end] + (text[above - 1 : above] if above else [])
        hits = [m.group(1) for m in map(REASON.search, said) if m]
        out.append((i, hits[0] if hits else None))
    return out


def library_files() -> list[Path]:
    """Every module outside ``ENTRY``, whose deferred imports must say why."""
    return [p for p in sorted(PKG.rglob("*.py")) if unit(module_name(p)) not in ENTRY]


def loaded_on_import(module: str) -> set[str]:
    """Top-level packages outside vitdet_cli that importing ``module`` loads (module-level
    imports, followed through vitdet_cli and its parent packages)."""
    files = {module_name(p): p for p in PKG.rglob("*.py")}
    seen, found, todo = set(), set(), [module]
    while todo:
        name = todo.pop()
        while name not in files and "." in name:  # ``from pkg import attr``
            name = name.rsplit(".", 1)[0]
        if name in seen or name not in files:
            continue
        seen.add(name)
        todo += [name.rsplit(".", 1)[0]] if "." in name else []
        for i in imports_of(files[name]):
            if i.deferred:
                continue
            if i.target.split(".")[0] == "vitdet_cli":
                todo.append(i.target)
            else:
                found.add(i.target.split(".")[0])
    return found


def test_deferred_imports_say_why():
    """Rule 5: inside a function only to keep a heavy or optional package off a path."""
    bad = [
        f"{p.relative_to(ROOT)}:{i.line} imports {i.target}"
        for p in library_files()
        for i, why in reasons(p)
        if why is None
    ]
    assert bad == [], "import at module level, or add '# deferred: loads torch' (REASON)"


def test_deferred_reasons_hold():
    """A '# deferred: loads X' on an import of ours is true: importing it loads X."""
    wrong = [
        f"{p.relative_to(ROOT)}:{i.line} {i.target} does not load {why.split()[1]}"
        for p in library_files()
        for i, why in reasons(p)
        if why and why.startswith("loads ")
        and i.target.startswith("vitdet_cli")
        and why.split()[1] not in loaded_on_import(i.target)
    ]
    assert wrong == [], "import it at module level, or give the true reason"


def measure() -> None:
    """Print the numbers docs/architecture.md quotes."""
    imports = all_imports()
    inner = internal(imports)
    cross = [i for i in inner if unit(i.module) != unit(i.target)]
    split = Counter((unit(i.module), unit(i.target), i.deferred) for i in cross)
    edges = unit_edges(imports)
    two_way = sorted({tuple(sorted(e)) for e in edges if e[::-1] in edges})
    in_pairs = [i for i in cross if tuple(sorted((unit(i.module), unit(i.target)))) in two_way]

    def n(rows):
        return f"{len(rows)} ({sum(i.deferred for i in rows)} deferred)"

    print(f"imports of vitdet_cli modules: {n(inner)}; across packages: {n(cross)}")
    print(f"two-way package pairs: {len(two_way)} ({n(in_pairs)} imports on them)")
    for a, b in two_way:
        print(
            f"  {a} <-> {b}: {a}->{b} {split[a, b, False]} module-level + {split[a, b, True]} "
            f"deferred, {b}->{a} {split[b, a, False]} + {split[b, a, True]}"
        )
    entry = [i for i in cross if i.deferred and unit(i.module) in {"commands", "app"}]
    print(f"deferred across packages in commands/ and app.py (--help stays fast): {len(entry)}")
    heavy = [i for i in imports if i.deferred and i.target.split(".")[0] in HEAVY]
    print(f"deferred imports of {'/'.join(sorted(HEAVY))}: {len(heavy)}")
    lib = [(p, i) for p in library_files() for i in imports_of(p) if i.deferred]
    direct = [i for _, i in lib if i.target.split(".")[0] in DEFERRABLE]
    bad = [i for p in library_files() for i, why in reasons(p) if why is None]
    print(
        f"deferred imports outside commands/ and app.py: {len(lib)} ({len(direct)} of a heavy or "
        f"optional package, {len(lib) - len(direct) - len(bad)} with a '# deferred:' reason, "
        f"{len(bad)} without)"
    )
    mods = Counter((i.module, i.target) for i in inner if unit(i.module) == unit(i.target))
    loops = sorted({tuple(sorted(e)) for e in mods if e[::-1] in mods})
    print(f"two-way module pairs inside a package: {len(loops)} {loops}")


if __name__ == "__main__":
    measure()
