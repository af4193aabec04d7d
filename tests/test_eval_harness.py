"""The evaluation harness: answer scoring, the dev set's format and coverage, reporting."""

from __future__ import annotations

import json
import random
from collections import Counter
from pathlib import Path
from typing import Any

import httpx
import pytest

from eval.client import NexusClient, Reply
from eval.harness import judge, run_questions
from eval.report import percentile, summarise
from eval.scoring import Expected, canonical_date, score
from eval.sets import (
    PATTERNS,
    SETS_DIR,
    Question,
    evaldata_dir,
    load_set,
    load_text2sql,
    read_lines,
    validate_lines,
)

DEV = SETS_DIR / "dev.jsonl"


def result(rows: list[list[Any]], names: list[str] | None = None) -> dict[str, Any]:
    width = len(rows[0]) if rows else 0
    columns = [{"name": n, "type": "text"} for n in (names or [f"c{i}" for i in range(width)])]
    return {"columns": columns, "rows": rows, "row_count": len(rows), "truncated": False}


class TestScalar:
    @pytest.mark.parametrize(
        ("value", "rows"),
        [
            (2328.6, [[2328.6]]),
            (2328.6, [[2328.6000000004]]),
            (2328.6, [["2328.60"]]),
            (418, [[418.0]]),
            ("Rock", [["Rock", 826.65]]),
            ("Rock", [[" rock "]]),
            (826.65, [["Rock", 826.65]]),
            ("2015-02-23", [["2015-02-23T00:00:00"]]),
            ("2015-02-23", [["2015-02-23 00:00:00+00:00", 133.0]]),
            (True, [["true"]]),
        ],
    )
    def test_matches(self, value: Any, rows: list[list[Any]]) -> None:
        assert score(Expected(value=value), result(rows)).correct

    @pytest.mark.parametrize(
        ("value", "rows"),
        [
            (2328.6, [[2328.7]]),
            (2328.6, [[2328.6], [100.0]]),
            (2328.6, []),
            (0.5, [[0.5001]]),
            ("Rock", [["Metal", 826.65]]),
            ("2015-02-23", [["2015-02-24"]]),
            (418, [["418 passengers"]]),
            (True, [[False]]),
        ],
    )
    def test_mismatches(self, value: Any, rows: list[list[Any]]) -> None:
        assert not score(Expected(value=value), result(rows)).correct

    def test_tolerance_is_relative_and_configurable(self) -> None:
        assert score(Expected(value=1000.0, tolerance=1e-3), result([[1000.9]])).correct
        assert not score(Expected(value=1000.0, tolerance=1e-4), result([[1000.9]])).correct
        assert not score(Expected(value=1000.0), result([[1000.01]])).correct

    def test_percent_accepts_a_fraction_only_when_flagged(self) -> None:
        assert score(Expected(value=36.3636363636, percent=True), result([[0.363636363636]])).correct
        assert score(Expected(value=36.3636363636, percent=True), result([[36.3636363636]])).correct
        assert not score(Expected(value=36.3636363636), result([[0.363636363636]])).correct

    def test_no_result_is_wrong(self) -> None:
        assert not score(Expected(value=1), None).correct
        assert not score(Expected(value=1), {"rows": None}).correct


class TestRows:
    expected = [["USA", 523.06], ["Canada", 303.96], ["France", 195.1]]

    def test_any_order_when_order_does_not_matter(self) -> None:
        shuffled = [["France", 195.1], ["USA", 523.06], ["Canada", 303.96]]
        assert score(Expected(rows=self.expected), result(shuffled)).correct

    def test_order_matters(self) -> None:
        shuffled = [["France", 195.1], ["USA", 523.06], ["Canada", 303.96]]
        assert not score(Expected(rows=self.expected, order_matters=True), result(shuffled)).correct
        assert score(Expected(rows=self.expected, order_matters=True), result(self.expected)).correct

    def test_extra_and_reordered_columns(self) -> None:
        got = [[523.06, "USA", 91], [303.96, "Canada", 56], [195.1, "France", 35]]
        assert score(Expected(rows=self.expected), result(got)).correct

    def test_exact_columns_when_extra_ones_are_not_allowed(self) -> None:
        got = [[523.06, "USA", 91], [303.96, "Canada", 56], [195.1, "France", 35]]
        assert not score(Expected(rows=self.expected, extra_columns=False), result(got)).correct
        swapped = [[r[1], r[0]] for r in self.expected]
        assert score(Expected(rows=self.expected, extra_columns=False), result(swapped)).correct

    def test_columns_must_match_row_by_row_not_only_as_sets(self) -> None:
        crossed = [["USA", 303.96], ["Canada", 523.06], ["France", 195.1]]
        assert not score(Expected(rows=self.expected), result(crossed)).correct

    @pytest.mark.parametrize(
        "got",
        [
            [["USA", 523.06], ["Canada", 303.96]],
            [["USA", 523.06], ["Canada", 303.96], ["France", 195.1], ["Brazil", 190.1]],
            [["USA", 523.06], ["Canada", 303.96], ["France", 195.2]],
            [["USA", 523.06], ["Canada", 303.96], ["Germany", 195.1]],
            [["USA"], ["Canada"], ["France"]],
            [],
        ],
    )
    def test_wrong_rows(self, got: list[list[Any]]) -> None:
        assert not score(Expected(rows=self.expected), result(got)).correct

    def test_duplicates_count(self) -> None:
        expected = [["a", 1], ["a", 1], ["b", 2]]
        assert score(Expected(rows=expected), result([["b", 2], ["a", 1], ["a", 1]])).correct
        assert not score(Expected(rows=expected), result([["b", 2], ["b", 2], ["a", 1]])).correct

    def test_numbers_within_tolerance(self) -> None:
        assert score(Expected(rows=[["x", 0.1 + 0.2]]), result([["x", 0.3]])).correct
        assert not score(Expected(rows=[["x", 0.3]]), result([["x", 0.31]])).correct

    def test_periods_in_any_usual_form(self) -> None:
        months = [["2024-01-01", 37.62], ["2024-02-01", 37.62]]
        assert score(
            Expected(rows=months), result([["2024-01-01T00:00:00", 37.62], ["2024-02-01 00:00:00", 37.62]])
        ).correct
        assert score(Expected(rows=months), result([["2024-01", 37.62], ["2024-02", 37.62]])).correct
        assert not score(
            Expected(rows=months), result([["2024-01-02", 37.62], ["2024-02-01", 37.62]])
        ).correct
        years = [["2022-01-01", 481.45], ["2023-01-01", 469.58]]
        assert score(Expected(rows=years), result([[2022, 481.45], [2023, 469.58]])).correct
        assert score(Expected(rows=[[2022, 481.45]]), result([["2022-01-01", 481.45]])).correct
        quarters = [["2024-04-01", 112.86], ["2024-07-01", 133.95]]
        assert score(Expected(rows=quarters), result([["2024-Q2", 112.86], ["2024-Q3", 133.95]])).correct
        assert not score(Expected(rows=months), result([[2024, 37.62], [2024, 37.62]])).correct

    def test_a_null_first_growth_is_ignored(self) -> None:
        expected = [["2022-01-01", 7.1], ["2023-01-01", -2.4]]
        got: list[list[Any]] = [["2021-01-01", None], ["2022-01-01", 7.1], ["2023-01-01", -2.4]]
        assert score(Expected(rows=expected), result(got)).correct
        assert not score(Expected(rows=expected), result([["2021-01-01", 3.0], *got[1:]])).correct

    def test_percent_rows_scale_the_last_column(self) -> None:
        expected = [["USA", 22.46], ["Canada", 13.05]]
        assert score(
            Expected(rows=expected, percent=True), result([["USA", 0.2246], ["Canada", 0.1305]])
        ).correct
        assert not score(Expected(rows=expected), result([["USA", 0.2246], ["Canada", 0.1305]])).correct

    def test_a_wide_row_answers_a_comparison(self) -> None:
        expected = [[469.58], [477.53]]
        assert score(Expected(rows=expected), result([[2023, 469.58, 2024, 477.53]])).correct
        assert score(Expected(rows=expected), result([[2023, 469.58], [2024, 477.53]])).correct
        assert not score(Expected(rows=expected), result([[469.58, 469.58]])).correct

    def test_many_rows_are_judged_quickly(self) -> None:
        rows = [[f"track {i}", i * 1.5, i % 7] for i in range(5000)]
        shuffled = random.Random(7).sample(rows, len(rows))
        assert score(Expected(rows=rows), result(shuffled)).correct


class TestCanonicalDate:
    @pytest.mark.parametrize(
        ("text", "canonical"),
        [
            ("2023-01-01", "2023-01-01"),
            ("2023-01-01T00:00:00", "2023-01-01"),
            ("2023-01-01 00:00:00.000", "2023-01-01"),
            ("2017-01-01T00:10:00Z", "2017-01-01 00:10:00"),
            ("2023-1-1", None),
            ("Q1 2024", None),
        ],
    )
    def test_forms(self, text: str, canonical: str | None) -> None:
        assert canonical_date(text) == canonical


def question(expected: Expected) -> Question:
    return Question("q-1", "total", "How much did we sell?", (Path("x.csv"),), expected)


class TestJudge:
    body = {
        "answer": "2328.6",
        "agent": "sql",
        "status": "answered",
        "sql": "SELECT 1",
        "result": result([[2328.6]]),
    }

    def test_answered_and_right(self) -> None:
        outcome = judge(question(Expected(value=2328.6)), Reply(200, self.body, 0.05))
        assert outcome.correct
        assert outcome.status == "answered"

    def test_unresolved_is_wrong_even_with_rows(self) -> None:
        body = {**self.body, "status": "unresolved", "unresolved": ["which column is sales?"]}
        outcome = judge(question(Expected(value=2328.6)), Reply(200, body, 0.05))
        assert not outcome.correct
        assert outcome.status == "unresolved"

    @pytest.mark.parametrize("status", [0, 404, 422, 500, 504])
    def test_http_errors_are_wrong(self, status: int) -> None:
        outcome = judge(question(Expected(value=2328.6)), Reply(status, {"detail": "no"}, 0.05, "no"))
        assert not outcome.correct
        assert outcome.status == "error"

    def test_exact_columns_sets_report_the_lenient_score(self) -> None:
        body = {**self.body, "result": result([["Rock", 1297]])}
        outcome = judge(question(Expected(rows=[[1297]], extra_columns=False)), Reply(200, body, 0.1), True)
        assert not outcome.correct
        assert outcome.correct_extra_columns


class FakeNexus:
    """Speaks the API's protocol: token, upload, query; can refuse once with 401 or 429."""

    def __init__(self, answers: dict[str, dict[str, Any]]) -> None:
        self.answers = answers
        self.uploads: list[str] = []
        self.sign_ins = 0
        self.queries = 0
        self.expire_next = False
        self.rate_limit_next = False

    def __call__(self, request: httpx.Request) -> httpx.Response:
        path = request.url.path
        if path == "/api/v1/auth/token":
            assert b"username=eval" in request.content and b"password=secret" in request.content
            self.sign_ins += 1
            token = f"t{self.sign_ins}"
            return httpx.Response(
                200,
                json={
                    "access_token": token,
                    "refresh_token": "r",
                    "expires_in": 900,
                    "refresh_expires_in": 9,
                },
            )
        if request.headers.get("Authorization") != f"Bearer t{self.sign_ins}":
            return httpx.Response(401, json={"detail": "bad token"})
        if path == "/api/v1/datasets":
            self.uploads.append(request.content.split(b'filename="')[1].split(b'"')[0].decode())
            return httpx.Response(201, json={"id": f"d{len(self.uploads)}", "status": "ready", "tables": []})
        assert path == "/api/v1/query"
        if self.rate_limit_next:
            self.rate_limit_next = False
            return httpx.Response(429, headers={"Retry-After": "0"}, json={"detail": "slow down"})
        if self.expire_next:
            self.expire_next = False
            self.sign_ins += 1  # the old token no longer works
            return httpx.Response(401, json={"detail": "expired"})
        self.queries += 1
        body = json.loads(request.content)
        assert body["dataset_ids"] and all(i.startswith("d") for i in body["dataset_ids"])
        answer = self.answers.get(body["question"])
        if answer is None:
            return httpx.Response(404, json={"detail": "Not Found"})
        return httpx.Response(200, json=answer)


class TestRunOverHttp:
    def answered(self, rows: list[list[Any]]) -> dict[str, Any]:
        return {"answer": "", "status": "answered", "sql": "SELECT", "result": result(rows), "unresolved": []}

    def run(self, fake: FakeNexus, questions: list[Question]) -> list[Any]:
        client = NexusClient("http://nexus.test", "eval", "secret", transport=httpx.MockTransport(fake))
        with client:
            client.sign_in()
            return run_questions(client, questions)

    def test_uploads_each_file_once_and_judges(self, tmp_path: Path) -> None:
        sales, other = tmp_path / "sales.csv", tmp_path / "other.csv"
        sales.write_text("a\n1\n")
        other.write_text("b\n2\n")
        questions = [
            Question("q1", "total", "total sales?", (sales,), Expected(value=10)),
            Question("q2", "count", "how many sales?", (sales,), Expected(value=3)),
            Question("q3", "join", "sales by other?", (sales, other), Expected(rows=[["x", 1]])),
            Question("q4", "total", "unknown?", (other,), Expected(value=1)),
        ]
        fake = FakeNexus(
            {
                "total sales?": self.answered([[10]]),
                "how many sales?": self.answered([[4]]),
                "sales by other?": self.answered([["x", 1, "extra"]]),
            }
        )
        outcomes = self.run(fake, questions)
        assert fake.uploads == ["sales.csv", "other.csv"]
        assert [o.correct for o in outcomes] == [True, False, True, False]
        assert [o.status for o in outcomes] == ["answered", "answered", "answered", "error"]
        assert summarise("t", outcomes)["overall"]["errors"] == 1

    def test_signs_in_again_and_waits_out_rate_limits(self, tmp_path: Path) -> None:
        data = tmp_path / "d.csv"
        data.write_text("a\n1\n")
        fake = FakeNexus({"q?": self.answered([[1.5]])})
        question = Question("q1", "total", "q?", (data,), Expected(value=1.5))
        fake.expire_next = True
        fake.rate_limit_next = True
        outcomes = self.run(fake, [question])
        assert outcomes[0].correct
        assert fake.sign_ins == 3
        assert fake.queries == 1


class TestReport:
    def test_percentile(self) -> None:
        assert percentile([], 0.5) is None
        assert percentile([3.0, 1.0, 2.0], 0.5) == 2.0
        assert percentile([1.0, 2.0, 3.0, 4.0], 0.95) == pytest.approx(3.85)

    def test_summary_counts(self) -> None:
        right = judge(question(Expected(value=2328.6)), Reply(200, TestJudge.body, 0.1))
        wrong = judge(question(Expected(value=1.0)), Reply(200, TestJudge.body, 0.3))
        failed = judge(question(Expected(value=1.0)), Reply(500, None, 0.2, "boom"))
        report = summarise("t", [right, wrong, failed])
        assert report["overall"]["n"] == 3
        assert report["overall"]["correct"] == 1
        assert report["overall"]["errors"] == 1
        assert report["overall"]["latency_p50_s"] == pytest.approx(0.2)
        json.dumps(report, default=str)


@pytest.fixture(scope="module")
def lines() -> list[dict[str, Any]]:
    return read_lines(DEV)


class TestDevSet:
    def test_every_line_is_valid(self, lines: list[dict[str, Any]]) -> None:
        assert validate_lines(lines, DEV.parent) == []

    def test_size_and_coverage(self, lines: list[dict[str, Any]]) -> None:
        assert len(lines) >= 160
        per_pattern = Counter(line["pattern"] for line in lines)
        assert set(per_pattern) == set(PATTERNS)
        assert min(per_pattern.values()) >= 6, per_pattern
        assert len({f for line in lines for f in line["files"]}) >= 6

    def test_two_file_questions(self, lines: list[dict[str, Any]]) -> None:
        pairs = {tuple(sorted(line["files"])) for line in lines if line["pattern"] == "missing_from"}
        assert len(pairs) >= 2
        assert all(len(line["files"]) == 2 for line in lines if line["pattern"] in ("missing_from", "join"))

    def test_loads(self) -> None:
        questions = load_set("dev").questions
        assert all(path.is_file() for q in questions for path in q.files)

    def test_expected_answers_score_right_against_themselves(self) -> None:
        for q in load_set("dev").questions:
            rows = q.expected.rows if q.expected.rows is not None else [[q.expected.value]]
            assert score(q.expected, result([list(r) for r in rows])).correct, q.id

    def test_answers_are_not_trivial(self, lines: list[dict[str, Any]]) -> None:
        values = [line["expected"]["value"] for line in lines if "value" in line["expected"]]
        assert all(v not in (0, 0.0, 1, True, False) for v in values)


class TestSetValidation:
    good = {
        "id": "x-1",
        "pattern": "total",
        "question": "How much did we sell?",
        "files": ["data/invoices.csv"],
        "expected": {"value": 1.5},
    }

    @pytest.mark.parametrize(
        ("change", "problem"),
        [
            ({"pattern": "sum"}, "unknown pattern"),
            ({"files": ["data/nope.csv"]}, "no file"),
            ({"files": []}, "files must be"),
            ({"expected": {"value": None}}, "expected value"),
            ({"expected": {"rows": []}}, "expected rows"),
            ({"expected": {"rows": [[1, 2], [3]]}}, "differ in width"),
            ({"expected": {"value": 1, "rows": [[1]]}}, "expected must be"),
            ({"tolerance": 2}, "tolerance"),
            ({"order_matters": "yes"}, "order_matters"),
            ({"colour": "red"}, "unknown key"),
            ({"question": ""}, "not a sentence"),
        ],
    )
    def test_bad_lines_are_reported(self, change: dict[str, Any], problem: str) -> None:
        problems = validate_lines([{**self.good, **change}], DEV.parent)
        assert any(problem in p for p in problems), problems

    def test_good_line_and_duplicate_ids(self) -> None:
        assert validate_lines([self.good], DEV.parent) == []
        assert any("duplicate" in p for p in validate_lines([self.good, self.good], DEV.parent))

    def test_evaldata_files_resolve_to_the_shared_folder(self) -> None:
        line = {**self.good, "files": ["evaldata:dabench/tables/titanic_test.csv"]}
        if not (evaldata_dir() / "dabench/tables/titanic_test.csv").is_file():
            pytest.skip("no shared evaldata")
        assert validate_lines([line], DEV.parent) == []
        assert validate_lines([{**line, "files": ["evaldata:dabench/tables/nope.csv"]}], DEV.parent)


@pytest.mark.skipif(
    not (evaldata_dir() / "text2sql" / "chinook.jsonl").is_file(), reason="no shared evaldata"
)
class TestSpiderChinook:
    def test_loads_84_questions_split_by_join(self) -> None:
        spider = load_text2sql("spider-chinook")
        assert len(spider.questions) == 84
        assert spider.strict_columns
        assert {q.pattern for q in spider.questions} == {"join", "no_join"}
        assert all(q.files[0].name == "chinook.sqlite" for q in spider.questions)

    def test_gold_results_score_right_shuffled(self) -> None:
        rng = random.Random(3)
        for q in load_text2sql("spider-chinook").questions:
            rows = [list(r) for r in q.expected.rows or []]
            if not q.expected.order_matters:
                rows = rng.sample(rows, len(rows))
            assert score(q.expected, result(rows)).correct, q.id
