"""The import rules between the packages (pyproject.toml [tool.importlinter])
hold: `make lint` runs the same check; here it runs with every `make test`."""

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def lint_imports(*args, cwd=ROOT):
    command = shutil.which("lint-imports", path=str(Path(sys.executable).parent))
    if command is None:
        pytest.skip("import-linter is not installed (make .venv/.dev installs it)")
    return subprocess.run(
        [command, "--no-cache", *args], cwd=cwd, capture_output=True, text=True
    )


def test_every_import_rule_is_kept():
    result = lint_imports()
    assert result.returncode == 0, result.stdout + result.stderr
    assert "0 broken" in result.stdout


def test_a_service_importing_a_blueprint_breaks_the_rules(tmp_path):
    # A copy of the tree where the page cache imports the editor's blueprint:
    # the rules must catch it (reader reaching into newsroom's editor, and a
    # module other than app.py importing a views module).
    for name in (
        "core",
        "reader",
        "newsroom",
        "review",
        "stats",
        "admin",
        "operations",
    ):
        shutil.copytree(ROOT / name, tmp_path / name)
    shutil.copy(ROOT / "pyproject.toml", tmp_path)
    pagecache = tmp_path / "reader" / "pagecache.py"
    pagecache.write_text(
        pagecache.read_text(encoding="utf-8") + "\nfrom newsroom.views import editor\n",
        encoding="utf-8",
    )
    result = lint_imports(cwd=tmp_path)
    assert result.returncode != 0
    assert "reader.pagecache -> newsroom.views.editor" in result.stdout
