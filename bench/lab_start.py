"""How long a learner waits: `dockyard lab` started → lesson 00 open in Chromium with its kernel idle.

Each run starts `dockyard lab --no-browser` as a learner would (a fresh sandbox of its own, the
server dropped to an unprivileged uid), opens lesson 00 in Debian's Chromium through playwright
and waits until the notebook's kernel says idle; then ends the lab and purges its sandbox. Prints
each time and the median. Run as root:

    .venv/bin/python bench/lab_start.py --runs 5
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from playwright.sync_api import expect, sync_playwright  # noqa: E402

from dockyard import network  # noqa: E402
from tests.browser.conftest import CHROMIUM, CHROMIUM_ARGS, Lab  # noqa: E402


def one(browser, n: int) -> tuple[float, float]:
    t0 = time.monotonic()
    lab = Lab(f"blab{os.getpid() % 1000}-{n}", network.free_port())
    try:
        url_after = lab.wait()
        page = browser.new_page(viewport={"width": 1400, "height": 900})
        page.goto(lab.url("lab/tree/00-welcome.ipynb"))
        expect(page.locator(".jp-Notebook-ExecutionIndicator[data-status='idle']")).to_have_count(1, timeout=120_000)
        usable = time.monotonic() - t0
        page.close()
        return url_after, usable
    finally:
        lab.stop()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--runs", type=int, default=5)
    args = ap.parse_args()
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        times = []
        for n in range(args.runs):
            url_after, usable = one(browser, n)
            times.append(usable)
            print(f"run {n + 1}: URL printed after {url_after:.2f} s, notebook usable (kernel idle) after {usable:.2f} s")
        browser.close()
    print(f"median of {len(times)}: {statistics.median(times):.2f} s from `dockyard lab` to a usable notebook page")


if __name__ == "__main__":
    main()
