"""Nothing half-written: a stage's files land whole when it succeeds, and not at all when it fails or is killed."""

import hashlib
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from specweave_ml.fileio import write_text
from specweave_ml.paths import IncrementPaths
from specweave_ml.transaction import clear_stale, staged


def snapshot(root: Path) -> dict[str, str]:
    """Every file under ``root`` (the Optuna study aside) with the sha256 of its bytes."""
    return {str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(root.rglob("*")) if p.is_file() and p.relative_to(root).parts[0] != "tuning"}


@pytest.fixture
def increment(tmp_path) -> IncrementPaths:
    paths = IncrementPaths.of(tmp_path / "increments", "0001-demo")
    write_text(paths.metadata, '{"id": "0001-demo"}\n')
    write_text(paths.spec, "# spec\n")
    write_text(paths.root / "data" / "train.parquet", "rows\n")
    write_text(paths.root / "reports" / "old.json", "{}\n")
    return paths


def test_a_stage_that_succeeds_lands_what_it_added_changed_and_removed(increment):
    with staged(increment, "train") as paths:
        assert paths.root != increment.root and paths.final == increment.root
        write_text(paths.spec, "# spec, rewritten\n")
        write_text(paths.root / "models" / "champion" / "model.pkl", "model\n")
        (paths.root / "reports" / "old.json").unlink()
    after = snapshot(increment.root)
    assert (increment.spec.read_text(), increment.root.joinpath("models/champion/model.pkl").read_text()) == \
        ("# spec, rewritten\n", "model\n")
    assert "reports/old.json" not in after and not (increment.root / "reports").exists()
    assert not increment.staging_dir.exists()


@pytest.mark.parametrize("failure", [ValueError("bad data found late"), KeyboardInterrupt()])
def test_a_stage_that_fails_at_any_point_leaves_the_increment_as_it_was(increment, failure):
    before = snapshot(increment.root)
    with pytest.raises(type(failure)):
        with staged(increment, "evaluate") as paths:
            write_text(paths.spec, "# half of a new spec\n")
            write_text(paths.root / "data" / "train.parquet", "other rows\n")  # a hard-linked file, replaced
            (paths.root / "reports" / "old.json").unlink()
            raise failure
    assert snapshot(increment.root) == before
    assert not increment.staging_dir.exists()


def test_the_optuna_study_is_not_staged_so_a_stopped_tuning_run_resumes(increment):
    with pytest.raises(RuntimeError):
        with staged(increment, "train") as paths:
            write_text(paths.tuning / "optuna.db", "finished trials\n")
            raise RuntimeError("killed mid-tuning")
    assert (increment.root / "tuning" / "optuna.db").read_text() == "finished trials\n"


def test_a_first_stage_that_fails_leaves_no_folder_behind(tmp_path):
    paths = IncrementPaths.of(tmp_path / "increments", "0002-new")
    with pytest.raises(ValueError):
        with staged(paths, "fetch"):
            raise ValueError("no such file")
    assert list(tmp_path.iterdir()) == []


@pytest.mark.slow
def test_staging_left_by_a_killed_run_is_cleared_and_a_live_one_kept(increment):
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    left = increment.staging_dir / f"{increment.name}.train.{dead.stdout.strip()}"
    live = increment.staging_dir / f"{increment.name}.serve.{os.getppid()}"
    for folder in (left, live):
        write_text(folder / "spec.md", "stale\n")
    clear_stale(increment)
    assert not left.exists() and live.exists()


def test_a_second_stage_on_the_same_increment_is_refused_naming_the_process_that_holds_it(increment):
    from specweave_ml.errors import SpecweaveError

    with staged(increment, "train"):
        with pytest.raises(SpecweaveError, match=rf"is being written by process {os.getpid()} \(stage=train\)"):
            with staged(increment, "monitor"):
                pass
    with staged(increment, "monitor"):  # free again once the first one is done
        pass


def test_a_run_killed_while_landing_is_finished_by_the_next_not_thrown_away(increment):
    import json

    from specweave_ml.transaction import JOURNAL

    left = increment.staging_dir / f"{increment.name}.train.999999999"  # no such process
    write_text(left / "spec.md", "# spec of the landed stage\n")
    write_text(left / "reports" / "new.json", "{}\n")
    (left / JOURNAL).write_text(json.dumps({"final": str(increment.root), "changed": ["spec.md", "reports/new.json"],
                                             "removed": ["reports/old.json"]}))
    (left / "reports" / "new.json").rename(increment.root / "reports" / "new.json")  # moved before the kill
    clear_stale(increment)
    assert increment.spec.read_text() == "# spec of the landed stage\n"
    assert (increment.root / "reports" / "new.json").exists() and not (increment.root / "reports" / "old.json").exists()
    assert not left.exists()


# --- a real run, killed ------------------------------------------------------------------------------------

def _default_sigint() -> None:
    # As in a terminal: a suite started in the background (`make test &`) passes SIGINT on as ignored, and Python
    # then never turns Ctrl-C into KeyboardInterrupt.
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def _cli(root: Path, *args: str, **popen) -> subprocess.Popen:
    env = {**os.environ, "SPECWEAVE_ROOT": str(root), "OMP_WAIT_POLICY": "PASSIVE"}
    return subprocess.Popen([sys.executable, "-m", "specweave_ml", "problem=breast_cancer", *args], cwd=root, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, preexec_fn=_default_sigint, **popen)


def _wait_for(condition, process: subprocess.Popen, timeout: float = 120.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert process.poll() is None, f"the stage ended before the kill: {process.communicate()[1][-2000:]}"
        assert time.monotonic() < deadline, "the stage never reached the point to kill it at"
        time.sleep(0.005)


def _written(staged_file: Path, final_file: Path):
    """True once the stage has written ``staged_file`` in its staging copy (it is new, or newer than the increment's)."""
    def check() -> bool:
        try:
            staged_time = staged_file.stat().st_mtime_ns
        except FileNotFoundError:
            return False
        return not final_file.exists() or staged_time > final_file.stat().st_mtime_ns
    return check


@pytest.mark.slow
@pytest.mark.parametrize("stage, marker, sig", [
    ("train", "models/previous/MLmodel", signal.SIGKILL),  # after it moved the champion aside, before it lands
    ("evaluate", "reports/predictions.parquet", signal.SIGKILL),  # after it wrote new predictions
    ("evaluate", "reports/predictions.parquet", signal.SIGINT),  # Ctrl-C
])
def test_killing_a_real_run_mid_stage_leaves_every_file_of_the_increment_as_it_was(tmp_path, stage, marker, sig):
    done = _cli(tmp_path)
    assert done.wait(timeout=300) == 0, done.communicate()[1][-2000:]
    inc = tmp_path / "increments" / "0002-breast-cancer"
    before, index = snapshot(inc), (tmp_path / "increments" / "README.md").read_bytes()

    run = _cli(tmp_path, f"stage={stage}", "seed=7")  # another seed: every result of the stage would change
    staging = tmp_path / "increments" / ".staging" / f"0002-breast-cancer.{stage}.{run.pid}"
    _wait_for(_written(staging / marker, inc / marker), run)
    run.send_signal(sig)
    code = run.wait(timeout=60)
    assert code != 0
    if sig == signal.SIGINT:
        err = run.communicate()[1]
        assert "Traceback" not in err and f"stage={stage} was interrupted" in err, err[-2000:]

    assert snapshot(inc) == before
    assert (tmp_path / "increments" / "README.md").read_bytes() == index
    finished = _cli(tmp_path, f"stage={stage}", "seed=7")  # the next run clears what the killed one left
    assert finished.wait(timeout=300) == 0, finished.communicate()[1][-2000:]
    assert not (tmp_path / "increments" / ".staging").exists()
    assert snapshot(inc) != before
