"""Every refusal of a ranking brief: one message naming the key or column and the fix, nothing written."""

import numpy as np
import pandas as pd
import pytest

from _compose import compose_at
from specweave_ml.errors import ConfigError, DataError
from specweave_ml.stages import run_stage

INCREMENT = "0008-movielens-implicit"


def ratings_csv(path, n_users=40, n_items=60, n=1200, seed=0, late_users=0):
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame({"user_id": rng.integers(0, n_users, n), "item_id": rng.integers(0, n_items, n),
                          "rating": rng.integers(1, 6, n), "timestamp": np.sort(rng.integers(0, 10**6, n))})
    frame = frame.drop_duplicates(["user_id", "item_id"])
    if late_users:  # users whose whole history comes after everyone else's
        late = pd.DataFrame({"user_id": np.repeat(np.arange(1000, 1000 + late_users), 3), "item_id": np.tile([1, 2, 3], late_users),
                             "rating": 5, "timestamp": 2 * 10**6 + np.arange(3 * late_users)})
        frame = pd.concat([frame, late])
    frame.to_csv(path, index=False)
    return frame


def run(tmp_path, *overrides, stage="prepare"):
    source = tmp_path / "ratings.csv"
    if not source.exists():
        ratings_csv(source)
    cfg = compose_at(tmp_path, ["problem=movielens", "tracking=off", f"stage={stage}", f"problem.data.source={source}", *overrides])
    run_stage(cfg)


def assert_nothing_written(tmp_path):
    assert not (tmp_path / "increments" / INCREMENT).exists()


def test_a_small_sample_prepares(tmp_path):
    run(tmp_path)
    assert (tmp_path / "increments" / INCREMENT / "data" / "split.json").exists()


def test_a_missing_user_column_is_refused_naming_the_key(tmp_path):
    with pytest.raises(DataError, match=r"^problem\.data\.user_column: 'customer' is not a column of the data.*use one of user_id"):
        run(tmp_path, "problem.data.user_column=customer")
    assert_nothing_written(tmp_path)


def test_a_missing_item_column_is_refused_naming_the_key(tmp_path):
    with pytest.raises(DataError, match=r"^problem\.data\.item_column: 'movie' is not a column of the data"):
        run(tmp_path, "problem.data.item_column=movie")
    assert_nothing_written(tmp_path)


def test_an_undeclared_item_column_is_refused_naming_the_key(tmp_path):
    with pytest.raises(ConfigError, match=r"^problem\.data\.item_column: interactions data needs it"):
        run(tmp_path, "problem.data.item_column=null")
    assert_nothing_written(tmp_path)


def test_a_non_numeric_rating_is_refused_naming_the_key(tmp_path):
    source = tmp_path / "ratings.csv"
    frame = ratings_csv(source)
    frame["rating"] = frame["rating"].astype(str).replace({"5": "great"})
    frame.to_csv(source, index=False)
    with pytest.raises(DataError, match=r"^problem\.data\.rating_column: 'rating' is not numeric \(\d+ values are not numbers, "
                                        r"e\.g\. 'great'\).*rating_column=null"):
        run(tmp_path)
    assert_nothing_written(tmp_path)


def test_a_split_that_leaves_users_without_training_interactions_is_refused(tmp_path):
    ratings_csv(tmp_path / "ratings.csv", late_users=5)
    with pytest.raises(DataError, match=r"^problem\.ranking\.split: global_time leaves 5 of \d+ held-out users with no training "
                                        r"interaction.*cold_users=popularity"):
        run(tmp_path, "problem.ranking.split=global_time", "problem.ranking.test_size=0.1")
    assert_nothing_written(tmp_path)


def test_cold_users_can_be_scored_by_popularity_and_are_counted(tmp_path):
    ratings_csv(tmp_path / "ratings.csv", late_users=5)
    run(tmp_path, "problem.ranking.split=global_time", "problem.ranking.test_size=0.1", "problem.ranking.cold_users=popularity")
    from specweave_ml.fileio import read_json

    info = read_json(tmp_path / "increments" / INCREMENT / "data" / "split.json")
    assert info["unseen_users"] == 5 and info["future_leaks"] == 0


def test_k_larger_than_the_catalogue_is_refused_naming_the_key(tmp_path):
    with pytest.raises(DataError, match=r"^problem\.ranking\.k: k=500 is larger than the catalogue \(60 items\)"):
        run(tmp_path, "problem.ranking.k=[10,500]")
    assert_nothing_written(tmp_path)


@pytest.mark.parametrize("override, key", [
    ("problem.ranking.k=[0]", r"problem\.ranking\.k"),
    ("problem.ranking.test_size=1.5", r"problem\.ranking\.test_size"),
    ("problem.data.rating_column=null", r"problem\.ranking\.positive_threshold"),
    ("problem.data.time_column=null", r"problem\.ranking\.split"),
])
def test_a_bad_ranking_setting_is_refused_before_any_data_is_read(tmp_path, override, key):
    with pytest.raises(ConfigError, match=rf"^{key}: "):
        run(tmp_path, override)
    assert_nothing_written(tmp_path)


def test_a_split_name_that_is_not_one_is_refused_at_composition(tmp_path):
    with pytest.raises(Exception, match=r"problem\.ranking\.split"):
        run(tmp_path, "problem.ranking.split=random")
    assert_nothing_written(tmp_path)
