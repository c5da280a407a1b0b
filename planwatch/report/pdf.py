"""Print an HTML file to PDF with headless Chromium, when it is installed."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

CHROMIUM_CANDIDATES = ("/usr/bin/chromium", "/usr/bin/chromium-browser")
PRINT_TIMEOUT_S = 120


class PdfError(RuntimeError):
    """Chromium ran but did not produce the PDF."""


def find_chromium() -> Path | None:
    for candidate in CHROMIUM_CANDIDATES:
        if Path(candidate).is_file():
            return Path(candidate)
    found = shutil.which("chromium")
    return Path(found) if found else None


def print_to_pdf(chromium: Path, html: Path, pdf: Path) -> None:
    """Write `pdf` from the local file `html` (no network: the report has no external links)."""
    command = [
        str(chromium),
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-dev-shm-usage",  # containers give /dev/shm 64 MiB: use /tmp instead
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--no-first-run",
        "--no-pdf-header-footer",
        f"--print-to-pdf={pdf.resolve()}",
        html.resolve().as_uri(),
    ]
    pdf.unlink(missing_ok=True)
    try:
        done = subprocess.run(  # a fixed program, our own paths
            command, capture_output=True, text=True, timeout=PRINT_TIMEOUT_S, check=False
        )
    except subprocess.TimeoutExpired:
        raise PdfError(f"chromium did not finish within {PRINT_TIMEOUT_S} s") from None
    if done.returncode != 0 or not pdf.is_file() or pdf.stat().st_size == 0:
        tail = (done.stderr or "").strip().splitlines()[-3:]
        raise PdfError(f"chromium exited {done.returncode} without a PDF: {' | '.join(tail)}")
