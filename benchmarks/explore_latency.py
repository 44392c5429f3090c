"""Responsiveness of the explorer: from a change of the point to the updated table, in a browser.

Run: python benchmarks/explore_latency.py [--moves 15] [--function sin_exp]

Serves the explorer on 127.0.0.1 (all methods), opens it in Debian's chromium with Playwright,
picks a catalogue function, then types a new point into the Point box and presses Enter,
``--moves`` times. For each move it measures the time from Enter to the moment the table shows
the new point (the table is rendered before the plots, the symbolic view and the trace). It
also times the same updates of the model alone (``Explorer.update(details=False)``) in this
process, and prints the medians and their ratio — the cost of the page around the model.
Aim: a median under 300 ms with every method on the 2-core machine.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

from diffx import catalog
from diffx.explore import Explorer, serve

CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu",
                 "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run"]


def points(start: float, moves: int) -> list[float]:
    """Distinct nearby points, as a person dragging through values would type them."""
    return [round(start + 0.05 * (k + 1), 2) for k in range(moves)]


def page_latencies(url: str, entry: catalog.CatalogEntry, moves: int) -> list[float]:
    from playwright.sync_api import sync_playwright

    label = f"{entry.name}: {entry.expression}"[:70]
    latencies = []
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path="/usr/bin/chromium",
                                             args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        page.goto(url)
        page.locator("table.diffx-comparison").wait_for(timeout=120_000)
        page.get_by_label("Catalogue", exact=True).select_option(label=label)
        caption = page.locator("table.diffx-comparison caption")
        caption.filter(has_text=entry.expression).wait_for(timeout=60_000)
        box = page.get_by_label("Point", exact=True)
        for x in points(entry.point[0], moves):
            box.fill(repr(x))
            start = time.perf_counter()
            box.press("Enter")
            caption.filter(has_text=f"= {x!r}").wait_for(timeout=60_000)
            latencies.append(time.perf_counter() - start)
            page.wait_for_timeout(700)  # let the plots of this move finish, as a person would
        browser.close()
    return latencies


def model_latencies(entry: catalog.CatalogEntry, moves: int) -> list[float]:
    explorer = Explorer(entry.expression, at=entry.point)
    explorer.update()
    latencies = []
    for x in points(entry.point[0], moves):
        start = time.perf_counter()
        explorer.update(point=repr(x), details=False)
        latencies.append(time.perf_counter() - start)
    return latencies


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--moves", type=int, default=15)
    parser.add_argument("--function", default="sin_exp", help="a one-variable catalogue entry")
    args = parser.parse_args(argv)
    if not Path("/usr/bin/chromium").exists():
        print("needs Debian's chromium at /usr/bin/chromium", file=sys.stderr)
        return 1
    entry = catalog.get(args.function)
    server = serve(threaded=True)
    try:
        page = page_latencies(server.url, entry, args.moves)
    finally:
        server.stop()
    model = model_latencies(entry, args.moves)
    page_median, model_median = statistics.median(page), statistics.median(model)
    print(f"{entry.name} ({entry.expression}), every method, {args.moves} moves of the point")
    print(f"point change -> updated table in the browser: median {page_median * 1e3:.0f} ms "
          f"(min {min(page) * 1e3:.0f}, max {max(page) * 1e3:.0f})")
    print(f"the model's table alone:                      median {model_median * 1e3:.0f} ms")
    print(f"page / model: {page_median / model_median:.1f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
