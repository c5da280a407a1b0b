"""CPython 3.13 for `make test-py313`, on a machine that reaches package registries but not
python.org or GitHub: the python-build-standalone build (3.13.1, linux x86-64) that the Go module
github.com/kluctl/go-embed-python embeds, fetched from the Go module proxy, checked against a
pinned SHA-256 (Go module zips are byte-for-byte reproducible) and unpacked.

    python3 tools/python313/fetch.py DEST      # DEST/bin/python3.13 afterwards

Standard library only: it runs before any virtual environment exists.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import os
import platform
import shutil
import sys
import tempfile
import urllib.request
import zipfile
from pathlib import Path

MODULE = "github.com/kluctl/go-embed-python"
VERSION = "v0.0.0-3.13.1-20241219-1"
SHA256 = "709cd4f40171c6aeaa59a7537bf27230d11b71b8b6e1b2c57c633275ce5c4977"
PLATFORM = "linux-amd64"


def fail(message: str) -> None:
    print(f"fetch python3.13: {message}", file=sys.stderr)
    raise SystemExit(1)


def download(url: str, into: Path) -> None:
    print(f"==> {url}", flush=True)
    with urllib.request.urlopen(url, timeout=120) as answer, into.open("wb") as out:
        shutil.copyfileobj(answer, out, length=1 << 20)


def unpack(archive: Path, dest: Path) -> None:
    """The platform's tree, then what files.json says of it: gzip-compressed files inflated,
    permissions and symbolic links restored."""
    prefix = f"{MODULE}@{VERSION}/python/internal/data/{PLATFORM}/"
    with zipfile.ZipFile(archive) as zipped:
        for member in zipped.infolist():
            if member.filename.startswith(prefix) and not member.is_dir():
                target = dest / member.filename[len(prefix) :]
                target.parent.mkdir(parents=True, exist_ok=True)
                with zipped.open(member) as src, target.open("wb") as out:
                    shutil.copyfileobj(src, out)
    listing = json.loads((dest / "files.json").read_text(encoding="utf-8"))
    for entry in listing["files"]:
        path = dest / entry["name"]
        if "symlink" in entry:
            path.unlink(missing_ok=True)
            path.symlink_to(entry["symlink"])
            continue
        if entry.get("compressed"):
            packed = path.with_name(path.name + ".gz")
            with gzip.open(packed) as src, path.open("wb") as out:
                shutil.copyfileobj(src, out)
            packed.unlink()
        if path.is_file():
            path.chmod(entry["perm"] & 0o777)


def main() -> None:
    if len(sys.argv) != 2:
        fail("usage: fetch.py DEST")
    dest = Path(sys.argv[1])
    if (dest / "bin" / "python3.13").is_file():
        return
    if sys.platform != "linux" or platform.machine() not in ("x86_64", "AMD64"):
        fail(f"only linux x86-64 is packaged here, not {sys.platform} {platform.machine()}")
    proxy = os.environ.get("GOPROXY", "https://proxy.golang.org").split(",")[0].rstrip("/")
    if proxy in ("direct", "off"):
        proxy = "https://proxy.golang.org"
    with tempfile.TemporaryDirectory() as scratch:
        archive = Path(scratch) / "module.zip"
        download(f"{proxy}/{MODULE}/@v/{VERSION}.zip", archive)
        digest = hashlib.sha256(archive.read_bytes()).hexdigest()
        if digest != SHA256:
            fail(f"{archive.name}: SHA-256 {digest}, expected {SHA256}")
        staging = Path(scratch) / "python"
        unpack(archive, staging)
        dest.parent.mkdir(parents=True, exist_ok=True)
        shutil.rmtree(dest, ignore_errors=True)
        shutil.move(staging, dest)
    print(f"==> {dest / 'bin' / 'python3.13'}", flush=True)


if __name__ == "__main__":
    main()
