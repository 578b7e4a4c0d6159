"""Upgrading by unpacking a release over an old one (issue 19).

The archive's files keep their old dates, older than the venv's stamps: make
must still notice new requirements by their content, and a server whose venv
lacks a package must say which command installs it, in one line.
"""

import hashlib
import os
import shutil
import subprocess
import sys
from datetime import datetime
from pathlib import Path

import pytest

from core import depcheck

ROOT = Path(__file__).resolve().parent.parent
PIP_RUNTIME = "-r requirements.txt"
PIP_DEV = "-r requirements-dev.txt"

needs_make = pytest.mark.skipif(
    os.name == "nt" or shutil.which("make") is None, reason="needs make and a POSIX sh"
)


def stamp_time(year, month=1):
    return datetime(year, month, 1).timestamp()


def sha256(path):
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture
def unpacked(tmp_path):
    """The checkout's files as a release archive gives them: dated 2020."""
    tree = tmp_path / "schoolnews"
    listed = subprocess.run(
        ["git", "ls-files", "-z"], cwd=ROOT, capture_output=True, check=True
    ).stdout.decode()
    old = stamp_time(2020)
    for name in filter(None, listed.split("\0")):
        source = ROOT / name
        if not source.is_file():  # deleted in the work tree, not yet committed
            continue
        target = tree / name
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(source, target)
        os.utime(target, (old, old))
    return tree


def install_old_release(tree, runtime_hash, dev_hash, when=2021):
    """Leave a venv installed for other requirements, its stamps dated `when`."""
    bin_dir = tree / ".venv" / "bin"
    bin_dir.mkdir(parents=True)
    (bin_dir / "activate").write_text("# made by python -m venv\n")
    (tree / ".venv" / ".runtime").write_text(runtime_hash + "\n")
    (tree / ".venv" / ".dev").write_text(dev_hash + "\n")
    for offset, path in enumerate(
        [bin_dir / "activate", tree / ".venv" / ".runtime", tree / ".venv" / ".dev"]
    ):
        moment = stamp_time(when, 1 + offset)
        os.utime(path, (moment, moment))


def old_hashes(tree):
    """Hashes of the requirements of a release before Flask-Compress."""
    old_runtime = "".join(
        line
        for line in (tree / "requirements.txt").read_text().splitlines(keepends=True)
        if not line.startswith("Flask-Compress==")
    )
    old_dev = (tree / "requirements-dev.txt").read_text() + "old-tool==1.0\n"
    return (
        hashlib.sha256(old_runtime.encode()).hexdigest(),
        hashlib.sha256(old_dev.encode()).hexdigest(),
    )


def make(tree, *args):
    result = subprocess.run(
        ["make", "--no-print-directory", *args],
        cwd=tree,
        capture_output=True,
        text=True,
        env={**os.environ, "MAKEFLAGS": ""},
    )
    assert result.returncode == 0, result.stderr
    return result.stdout


@needs_make
def test_unpacked_release_with_new_requirements_reinstalls(unpacked):
    install_old_release(unpacked, *old_hashes(unpacked))

    assert PIP_RUNTIME in make(unpacked, "-n", "run")
    planned = make(unpacked, "-n", "test")
    assert PIP_RUNTIME in planned
    assert PIP_DEV in planned


@needs_make
def test_install_records_hashes_then_installs_nothing(unpacked):
    install_old_release(unpacked, *old_hashes(unpacked))

    make(unpacked, "PIP=true", ".venv/.dev")

    venv = unpacked / ".venv"
    assert (venv / ".runtime").read_text().split() == [
        sha256(unpacked / "requirements.txt")
    ]
    assert (venv / ".dev").read_text().split() == [
        sha256(unpacked / "requirements-dev.txt")
    ]
    planned = make(unpacked, "-n", "test")
    assert PIP_RUNTIME not in planned
    assert PIP_DEV not in planned


@needs_make
def test_touched_but_unchanged_requirements_install_nothing(unpacked):
    # git checkout or a copy dates the files now, after the stamps.
    install_old_release(
        unpacked,
        sha256(unpacked / "requirements.txt"),
        sha256(unpacked / "requirements-dev.txt"),
    )
    for name in ("requirements.txt", "requirements-dev.txt"):
        (unpacked / name).touch()

    planned = make(unpacked, "-n", "test")
    assert PIP_RUNTIME not in planned
    assert PIP_DEV not in planned


@needs_make
def test_stamp_of_an_older_make_reinstalls_once(unpacked):
    # Stamps made by `touch` before issue 19 are empty.
    install_old_release(unpacked, "", "")

    assert PIP_RUNTIME in make(unpacked, "-n", "run")


@needs_make
def test_fresh_machine_creates_venv_and_installs(unpacked):
    planned = make(unpacked, "-n", "run")
    assert "-m venv .venv" in planned
    assert PIP_RUNTIME in planned


def run_server(python, env=None):
    """Start serve.py (waitress: the app is imported in this very process)."""
    process = subprocess.Popen(
        [python, "serve.py", "--server", "waitress", "--port", "0"],
        cwd=ROOT,
        env={**os.environ, **(env or {})},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        out, err = process.communicate(timeout=60)
    except subprocess.TimeoutExpired:
        process.kill()
        process.communicate()
        pytest.fail("serve.py kept running without its dependency")
    return process.returncode, out + err


def assert_friendly(code, output, name):
    assert code == 1, output
    assert "Traceback" not in output
    lines = output.strip().splitlines()
    assert len(lines) == 1, output
    assert f"缺少依赖 {name}：请运行 make run" in lines[0]
    assert f"Missing dependency {name}: run make run" in lines[0]
    assert "pip install -r requirements.txt" in lines[0]


def venv_without_flask_compress(tmp_path) -> Path:
    """A venv of the old release: everything but Flask-Compress; its python."""
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", venv], check=True)
    (target,) = venv.glob("lib/python*/site-packages")
    for site in map(Path, sys.path):
        if site.name != "site-packages" or not site.is_dir():
            continue
        for entry in site.iterdir():
            if entry.name.lower().startswith("flask_compress"):
                continue
            link = target / entry.name
            if not link.exists():
                link.symlink_to(entry)
    return venv / "bin" / "python"


@pytest.mark.skipif(os.name == "nt", reason="symlinks a venv's site-packages")
def test_server_in_a_venv_without_a_package_names_it(tmp_path):
    code, output = run_server(venv_without_flask_compress(tmp_path))

    assert_friendly(code, output, "Flask-Compress")


@pytest.mark.skipif(os.name == "nt", reason="symlinks a venv's site-packages")
def test_flask_command_in_a_venv_without_a_package_names_it(tmp_path):
    """`flask --app app init-db` by hand after unpacking, before `make run`."""
    result = subprocess.run(
        [
            venv_without_flask_compress(tmp_path),
            "-m",
            "flask",
            "--app",
            "app",
            "init-db",
        ],
        cwd=ROOT,
        env={**os.environ, "SCHOOLNEWS_INSTANCE": str(tmp_path / "instance")},
        capture_output=True,
        text=True,
        timeout=60,
    )

    assert_friendly(result.returncode, result.stdout + result.stderr, "Flask-Compress")
    assert "No such command" not in result.stderr


def test_server_whose_module_fails_to_import_names_it(tmp_path):
    """Installed by its metadata, yet `import flask_compress` fails."""
    (tmp_path / "flask_compress.py").write_text(
        "raise ModuleNotFoundError(\n"
        "    \"No module named 'flask_compress'\", name='flask_compress'\n"
        ")\n"
    )
    path = os.pathsep.join(filter(None, [str(tmp_path), os.environ.get("PYTHONPATH")]))

    code, output = run_server(sys.executable, {"PYTHONPATH": path})

    assert_friendly(code, output, "flask_compress")


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ("Flask==3.1.3", [("Flask", "3.1.3")]),
        ("Flask-Compress==1.25  # comment", [("Flask-Compress", "1.25")]),
        ("requests[socks]==2.34.2", [("requests", "2.34.2")]),
        ("unpinned", [("unpinned", None)]),
        ('tzdata==2026.6; sys_platform == "no-such-platform"', []),
        ('backports.zstd==1.8.0; python_version < "3.0"', []),
        ('zstd==1.0; python_version >= "3.0"', [("zstd", "1.0")]),
        ("odd==1.0; extra == 'x' and os_name == 'posix'", []),
        ("-r other.txt", []),
        ("# only a comment", []),
    ],
)
def test_requirements_lines_for_this_platform(tmp_path, line, expected):
    path = tmp_path / "requirements.txt"
    path.write_text(line + "\n")
    assert depcheck.requirements(path) == expected


def test_checkout_venv_has_every_requirement():
    missing, _warnings = depcheck.check()
    assert missing == []
