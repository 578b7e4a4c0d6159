"""Screenshots for a person to look at, saved only when SHOTS_DIR is set."""

import os


def save_screenshot(page, name: str, full_page: bool = True) -> None:
    folder = os.environ.get("SHOTS_DIR")
    if folder:
        os.makedirs(folder, exist_ok=True)
        page.screenshot(path=f"{folder}/{name}.png", full_page=full_page)
