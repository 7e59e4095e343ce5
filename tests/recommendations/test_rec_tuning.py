"""tuning=phased on a recommender: the same three phases as tabular models (coarse grid, fine grid around its
best, Optuna), each finishing real trials on the CV folds, the tuned configuration kept only when it scores higher."""

import json

import pytest


@pytest.mark.slow
def test_phased_tuning_runs_every_phase_and_keeps_only_what_scores_higher(cli, tmp_path):
    done = cli("problem=movielens", "tuning=phased", "tracking=off", "problem.data.sample_rows=6000",
               "selection.cv_folds=3", "problem.constraints.budget_minutes=0.5", "stage=all", timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    training = json.loads((tmp_path / "increments" / "0008-movielens-implicit" / "reports" / "training.json").read_text())
    tuning = training["tuning"]
    assert tuning, "no candidate was tuned"
    for name, report in tuning.items():
        assert [p["phase"] for p in report["phases"]] == ["coarse", "fine", "optuna"][:len(report["phases"])]
        assert report["kept"] in ("tuned", "untuned: the tuned configuration did not score higher on the same folds",
                                  "untuned: no trial finished")
        if report["kept"] == "tuned":
            assert report["tuned_cv"] > report["untuned_cv"]
    finished = {p["phase"] for r in tuning.values() for p in r["phases"] if p["trials_finished"] > 0}
    assert finished == {"coarse", "fine", "optuna"}
    assert "not built for ranking" not in done.stderr
