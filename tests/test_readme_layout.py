"""The README's «Layout» names every top-level module and folder, and only those."""

import re
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def layout_names() -> set[str]:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    block = text.split("\n## Layout\n", 1)[1].split("```", 2)[1]
    return set(re.findall(r"^(\S+)", block, re.MULTILINE))


def tracked_top_level() -> set[str]:
    try:
        listed = subprocess.run(
            ["git", "ls-files"], cwd=ROOT, capture_output=True, text=True, check=True
        ).stdout.split()
    except (OSError, subprocess.CalledProcessError):
        pytest.skip("not a git checkout: the tracked files are unknown")
    names = set()
    for path in listed:
        first, sep, _rest = path.partition("/")
        if sep and not first.startswith("."):
            names.add(first + "/")
        elif first.endswith(".py"):
            names.add(first)
    return names


def test_every_top_level_module_and_folder_is_in_the_layout():
    missing = tracked_top_level() - layout_names() - {"instance/"}
    assert not missing, f"add to README «Layout»: {sorted(missing)}"


def test_the_layout_names_nothing_that_is_not_there():
    # instance/ is made by the first run, never tracked.
    absent = layout_names() - tracked_top_level() - {"instance/"}
    assert not absent, f"named in README «Layout» but not in the tree: {sorted(absent)}"
