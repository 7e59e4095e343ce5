"""The recommendations family: ``task: ranking`` on ``modality: interactions`` (user, item, rating, time).

Interactions are checked (``recommendations.interactions``: the user and item columns, a numeric rating, times)
and split without look-ahead: leave-last-out per user by time (the default with a time column), per-user random
(``test_size``, the protocol of published tables) or one global cut in time; CV folds repeat the same rule on
the training part. Baselines (popularity, recent popularity, random) and the plan's candidates (item-kNN, ALS and
BPR from ``implicit``, NeuMF in torch) are fitted on the positives (``ranking.positive_threshold``) and judged on
the full catalogue: every item the user has not interacted with in training is a candidate, training items are
excluded, and every metric is computed from the saved top-k lists (``recommendations.metrics``). Explanations
are the user's own items most similar to each recommendation; the server answers ``GET /recommend``.
"""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path
from typing import Optional

import numpy as np
import pandas as pd

from specweave_ml.families.base import Checked, Evaluation, FitRequest, Prepared
from specweave_ml.plan import Plan, SplitPlan
from specweave_ml.schema import ProblemSchema

BASELINES = {"popularity": "Popularity", "recent_popularity": "RecentPopularity", "random": "Random"}
PLOTTED = ("ndcg", "precision", "recall", "map", "hit_rate")


def _value(x) -> str:
    return str(getattr(x, "value", x)) if x is not None else None


def _cut_off(metric: str) -> Optional[int]:
    tail = metric.rsplit("_at_", 1)
    return int(tail[1]) if len(tail) == 2 and tail[1].isdigit() else None


class RecommendationsFamily:
    name = "recommendations"
    code = "specweave_ml/recommendations"
    tasks = ("ranking",)
    notes = {"features": "a users x items matrix of the training positives; items seen in training excluded from every list",
             "explanations": "the user's own items most similar to each recommendation (item-item cosine)"}

    def serves(self, task: str, modality: str) -> bool:
        return modality == "interactions" and task in self.tasks

    # -- data ---------------------------------------------------------------------------------------------
    @staticmethod
    def _columns(problem: ProblemSchema):
        from specweave_ml.recommendations.interactions import Columns

        d = problem.data
        return Columns(d.user_column, d.item_column, d.rating_column, d.time_column)

    @staticmethod
    def _how(problem: ProblemSchema) -> str:
        declared = _value(problem.ranking.split)
        return declared or ("leave_last_out" if problem.data.time_column else "per_user_random")

    def _interactions(self, frame: pd.DataFrame, problem: ProblemSchema) -> pd.DataFrame:
        from specweave_ml.errors import DataError
        from specweave_ml.recommendations.interactions import check

        data = check(frame, self._columns(problem))
        r = problem.ranking
        ks = self._ks(problem)
        n_items = data["item"].nunique()
        if max(ks) > n_items:
            raise DataError("problem.ranking.k", f"k={max(ks)} is larger than the catalogue ({n_items} items)",
                            f"use cut-offs of at most {n_items}")
        if r.positive_threshold is not None and not (data["rating"] >= r.positive_threshold).any():
            raise DataError("problem.ranking.positive_threshold", f"no rating reaches {r.positive_threshold:g}: nothing is a positive",
                            f"lower it (ratings run from {data['rating'].min():g} to {data['rating'].max():g})")
        return data

    @staticmethod
    def _ks(problem: ProblemSchema) -> list[int]:
        from specweave_ml.metrics import DEFAULT_PRIMARY

        primary = problem.metrics.primary or DEFAULT_PRIMARY["ranking"]
        extra = [_cut_off(primary)] if _cut_off(primary) else []
        return sorted(set(int(k) for k in problem.ranking.k) | set(extra))

    def check(self, frame: pd.DataFrame, problem: ProblemSchema, cv_folds: int) -> Checked:
        d = problem.data
        data = self._interactions(frame, problem)
        columns = {d.user_column: {"type": "id", "evidence": f"user ids: {data['user'].nunique():,} users"},
                   d.item_column: {"type": "id", "evidence": f"item ids: {data['item'].nunique():,} items"}}
        if d.rating_column:
            columns[d.rating_column] = {"type": "numeric", "evidence": f"ratings {data['rating'].min():g} to {data['rating'].max():g}"}
        if d.time_column:
            columns[d.time_column] = {"type": "datetime", "evidence": "orders each user's interactions"}
        duplicates = int(data.duplicated(["user", "item"]).sum())
        return Checked(features=[d.user_column], columns=columns, duplicate_rows=duplicates)

    def fact_columns(self, problem: ProblemSchema) -> Optional[list[str]]:
        d = problem.data
        return [c for c in (d.user_column, d.item_column, d.rating_column, d.time_column) if c]

    def _facts_of(self, data: pd.DataFrame, problem: ProblemSchema, cv_folds: int):
        from specweave_ml.resolver import DataFacts

        how, r = self._how(problem), problem.ranking
        why = {"leave_last_out": "each user's latest interaction is held out and only earlier ones train (no look-ahead per user)",
               "per_user_random": f"a random {r.test_size:.0%} of each user's interactions is held out (the protocol of "
                                  "published tables; it may test on a user's past)",
               "global_time": f"every interaction in the latest {r.test_size:.0%} of time is held out (no look-ahead at all)"}[how]
        timed = how != "per_user_random"
        sizes = data.groupby("user").size()
        share = float((sizes > 1).sum() / len(data)) if how == "leave_last_out" else r.test_size  # one per user
        split = SplitPlan("time" if timed else "random", how, cv_folds, round(share, 4), problem.data.time_column if timed else None,
                          None, why + "; CV folds repeat the same rule on the training part")
        pos = data if r.positive_threshold is None else data[data["rating"] >= r.positive_threshold]
        notes = (f"{data['user'].nunique():,} users x {data['item'].nunique():,} items, {len(data):,} interactions "
                 f"(density {len(data) / max(data['user'].nunique() * data['item'].nunique(), 1):.2%}); "
                 f"{len(pos):,} positives ({'rating >= %g' % r.positive_threshold if r.positive_threshold is not None else 'every interaction'})",
                 f"{_value(r.feedback)} feedback; full-catalogue ranking at k = {', '.join(map(str, self._ks(problem)))}")
        return DataFacts(n_rows=len(data), split=split, notes=notes)

    def facts(self, frame: pd.DataFrame, problem: ProblemSchema, cv_folds: int):
        return self._facts_of(self._interactions(frame, problem), problem, cv_folds)

    def recorded_facts(self, prepared, split_info: dict):
        from specweave_ml.resolver import DataFacts

        recorded = split_info.get("ranking_plan") or {}
        split = SplitPlan(**recorded["split"]) if "split" in recorded else None
        return DataFacts(prepared.rows, split=split, notes=tuple(recorded.get("notes", ())))

    def prepare(self, frame: pd.DataFrame, checked: Checked, plan: Plan, problem: ProblemSchema, seed: int) -> Prepared:
        from specweave_ml.data.profile import profile
        from specweave_ml.data.split import fingerprint
        from specweave_ml.errors import DataError
        from specweave_ml.recommendations.interactions import describe, future_leaks, split

        data = self._interactions(frame, problem)
        r, how = problem.ranking, self._how(problem)
        train, test, extra = split(data, how, r.test_size, seed)
        counts = describe(train, test)
        if counts["unseen_users"] and _value(r.cold_users) == "error":
            raise DataError("problem.ranking.split", f"{how} leaves {counts['unseen_users']} of {counts['users_test']} held-out "
                            "users with no training interaction (all their interactions fall in the holdout)",
                            "use split=leave_last_out or per_user_random, or problem.ranking.cold_users=popularity to "
                            "score them with the popularity fallback (counted in the report)")
        if test.empty:
            raise DataError("problem.ranking.split", f"{how} holds out no interaction (every user has a single one)",
                            "use more interactions per user, or split=global_time")
        facts = self._facts_of(data, problem, plan.split.cv_folds)
        info = {
            "strategy": plan.split.strategy, "cv_strategy": how, "cv_folds": plan.split.cv_folds,
            "source_fingerprint": fingerprint(frame), "features": [problem.data.user_column], "target": problem.data.rating_column,
            "columns": self._columns(problem).to_dict(), "split": how, "test_size": r.test_size, **extra,
            "ks": self._ks(problem), "positive_threshold": r.positive_threshold, "feedback": _value(r.feedback),
            "recent_share": r.recent_share, "rows_train": len(train), "rows_test": len(test),
            "catalogue": int(train["item"].nunique()), **counts,
            "users_single_interaction": int((data.groupby("user").size() == 1).sum()),
            "future_leaks": future_leaks(train, test, how),
            "ranking_plan": {"split": asdict(facts.split), "notes": list(facts.notes)},
        }
        prof = profile(data, "rating", "regression", checked, info["source_fingerprint"])
        prof["interactions"] = {k: info[k] for k in ("users_train", "items_train", "users_test", "items_test", "unseen_users",
                                                     "unseen_items", "catalogue", "future_leaks")}
        return Prepared(train=train.reset_index(drop=True), test=test.reset_index(drop=True), split_info=info, profile=prof)

    def example_input(self, frame: pd.DataFrame, split_info: dict) -> pd.DataFrame:
        user = split_info["columns"]["user"]
        # ids as text: a user id is a name, not a number (and the signature then takes any id the server would)
        return pd.DataFrame({user: frame["user"].drop_duplicates().head(5).astype(str).to_numpy()})

    # -- training and evaluation ----------------------------------------------------------------------------
    @staticmethod
    def _settings(info: dict):
        from specweave_ml.recommendations.evaluate import Settings

        return Settings(info["positive_threshold"], tuple(info["ks"]), info["recent_share"], info["feedback"] == "explicit")

    @staticmethod
    def _baseline(name: str, seed: int):
        from specweave_ml.errors import ConfigError
        from specweave_ml.recommendations import models

        if name not in BASELINES:
            raise ConfigError("selection.baselines.ranking", f"unknown ranking baseline '{name}'", f"use {', '.join(BASELINES)}")
        return getattr(models, BASELINES[name])(random_state=seed)

    @staticmethod
    def _train_score(model, train: pd.DataFrame, s, metric: str, seed: int, users: int = 300) -> float:
        """The metric on the training positives themselves (nothing excluded), for the train/validation gap."""
        from specweave_ml.recommendations import metrics as rm
        from specweave_ml.recommendations.evaluate import relevant_sets
        from specweave_ml.recommendations.models import top_k

        rel = relevant_sets(train, s.positive_threshold)
        rel = rel.sample(n=min(users, len(rel)), random_state=seed) if len(rel) else rel
        rows = np.array([model.row(u) for u in rel.index])
        idx, sc = top_k(model.scorer.scores(rows), None, max(s.ks))
        frame = rm.top_k_frame(rel.index.tolist(), model.items_[idx], sc, rel.tolist(), idx.shape[1])
        return rm.ranking_metrics(frame, s.ks, len(model.items_), {}).get(metric, float("nan"))

    def fit(self, request: FitRequest):
        import time

        from specweave_ml.models.registry import build
        from specweave_ml.recommendations.evaluate import fit, score
        from specweave_ml.recommendations.interactions import folds
        from specweave_ml.training.cv import CVResult
        from specweave_ml.training.train import TrainingResult, best_of

        r, info, plan = request, request.split_info, request.plan
        metric, s = plan.primary_metric, self._settings(info)
        parts = folds(r.train, info["split"], plan.split.cv_folds, info["test_size"], r.seed)
        cols = info["columns"]

        def scored(name: str, kind: str, make) -> CVResult:
            val, tr, seconds = [], [], 0.0
            for fold_train, fold_val in parts:
                start = time.perf_counter()
                model = fit(make(), fold_train, s, cols["user"], cols["item"], name)
                seconds += time.perf_counter() - start
                val.append(score(model, fold_train, fold_val, s)[1].get(metric, 0.0))
                tr.append(self._train_score(model, fold_train, s, metric, r.seed))
                r.on_fold()
            return CVResult(name, kind, metric, val, tr, seconds)

        baselines = [scored(b, "baseline", lambda b=b: self._baseline(b, r.seed)) for b in plan.baselines]
        candidates = [scored(c.name, "candidate", lambda c=c: build(r.specs[c.name], plan.task, r.seed)) for c in plan.candidates]
        tuned, tuning, tables = {}, {}, {}
        if r.tuning is not None:
            budget = r.tuning.budget_seconds / max(len(plan.candidates), 1)
            for i, c in enumerate(plan.candidates):
                found = self._tune(c.name, r, plan, candidates[i], budget,
                                     lambda name, make: scored(name, "candidate", make), metric)
                if found:
                    tuning[c.name], tables[c.name], better, params = found
                    if better is not None:
                        candidates[i], tuned[c.name] = better, params
        best = best_of(candidates, metric)
        chosen = build(r.specs[best.name], plan.task, r.seed, tuned.get(best.name))
        model = fit(chosen, r.train, s, cols["user"], cols["item"], best.name)
        params = {k: v for k, v in model.describe().items() if isinstance(v, (int, float, str, bool))}
        return TrainingResult(baselines=baselines, candidates=candidates, chosen=best.name, model=model, params=params,
                              tuning=tuning, tuning_tables=tables)

    @staticmethod
    def _tune(name, request, plan, untuned, budget: float, score_with, metric: str):
        """The tuning phases of ``tuning=`` (coarse grid, fine grid around its best, Optuna) over the search space of
        ``conf/model/<name>.yaml``, run by the same phased tuner as tabular models (``training.tuning.tune``: one
        resumable study per phase, each phase's share of the candidate's budget). Every trial is scored on the same
        CV folds as the untuned model; the tuned configuration is kept only when its CV mean beats the untuned one."""
        import time

        from specweave_ml.gates import gap
        from specweave_ml.metrics import METRICS
        from specweave_ml.models.registry import build
        from specweave_ml.training.tuning import tune

        spec = request.specs[name]
        if not (spec.search or {}).get("coarse") and not (spec.search or {}).get("optuna"):
            return None

        def make(params):
            return lambda: build(spec, plan.task, request.seed, params)

        def evaluate(params, report):  # every fold is scored: no intermediate value to prune on
            result = score_with(name, make(params))
            return result.mean, result.std, gap(metric, result.train_mean, result.mean)

        # A ranker's train score (its lists scored against the training positives it learned) is not comparable with
        # the validation one, so the tuner is not steered towards regularisation by their gap.
        found = tune(request.tuning, name=name, search=dict(spec.search), accepted_params=set(spec.params),
                     evaluate=evaluate, metric=metric, deadline=time.perf_counter() + budget,
                     gap_limit=float("inf"), seed=request.seed)
        report = {"untuned_cv": untuned.mean, "phases": [p.summary() for p in found.phases],
                  "best_params": found.best_params, "best_trial_cv": found.best_value}
        if found.best_value is None:
            report.update(tuned_cv=None, kept="untuned: no trial finished")
            return report, found.trial_tables, None, None
        tuned = score_with(name, make(found.best_params))
        report["tuned_cv"] = tuned.mean
        sign = 1 if METRICS[metric].greater_is_better else -1
        if sign * tuned.mean <= sign * untuned.mean:
            report["kept"] = "untuned: the tuned configuration did not score higher on the same folds"
            return report, found.trial_tables, None, None
        report["kept"] = "tuned"
        return report, found.trial_tables, tuned, found.best_params

    def evaluate(self, model, train, test, split_info, plan: Plan, trained, cv: dict, seed: int, read_back) -> Evaluation:
        from specweave_ml.recommendations import metrics as rm
        from specweave_ml.recommendations.evaluate import fit, score

        info, s = split_info, self._settings(split_info)
        cols, metric = info["columns"], plan.primary_metric
        frame, extra = score(model, train, test, s)
        preds = read_back(frame)
        user_share = (train.groupby("item")["user"].nunique() / max(train["user"].nunique(), 1)).to_dict()
        metrics = rm.ranking_metrics(preds, s.ks, len(model.items_), user_share)
        metrics.update({k: v for k, v in extra.items() if k in ("rmse", "mae", "fallback_users")})
        baselines, lists = {}, {}
        for b in cv["baselines"]:
            base = fit(self._baseline(b["name"], seed), train, s, cols["user"], cols["item"], b["name"])
            lists[b["name"]], held = score(base, train, test, s)
            baselines[b["name"]] = {"cv": b, "holdout": held}
        best = max(baselines, key=lambda n: baselines[n]["holdout"].get(metric, 0.0)) if baselines else None
        intervals = {}
        if best is not None and _cut_off(metric) and metric.startswith("ndcg"):
            diff = self._paired(preds, lists[best], _cut_off(metric), seed)
            if diff.get("compared"):
                model_ci, base_ci = diff.pop("a_interval"), diff.pop("b_interval")
                intervals = {"model": model_ci, "baseline": {"name": best, **base_ci},
                             "difference": {"of": f"{trained.chosen} - {best}", "metric": metric, **diff}}
        details = {"split": {k: info.get(k) for k in ("split", "users_train", "items_train", "users_test", "items_test",
                                                       "unseen_users", "unseen_items", "test_interactions_of_unseen_users",
                                                       "test_interactions_of_unseen_items", "users_single_interaction",
                                                       "future_leaks", "catalogue")},
                   "evaluation": "full catalogue: every catalogue item the user has not interacted with in training is a "
                                 "candidate; training items are excluded; no sampled negatives",
                   "positives": "every interaction" if s.positive_threshold is None else f"rating >= {s.positive_threshold:g}",
                   "at_k": {k: {m: metrics.get(f"{m}_at_{k}") for m in (*PLOTTED, "coverage", "novelty")} for k in s.ks},
                   "fallback_users": metrics.get("fallback_users", 0.0), "model": model.describe()}
        return Evaluation(preds, metrics, details, baselines, None, intervals)

    @staticmethod
    def _paired(a: pd.DataFrame, b: pd.DataFrame, k: int, seed: int, resamples: int = 1000) -> dict:
        from specweave_ml.recommendations.metrics import per_user_ndcg

        x, y = per_user_ndcg(a, k), per_user_ndcg(b, k)
        both = x.index.intersection(y.index)
        d = (x.loc[both] - y.loc[both]).to_numpy(float)
        if len(d) == 0:
            return {"compared": False, "why": "no user in both lists"}
        rng = np.random.default_rng(seed)
        draw = rng.integers(0, len(d), (resamples, len(d)))
        xa, ya = x.loc[both].to_numpy(float), y.loc[both].to_numpy(float)

        def interval(values: np.ndarray) -> dict:
            lo, hi = (float(v) for v in np.quantile(values[draw].mean(1), [0.025, 0.975]))
            return {"low": lo, "high": hi, "level": 0.95, "resamples": resamples, "rows": int(len(values)), "stratified": False}

        diff = interval(d)
        verdict = "better" if diff["low"] > 0 else "worse" if diff["high"] < 0 else "within noise"
        return {"compared": True, "difference": float(d.mean()), **diff, "users": int(len(d)),
                "not_better": float((d[draw].mean(1) <= 0).mean()), "verdict": verdict,
                "a": float(xa.mean()), "b": float(ya.mean()), "a_interval": interval(xa), "b_interval": interval(ya)}

    def findings(self, plan: Plan, train, test, split_info, profile: dict, cv: dict, trained, model, seed: int) -> list:
        from specweave_ml.antipatterns import Finding

        info = split_info
        out = [Finding("look_ahead", "info" if info["future_leaks"] == 0 or info["split"] == "per_user_random" else "severe",
                       f"{info['split']}: {info['future_leaks']} training interactions are later than a held-out one they "
                       "could inform" + (" (per-user random makes no time promise: comparable with published tables, not "
                                         "with deployment)" if info["split"] == "per_user_random" else ""),
                       {"future_leaks": info["future_leaks"], "split": info["split"]})]
        if info["unseen_users"] or info["unseen_items"]:
            out.append(Finding("cold_start", "warning",
                               f"{info['unseen_users']} held-out users and {info['unseen_items']} held-out items were never seen in "
                               "training: the users get the popularity list, the items cannot be ranked (they still count as "
                               "relevant, so recall is not inflated)",
                               {k: info[k] for k in ("unseen_users", "unseen_items", "test_interactions_of_unseen_users",
                                                     "test_interactions_of_unseen_items")}))
        return out

    def compare(self, preds_a: pd.DataFrame, preds_b: pd.DataFrame, task: str, metric: str, classes, seed: int) -> dict:
        """Two models' saved top-k lists compared on the users both ranked (paired bootstrap of per-user NDCG)."""
        k = _cut_off(metric) or 10
        out = self._paired(preds_a, preds_b, k, seed)
        if not out.get("compared"):
            return {"compared": False, "why": "the two holdouts share no user (the data was split again)"}
        out.pop("a_interval"), out.pop("b_interval")
        return {"rows_a": len(preds_a), "rows_b": len(preds_b), "metric": f"ndcg_at_{k}", **out}

    @staticmethod
    def _at_k(predictions: pd.DataFrame) -> pd.DataFrame:
        from specweave_ml.recommendations import metrics as rm

        hits, n_rel = rm._hits(predictions)
        ks = range(1, hits.shape[1] + 1)
        return pd.DataFrame({"k": list(ks), "ndcg": [rm.ndcg_at(hits, n_rel, k) for k in ks],
                             "precision": [rm.precision_at(hits, n_rel, k) for k in ks],
                             "recall": [rm.recall_at(hits, n_rel, k) for k in ks],
                             "map": [rm.map_at(hits, n_rel, k) for k in ks],
                             "hit_rate": [rm.hit_rate_at(hits, n_rel, k) for k in ks]})

    def plots(self, predictions: pd.DataFrame, plan: Plan, classes, plots_dir: Path, curves_dir: Path) -> list[Path]:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        plots_dir.mkdir(parents=True, exist_ok=True)
        curves_dir.mkdir(parents=True, exist_ok=True)
        table = self._at_k(predictions)
        table.round(6).to_csv(curves_dir / "metric_at_k.csv", index=False)
        fig, ax = plt.subplots(figsize=(5.5, 3.4))
        for m in PLOTTED:
            ax.plot(table["k"], table[m], label=m.replace("_", " "))
        ax.set_xlabel("k (length of the list)")
        ax.set_ylabel("holdout value")
        ax.set_title("Ranking metrics at k (full catalogue)")
        ax.legend(fontsize=7)
        fig.tight_layout()
        fig.savefig(plots_dir / "metric_at_k.png", dpi=80)
        plt.close(fig)
        return [plots_dir / "metric_at_k.png"]

    def dvc_plots(self, task: str) -> dict[str, dict]:
        return {"metric_at_k.csv": {"x": "k", "y": list(PLOTTED), "title": "Holdout ranking metrics at k (full catalogue)"}}

    def explain(self, model, model_name: str, train, test, split_info, plan: Plan, settings, seed: int, out_dir: Path) -> dict:
        """For sample users, each recommendation with the user's own items most similar to it."""
        out_dir.mkdir(parents=True, exist_ok=True)
        users = pd.Series(test["user"].unique())
        n = max(1, min(int(settings.local_top) + int(settings.local_random), len(users), 10))
        chosen = users.sample(n=n, random_state=seed).tolist()
        k = min(5, model.k)
        answers = [model.recommend(u, k) for u in chosen]
        cited: dict = {}
        for a in answers:
            for item in a["items"]:
                for why in item["reasons"]:
                    cited[why["item"]] = cited.get(why["item"], 0) + 1
        top = sorted(cited.items(), key=lambda kv: (-kv[1], str(kv[0])))[:int(settings.top_features)]
        (out_dir / "recommendations.json").write_text(json.dumps({"users": answers}, indent=2, default=str) + "\n")
        lines = ["# Why these recommendations", "", "For each sample user, the top items and the user's own items most "
                 "similar to each (cosine of co-occurrence in training).", ""]
        examples = []
        for a in answers:
            said = []
            for it in a["items"]:
                because = ", ".join(f"{w['item']} ({w['similarity']:.2f})" for w in it["reasons"]) or "no similar item of theirs"
                said.append(f"item {it['item']} (score {it['score']:.3f}): because of {because}")
            examples.append({"title": f"user {a['user']}: top {len(said)} and why", "lines": said})
            lines += [f"## user {a['user']}", *[f"- {x}" for x in said], ""]
        (out_dir / "recommendations.md").write_text("\n".join(lines))
        return {"explainer": "item similarity", "rows_explained": len(answers),
                "top_features": [{"feature": f"item {i}", "magnitude": c} for i, c in top],
                "files": ["recommendations.json", "recommendations.md"], "users": [str(u) for u in chosen], "examples": examples}

    # -- predictions, A/B tests, serving ------------------------------------------------------------------
    def read_input(self, path: Path, model) -> pd.DataFrame:
        from specweave_ml.data.inputs import read_input

        return read_input(path)

    def check_monitoring(self) -> None:
        """Drift monitoring of a recommender is not built: refused before ``stage=monitor`` reads anything."""
        from specweave_ml.errors import NotTrainableYet

        raise NotTrainableYet("stage", "drift monitoring of a recommender (stage=monitor) is not built yet",
                              "watch the server's /metrics (recommend_fallbacks_total counts unknown users) meanwhile")

    def conform(self, frame: pd.DataFrame, model_dir: Path) -> pd.DataFrame:
        from specweave_ml.errors import DataError
        from specweave_ml.packaging import signature_columns

        user = next(iter(signature_columns(model_dir)))
        if user not in frame.columns:
            raise DataError("input", f"has no '{user}' column: the users to recommend for", f"give the user ids in a '{user}' column")
        return frame

    def reference(self, paths, model, example: pd.DataFrame, model_meta: dict, cfg, seed: int) -> str:
        from specweave_ml.fileio import write_json

        profile = {"schema_version": 1, "task": "ranking", "classes": [], "training_rows": int(model.seen_.nnz),
                   "features": [model.user_column], "scores": [],
                   "catalogue": {"users": len(model.users_), "items": len(model.items_),
                                 "popular": [str(model.items_[j]) for j in np.argsort(-model.popularity_, kind="stable")[:20]]},
                   "model": {"name": model_meta.get("name"), "sha256": model_meta["sha256"], "explainer": "none"},
                   "monitoring": ("drift monitoring of interactions is not built yet (stage=monitor refuses); the server's "
                                  "/metrics counts requests, latency and popularity fallbacks"),
                   "background": {"columns": list(example.columns), "data": example.astype(str).to_numpy(object).tolist()}}
        write_json(paths.reference_profile, profile)
        return "item-similarity reasons"

    def default_input(self, model) -> Optional[pd.DataFrame]:
        return pd.DataFrame({model.user_column: [u.item() if hasattr(u, "item") else u for u in model.users_]})

    def score(self, model, frame: pd.DataFrame) -> pd.DataFrame:
        users = frame[model.user_column].tolist()
        idx, sc, fallback = model.lists(users, model.k)
        return pd.DataFrame({"items": [" ".join(str(model.items_[j]) for j, v in zip(row, vals) if np.isfinite(v))
                                       for row, vals in zip(idx, sc)],
                             "scores": [" ".join(f"{v:.6g}" for v in row if np.isfinite(v)) for row in sc],
                             "fallback": np.where(fallback, "popularity (unknown user)", "")}, index=frame.index)

    def online_metric(self, predictions: pd.DataFrame, task: str, classes):
        from specweave_ml.serving.abtest import Metric

        k = min(10, int(predictions["rank"].max()))
        hit = predictions[predictions["rank"] <= k].groupby("user")["relevant"].any()
        return Metric(f"hit rate@{k}", f"share of recommendation lists with at least one item the user then takes (top {k})",
                      "recommendation list", 1.0, float(hit.mean()), "proportion")

    def requests(self, holdout: pd.DataFrame, columns: dict, split_info: dict, n: int, seed: int) -> tuple[str, list[bytes]]:
        """Load-test requests to ``/recommend``: held-out users (one in twenty unknown, to exercise the fallback)."""
        rng = np.random.default_rng(seed)
        users = holdout["user"].drop_duplicates().tolist()
        bodies = []
        for i in range(min(n, 500)):
            user = users[int(rng.integers(len(users)))] if i % 20 else f"unknown-{i}"
            bodies.append(json.dumps({"user": user.item() if hasattr(user, "item") else user, "k": 10}).encode())
        return "/recommend", bodies

    def app(self, champion, config, challenger=None):
        from specweave_ml.serving.recommend_app import create_recommend_app

        return create_recommend_app(champion, config)


FAMILY = RecommendationsFamily()
