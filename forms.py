"""Every FlaskForm of the site."""

from flask import request
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from flask_wtf.file import FileField
from wtforms import (
    BooleanField,
    DateTimeLocalField,
    HiddenField,
    IntegerField,
    PasswordField,
    RadioField,
    SelectField,
    SelectMultipleField,
    StringField,
    SubmitField,
    TextAreaField,
)
from wtforms.fields.choices import SelectChoice
from wtforms.validators import (
    DataRequired,
    EqualTo,
    Length,
    NumberRange,
    Optional,
    Regexp,
    ValidationError,
)
from wtforms.widgets import CheckboxInput, ListWidget, PasswordInput

from core import siteurl


class LoginForm(FlaskForm):
    username = StringField(_l("Username"), validators=[DataRequired(), Length(max=64)])
    password = PasswordField(_l("Password"), validators=[DataRequired()])
    remember = BooleanField(_l("Remember me"))


# --- Accounts and admin pages -------------------------------------------------

MIN_PASSWORD = 8


def _strip(value):
    return value.strip() if isinstance(value, str) else value


def _slug_filter(value):
    return value.strip().lower() if isinstance(value, str) else value


def _new_password(label, required=True, **kwargs):
    return PasswordField(
        label,
        **kwargs,
        validators=[
            DataRequired() if required else Optional(),
            Length(
                min=MIN_PASSWORD,
                max=128,
                message=_l("Use at least %(n)d characters.", n=MIN_PASSWORD),
            ),
        ],
    )


EMAIL_RE = r"^[^@\s]+@[^@\s]+\.[^@\s]+$"


def _email_field(label):
    return StringField(
        label,
        filters=[_strip],
        validators=[
            Optional(),
            Length(max=254),
            Regexp(
                EMAIL_RE,
                message=_l("Enter an e-mail address such as wang@school.cn."),
            ),
        ],
    )


def _usable_robot_url(form, field):
    from core import notify

    if field.data and not notify.valid_url(field.data):
        raise ValidationError(
            _l(
                "This robot address cannot be used. Write the robot's Apprise "
                "URL, such as dingtalk://token, wecombot://key or "
                "feishu://token (a 企业微信 webhook address also works as it is)."
            )
        )


def _site_address(form, field):
    try:
        field.data = siteurl.normalise(field.data)
    except siteurl.InvalidSiteUrl as error:
        raise ValidationError(str(error)) from None
    if siteurl.locks_out(field.data):
        raise ValidationError(
            _l(
                "Saving this address would lock you out: you are using "
                "%(host)s, and only %(site)s and the server itself would be "
                "let in. Open the site at %(site)s first and save the address "
                "there.",
                host=request.host,
                site=field.data,
            )
        )


def _site_url_field():
    return StringField(
        _l("Site address"),
        filters=[_strip],
        validators=[Length(max=200), _site_address],
        description=_l(
            "The address readers use to reach this site, for example "
            "https://news.school.cn. Links in feeds, share links and "
            "notifications are built from it, and the site answers only at "
            "this address (and on the server itself)."
        ),
    )


def _robot_field():
    return StringField(
        _l("Group-chat robot"),
        filters=[_strip],
        validators=[Optional(), Length(max=500), _usable_robot_url],
        description=_l(
            "Optional. The 钉钉, 企业微信 or 飞书 group robot told about posts "
            "waiting for review here, e.g. dingtalk://token."
        ),
    )


def _role_choices():
    return [
        ("author", _l("Author (teacher)")),
        ("editor", _l("Editor (reviews and publishes)")),
        ("admin", _l("Administrator")),
        ("manager", _l("No posts (a security or audit administrator)")),
    ]


class ChangePasswordForm(FlaskForm):
    current_password = PasswordField(
        _l("Current password"), validators=[DataRequired()]
    )
    new_password = _new_password(_l("New password"))
    confirm = PasswordField(
        _l("Repeat the new password"),
        validators=[
            DataRequired(),
            EqualTo("new_password", message=_l("The two passwords do not match.")),
        ],
    )


def _byline_field():
    return StringField(
        _l("Byline"),
        filters=[_strip],
        validators=[Length(max=100)],
        description=_l(
            "The author shown on new posts, e.g. a department such as 德育处. "
            "Leave empty to use the display name."
        ),
    )


class BylineForm(FlaskForm):
    byline = _byline_field()


class EmailForm(FlaskForm):
    email = _email_field(_l("E-mail"))


class UserCreateForm(FlaskForm):
    username = StringField(
        _l("Username"),
        filters=[_strip],
        validators=[
            DataRequired(),
            Length(max=64),
            Regexp(r"^\S+$", message=_l("The username cannot contain spaces.")),
        ],
    )
    display_name = StringField(
        _l("Display name"),
        filters=[_strip],
        validators=[DataRequired(), Length(max=100)],
    )
    byline = _byline_field()
    role = SelectField(_l("Role"), choices=_role_choices, default="author")
    # Choices (0: none, then the departments) are set by the view.
    department_id = SelectField(_l("Department"), coerce=int, default=0)
    email = _email_field(_l("E-mail"))
    password = _new_password(_l("Initial password"))


class UserEditForm(FlaskForm):
    display_name = StringField(
        _l("Display name"),
        filters=[_strip],
        validators=[DataRequired(), Length(max=100)],
    )
    byline = _byline_field()
    role = SelectField(_l("Role"), choices=_role_choices)
    # Choices (0: none, then the departments) are set by the view.
    department_id = SelectField(_l("Department"), coerce=int, default=0)
    email = _email_field(_l("E-mail"))


class DepartmentForm(FlaskForm):
    name = StringField(
        _l("Name"), filters=[_strip], validators=[DataRequired(), Length(max=50)]
    )
    position = IntegerField(
        _l("Position"),
        validators=[Optional(), NumberRange(min=0, max=9999)],
    )
    robot_url = _robot_field()


class SiteForm(FlaskForm):
    """A school's site, added by the bureau (站群): operations/sites.py checks
    the address and the user name."""

    name = StringField(
        _l("School name"),
        filters=[_strip],
        validators=[DataRequired(), Length(max=100)],
    )
    host = StringField(
        _l("Host name"),
        filters=[_strip],
        validators=[Length(max=253)],
        description=_l("The address readers type, e.g. cn.school.example."),
    )
    prefix = StringField(
        _l("Path"),
        filters=[_strip],
        validators=[Length(max=41)],
        description=_l("Or a path on a shared host, e.g. /chengbei."),
    )
    admin_username = StringField(
        _l("Administrator's user name"),
        filters=[_strip],
        validators=[DataRequired(), Length(max=64)],
        description=_l("Its password is generated and shown once."),
    )


class MemberForm(FlaskForm):
    """A person of one school who works at another too (站群), added by the
    bureau: operations/members.py checks the account and the school."""

    site_id = SelectField(
        _l("The other school"), coerce=int, validators=[DataRequired()]
    )
    username = StringField(
        _l("User name"),
        filters=[_strip],
        validators=[DataRequired(), Length(max=64)],
        description=_l(
            "Their account at their own school: they sign in with the same password."
        ),
    )
    role = SelectField(
        _l("Role at that school"),
        choices=lambda: _role_choices()[:3],  # a post writer at that school
        default="author",
    )


class PasswordResetForm(FlaskForm):
    new_password = _new_password(_l("New password"), required=False)
    set_password = SubmitField(_l("Set this password"))
    generate = SubmitField(_l("Generate a password"))


def _levels_or_default(value):
    # "" is the channel override's "site default" (Section.review_levels None).
    if value in (None, "", "default"):
        return None
    return int(value)


def review_level_choices():
    return [
        (0, _l("0: published without review")),
        (1, _l("1: first review (初审) by the author's department heads")),
        (2, _l("2: first review, then second review (复审) by a group")),
        (3, _l("3: first, second and final review (终审)")),
    ]


def channel_level_choices():
    return [
        ("", _l("Site default")),
        ("0", _l("0: no review")),
        ("1", _l("1: first review")),
        ("2", _l("2: up to second review")),
        ("3", _l("3: up to final review")),
    ]


LEVELS_MESSAGE = _l("Choose the site default or 0 to 3 levels.")


def update_day_choices():
    """A section's 更新周期 (Section.update_days); "": the default by name."""
    return [
        ("", _l("Default: 6 months for notices, 1 month for the rest")),
        ("7", _l("Every week")),
        ("14", _l("Every two weeks")),
        ("30", _l("Every month")),
        ("90", _l("Every three months")),
        ("180", _l("Every six months")),
        ("365", _l("Every year")),
        ("0", _l("Never checked")),
    ]


UPDATE_DAYS_MESSAGE = _l("Choose one of the update periods offered.")


class SectionForm(FlaskForm):
    name = StringField(
        _l("Name"), filters=[_strip], validators=[DataRequired(), Length(max=50)]
    )
    slug = StringField(
        _l("Address (slug)"),
        filters=[_slug_filter],
        description=_l(
            "Lowercase letters, digits and hyphens, e.g. news or school-news."
        ),
        validators=[
            DataRequired(),
            Length(max=60),
            Regexp(
                r"^[a-z0-9]+(?:-[a-z0-9]+)*$",
                message=_l("Use only lowercase letters, digits and single hyphens."),
            ),
        ],
    )
    # 0 means "no parent": the section is a channel in the navigation bar.
    parent_id = SelectField(_l("Channel"), coerce=int, default=0)
    position = IntegerField(
        _l("Position"),
        validators=[Optional(), NumberRange(min=0, max=9999)],
    )
    # A channel's own review levels (Section.review_levels); None: the site's.
    review_levels = SelectField(
        _l("Review levels"),
        choices=channel_level_choices,
        coerce=_levels_or_default,
        default=None,
        invalid_value_message=LEVELS_MESSAGE,
        invalid_choice_message=LEVELS_MESSAGE,
    )
    update_days = SelectField(
        _l("Update period"),
        choices=update_day_choices,
        coerce=_levels_or_default,
        default=None,
        invalid_value_message=UPDATE_DAYS_MESSAGE,
        invalid_choice_message=UPDATE_DAYS_MESSAGE,
    )


class SectionDeleteForm(FlaskForm):
    # 0 means "do not move": deleting is then refused if the section has posts.
    target_id = SelectField(_l("Move its posts to"), coerce=int, default=0)


class SettingsForm(FlaskForm):
    school_name = StringField(
        _l("School name"),
        filters=[_strip],
        validators=[DataRequired(), Length(max=100)],
    )
    phone = StringField(
        _l("Contact phone"), filters=[_strip], validators=[Length(max=50)]
    )
    address = StringField(_l("Address"), filters=[_strip], validators=[Length(max=200)])
    footer_text = TextAreaField(
        _l("Footer text"), filters=[_strip], validators=[Length(max=1000)]
    )
    icp_number = StringField(
        _l("ICP filing number"), filters=[_strip], validators=[Length(max=50)]
    )
    psb_number = StringField(
        _l("Public security filing number"),
        filters=[_strip],
        validators=[Length(max=50)],
    )
    site_url = _site_url_field()
    # 站群: where the bureau's posts go on this school's site; choices are
    # the school's sections (admin/views/admin.py), dropped outside a 站群.
    bureau_section = SelectField(
        _l("Section for the bureau's posts"),
        choices=[],
        description=_l("The education bureau's posts sent to this school appear here."),
    )
    logo = FileField(_l("Logo"))
    remove_logo = BooleanField(_l("Remove the logo"))
    smtp_host = StringField(
        _l("SMTP server"), filters=[_strip], validators=[Length(max=200)]
    )
    smtp_port = IntegerField(
        _l("Port"), validators=[Optional(), NumberRange(min=1, max=65535)]
    )
    smtp_tls = SelectField(
        _l("Encryption"),
        choices=[
            SelectChoice(value="starttls", label="STARTTLS"),
            SelectChoice(value="ssl", label="SSL/TLS"),
            SelectChoice(value="insecure", label=_l("None (not encrypted)")),
        ],
        default="starttls",
    )
    smtp_user = StringField(
        _l("SMTP user name"), filters=[_strip], validators=[Length(max=200)]
    )
    smtp_password = PasswordField(
        _l("SMTP password"),
        validators=[Length(max=200)],
        description=_l("Leave empty to keep the saved password."),
    )
    smtp_sender = _email_field(_l("Sender address"))


def _group_field(label):
    message = _l("This group does not exist (any more). Choose another one.")
    return SelectField(
        label,
        coerce=int,
        default=0,
        invalid_value_message=message,
        invalid_choice_message=message,
    )


class ReviewSettingsForm(FlaskForm):
    """The review chain (先审后发) of the site: admin/review.html."""

    levels = SelectField(
        _l("Review levels for the site"),
        choices=review_level_choices,
        coerce=int,
        invalid_value_message=_l("Choose 0 to 3 levels."),
        invalid_choice_message=_l("Choose 0 to 3 levels."),
    )
    # Choices (0: nobody named, then the review groups) are set by the view.
    group_2 = _group_field(_l("Second review (复审) by"))
    group_3 = _group_field(_l("Final review (终审) by"))
    bypass = BooleanField(
        _l("Editors and administrators may publish without review, with a reason")
    )
    show_review_line = BooleanField(
        _l("Show the 撰稿 / 摄影 / 初审 / 复审 / 终审 line under articles")
    )


class ReviewGroupForm(FlaskForm):
    name = StringField(
        _l("Name"), filters=[_strip], validators=[DataRequired(), Length(max=50)]
    )
    robot_url = _robot_field()


class PeopleForm(FlaskForm):
    """Choose people among users: a review group's members, a department's heads."""

    # Choices (user ids) are set by the view.
    people = SelectMultipleField(
        _l("People"),
        coerce=int,
        invalid_value_message=_l("Choose people from the list."),
        invalid_choice_message=_l(
            "Someone chosen cannot be chosen (any more). Reload the page and "
            "choose again."
        ),
        widget=ListWidget(prefix_label=False),
        option_widget=CheckboxInput(),
    )


def _username_field(label, required=True):
    return StringField(
        label,
        filters=[_strip],
        validators=[
            DataRequired() if required else Optional(),
            Length(max=64),
            Regexp(r"^\S*$", message=_l("The username cannot contain spaces.")),
        ],
    )


def _kept_password(label):
    # Typed values come back after an error elsewhere on the form: the page
    # is sent only to the person who typed them, and is never cached.
    return PasswordField(
        label,
        widget=PasswordInput(hide_value=False),
        validators=[Optional(), Length(max=128)],
    )


class SetupForm(FlaskForm):
    """The first-run setup: one's own user name and password, how the
    management roles are shared out, then the school (optional)."""

    username = _username_field(_l("Your user name"))
    new_password = _new_password(
        _l("New password"), widget=PasswordInput(hide_value=False)
    )
    confirm = PasswordField(
        _l("Repeat the new password"),
        widget=PasswordInput(hide_value=False),
        validators=[
            DataRequired(),
            EqualTo("new_password", message=_l("The two passwords do not match.")),
        ],
    )
    # 单人模式 or 分设三员 (admin/duties.py); the two accounts only for the latter.
    mode = RadioField(
        _l("Who administers the site?"),
        choices=[
            SelectChoice(
                value="single",
                label=_l("One administrator holds all three roles (单人模式)"),
            ),
            SelectChoice(value="separate", label=_l("Three administrators (分设三员)")),
        ],
        validators=[DataRequired(message=_l("Choose one."))],
    )
    security_username = _username_field(_l("User name"), required=False)
    security_display_name = StringField(
        _l("Display name"), filters=[_strip], validators=[Length(max=100)]
    )
    security_password = _kept_password(_l("Initial password"))
    audit_username = _username_field(_l("User name"), required=False)
    audit_display_name = StringField(
        _l("Display name"), filters=[_strip], validators=[Length(max=100)]
    )
    audit_password = _kept_password(_l("Initial password"))
    school_name = StringField(
        _l("School name"), filters=[_strip], validators=[Length(max=100)]
    )
    phone = SettingsForm.phone
    address = SettingsForm.address
    icp_number = SettingsForm.icp_number
    psb_number = SettingsForm.psb_number
    site_url = SettingsForm.site_url
    logo = FileField(_l("Logo"))


class ConfirmForm(FlaskForm):
    """A button that only needs its CSRF token (a confirmed action)."""


# --- Sign-in: second factor, forced password change, security policy ----------


class SecondFactorForm(FlaskForm):
    """The code from the authenticator app (or a recovery code) at login,
    and the first code that turns the second factor on."""

    code = StringField(
        _l("Code"), filters=[_strip], validators=[DataRequired(), Length(max=20)]
    )


class PasswordConfirmForm(FlaskForm):
    """An account change that asks for the password again."""

    password = PasswordField(_l("Your password"), validators=[DataRequired()])


class NewPasswordForm(FlaskForm):
    """A password of one's own, before anything else (admin-set or expired)."""

    new_password = _new_password(_l("New password"))
    confirm = PasswordField(
        _l("Repeat the new password"),
        validators=[
            DataRequired(),
            EqualTo("new_password", message=_l("The two passwords do not match.")),
        ],
    )


class SecurityPolicyForm(FlaskForm):
    """The security administrator's settings (admin/views/security.py)."""

    password_min_length = IntegerField(
        _l("Minimum password length"), validators=[NumberRange(min=8, max=64)]
    )
    password_classes = SelectField(
        _l("Character classes required"),
        choices=[
            SelectChoice(value="1", label=_l("1 (any characters)")),
            SelectChoice(value="2", label="2"),
            SelectChoice(value="3", label="3"),
            SelectChoice(value="4", label=_l("4 (all of them)")),
        ],
    )
    password_history = IntegerField(
        _l("Earlier passwords that may not be reused"),
        validators=[NumberRange(min=0, max=24)],
    )
    password_max_age_days = IntegerField(
        _l("Password expires after (days)"),
        validators=[NumberRange(min=0, max=3650)],
    )
    password_warn_days = IntegerField(
        _l("Warn this many days before"), validators=[NumberRange(min=0, max=90)]
    )
    totp_required = SelectField(
        _l("Second factor required for"),
        choices=[
            SelectChoice(value="none", label=_l("Nobody (each user may turn it on)")),
            SelectChoice(
                value="admins", label=_l("Management roles (system, security, audit)")
            ),
            SelectChoice(value="all", label=_l("Everyone")),
        ],
    )
    dormant_days = IntegerField(
        _l("Accounts count as dormant after (days unused)"),
        validators=[NumberRange(min=30, max=3650)],
    )
    dormant_auto_disable = BooleanField(
        _l("Disable a dormant account when someone tries to log in to it")
    )
    audit_retention_days = IntegerField(
        _l("Keep audit events in the database for (days)"),
        validators=[NumberRange(min=0, max=36500)],
    )


class UnlockForm(FlaskForm):
    username = HiddenField(validators=[DataRequired(), Length(max=64)])


# --- Articles (editor) ---------------------------------------------------------


def _none_if_blank(value):
    value = _strip(value)
    return value or None


def _int_or_none(value):
    # The empty placeholder option ("Choose a section") is None, not an error.
    if value in (None, ""):
        return None
    return int(value)


class ArticleForm(FlaskForm):
    """The article editor; the pressed button's name "action" says what to do."""

    title = StringField(
        _l("Title"), filters=[_strip], validators=[DataRequired(), Length(max=200)]
    )
    # Choices (sub-sections grouped under channels) are set by the view.
    section_id = SelectField(
        _l("Section"),
        coerce=_int_or_none,
        validate_choice=True,
        validators=[DataRequired(message=_l("Choose a section."))],
    )
    author_name = StringField(
        _l("Author"), filters=[_strip], validators=[Length(max=100)]
    )
    source = StringField(
        _l("Source"), filters=[_none_if_blank], validators=[Length(max=100)]
    )
    # 摄影, for the line under the article.
    photographer = StringField(
        _l("Photos by"), filters=[_strip], validators=[Length(max=100)]
    )
    summary = TextAreaField(
        _l("Summary"),
        filters=[_none_if_blank],
        validators=[Length(max=500)],
        description=_l("Optional; otherwise the start of the text is used."),
    )
    cover_id = HiddenField(filters=[_none_if_blank])
    # Entered in the site's time zone; the view converts it to UTC.
    published_at = DateTimeLocalField(
        _l("Publish time"),
        format=["%Y-%m-%dT%H:%M", "%Y-%m-%dT%H:%M:%S"],
        validators=[Optional()],
        description=_l("Leave empty to publish now; a future time schedules the post."),
    )
    pinned = BooleanField(_l("Pinned"))
    body_html = TextAreaField(_l("Text"))
    version = HiddenField()


class WordRuleForm(FlaskForm):
    """A term of the compliance check's word list (admin/words)."""

    term = StringField(
        _l("Term"), filters=[_strip], validators=[DataRequired(), Length(max=50)]
    )
    replacement = StringField(
        _l("Suggested replacement"),
        filters=[_strip],
        validators=[Optional(), Length(max=50)],
    )
    severity = SelectField(
        _l("Severity"),
        choices=[
            SelectChoice(value="hint", label=_l("Hint (提示)")),
            SelectChoice(value="block", label=_l("Block (禁止)")),
        ],
        default="hint",
    )
    exceptions = StringField(
        _l("Correct words that contain it"),
        filters=[_strip],
        description=_l(
            "Separated by spaces, e.g. 按装订 for the term 按装: the term is not "
            "reported where it is part of one of these words."
        ),
        validators=[Optional(), Length(max=500)],
    )
    note = StringField(
        _l("Note"), filters=[_strip], validators=[Optional(), Length(max=200)]
    )
