"""Answers in the format a question asks for (``@name[value]``), and how DABench judges them."""

from __future__ import annotations

import pytest

from eval.scoring import subanswers_right
from nexus.graph.formats import fill, requested

MEAN = (
    "Calculate the mean fare.\nRound off the answer to two decimal places.\n"
    '@mean_fare[mean_fare_value] where "mean_fare_value" is a number rounded to two decimal places.'
)


def test_one_value_is_filled_and_rounded_as_asked() -> None:
    assert requested(MEAN) == ["mean_fare"]
    assert fill(MEAN, {"rows": [[34.6546]]}) == "@mean_fare[34.65]"
    assert fill(MEAN, {"rows": [["Europe", 34.6546]]}) == "@mean_fare[34.65]"


def test_several_values_follow_the_row_in_order() -> None:
    question = "Give @min_age[v] and @max_age[w], rounded to 1 decimal place."
    assert fill(question, {"rows": [[0.42, 80]]}) == "@min_age[0.4] @max_age[80.0]"


def test_a_dict_result_fills_placeholders_by_name() -> None:
    question = "Give @max_age[w] and @min_age[v], rounded to 1 decimal place."
    result = {
        "columns": [{"name": "key", "type": "text"}, {"name": "value", "type": "number"}],
        "rows": [["min_age", 0.42], ["max_age", 80], ["mean_age", 29.7]],
    }
    assert fill(question, result) == "@max_age[80.0] @min_age[0.4]"
    assert fill("Give @median_age[m].", result) is None


@pytest.mark.parametrize(
    "result",
    [None, {"rows": []}, {"rows": [[1.0], [2.0]]}, {"rows": [["a", "b", "c"]]}],
)
def test_nothing_is_made_up_when_the_values_are_not_there(
    result: dict[str, object] | None,
) -> None:
    assert fill("How many? @count[n] and @other[m]", result) is None


def test_no_placeholder_no_line() -> None:
    assert fill("total amount by region", {"rows": [[1.0]]}) is None


@pytest.mark.parametrize(
    ("answer", "right"),
    [
        ("The mean is 34.65.\n@mean_fare[34.65]", [True]),
        ("@mean_fare[34.650000]", [True]),
        ("@mean_fare[34.66]", [False]),
        ("34.65", [False]),
        ("@mean[34.65]", [False]),
    ],
)
def test_dabench_sub_answers_are_judged_as_upstream(answer: str, right: list[bool]) -> None:
    assert subanswers_right([("mean_fare", "34.65")], answer) == right


def test_dabench_several_sub_answers() -> None:
    labels = [("a", "1.00"), ("b", "yes")]
    assert subanswers_right(labels, "@a[1.0] @b[yes]") == [True, True]
    assert subanswers_right(labels, "@a[1.0] @b[no]") == [True, False]
