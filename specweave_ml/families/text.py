"""The text family: binary and multi-class classification of raw texts (``modality: text``).

The brief names its text column (``problem.text.column``); texts are checked (``text.corpus``: missing, empty or
non-text values refused, duplicates and long texts counted) and split like tabular rows (stratified CV folds).
Baselines are the scikit-learn dummies (majority class and friends); candidates are ``bag_of_words`` (TF-IDF +
logistic regression, the simple model) and ``text_encoder`` (all-MiniLM-L6-v2 sentence embeddings + a head), each
one estimator on raw texts cross-validated by the tabular training loop, so CV, thresholds, tuning, metrics and
bootstrap intervals are the same as for rows. Embeddings are cached under ``increments/<id>/cache/``.
Explanations: linear SHAP of the TF-IDF model's n-grams per class and token-level SHAP of the chosen model's
predictions on a few holdout texts. The server answers ``POST /predict`` with ``{"text": ...}``.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Optional

import numpy as np
import pandas as pd

from specweave_ml.families.base import Checked, FitRequest, Prepared
from specweave_ml.families.tabular import CLASSIFICATION, TabularFamily
from specweave_ml.plan import Plan
from specweave_ml.schema import DEFAULT_MAX_CHARS, ProblemSchema


class TextFamily(TabularFamily):
    name = "text"
    code = "specweave_ml/text"
    tasks = CLASSIFICATION
    shares_tuning = False  # a worker would rebuild the tabular evaluation, not the encoder's
    ensembles = False  # an ensemble of encoders would multiply the serving cost the load test already fails on
    refits = False  # ships the model evaluated: a refit on every row would fit the network (or encode every text) again
    notes = {"features": "raw texts: TF-IDF n-grams fitted inside each fold, or all-MiniLM-L6-v2 sentence embeddings "
                         "(cached per increment) under a logistic or MLP head",
             "explanations": "SHAP (n-grams of the TF-IDF model; tokens of sample texts)",
             "endpoints": "POST /predict {\"text\"}, /predict/batch {\"texts\"}"}

    def serves(self, task: str, modality: str) -> bool:
        return modality == "text" and task in self.tasks

    # -- data ---------------------------------------------------------------------------------------------
    def check(self, frame: pd.DataFrame, problem: ProblemSchema, cv_folds: int) -> Checked:
        from specweave_ml.data.checks import check_target, require_columns
        from specweave_ml.text import corpus

        column = corpus.text_column(problem.text.column, frame.columns)
        require_columns(list(frame.columns), problem)
        target = problem.data.target
        if target == column:
            from specweave_ml.errors import ConfigError

            raise ConfigError("problem.text.column", f"'{column}' is also the target", "name the column of texts, not the labels")
        check_target(frame[target], problem.task.value, cv_folds)
        texts = corpus.texts(frame[column], f"column '{column}'")
        kept = [c for c in (problem.data.group_column, problem.data.time_column) if c is not None]  # how it is split
        data = pd.DataFrame({column: texts, target: frame[target], **{c: frame[c] for c in kept}}, index=frame.index)
        stats = corpus.describe(texts)
        columns = {column: {"type": "text", "evidence": f"{stats['texts']:,} texts, median {stats['words']['q50']:.0f} words"},
                   target: {"type": "categorical", "evidence": "the target"}}
        return Checked(features=[column], findings=corpus.findings(texts, problem.text.max_chars),
                       duplicate_rows=int(data.duplicated().sum()), columns=columns, frame=data)

    def fact_columns(self, problem: ProblemSchema) -> Optional[list[str]]:
        return [problem.data.target]

    def prepare(self, frame: pd.DataFrame, checked: Checked, plan: Plan, problem: ProblemSchema, seed: int) -> Prepared:
        from specweave_ml.text import corpus

        prepared = super().prepare(frame, checked, plan, problem, seed)
        column = checked.features[0]
        prepared.split_info.update(text_column=column, max_chars=int(problem.text.max_chars),
                                   explain_samples=int(problem.text.explain_samples),
                                   explain_max_evals=int(problem.text.explain_max_evals))
        prepared.profile["text"] = corpus.describe(checked.frame[column])
        if problem.data.sample_rows:
            prepared.profile["text"]["sample_rows"] = int(problem.data.sample_rows)
        return prepared

    # -- training and evaluation ----------------------------------------------------------------------------
    def fit(self, request: FitRequest):
        from specweave_ml.text.encoder import caching

        with caching(request.cache_dir):  # every text is encoded once per increment, whatever the folds and trials
            return super().fit(request)

    def findings(self, plan: Plan, train, test, split_info, profile: dict, cv: dict, trained, model, seed: int) -> list:
        from specweave_ml import antipatterns as ap

        column = split_info["text_column"]
        return [*ap.duplicates_across(train, test, [column]), *ap.overfitting(cv),
                *ap.imbalance(plan.imbalanced, plan.minority_share, trained.class_weighting, trained.threshold_rule,
                              plan.primary_metric),
                *ap.from_profile(profile), *self._who_won(cv)]

    @staticmethod
    def _who_won(cv: dict) -> list:
        """Whether the sentence-encoder candidates beat the simplest one (bag of words) on CV, with every figure: the
        simple model ships when none did."""
        from specweave_ml.antipatterns import Finding
        from specweave_ml.models.registry import entry

        scores = {c["name"]: c["mean"] for c in cv.get("candidates", [])}
        if len(scores) < 2:
            return []
        simple, *others = sorted(scores, key=lambda n: entry(n).complexity)
        chosen, metric = cv.get("chosen"), cv.get("metric", "")
        versus = ", ".join(f"{n} {scores[n]:.4f} ({scores[n] - scores[simple]:+.4f})" for n in others)
        verdict = "the simple model ships" if chosen == simple else f"{chosen} ships"
        return [Finding("encoder_vs_bag_of_words", "info",
                        f"on CV {metric}, {simple} {scores[simple]:.4f} against {versus}: {verdict}",
                        {**scores, "metric": metric, "chosen": chosen, "simple": simple})]

    def explain(self, model, model_name: str, train, test, split_info, plan: Plan, settings, seed: int, out_dir: Path) -> dict:
        """Linear SHAP of the TF-IDF model's n-grams (the champion's, or one fitted on the training part when the
        encoder won), and token SHAP of the champion's predictions on a few holdout texts."""
        from specweave_ml.data.split import ROW
        from specweave_ml.text import explain as tx
        from specweave_ml.text.models import BagOfWords, EncoderClassifier

        out_dir.mkdir(parents=True, exist_ok=True)
        for old in out_dir.glob("*.png"):
            old.unlink()
        column, target = split_info["text_column"], split_info["target"]
        inner = model.pipeline_.named_steps["model"]
        rng = np.random.default_rng(seed)
        back = train[column].iloc[np.sort(rng.choice(len(train), min(settings.background_rows, len(train)), replace=False))]
        rows = np.sort(rng.choice(len(test), min(settings.explain_rows, len(test)), replace=False))
        if isinstance(inner, BagOfWords):
            bow, whose = inner, "the champion"
        else:
            bow = BagOfWords(random_state=seed).fit(train[column], train[target])
            whose = "a TF-IDF + logistic regression fitted on the training part for this view (not the champion)"
        ngrams = tx.ngram_shap(bow, back.tolist(), test[column].iloc[rows].tolist(), int(settings.top_features) * 3, out_dir)
        n = max(1, min(int(split_info.get("explain_samples", 3)), len(test)))
        picks = rng.choice(len(test), n, replace=False)
        samples = test[column].iloc[picks].tolist()
        tokenizer = None
        if isinstance(inner, EncoderClassifier):
            from specweave_ml.text import encoder

            tokenizer = encoder.load().tokenizer
        decided = model.predict(pd.DataFrame({column: samples}))  # a two-class model's labels use its tuned threshold
        local = tx.token_shap(lambda texts: model.predict_proba(pd.DataFrame({column: texts})), model.classes_, samples,
                              tokenizer, int(split_info.get("explain_max_evals", 200)), seed, out_dir, predicted=decided)
        (out_dir / "tokens.json").write_text(json.dumps(local, indent=2) + "\n")
        examples = [{"title": f"'{e['text'][:80]}' -> {e['predicted']} ({e['probability']:.2f}), actual "
                              f"{test[target].iloc[int(p)]}",
                     "lines": [f"{t['token']}: {t['shap']:+.3f}" for t in e["tokens"]]} for e, p in zip(local, picks)]
        examples.insert(0, {"title": f"n-grams per class ({whose})",
                            "lines": [f"towards '{c}': " + ", ".join(d["ngram"] for d in rows_[:10])
                                      for c, rows_ in ngrams["drivers"].items()]})
        return {"explainer": "SHAP linear (n-grams) + SHAP partition (tokens)", "rows_explained": int(len(rows)),
                "top_features": ngrams["top_features"], "files": [*ngrams["files"], *[e["file"] for e in local], "tokens.json"],
                "ngram_model": whose, "drivers": ngrams["drivers"], "examples": examples,
                "local_rows": {f"text-{i + 1}": int(test[ROW].iloc[int(p)]) for i, p in enumerate(picks)}}

    # -- predictions, serving ------------------------------------------------------------------------------
    @staticmethod
    def _settings(model_dir: Path) -> dict:
        """The text settings recorded beside the packaged model (``reports/drift/reference.json``)."""
        path = Path(model_dir).parent.parent / "reports" / "drift" / "reference.json"
        try:
            return json.loads(path.read_text()).get("text", {})
        except (OSError, ValueError):
            return {}

    def read_input(self, path: Path, model) -> pd.DataFrame:
        """A CSV's columns read as strings, so a text "1984" stays a text and "NA", "null" or "None" are texts, not
        missing (only an empty cell is); a Parquet file as it is."""
        from specweave_ml.data.inputs import read_input

        if path.suffix.lower() != ".csv" or not path.exists():
            return read_input(path)
        try:
            return pd.read_csv(path, dtype=str, keep_default_na=False, na_values=[""])
        except (ValueError, OSError) as err:
            from specweave_ml.errors import DataError

            raise DataError("input", f"could not read '{path}': {err}", "check the file") from None

    def check_monitoring(self) -> None:
        from specweave_ml.errors import NotTrainableYet

        raise NotTrainableYet("stage", "drift monitoring of texts (stage=monitor) is not built yet",
                              "watch the server's /metrics (requests, latency and refused texts) meanwhile")

    def conform(self, frame: pd.DataFrame, model_dir: Path) -> pd.DataFrame:
        from specweave_ml.errors import DataError
        from specweave_ml.packaging import signature_columns
        from specweave_ml.text import corpus

        column = next(iter(signature_columns(model_dir)))
        if column not in frame.columns:
            raise DataError("input", f"has no '{column}' column: the texts to classify ({len(frame.columns)} columns: "
                            f"{', '.join(map(str, list(frame.columns)[:10]))})", f"give the texts in a '{column}' column")
        if frame.empty:
            raise DataError("input", "has no rows", "give at least one text")
        texts = corpus.texts(frame[column], f"input column '{column}'")
        limit = self._settings(model_dir).get("max_chars")
        limit = DEFAULT_MAX_CHARS if limit is None else int(limit)
        long = texts.str.len() > limit
        if long.any():
            raise DataError(f"input column '{column}'", f"{int(long.sum())} texts are longer than {limit} characters "
                            f"(rows {', '.join(map(str, np.flatnonzero(long.to_numpy())[:5]))})",
                            "shorten or split them (problem.text.max_chars sets the limit)")
        return pd.DataFrame({column: texts}, index=frame.index)

    def reference(self, paths, model, example: pd.DataFrame, model_meta: dict, cfg, seed: int) -> str:
        from specweave_ml.fileio import write_json
        from specweave_ml.text import corpus

        column = example.columns[0]
        train = pd.read_parquet(paths.train)
        profile = {"schema_version": 1, "task": model.task, "classes": [str(c) for c in model.classes_],
                   "training_rows": int(len(train)), "features": [column], "scores": [],
                   "text": {"column": column, "max_chars": int(cfg.problem.text.max_chars), **corpus.describe(train[column])},
                   "model": {"name": model_meta.get("name"), "sha256": model_meta["sha256"], "explainer": "none"},
                   "monitoring": ("drift monitoring of texts is not built yet: the server's /metrics counts requests, "
                                  "latency and refused texts"),
                   "background": {"columns": [column], "data": [[t] for t in example[column].astype(str).tolist()]}}
        write_json(paths.reference_profile, profile)
        return "none (explanations are in the report)"

    def requests(self, holdout: pd.DataFrame, columns: dict, split_info: dict, n: int, seed: int) -> tuple[str, list[bytes]]:
        """Load-test requests to ``/predict``: holdout texts as ``{"text": ...}``, only those the server takes (at most
        ``max_chars`` characters, as ``stage=prepare`` recorded it)."""
        from specweave_ml.errors import DataError

        column = next(iter(columns))
        limit = split_info.get("max_chars")
        limit = DEFAULT_MAX_CHARS if limit is None else int(limit)
        texts = holdout[column].dropna().astype(str)
        texts = texts[(texts.str.len() <= limit) & (texts.str.strip() != "")]
        if texts.empty:
            raise DataError("data/test.parquet", f"no holdout text of at most {limit} characters to send",
                            "raise problem.text.max_chars, or load-test with shorter texts")
        texts = texts.sample(n=min(n, len(texts)), random_state=seed)
        return "/predict", [json.dumps({"text": t}).encode() for t in texts]

    def app(self, champion, config, challenger=None):
        from specweave_ml.serving.text_app import create_text_app

        if challenger is not None:
            from specweave_ml.errors import ConfigError

            raise ConfigError("serving.ab.challenger", "A/B tests are not built yet for text models",
                              "serve the champion alone: set serving.ab.challenger=null")
        return create_text_app(champion, config)


FAMILY = TextFamily()
