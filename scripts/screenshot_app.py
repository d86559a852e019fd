"""Take README's app screenshot: the app on a model (default: the bundled one), the prefilled example rendered.

Drives the system Chromium through Playwright (no browser download), like ``tests/test_browser.py``:

    python scripts/screenshot_app.py --out docs/app_screenshot.png [--model DIR_OR_ID] [--yaw 20]
"""

from __future__ import annotations

import argparse
import shutil
import socket
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

import app
from sem2nerf import DEFAULT_MODEL

BROWSER_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                "--disable-default-apps", "--disable-sync", "--no-first-run"]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default=DEFAULT_MODEL)
    parser.add_argument("--out", default=str(REPO / "docs" / "app_screenshot.png"))
    parser.add_argument("--yaw", type=float, default=None, help="also move the yaw slider to this fraction of its track (0-1)")
    parser.add_argument("--chromium", default=shutil.which("chromium") or shutil.which("chromium-browser"))
    args = parser.parse_args(argv)
    if not args.chromium:
        parser.error("no Chromium found: install it (apt-get install chromium) or pass --chromium PATH")
    from playwright.sync_api import TimeoutError as PlaywrightTimeout
    from playwright.sync_api import sync_playwright

    model, status = app.load_model(args.model, "cpu")
    if model is None:
        parser.error(status)
    with tempfile.TemporaryDirectory() as tmp:
        demo = app.build_demo(model, status, workdir=Path(tmp))
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        app.serve(demo, model, server_name="127.0.0.1", server_port=port, prevent_thread_lock=True, quiet=True)
        try:
            with sync_playwright() as p:
                browser = p.chromium.launch(executable_path=args.chromium, args=BROWSER_ARGS)
                page = browser.new_page(viewport={"width": 1400, "height": 1250})
                page.goto(f"http://127.0.0.1:{port}", wait_until="load")
                page.wait_for_selector("#mask-editor canvas", timeout=60_000)
                page.wait_for_timeout(2000)
                page.click("#render-button")
                try:
                    page.wait_for_selector("#render-output img", timeout=120_000)
                except PlaywrightTimeout:
                    failed = Path(args.out).with_name("screenshot_failed.png")
                    page.screenshot(path=str(failed), full_page=True)
                    raise SystemExit(f"the render did not appear within 2 minutes; the page is in {failed}") from None
                page.wait_for_function("() => !document.querySelector('.wrap.generating, #render-output .wrap:not(.hide)')",
                                       timeout=180_000)
                if args.yaw is not None:
                    src = page.locator("#render-output img").get_attribute("src")
                    track = page.locator("#yaw input[type='range']").bounding_box()
                    page.mouse.click(track["x"] + args.yaw * track["width"], track["y"] + track["height"] / 2)
                    page.wait_for_function("s => document.querySelector('#render-output img').getAttribute('src') !== s",
                                           arg=src, timeout=180_000)
                    page.wait_for_function("() => !document.querySelector('#render-output .wrap:not(.hide)')", timeout=180_000)
                page.wait_for_timeout(4000)  # the strip and the overlay finish after the main view
                Path(args.out).parent.mkdir(parents=True, exist_ok=True)
                page.screenshot(path=args.out, full_page=True)
                browser.close()
        finally:
            demo.close()
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
