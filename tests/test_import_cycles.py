"""No import cycle among the project's own modules, and the ground floor
(models.py, forms.py) imports none of the parts (issue 20).

A cycle hides which part depends on which; a function-level import that
closes one counts too. Read from the source, so nothing is imported here.
import-linter (`make lint`) checks the rules between the packages; it cannot
take the top-level modules as roots, so they are checked here.
"""

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def project_modules() -> dict[str, Path]:
    files = list(ROOT.glob("*.py"))
    for init in ROOT.glob("*/__init__.py"):
        if init.parent.name not in ("tests", "bench", "migrations"):
            files += init.parent.rglob("*.py")
    modules = {}
    for path in files:
        name = ".".join(path.relative_to(ROOT).with_suffix("").parts)
        modules[name.removesuffix(".__init__")] = path
    return modules


def imports(path: Path, modules) -> set[str]:
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            # `from pkg import module` depends on the module, as import-linter
            # reads it; `from module import name` on the module.
            submodules = {f"{node.module}.{alias.name}" for alias in node.names}
            found |= (submodules & modules.keys()) or {node.module}
    return found & modules.keys()


def cycle_from(start: str, graph) -> list[str] | None:
    """A path start -> ... -> start, if there is one."""
    stack, seen = [(start, [start])], set()
    while stack:
        node, path = stack.pop()
        for following in sorted(graph[node]):
            if following == start:
                return [*path, start]
            if following not in seen:
                seen.add(following)
                stack.append((following, [*path, following]))
    return None


def test_no_module_imports_itself_through_others():
    modules = project_modules()
    graph = {name: imports(path, modules) - {name} for name, path in modules.items()}
    cycles = [c for name in sorted(graph) if (c := cycle_from(name, graph))]
    assert not cycles, " ; ".join(" -> ".join(cycle) for cycle in cycles)


def test_the_packages_are_found():
    modules = project_modules()
    assert {"reader.pagecache", "review.chain", "operations.importers.common"} <= set(
        modules
    )


def test_models_import_no_part_and_forms_only_core():
    modules = project_modules()
    assert imports(modules["models"], modules) == set()
    outside_core = {
        name
        for name in imports(modules["forms"], modules)
        if name != "models" and name.split(".")[0] != "core"
    }
    assert not outside_core


def test_the_check_sees_a_cycle():
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}
    assert cycle_from("a", graph) == ["a", "b", "c", "a"]
    assert cycle_from("d", graph) is None
