"""Nothing half-written: a stage works on a staging copy of its increment, moved into place when it succeeds.

``staged(paths, stage)`` copies ``increments/<id>/`` to ``increments/.staging/<id>.<stage>/`` and yields
paths rooted there. The stage reads and writes the copy; when it returns, every file it added, changed or
removed is moved into the increment in one short step (renames, with Ctrl-C held back). When it fails at any
point (bad data found late, a crash, Ctrl-C, a kill), the increment is exactly as it was and the copy is
thrown away (by the next run after a kill).

Large files that are only ever replaced whole (``data/``, ``models/``) are hard-linked rather than copied;
everything the steps write goes through a temporary file and a rename, so a link is never written through.
The Optuna study (``tuning/``) is not staged: a tuning run stopped part-way resumes from its finished trials.
"""

from __future__ import annotations

import filecmp
import os
import shutil
import signal
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

from specweave_ml.paths import IncrementPaths

LINKED = ("data", "models")  # replaced whole, never written in place: hard links are safe and free
UNSTAGED = ("tuning",)


def _files(root: Path) -> dict[str, Path]:
    out = {}
    for path in root.rglob("*"):
        rel = path.relative_to(root)
        if rel.parts[0] in UNSTAGED or not (path.is_file() or path.is_symlink()):
            continue
        out[rel.as_posix()] = path
    return out


def _copy(final: Path, staging: Path) -> None:
    staging.mkdir(parents=True)
    for rel, src in _files(final).items():
        dst = staging / rel
        dst.parent.mkdir(parents=True, exist_ok=True)
        if Path(rel).parts[0] in LINKED:
            try:
                os.link(src, dst)
                continue
            except OSError:  # another file system: copy instead
                pass
        shutil.copy2(src, dst)


def _same(a: Path, b: Path) -> bool:
    try:
        if os.path.samefile(a, b):
            return True
    except OSError:
        return False
    return filecmp.cmp(a, b, shallow=False)


def _commit(staging: Path, final: Path) -> list[str]:
    """Move what the stage changed from ``staging`` into ``final``; returns the changed paths."""
    new, old = _files(staging), _files(final)
    changed = [rel for rel, path in new.items() if rel not in old or not _same(path, old[rel])]
    removed = [rel for rel in old if rel not in new]
    final.mkdir(parents=True, exist_ok=True)
    for rel in changed:
        target = final / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        if target.is_dir() and not target.is_symlink():
            shutil.rmtree(target)
        os.replace(new[rel], target)
    for rel in removed:
        old[rel].unlink()
    for folder in sorted((p for p in final.rglob("*") if p.is_dir()), key=lambda p: len(p.parts), reverse=True):
        if folder.relative_to(final).parts[0] not in UNSTAGED and not any(folder.iterdir()):
            folder.rmdir()
    return changed + removed


def clear_stale(paths: IncrementPaths) -> None:
    """Remove staging copies left by runs that were killed (their process is gone)."""
    if not paths.staging_dir.exists():
        return
    for folder in paths.staging_dir.glob(f"{paths.name}.*"):
        pid = folder.name.rsplit(".", 1)[-1]
        if pid.isdigit() and _alive(int(pid)):
            continue
        shutil.rmtree(folder, ignore_errors=True)


def _alive(pid: int) -> bool:
    if pid == os.getpid():
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


@contextmanager
def staged(paths: IncrementPaths, stage: str) -> Iterator[IncrementPaths]:
    """Run a stage on a copy of the increment; on success move its changes in, else leave the increment untouched."""
    clear_stale(paths)
    created = [d for d in (paths.increments_dir, paths.staging_dir) if not d.exists()]
    staging = paths.staging_dir / f"{paths.name}.{stage}.{os.getpid()}"
    shutil.rmtree(staging, ignore_errors=True)
    if paths.final.exists():
        _copy(paths.final, staging)
    else:
        staging.mkdir(parents=True)
    try:
        yield paths.staged_at(staging)
        blocked = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT, signal.SIGTERM})
        try:
            _commit(staging, paths.final)
        finally:
            signal.pthread_sigmask(signal.SIG_SETMASK, blocked)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
        for folder in (paths.staging_dir, *created):  # a failed first stage leaves no empty folder behind
            if folder.exists() and not any(folder.iterdir()):
                folder.rmdir()
