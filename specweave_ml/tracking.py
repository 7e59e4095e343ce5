"""MLflow tracking: it observes the steps and decides nothing.

One parent run per training execution of an increment, one child run per baseline and candidate; the
holdout evaluation and the packaged model are added to the same parent later. The embedded SQLite store
is the default (``conf/tracking/sqlite.yaml``); ``tracking=server`` points at an ``mlflow server`` that every
run of a team reports to (runs, metrics, artifacts proxied by the server, the model registry).
"""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Optional

from omegaconf import DictConfig

from specweave_ml.errors import ConfigError

SERVER_CHECK_SECONDS = 5.0


def require_server(tracking: DictConfig) -> None:
    """A tracking server that does not answer stops the run before it writes anything: MLflow's client would
    otherwise retry each call for minutes and fail after training. A no-op for a file store or tracking=off."""
    uri = str(tracking.uri)
    if not tracking.enabled or not uri.startswith(("http://", "https://")):
        return
    import httpx

    try:
        answer = httpx.get(uri.rstrip("/") + "/health", timeout=SERVER_CHECK_SECONDS)
    except httpx.HTTPError as err:
        raise ConfigError("tracking.uri", f"no MLflow tracking server answers at {uri} ({type(err).__name__}: {err})",
                          "start one (`make tracking-server`, or `mlflow server --backend-store-uri sqlite:///mlflow.db "
                          "--host 127.0.0.1 --port 5000`), point tracking.uri at it, or use tracking=sqlite") from None
    if answer.status_code != 200:
        raise ConfigError("tracking.uri", f"{uri}/health answered HTTP {answer.status_code}, not an MLflow server's OK",
                          "check the address and port of the MLflow tracking server, or use tracking=sqlite")


def git_commit(root: str) -> str:
    try:
        out = subprocess.run(["git", "rev-parse", "HEAD"], cwd=root, capture_output=True, text=True, timeout=5)
        return out.stdout.strip() if out.returncode == 0 else "unknown"
    except (OSError, subprocess.TimeoutExpired):
        return "unknown"


class Tracker:
    """A thin handle on one MLflow experiment; every method is a no-op when tracking is off."""

    def __init__(self, tracking: DictConfig, root: str):
        self.enabled = bool(tracking.enabled)
        self.uri = str(tracking.uri)
        self.experiment = str(tracking.experiment)
        self.root = root
        self._client = None
        self._experiment_id: Optional[str] = None

    @property
    def client(self):
        if self._client is None:
            import mlflow
            from mlflow.tracking import MlflowClient

            if self.uri.startswith("sqlite:///"):  # the URI itself was checked by settings_check
                Path(self.uri.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
            mlflow.set_tracking_uri(self.uri)
            mlflow.set_registry_uri(self.uri)
            self._client = MlflowClient(self.uri, registry_uri=self.uri)
            found = self._client.get_experiment_by_name(self.experiment)
            if found is None:
                location = (Path(self.root) / "mlartifacts").resolve().as_uri() if self.uri.startswith("sqlite") else None
                self._experiment_id = self._client.create_experiment(self.experiment, artifact_location=location)
            else:
                self._experiment_id = found.experiment_id
        return self._client

    def start_parent(self, increment: str, tags: dict) -> Optional[str]:
        if not self.enabled:
            return None
        run = self.client.create_run(self._experiment_id, run_name=increment, tags={"increment": increment, **tags})
        return run.info.run_id

    def log_child(self, parent: Optional[str], name: str, kind: str, params: dict, metrics: dict, tags: dict) -> Optional[str]:
        if not self.enabled or parent is None:
            return None
        run = self.client.create_run(
            self._experiment_id, run_name=name,
            tags={"mlflow.parentRunId": parent, "kind": kind, **tags},
        )
        self.log(run.info.run_id, params=params, metrics=metrics)
        self.client.set_terminated(run.info.run_id)
        return run.info.run_id

    def log(self, run_id: Optional[str], params: dict | None = None, metrics: dict | None = None,
            artifacts: list[Path] | None = None, artifact_dir: str | None = None, end: bool = False) -> None:
        if not self.enabled or run_id is None:
            return
        from mlflow.entities import Metric, Param

        import time

        now = int(time.time() * 1000)
        self.client.log_batch(
            run_id,
            metrics=[Metric(k, float(v), now, 0) for k, v in (metrics or {}).items() if v is not None],
            params=[Param(k, str(v)[:500]) for k, v in (params or {}).items()],
        )
        for path in artifacts or []:
            self.client.log_artifact(run_id, str(path), artifact_dir)
        if end:
            self.client.set_terminated(run_id)

    def register_model(self, run_id: Optional[str], model, example, name: str, requirements: list[str],
                       champion: bool = True, tags: Optional[dict] = None) -> Optional[str]:
        """Log the model to the run and register it under the increment's name; point `champion` at it only
        when the increment passed its gates (a version that did not is tagged ``ready=false``)."""
        if not self.enabled or run_id is None:
            return None
        client = self.client  # sets the tracking URI before mlflow.start_run looks for the run
        import mlflow
        import mlflow.sklearn
        from mlflow.models import infer_signature

        from specweave_ml.packaging import quiet_pickle_warning

        quiet_pickle_warning()
        example = example.head(5)
        with mlflow.start_run(run_id=run_id):
            info = mlflow.sklearn.log_model(
                model, name="model", signature=infer_signature(example, model.predict(example)),
                input_example=example, pip_requirements=requirements,
                serialization_format="cloudpickle", registered_model_name=name,
            )
        version = str(info.registered_model_version)
        client.set_model_version_tag(name, version, "ready", str(champion).lower())
        for key, value in (tags or {}).items():
            client.set_model_version_tag(name, version, key, str(value))
        if champion:
            client.set_registered_model_alias(name, "champion", version)
        return version
