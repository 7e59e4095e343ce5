"""``compute=dask``: LightGBM and XGBoost fitted through their Dask estimators, everything else unchanged.

Why this shape: the steps, the family and the CV loop stay the same for every compute. ``stage=prepare`` writes the
training part a second time as partitioned Parquet (``write_partitions``); ``stage=train`` opens one ``session`` for
the run (a ``LocalCluster``, or a client of ``compute.scheduler``), closed at the end even on failure. The training
code asks the session to ``wrap`` each model it builds: a registry entry with a ``dask_estimator`` becomes a
``DaskDecisionModel``, whose ``fit`` selects the rows it was given *by their row id* (``__row__``) from the partitions
on the workers, so CV folds, samples and the refit use exactly the rows of local training. Preprocessing is fitted in
this process on those same rows (it is light for the boosters' ``raw`` recipe) and applied on the workers. The fitted
Dask model becomes the library's local estimator (LightGBM's ``to_local()``; XGBoost's booster loaded into
``XGBClassifier``), and ``localise`` turns the whole model into a plain ``DecisionModel``, so validation scores,
thresholds, packaging, SHAP and serving are those of a local model. A model without a Dask estimator, and any fit
with early stopping (the Dask path does not early-stop), trains in this process, and ``notes`` says so.

Heavy imports (dask, distributed, the boosters' Dask modules) happen inside functions: ``compute=local`` never
loads them.
"""

from __future__ import annotations

import contextlib
import io
import logging
import shutil
import warnings
from collections import Counter
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator, Optional

import numpy as np
import pandas as pd
from sklearn.base import clone
from sklearn.pipeline import Pipeline
from sklearn.utils.validation import _check_sample_weight, validate_data

from specweave_ml.data.split import ROW
from specweave_ml.errors import ConfigError, DataError
from specweave_ml.fileio import read_json, write_json
from specweave_ml.models.decision import DecisionModel
from specweave_ml.models.registry import REGISTRY

log = logging.getLogger(__name__)

PARTS = "train_parts.parquet"  # under the increment's data/: a folder of part-NNNNN.parquet files (ignored by git)
META = "_partitions.json"  # inside it: rows, partitions and the fingerprint of the train part they copy
CONNECT_TIMEOUT_S = 10
Y, W = "__y__", "__w__"  # the target and the row weight, carried beside the features on the workers


# -- the partitioned training part (stage=prepare) ---------------------------------------------------------------

def parts_folder(data_dir: Path) -> Path:
    return Path(data_dir) / PARTS


def write_partitions(frame: pd.DataFrame, data_dir: Path, partition_rows: int, fingerprint: str) -> dict:
    """The training part as ``ceil(rows / partition_rows)`` Parquet files in row order, every column kept (``__row__``
    selects rows, ``__fold__`` says which fold validates them); returns what ``split.json`` records of them."""
    folder = parts_folder(data_dir)
    tmp = folder.with_name(f".{folder.name}.tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    n = max(1, -(-len(frame) // partition_rows))
    for i in range(n):
        frame.iloc[i * partition_rows:(i + 1) * partition_rows].to_parquet(tmp / f"part-{i:05d}.parquet", index=False)
    record = {"folder": f"data/{PARTS}", "partitions": n, "partition_rows": int(partition_rows), "rows": len(frame),
              "fingerprint": fingerprint}
    write_json(tmp / META, record)
    remove_partitions(data_dir)
    tmp.rename(folder)
    return record


def remove_partitions(data_dir: Path) -> None:
    """Partitions of an earlier ``compute=dask`` prepare would describe another split: gone when the data is split again."""
    shutil.rmtree(parts_folder(data_dir), ignore_errors=True)


def read_partitions(data_dir: Path, fingerprint: str) -> dict:
    """What ``write_partitions`` recorded, refused when missing or written from another train part."""
    meta = parts_folder(data_dir) / META
    fix = "run stage=prepare with compute=dask (or stage=all compute=dask) first"
    if not meta.exists():
        raise DataError(str(parts_folder(data_dir)), "holds no partitioned training part (stage=prepare ran with compute=local)", fix)
    record = read_json(meta)
    if record.get("fingerprint") != fingerprint:
        raise DataError(str(parts_folder(data_dir)), "was written from another training part than data/train.parquet", fix)
    return record


# -- the cluster, once per run ---------------------------------------------------------------------------------

@contextmanager
def session(compute, data_dir: Path, frame: pd.DataFrame, fingerprint: str) -> Iterator[Optional["DaskSession"]]:
    """``compute=local``: None. ``compute=dask``: a ``DaskSession`` on a LocalCluster started here (or a client of
    ``compute.scheduler``), closed when the block ends, whatever happens in it."""
    if compute.name != "dask":
        yield None
        return
    if ROW not in frame.columns:  # a family that splits its own way (forecasts, recommendations) trains here
        log.info("compute=dask: this family's training does not run on Dask; it trains in this process")
        yield None
        return
    record = read_partitions(data_dir, fingerprint)
    from distributed import Client, LocalCluster

    logging.getLogger("distributed").setLevel(logging.WARNING)  # the cluster's own start-up chatter: warnings only

    with contextlib.ExitStack() as closing:  # whatever was started is closed, in reverse order, even on failure
        if compute.scheduler is None:
            cluster = closing.enter_context(LocalCluster(
                n_workers=compute.workers, threads_per_worker=compute.threads_per_worker, processes=True, host="127.0.0.1",
                dashboard_address=None, silence_logs=logging.WARNING))
            client = closing.enter_context(Client(cluster))
        else:
            client = closing.enter_context(_connect(Client, compute.scheduler))
        yield DaskSession(client, compute, parts_folder(data_dir), record, frame[ROW])


def _connect(Client, address: str):
    """A client of the scheduler at ``address`` that has at least one worker; else one ConfigError naming compute.scheduler."""
    fix = ("start one (dask scheduler, then dask worker <address>), or set compute.scheduler=null for a LocalCluster of "
           "compute.workers processes")
    try:
        client = Client(address, timeout=f"{CONNECT_TIMEOUT_S}s")
    except (OSError, TimeoutError) as err:
        raise ConfigError("compute.scheduler", f"no Dask scheduler answered at {address} within {CONNECT_TIMEOUT_S} s "
                          f"({type(err).__name__})", fix) from None
    try:
        client.wait_for_workers(1, timeout=CONNECT_TIMEOUT_S)
    except TimeoutError:
        client.close()
        raise ConfigError("compute.scheduler", f"the Dask scheduler at {address} has no worker", fix) from None
    return client


class DaskSession:
    """The client, the partitioned training part and a tally of which fits ran where (for the plan's notes)."""

    def __init__(self, client, compute, folder: Path, record: dict, rows: pd.Series):
        self.client, self.compute, self.folder, self.record = client, compute, folder, record
        self.rows = rows  # the train part's index -> its row id: how a fit's rows are found in the partitions
        self.workers = len(client.scheduler_info().get("workers", {}))
        self.cluster_fits: Counter = Counter()
        self.local_fits: dict[str, Counter] = {}
        self.spread: dict[str, int] = {}  # model -> the most workers that held rows of one of its fits
        self._pieces = None

    def __deepcopy__(self, memo):  # a shared handle: scikit-learn's clone copies the estimator, never the cluster
        return self

    def wrap(self, name: str, model: DecisionModel) -> DecisionModel:
        """``model`` fitted on the cluster when its registry entry has a Dask estimator; else as it is (counted)."""
        if REGISTRY[name].dask_estimator is None:
            self.local_fits.setdefault(name, Counter())["it has no Dask estimator (models/registry.py)"] += 1
            return model
        return DaskDecisionModel(**model.get_params(deep=False), model_name=name, session=self)

    def pieces(self):
        """The training part on the workers, read once per run: worker ``i`` of ``k`` holds every ``k``-th row of each
        partition from the ``i``-th, pinned there. Pinned, because the scheduler, left alone, kept every piece on one
        worker and LightGBM then trained on one machine; interleaved, because each LightGBM worker finds bin boundaries
        and bags on its own rows, which in contiguous time-ordered blocks would each describe one period only."""
        if self._pieces is None:
            import dask.dataframe as dd

            frame = dd.read_parquet(sorted(str(p) for p in self.folder.glob("part-*.parquet")))
            addresses = sorted(self.client.scheduler_info()["workers"])
            k = len(addresses)
            self._pieces = dd.concat([self.client.persist(frame.map_partitions(every_kth, i, k), workers=[where])
                                      for i, where in enumerate(addresses)])
        return self._pieces

    def fit(self, name: str, estimator, prep, X: pd.DataFrame, target: np.ndarray, weights: Optional[np.ndarray], task: str):
        """``estimator``'s Dask twin fitted on the rows of ``X`` (found by row id in the pieces, preprocessed by the
        fitted ``prep`` where each piece is); returns the library's local estimator with the fitted booster."""
        from distributed import futures_of, wait

        try:
            ids = self.rows.loc[X.index].to_numpy()
        except KeyError:
            raise DataError("compute=dask", "a fit was given rows that are not rows of the training part",
                            "use compute=local for this run") from None
        lookup = pd.DataFrame({Y: target, W: 1.0 if weights is None else weights}, index=ids)
        features = list(X.columns)
        sample = prep.transform(X.iloc[:1])
        as_array = not isinstance(sample, pd.DataFrame)
        names = [f"f{i}" for i in range(np.shape(sample)[1])] if as_array else list(sample.columns)
        meta = prepared_part(X.iloc[:1].assign(**{ROW: ids[:1]}), prep, features, lookup.iloc[:1], as_array, names).iloc[:0]
        chosen = self.pieces().map_partitions(prepared_part, prep, features, lookup, as_array, names, meta, meta=meta).persist()
        wait(chosen)
        lengths = chosen.map_partitions(len).compute().to_numpy()
        keep = [i for i, n in enumerate(lengths) if n]  # a fold leaves some pieces empty
        holders = self.client.who_has(futures_of(chosen))
        self.spread[name] = max(self.spread.get(name, 0), len({w for i, f in enumerate(futures_of(chosen)) if i in keep
                                                                for w in holders.get(f.key, ())}))
        chosen = chosen.partitions[keep]
        if as_array:
            values = chosen.to_dask_array(lengths=[int(lengths[i]) for i in keep])
            dX, dy, dw = values[:, :-2], values[:, -2].astype(target.dtype), values[:, -1]
        else:
            dX, dy, dw = chosen[names], chosen[Y], chosen[W]
        params = {k: v for k, v in estimator.get_params().items() if k != "n_jobs"}  # each worker uses its own threads
        twin = REGISTRY[name].dask_estimator(task, params)
        twin.client = self.client
        with warnings.catch_warnings(), contextlib.redirect_stdout(io.StringIO()):  # LightGBM prints its port search
            warnings.filterwarnings("ignore", message="Parameter .* will be ignored")  # the thread count is the worker's
            twin.fit(dX, dy, **({} if weights is None else {"sample_weight": dw}))
        self.cluster_fits[name] += 1
        return to_local(twin, estimator)

    def summary(self) -> dict:
        c = self.compute
        return {"mode": "dask", "scheduler": c.scheduler or "LocalCluster", "workers": self.workers,
                "threads_per_worker": c.threads_per_worker if c.scheduler is None else None,
                "partitions": self.record["partitions"], "partition_rows": self.record["partition_rows"],
                "pieces_in_memory": self.pieces().npartitions,
                "cluster_fits": dict(self.cluster_fits), "workers_per_fit": dict(self.spread),
                "local_fits": {n: dict(why) for n, why in self.local_fits.items()}}

    def notes(self) -> list[str]:
        """Where each model trained, in words, for plan.md's time-budget decisions and the log."""
        c = self.compute
        where = (f"a LocalCluster of {self.workers} workers x {c.threads_per_worker} thread(s)" if c.scheduler is None
                 else f"the Dask scheduler at {c.scheduler} ({self.workers} workers)")
        out = [f"compute=dask: {where}; the training part read as {self.record['partitions']} Parquet partition(s) of up to "
               f"{self.record['partition_rows']:,} rows (data/{PARTS}), interleaved over the workers as {self.pieces().npartitions} piece(s)"]
        out += [f"{n}: {k} fit(s) through its Dask estimator on the cluster, on up to {self.spread.get(n, 0)} worker(s)"
                for n, k in sorted(self.cluster_fits.items())]
        out += [f"{n}: {k} fit(s) trained in this process: {why}" for n, whys in sorted(self.local_fits.items())
                for why, k in whys.items()]
        return out


def every_kth(part: pd.DataFrame, i: int, k: int) -> pd.DataFrame:
    """Rows ``i, i + k, i + 2k, ...`` of a partition: one worker's share of it."""
    return part.iloc[i::k]


def prepared_part(part: pd.DataFrame, prep, features: list[str], lookup: pd.DataFrame, as_array: bool,
                  names: list[str], empty: Optional[pd.DataFrame] = None) -> pd.DataFrame:
    """One partition on a worker: the rows whose id is in ``lookup``, preprocessed, with their target and weight
    (``empty``, the frame's empty shape, where none of its rows is in this fit)."""
    part = part[part[ROW].isin(lookup.index)]
    if empty is not None and part.empty:
        return empty.copy()
    found = lookup.loc[part[ROW].to_numpy()]
    transformed = prep.transform(part[features])
    if as_array:
        out = pd.DataFrame(np.asarray(transformed, dtype="float64"), columns=names)
    else:
        out = transformed.set_axis(names, axis=1).reset_index(drop=True)
    out[Y] = found[Y].to_numpy()
    out[W] = found[W].to_numpy(dtype="float64")
    return out


def to_local(twin, template):
    """The fitted Dask estimator as the library's local one, with ``template``'s parameters (its thread count)."""
    if hasattr(twin, "to_local"):  # LightGBM
        local = twin.to_local()
        accepted = local.get_params()
        return local.set_params(**{k: v for k, v in template.get_params().items() if k in accepted})
    local = clone(template)  # XGBoost: the booster, with the scikit-learn attributes saved in it, loaded into the local class
    local.load_model(bytearray(twin.get_booster().save_raw("ubj")))
    return local


class DaskDecisionModel(DecisionModel):
    """A ``DecisionModel`` whose booster is fitted on the cluster; once fitted it predicts in this process like any
    other, and ``localise`` gives the plain ``DecisionModel`` that is packaged.

    Fits with early stopping run in this process (the Dask path does not early-stop), counted in the session.
    """

    def __init__(self, pipeline=None, task="binary_classification", threshold=0.5, early_stopping_rounds=None,
                 validation_fraction=0.1, classes=None, class_scale=None, model_name=None, session=None):
        super().__init__(pipeline, task, threshold, early_stopping_rounds, validation_fraction, classes, class_scale)
        self.model_name = model_name
        self.session = session

    def fit(self, X, y, sample_weight=None):
        if self.early_stopping_rounds:
            self.session.local_fits.setdefault(self.model_name, Counter())["early stopping (the Dask path does not early-stop)"] += 1
            return super().fit(X, y, sample_weight)
        self._validate_params()
        validate_data(self, X, skip_check_array=True)
        target = self._encoded_target(y)
        if sample_weight is not None:
            sample_weight = _check_sample_weight(sample_weight, X)
        prep = clone(self.pipeline[:-1]).fit(X, target)
        name, estimator = self.pipeline.steps[-1]
        fitted = self.session.fit(self.model_name, estimator, prep, X, target, sample_weight, self.task)
        self.pipeline_ = Pipeline([*prep.steps, (name, fitted)])
        self.best_iteration_ = None
        return self


def localise(model):
    """A fitted ``DaskDecisionModel`` as a plain ``DecisionModel`` (same parameters and fitted state); anything else as it is."""
    if not isinstance(model, DaskDecisionModel):
        return model
    params = {k: v for k, v in model.get_params(deep=False).items() if k not in ("model_name", "session")}
    local = DecisionModel(**params)
    local.__dict__.update({k: v for k, v in vars(model).items() if k.endswith("_") and not k.startswith("_")})
    return local
