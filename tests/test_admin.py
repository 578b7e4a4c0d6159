"""Admin pages: users, sections, site settings and the audit log."""

import io
import re

import pytest
import sqlalchemy as sa
from PIL import Image

from models import (
    Article,
    AuditEvent,
    Department,
    ReviewGroup,
    Role,
    Section,
    Upload,
    User,
    WordRule,
    db,
    get_settings,
    set_setting,
    utcnow,
)
from tests.conftest import PASSWORD, _login


def get_user(app, username):
    with app.app_context():
        return db.session.scalar(sa.select(User).where(User.username == username))


def get_section(app, section_id):
    with app.app_context():
        return db.session.get(Section, section_id)


def audit_actions(app):
    with app.app_context():
        return db.session.scalars(sa.select(AuditEvent.action)).all()


def flashed(response):
    return re.findall(r'class="flash flash-(\w+)"[^>]*>([^<]*)<', response.text)


# --- users ---------------------------------------------------------------------


def new_user(**fields):
    data = {
        "username": "wang",
        "display_name": "王老师",
        "role": "author",
        "password": "First passw0rd",
    }
    data.update(fields)
    return data


def test_users_page_lists_every_account(admin_client):
    html = admin_client.get("/admin/users?lang=en").text
    for name in ("author", "editor", "admin", "Author 老师"):
        assert name in html
    assert "never" in html  # author and editor never logged in
    assert 'action="/admin/users"' in html


def test_admin_creates_user_who_can_log_in(app, admin_client):
    response = admin_client.post("/admin/users", data=new_user())
    assert response.status_code == 302
    user = get_user(app, "wang")
    assert (user.display_name, user.role, user.active) == ("王老师", "author", True)
    assert user.session_token
    assert "user_created" in audit_actions(app)
    other = app.test_client()
    response = other.post(
        "/login", data={"username": "wang", "password": "First passw0rd"}
    )
    assert response.status_code == 302


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"username": ""}, "This field is required."),
        ({"username": "wang laoshi"}, "cannot contain spaces"),
        ({"username": "x" * 65}, "Field cannot be longer than 64 characters."),
        ({"username": "Editor"}, "already taken"),
        ({"display_name": ""}, "This field is required."),
        ({"password": "short"}, "Use at least 8 characters."),
        ({"role": "superuser"}, "Not a valid choice."),
    ],
)
def test_create_user_refuses_bad_input(app, admin_client, fields, message):
    response = admin_client.post("/admin/users?lang=en", data=new_user(**fields))
    assert response.status_code == 200
    assert message in response.text
    with app.app_context():
        assert db.session.scalar(sa.select(sa.func.count(User.id))) == 3


def test_admin_changes_role_and_display_name(app, admin_client):
    author = get_user(app, "author")
    response = admin_client.post(
        f"/admin/users/{author.id}", data={"display_name": "李老师", "role": "editor"}
    )
    assert response.status_code == 302
    author = get_user(app, "author")
    assert (author.display_name, author.role) == ("李老师", "editor")
    assert {"role_changed", "user_updated"} <= set(audit_actions(app))


def test_admin_can_demote_another_admin(app, admin_client):
    admin_client.post("/admin/users", data=new_user(role="admin"))
    wang = get_user(app, "wang")
    admin_client.post(
        f"/admin/users/{wang.id}", data={"display_name": "王", "role": "author"}
    )
    assert get_user(app, "wang").role == "author"


def test_admin_cannot_demote_themself(app, admin_client):
    me = get_user(app, "admin")
    response = admin_client.post(
        f"/admin/users/{me.id}?lang=en",
        data={"display_name": "x", "role": "editor"},
        follow_redirects=True,
    )
    assert ("error", "You cannot remove your own administrator role.") in flashed(
        response
    )
    assert get_user(app, "admin").role == "admin"


def test_admin_cannot_deactivate_themself(app, admin_client):
    me = get_user(app, "admin")
    response = admin_client.post(
        f"/admin/users/{me.id}/deactivate?lang=en", follow_redirects=True
    )
    assert ("error", "You cannot deactivate your own account.") in flashed(response)
    assert get_user(app, "admin").active
    assert admin_client.get("/admin/users").status_code == 200


def test_site_always_keeps_an_active_admin(app, admin_client):
    # The only admin cannot leave through any of the account actions.
    me = get_user(app, "admin")
    admin_client.post(f"/admin/users/{me.id}/deactivate")
    admin_client.post(
        f"/admin/users/{me.id}", data={"display_name": "x", "role": "author"}
    )
    with app.app_context():
        active_admins = db.session.scalar(
            sa.select(sa.func.count(User.id)).where(
                User.role == Role.ADMIN, User.active.is_(True)
            )
        )
    assert active_admins == 1


def test_deactivation_ends_sessions_and_blocks_login(app, admin_client):
    teacher = _login(app.test_client(), "author")
    assert teacher.get("/editor/").status_code == 200
    author = get_user(app, "author")
    response = admin_client.post(f"/admin/users/{author.id}/deactivate")
    assert response.status_code == 302
    assert not get_user(app, "author").active
    assert teacher.get("/editor/").status_code == 302
    response = teacher.post("/login", data={"username": "author", "password": PASSWORD})
    assert response.status_code == 200
    assert "user_deactivated" in audit_actions(app)


def test_reactivated_user_can_log_in_again(app, admin_client):
    author = get_user(app, "author")
    admin_client.post(f"/admin/users/{author.id}/deactivate")
    admin_client.post(f"/admin/users/{author.id}/reactivate")
    assert get_user(app, "author").active
    _login(app.test_client(), "author")


def test_admin_sets_new_password_and_old_sessions_end(app, admin_client):
    teacher = _login(app.test_client(), "author")
    author = get_user(app, "author")
    response = admin_client.post(
        f"/admin/users/{author.id}/password",
        data={"new_password": "Reset by admin 7", "set_password": "y"},
    )
    assert response.status_code == 302
    assert get_user(app, "author").check_password("Reset by admin 7")
    assert teacher.get("/editor/").status_code == 302
    assert "password_reset" in audit_actions(app)


def test_generated_password_is_shown_once_and_works(app, admin_client):
    author = get_user(app, "author")
    response = admin_client.post(
        f"/admin/users/{author.id}/password?lang=en",
        data={"generate": "y"},
        follow_redirects=True,
    )
    secret = [m for c, m in flashed(response) if c == "secret"]
    password = re.search(r"New password for author: (\S+) ", secret[0]).group(1)
    assert get_user(app, "author").check_password(password)
    again = admin_client.get(f"/admin/users/{author.id}").text
    assert password not in again


def test_reset_without_password_or_generate_is_refused(app, admin_client):
    author = get_user(app, "author")
    response = admin_client.post(
        f"/admin/users/{author.id}/password?lang=en",
        data={"new_password": "", "set_password": "y"},
    )
    assert response.status_code == 200
    assert "Type a new password, or generate one instead." in response.text
    assert get_user(app, "author").check_password(PASSWORD)


def test_reset_with_short_password_is_refused(app, admin_client):
    author = get_user(app, "author")
    response = admin_client.post(
        f"/admin/users/{author.id}/password?lang=en",
        data={"new_password": "short", "set_password": "y"},
    )
    assert "Use at least 8 characters." in response.text
    assert get_user(app, "author").check_password(PASSWORD)


def test_admin_resetting_own_password_stays_logged_in(app, admin_client):
    me = get_user(app, "admin")
    admin_client.post(
        f"/admin/users/{me.id}/password",
        data={"new_password": "My new admin pw 7", "set_password": "y"},
    )
    assert admin_client.get("/admin/users").status_code == 200


def test_unknown_user_is_404(admin_client):
    assert admin_client.get("/admin/users/999").status_code == 404
    assert admin_client.post("/admin/users/999/deactivate").status_code == 404


# --- sections ------------------------------------------------------------------


def section_data(**fields):
    data = {"name": "新闻中心", "slug": "news", "parent_id": "0", "position": ""}
    data.update(fields)
    return data


def all_sections(app):
    with app.app_context():
        rows = db.session.scalars(
            sa.select(Section).order_by(
                Section.parent_id.nulls_first(), Section.position
            )
        )
        return [(s.slug, s.parent_id, s.position) for s in rows]


def test_sections_page_shows_the_tree(admin_client, make_section, make_article):
    channel = make_section(name="教学科研", slug="teaching")
    make_section(name="教研动态", slug="research", parent_id=channel)
    html = admin_client.get("/admin/sections?lang=en").text
    assert html.index("教学科研") < html.index("教研动态")
    assert "/sections/research" in html
    assert 'class="a-tree-children"' in html


def test_admin_creates_channel_and_sub_section_at_the_end(app, admin_client):
    admin_client.post("/admin/sections", data=section_data())
    admin_client.post("/admin/sections", data=section_data(name="公告", slug="notices"))
    news = db_id(app, "news")
    response = admin_client.post(
        "/admin/sections",
        data=section_data(name="校园新闻", slug="campus", parent_id=str(news)),
    )
    assert response.status_code == 302
    assert all_sections(app) == [
        ("news", None, 0),
        ("notices", None, 1),
        ("campus", news, 0),
    ]
    assert "section_created" in audit_actions(app)


def db_id(app, slug):
    with app.app_context():
        return db.session.scalar(sa.select(Section.id).where(Section.slug == slug))


def test_slug_is_lowercased(app, admin_client):
    admin_client.post("/admin/sections", data=section_data(slug="  School-News "))
    assert db_id(app, "school-news")


@pytest.mark.parametrize(
    "slug",
    ["新闻", "a b", "a_b", "a--b", "-news", "news-", "new/s", "", "a" * 61, "né"],
)
def test_bad_slugs_are_refused(app, admin_client, slug):
    response = admin_client.post(
        "/admin/sections?lang=en", data=section_data(slug=slug)
    )
    assert response.status_code == 200
    assert 'class="a-error"' in response.text
    assert all_sections(app) == []


def test_duplicate_slug_is_refused(app, admin_client, make_section):
    make_section(slug="news")
    response = admin_client.post("/admin/sections?lang=en", data=section_data())
    assert "Another section already uses this address." in response.text
    assert len(all_sections(app)) == 1


def test_sub_section_cannot_be_a_parent(app, admin_client, make_section):
    channel = make_section(slug="a")
    child = make_section(slug="b", parent_id=channel)
    response = admin_client.post(
        "/admin/sections?lang=en", data=section_data(parent_id=str(child))
    )
    assert response.status_code == 200
    assert db_id(app, "news") is None


def test_admin_renames_and_changes_slug(app, admin_client, make_section):
    sid = make_section(name="旧名", slug="old")
    response = admin_client.post(
        f"/admin/sections/{sid}",
        data=section_data(name="新名", slug="new-name", position="3"),
    )
    assert response.status_code == 302
    section = get_section(app, sid)
    assert (section.name, section.slug, section.position) == ("新名", "new-name", 3)


def test_editing_keeps_own_slug_allowed(app, admin_client, make_section):
    sid = make_section(name="a", slug="same")
    response = admin_client.post(
        f"/admin/sections/{sid}", data=section_data(name="b", slug="same")
    )
    assert response.status_code == 302
    assert get_section(app, sid).name == "b"


def test_admin_moves_sub_section_to_another_channel(app, admin_client, make_section):
    one = make_section(slug="one")
    two = make_section(slug="two")
    make_section(slug="two-a", parent_id=two)
    child = make_section(slug="child", parent_id=one)
    admin_client.post(
        f"/admin/sections/{child}",
        data=section_data(name="c", slug="child", parent_id=str(two), position="0"),
    )
    moved = get_section(app, child)
    assert moved.parent_id == two
    assert moved.position == 1  # placed after two-a


def test_section_cannot_move_under_itself(app, admin_client, make_section):
    sid = make_section(slug="self")
    response = admin_client.post(
        f"/admin/sections/{sid}", data=section_data(slug="self", parent_id=str(sid))
    )
    assert response.status_code == 200
    assert get_section(app, sid).parent_id is None


def test_channel_with_children_cannot_become_sub_section(
    app, admin_client, make_section
):
    one = make_section(slug="one")
    two = make_section(slug="two")
    make_section(slug="two-a", parent_id=two)
    response = admin_client.post(
        f"/admin/sections/{two}?lang=en",
        data=section_data(slug="two", parent_id=str(one)),
    )
    assert "has sub-sections" in response.text
    assert get_section(app, two).parent_id is None


def test_sub_section_cannot_go_under_a_sub_section(app, admin_client, make_section):
    one = make_section(slug="one")
    child = make_section(slug="child", parent_id=one)
    other = make_section(slug="other", parent_id=one)
    response = admin_client.post(
        f"/admin/sections/{other}",
        data=section_data(slug="other", parent_id=str(child)),
    )
    assert response.status_code == 200
    assert get_section(app, other).parent_id == one


def test_move_buttons_reorder_siblings(app, admin_client, make_section):
    # Equal positions (all 0) still reorder: the move renumbers the siblings.
    a, b, c = (make_section(slug=s) for s in "abc")
    admin_client.post(f"/admin/sections/{c}/move", data={"direction": "up"})
    assert [s for s, _p, _n in all_sections(app)] == ["a", "c", "b"]
    admin_client.post(f"/admin/sections/{a}/move", data={"direction": "down"})
    assert [s for s, _p, _n in all_sections(app)] == ["c", "a", "b"]
    admin_client.post(f"/admin/sections/{c}/move", data={"direction": "up"})  # first
    assert [s for s, _p, _n in all_sections(app)] == ["c", "a", "b"]


def test_move_with_unknown_direction_changes_nothing(app, admin_client, make_section):
    a = make_section(slug="a", position=5)
    response = admin_client.post(f"/admin/sections/{a}/move", data={"direction": "x"})
    assert response.status_code == 302
    assert get_section(app, a).position == 5


def test_empty_section_is_deleted(app, admin_client, make_section):
    sid = make_section(slug="empty")
    response = admin_client.post(
        f"/admin/sections/{sid}/delete", data={"target_id": "0"}
    )
    assert response.status_code == 302
    assert get_section(app, sid) is None
    assert "section_deleted" in audit_actions(app)


@pytest.mark.parametrize(
    "case, message",
    [
        # A post in the trash still needs a section to move to.
        ("trashed post, no target", "Choose a section to move them to"),
        ("channel with sub-sections", "has sub-sections"),
    ],
)
def test_section_deletion_is_refused_with_a_reason(
    app, admin_client, make_section, make_article, case, message
):
    sid = make_section(slug="doomed")
    target = make_section(slug="other")
    if case == "trashed post, no target":
        make_article(section_id=sid, deleted_at=utcnow())
        target = 0
    else:
        make_section(slug="kid", parent_id=sid)
    response = admin_client.post(
        f"/admin/sections/{sid}/delete?lang=en",
        data={"target_id": str(target)},
        follow_redirects=True,
    )
    assert any(message in m for _c, m in flashed(response))
    assert get_section(app, sid) is not None


def test_delete_moves_all_posts_to_target_first(
    app, admin_client, make_section, make_article
):
    old = make_section(slug="old")
    target = make_section(slug="target")
    ids = [
        make_article(section_id=old),
        make_article(section_id=old, deleted_at=utcnow()),
        make_article(section_id=old, status="draft", published_at=None),
    ]
    response = admin_client.post(
        f"/admin/sections/{old}/delete", data={"target_id": str(target)}
    )
    assert response.status_code == 302
    assert get_section(app, old) is None
    with app.app_context():
        sections = {db.session.get(Article, i).section_id for i in ids}
    assert sections == {target}


def test_delete_target_cannot_be_the_section_itself(
    app, admin_client, make_section, make_article
):
    sid = make_section(slug="full")
    make_article(section_id=sid)
    response = admin_client.post(
        f"/admin/sections/{sid}/delete", data={"target_id": str(sid)}
    )
    assert response.status_code == 200
    assert get_section(app, sid) is not None


def test_section_edit_page_offers_move_posts_select(
    admin_client, make_section, make_article
):
    sid = make_section(slug="full")
    make_section(name="别处", slug="elsewhere")
    make_article(section_id=sid)
    html = admin_client.get(f"/admin/sections/{sid}?lang=en").text
    assert 'name="target_id"' in html
    assert "别处" in html


# --- settings ------------------------------------------------------------------


def settings_data(**fields):
    data = {
        "school_name": "实验中学",
        "phone": "010-12345678",
        "address": "北京市海淀区",
        "footer_text": "欢迎访问",
        "icp_number": "京ICP备12345678号",
    }
    data.update(fields)
    return data


def stored_settings(app):
    with app.app_context():
        return get_settings()


def png_bytes(size=(40, 30)):
    buffer = io.BytesIO()
    Image.new("RGB", size, (200, 30, 30)).save(buffer, "PNG")
    return buffer.getvalue()


def test_settings_page_shows_current_values(admin_client):
    html = admin_client.get("/admin/settings").text
    assert 'value="SchoolNews"' in html
    assert 'enctype="multipart/form-data"' in html
    # The review chain has its own page now: the settings page links to it.
    assert "authors_can_publish" not in html
    assert 'href="/admin/review"' in html


def test_admin_saves_settings(app, admin_client):
    response = admin_client.post("/admin/settings", data=settings_data())
    assert response.status_code == 302
    values = stored_settings(app)
    assert values["school_name"] == "实验中学"
    assert values["icp_number"] == "京ICP备12345678号"
    assert "authors_can_publish" not in values
    assert "实验中学" in admin_client.get("/").text
    assert "settings_changed" in audit_actions(app)


def test_saving_settings_leaves_the_review_chain_alone(app, admin_client):
    with app.app_context():
        set_setting("review_levels", "3")
        db.session.commit()
    admin_client.post("/admin/settings", data=settings_data())
    assert stored_settings(app)["review_levels"] == "3"


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"school_name": "  "}, "This field is required."),
        ({"icp_number": "x" * 51}, "Field cannot be longer than 50 characters."),
        ({"footer_text": "x" * 1001}, "Field cannot be longer than 1000"),
    ],
)
def test_bad_settings_are_refused(app, admin_client, fields, message):
    response = admin_client.post(
        "/admin/settings?lang=en", data=settings_data(**fields)
    )
    assert response.status_code == 200
    assert message in response.text
    assert stored_settings(app)["school_name"] == "SchoolNews"


def test_logo_upload_stores_image_and_sets_logo(app, admin_client):
    response = admin_client.post(
        "/admin/settings",
        data=settings_data(logo=(io.BytesIO(png_bytes()), "校徽.png")),
        content_type="multipart/form-data",
    )
    assert response.status_code == 302
    logo_id = stored_settings(app)["logo_id"]
    with app.app_context():
        upload = db.session.get(Upload, int(logo_id))
        assert upload.kind == "image"
        path = f"{app.config['UPLOAD_FOLDER']}/{upload.stored_name}"
    with Image.open(path) as image:
        assert image.size == (40, 30)


def test_non_image_logo_is_refused_with_message(app, admin_client):
    response = admin_client.post(
        "/admin/settings?lang=en",
        data=settings_data(logo=(io.BytesIO(b"<svg onload=alert(1)>"), "logo.svg")),
        content_type="multipart/form-data",
    )
    assert response.status_code == 200
    assert 'class="a-error"' in response.text
    assert stored_settings(app)["logo_id"] == ""
    assert stored_settings(app)["school_name"] == "SchoolNews"


def test_remove_logo_clears_setting(app, admin_client):
    admin_client.post(
        "/admin/settings",
        data=settings_data(logo=(io.BytesIO(png_bytes()), "logo.png")),
        content_type="multipart/form-data",
    )
    logo_id = int(stored_settings(app)["logo_id"])
    admin_client.post("/admin/settings", data=settings_data(remove_logo="y"))
    assert stored_settings(app)["logo_id"] == ""
    with app.app_context():
        assert db.session.get(Upload, logo_id) is None


def test_replacing_logo_deletes_the_old_file(app, admin_client, tmp_path):
    for _ in range(2):
        admin_client.post(
            "/admin/settings",
            data=settings_data(logo=(io.BytesIO(png_bytes()), "logo.png")),
            content_type="multipart/form-data",
        )
    with app.app_context():
        uploads = db.session.scalars(sa.select(Upload)).all()
        assert [str(u.id) for u in uploads] == [stored_settings(app)["logo_id"]]
    assert len([p for p in (tmp_path / "uploads").iterdir() if p.is_file()]) == 1
    # Only the current logo's thumbnails and icons are left.
    stem = uploads[0].stored_name.partition(".")[0]
    assert {
        p.name.partition("-")[0] for p in (tmp_path / "uploads/thumbs").iterdir()
    } == {stem}


# --- audit log -----------------------------------------------------------------


def test_audit_log_lists_recent_actions_newest_first(admin_client):
    admin_client.post("/admin/users", data=new_user())
    admin_client.post("/admin/sections", data=section_data())
    html = admin_client.get("/admin/audit?lang=en").text
    assert html.index("新闻中心 (news)") < html.index("wang (author)")


def test_audit_log_pages_from_newer_to_older(app, admin_client):
    with app.app_context():
        db.session.add_all(
            AuditEvent(action="user_created", target=f"u{n}") for n in range(120)
        )
        db.session.commit()
    first = admin_client.get("/admin/audit?lang=en").text
    assert 'rel="next" href="/admin/audit?page=2">Older</a>' in first
    assert 'rel="prev"' not in first
    second = admin_client.get("/admin/audit?page=2&lang=en").text
    assert 'rel="prev" href="/admin/audit?page=1">Newer</a>' in second


def test_audit_log_page_out_of_range_is_404(admin_client):
    assert admin_client.get("/admin/audit?page=9").status_code == 404


# --- CSRF ----------------------------------------------------------------------


@pytest.mark.csrf
def test_admin_posts_without_csrf_token_are_refused(app, client, make_section):
    page = client.get("/login").text
    token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page)[1]
    client.post(
        "/login",
        data={"username": "admin", "password": PASSWORD, "csrf_token": token},
    )
    assert client.get("/admin/users").status_code == 200
    sid = make_section(slug="keep")
    author = get_user(app, "author")
    with app.app_context():
        department = Department(name="教务处")
        db.session.add(department)
        db.session.commit()
        did = department.id
        word = WordRule(term="按装", replacement="安装")
        db.session.add(word)
        group = ReviewGroup(name="宣传办")
        db.session.add(group)
        db.session.commit()
        word_id = word.id
        gid = group.id
    before = (all_sections(app), stored_settings(app), get_user(app, "author"))
    posts = [
        ("/admin/users", new_user()),
        (f"/admin/users/{author.id}", {"display_name": "x", "role": "admin"}),
        (f"/admin/users/{author.id}/password", {"generate": "y"}),
        (f"/admin/users/{author.id}/deactivate", {}),
        (f"/admin/users/{author.id}/reactivate", {}),
        (f"/admin/users/{author.id}/sessions/end", {}),
        ("/admin/sections", section_data()),
        (f"/admin/sections/{sid}", section_data(slug="changed")),
        (f"/admin/sections/{sid}/move", {"direction": "down"}),
        (f"/admin/sections/{sid}/delete", {"target_id": "0"}),
        ("/admin/settings", settings_data()),
        ("/admin/backups", {}),
        ("/admin/setup", {"new_password": "x" * 10, "confirm": "x" * 10}),
        ("/admin/demo/clear", {}),
        ("/admin/departments", {"name": "德育处"}),
        (f"/admin/departments/{did}", {f"d{did}-name": "改名"}),
        (f"/admin/departments/{did}/delete", {}),
        ("/admin/words", {"term": "再接再励", "severity": "hint"}),
        (f"/admin/words/{word_id}", {"term": "改", "severity": "block"}),
        (f"/admin/words/{word_id}/delete", {}),
        ("/admin/review", {"levels": "3", "group_2": "0", "group_3": "0"}),
        ("/admin/review/channels", {f"channel-{sid}": "2"}),
        ("/admin/review/groups", {"name": "校领导"}),
        (f"/admin/review/groups/{gid}", {"name": "改名"}),
        (f"/admin/review/groups/{gid}/members", {"people": str(author.id)}),
        (f"/admin/review/groups/{gid}/delete", {}),
        (f"/admin/departments/{did}/heads", {"people": str(author.id)}),
        ("/admin/notifications/test", {"target": "all"}),
        (f"/admin/users/{author.id}/duties", {"duty": "audit", "on": "1"}),
        ("/admin/duties/single", {"on": "0"}),
        ("/admin/users/dormant/deactivate", {}),
        ("/admin/audit/verify", {}),
        ("/admin/security", {"password_min_length": "12"}),
        ("/admin/security/unlock", {"username": "author"}),
        ("/admin/sites", {"name": "新校", "host": "x.example", "admin_username": "x"}),
        ("/admin/sites/1/disable", {}),
        ("/admin/sites/members", {"username": "author", "site_id": "1"}),
        (f"/admin/security/users/{author.id}/totp/reset", {}),
    ]
    admin_posts = {
        rule.rule.replace("<int:user_id>", str(author.id))
        .replace("<int:section_id>", str(sid))
        .replace("<int:department_id>", str(did))
        .replace("<int:rule_id>", str(word_id))
        .replace("<int:group_id>", str(gid))
        .replace("<int:site_id>/<any(disable, enable):change>", "1/disable")
        for rule in app.url_map.iter_rules()
        if rule.rule.startswith("/admin/") and "POST" in rule.methods
    }
    assert admin_posts == {url for url, _data in posts}  # a new form? list it here
    for url, data in posts:
        assert client.post(url, data=data).status_code == 400, url
    after = (all_sections(app), stored_settings(app), get_user(app, "author"))
    assert before[0] == after[0] and before[1] == after[1]
    assert before[2].password_hash == after[2].password_hash
    assert before[2].session_token == after[2].session_token
    assert (before[2].role, before[2].active) == (after[2].role, after[2].active)
    assert get_user(app, "wang") is None
    assert set(audit_actions(app)) <= {"login"}
    with app.app_context():
        words = db.session.execute(sa.select(WordRule.term, WordRule.severity)).all()
        assert [tuple(w) for w in words] == [("按装", "hint")]
        group = db.session.get(ReviewGroup, gid)
        assert (group.name, group.members) == ("宣传办", [])
        assert db.session.get(Department, did).heads == []


# --- the footer ----------------------------------------------------------------


def footer(response):
    return response.text.split('class="site-footer"')[1]


def test_footer_offers_the_workspace_to_staff_and_login_to_readers(app, client):
    reader = app.test_client()
    first = footer(reader.get("/"))  # rendered and kept by the page cache
    assert 'href="/login"' in first and "Admin 老师" not in first
    staff = _login(client, "admin")
    mine = footer(staff.get("/"))
    assert 'href="/editor/"' in mine and "Admin 老师" in mine
    assert 'href="/login"' not in mine
    # A logged-in page is never kept for readers, nor the readers' page
    # served to staff.
    again = footer(reader.get("/"))
    assert 'href="/login"' in again and "Admin 老师" not in again
    assert "Admin 老师" in footer(staff.get("/"))
