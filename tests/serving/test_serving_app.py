"""The model server as a client meets it: a real uvicorn process on 127.0.0.1, and the schemas it is built from."""

import json
import math
import subprocess
import sys

import httpx
import numpy as np
import pytest
from pydantic import ValidationError

from specweave_ml.packaging import load_model
from specweave_ml.serving.schemas import row_model, values

JSON = {"content-type": "application/json"}


# --- the schema, without a server ---------------------------------------------------------------

def test_row_schema_takes_exactly_the_signature_columns_by_their_own_names():
    Row = row_model({"mean radius": "double", "count": "long", "city": "string"})
    row = Row.model_validate({"mean radius": 1, "count": 3, "city": "Oslo"})
    assert values(row) == [1.0, 3, "Oslo"]
    for bad, field in [({"count": 3, "city": "x"}, "mean radius"), ({"mean radius": 1.0, "count": 3, "city": "x", "zip": 1}, "zip"),
                       ({"mean radius": "1.5", "count": 3, "city": "x"}, "mean radius"), ({"mean radius": 1.0, "count": 2.5, "city": "x"}, "count"),
                       ({"mean radius": float("nan"), "count": 3, "city": "x"}, "mean radius"),
                       ({"mean radius": float("inf"), "count": 3, "city": "x"}, "mean radius"),
                       ({"mean radius": 1.0, "count": 3, "city": 7}, "city")]:
        with pytest.raises(ValidationError) as err:
            Row.model_validate(bad)
        assert [e["loc"] for e in err.value.errors()] == [(field,)]


@pytest.mark.slow
def test_the_server_command_reports_a_missing_increment_in_one_line(tmp_path):
    result = subprocess.run([sys.executable, "-m", "specweave_ml.serving", str(tmp_path / "nowhere")],
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 2
    assert result.stderr.startswith("error: ") and "metadata.json" in result.stderr and "Traceback" not in result.stderr


@pytest.mark.slow
def test_stage_serve_refuses_a_bad_split_before_starting(cli):
    result = cli("problem=breast_cancer", "stage=serve", "serving.ab.split=1.5")
    assert result.returncode == 2
    assert "serving.ab.split" in result.stderr and "Traceback" not in result.stderr


# --- a real server ------------------------------------------------------------------------------

@pytest.mark.slow
def test_health_names_the_increment_the_model_and_its_hash(server, built):
    body = httpx.get(f"{server}/health").json()
    recorded = built.meta["model"]
    assert body["increment"] == "0002-breast-cancer"
    assert body["model"]["sha256"] == recorded["sha256"]
    assert body["model"]["version"] == recorded["registered"]["version"]
    assert body["drift_reference"] is True and body["challenger"] is None


@pytest.mark.slow
def test_predict_scores_one_row_and_a_batch_like_the_packaged_model(server, built, holdout):
    model = load_model(built.paths.model, built.meta["model"]["sha256"])
    expected = model.scores(holdout.head(20))
    rows = holdout.head(20).to_dict(orient="records")
    one = httpx.post(f"{server}/predict", json=rows[0]).json()
    batch = httpx.post(f"{server}/predict/batch", json={"rows": rows}).json()
    assert one["score"] == pytest.approx(expected[0], abs=1e-12)
    assert one["decision"] == int(expected[0] >= one["threshold"])
    assert [p["score"] for p in batch["predictions"]] == pytest.approx(list(expected), abs=1e-12)
    assert batch["variant"] == "champion" and batch["model"] == built.meta["model"]["sha256"][:12]


def _bad_requests(row: dict) -> dict:
    """name -> (how to send it, the field the 4xx must name, or None when the body as a whole is wrong)."""
    first, second = list(row)[:2]
    missing = {k: v for k, v in row.items() if k != first}
    text = json.dumps(row)
    with_literal = lambda lit: text.replace(json.dumps(row[second]), lit, 1)  # noqa: E731
    return {
        "missing field": (dict(json=missing), first),
        "extra field": (dict(json={**row, "colour": "red"}), "colour"),
        "string for a number": (dict(json={**row, second: "12.5"}), second),
        "boolean for a number": (dict(json={**row, second: True}), second),
        "null": (dict(json={**row, second: None}), second),
        "object for a number": (dict(json={**row, second: {"v": 1}}), second),
        "NaN": (dict(content=with_literal("NaN"), headers=JSON), second),
        "Infinity": (dict(content=with_literal("Infinity"), headers=JSON), second),
        "-Infinity": (dict(content=with_literal("-Infinity"), headers=JSON), second),
        "overflowing number": (dict(content=with_literal("1e999"), headers=JSON), second),
        "huge integer": (dict(content=with_literal("9" * 400), headers=JSON), second),
        "integer past Python's 4300 digits": (dict(content=with_literal("9" * 5000), headers=JSON), None),
        "finite values too extreme to score": (dict(json={k: 1e308 for k in row}), first),
        "array instead of object": (dict(json=[row]), None),
        "not JSON": (dict(content=b"mean radius=3", headers=JSON), None),
        "truncated JSON": (dict(content=text[:-7].encode(), headers=JSON), None),
        "empty body": (dict(content=b"", headers=JSON), None),
        "text/plain body": (dict(content=text.encode(), headers={"content-type": "text/plain"}), None),
        "invalid UTF-8": (dict(content=b'{"\xff\xfe": 1}', headers=JSON), None),
        "deeply nested": (dict(content=b"[" * 100_000 + b"]" * 100_000, headers=JSON), None),
        "oversized body": (dict(content=b" " * 5_000_000 + text.encode(), headers=JSON), None),
        "oversized chunked body": (dict(content=iter([b" " * 1_000_000] * 6), headers=JSON), None),
    }


@pytest.mark.slow
def test_a_barrage_of_bad_requests_gets_4xx_naming_the_field_and_never_5xx(server, holdout, scrape):
    row = holdout.iloc[0].to_dict()
    with httpx.Client(base_url=server, timeout=30) as client:
        assert client.post("/explain", json={k: 1e308 for k in row}).status_code == 422
        before = client.get("/metrics").text
        for name, (how, field) in _bad_requests(row).items():
            response = client.post("/predict", **how)
            assert 400 <= response.status_code < 500, (name, response.status_code, response.text[:300])
            if field is not None:
                locs = [e["loc"] for e in response.json()["detail"]]
                assert ["body", field] in locs, (name, locs)
        batch_cases = {
            "empty batch": ({"rows": []}, ["body", "rows"]),
            "rows not a list": ({"rows": row}, ["body", "rows"]),
            "bad row in a batch": ({"rows": [row, {**row, "mean radius": "big"}]}, ["body", "rows", 1, "mean radius"]),
            "batch over max_batch_rows": ({"rows": [row] * 5001}, ["body", "rows"]),
            "extra key next to rows": ({"rows": [row], "limit": 3}, ["body", "limit"]),
            "one row too extreme to score": ({"rows": [row, {k: -1e308 for k in row}]}, ["body", "rows", 1, next(iter(row))]),
        }
        for name, (body, loc) in batch_cases.items():
            response = client.post("/predict/batch", json=body)
            assert response.status_code == 422, (name, response.status_code)
            assert loc in [e["loc"] for e in response.json()["detail"]], name
        after = client.get("/metrics").text
        assert client.get("/health").status_code == 200  # still serving
    assert scrape(after, "specweave_requests_total", endpoint="/predict", status="413") >= 2
    assert scrape(after, "specweave_requests_total", endpoint="/predict", status="422") > \
        scrape(before, "specweave_requests_total", endpoint="/predict", status="422")
    assert not [line for line in after.splitlines() if line.startswith("specweave_requests_total") and 'status="5' in line]


@pytest.mark.slow
def test_metrics_move_with_traffic(server, holdout, scrape):
    rows = holdout.head(5).to_dict(orient="records")
    before = httpx.get(f"{server}/metrics").text
    for row in rows:
        assert httpx.post(f"{server}/predict", json=row).status_code == 200
    assert httpx.post(f"{server}/predict/batch", json={"rows": rows}).status_code == 200
    after = httpx.get(f"{server}/metrics").text

    def moved(name, **labels):
        return scrape(after, name, **labels) - scrape(before, name, **labels)

    assert moved("specweave_requests_total", endpoint="/predict", status="200", variant="champion") == 5
    assert moved("specweave_request_latency_seconds_count", endpoint="/predict", variant="champion") == 5
    assert moved("specweave_rows_scored_total", variant="champion") == 10
    assert moved("specweave_score_count", variant="champion", output="score") == 10
    assert scrape(after, "specweave_drift_window_rows") >= 10
    assert scrape(after, "specweave_model_info", variant="champion", increment="0002-breast-cancer") == 1


@pytest.mark.slow
def test_explain_returns_shap_values_that_add_up_to_the_score(server, holdout):
    row = holdout.iloc[3].to_dict()
    body = httpx.post(f"{server}/explain", json=row, timeout=60).json()
    assert set(body["values"]) == set(row)  # the linear pipeline keeps one column per feature
    assert body["explainer"] == "linear"
    p = body["prediction"]["score"]
    # The linear explainer works in log-odds: base + sum of SHAP values = logit(score).
    assert body["base_value"] + sum(body["values"].values()) == pytest.approx(math.log(p / (1 - p)), abs=1e-6)


@pytest.mark.slow
def test_the_openapi_schema_lists_every_column_of_the_signature(server, holdout):
    spec = httpx.get(f"{server}/openapi.json").json()
    row = spec["components"]["schemas"]["Row"]
    assert set(row["required"]) == set(holdout.columns) and row["additionalProperties"] is False
    assert {"/predict", "/predict/batch", "/explain", "/health"} <= set(spec["paths"])
    assert httpx.get(f"{server}/docs").status_code == 200


@pytest.mark.slow
def test_fast_scorer_is_used_only_when_it_reproduces_the_pipeline():
    """A numeric passthrough + LightGBM pipeline gets the booster shortcut; a scaled linear one does not."""
    import lightgbm as lgb
    import pandas as pd
    from sklearn.compose import ColumnTransformer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import StandardScaler

    from specweave_ml.models.decision import DecisionModel
    from specweave_ml.serving.bundle import fast_scorer

    rng = np.random.default_rng(0)
    X = pd.DataFrame(rng.normal(size=(300, 3)), columns=["a", "b", "c"])
    y = (X["a"] + rng.normal(size=300) > 0).astype(int)
    columns = {c: "double" for c in X}
    boosted = DecisionModel(Pipeline([("preprocess", ColumnTransformer([("numeric", "passthrough", list(X))])),
                                      ("model", lgb.LGBMClassifier(n_estimators=20, verbose=-1))])).fit(X, y)
    linear = DecisionModel(Pipeline([("preprocess", ColumnTransformer([("numeric", StandardScaler(), list(X))])),
                                     ("model", LogisticRegression())])).fit(X, y)
    fast = fast_scorer(boosted, columns, X.head(20))
    assert fast is not None
    np.testing.assert_allclose(fast(X.to_numpy()), boosted.scores(X), rtol=1e-12)
    assert fast_scorer(linear, columns, X.head(20)) is None
    assert fast_scorer(boosted, {"c": "double", "b": "double", "a": "double"}, X.head(20)) is None  # other column order
