"""The digits brief end to end from the command line (600 images, a 4-epoch CNN): every stage, the numbers,
the explanation, predict on a folder of PNGs, a bad image refused, and the load test against the real server."""

import json

import numpy as np
import pandas as pd
import pytest

SMALL = ("problem.data.sample_rows=600", "models.cnn.params.max_epochs=4", "models.cnn.params.threads=1", "tracking=off")


@pytest.fixture(scope="module")
def digits(tmp_path_factory):
    import os
    import subprocess
    import sys

    root = tmp_path_factory.mktemp("digits")

    def cli(*args, at=root):
        env = {**os.environ, "SPECWEAVE_ROOT": str(at), "OMP_WAIT_POLICY": "PASSIVE"}
        return subprocess.run([sys.executable, "-m", "specweave_ml", "problem=digits", *SMALL, *args], cwd=at, env=env,
                              capture_output=True, text=True, timeout=600)

    done = cli()
    assert done.returncode == 0, done.stderr[-3000:]
    return root, root / "increments" / "0013-digits", cli


def read_meta(inc):
    return json.loads((inc / "metadata.json").read_text())


def read(inc, name):
    return json.loads((inc / "reports" / name).read_text())


@pytest.mark.slow
def test_both_candidates_are_cross_validated_and_the_champion_is_the_better_one(digits):
    _, inc, _ = digits
    cv = read(inc, "cv.json")
    scores = {c["name"]: c["mean"] for c in cv["candidates"]}
    assert set(scores) == {"pixel_linear", "cnn"} and all(len(c["folds"]) == 5 for c in cv["candidates"])
    metrics = read(inc, "metrics.json")
    assert metrics["chosen"] == max(scores, key=scores.get)
    assert metrics["holdout"]["accuracy"] > 0.8  # ten classes: a guess gets 0.1
    assert next(g for g in metrics["gates"] if g["name"] == "baseline_margin")["passed"]
    predictions = pd.read_parquet(inc / "reports" / "predictions.parquet")
    assert metrics["holdout"]["accuracy"] == pytest.approx((predictions["y_true"] == predictions["y_pred"]).mean())
    assert (inc / "reports" / "report.html").exists() and (inc / "reports" / "readiness.json").exists()


@pytest.mark.slow
def test_the_cnn_is_explained_with_gradient_shap_over_holdout_digits(digits, tmp_path):
    import shutil

    root, inc, cli = digits
    if read(inc, "metrics.json")["chosen"] != "cnn":  # logistic regression won: its SHAP is linear; train the CNN
        copy = tmp_path / "copy"                      # alone, in a copy, so the shared increment stays as it was
        shutil.copytree(root, copy)
        done = cli("model=cnn", at=copy)
        assert done.returncode == 0, done.stderr[-2000:]
        inc = copy / inc.relative_to(root)
    shap = read(inc, "shap/summary.json")
    assert shap["explainer"] == "gradient" and shap["rows_explained"] >= 6
    assert (inc / "reports" / "shap" / "gradient_shap_over_holdout_digits.png").stat().st_size > 1000
    report = (inc / "reports" / "report.html").read_text()
    assert "gradient shap over holdout digits" in report and "holdout image" in report  # the figure and the examples


@pytest.mark.slow
def test_predict_scores_a_folder_of_pngs_and_refuses_a_non_image_writing_nothing(digits):
    from specweave_ml.vision.images import Shape, encode_png

    root, inc, cli = digits
    test = pd.read_parquet(inc / "data" / "test.parquet")
    pixels = [c for c in test.columns if c.startswith("pixel_")]
    folder = root / "new"
    for i in range(4):
        (folder / str(int(test["target"].iloc[i]))).mkdir(parents=True, exist_ok=True)
        (folder / str(int(test["target"].iloc[i])) / f"d{i}.png").write_bytes(encode_png(test[pixels].iloc[i], Shape(8, 8, 1, 16.0)))
    done = cli("stage=predict", f"input={folder}", f"output={root / 'scores.csv'}")
    assert done.returncode == 0, done.stderr[-2000:]
    scores = pd.read_csv(root / "scores.csv")
    assert len(scores) == 4 and {"file", "label", "prediction", "proba_0"} <= set(scores.columns)
    assert np.allclose(scores[[f"proba_{k}" for k in range(10)]].sum(axis=1), 1.0)
    from specweave_ml.packaging import load_model

    model = load_model(inc / "models" / "champion", read_meta(inc)["model"]["sha256"])
    png_pixels = np.rint(test[pixels].iloc[:4].to_numpy(float) / 16 * 255) / 255 * 16  # what the 8-bit PNGs carry
    by_file = scores.set_index("file").loc[[f"{int(test['target'].iloc[i])}/d{i}.png" for i in range(4)]]
    assert list(by_file["prediction"]) == list(model.predict(pd.DataFrame(png_pixels, columns=pixels)))
    first = str(int(test["target"].iloc[0]))
    (folder / first / "junk.png").write_text("this is not a picture")
    done = cli("stage=predict", f"input={folder}", f"output={root / 'bad.csv'}")
    assert done.returncode == 2 and f"input file '{first}/junk.png': is not an image" in done.stderr
    assert not (root / "bad.csv").exists()


@pytest.mark.slow
def test_the_load_test_drives_post_predict_with_pngs_and_pixel_arrays(digits):
    _, inc, cli = digits
    done = cli("stage=loadtest", "serving.loadtest.duration_s=2", "serving.loadtest.rate=20")
    assert done.returncode == 0, done.stderr[-2000:]
    result = read(inc, "loadtest.json")
    assert result["endpoint"] == "/predict" and result["error_rate"] == 0 and result["ok"] > 0


@pytest.mark.slow
def test_an_image_size_that_does_not_fit_the_columns_exits_2_and_writes_nothing(cli, tmp_path):
    done = cli("problem=digits", "problem.image.height=28", "problem.image.width=28", "tracking=off")
    assert done.returncode == 2
    assert "problem.image: 64 pixel columns do not make 28x28 images" in done.stderr and "Fix:" in done.stderr
    assert not (tmp_path / "increments").exists()
