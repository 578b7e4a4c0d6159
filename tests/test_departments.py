"""Departments (部门): admins list, add, rename and delete them; users join one."""

import re

import pytest
import sqlalchemy as sa

from models import AuditEvent, Department, User, db
from tests.conftest import PASSWORD

# Every test here ends with each live text explained by the review ledger.
pytestmark = pytest.mark.usefixtures("ledger_checked")


def departments(app):
    with app.app_context():
        rows = db.session.execute(
            sa.select(Department.name, Department.position).order_by(
                Department.position, Department.name
            )
        )
        return [tuple(row) for row in rows]


def add(app, name, position=0):
    with app.app_context():
        department = Department(name=name, position=position)
        db.session.add(department)
        db.session.commit()
        return department.id


def member_of(app, username):
    with app.app_context():
        user = db.session.scalar(sa.select(User).where(User.username == username))
        return user.department.name if user.department else None


def test_an_admin_adds_departments_in_order(app, admin_client):
    response = admin_client.post("/admin/departments", data={"name": " 教务处 "})
    assert response.status_code == 302
    admin_client.post("/admin/departments", data={"name": "德育处"})
    admin_client.post("/admin/departments", data={"name": "办公室", "position": "0"})
    assert departments(app) == [("办公室", 0), ("教务处", 0), ("德育处", 1)]
    page = admin_client.get("/admin/departments").get_data(as_text=True)
    assert "已创建部门 德育处。" in page
    listed = page[page.index('<ul class="a-departments">') :]
    assert listed.index("办公室") < listed.index("教务处") < listed.index("德育处")


@pytest.mark.parametrize(
    "data, message",
    [
        ({"name": ""}, "必填"),
        ({"name": "教务处"}, "已有同名的部门。"),
        ({"name": "长" * 51}, "50"),
        ({"name": "新部门", "position": "-1"}, "0"),
    ],
)
def test_invalid_departments_are_refused_with_a_message(
    app, admin_client, data, message
):
    add(app, "教务处")
    response = admin_client.post("/admin/departments", data=data)
    assert response.status_code == 400
    assert message in response.get_data(as_text=True)
    assert departments(app) == [("教务处", 0)]


def test_an_admin_renames_a_department(app, admin_client):
    did = add(app, "教务处")
    add(app, "德育处", 1)
    response = admin_client.post(
        f"/admin/departments/{did}",
        data={f"d{did}-name": "教务处（教研室）", f"d{did}-position": "5"},
        follow_redirects=True,
    )
    assert "已保存部门 教务处（教研室）。" in response.get_data(as_text=True)
    assert departments(app) == [("德育处", 1), ("教务处（教研室）", 5)]
    taken = admin_client.post(
        f"/admin/departments/{did}",
        data={f"d{did}-name": "德育处", f"d{did}-position": "5"},
        follow_redirects=True,
    )
    assert "已有同名的部门。" in taken.get_data(as_text=True)
    assert departments(app) == [("德育处", 1), ("教务处（教研室）", 5)]


def test_only_an_empty_department_can_be_deleted(app, admin_client):
    did = add(app, "教务处")
    author = member_of_id = None
    with app.app_context():
        author = db.session.scalar(sa.select(User).where(User.username == "author"))
        member_of_id = author.id
    admin_client.post(
        f"/admin/users/{member_of_id}",
        data={"display_name": "Author 老师", "role": "author", "department_id": did},
    )
    assert member_of(app, "author") == "教务处"
    refused = admin_client.post(
        f"/admin/departments/{did}/delete", follow_redirects=True
    )
    assert "教务处 还有 1 名成员" in refused.get_data(as_text=True)
    assert departments(app) == [("教务处", 0)]
    admin_client.post(
        f"/admin/users/{member_of_id}",
        data={"display_name": "Author 老师", "role": "author", "department_id": "0"},
    )
    assert member_of(app, "author") is None
    deleted = admin_client.post(
        f"/admin/departments/{did}/delete", follow_redirects=True
    )
    assert "已删除部门 教务处。" in deleted.get_data(as_text=True)
    assert departments(app) == []
    with app.app_context():
        actions = db.session.scalars(
            sa.select(AuditEvent.action).where(AuditEvent.action != "login")
        ).all()
    assert actions == [
        "department_assigned",
        "department_assigned",
        "department_deleted",
    ]


def test_the_user_page_offers_the_departments(app, admin_client):
    add(app, "教务处")
    add(app, "德育处", 1)
    with app.app_context():
        author_id = db.session.scalar(
            sa.select(User.id).where(User.username == "author")
        )
    page = admin_client.get(f"/admin/users/{author_id}").get_data(as_text=True)
    options = re.findall(r"<option[^>]*>([^<]*)</option>", page)
    assert options[-3:] == ["（无部门）", "教务处", "德育处"]
    bad = admin_client.post(
        f"/admin/users/{author_id}",
        data={"display_name": "Author 老师", "role": "author", "department_id": "999"},
    )
    assert bad.status_code == 200
    assert "不是有效的选择。" in bad.get_data(as_text=True)
    assert member_of(app, "author") is None


def test_the_users_list_shows_each_users_department(app, admin_client):
    did = add(app, "教务处")
    with app.app_context():
        author = db.session.scalar(sa.select(User).where(User.username == "author"))
        author.department_id = did
        db.session.commit()
    page = admin_client.get("/admin/users").get_data(as_text=True)
    assert '<td data-label="部门">教务处</td>' in page


@pytest.mark.csrf
def test_department_forms_need_the_csrf_token(app, client):
    page = client.get("/login").text
    token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page)[1]
    client.post(
        "/login", data={"username": "admin", "password": PASSWORD, "csrf_token": token}
    )
    did = add(app, "教务处")
    assert client.post("/admin/departments", data={"name": "x"}).status_code == 400
    assert client.post(f"/admin/departments/{did}/delete").status_code == 400
    assert departments(app) == [("教务处", 0)]
    page = client.get("/admin/departments").get_data(as_text=True)
    token = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', page)[1]
    response = client.post(
        f"/admin/departments/{did}/delete", data={"csrf_token": token}
    )
    assert response.status_code == 302 and departments(app) == []
