import io
import re
import struct
import threading
import time
import zipfile
import zlib

import pytest
from flask import Flask
from flask_babel import Babel
from PIL import ExifTags, Image, ImageCms
from PIL.PngImagePlugin import PngInfo

from core.i18n import display_size
from newsroom import uploads
from newsroom.uploads import (
    MAX_IMAGE_PIXELS,
    UploadError,
    check_attachment,
    clean_original_name,
    process_image,
    random_name,
)

# Every test here ends with each live text explained by the review ledger.
pytestmark = pytest.mark.usefixtures("ledger_checked")

GPS_IFD = ExifTags.IFD.GPSInfo


def jpeg_with_exif(size=(400, 200), orientation=6):
    """A photo as a phone takes it: sideways pixels plus an orientation tag,
    GPS position, camera data, XMP and an ICC profile."""
    image = Image.new("RGB", size, (255, 0, 0))
    # Left half red, right half blue, to see which way it was turned.
    image.paste((0, 0, 255), (size[0] // 2, 0, size[0], size[1]))
    exif = Image.Exif()
    exif[ExifTags.Base.Orientation] = orientation
    exif[ExifTags.Base.Make] = "PhoneMaker"
    exif[ExifTags.Base.Model] = "Phone 12"
    exif[GPS_IFD] = {
        ExifTags.GPS.GPSLatitudeRef: "N",
        ExifTags.GPS.GPSLatitude: (39.0, 54.0, 27.0),
        ExifTags.GPS.GPSLongitudeRef: "E",
        ExifTags.GPS.GPSLongitude: (116.0, 23.0, 50.0),
    }
    icc = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    out = io.BytesIO()
    image.save(
        out,
        "JPEG",
        exif=exif,
        xmp=b'<x:xmpmeta xmlns:x="adobe:ns:meta/">GPS 39.9,116.4</x:xmpmeta>',
        icc_profile=icc,
        quality=95,
    )
    return out.getvalue()


def reopen(processed):
    image = Image.open(io.BytesIO(processed.data))
    image.load()
    return image


def assert_no_metadata(image):
    assert not image.getexif()
    for key in ("exif", "xmp", "XML:com.adobe.xmp", "icc_profile", "comment"):
        assert key not in image.info


def test_fixture_photo_really_has_gps_and_orientation():
    original = Image.open(io.BytesIO(jpeg_with_exif()))
    exif = original.getexif()
    assert exif[ExifTags.Base.Orientation] == 6
    assert exif.get_ifd(GPS_IFD)[ExifTags.GPS.GPSLatitudeRef] == "N"
    assert "xmp" in original.info


def test_jpeg_loses_all_metadata_including_gps():
    processed = process_image(io.BytesIO(jpeg_with_exif()))
    assert processed.ext == "jpg"
    assert processed.content_type == "image/jpeg"
    image = reopen(processed)
    assert image.format == "JPEG"
    assert_no_metadata(image)
    assert not image.getexif().get_ifd(GPS_IFD)
    assert b"PhoneMaker" not in processed.data
    assert b"39.9" not in processed.data


def test_jpeg_orientation_is_applied():
    processed = process_image(io.BytesIO(jpeg_with_exif((400, 200), orientation=6)))
    assert (processed.width, processed.height) == (200, 400)
    image = reopen(processed)
    assert image.size == (200, 400)
    # Orientation 6 means "turn 90° clockwise": the red left half ends on top.
    top = image.getpixel((100, 20))
    bottom = image.getpixel((100, 380))
    assert top[0] > 200 and top[2] < 60
    assert bottom[2] > 200 and bottom[0] < 60


def test_jpeg_is_progressive():
    image = reopen(process_image(io.BytesIO(jpeg_with_exif())))
    assert image.info.get("progressive") or image.info.get("progression")


def test_large_image_is_scaled_to_1600_on_the_long_side():
    out = io.BytesIO()
    Image.new("RGB", (3200, 2000), (10, 120, 200)).save(out, "JPEG")
    processed = process_image(io.BytesIO(out.getvalue()))
    assert (processed.width, processed.height) == (1600, 1000)
    assert reopen(processed).size == (1600, 1000)


def test_max_side_is_configurable_and_small_images_are_not_enlarged():
    out = io.BytesIO()
    Image.new("RGB", (300, 100)).save(out, "PNG")
    assert process_image(io.BytesIO(out.getvalue()), max_side=150)[3:] == (150, 50)
    assert process_image(io.BytesIO(out.getvalue()))[3:] == (300, 100)


def test_png_text_chunks_are_dropped_and_transparency_kept():
    image = Image.new("RGBA", (50, 40), (0, 128, 0, 100))
    info = PngInfo()
    info.add_text("Comment", "secret home address")
    info.add_itxt("Description", "学生姓名")
    out = io.BytesIO()
    image.save(out, "PNG", pnginfo=info)
    processed = process_image(io.BytesIO(out.getvalue()))
    assert (processed.ext, processed.content_type) == ("png", "image/png")
    result = reopen(processed)
    assert result.mode == "RGBA"
    assert result.getpixel((5, 5))[3] == 100
    assert "Comment" not in result.info and "Description" not in result.info
    assert b"secret" not in processed.data
    assert_no_metadata(result)


def test_webp_is_reencoded_without_exif():
    exif = Image.Exif()
    exif[ExifTags.Base.Make] = "PhoneMaker"
    out = io.BytesIO()
    Image.new("RGB", (120, 80), (200, 200, 0)).save(out, "WEBP", exif=exif)
    processed = process_image(io.BytesIO(out.getvalue()))
    assert (processed.ext, processed.content_type) == ("webp", "image/webp")
    result = reopen(processed)
    assert result.format == "WEBP"
    assert_no_metadata(result)
    assert b"PhoneMaker" not in processed.data


def test_animated_gif_keeps_its_first_frame_as_png():
    frames = [Image.new("RGB", (60, 30), color) for color in ("red", "lime", "blue")]
    out = io.BytesIO()
    frames[0].save(
        out, "GIF", save_all=True, append_images=frames[1:], comment=b"secret"
    )
    processed = process_image(io.BytesIO(out.getvalue()))
    assert (processed.ext, processed.content_type) == ("png", "image/png")
    result = reopen(processed)
    assert result.size == (60, 30)
    assert getattr(result, "n_frames", 1) == 1
    assert result.convert("RGB").getpixel((10, 10)) == (255, 0, 0)
    assert b"secret" not in processed.data


def test_cmyk_jpeg_becomes_rgb():
    out = io.BytesIO()
    Image.new("CMYK", (40, 40), (0, 255, 255, 0)).save(out, "JPEG")
    assert reopen(process_image(io.BytesIO(out.getvalue()))).mode == "RGB"


def png_header(width, height):
    """A PNG that claims the given size; only the header is valid."""

    def chunk(kind, body):
        crc = zlib.crc32(kind + body) & 0xFFFFFFFF
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", crc)

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    idat = zlib.compress(b"\x00" * 64)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", ihdr)
        + chunk(b"IDAT", idat)
        + chunk(b"IEND", b"")
    )


@pytest.mark.parametrize(
    "size",
    [
        (100_000, 100_000),  # beyond Pillow's own bomb guard
        (9_000, 9_000),  # under Pillow's guard, over ours
        (MAX_IMAGE_PIXELS + 1, 1),
    ],
)
def test_decompression_bombs_are_refused(size):
    with pytest.raises(UploadError) as caught:
        process_image(io.BytesIO(png_header(*size)))
    assert "too many pixels" in str(caught.value)


def test_highly_compressible_huge_image_is_refused():
    out = io.BytesIO()
    # 8,200 x 8,200 one-bit pixels: a few kilobytes on disk, 67 megapixels.
    Image.new("1", (8_200, 8_200)).save(out, "PNG")
    assert len(out.getvalue()) < 100_000
    with pytest.raises(UploadError):
        process_image(io.BytesIO(out.getvalue()))


@pytest.mark.parametrize(
    ("data", "filename", "named"),
    [
        (
            b'<svg xmlns="http://www.w3.org/2000/svg" onload="alert(1)"></svg>',
            "logo.svg",
            "SVG",
        ),
        (
            b'<?xml version="1.0"?><svg xmlns="http://www.w3.org/2000/svg"/>',
            "photo.jpg",
            "SVG",
        ),
        (b"<!DOCTYPE html><html><script>alert(1)</script>", "photo.jpg", "HTML"),
        ("这不是图片，只是文字。".encode(), "photo.jpg", "plain text"),
        (b"%PDF-1.7\n...", "scan.png", "PDF"),
        (b"MZ\x90\x00" + b"\x00" * 60, "setup.gif", ".exe"),
        (b"BM" + b"\x00" * 60, "paint.bmp", "BMP"),
        (b"\x00\x00\x00\x18ftypheic" + b"\x00" * 40, "IMG_0001.HEIC", "HEIC"),
        (b"random bytes \x01\x02", "x.tiff", ".tiff"),
    ],
)
def test_non_images_are_refused_by_content(data, filename, named):
    with pytest.raises(UploadError) as caught:
        process_image(io.BytesIO(data), filename=filename)
    assert named in str(caught.value)


def test_refused_type_message_names_the_allowed_ones():
    with pytest.raises(UploadError) as caught:
        process_image(io.BytesIO(b"<svg></svg>"))
    assert str(caught.value) == (
        "This file type is not allowed: SVG. Allowed images: JPEG, PNG, GIF, WebP."
    )
    assert caught.value.params == {"name": "SVG"}
    assert "%(name)s" in caught.value.msgid


def test_truncated_jpeg_is_refused():
    out = io.BytesIO()
    Image.effect_noise((300, 300), 60).convert("RGB").save(out, "JPEG")
    data = out.getvalue()
    with pytest.raises(UploadError) as caught:
        process_image(io.BytesIO(data[: len(data) // 2]))
    assert "damaged" in str(caught.value)


@pytest.mark.parametrize(
    "data",
    [
        b"\xff\xd8\xff\xe0" + b"\x00" * 100,  # JPEG magic, then nothing sensible
        b"\x89PNG\r\n\x1a\n" + b"\x00" * 40,  # PNG signature, broken header
        b"GIF89a\x01",
    ],
)
def test_corrupt_images_are_refused(data):
    with pytest.raises(UploadError) as caught:
        process_image(io.BytesIO(data))
    assert "damaged" in str(caught.value)


def test_empty_file_is_refused():
    with pytest.raises(UploadError, match="empty"):
        process_image(io.BytesIO(b""))


# --- UploadError and translations ----------------------------------------------


def test_upload_error_formats_without_an_app():
    error = UploadError("This file type is not allowed: %(name)s.", name=".svg")
    assert str(error) == "This file type is not allowed: .svg."
    assert str(error.message) == "This file type is not allowed: .svg."
    assert error.args == ("This file type is not allowed: .svg.",)


def test_upload_error_uses_gettext_inside_an_app():
    app = Flask(__name__)
    Babel(app)
    error = UploadError("The file is empty.")
    with app.app_context():
        assert str(error) == "The file is empty."


# --- attachments -----------------------------------------------------------------


def ooxml(main_part="word/document.xml"):
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        archive.writestr("[Content_Types].xml", "<Types/>")
        archive.writestr("_rels/.rels", "<Relationships/>")
        archive.writestr(main_part, "<document/>")
    return out.getvalue()


def plain_zip():
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        archive.writestr("readme.txt", "hello")
    return out.getvalue()


def odf(mimetype="application/vnd.oasis.opendocument.text"):
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        archive.writestr("mimetype", mimetype)
        archive.writestr("content.xml", "<office:document-content/>")
    return out.getvalue()


OLE = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 504


@pytest.mark.parametrize(
    ("filename", "data", "content_type"),
    [
        ("2024年春季运动会.pdf", b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n", "application/pdf"),
        ("通知.DOCX", ooxml(), "wordprocessingml.document"),
        ("成绩.xlsx", ooxml("xl/workbook.xml"), "spreadsheetml.sheet"),
        ("课件.pptx", ooxml("ppt/presentation.xml"), "presentationml.presentation"),
        ("旧文档.doc", OLE, "application/msword"),
        ("旧表格.xls", OLE, "application/vnd.ms-excel"),
        ("演示.ppt", OLE, "application/vnd.ms-powerpoint"),
        ("金山文字.wps", OLE, "application/vnd.ms-works"),
        ("金山表格.et", OLE, "application/vnd.ms-excel"),
        ("金山演示.dps", OLE, "application/vnd.ms-powerpoint"),
        ("文稿.odt", odf(), "opendocument.text"),
        ("资料.zip", plain_zip(), "application/zip"),
        ("说明.txt", "校园新闻，UTF-8 编码。".encode(), "text/plain"),
        ("说明.txt", "校园新闻，GBK 编码。".encode("gb18030"), "text/plain"),
        ("bom.txt", "\ufeff带 BOM".encode(), "text/plain"),
    ],
)
def test_allowed_attachments(filename, data, content_type):
    stream = io.BytesIO(data)
    info = check_attachment(filename, stream)
    assert info.ext == filename.rsplit(".", 1)[1].lower()
    assert content_type in info.content_type
    assert info.size == len(data)
    assert stream.tell() == 0  # the caller can read it again


@pytest.mark.parametrize(
    ("filename", "data", "named"),
    [
        ("通知.pdf", b"<html><script>alert(1)</script></html>", "HTML"),
        ("通知.pdf", b"just some text", "plain text"),
        ("setup.exe", b"MZ\x90\x00", ".exe"),
        ("page.html", b"<html></html>", ".html"),
        ("page.htm", b"<html></html>", ".htm"),
        ("logo.svg", b"<svg/>", ".svg"),
        ("app.js", b"alert(1)", ".js"),
        ("run.bat", b"echo", ".bat"),
        ("archive.rar", b"Rar!\x1a\x07\x00", ".rar"),
        ("noextension", b"data", "noextension"),
        ("通知.docx", plain_zip(), ".docx"),
        ("通知.docx", OLE, "old Office"),
        ("表格.xls", ooxml("xl/workbook.xml"), "ZIP"),
        ("文稿.odt", odf("text/html"), ".odt"),
        ("说明.txt", b"MZ\x00\x00\x00binary", ".txt"),
        ("说明.txt", b"\xff\xfe\x00\x00bad", ".txt"),
        ("坏.zip", b"PK\x03\x04 not really a zip", ".zip"),
    ],
)
def test_refused_attachments_name_the_problem(filename, data, named):
    with pytest.raises(UploadError) as caught:
        check_attachment(filename, io.BytesIO(data))
    assert named in str(caught.value)


def test_empty_attachment_is_refused():
    with pytest.raises(UploadError, match="empty"):
        check_attachment("空.pdf", io.BytesIO(b""))


# --- names and sizes ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "clean"),
    [
        ("2024年春季运动会通知.docx", "2024年春季运动会通知.docx"),
        ("C:\\Users\\老师\\桌面\\成绩 汇总.xlsx", "成绩 汇总.xlsx"),
        ("../../etc/passwd", "passwd"),
        ("/var/www/../x.pdf", "x.pdf"),
        ("a\x00b\x1fc\x7f.pdf", "abc.pdf"),
        ("简历\u202egpj.exe", "简历gpj.exe"),
        ("  多个   空格\t名字 .pdf  ", "多个 空格 名字 .pdf"),
        ("报告.pdf...", "报告.pdf"),
        ("", "file"),
        ("..", "file"),
        ("\\\\server\\share\\", "file"),
    ],
)
def test_clean_original_name(raw, clean):
    assert clean_original_name(raw) == clean


def test_long_names_are_cut_but_keep_their_extension():
    name = clean_original_name("很长的名字" * 100 + ".pdf")
    assert len(name) == 200
    assert name.endswith(".pdf")
    assert name.startswith("很长的名字")


def test_random_name_is_hex_and_unique():
    names = {random_name("JPG") for _ in range(100)}
    assert len(names) == 100
    for name in names:
        assert re.fullmatch(r"[0-9a-f]{32}\.jpg", name)
    assert random_name(".pdf").endswith(".pdf")


@pytest.mark.parametrize("bad", ["", "../x", "j/pg", "toolongextension"])
def test_random_name_refuses_odd_extensions(bad):
    with pytest.raises(ValueError):
        random_name(bad)


@pytest.mark.parametrize(
    ("size", "text"),
    [
        (0, "0 B"),
        (1023, "1,023 B"),
        (1024, "1 KB"),
        (1536, "1.5 KB"),
        (int(1.2 * 1024 * 1024), "1.2 MB"),
        (8 * 1024 * 1024, "8 MB"),
        (1024**2 - 10, "1 MB"),  # rounds up to the next unit, not "1,024 KB"
        (3 * 1024**3, "3 GB"),
    ],
)
def test_display_size(size, text):
    assert display_size(size) == text


def test_display_size_follows_the_readers_number_format():
    app = Flask(__name__)
    Babel(app, locale_selector=lambda: "de")
    with app.test_request_context("/"):
        assert display_size(1536) == "1,5 KB"
        assert display_size(1023) == "1.023 B"


# --- bounded image work ------------------------------------------------------


@pytest.fixture(scope="module")
def photo_48mp():
    """An 8000 x 6000 JPEG: what a 48-megapixel phone camera produces."""
    out = io.BytesIO()
    Image.new("RGB", (8000, 6000), (120, 130, 140)).save(out, "JPEG", quality=80)
    return out.getvalue()


def small_jpeg():
    out = io.BytesIO()
    Image.new("RGB", (64, 48), (0, 128, 0)).save(out, "JPEG")
    return out.getvalue()


def test_48_megapixel_photo_is_accepted_and_decoded_at_reduced_scale(
    photo_48mp, monkeypatch
):
    decoded = []
    thumbnail = Image.Image.thumbnail

    def spy(image, *args, **kwargs):
        decoded.append(image.size)
        return thumbnail(image, *args, **kwargs)

    monkeypatch.setattr(Image.Image, "thumbnail", spy)
    result = process_image(io.BytesIO(photo_48mp))
    assert (result.width, result.height) == (1600, 1200)
    # libjpeg decoded a quarter of each side: 12 MB of pixels, not 192 MB.
    assert decoded == [(2000, 1500)]


def test_more_than_50_megapixels_is_refused_with_how_to_shrink_it():
    with pytest.raises(UploadError) as caught:
        process_image(io.BytesIO(png_header(8000, 6400)))  # 51.2 MP
    message = str(caught.value)
    assert "50 megapixels" in message
    assert "Resize" in message and "4000 pixels" in message


def test_only_two_images_are_decoded_at_once(monkeypatch):
    running, most = 0, 0
    lock = threading.Lock()
    decode = uploads._decode

    def slow_decode(*args):
        nonlocal running, most
        with lock:
            running += 1
            most = max(most, running)
        time.sleep(0.05)
        try:
            return decode(*args)
        finally:
            with lock:
                running -= 1

    monkeypatch.setattr(uploads, "_decode", slow_decode)
    results, data = [], small_jpeg()
    threads = [
        threading.Thread(target=lambda: results.append(process_image(io.BytesIO(data))))
        for _ in range(6)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert len(results) == 6
    assert most == uploads.MAX_PARALLEL_DECODES == 2


def test_upload_that_waits_too_long_for_a_decode_is_asked_to_retry(monkeypatch):
    monkeypatch.setattr(uploads, "DECODE_WAIT_SECONDS", 0.05)
    taken = [uploads._decode_slots.acquire(timeout=5) for _ in range(2)]
    try:
        with pytest.raises(UploadError) as caught:
            process_image(io.BytesIO(small_jpeg()))
    finally:
        for _ in taken:
            uploads._decode_slots.release()
    assert "busy" in str(caught.value)
    assert process_image(io.BytesIO(small_jpeg())).width == 64  # slots freed


def test_large_paletted_png_is_converted_band_by_band_with_right_colours(
    monkeypatch,
):
    image = Image.new("RGB", (6400, 600), (255, 0, 0))
    image.paste((0, 0, 255), (3200, 0, 6400, 600))
    paletted = image.quantize(4)
    out = io.BytesIO()
    paletted.save(out, "PNG")
    converted = []
    convert = Image.Image.convert

    def spy(self, mode=None, *args, **kwargs):
        if self.mode == "P":
            converted.append(self.size)
        return convert(self, mode, *args, **kwargs)

    monkeypatch.setattr(Image.Image, "convert", spy)
    result = reopen(process_image(io.BytesIO(out.getvalue())))
    assert result.size == (1600, 150)
    assert result.getpixel((400, 75))[:3] == (255, 0, 0)
    assert result.getpixel((1200, 75))[:3] == (0, 0, 255)
    # Never the whole 6400 x 600 picture at 4 bytes a pixel at once.
    assert converted and all(height < 600 for _width, height in converted)
