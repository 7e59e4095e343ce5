"""``POST /predict`` of an image model: a base64 PNG or a pixel array in, the class and its probabilities out;
every bad image a 422 naming the field."""

import base64
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest

from specweave_ml.serving.image_app import create_image_app
from specweave_ml.vision.images import SHAPE_ATTRIBUTE, Shape, encode_png

DIGIT = Shape(8, 8, 1, 16.0)


@pytest.fixture(scope="module")
def served():
    from sklearn.datasets import load_digits
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler
    from starlette.testclient import TestClient

    from specweave_ml.models.decision import DecisionModel

    frame = load_digits(as_frame=True).frame
    pixels = [c for c in frame.columns if c != "target"]
    model = DecisionModel(make_pipeline(StandardScaler(), LogisticRegression(max_iter=500)), task="multiclass_classification")
    model.fit(frame[pixels].head(600), frame["target"].head(600))
    setattr(model, SHAPE_ATTRIBUTE, DIGIT.as_dict())
    bundle = SimpleNamespace(increment="0099-test", model_name="pixel_linear", sha256="ab" * 32, model=model,
                             columns={c: "double" for c in pixels}, describe=lambda: {"increment": "0099-test"})
    config = SimpleNamespace(max_body_bytes=100_000, max_batch_rows=8)
    return TestClient(create_image_app(bundle, config)), frame[pixels].iloc[700:705].to_numpy(), model, pixels


def png64(row, shape=DIGIT):
    return base64.b64encode(encode_png(row, shape)).decode()


def test_a_png_and_a_pixel_array_of_the_same_digit_get_the_models_answer(served):
    client, rows, model, pixels = served
    expected = model.predict(pd.DataFrame(rows[:1], columns=pixels))[0]
    by_array = client.post("/predict", json={"pixels": rows[0].reshape(8, 8).tolist()})
    by_png = client.post("/predict", json={"png": png64(rows[0])})
    assert by_array.status_code == 200 and by_png.status_code == 200
    assert by_array.json()["prediction"] == expected
    assert by_png.json()["prediction"] == expected  # 8-bit PNG quantisation does not change the digit
    assert sum(by_array.json()["probabilities"].values()) == pytest.approx(1.0)
    batch = client.post("/predict/batch", json={"images": [{"pixels": r.tolist()} for r in rows]})
    assert [p["prediction"] for p in batch.json()["predictions"]] == list(model.predict(pd.DataFrame(rows, columns=pixels)))
    assert client.get("/health").json()["image"] == DIGIT.as_dict()


@pytest.mark.parametrize("body, field, words", [
    ({"png": "###"}, ["body", "png"], "is not base64"),
    ({"png": base64.b64encode(b"GIF? no, just text").decode()}, ["body", "png"], "is not an image"),
    ({"png": None, "pixels": None}, ["body"], "exactly one of 'png'"),
    ({"pixels": [[0.0] * 8] * 7}, ["body", "pixels"], "has shape [7, 8]"),
    ({"pixels": [[0.0] * 8] * 7 + [[0.0] * 5]}, ["body", "pixels"], "rectangular"),
    ({"pixels": [[99.0] * 8] * 8}, ["body", "pixels"], "from 0 to 16"),
])
def test_each_bad_image_is_a_422_naming_the_field(served, body, field, words):
    client = served[0]
    response = client.post("/predict", json=body)
    assert response.status_code == 422
    detail = response.json()["detail"][0]
    assert detail["loc"] == field and words in detail["msg"]


def test_a_png_of_the_wrong_size_and_a_bad_image_in_a_batch_name_where_they_are(served):
    client, rows, *_ = served
    response = client.post("/predict", json={"png": png64(np.zeros(100), Shape(10, 10, 1, 16.0))})
    assert response.status_code == 422 and "10x10" in response.json()["detail"][0]["msg"]
    response = client.post("/predict/batch", json={"images": [{"pixels": rows[0].tolist()}, {"png": "%%"}]})
    assert response.status_code == 422 and response.json()["detail"][0]["loc"] == ["body", "images", 1, "png"]
    too_many = client.post("/predict/batch", json={"images": [{"pixels": rows[0].tolist()}] * 9})
    assert too_many.status_code == 422 and "images" in too_many.json()["detail"][0]["loc"]
    assert 'image_requests_total{status="422"}' in client.get("/metrics").text
