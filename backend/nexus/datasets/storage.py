"""Where dataset files live: one DuckDB file per version, written under a temporary name and renamed.

    <data dir>/datasets/<dataset id>/<version id>.duckdb      a published, immutable version
    <data dir>/datasets/<dataset id>/<version id>.duckdb.tmp  being written (removed on failure)
    <data dir>/uploads/<uuid>                                  an upload being received

A rename is atomic, so a version file is either whole or absent. What a crash leaves (temporary
files, files of versions with no metadata row) is removed by ``sweep`` at start-up.
"""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import Callable, Iterable
from pathlib import Path

import duckdb
import structlog

log = structlog.get_logger(__name__)

SUFFIX = ".duckdb"

# Called with the files of a dataset about to be removed, so that holders of open handles (the
# query engine's pooled connections) let go of them first.
removal_hooks: list[Callable[[list[Path]], None]] = []
TMP_SUFFIX = ".duckdb.tmp"


class DatasetStore:
    """Paths and file operations for dataset versions."""

    def __init__(self, data_dir: Path) -> None:
        self.root = data_dir / "datasets"
        self.uploads = data_dir / "uploads"

    def ensure(self) -> None:
        """Create the directories."""
        self.root.mkdir(parents=True, exist_ok=True)
        self.uploads.mkdir(parents=True, exist_ok=True)

    def new_upload_path(self) -> Path:
        """Return a fresh path to receive an upload into."""
        self.ensure()
        return self.uploads / uuid.uuid4().hex

    def version_path(self, dataset_id: uuid.UUID, version_id: uuid.UUID) -> Path:
        """Return where a published version's file lives."""
        return self.root / str(dataset_id) / f"{version_id}{SUFFIX}"

    def temporary_path(self, dataset_id: uuid.UUID, version_id: uuid.UUID) -> Path:
        """Return where a version is written before it is published; the directory exists."""
        directory = self.root / str(dataset_id)
        directory.mkdir(parents=True, exist_ok=True)
        return directory / f"{version_id}{TMP_SUFFIX}"

    def publish(self, temporary: Path, final: Path) -> None:
        """Make a written version visible, atomically and durably."""
        with temporary.open("rb") as handle:
            os.fsync(handle.fileno())
        os.replace(temporary, final)
        directory = os.open(final.parent, os.O_RDONLY)
        try:
            os.fsync(directory)
        finally:
            os.close(directory)

    @staticmethod
    def discard(*paths: Path) -> None:
        """Remove files (and DuckDB's side files) if they exist."""
        for path in paths:
            for candidate in (path, path.with_name(path.name + ".wal")):
                candidate.unlink(missing_ok=True)
            shutil.rmtree(path.with_name(path.name + ".spill"), ignore_errors=True)

    def remove_dataset(self, dataset_id: uuid.UUID) -> None:
        """Remove every file of a dataset."""
        directory = self.root / str(dataset_id)
        files = sorted(directory.glob(f"*{SUFFIX}")) if directory.exists() else []
        for hook in removal_hooks:
            hook(files)
        shutil.rmtree(self.root / str(dataset_id), ignore_errors=True)

    def connect_read_only(self, path: Path) -> duckdb.DuckDBPyConnection:
        """Open a published version for reading; no file or network access from SQL."""
        con = duckdb.connect(
            str(path), read_only=True, config={"enable_external_access": False, "threads": 1}
        )
        con.execute("SET lock_configuration = true")
        return con

    def sweep(self, live_versions: Iterable[tuple[uuid.UUID, uuid.UUID]]) -> int:
        """Remove uploads, temporary files and files of versions without metadata; return how many."""
        live = {self.version_path(dataset_id, version_id) for dataset_id, version_id in live_versions}
        live_dirs = {path.parent for path in live}
        removed = 0
        if self.uploads.exists():
            for path in self.uploads.iterdir():
                _remove(path)
                removed += 1
        if not self.root.exists():
            return removed
        for directory in self.root.iterdir():
            if directory not in live_dirs:
                shutil.rmtree(directory, ignore_errors=True)
                removed += 1
                continue
            for path in directory.iterdir():
                if path not in live:
                    _remove(path)
                    removed += 1
        if removed:
            log.info("dataset_sweep", removed=removed)
        return removed


def _remove(path: Path) -> None:
    if path.is_dir():
        shutil.rmtree(path, ignore_errors=True)
    else:
        path.unlink(missing_ok=True)
