"""Open a rendered report in headless Chromium and save its first screen as a PNG.

The report is what an LA reads, so check it renders and reads well in a real
browser. Uses Debian's ``chromium`` (``apt-get install -y chromium``, once):

    .venv/bin/python bench/report_screenshot.py \\
        results/synthetic/report/index.html docs/report_first_screen.png
"""

import argparse
import shutil
import subprocess
import sys
from pathlib import Path

WINDOW = "1280,1000"


def screenshot_command(browser: str, report: Path, image: Path) -> list[str]:
    """The headless Chromium command that saves the report's first screen."""
    return [
        browser,
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--hide-scrollbars",
        f"--window-size={WINDOW}",
        f"--screenshot={image.resolve()}",
        report.resolve().as_uri(),
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("report", type=Path)
    parser.add_argument("image", type=Path)
    args = parser.parse_args()
    browser = shutil.which("chromium")
    if browser is None:
        sys.exit("chromium is not installed: run `apt-get install -y chromium` first.")
    if not args.report.is_file():
        sys.exit(f"{args.report} does not exist: run the workflow first (make run).")
    subprocess.run(screenshot_command(browser, args.report, args.image), check=True)
    print(f"saved {args.image}")


if __name__ == "__main__":
    main()
