"""The compliance check's findings as the editor's and the reviewer's panels
show them, and a confirmed publication of personal data: the reason the
publisher gave, written to the audit log and the review ledger."""

from flask import request
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user

from core import audit
from models import Article
from review import chain, compliance

FINDING_KINDS = {
    compliance.ID_NUMBER: _l("ID number"),
    compliance.PHONE: _l("Mobile number"),
    compliance.BANK_CARD: _l("Bank card number"),
    compliance.WORD: _l("Wording"),
    compliance.LINK: _l("Broken link"),
    compliance.IMAGE_ALT: _l("Image without description"),
    compliance.UNREADABLE: _l("Attachment not checked"),
    compliance.PARTLY_READ: _l("Attachment partly checked"),
    compliance.MORE: _l("More findings"),
}
FINDING_SEVERITIES = {
    compliance.HINT: _l("Hint"),
    compliance.CONFIRM: _l("Needs a reason"),
    compliance.BLOCK: _l("Blocked"),
}
FINDING_FIELDS = {
    "title": _l("Title"),
    "summary": _l("Summary"),
    "body": _l("Body"),
    "attachment": _l("Attachment name"),
}
# Why an attachment's text could not be read (newsroom/doctext.py's codes).
UNREADABLE_REASONS = {
    "encrypted": _l("it is protected by a password"),
    "broken": _l("the file is damaged or is not what its name says"),
    "too_large": _l("it is too large"),
    "unbounded": _l("reading it took too much time or memory"),
    "missing": _l("the file is missing"),
}
LINK_PROBLEMS = {
    "missing": _l("the page does not exist"),
    "unpublished": _l("readers cannot see this page"),
}


def place_label(where: str) -> str:
    """Where in an attachment: 第 2 页, 工作表 名单 单元格 C2 … (see doctext)."""
    kind, rest = where.partition(":")[::2]
    if kind == "page":
        return _("page %(number)s", number=rest)
    if kind == "para":
        return _("paragraph %(number)s", number=rest)
    if kind == "cell":
        sheet, cell = rest.rpartition("!")[::2]
        return _("sheet %(sheet)s, cell %(cell)s", sheet=sheet, cell=cell)
    if kind == "csv":
        row, column = rest.partition(":")[::2]
        return _("row %(row)s, column %(column)s", row=row, column=column)
    if kind == "line":
        return _("line %(number)s", number=rest)
    return where


def _about_attachment(finding: compliance.Finding) -> tuple[str, str]:
    """The field label and the text shown for a finding in an attachment."""
    name = finding.source
    if finding.kind == compliance.UNREADABLE:
        why = UNREADABLE_REASONS.get(finding.suggestion)
        if why is None:
            text = _(
                "Attachment %(name)s could not be read and was not checked.", name=name
            )
        else:
            text = _(
                "Attachment %(name)s could not be read and was not checked: %(why)s.",
                name=name,
                why=why,
            )
        return str(FINDING_FIELDS["attachment"]), text
    if finding.kind == compliance.PARTLY_READ:
        return str(FINDING_FIELDS["attachment"]), _(
            "Attachment %(name)s is long: only its first part was checked.",
            name=name,
        )
    if finding.kind == compliance.MORE:
        return str(FINDING_FIELDS["attachment"]), _(
            "%(count)s more findings in attachment %(name)s are not listed.",
            count=finding.value,
            name=name,
        )
    label = _(
        "Attachment %(name)s, %(place)s", name=name, place=place_label(finding.where)
    )
    return label, finding.excerpt


def finding_json(finding: compliance.Finding) -> dict:
    """A finding with its labels, for the panel next to the editor.

    A finding in an attachment's text names the file and the place in
    field_label (the panel shows kind · field, then the masked excerpt).
    """
    suggestion = finding.suggestion
    if finding.kind == compliance.LINK:
        suggestion = str(LINK_PROBLEMS.get(suggestion, suggestion))
    field_label, excerpt = str(FINDING_FIELDS[finding.field]), finding.excerpt
    if finding.source:
        field_label, excerpt = _about_attachment(finding)
        if finding.kind == compliance.UNREADABLE:
            suggestion = ""
    return finding.to_dict() | {
        "suggestion": suggestion,
        "excerpt": excerpt,
        "kind_label": str(FINDING_KINDS[finding.kind]),
        "severity_label": str(FINDING_SEVERITIES[finding.severity]),
        "field_label": field_label,
    }


def confirmed_reason() -> str:
    """The publisher's reason for publishing personal data, if they ticked the box."""
    if request.form.get("compliance_confirm") != "1":
        return ""
    return request.form.get("compliance_reason", "").strip()[:100]


def record_confirmation(article: Article, reason: str, findings) -> None:
    """Personal data published on purpose: in the audit log and the ledger."""
    target = compliance.confirmation_target(article.id, reason, findings)
    audit.record("article.compliance_confirmed", target)
    chain.confirm(article, current_user, target.split(": ", 1)[-1])
