"""A cache of compiled bundles, so opening an unchanged profiles folder costs a file read.

Compiling the bundled profiles (YAML with ~400 taxonomy nodes) takes ~1.5 s, which is most of
``icp score``'s start-up on a small file. A compiled bundle is kept under the cache folder
(``$ICP_CACHE_DIR``, else ``$XDG_CACHE_HOME/icp-scoring``, else ``~/.cache/icp-scoring``), named
by a hash of everything the compile read: every YAML file in the profiles folder and in the
bundled default folder (a schema may extend it), and the compiler's own source. A change to any
of them is a new name, so a stale bundle is never served. A profiles folder whose schema reads
a taxonomy file from anywhere else is compiled every time. ``ICP_CACHE_DIR=off`` turns the cache
off; a cache folder that cannot be written is skipped.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from collections.abc import Callable
from pathlib import Path

from compiler.bundle import Bundle, BundleFileError, load_bundle, save_bundle
from compiler.schema import DEFAULT_PROFILES_DIR

COMPILER_DIR = Path(__file__).resolve().parent


def cache_dir() -> Path | None:
    configured = os.environ.get("ICP_CACHE_DIR")
    if configured == "off":
        return None
    if configured:
        return Path(configured)
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "icp-scoring"


def source_hash(profiles_dir: Path) -> str:
    digest = hashlib.sha256()
    for label, folder, pattern in (
        ("compiler", COMPILER_DIR, "*.py"),
        ("default", DEFAULT_PROFILES_DIR, "*.y*ml"),
        ("profiles", profiles_dir, "*.y*ml"),
    ):
        for file in sorted(folder.rglob(pattern)):
            digest.update(f"{label}/{file.relative_to(folder).as_posix()}\0".encode())
            digest.update(file.read_bytes())
            digest.update(b"\0")
    return digest.hexdigest()[:32]


def read_only_hashed_files(bundle: Bundle, profiles_dir: Path) -> bool:
    """True when every schema and taxonomy file the compile read lies in a folder the hash covers."""
    roots = (profiles_dir.resolve(), DEFAULT_PROFILES_DIR.resolve())
    for name in bundle.meta.get("schema_files", []):
        path = Path(name) if Path(name).is_absolute() else profiles_dir.resolve().parent / name
        if not any(path.resolve().is_relative_to(root) for root in roots):
            return False
    return True


def cached_compile(profiles_dir: Path, compile_folder: Callable[[Path], Bundle]) -> Bundle:
    """The bundle of ``profiles_dir``: from the cache when its sources are unchanged, else compiled
    by ``compile_folder(profiles_dir)`` (which raises on errors, so nothing broken is cached)."""
    folder = cache_dir()
    key = source_hash(profiles_dir) if folder is not None else ""
    cached = folder / f"{key}.icpb" if folder is not None else None
    if cached is not None and cached.is_file():
        try:
            return load_bundle(cached)
        except BundleFileError:
            pass  # a damaged entry: compile again and replace it
    bundle = compile_folder(profiles_dir)
    if cached is not None and read_only_hashed_files(bundle, profiles_dir):
        try:
            cached.parent.mkdir(parents=True, exist_ok=True)
            with tempfile.NamedTemporaryFile(dir=cached.parent, suffix=".tmp", delete=False) as handle:
                temporary = Path(handle.name)
            save_bundle(bundle, temporary)
            temporary.replace(cached)  # atomic: a concurrent reader sees the old entry or the new one
        except OSError:
            pass
    return bundle
