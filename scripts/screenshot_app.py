"""Take README's app screenshots: the app on a model (default: the bundled one), the prefilled example rendered.

Drives the system Chromium through Playwright (no browser download), like ``tests/test_browser.py``:

    python scripts/screenshot_app.py --out-dir docs [--model DIR_OR_ID] [--yaw 0.7]

writes ``app_desktop.png`` (what a 1400 x 1000 laptop window shows, unscrolled) and ``app_phone.png`` (a 390 x 844
phone: the top of the page beside the screen scrolled to Render, side by side), both as small palette PNGs.
``--full-page`` also writes ``app_full.png``, the whole desktop page.
"""

from __future__ import annotations

import argparse
import io
import shutil
import socket
import sys
import tempfile
from pathlib import Path

from PIL import Image

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

import app
from sem2nerf import DEFAULT_MODEL

BROWSER_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                "--disable-default-apps", "--disable-sync", "--no-first-run"]
DESKTOP, PHONE = (1400, 1000), (390, 844)
IDLE = "() => !document.querySelector('.wrap.generating, #render-output .wrap:not(.hide), #overlay-output .wrap:not(.hide)')"


def small_png(shot: bytes, path: Path) -> None:
    """A screenshot saved with a 256-colour palette (a page is mostly flat colour: a fraction of the bytes)."""
    image = Image.open(io.BytesIO(shot)).convert("RGB")
    image.quantize(256, method=Image.Quantize.MEDIANCUT, dither=Image.Dither.NONE).save(path, optimize=True)


def rendered_page(browser, url: str, viewport: tuple[int, int], yaw: float | None, failed: Path):
    """A page on the app at ``viewport`` with the prefilled example rendered (and the yaw slider moved)."""
    from playwright.sync_api import TimeoutError as PlaywrightTimeout

    page = browser.new_page(viewport={"width": viewport[0], "height": viewport[1]})
    page.goto(url, wait_until="load")
    page.wait_for_selector("#mask-editor canvas", timeout=60_000)
    page.wait_for_timeout(2000)
    page.click("#render-button")
    try:
        page.wait_for_selector("#render-output img", timeout=120_000)
    except PlaywrightTimeout:
        page.screenshot(path=str(failed), full_page=True)
        raise SystemExit(f"the render did not appear within 2 minutes; the page is in {failed}") from None
    page.wait_for_function(IDLE, timeout=180_000)
    if yaw is not None:
        src = page.locator("#render-output img").get_attribute("src")
        track = page.locator("#yaw input[type='range']")
        track.scroll_into_view_if_needed()
        box = track.bounding_box()
        page.mouse.click(box["x"] + yaw * box["width"], box["y"] + box["height"] / 2)
        page.wait_for_function("s => document.querySelector('#render-output img').getAttribute('src') !== s",
                               arg=src, timeout=180_000)
        page.wait_for_function(IDLE, timeout=180_000)
    page.wait_for_timeout(3000)  # the overlay finishes after the main view
    return page


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default=DEFAULT_MODEL)
    parser.add_argument("--out-dir", default=str(REPO / "docs"))
    parser.add_argument("--yaw", type=float, default=None, help="also move the yaw slider to this fraction of its track (0-1)")
    parser.add_argument("--full-page", action="store_true", help="also write app_full.png, the whole desktop page")
    parser.add_argument("--chromium", default=shutil.which("chromium") or shutil.which("chromium-browser"))
    args = parser.parse_args(argv)
    if not args.chromium:
        parser.error("no Chromium found: install it (apt-get install chromium) or pass --chromium PATH")
    from playwright.sync_api import sync_playwright

    model, status = app.load_model(args.model, "cpu")
    if model is None:
        parser.error(status)
    out = Path(args.out_dir)
    out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        demo = app.build_demo(model, status, workdir=Path(tmp))
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        app.serve(demo, model, server_name="127.0.0.1", server_port=port, prevent_thread_lock=True, quiet=True)
        url = f"http://127.0.0.1:{port}"
        try:
            with sync_playwright() as p:
                browser = p.chromium.launch(executable_path=args.chromium, args=BROWSER_ARGS)
                page = rendered_page(browser, url, DESKTOP, args.yaw, out / "screenshot_failed.png")
                page.evaluate("window.scrollTo(0, 0)")
                small_png(page.screenshot(), out / "app_desktop.png")
                if args.full_page:
                    small_png(page.screenshot(full_page=True), out / "app_full.png")
                page.close()

                page = rendered_page(browser, url, PHONE, args.yaw, out / "screenshot_failed.png")
                page.evaluate("window.scrollTo(0, 0)")
                top = Image.open(io.BytesIO(page.screenshot()))
                page.locator("#render-button").evaluate("b => b.scrollIntoView({block: 'start'})")
                page.wait_for_timeout(500)
                result = Image.open(io.BytesIO(page.screenshot()))
                gap = 16
                both = Image.new("RGB", (2 * PHONE[0] + gap, PHONE[1]), (60, 60, 60))
                both.paste(top.convert("RGB"), (0, 0))
                both.paste(result.convert("RGB"), (PHONE[0] + gap, 0))
                buffer = io.BytesIO()
                both.save(buffer, "PNG")
                small_png(buffer.getvalue(), out / "app_phone.png")
                browser.close()
        finally:
            demo.close()
    for name in ("app_desktop.png", "app_phone.png", *(["app_full.png"] if args.full_page else [])):
        print(f"wrote {out / name} ({(out / name).stat().st_size / 1024:.0f} KB)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
