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
    ({"pixels": [["1"] * 8] * 8}, ["body", "pixels"], "numbers only"),
    ({"pixels": [True] * 64}, ["body", "pixels"], "numbers only"),
    ({"pixels": [[0.0] * 8] * 7 + [[None] * 8]}, ["body", "pixels"], "numbers only"),
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


@pytest.fixture(scope="module")
def two_classes():
    """A two-class model (digit 3 or not) with a tuned threshold of 0.3: labels must follow decide, not argmax."""
    from sklearn.datasets import load_digits
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from starlette.testclient import TestClient

    from specweave_ml.models.decision import DecisionModel

    frame = load_digits(as_frame=True).frame
    pixels = [c for c in frame.columns if c != "target"]
    y = np.where(frame["target"] == 3, "three", "other")
    model = DecisionModel(make_pipeline(LogisticRegression(C=0.0003, max_iter=500)), task="binary_classification", threshold=0.3)
    model.fit(frame[pixels].head(600), y[:600])
    setattr(model, SHAPE_ATTRIBUTE, DIGIT.as_dict())
    bundle = SimpleNamespace(increment="0099-test", model_name="pixel_linear", sha256="cd" * 32, model=model,
                             columns={c: "double" for c in pixels}, describe=lambda: {"increment": "0099-test"})
    rows = frame[pixels].iloc[600:700].to_numpy()
    proba = model.predict_proba(pd.DataFrame(rows, columns=pixels))[:, 1]
    rows = rows[np.argsort(-proba)[:8]]  # the likeliest threes: both labels, some between 0.3 and 0.5
    config = SimpleNamespace(max_body_bytes=100_000, max_batch_rows=8)
    return TestClient(create_image_app(bundle, config)), rows, model, pixels


def test_a_two_class_model_answers_its_decided_labels_for_one_image_and_a_batch(two_classes):
    client, rows, model, pixels = two_classes
    expected = list(model.predict(pd.DataFrame(rows, columns=pixels)))
    proba = model.predict_proba(pd.DataFrame(rows, columns=pixels))
    assert set(expected) == {"three", "other"} and ((proba[:, 1] >= 0.3) & (proba[:, 1] < 0.5)).any()
    single = [client.post("/predict", json={"pixels": r.tolist()}).json() for r in rows]
    assert [s["prediction"] for s in single] == expected
    assert single[0]["probabilities"] == pytest.approx({"other": proba[0, 0], "three": proba[0, 1]})
    batch = client.post("/predict/batch", json={"images": [{"png": png64(r)} for r in rows]})
    assert batch.status_code == 200
    png_rows = [np.rint(r / 16 * 255) / 255 * 16 for r in rows]  # what the 8-bit PNGs carry
    assert [p["prediction"] for p in batch.json()["predictions"]] == list(model.predict(pd.DataFrame(png_rows, columns=pixels)))


def test_a_body_over_max_body_bytes_is_a_413(served):
    client, rows, *_ = served
    response = client.post("/predict", json={"pixels": rows[0].tolist(), "padding": "x" * 100_001})
    assert response.status_code == 413 and "max_body_bytes=100000" in response.json()["detail"][0]["msg"]
    assert 'image_requests_total{status="413"}' in client.get("/metrics").text


def test_line_wrapped_base64_and_data_urls_are_read(served):
    client, rows, *_ = served
    png = encode_png(rows[0], DIGIT)
    plain = client.post("/predict", json={"png": base64.b64encode(png).decode()}).json()["prediction"]
    wrapped = client.post("/predict", json={"png": base64.encodebytes(png).decode()})
    url = client.post("/predict", json={"png": "data:image/png;base64," + base64.b64encode(png).decode()})
    assert wrapped.status_code == 200 and url.status_code == 200
    assert wrapped.json()["prediction"] == url.json()["prediction"] == plain


def test_a_huge_claimed_size_and_a_colour_png_are_422s_naming_png(served):
    from tests.vision.test_images import _png, claimed_size

    client, rows, *_ = served
    bomb = claimed_size(encode_png(rows[0], DIGIT), 30000, 30000)
    response = client.post("/predict", json={"png": base64.b64encode(bomb).decode()})
    assert response.status_code == 422 and response.json()["detail"][0]["loc"] == ["body", "png"]
    assert "too large to decode" in response.json()["detail"][0]["msg"]
    colour = np.zeros((8, 8, 3), np.uint8)
    colour[..., 0] = 200
    response = client.post("/predict", json={"png": base64.b64encode(_png(colour)).decode()})
    assert response.status_code == 422 and "colour image" in response.json()["detail"][0]["msg"]


def test_images_are_decoded_off_the_event_loop(served, monkeypatch):
    import asyncio

    from specweave_ml.serving import image_app

    seen = []
    original = image_app.image_row

    def spy(*args, **kwargs):
        try:
            asyncio.get_running_loop()
            seen.append("event loop")
        except RuntimeError:
            seen.append("worker thread")
        return original(*args, **kwargs)

    monkeypatch.setattr(image_app, "image_row", spy)
    client, rows, *_ = served
    assert client.post("/predict", json={"png": png64(rows[0])}).status_code == 200
    assert seen == ["worker thread"]


def test_an_ab_challenger_is_refused_naming_the_setting(served):
    from specweave_ml.errors import ConfigError

    client, rows, model, pixels = served
    bundle = SimpleNamespace(increment="0099-test", model_name="pixel_linear", sha256="ab" * 32, model=model,
                             columns={c: "double" for c in pixels}, describe=lambda: {})
    with pytest.raises(ConfigError, match="serving.ab.challenger: A/B tests are not built yet for image models"):
        create_image_app(bundle, SimpleNamespace(max_body_bytes=100, max_batch_rows=8), challenger=bundle)
