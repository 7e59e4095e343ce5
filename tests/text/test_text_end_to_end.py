"""The Rotten Tomatoes brief end to end on a sample, from the command line: every stage, metrics recomputed from the
saved predictions, the explanations, identical CV scores when training again with the same seed, stage=predict and
its refusals, the server's answers and 4xx, and the load test against a real uvicorn server."""

import json
import os
import subprocess
import sys

import pandas as pd
import pytest

INCREMENT = "0010-rotten-tomatoes"


@pytest.fixture(scope="module")
def reviews(tmp_path_factory):
    root = tmp_path_factory.mktemp("reviews")

    def cli(*args):
        env = {**os.environ, "SPECWEAVE_ROOT": str(root), "OMP_WAIT_POLICY": "PASSIVE", "HF_HUB_OFFLINE": "1"}
        return subprocess.run([sys.executable, "-m", "specweave_ml", "problem=rotten_tomatoes", "tracking=off", "progress=false",
                               "problem.data.sample_rows=300", "selection.cv_folds=3", "problem.text.explain_samples=1",
                               "problem.text.explain_max_evals=40", *args],
                              cwd=root, env=env, capture_output=True, text=True, timeout=600)

    done = cli()
    assert done.returncode == 0, done.stderr[-3000:]
    return root, root / "increments" / INCREMENT, cli


def read(inc, name):
    return json.loads((inc / "reports" / name).read_text())


@pytest.mark.slow
def test_every_stage_ran_and_the_report_says_which_model_won(reviews):
    from sklearn.metrics import accuracy_score

    _, inc, _ = reviews
    preds = pd.read_parquet(inc / "reports" / "predictions.parquet")
    metrics = read(inc, "metrics.json")
    assert metrics["holdout"]["accuracy"] == pytest.approx(accuracy_score(preds["y_true"], preds["y_pred"]))
    cv = read(inc, "cv.json")
    assert {c["name"] for c in cv["candidates"]} == {"bag_of_words", "text_encoder", "text_hybrid"}
    assert {b["name"] for b in cv["baselines"]} >= {"most_frequent"}
    won = next(f for f in read(inc, "antipatterns.json")["findings"] if f["kind"] == "encoder_vs_bag_of_words")
    assert ("the simple model ships" in won["message"]) == (cv["chosen"] == "bag_of_words")
    assert all(f"{name} {won['evidence'][name]:.4f}" in won["message"] for name in ("bag_of_words", "text_encoder", "text_hybrid"))
    assert list((inc / "cache").glob("*/*.npz"))  # the embeddings were cached in the increment
    shap = read(inc, "shap/summary.json")
    assert shap["top_features"] and (inc / "reports" / "shap" / "ngrams.png").exists()
    assert (inc / "reports" / "shap" / "tokens_1.png").exists()
    html = (inc / "reports" / "report.html").read_text()
    assert "ngrams" in html and "tokens 1" in html and "encoder" in html


@pytest.mark.slow
def test_predict_scores_a_csv_of_texts_and_refuses_bad_ones_writing_nothing(reviews):
    root, _, cli = reviews
    (root / "new.csv").write_text("text\nA triumph: warm, funny and wise.\nA dull, lifeless slog.\n")
    done = cli("stage=predict", "input=new.csv", "output=scored.csv")
    assert done.returncode == 0, done.stderr[-2000:]
    scored = pd.read_csv(root / "scored.csv")
    assert list(scored["prediction"]) and set(scored["prediction"]) <= {"fresh", "rotten"} and "score" in scored
    (root / "empty.csv").write_text('text\n"A fine film."\n""\n')
    (root / "other.csv").write_text("review\nA fine film.\n")
    for name, message in (("empty.csv", "1 of 2 texts are empty or missing (rows 1)"), ("other.csv", "has no 'text' column")):
        done = cli("stage=predict", f"input={name}", "output=never.csv")
        assert done.returncode == 2 and message in done.stderr and done.stderr.count("error:") == 1
        assert not (root / "never.csv").exists()


@pytest.mark.slow
def test_the_server_answers_texts_and_names_the_field_of_a_bad_request(reviews):
    from fastapi.testclient import TestClient

    from specweave_ml.serving.server import build_app
    from specweave_ml.serving.settings import ServerConfig

    _, inc, _ = reviews
    config = ServerConfig(str(inc), "127.0.0.1", 8000, 10**6, 4, 100, 10, 0.2, None, "champion", 0.5, "x-user", "s")
    client = TestClient(build_app(config))
    one = client.post("/predict", json={"text": "A warm and funny film."}).json()
    assert one["prediction"] in ("fresh", "rotten") and sum(one["probabilities"].values()) == pytest.approx(1)
    batch = client.post("/predict/batch", json={"texts": ["Great.", "Awful."]}).json()
    assert len(batch["predictions"]) == 2
    for body, loc in (({}, ["body", "text"]), ({"text": ""}, ["body", "text"]), ({"text": 5}, ["body", "text"]),
                      ({"text": "x" * 2001}, ["body", "text"])):
        got = client.post("/predict", json=body)
        assert got.status_code == 422 and got.json()["detail"][0]["loc"] == loc, body
    too_many = client.post("/predict/batch", json={"texts": ["a"] * 5})
    assert too_many.status_code == 422 and too_many.json()["detail"][0]["loc"] == ["body", "texts"]
    assert client.post("/predict", content=b"not json", headers={"content-type": "application/json"}).status_code == 422
    assert client.get("/health").json()["max_chars"] == 2000


@pytest.mark.slow
def test_the_load_test_drives_a_real_server_with_holdout_texts(reviews):
    _, inc, cli = reviews
    done = cli("stage=loadtest", "serving.loadtest.duration_s=3", "serving.loadtest.rate=20")
    assert done.returncode == 0, done.stderr[-2000:]
    lt = read(inc, "loadtest.json")
    assert lt["endpoint"] == "/predict" and lt["error_rate"] == 0 and lt["p95_ms"] > 0


@pytest.mark.slow
def test_training_again_with_the_same_seed_gives_identical_scores(reviews):
    _, inc, cli = reviews
    before = read(inc, "cv.json")
    done = cli("stage=train")
    assert done.returncode == 0, done.stderr[-2000:]
    after = read(inc, "cv.json")
    for a, b in zip(before["candidates"] + before["baselines"], after["candidates"] + after["baselines"]):
        assert a["name"] == b["name"] and a["folds"] == b["folds"] and a["train_folds"] == b["train_folds"]
