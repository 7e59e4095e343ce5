"""The checks a text column passes before training, and the brief's text settings: each refusal has a test where
it fires (one message naming the column or key) and one where it stays silent."""

import pandas as pd
import pytest

from specweave_ml.errors import ConfigError, DataError
from specweave_ml.text import corpus


def test_the_text_column_must_be_named_and_present():
    with pytest.raises(ConfigError, match=r"problem.text.column.*needs the column"):
        corpus.text_column(None, ["review", "label"])
    with pytest.raises(DataError, match=r"problem.text.column.*'body' is not in the data.*review, label"):
        corpus.text_column("body", ["review", "label"])
    assert corpus.text_column("review", ["review", "label"]) == "review"


def test_empty_and_missing_texts_are_refused_naming_their_rows():
    with pytest.raises(DataError, match=r"column 'review'.*2 of 4 texts are empty or missing \(rows 1, 3\)"):
        corpus.texts(pd.Series(["good", "  ", "bad", None], name="review"), "column 'review'")


def test_values_that_are_not_text_are_refused():
    with pytest.raises(DataError, match=r"1 values are not text \(e.g. 3.5 of type float\) at rows 1"):
        corpus.texts(pd.Series(["good", 3.5, "bad"], dtype=object), "column 'review'")


def test_clean_texts_pass_and_duplicates_and_long_texts_are_findings_not_errors():
    texts = corpus.texts(pd.Series(["a fine film", "a fine film", "x" * 60], name="review"), "column 'review'")
    assert list(texts) == ["a fine film", "a fine film", "x" * 60]
    kinds = {f.kind: f.message for f in corpus.findings(texts, max_chars=50)}
    assert set(kinds) == {"duplicate_texts", "long_texts"}
    assert "1 texts of column 'review' repeat" in kinds["duplicate_texts"] and "max_chars=50" in kinds["long_texts"]
    assert corpus.findings(texts.drop_duplicates().head(1), max_chars=50) == []
    stats = corpus.describe(texts)
    assert stats["texts"] == 3 and stats["duplicated_texts"] == 1 and stats["words"]["q100"] == 3


def test_the_family_refuses_a_brief_without_text_column_or_with_the_target_as_texts():
    from specweave_ml.families.text import FAMILY
    from specweave_ml.schema import ProblemSchema, Task

    frame = pd.DataFrame({"review": ["good", "bad", "fine", "awful"] * 3, "label": ["f", "r"] * 6})
    problem = ProblemSchema(increment="0099-x", task=Task.binary_classification)
    problem.data.source, problem.data.target = "x.csv", "label"
    with pytest.raises(ConfigError, match="problem.text.column"):
        FAMILY.check(frame, problem, 3)
    problem.text.column = "label"
    with pytest.raises(ConfigError, match="is also the target"):
        FAMILY.check(frame, problem, 3)
    problem.text.column = "review"
    checked = FAMILY.check(frame, problem, 3)
    assert checked.features == ["review"] and list(checked.frame.columns) == ["review", "label"]
    assert checked.columns["review"]["type"] == "text"


def test_bundled_text_sets_load_offline_without_the_plot_summaries():
    from specweave_ml.data.sources import BUNDLED

    reviews = BUNDLED["rotten_tomatoes"]()
    assert len(reviews) == 12808 and set(reviews["category"]) == {"fresh", "rotten"}
    debates = BUNDLED["presidential_debates"]()
    assert set(debates["party"]) == {"Democratic", "Republican", "Moderator"} and "statement" in debates
