"""Durations and sizes in the unit a person would use."""

import pytest

from specweave_ml.units import duration, seconds, size


@pytest.mark.parametrize("value, text", [
    (0.042, "0.042 seconds"), (0.42, "0.42 seconds"), (3, "3 seconds"), (4.56, "4.6 seconds"), (95, "95 seconds"), (120, "2 minutes"), (90 * 60, "90 minutes"),
    (5400 * 2, "3 hours"), (36 * 3600, "36 hours"), (3 * 86400, "3 days"), (28.5 * 86400, "28.5 days"),
])
def test_seconds_read_in_the_largest_unit_that_keeps_the_number_readable(value, text):
    assert seconds(value) == text


def test_a_test_of_a_minute_and_a_half_is_not_zero_hours():
    assert duration(90 / 86400) == "90 seconds"


@pytest.mark.parametrize("n, text", [(512, "512 bytes"), (4096, "4 KiB"), (4194304, "4 MiB"), (3 * 2**30 / 2, "1.5 GiB")])
def test_sizes(n, text):
    assert size(n) == text
