"""Nothing half-written: a stage works on a staging copy of its increment, moved into place when it succeeds.

``staged(paths, stage)`` takes the increment's lock (one stage at a time per increment: a second run is told
which process holds it), copies ``increments/<id>/`` to ``increments/.staging/<id>.<stage>.<pid>/`` and
yields paths rooted there. The stage reads and writes the copy; when it returns, the list of what it added,
changed or removed is written down, then applied by renames (Ctrl-C held back). When it fails at any point
before that (bad data found late, a crash, Ctrl-C, a kill), the increment is exactly as it was and the copy
is thrown away (by the next run after a kill); a run killed while applying its list is finished by the next.

Large files that are only ever replaced whole (``data/``, ``models/``) are hard-linked rather than copied;
everything the steps write goes through a temporary file and a rename, so a link is never written through.
The Optuna study (``tuning/``) is not staged: a tuning run stopped part-way resumes from its finished trials.
Nor is ``cache/`` (derived data such as text embeddings, keyed by what they derive from): reused, never trusted as a result.
"""

from __future__ import annotations

import filecmp
import json
import os
import shutil
import signal
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

from specweave_ml.paths import IncrementPaths

LINKED = ("data", "models")  # replaced whole, never written in place: hard links are safe and free
UNSTAGED = ("tuning", "cache")  # written in place: a resumable study; derived data a stage may reuse (embeddings)
JOURNAL = ".landing.json"  # in a staging copy: the renames it is applying; a copy that has one is finished, not dropped


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
    journal = staging / JOURNAL
    tmp = journal.with_suffix(".tmp")
    tmp.write_text(json.dumps({"final": str(final), "changed": changed, "removed": removed}))
    os.replace(tmp, journal)  # from here on the stage has landed, whatever happens to this process
    _apply(staging, final, changed, removed)
    return changed + removed


def _apply(staging: Path, final: Path, changed: list[str], removed: list[str]) -> None:
    """The renames of a journal; applying them again after an interruption finishes the job."""
    final.mkdir(parents=True, exist_ok=True)
    for rel in changed:
        source, target = staging / rel, final / rel
        if not source.exists():  # moved before an interruption
            continue
        target.parent.mkdir(parents=True, exist_ok=True)
        if target.is_dir() and not target.is_symlink():
            shutil.rmtree(target)
        os.replace(source, target)
    for rel in removed:
        (final / rel).unlink(missing_ok=True)
    for folder in sorted((p for p in final.rglob("*") if p.is_dir()), key=lambda p: len(p.parts), reverse=True):
        if folder.relative_to(final).parts[0] not in UNSTAGED and not any(folder.iterdir()):
            folder.rmdir()


def clear_stale(paths: IncrementPaths) -> None:
    """Staging copies left by runs that were killed (their process is gone): one that was landing is finished,
    any other is thrown away."""
    if not paths.staging_dir.exists():
        return
    for folder in paths.staging_dir.glob(f"{paths.name}.*"):
        pid = folder.name.rsplit(".", 1)[-1]
        if not folder.is_dir() or (pid.isdigit() and _alive(int(pid))):
            continue
        journal = folder / JOURNAL
        if journal.exists():
            plan = json.loads(journal.read_text())
            _apply(folder, paths.final, plan["changed"], plan["removed"])
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
def locked(paths: IncrementPaths, stage: str) -> Iterator[None]:
    """One stage at a time per increment; the lock goes with its process, however that ends.

    The lock file lives in the system's temporary folder (named by the increment's absolute path), so a run
    that fails before writing anything leaves nothing in the project; it is never deleted, which keeps two
    processes from ever locking two different files."""
    import fcntl
    import hashlib
    import tempfile

    from specweave_ml.errors import SpecweaveError

    folder = Path(tempfile.gettempdir()) / "specweave-ml-locks"
    folder.mkdir(exist_ok=True)
    key = hashlib.sha256(str(paths.final.resolve()).encode()).hexdigest()[:20]
    with open(folder / f"{key}.lock", "a+") as fh:
        try:
            fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            fh.seek(0)
            holder = fh.read().strip() or "another process"
            raise SpecweaveError(str(paths.final), f"is being written by {holder}",
                                 "wait for that run to finish (or stop it), then run this stage again") from None
        fh.seek(0)
        fh.truncate()
        fh.write(f"process {os.getpid()} (stage={stage})")
        fh.flush()
        try:
            yield
        finally:
            fh.seek(0)
            fh.truncate()


@contextmanager
def staged(paths: IncrementPaths, stage: str) -> Iterator[IncrementPaths]:
    """Run a stage on a copy of the increment; on success move its changes in, else leave the increment untouched."""
    created = [d for d in (paths.increments_dir, paths.staging_dir) if not d.exists()]
    with locked(paths, stage):
        with _staged(paths, stage, created) as staged_paths:
            yield staged_paths


@contextmanager
def _staged(paths: IncrementPaths, stage: str, created: list[Path]) -> Iterator[IncrementPaths]:
    clear_stale(paths)
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
