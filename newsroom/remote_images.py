"""Bring images from other sites home: fetch them safely, store them as uploads.

Teachers paste text from web pages and WeChat articles; the images in it point
at other sites, which the Content-Security-Policy blocks (img-src 'self') and
which WeChat refuses to serve elsewhere anyway. On a real save (never on
autosave) newsroom/views/editor.py calls localise_images(): every http(s) image is
downloaded and goes through the same photo pipeline as an upload
(storage.save_image: decoded, re-encoded, metadata stripped), and its src is
rewritten to the site's own copy. An image that cannot be fetched is removed
from the body and named in the result, so the teacher can insert it by hand;
the text is always saved.

The fetcher is a server-side request on a teacher's behalf, so it must not
become a way into the school's network (SSRF):
- only http and https, no user:password@ in the URL;
- the host name is resolved first, every address it resolves to must be a
  public one (no loopback, private, link-local, multicast, reserved,
  unspecified or shared addresses, IPv4-mapped IPv6 included), and the
  connection goes to the checked address (a second DNS answer cannot swap in
  127.0.0.1: DNS rebinding);
- redirects are followed by hand, at most MAX_REDIRECTS, each one checked again;
- a connect timeout, a deadline per image and one per save, a size limit (the
  upload limit, MAX_CONTENT_LENGTH) and a cap on images per save, so a save
  never hangs.
No Referer is sent: WeChat's image host (mmbiz.qpic.cn) refuses hotlinking
when one names another site, and serves the image when there is none.
"""

from __future__ import annotations

import http.client
import io
import ipaddress
import re
import socket
import ssl
import time
from dataclasses import dataclass, field
from html import escape, unescape
from urllib.parse import unquote, urljoin, urlsplit

from flask import current_app

from core.i18n import display_size
from newsroom import storage
from newsroom.uploads import (
    N_,
    UploadError,
    clean_original_name,
    translate,
)

MAX_IMAGES_PER_SAVE = 20
MAX_REDIRECTS = 3
CONNECT_TIMEOUT = 5.0  # seconds, per connection
IMAGE_DEADLINE = 15.0  # seconds, per image, redirects included
SAVE_DEADLINE = 45.0  # seconds, for all the images of one save
USER_AGENT = "Mozilla/5.0 (compatible; SchoolNews image import)"

MSG_NOT_ALLOWED = N_("this address is not allowed")
MSG_PRIVATE = N_("it is on a private or local network")
MSG_UNREACHABLE = N_("the site could not be reached")
MSG_HTTP_STATUS = N_("the site answered with error %(status)s")
MSG_TOO_MANY_REDIRECTS = N_("too many redirects")
MSG_TOO_LARGE = N_("the image is larger than %(limit)s")
MSG_TIMEOUT = N_("the site took too long to answer")
MSG_TOO_MANY_IMAGES = N_("more than %(count)s images in one save")

# <img ... src="http(s)://..." ...> as clean_html() writes it: attribute
# values always in double quotes, "&" as "&amp;".
_IMG_RE = re.compile(r"<img\b[^>]*>", re.IGNORECASE)
_SRC_RE = re.compile(r'\ssrc="(https?://[^"]*)"', re.IGNORECASE)
# Stands where a removed image was, until the cleanup below (a NUL never
# survives clean_html(), so it cannot come from the body).
_GONE = "\0"
# A figure left with nothing but its caption once its image is gone.
_EMPTY_FIGURE_RE = re.compile(
    r"<figure>\s*(?:<figcaption>(.*?)</figcaption>)?\s*</figure>", re.DOTALL
)


class FetchError(Exception):
    """An image that could not be fetched; str() is the reason for the teacher."""

    def __init__(self, msgid: str, **params):
        super().__init__(msgid)
        self.msgid = msgid
        self.params = params

    def __str__(self) -> str:
        return translate(self.msgid, **self.params)


@dataclass
class Result:
    html: str
    saved: list = field(default_factory=list)  # Upload rows, flushed
    failed: list[tuple[str, str]] = field(default_factory=list)  # (name, reason)


def remote_image_urls(html: str) -> list[str]:
    """The distinct http(s) image URLs of a cleaned body, in document order."""
    urls = []
    for tag in _IMG_RE.findall(html or ""):
        match = _SRC_RE.search(tag)
        if match:
            url = unescape(match.group(1))
            if url not in urls:
                urls.append(url)
    return urls


def display_name(url: str) -> str:
    """How a failed image is named to the teacher: its host and file name."""
    parts = urlsplit(url)
    name = unquote(parts.path.rstrip("/").rsplit("/", 1)[-1])
    return f"{parts.hostname or ''}/{name}" if name else (parts.hostname or url)


def localise_images(html: str, *, user_id: int, article_id: int | None) -> Result:
    """Fetch the body's remote images into uploads and rewrite their src.

    html must be clean_html() output. The fetched rows are flushed, not
    committed: the caller commits with the article, or calls
    storage.discard(result.saved) after a rollback.
    """
    urls = remote_image_urls(html)
    result = Result(html=html)
    if not urls:
        return result
    # Download everything before touching the database: SQLite holds its write
    # lock from the first flush, and downloads can take seconds.
    fetched: dict[str, bytes | FetchError] = {}
    deadline = time.monotonic() + SAVE_DEADLINE
    for index, url in enumerate(urls):
        if index >= MAX_IMAGES_PER_SAVE:
            fetched[url] = FetchError(MSG_TOO_MANY_IMAGES, count=MAX_IMAGES_PER_SAVE)
            continue
        try:
            fetched[url] = fetch_image(url, deadline=deadline)
        except FetchError as error:
            fetched[url] = error
    replacements: dict[str, str | None] = {}
    for url, data in fetched.items():
        if isinstance(data, FetchError):
            result.failed.append((display_name(url), str(data)))
            replacements[url] = None
            continue
        try:
            upload = storage.save_image(
                io.BytesIO(data),
                clean_original_name(display_name(url).rsplit("/", 1)[-1] or "image"),
                user_id=user_id,
                article_id=article_id,
            )
        except UploadError as error:
            result.failed.append((display_name(url), str(error)))
            replacements[url] = None
            continue
        result.saved.append(upload)
        replacements[url] = f"/uploads/{upload.stored_name}"
    result.html = _rewrite(html, replacements)
    return result


def drop_images(html: str, urls: list[str]) -> str:
    """html (clean_html() output) without the <img> tags of these URLs."""
    return _rewrite(html, dict.fromkeys(urls))


def _rewrite(html: str, replacements: dict[str, str | None]) -> str:
    def replace_tag(match):
        tag = match.group(0)
        src = _SRC_RE.search(tag)
        if not src:
            return tag
        url = unescape(src.group(1))
        if url not in replacements:
            return tag
        new = replacements[url]
        if new is None:
            return _GONE  # the CSP would block it: readers would see a broken image
        return tag.replace(src.group(0), f' src="{escape(new)}"', 1)

    html = _IMG_RE.sub(replace_tag, html)
    # A paragraph that held nothing but the photo goes with it.
    html = html.replace(f"<p>{_GONE}</p>", "").replace(_GONE, "")
    # A caption without its photo stays as a plain paragraph.
    return _EMPTY_FIGURE_RE.sub(
        lambda m: f"<p>{m.group(1)}</p>" if m.group(1) else "", html
    )


# --- fetching -------------------------------------------------------------------


def fetch_image(url: str, *, deadline: float | None = None) -> bytes:
    """Download url's bytes under every rule above; raise FetchError if refused."""
    limit = current_app.config["MAX_CONTENT_LENGTH"]
    image_deadline = time.monotonic() + IMAGE_DEADLINE
    deadline = min(deadline or image_deadline, image_deadline)
    for _redirect in range(MAX_REDIRECTS + 1):
        parts = _check_url(url)
        address = _public_address(parts.hostname, parts.port or _default_port(parts))
        status, location, body = _get(parts, address, limit, deadline)
        if status in (301, 302, 303, 307, 308):
            if not location:
                raise FetchError(MSG_HTTP_STATUS, status=status)
            url = urljoin(url, location)
            continue
        if status != 200:
            raise FetchError(MSG_HTTP_STATUS, status=status)
        return body
    raise FetchError(MSG_TOO_MANY_REDIRECTS)


def _default_port(parts) -> int:
    return 443 if parts.scheme == "https" else 80


def _check_url(url: str):
    try:
        parts = urlsplit(url.strip())
        parts.port  # noqa: B018 - raises ValueError for a bad port
    except ValueError as error:
        raise FetchError(MSG_NOT_ALLOWED) from error
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise FetchError(MSG_NOT_ALLOWED)
    if parts.username is not None or parts.password is not None:
        raise FetchError(MSG_NOT_ALLOWED)
    return parts


def resolve(host: str, port: int) -> list[str]:
    """Every address host resolves to (a seam for tests of DNS answers)."""
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return [info[4][0] for info in infos]


def _address(text: str):
    """The IP address in text (IPv4-mapped IPv6 unwrapped), else None."""
    try:
        ip = ipaddress.ip_address(text.split("%", 1)[0])
    except ValueError:
        return None
    if ip.version == 6 and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return ip


def is_public_address(address: str) -> bool:
    """Tell whether address is a public unicast one (IPv4-mapped IPv6 unwrapped)."""
    ip = _address(address)
    if ip is None:
        return False
    if ip.version == 6 and ip.sixtofour is not None:
        ip = ip.sixtofour
    return ip.is_global and not (
        ip.is_loopback
        or ip.is_private
        or ip.is_link_local
        or ip.is_multicast
        or ip.is_reserved
        or ip.is_unspecified
    )


def _is_loopback(address: str) -> bool:
    ip = _address(address)
    return ip is not None and ip.is_loopback


def _public_address(host: str, port: int) -> str:
    """The address to connect to: host's first, if all its addresses are public."""
    try:
        addresses = resolve(host, port)
    except (OSError, UnicodeError) as error:
        raise FetchError(MSG_UNREACHABLE) from error
    if not addresses:
        raise FetchError(MSG_UNREACHABLE)
    # Tests serve images from 127.0.0.1; nothing else may ever be loopback.
    allow_loopback = current_app.config.get("REMOTE_IMAGES_ALLOW_LOOPBACK", False)
    for address in addresses:
        if not (
            is_public_address(address) or (allow_loopback and _is_loopback(address))
        ):
            raise FetchError(MSG_PRIVATE)
    return addresses[0]


class _PinnedHTTPConnection(http.client.HTTPConnection):
    """An HTTP connection to a fixed, already checked address."""

    def __init__(self, host, port, address, timeout):
        super().__init__(host, port, timeout=timeout)
        self._address = address

    def connect(self):
        self.sock = socket.create_connection(
            (self._address, self.port), timeout=CONNECT_TIMEOUT
        )
        self.sock.settimeout(self.timeout)


class _PinnedHTTPSConnection(http.client.HTTPSConnection):
    """HTTPS to a fixed address; the certificate is checked against the host name."""

    def __init__(self, host, port, address, timeout):
        super().__init__(
            host, port, timeout=timeout, context=ssl.create_default_context()
        )
        self._address = address

    def connect(self):
        sock = socket.create_connection(
            (self._address, self.port), timeout=CONNECT_TIMEOUT
        )
        sock.settimeout(self.timeout)
        self.sock = self._context.wrap_socket(sock, server_hostname=self.host)


def _get(parts, address: str, limit: int, deadline: float):
    remaining = deadline - time.monotonic()
    if remaining <= 0:
        raise FetchError(MSG_TIMEOUT)
    cls = _PinnedHTTPSConnection if parts.scheme == "https" else _PinnedHTTPConnection
    host = parts.hostname
    if ":" in host:
        host = f"[{host}]"  # an IPv6 literal
    connection = cls(
        host, parts.port or _default_port(parts), address, min(remaining, 10)
    )
    path = parts.path or "/"
    if parts.query:
        path += "?" + parts.query
    response = None
    try:
        connection.request(
            "GET",
            path,
            headers={
                "User-Agent": USER_AGENT,
                "Accept": "image/avif,image/webp,image/*;q=0.8",
                "Accept-Encoding": "identity",
            },
        )
        sock = connection.sock  # http.client lets go of it once the response has it
        response = connection.getresponse()
        if response.status in (301, 302, 303, 307, 308):
            return response.status, response.getheader("Location"), b""
        if response.status != 200:
            return response.status, None, b""
        declared = response.getheader("Content-Length")
        if declared and declared.isdigit() and int(declared) > limit:
            raise FetchError(MSG_TOO_LARGE, limit=display_size(limit))
        chunks = []
        size = 0
        while True:
            if time.monotonic() > deadline:
                raise FetchError(MSG_TIMEOUT)
            # read1: one receive at most, so a server sending a byte now and
            # then cannot stretch a read past the deadline.
            sock.settimeout(max(0.1, deadline - time.monotonic()))
            chunk = response.read1(64 * 1024)
            if not chunk:
                break
            size += len(chunk)
            if size > limit:
                raise FetchError(MSG_TOO_LARGE, limit=display_size(limit))
            chunks.append(chunk)
        return 200, None, b"".join(chunks)
    except TimeoutError as error:
        raise FetchError(MSG_TIMEOUT) from error
    except (OSError, http.client.HTTPException, ValueError) as error:
        raise FetchError(MSG_UNREACHABLE) from error
    finally:
        if response is not None:
            response.close()
        connection.close()
