"""`python -m specweave_ml problem=<brief> stage=<stage>`: the Hydra app.

Compose errors (an unknown option, a value of the wrong type) and our own ``SpecweaveError`` both end in
one line on stderr and exit code 2. Anything else is a bug of ours and keeps its traceback.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import specweave_ml  # noqa: F401  (sets OMP_WAIT_POLICY before any OpenMP library loads)
from specweave_ml import clock

clock.mark_process_start()  # budget_minutes counts from here: imports and config composition are part of the run

CONF_DIR = str(Path(__file__).resolve().parent.parent / "conf")


def _run(cfg) -> None:
    from omegaconf import open_dict

    from specweave_ml.errors import SpecweaveError
    from specweave_ml.stages import run_stage
    from specweave_ml.sweep import job_increments_dir

    folder = job_increments_dir()
    if folder is not None:  # under -m, every job keeps its outputs apart
        with open_dict(cfg):
            cfg.paths.increments = folder
    try:
        run_stage(cfg)
    except SpecweaveError as err:
        print(f"error: {err.message}", file=sys.stderr)
        sys.exit(err.exit_code)
    except KeyboardInterrupt:
        landed = "the stages before it landed, the one running left nothing" if cfg.stage == "all" else \
            "the increment is as it was before it started"
        print(f"stage={cfg.stage} was interrupted: {landed}", file=sys.stderr)
        sys.exit(130)


def _with_project_briefs(argv: list[str]) -> list[str]:
    """Briefs that stage=init wrote under ``<paths.root>/conf/problem/`` compose like the shipped ones: that
    ``conf/`` joins Hydra's search path, after the package's own (a shipped brief is never shadowed)."""
    if any(a.lstrip("+").startswith("hydra.searchpath=") for a in argv):
        return argv  # the user's own search path wins
    if any(a in ("--config-name", "-cn") or a.startswith("--config-name=") for a in argv):
        return argv  # another top config (from_params, for dvc repro) brings its own search path
    root = next((a.split("=", 1)[1] for a in argv if a.startswith("paths.root=")), os.environ.get("SPECWEAVE_ROOT", "."))
    conf = Path(root).resolve() / "conf"
    if not (conf / "problem").is_dir() or conf == Path(CONF_DIR):
        return argv
    quoted = str(conf).replace("\\", "\\\\").replace("'", "\\'")
    return [*argv, f"hydra.searchpath=['file://{quoted}']"]


def main() -> None:
    import hydra
    from hydra.errors import HydraException
    from omegaconf.errors import OmegaConfBaseException

    from specweave_ml.config_errors import describe_compose_error
    from specweave_ml.schema import register

    register()
    # Let compose errors reach us as exceptions, so they read like every other user mistake.
    os.environ.setdefault("HYDRA_FULL_ERROR", "1")
    sys.argv = _with_project_briefs(sys.argv)
    app = hydra.main(version_base="1.3", config_path=CONF_DIR, config_name="config")(_run)
    try:
        app()
    except (HydraException, OmegaConfBaseException) as err:
        print(f"error: {describe_compose_error(err)}", file=sys.stderr)
        sys.exit(2)


if __name__ == "__main__":
    main()
