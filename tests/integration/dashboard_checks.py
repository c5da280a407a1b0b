"""What the live-dashboard test checks in the browser beyond the figures: accessibility (axe-core
in the page), keyboard order, the phone layout, and the tables' downloads.

Every wait is for a condition, bounded by Playwright's timeout.
"""

from __future__ import annotations

import csv
import io
from pathlib import Path
from typing import Any

from openpyxl import load_workbook

# axe-core's impacts that fail the test; the others are printed.
FAILING_IMPACTS = frozenset({"serious", "critical"})
PHONE = {"width": 375, "height": 812}
DESKTOP = {"width": 1280, "height": 1600}

# Every element Tab stops at, in document order (a positive tabindex would break the order).
TAB_STOPS_JS = """() => [...document.querySelectorAll(
        'a[href], button, select, input, textarea, [tabindex]')]
    .filter(e => e.tabIndex >= 0 && !e.disabled && e.getClientRects().length > 0
                 && getComputedStyle(e).visibility !== 'hidden')"""


def describe_violations(violations: list[dict[str, Any]]) -> str:
    lines = []
    for v in violations:
        lines.append(f"[{v['impact']}] {v['id']}: {v['help']} ({len(v['nodes'])} nodes)")
        for node in v["nodes"][:5]:
            lines.append(f"    {node['target']}: {node['summary']}")
    return "\n".join(lines)


async def axe_violations(page: Any, axe_source: str) -> list[dict[str, Any]]:
    """axe-core's violations on the page as it is (injected once per document)."""
    if not await page.evaluate("() => typeof window.axe === 'object'"):
        await page.add_script_tag(content=axe_source)
    result: list[dict[str, Any]] = await page.evaluate(
        """async () => {
            const r = await axe.run(document, {resultTypes: ['violations']});
            return r.violations.map(v => ({id: v.id, impact: v.impact, help: v.help,
                nodes: v.nodes.map(n => ({target: n.target.join(' '),
                                          summary: n.failureSummary}))}));
        }"""
    )
    return result


async def check_accessible(page: Any, axe_source: str, where: str) -> list[dict[str, Any]]:
    """No serious or critical violation; all of them printed (pytest -s shows the minor)."""
    violations = await axe_violations(page, axe_source)
    print(f"axe-core, {where}: {len(violations)} violations\n{describe_violations(violations)}")
    failing = [v for v in violations if v["impact"] in FAILING_IMPACTS]
    assert not failing, f"axe-core, {where}:\n{describe_violations(failing)}"
    return violations


async def check_tab_order(page: Any) -> int:
    """From the top of the page, Tab visits every interactive control once, in document order.
    The page must have no focus yet. Returns the number of stops."""
    count: int = await page.evaluate(
        f"() => {{ const stops = ({TAB_STOPS_JS})();"
        "  if (stops.some(e => e.tabIndex > 0)) throw new Error('a positive tabindex');"
        "  window.__tabStops = stops; return stops.length; }"
    )
    assert count > 20  # plan, language, downloads, area toggles, filters, links
    visited = []
    for _ in range(count):
        await page.keyboard.press("Tab")
        visited.append(
            await page.evaluate("() => window.__tabStops.indexOf(document.activeElement)")
        )
    assert visited == list(range(count)), visited
    kinds = await page.evaluate(
        "() => [...new Set(window.__tabStops.map(e => e.id || e.className || e.tagName))]"
    )
    for kind in ("skip", "plan", "lang", "export", "toggle", "table-wrap"):
        assert kind in kinds, (kind, kinds)
    return count


async def check_phone_layout(page: Any) -> None:
    """At 375 px nothing runs off the page sideways: wide tables scroll inside their region."""
    await page.set_viewport_size(PHONE)
    await page.wait_for_function(f"window.innerWidth === {PHONE['width']}")
    layout = await page.evaluate(
        """() => ({
            page: document.documentElement.scrollWidth,
            view: window.innerWidth,
            wraps: [...document.querySelectorAll('.table-wrap')].map(e => ({
                right: e.getBoundingClientRect().right, scrolls: e.scrollWidth > e.clientWidth,
                overflow: getComputedStyle(e).overflowX})),
            cards: [...document.querySelectorAll('article.card')].map(
                e => e.getBoundingClientRect().right),
        })"""
    )
    assert layout["page"] <= layout["view"], layout["page"]
    assert layout["wraps"] and all(w["right"] <= layout["view"] for w in layout["wraps"])
    assert any(w["scrolls"] for w in layout["wraps"])  # the wide ones do, and may
    assert all(w["overflow"] == "auto" for w in layout["wraps"] if w["scrolls"])
    assert layout["cards"] and max(layout["cards"]) <= layout["view"]


async def screenshot(page: Any, path: Path) -> None:
    """The whole page from its top (a sticky header is drawn where the page is scrolled)."""
    await page.evaluate("() => window.scrollTo(0, 0)")
    await page.wait_for_function("window.scrollY === 0")
    await page.screenshot(path=str(path), full_page=True)


async def download_by_keyboard(page: Any, table: str, fmt: str, folder: Path) -> Path:
    """Focus the table's download link and press Enter; the saved file."""
    await page.focus(f'a.export[data-table="{table}"][data-format="{fmt}"]')
    try:
        async with page.expect_download() as info:
            await page.keyboard.press("Enter")
        download = await info.value
    except Exception as exc:
        focused = await page.evaluate("() => document.activeElement.outerHTML")
        raise AssertionError(f"{table}.{fmt}: no download; focus on {focused}") from exc
    name: str = download.suggested_filename  # plan-table-day.fmt
    assert f"-{table}-" in name and name.endswith(f".{fmt}"), name
    path = folder / name
    await download.save_as(str(path))
    return path


def read_csv(path: Path) -> list[list[str]]:
    raw = path.read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf"), raw[:8]  # the BOM: Excel reads it as UTF-8
    return list(csv.reader(io.StringIO(raw[3:].decode("utf-8"))))


def read_xlsx(path: Path) -> list[tuple[Any, ...]]:
    sheet = load_workbook(path, read_only=True).active
    assert sheet is not None
    return [tuple(row) for row in sheet.iter_rows(values_only=True)]
