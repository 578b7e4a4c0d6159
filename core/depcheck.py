"""Name a missing dependency in one line with the command that installs it.

After an upgrade (git pull, or a release unpacked over the old one) the venv
may lack a package the new code imports. `python depcheck.py` and serve.py's
start compare the venv with requirements.txt, without importing anything, and
a missing module met later still ends in one line instead of a traceback.
"""

import importlib.metadata
import os
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent  # the checkout, above core/
REQUIREMENTS = ROOT / "requirements.txt"
PIP = r".venv\Scripts\pip" if os.name == "nt" else ".venv/bin/pip"
INSTALL = f"{PIP} install -r requirements.txt"

_REQUIREMENT = re.compile(
    r"([A-Za-z0-9][A-Za-z0-9._-]*)\s*(?:\[[^\]]*\])?\s*(?:==\s*(\S+))?"
)
_MARKER = re.compile(
    r"""(python_version|sys_platform|os_name)\s*(==|!=|<=|>=|<|>)\s*["']([^"']*)["']"""
)


def missing_message(name: str) -> str:
    return (
        f"缺少依赖 {name}：请运行 make run（或 {INSTALL}）"
        f" / Missing dependency {name}: run make run (or {INSTALL})"
    )


def version_message(name: str, installed: str, pinned: str) -> str:
    return (
        f"依赖 {name} 装的是 {installed}，requirements.txt 要 {pinned}："
        f"请运行 make run（或 {INSTALL}）"
        f" / {name} {installed} is installed, requirements.txt pins {pinned}:"
        f" run make run (or {INSTALL})"
    )


def _version_tuple(text: str) -> tuple[int, ...]:
    return tuple(int(part) for part in re.findall(r"\d+", text))


def _marker_applies(marker: str) -> bool | None:
    """Evaluate a one-clause environment marker; None when it is not that simple."""
    match = _MARKER.fullmatch(marker.strip())
    if match is None:
        return None
    variable, op, wanted = match.groups()
    if variable == "python_version":
        left = sys.version_info[:2]
        right = _version_tuple(wanted)
    else:
        left = sys.platform if variable == "sys_platform" else os.name
        right = wanted
        if op not in ("==", "!="):
            return None
    return {
        "==": left == right,
        "!=": left != right,
        "<": left < right,
        "<=": left <= right,
        ">": left > right,
        ">=": left >= right,
    }[op]


def requirements(path: Path = REQUIREMENTS) -> list[tuple[str, str | None]]:
    """Return (distribution, pinned version or None) for this platform's lines."""
    pinned = []
    for line in path.read_text(encoding="utf-8").splitlines():
        line = re.sub(r"(^|\s)#.*", "", line).strip()
        if not line or line.startswith("-"):
            continue
        spec, _sep, marker = line.partition(";")
        if marker and not _marker_applies(marker):
            # False, or too complex to judge here: pip decides, not this check.
            continue
        match = _REQUIREMENT.match(spec.strip())
        if match:
            pinned.append((match.group(1), match.group(2)))
    return pinned


def check(path: Path = REQUIREMENTS) -> tuple[list[str], list[str]]:
    """Return (missing distributions, version warnings) against requirements.txt."""
    missing, warnings = [], []
    for name, pinned in requirements(path):
        try:
            installed = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            missing.append(name)
            continue
        if pinned and installed.lower() != pinned.lower():
            warnings.append(version_message(name, installed, pinned))
    return missing, warnings


def _is_project_module(name: str) -> bool:
    top = name.partition(".")[0]
    return (ROOT / f"{top}.py").exists() or (ROOT / top).is_dir()


def _excepthook(original):
    def hook(exc_type, exc, tb):
        name = getattr(exc, "name", None)
        if (
            isinstance(exc, ModuleNotFoundError)
            and name
            and not _is_project_module(name)
        ):
            print(missing_message(name), file=sys.stderr)
            return
        original(exc_type, exc, tb)

    return hook


def guard(path: Path = REQUIREMENTS) -> None:
    """Exit 1 naming any missing dependency; name one met by a later import too."""
    sys.excepthook = _excepthook(sys.excepthook)
    if not path.exists():
        return
    missing, warnings = check(path)
    for line in warnings:
        print(line, file=sys.stderr)
    if missing:
        print(missing_message(", ".join(missing)), file=sys.stderr)
        raise SystemExit(1)


def exit_if_missing(path: Path = REQUIREMENTS) -> None:
    """Exit 1 naming any missing dependency (versions are serve.py's to warn of)."""
    if path.exists():
        missing, _warnings = check(path)
        if missing:
            print(missing_message(", ".join(missing)), file=sys.stderr)
            raise SystemExit(1)


if __name__ == "__main__":
    guard()
