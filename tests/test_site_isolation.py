"""站群 isolation: every route of the URL map, asked on one school's site by
each of its roles with ids, slugs and file names of both schools, shows
nothing of the other school.

Each school's rows carry its own marker (in names, titles, bodies, file
contents and user names), so a leak anywhere on a page, in a feed, an
export or a downloaded file is found by looking for the other marker.
"""

from __future__ import annotations

import io
import itertools
import zipfile
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa

from core.sites import acting_for
from models import (
    Article,
    Department,
    LegacyUrl,
    ReviewGroup,
    Revision,
    Section,
    Site,
    Status,
    Upload,
    WordRule,
    db,
    set_setting,
    utcnow,
)
from tests.conftest import PASSWORD, form_data, new_user

PHONE = "Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) Mobile/15E148"
# A tiny valid PNG, with the school's marker appended (image readers stop at
# IEND; the marker makes its bytes recognisable in any response).
PNG = bytes.fromhex(
    "89504e470d0a1a0a0000000d49484452000000010000000108060000001f15c489"
    "0000000d4944415478da63f8cfc0f01f0005000201a7d6ee9f0000000049454e44ae426082"
)
ROLES = ("anonymous", "author", "editor", "admin")
# Files named by a random name derived from an upload's own, served without
# a query (newsroom/thumbnails.py): not site data one could ask for by id.
SKIPPED_ENDPOINTS = {"static", "files.thumbnail", "files.preview_file"}


@dataclass
class School:
    site_id: int
    host: str
    marker: str
    ids: dict[str, list] = field(default_factory=dict)

    @property
    def base_url(self) -> str:
        return f"http://{self.host}"


def build_school(app, school: School) -> None:
    """Rows of every kind a school owns, all carrying its marker."""
    m, folder = school.marker, Path(app.config["UPLOAD_FOLDER"])
    name = m.lower()
    with app.app_context(), acting_for(school.site_id):
        set_setting("school_name", f"学校{m}")
        set_setting("phone", f"0571-{m}")
        set_setting("review_levels", "1")
        set_setting("single_admin", "1")
        department = Department(name=f"教务处{m}")
        group = ReviewGroup(name=f"宣传办{m}")
        users = {
            role: new_user(f"{name}_{role}", role, f"{role}{m}") for role in ROLES[1:]
        }
        users["admin"].security_admin = users["admin"].audit_admin = True
        for user in users.values():
            user.department = department
        group.members.append(users["editor"])
        channel = Section(name=f"新闻{m}", slug="news")
        notices = Section(name=f"通知{m}", slug=f"{name}-notices", parent=channel)
        image = Upload(
            kind="image",
            stored_name=f"{school.site_id:0>16x}{'a' * 16}.png",
            original_name=f"照片{m}.png",
            content_type="image/png",
            size=len(PNG) + len(m),
            width=1,
            height=1,
        )
        attachment = Upload(
            kind="attachment",
            stored_name=f"{school.site_id:0>16x}{'b' * 16}.pdf",
            original_name=f"通知{m}.pdf",
            content_type="application/pdf",
            size=100,
        )
        db.session.add_all(
            [department, group, channel, notices, image, attachment, *users.values()]
        )
        db.session.add(WordRule(term=f"错词{m}", replacement="对", severity="hint"))
        db.session.flush()
        (folder / image.stored_name).write_bytes(PNG + m.encode())
        (folder / attachment.stored_name).write_bytes(
            b"%PDF-1.4\n% " + m.encode() + b"\n%%EOF\n"
        )
        live = Article(
            title=f"运动会{m}",
            body_html=f'<p>正文{m}</p><p><img src="/uploads/{image.stored_name}"></p>',
            author_name=f"体育组{m}",
            section=notices,
            status=Status.PUBLISHED,
            published_at=utcnow() - timedelta(days=1),
            created_by=users["author"],
            cover_id=image.id,
        )
        draft = Article(
            title=f"草稿{m}",
            body_html=f"<p>草稿正文{m}</p>",
            section=channel,
            status=Status.DRAFT,
            created_by=users["author"],
        )
        db.session.add_all([live, draft])
        db.session.flush()
        attachment.article_id = live.id
        image.article_id = live.id
        db.session.add(
            Revision(article_id=live.id, title=f"旧标题{m}", body_html=f"<p>旧{m}</p>")
        )
        db.session.add(
            LegacyUrl(
                path="/plus/view.php?aid=1",
                target_type="article",
                target_id=live.id,
                source=f"dedecms {name}",
            )
        )
        db.session.commit()
        school.ids = {
            "article_id": [live.id, draft.id],
            "upload_id": [attachment.id, image.id],
            "section_id": [channel.id, notices.id],
            "user_id": [u.id for u in users.values()],
            "department_id": [department.id],
            "group_id": [group.id],
            "rule_id": [
                db.session.scalar(
                    sa.select(WordRule.id).where(WordRule.term == f"错词{m}")
                )
            ],
            "revision_id": [
                db.session.scalar(
                    sa.select(Revision.id).where(Revision.article_id == live.id)
                )
            ],
            "slug": ["news", f"{name}-notices"],
            "stored_name": [image.stored_name, attachment.stored_name],
        }
    # Through the site itself: a post submitted for review (the ledger, the
    # queue, the outbox) and sign-ins (the audit log, sessions).
    author = client_for(app, school, "author")
    answer = author.post(
        "/editor/articles/new",
        data=form_data(
            school.ids["section_id"][1],
            title=f"待审{m}",
            body_html=f"<p>{m}</p>",
            action="submit",
        ),
    )
    assert answer.status_code == 302, answer.get_data(as_text=True)
    failed = app.test_client().post(
        "/login",
        data={"username": f"{name}_editor", "password": "wrong"},
        base_url=school.base_url,
    )
    assert failed.status_code == 200


class client_for:
    """A browser on one school's site, signed in as one of its roles."""

    def __init__(self, app, school: School, role: str):
        self.client = app.test_client()
        self.client.environ_base["HTTP_USER_AGENT"] = PHONE
        self.base_url = school.base_url
        if role != "anonymous":
            answer = self.post(
                "/login",
                data={
                    "username": f"{school.marker.lower()}_{role}",
                    "password": PASSWORD,
                },
            )
            assert answer.status_code == 302, (role, answer.get_data(as_text=True))

    def get(self, path, **kwargs):
        return self.client.get(path, base_url=self.base_url, **kwargs)

    def post(self, path, **kwargs):
        return self.client.post(path, base_url=self.base_url, **kwargs)


@pytest.fixture
def schools(app):
    with app.app_context():
        db.session.add(Site(id=2, name="乙校", host="yi.example.cn"))
        db.session.commit()
    # Site 1 answers any other host: the one a single school always had.
    first = School(1, "jia.example.cn", "JIAMARK")
    second = School(2, "yi.example.cn", "YIMARK")
    build_school(app, first)
    build_school(app, second)
    return first, second


def readable(response) -> str:
    """Everything a response carries, as text: zipped exports unpacked."""
    body = response.get_data()
    if body[:2] == b"PK":  # .xlsx, .docx
        with zipfile.ZipFile(io.BytesIO(body)) as archive:
            return "".join(
                archive.read(n).decode("utf-8", "replace") for n in archive.namelist()
            )
    return body.decode("utf-8", "replace")


def paths(app, schools) -> list[tuple[str, str]]:
    """(endpoint, path) for every GET route, with each school's values."""
    found = []
    for rule in app.url_map.iter_rules():
        if "GET" not in rule.methods or rule.endpoint in SKIPPED_ENDPOINTS:
            continue
        arguments = sorted(rule.arguments)
        if not arguments:
            found.append((rule.endpoint, rule.rule))
            continue
        for school in schools:
            choices = []
            for argument in arguments:
                if argument == "number":
                    choices.append([1])
                elif argument == "name":
                    choices.append(["backup.zip"])
                else:
                    choices.append(school.ids[argument])
            for values in itertools.product(*choices):
                path = app.url_map.bind("x").build(
                    rule.endpoint, dict(zip(arguments, values, strict=True))
                )
                found.append((rule.endpoint, path))
    # Searches reach every school's posts unless kept apart: words both
    # schools use (what a leak then shows carries the other's marker).
    for query in ("运动会", "正文", "待审", "草稿", "错词"):
        for endpoint, path in (
            ("search.results", "/search"),
            ("editor.dashboard", "/editor/"),
            ("wordlist.words", "/admin/words"),
        ):
            found.append((endpoint, f"{path}?q={query}"))
    return sorted(set(found))


@pytest.mark.parametrize(
    "direction",
    ["second sees nothing of the first", "first sees nothing of the second"],
)
def test_no_route_shows_another_schools_data(app, schools, direction):
    first, second = schools
    viewer, other = (
        (second, first) if direction.startswith("second") else (first, second)
    )
    routes = paths(app, schools)
    assert len(routes) > 80  # every route, with both schools' ids
    leaks = []
    for role in ROLES:
        browser = client_for(app, viewer, role)
        for endpoint, path in routes:
            response = browser.get(path)
            assert response.status_code < 500, (role, path)
            # A page may repeat the address asked for (its language links):
            # that is the viewer's own typing, not the other school's data.
            text = readable(response).replace(path, "")
            response.close()
            if other.marker in text or other.marker.lower() in text:
                leaks.append((role, endpoint, path))
            for stored_name in other.ids["stored_name"]:
                if stored_name in text:
                    leaks.append((role, endpoint, path, stored_name))
    assert leaks == []


def test_an_old_address_goes_to_the_post_of_its_own_school(app, schools):
    for school in schools:
        answer = client_for(app, school, "anonymous").get("/plus/view.php?aid=1")
        assert answer.status_code == 301
        assert answer.headers["Location"].endswith(
            f"/articles/{school.ids['article_id'][0]}"
        )


def test_each_school_checks_posts_against_its_own_word_list(app, schools):
    for school, other in (schools, schools[::-1]):
        editor = client_for(app, school, "editor")
        for _ in range(2):  # compiled, then from this process's cache
            answer = editor.post(
                "/editor/check",
                json={
                    "title": "通知",
                    "body_html": f"<p>错词{school.marker}与错词{other.marker}</p>",
                },
            )
            found = str(answer.get_json()["findings"])
            assert f"错词{school.marker}" in found
            assert f"错词{other.marker}" not in found
