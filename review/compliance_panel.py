"""The compliance check's findings as the editor's and the reviewer's panels
show them, and a confirmed publication of personal data: the reason the
publisher gave, written to the audit log and the review ledger."""

from flask import request
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
LINK_PROBLEMS = {
    "missing": _l("the page does not exist"),
    "unpublished": _l("readers cannot see this page"),
}


def finding_json(finding: compliance.Finding) -> dict:
    """A finding with its labels, for the panel next to the editor."""
    suggestion = finding.suggestion
    if finding.kind == compliance.LINK:
        suggestion = str(LINK_PROBLEMS.get(suggestion, suggestion))
    return finding.to_dict() | {
        "suggestion": suggestion,
        "kind_label": str(FINDING_KINDS[finding.kind]),
        "severity_label": str(FINDING_SEVERITIES[finding.severity]),
        "field_label": str(FINDING_FIELDS[finding.field]),
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
