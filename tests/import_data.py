"""Test data for the importers: a WordPress export and an old upload folder."""

import io
from pathlib import Path
from urllib.parse import quote

from PIL import Image

SITE = "http://www.school.cn"
PERMALINK = "/2024/03/01/开学典礼/"


def photo_bytes(color=(200, 30, 30), size=(800, 600)) -> bytes:
    """A JPEG with a GPS position in its EXIF, as a phone writes it."""
    image = Image.new("RGB", size, color)
    exif = Image.Exif()
    exif[0x010F] = "PhoneMaker"  # Make
    exif.get_ifd(0x8825)[2] = (31.0, 14.0, 0.0)  # GPSLatitude
    out = io.BytesIO()
    image.save(out, "JPEG", exif=exif)
    return out.getvalue()


PDF = b"%PDF-1.4\n1 0 obj << >> endobj\ntrailer << >>\n%%EOF\n"


def old_uploads(folder: Path, layout: dict[str, bytes]) -> Path:
    for relative, data in layout.items():
        path = folder / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
    return folder


def wp_uploads(folder: Path) -> Path:
    """wp-content/uploads of the old WordPress site (no missing.jpg)."""
    return old_uploads(
        folder,
        {
            "2024/03/photo.jpg": photo_bytes(),
            "2024/03/plan.pdf": PDF,
            "2024/03/notes.exe": b"MZ\x90\x00not really",
            "2024/03/broken.jpg": b"\xff\xd8\xff\xe0 cut off",
        },
    )


def _category(term_id, slug, parent, name):
    return f"""
  <wp:category>
    <wp:term_id>{term_id}</wp:term_id>
    <wp:category_nicename><![CDATA[{slug}]]></wp:category_nicename>
    <wp:category_parent><![CDATA[{parent}]]></wp:category_parent>
    <wp:cat_name><![CDATA[{name}]]></wp:cat_name>
  </wp:category>"""


def _item(
    post_id,
    title,
    *,
    status="publish",
    post_type="post",
    content="",
    excerpt="",
    date="2024-03-01 08:00:00",
    date_gmt="2024-03-01 00:00:00",
    link=None,
    categories=(),
    sticky=0,
    meta=(),
    attachment_url="",
    creator="zhangsan",
):
    cats = "".join(
        f'<category domain="category" nicename="{slug}"><![CDATA[{slug}]]></category>'
        for slug in categories
    )
    metas = "".join(
        f"<wp:postmeta><wp:meta_key><![CDATA[{k}]]></wp:meta_key>"
        f"<wp:meta_value><![CDATA[{v}]]></wp:meta_value></wp:postmeta>"
        for k, v in meta
    )
    attachment = (
        f"<wp:attachment_url><![CDATA[{attachment_url}]]></wp:attachment_url>"
        if attachment_url
        else ""
    )
    return f"""
  <item>
    <title><![CDATA[{title}]]></title>
    <link>{link or f"{SITE}/?p={post_id}"}</link>
    <dc:creator><![CDATA[{creator}]]></dc:creator>
    <guid isPermaLink="false">{SITE}/?p={post_id}</guid>
    <content:encoded><![CDATA[{content}]]></content:encoded>
    <excerpt:encoded><![CDATA[{excerpt}]]></excerpt:encoded>
    <wp:post_id>{post_id}</wp:post_id>
    <wp:post_date><![CDATA[{date}]]></wp:post_date>
    <wp:post_date_gmt><![CDATA[{date_gmt}]]></wp:post_date_gmt>
    <wp:post_name><![CDATA[p{post_id}]]></wp:post_name>
    <wp:status><![CDATA[{status}]]></wp:status>
    <wp:post_parent>0</wp:post_parent>
    <wp:post_type><![CDATA[{post_type}]]></wp:post_type>
    <wp:is_sticky>{sticky}</wp:is_sticky>
    {attachment}{cats}{metas}
  </item>"""


OPENING_BODY = (
    "<p>全体师生在操场举行开学典礼。</p>"
    f'<p><a href="{SITE}/wp-content/uploads/2024/03/photo.jpg">'
    f'<img src="{SITE}/wp-content/uploads/2024/03/photo-300x225.jpg" alt="典礼现场">'
    "</a></p>"
    '<p><a href="/wp-content/uploads/2024/03/plan.pdf">新学期工作计划</a></p>'
    f'<p><img src="{SITE}/wp-content/uploads/2024/03/missing.jpg" alt="丢失的照片"></p>'
    '<script>alert("x")</script>'
)


def wxr(opening_title="开学典礼隆重举行", extra_items="") -> str:
    """A WordPress 6 export of a school site."""
    items = [
        _item(
            10,
            "photo",
            post_type="attachment",
            status="inherit",
            attachment_url=f"{SITE}/wp-content/uploads/2024/03/photo.jpg",
        ),
        _item(
            11,
            opening_title,
            content=OPENING_BODY,
            excerpt="新学期开始了。",
            link=SITE + quote(PERMALINK),
            categories=["xiaoyuan"],
            sticky=1,
            meta=[("_thumbnail_id", "10"), ("views", "345")],
        ),
        # No GMT date: read in the site's time zone (Asia/Shanghai).
        _item(
            12,
            "三年级主题班会",
            content="第一段\n\n第二段",
            date="2024-03-02 09:30:00",
            date_gmt="0000-00-00 00:00:00",
            categories=["banji"],
            creator="lisi",
        ),
        _item(13, "草稿：运动会方案", status="draft", categories=["tongzhi"]),
        _item(
            14,
            "期末考试安排",
            status="future",
            date="2099-06-20 08:00:00",
            date_gmt="2099-06-20 00:00:00",
            categories=["tongzhi"],
        ),
        _item(15, "内部通知", status="private", categories=["tongzhi"]),
        _item(16, "删掉的文章", status="trash", categories=["tongzhi"]),
        _item(20, "学校简介", post_type="page", content="<p>我校创办于1956年。</p>"),
        _item(30, "首页", post_type="nav_menu_item"),
        extra_items,
    ]
    return f"""<?xml version="1.0" encoding="UTF-8" ?>
<rss version="2.0"
  xmlns:excerpt="http://wordpress.org/export/1.2/excerpt/"
  xmlns:content="http://purl.org/rss/1.0/modules/content/"
  xmlns:wfw="http://wellformedweb.org/CommentAPI/"
  xmlns:dc="http://purl.org/dc/elements/1.1/"
  xmlns:wp="http://wordpress.org/export/1.2/">
<channel>
  <title>实验小学</title>
  <link>{SITE}</link>
  <language>zh-CN</language>
  <wp:wxr_version>1.2</wp:wxr_version>
  <wp:base_site_url>{SITE}</wp:base_site_url>
  <wp:base_blog_url>{SITE}</wp:base_blog_url>
  <wp:author>
    <wp:author_id>1</wp:author_id>
    <wp:author_login><![CDATA[zhangsan]]></wp:author_login>
    <wp:author_display_name><![CDATA[张三老师]]></wp:author_display_name>
  </wp:author>
  <wp:author>
    <wp:author_id>2</wp:author_id>
    <wp:author_login><![CDATA[lisi]]></wp:author_login>
    <wp:author_display_name><![CDATA[德育处]]></wp:author_display_name>
  </wp:author>
  {_category(2, "news", "", "新闻中心")}
  {_category(3, "xiaoyuan", "news", "校园动态")}
  {_category(4, "banji", "xiaoyuan", "班级风采")}
  {_category(5, "tongzhi", "", "通知公告")}
  {"".join(items)}
</channel>
</rss>
"""


def write_wxr(path: Path, **kwargs) -> Path:
    path.write_text(wxr(**kwargs), encoding="utf-8")
    return path
