"""Pictures for the demo school, drawn with Pillow: a logo and photo-like scenes.

Simple shapes and gradients (a sports ground, a stage, a science night, ...),
with a few words such as 运动会 when a CJK font is installed; without one the
pictures are shapes only. Nothing here is a real photo of anyone.
"""

from __future__ import annotations

import functools
import io
import math
import random

from PIL import Image, ImageDraw, ImageFont

WIDTH, HEIGHT = 960, 640  # the largest thumbnail: nothing bigger is ever shown

# Where common systems keep a font with Chinese characters (Debian/Ubuntu,
# Fedora/Arch, Windows, macOS); the first that loads is used.
FONT_PATHS = [
    "/usr/share/fonts/opentype/noto/NotoSansCJK-Bold.ttc",
    "/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc",
    "/usr/share/fonts/noto-cjk/NotoSansCJK-Bold.ttc",
    "/usr/share/fonts/google-noto-cjk/NotoSansCJK-Bold.ttc",
    "/usr/share/fonts/truetype/wqy/wqy-microhei.ttc",
    "/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc",
    "C:/Windows/Fonts/msyhbd.ttc",
    "C:/Windows/Fonts/msyh.ttc",
    "C:/Windows/Fonts/simhei.ttf",
    "/System/Library/Fonts/PingFang.ttc",
    "/System/Library/Fonts/STHeiti Medium.ttc",
]


@functools.cache
def _font_file() -> tuple[str, int] | None:
    """(path, index in a collection) of a usable CJK font, or None."""
    for path in FONT_PATHS:
        try:
            font = ImageFont.truetype(path, 20)
        except (OSError, ImportError, ValueError):
            continue
        # Noto's collections hold the same glyphs for JP, KR, SC, TC: prefer SC.
        for index in range(5):
            try:
                face = ImageFont.truetype(path, 20, index=index)
            except (OSError, ValueError):
                break
            if " SC" in " ".join(face.getname()):
                return path, index
        del font
        return path, 0
    return None


def _font(size: int):
    found = _font_file()
    if found is None:
        return None
    try:
        return ImageFont.truetype(found[0], size, index=found[1])
    except (OSError, ValueError):
        return None


def _gradient(top: str, bottom: str, size=(WIDTH, HEIGHT)) -> Image.Image:
    column = Image.new("RGB", (1, 256))
    start, end = Image.new("RGB", (1, 1), top), Image.new("RGB", (1, 1), bottom)
    a, b = start.getpixel((0, 0)), end.getpixel((0, 0))
    for y in range(256):
        t = y / 255
        column.putpixel(
            (0, y), tuple(round(a[i] + (b[i] - a[i]) * t) for i in range(3))
        )
    return column.resize(size, Image.Resampling.BILINEAR)


def _people(draw, rng, top: int, rows: int, colours) -> None:
    """Rows of heads and shoulders seen from behind: an audience or a class."""
    for row in range(rows):
        y = top + row * 46
        size = 22 + row * 4
        x = -rng.randint(0, 30)
        while x < WIDTH + 40:
            colour = rng.choice(colours)
            draw.ellipse((x, y + size, x + size * 2.2, y + size * 3.2), fill=colour)
            draw.ellipse(
                (x + size * 0.5, y, x + size * 1.6, y + size * 1.2), fill="#2b2320"
            )
            x += int(size * 2.3) + rng.randint(0, 6)


def _sports(draw, rng):
    draw.rectangle((0, 330, WIDTH, HEIGHT), fill="#3f9b4a")
    for lane in range(6):
        inset = lane * 18
        draw.ellipse(
            (-220 + inset, 380 + inset, WIDTH + 220 - inset, 900 - inset),
            outline="#f4f1ea" if lane % 5 == 0 else "#d0553f",
            width=16 if lane % 5 else 4,
        )
    for i in range(9):  # bunting
        x = 40 + i * 110
        draw.polygon(
            [(x, 70), (x + 60, 70), (x + 30, 120)],
            fill=rng.choice(["#e94f37", "#f6c445", "#3a86ff", "#ffffff"]),
        )
    draw.line((0, 68, WIDTH, 78), fill="#ffffff", width=3)
    for i in range(4):  # runners
        x, y = 260 + i * 130, 470 + (i % 2) * 30
        colour = ["#e94f37", "#3a86ff", "#f6c445", "#8338ec"][i]
        draw.ellipse((x, y - 70, x + 28, y - 42), fill="#2b2320")
        draw.line((x + 14, y - 42, x + 4, y), fill=colour, width=14)
        draw.line((x + 4, y, x - 18, y + 40), fill="#2b2320", width=8)
        draw.line((x + 4, y, x + 30, y + 34), fill="#2b2320", width=8)


def _stage(draw, rng):
    draw.rectangle((0, 0, WIDTH, 420), fill="#a3161b")
    for x in range(0, WIDTH, 48):  # curtain folds
        draw.line((x, 0, x, 420), fill="#8a1015", width=10)
    draw.rectangle(
        (140, 70, WIDTH - 140, 150), fill="#c62828", outline="#f6c445", width=4
    )
    draw.rectangle((0, 380, WIDTH, 430), fill="#5d3a1a")
    draw.polygon([(0, 0), (140, 0), (60, 420), (0, 420)], fill="#7c0d12")
    draw.polygon(
        [(WIDTH, 0), (WIDTH - 140, 0), (WIDTH - 60, 420), (WIDTH, 420)], fill="#7c0d12"
    )
    _people(draw, rng, 440, 4, ["#1f3c88", "#2d4fa3", "#f4f1ea", "#1f3c88"])


def _science(draw, rng):
    for _ in range(120):
        x, y = rng.randrange(WIDTH), rng.randrange(HEIGHT)
        r = rng.choice((1, 1, 2))
        draw.ellipse((x - r, y - r, x + r, y + r), fill="#ffffff")
    cx, cy = WIDTH // 2, HEIGHT // 2 + 20
    for angle in (0, 60, 120):
        points = []
        for step in range(73):
            t = math.radians(step * 5)
            x, y = 250 * math.cos(t), 90 * math.sin(t)
            a = math.radians(angle)
            points.append(
                (
                    cx + x * math.cos(a) - y * math.sin(a),
                    cy + x * math.sin(a) + y * math.cos(a),
                )
            )
        draw.line(points, fill="#7fdbff", width=5)
    draw.ellipse((cx - 46, cy - 46, cx + 46, cy + 46), fill="#f6c445")
    draw.ellipse((120, 80, 200, 160), fill="#ff7f50")
    draw.ellipse((780, 430, 830, 480), fill="#b388ff")


def _books(draw, rng):
    draw.rectangle((0, 470, WIDTH, HEIGHT), fill="#8d6e63")
    x = 90
    while x < WIDTH - 90:
        w = rng.randint(34, 62)
        h = rng.randint(220, 330)
        colour = rng.choice(
            ["#e94f37", "#3a86ff", "#2a9d8f", "#f4a261", "#6d597a", "#264653"]
        )
        draw.rectangle((x, 470 - h, x + w, 470), fill=colour)
        draw.rectangle((x + 6, 470 - h + 24, x + w - 6, 470 - h + 34), fill="#f4f1ea")
        x += w + 4
    draw.ellipse((760, 60, 880, 180), fill="#fff3c4")


def _music(draw, rng):
    for i in range(5):
        y = 150 + i * 26
        draw.line((60, y, WIDTH - 60, y), fill="#ffffff", width=3)
    for i in range(7):
        x = 140 + i * 110
        y = 150 + rng.randint(0, 4) * 26
        draw.ellipse((x, y + 40, x + 40, y + 70), fill="#ffffff")
        draw.line((x + 38, y + 55, x + 38, y - 30), fill="#ffffff", width=5)
    _people(draw, rng, 400, 5, ["#ffffff", "#e0e0e0", "#c62828"])


def _campus(draw, rng):
    draw.rectangle((0, 470, WIDTH, HEIGHT), fill="#5aa469")
    draw.rectangle((220, 200, 740, 480), fill="#f1e3c8")
    draw.polygon([(200, 200), (480, 110), (760, 200)], fill="#b5523b")
    for row in range(3):
        for col in range(7):
            x, y = 250 + col * 70, 230 + row * 80
            draw.rectangle((x, y, x + 40, y + 50), fill="#7fb3d5")
    draw.rectangle((450, 400, 510, 480), fill="#6d4c41")
    for x in (80, 150, 820, 890):  # trees
        draw.rectangle((x - 8, 380, x + 8, 480), fill="#6d4c41")
        draw.ellipse((x - 60, 290, x + 60, 410), fill="#2e7d32")
    draw.line((480, 110, 480, 40), fill="#555555", width=4)
    draw.polygon([(482, 40), (540, 55), (482, 70)], fill="#de2910")


SCENES = {
    "sports": (_sports, "#8ecae6", "#dff3ff"),
    "stage": (_stage, "#a3161b", "#a3161b"),
    "science": (_science, "#0b132b", "#1c2541"),
    "books": (_books, "#ffe8c2", "#f7c59f"),
    "music": (_music, "#5a189a", "#9d4edd"),
    "campus": (_campus, "#74b9ff", "#e3f2fd"),
}


def scene(kind: str, words: str = "", seed: int = 0) -> bytes:
    """A 960 x 640 JPEG of a scene, with words on a banner if a font is found."""
    rng = random.Random(seed)
    draw_scene, top, bottom = SCENES[kind]
    image = _gradient(top, bottom)
    draw = ImageDraw.Draw(image)
    draw_scene(draw, rng)
    font = _font(56) if words else None
    if font is not None:
        box = draw.textbbox((0, 0), words, font=font)
        w, h = box[2] - box[0], box[3] - box[1]
        x, y = (WIDTH - w) // 2, 250 if kind == "stage" else 36
        if kind == "stage":
            y = 110 - h // 2 - box[1]
        else:
            draw.rounded_rectangle(
                (x - 28, y - 14, x + w + 28, y + h + 30), radius=18, fill="#0b4a8b"
            )
        draw.text(
            (x, y - box[1] + (0 if kind == "stage" else 8)),
            words,
            font=font,
            fill="#fff7d6",
        )
    out = io.BytesIO()
    image.save(out, "JPEG", quality=88)
    return out.getvalue()


def logo() -> bytes:
    """The demo school's round emblem as a transparent PNG."""
    size = 256
    big = size * 2
    image = Image.new("RGBA", (big, big), (0, 0, 0, 0))
    draw = ImageDraw.Draw(image)
    draw.ellipse((0, 0, big - 1, big - 1), fill="#0b4a8b")
    draw.ellipse((22, 22, big - 23, big - 23), outline="#ffffff", width=10)
    cx = big // 2
    draw.ellipse((cx - 70, 120, cx + 70, 260), fill="#ffbf47")
    for i in range(12):  # the sun's rays
        a = math.radians(i * 30)
        draw.line(
            (
                cx + 88 * math.cos(a),
                190 + 88 * math.sin(a),
                cx + 112 * math.cos(a),
                190 + 112 * math.sin(a),
            ),
            fill="#ffbf47",
            width=10,
        )
    for side in (-1, 1):  # an open book
        draw.polygon(
            [(cx, 330), (cx + side * 170, 300), (cx + side * 170, 380), (cx, 410)],
            fill="#ffffff",
        )
    image = image.resize((size, size), Image.Resampling.LANCZOS)
    out = io.BytesIO()
    image.save(out, "PNG")
    return out.getvalue()
