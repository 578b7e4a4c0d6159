"""Run a real SchoolNews server in a throw-away instance and talk to it over HTTP.

Shared by bench/image_memory.py and bench/soak.py. Standard library only, and
loopback only: the server listens on 127.0.0.1.
"""

from __future__ import annotations

import http.cookiejar
import json
import os
import re
import secrets
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PASSWORD = "bench-password-1"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Server:
    """`python serve.py` in its own process group, so kill -9 takes it all."""

    def __init__(self, instance: Path, source: Path = ROOT, server="granian", **env):
        self.instance = instance
        self.source = source
        self.server = server
        self.port = free_port()
        self.env = {
            **os.environ,
            "SCHOOLNEWS_INSTANCE": str(instance),
            "PYTHONUNBUFFERED": "1",
            **env,
        }
        self.process: subprocess.Popen | None = None
        self.log = open(instance.parent / f"{instance.name}-server.log", "ab")  # noqa: SIM115

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def flask(self, *args: str) -> str:
        result = subprocess.run(
            [sys.executable, "-m", "flask", "--app", "app", *args],
            cwd=self.source,
            env=self.env,
            capture_output=True,
            text=True,
            check=True,
        )
        return result.stdout

    def prepare(self, users: int = 1) -> list[str]:
        """init-db and editors bench0..benchN-1 with PASSWORD; their names."""
        self.instance.mkdir(parents=True, exist_ok=True)
        self.flask("init-db")
        names = [f"bench{n}" for n in range(users)]
        for name in names:
            self.flask("create-user", name, "--role", "editor", "--password", PASSWORD)
        return names

    def start(self, workers: int | None = None) -> None:
        command = [sys.executable, "serve.py", "--host", "127.0.0.1"]
        command += ["--port", str(self.port), "--server", self.server]
        if workers:
            command += ["--workers", str(workers)]
        self.process = subprocess.Popen(
            command,
            cwd=self.source,
            env=self.env,
            stdout=self.log,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group
        )
        self.wait_healthy()

    def wait_healthy(self, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                with urllib.request.urlopen(self.url + "/healthz", timeout=2) as r:
                    if r.status == 200:
                        return
            except (OSError, urllib.error.URLError):
                pass
            time.sleep(0.2)
        raise RuntimeError(f"the server did not answer /healthz within {timeout}s")

    def kill9(self) -> None:
        """SIGKILL the whole process group: master and every worker at once."""
        os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait()

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait()
        self.log.close()

    def pids(self) -> list[int]:
        """The server's processes (its process group), for memory readings."""
        group = os.getpgid(self.process.pid)
        found = []
        for entry in Path("/proc").iterdir():
            if entry.name.isdigit():
                try:
                    if os.getpgid(int(entry.name)) == group:
                        found.append(int(entry.name))
                except (ProcessLookupError, PermissionError):
                    pass
        return found


def memory_kb(pid: int, field: str) -> int:
    """VmRSS (resident now) or VmHWM (peak resident) of a process, in kB."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(field + ":"):
                return int(line.split()[1])
    except (FileNotFoundError, ProcessLookupError):
        pass
    return 0


class Client:
    """One browser: a cookie jar, a CSRF token, JSON and multipart helpers."""

    def __init__(self, base_url: str, timeout: float = 60):
        self.base = base_url
        self.timeout = timeout
        self.jar = http.cookiejar.CookieJar()
        self.opener = urllib.request.build_opener(
            urllib.request.HTTPCookieProcessor(self.jar), _NoRedirect()
        )
        self.csrf = ""

    def request(self, method, path, body=None, headers=None):
        """(status, bytes); HTTP errors are answers too, not exceptions."""
        req = urllib.request.Request(
            self.base + path, data=body, method=method, headers=headers or {}
        )
        try:
            with self.opener.open(req, timeout=self.timeout) as response:
                return response.status, response.read()
        except urllib.error.HTTPError as error:
            with error:
                return error.code, error.read()

    def login(self, username: str, password: str = PASSWORD) -> None:
        status, page = self.request("GET", "/login")
        token = re.search(rb'name="csrf_token"[^>]*value="([^"]+)"', page)[1]
        form = urllib.parse.urlencode(
            {"username": username, "password": password, "csrf_token": token}
        ).encode()
        status, _body = self.request(
            "POST",
            "/login",
            form,
            {"Content-Type": "application/x-www-form-urlencoded"},
        )
        if status != 302:
            raise RuntimeError(f"login of {username} answered {status}")
        status, body = self.request("GET", "/editor/csrf-token")
        self.csrf = json.loads(body)["csrf_token"]

    def post_json(self, path, data):
        return self.request(
            "POST",
            path,
            json.dumps(data).encode(),
            {
                "Content-Type": "application/json",
                "Accept": "application/json",
                "X-CSRFToken": self.csrf,
            },
        )

    def post_file(self, path, filename, data, content_type, **fields):
        boundary = secrets.token_hex(16)
        parts = []
        for key, value in fields.items():
            parts.append(
                f'--{boundary}\r\nContent-Disposition: form-data; name="{key}"'
                f"\r\n\r\n{value}\r\n".encode()
            )
        parts.append(
            f'--{boundary}\r\nContent-Disposition: form-data; name="file"; '
            f'filename="{filename}"\r\nContent-Type: {content_type}\r\n\r\n'.encode()
            + data
            + b"\r\n"
        )
        parts.append(f"--{boundary}--\r\n".encode())
        return self.request(
            "POST",
            path,
            b"".join(parts),
            {
                "Content-Type": f"multipart/form-data; boundary={boundary}",
                "Accept": "application/json",
                "X-CSRFToken": self.csrf,
            },
        )


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None
