"""Random sequences of review actions by random roles, through the real views.

A Hypothesis state machine plays six people of a school (two teachers, their
department head, a member of the level-2 review group, an editor, an admin)
who create, edit, move, submit, approve (on the current or on a stale page),
return, publish with and without the right, restore revisions, add and
remove attachments, trash and restore posts, while the admin switches the
bypass on and off. After every step it checks the promise of 先审后发:

- every text readers get (and every revision that was live) is explained by
  the ledger: a last approval, a bypass, or a publish where nothing is
  reviewed (what `flask check-ledger` checks);
- a text that went live by approval was approved at every level, on that
  very version, by people who neither wrote it nor changed it in that round;
- a bypass was made by an editor or admin while the site allowed it;
- a publish without review happened where neither the channel the post was
  in nor the one it moved to is reviewed.

Every run plays the same fixed sequences (so `make test` never flakes);
HYPOTHESIS_PROFILE=explore makes each run try new ones, for a deeper search.
"""

import io
import os
import secrets

import sqlalchemy as sa
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    precondition,
    rule,
)

from models import (
    Article,
    Department,
    ReviewEvent,
    ReviewGroup,
    Revision,
    Role,
    Section,
    Status,
    Upload,
    User,
    db,
    get_settings,
    set_setting,
)
from review import chain
from tests.conftest import FAST_HASH, PASSWORD

PEOPLE = ("teacher", "teacher2", "head", "office", "editor", "admin")
BODIES = (
    "<p>运动会将于下周举行。</p>",
    "<p>请家长签字后交回。</p><table><tr><td>班级</td><td>人数</td></tr></table>",
    '<figure><img src="/uploads/photo.jpg" alt="合影"></figure>',
    "<p>改过的正文</p>",
    "<p> </p>",  # empty: refused for submit and publish
)
TITLES = ("运动会通知", "开学典礼", "重大新闻")
CHANNELS = ("news", "notices", "open")  # 2 levels (the site's), 1, 0
ACTIONS = ("save", "submit", "publish", "unpublish")
PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"

settings.register_profile(
    "fixed", max_examples=50, stateful_step_count=40, derandomize=True
)
settings.register_profile("explore", max_examples=200, stateful_step_count=40)
PROFILE = os.environ.get("HYPOTHESIS_PROFILE", "fixed")


def _seed_school() -> dict[str, int]:
    department = Department(name="教务处")
    db.session.add(department)
    users = {}
    for name in PEOPLE:
        role = {"editor": Role.EDITOR, "admin": Role.ADMIN}.get(name, Role.AUTHOR)
        users[name] = User(
            username=f"p_{name}",
            display_name=f"{name}老师",
            role=role,
            password_hash=FAST_HASH,
            session_token=secrets.token_hex(8),
            department=department if name.startswith(("teacher", "head")) else None,
        )
    db.session.add_all(users.values())
    db.session.flush()
    department.heads.append(users["head"])
    group = ReviewGroup(name="宣传办", members=[users["office"]])
    sections = {
        "news": Section(name="新闻", slug="news"),
        "notices": Section(name="通知", slug="notices", review_levels=1),
        "open": Section(name="随笔", slug="open", review_levels=0),
    }
    db.session.add(group)
    db.session.add_all(sections.values())
    db.session.flush()
    set_setting("review_levels", "2")
    set_setting("review_group_2", str(group.id))
    set_setting("review_bypass", "0")
    db.session.commit()
    return {name: section.id for name, section in sections.items()}


class ReviewChain(RuleBasedStateMachine):
    """One school; each example adds its own posts to the same database."""

    app = None  # set by the test
    steps = 0  # requests made, over all examples
    sections: dict[str, int] = {}

    def __init__(self):
        super().__init__()
        self.clients = {}
        self.posts: list[int] = []
        # Shadow state: who changed each post's text since it was last live.
        self.changed_by: dict[int, set[int]] = {}
        self.stale: dict[int, str] = {}  # a version a reviewer's page showed
        self.bypass_on = False
        self.section_before: dict[int, int] = {}
        # The version each reviewer's decision form carried, this step.
        self.sent: dict[tuple[int, int], str] = {}
        self.last_event = 0

    @initialize()
    def log_everyone_in(self):
        for name in PEOPLE:
            client = self.app.test_client()
            response = client.post(
                "/login", data={"username": f"p_{name}", "password": PASSWORD}
            )
            assert response.status_code == 302
            self.clients[name] = client
        with self.app.app_context():
            set_setting("review_bypass", "0")
            db.session.commit()
            self.user_ids = {
                name: db.session.scalar(
                    sa.select(User.id).where(User.username == f"p_{name}")
                )
                for name in PEOPLE
            }
            self.last_event = (
                db.session.scalar(sa.select(sa.func.max(ReviewEvent.id))) or 0
            )

    # --- helpers ----------------------------------------------------------------

    def _state(self, article_id):
        with self.app.app_context():
            article = db.session.get(Article, article_id)
            return (
                chain.text_hash(article),
                chain.live_version(article).hash,
                article.status,
                article.version,
                article.section_id,
            )

    def _act(self, who, article_id, request):
        """Run one request as `who`; note them if the text under review changed."""
        before = self._state(article_id) if article_id else None
        if before and before[2] == Status.PUBLISHED:
            # A live post keeps its old channel's review; a draft may move
            # freely (its text was never online there).
            self.section_before[article_id] = before[4]
        elif before:
            self.section_before.pop(article_id, None)
        response = request(self.clients[who])
        ReviewChain.steps += 1
        assert response.status_code < 500, response.get_data(as_text=True)[:2000]
        if article_id and before[0] != self._state(article_id)[0]:
            self.changed_by.setdefault(article_id, set()).add(self.user_ids[who])
        return response

    def _form(self, article_id, channel, title, body, action, reason):
        data = {
            "title": title,
            "section_id": str(self.sections[channel]),
            "author_name": "教务处",
            "source": "",
            "summary": "",
            "body_html": body,
            "published_at": "",
            "action": action,
        }
        if reason:
            data["bypass_reason"] = "紧急通知"
        if article_id:
            data["version"] = str(self._state(article_id)[3])
        return data

    # --- rules ------------------------------------------------------------------

    @rule(
        who=st.sampled_from(PEOPLE),
        channel=st.sampled_from(CHANNELS),
        title=st.sampled_from(TITLES),
        body=st.sampled_from(BODIES),
        action=st.sampled_from(("save", "submit", "publish")),
        reason=st.booleans(),
    )
    def create(self, who, channel, title, body, action, reason):
        data = self._form(None, channel, title, body, action, reason)
        response = self._act(
            who, None, lambda c: c.post("/editor/articles/new", data=data)
        )
        if response.status_code != 302:
            return
        article_id = int(response.headers["Location"].split("/")[-2])
        self.posts.append(article_id)
        self.changed_by[article_id] = {self.user_ids[who]}

    @precondition(lambda self: self.posts)
    @rule(
        data=st.data(),
        who=st.sampled_from(PEOPLE),
        channel=st.sampled_from(CHANNELS),
        title=st.sampled_from(TITLES),
        body=st.sampled_from(BODIES),
        action=st.sampled_from(ACTIONS),
        reason=st.booleans(),
    )
    def edit(self, data, who, channel, title, body, action, reason):
        article_id = data.draw(st.sampled_from(self.posts))
        form = self._form(article_id, channel, title, body, action, reason)
        self._act(
            who,
            article_id,
            lambda c: c.post(f"/editor/articles/{article_id}/edit", data=form),
        )

    def _reviewer(self, data, article_id, who, pick_reviewer):
        """Often someone the chain names, or someone who changed the text
        (the attacker): else few decisions would happen."""
        if not pick_reviewer:
            return who
        with self.app.app_context():
            article = db.session.get(Article, article_id)
            level = max(article.review_level, 1)
            ids = chain.reviewer_ids(article, level)
        ids |= self.changed_by.get(article_id, set())
        names = sorted(n for n, i in self.user_ids.items() if i in ids)
        return data.draw(st.sampled_from(names)) if names else who

    @precondition(lambda self: self.posts)
    @rule(
        data=st.data(),
        who=st.sampled_from(PEOPLE),
        stale=st.booleans(),
        pick_reviewer=st.booleans(),
    )
    def look_then_approve(self, data, who, stale, pick_reviewer):
        article_id = data.draw(st.sampled_from(self.posts))
        who = self._reviewer(data, article_id, who, pick_reviewer)
        client = self.clients[who]
        client.get(f"/editor/review/{article_id}")
        current = self._state(article_id)[0]
        version = self.stale.get(article_id, current) if stale else current
        self.stale[article_id] = current
        self._approve(who, article_id, version)

    def _approve(self, who, article_id, version):
        self.sent[(article_id, self.user_ids[who])] = version
        self._act(
            who,
            article_id,
            lambda c: c.post(
                f"/editor/review/{article_id}/approve",
                data={
                    "version": version,
                    "compliance_confirm": "1",
                    "compliance_reason": "家长同意",
                },
            ),
        )

    def _rewrite(self, who, article_id, body):
        """Save a new body into the post, in the channel it is in."""
        channel = next(
            name
            for name, id_ in self.sections.items()
            if id_ == self._state(article_id)[4]
        )
        form = self._form(article_id, channel, TITLES[0], body, "save", False)
        self._act(
            who,
            article_id,
            lambda c: c.post(f"/editor/articles/{article_id}/edit", data=form),
        )

    # The two attacks of a hostile staff member, as single steps so that the
    # search meets them often; the invariants below judge them like any step.

    @precondition(lambda self: self.posts)
    @rule(data=st.data(), who=st.sampled_from(PEOPLE), body=st.sampled_from(BODIES))
    def rewrite_then_approve(self, data, who, body):
        """Change the text under review, then pass it oneself."""
        article_id = data.draw(st.sampled_from(self.posts))
        self._rewrite(who, article_id, body)
        self._approve(who, article_id, self._state(article_id)[0])

    @precondition(lambda self: self.posts)
    @rule(data=st.data(), body=st.sampled_from(BODIES), by_author=st.booleans())
    def approve_a_page_changed_meanwhile(self, data, body, by_author):
        """A reviewer opens the page; the author (or an editor) changes the
        text; the reviewer approves from the page already open."""
        with self.app.app_context():
            waiting = db.session.scalars(
                sa.select(Article.id).where(
                    Article.id.in_(self.posts), Article.review_level > 0
                )
            ).all()
            article_id = data.draw(st.sampled_from(waiting or self.posts))
            article = db.session.get(Article, article_id)
            ids = chain.reviewer_ids(article, max(article.review_level, 1))
            author = article.created_by_id
        names = {i: n for n, i in self.user_ids.items()}
        if by_author:
            changer = names[author]
        else:
            changer = data.draw(st.sampled_from(("editor", "admin")))
        who = data.draw(
            st.sampled_from(sorted(names[i] for i in ids if i in names) or [changer])
        )
        self.clients[who].get(f"/editor/review/{article_id}")
        shown = self._state(article_id)[0]
        self._rewrite(changer, article_id, body)
        self._approve(who, article_id, shown)

    @precondition(lambda self: self.posts)
    @rule(
        data=st.data(),
        who=st.sampled_from(PEOPLE),
        stale=st.booleans(),
        pick_reviewer=st.booleans(),
    )
    def return_post(self, data, who, stale, pick_reviewer):
        article_id = data.draw(st.sampled_from(self.posts))
        who = self._reviewer(data, article_id, who, pick_reviewer)
        current = self._state(article_id)[0]
        version = self.stale.get(article_id, current) if stale else current
        self.sent[(article_id, self.user_ids[who])] = version
        self._act(
            who,
            article_id,
            lambda c: c.post(
                f"/editor/review/{article_id}/return",
                data={"version": version, "reason": "请补充照片说明"},
            ),
        )

    @precondition(lambda self: self.posts)
    @rule(data=st.data(), who=st.sampled_from(PEOPLE))
    def restore_revision(self, data, who):
        article_id = data.draw(st.sampled_from(self.posts))
        with self.app.app_context():
            ids = db.session.scalars(
                sa.select(Revision.id).where(Revision.article_id == article_id)
            ).all()
        if not ids:
            return
        revision_id = data.draw(st.sampled_from(ids))
        self._act(
            who,
            article_id,
            lambda c: c.post(
                f"/editor/articles/{article_id}/revisions/{revision_id}/restore"
            ),
        )

    @precondition(lambda self: self.posts)
    @rule(data=st.data(), who=st.sampled_from(PEOPLE))
    def attach(self, data, who):
        article_id = data.draw(st.sampled_from(self.posts))
        self._act(
            who,
            article_id,
            lambda c: c.post(
                "/editor/uploads/attachment",
                data={
                    "article_id": str(article_id),
                    "file": (io.BytesIO(PDF), "报名表.pdf"),
                },
                content_type="multipart/form-data",
            ),
        )

    @precondition(lambda self: self.posts)
    @rule(data=st.data(), who=st.sampled_from(PEOPLE))
    def detach(self, data, who):
        article_id = data.draw(st.sampled_from(self.posts))
        with self.app.app_context():
            ids = db.session.scalars(
                sa.select(Upload.id).where(Upload.article_id == article_id)
            ).all()
        if not ids:
            return
        upload_id = data.draw(st.sampled_from(ids))
        self._act(
            who,
            article_id,
            lambda c: c.post(f"/editor/uploads/{upload_id}/delete"),
        )

    @precondition(lambda self: self.posts)
    @rule(data=st.data(), who=st.sampled_from(PEOPLE), back=st.booleans())
    def trash_or_restore(self, data, who, back):
        article_id = data.draw(st.sampled_from(self.posts))
        verb = "restore" if back else "delete"
        self._act(
            who,
            article_id,
            lambda c: c.post(f"/editor/articles/{article_id}/{verb}"),
        )

    @rule(on=st.booleans())
    def admin_sets_bypass(self, on):
        with self.app.app_context():
            set_setting("review_bypass", "1" if on else "0")
            db.session.commit()
        self.bypass_on = on

    # --- the promise --------------------------------------------------------------

    @invariant()
    def ledger_explains_every_live_text(self):
        if self.app is None or not self.clients:
            return
        with self.app.app_context():
            assert chain.unexplained_texts() == []
            events = db.session.scalars(
                sa.select(ReviewEvent)
                .where(ReviewEvent.id > self.last_event)
                .order_by(ReviewEvent.id)
            ).all()
            for event in events:
                if event.decision in (chain.Decision.APPROVE, chain.Decision.RETURN):
                    self._check_decision(event)
                if event.final:
                    self._check_final(event)
            self.sent.clear()
            if events:
                self.last_event = events[-1].id

    def _check_decision(self, event: ReviewEvent) -> None:
        """A decision is on the version the reviewer's page showed, by someone
        who neither wrote the post nor changed it in this round."""
        article = db.session.get(Article, event.article_id)
        assert event.version_hash == self.sent[(event.article_id, event.user_id)]
        if event.decision == chain.Decision.APPROVE:
            writers = self.changed_by.get(event.article_id, set())
            assert event.user_id not in writers, (event.user_name, writers)
            assert event.user_id != article.created_by_id

    def _check_final(self, event: ReviewEvent) -> None:
        article = db.session.get(Article, event.article_id)
        writers = self.changed_by.get(event.article_id, set())
        if event.decision == chain.Decision.APPROVE:
            round_ = db.session.scalars(
                sa.select(ReviewEvent)
                .where(
                    ReviewEvent.article_id == event.article_id,
                    ReviewEvent.id <= event.id,
                )
                .order_by(ReviewEvent.id.desc())
            ).all()
            approvals = []
            for earlier in round_:
                if earlier.decision == chain.Decision.SUBMIT:
                    break
                if earlier.decision == chain.Decision.APPROVE:
                    approvals.append(earlier)
            levels = {a.level for a in approvals}
            assert levels == set(range(1, event.level + 1)), approvals
            for approval in approvals:
                assert approval.version_hash == event.version_hash
                assert approval.user_id not in writers, (approval.user_name, writers)
                assert approval.user_id != article.created_by_id
        elif event.decision == chain.Decision.BYPASS:
            user = db.session.get(User, event.user_id)
            assert user.role in (Role.EDITOR, Role.ADMIN) and event.reason
            assert get_settings().get("review_bypass") == "1"
        elif event.decision == chain.Decision.PUBLISH:
            version = chain.saved_version(event.version_hash)
            sections = {
                version.section_id,
                article.section_id,
                self.section_before.get(article.id, article.section_id),
            }
            for section_id in sections:
                section = db.session.get(Section, section_id)
                assert chain.levels_for(section) == 0, (event.reason, section.name)
        # The text is live: the next round starts with nobody's changes.
        if event.decision != chain.Decision.REMOVE:
            self.changed_by[event.article_id] = set()


def test_random_review_sequences_keep_the_promise(app):
    with app.app_context():
        ReviewChain.sections = _seed_school()
    ReviewChain.app = app
    try:
        run = ReviewChain.TestCase
        run.settings = settings(
            settings.get_profile(PROFILE),
            deadline=None,
            database=None,
            suppress_health_check=[HealthCheck.too_slow],
        )
        run().runTest()
    finally:
        ReviewChain.app = None
    with app.app_context():
        events = db.session.scalar(sa.select(sa.func.count(ReviewEvent.id)))
        posts = db.session.scalar(sa.select(sa.func.count(Article.id)))
        published = db.session.scalar(
            sa.select(sa.func.count(Article.id)).where(
                Article.status == Status.PUBLISHED
            )
        )
    print(f"{ReviewChain.steps} requests, {posts} posts, {events} ledger lines")
    # The run did reach the states that matter, not only refusals.
    assert ReviewChain.steps > 300
    assert posts > 10 and published > 3 and events > 20, (posts, published, events)
