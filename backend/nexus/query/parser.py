"""The rule-based parser: a question in plain words -> a QuerySpec, with a confidence, and no model.

It works in three passes over the question's words:

1. **Linking**: spans of up to four words are matched to columns (name, label, synonyms, fuzzy
   spelling), to values of text columns (``in Europe`` -> ``region = 'Europe'``), and to tables.
2. **Patterns**: what is left is read for aggregates (total, average, median, how many...), grouping
   (``by X``, ``per X``, ``for each X``, ``monthly``), ranking (``top 5``, ``which X ... the most``),
   time (``in 2023``, ``Q1 2024``, ``between March and June 2024``, ``last 3 months``), comparisons
   of periods, growth, shares and reconciliation of two tables (``missing from``).
3. **Assembly**: the pieces become one plan. Words that no pass placed are reported; when a plan
   lacks something it needs (a measure, a table to compare against) the parser says so instead of
   guessing, and the caller shows the words and the columns.
"""

from __future__ import annotations

import calendar
import datetime as dt
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from rapidfuzz import fuzz

from nexus.query import lexicon as lx
from nexus.query.catalog import Catalog, CatalogTable, Column
from nexus.query.spec import (
    Aggregate,
    ColumnRef,
    Dimension,
    Filter,
    Grain,
    Growth,
    Join,
    Measure,
    Op,
    Order,
    Period,
    PeriodComparison,
    QuerySpec,
    Reconciliation,
    TimeFilter,
)

MAX_SPAN = 4
ANSWER_THRESHOLD = 0.5
_YEAR = r"(?:19|20)\d{2}"
_MONTH_NAMES = "|".join(sorted(lx.MONTHS, key=len, reverse=True))
_NUMBER_TOKEN = re.compile(r"^-?\d+(?:\.\d+)?$")


@dataclass
class Token:
    """A word of the question and whether a pass has placed it."""

    text: str
    start: int
    end: int
    placed: bool = False


@dataclass(frozen=True)
class Link:
    """A span of words matched to a column, a value of a column, or a table."""

    kind: str  # "column" | "value" | "table"
    start: int
    end: int
    table: CatalogTable
    column: Column | None = None
    value: Any = None
    score: float = 1.0


@dataclass
class ParseResult:
    """What the parser made of a question."""

    spec: QuerySpec | None
    confidence: float
    unresolved: list[str]
    notes: list[str] = field(default_factory=list)
    pattern: str = "unknown"
    missing: str | None = None
    """Why no plan was made, in words for the user, when ``spec`` is None."""


ValueIndex = Mapping[tuple[str, str], Sequence[str]]


def _normalise(text: str) -> str:
    return " ".join(lx.TOKEN.findall(text.lower()))


class _Question:
    """The question's words and the helpers the passes share."""

    def __init__(self, text: str) -> None:
        self.text = text
        lowered = re.sub(r"'s\b", "", text.lower().replace("’", "'"))
        for phrase, replacement in lx.PHRASES.items():
            lowered = re.sub(r"\b" + re.escape(phrase) + r"\b", replacement, lowered)
        self.tokens = [Token(m.group(0), m.start(), m.end()) for m in lx.TOKEN.finditer(lowered)]
        self.words = [t.text for t in self.tokens]
        self.claimed: set[int] = set()
        self.joined = " ".join(self.words)

    def place(self, start: int, end: int) -> None:
        for token in self.tokens[start:end]:
            token.placed = True

    def claim(self, start: int, end: int) -> None:
        """Place words read by a pattern (a period, a grain): no column may be read from them."""
        self.place(start, end)
        self.claimed.update(range(start, end))

    def find(self, pattern: str) -> list[tuple[int, int, re.Match[str]]]:
        """Return word-aligned regex matches over the joined words as (first, end) word indexes."""
        found = []
        offsets = []
        position = 0
        for word in self.words:
            offsets.append(position)
            position += len(word) + 1
        for match in re.finditer(pattern, self.joined):
            first = next((i for i, o in enumerate(offsets) if o >= match.start()), len(self.words))
            end = next((i for i, o in enumerate(offsets) if o >= match.end()), len(self.words))
            found.append((first, end, match))
        return found

    def has(self, *words: str) -> bool:
        return any(w in self.words for w in words)

    def index(self, *words: str) -> int | None:
        for i, word in enumerate(self.words):
            if word in words:
                return i
        return None


def _number(word: str) -> float | None:
    if _NUMBER_TOKEN.match(word):
        return float(word)
    if word in lx.NUMBER_WORDS:
        return float(lx.NUMBER_WORDS[word])
    return None


def _groupable(column: Column) -> bool:
    """Whether a column reads as groups: text, or whole numbers with few values (class 1, 2, 3)."""
    if not column.numeric:
        return not column.temporal
    return (
        column.type == "integer"
        and int(column.profile.get("distinct_count") or 0) <= 30
        and column.role != "id"
    )


def _is_key(column: Column) -> bool:
    """An identifier or a reference to one ('CustomerId' in invoices): counted, never summed."""
    if column.role == "id":
        return True
    words = lx.name_words(column.label) or lx.name_words(column.name)
    return column.type in {"integer", "text"} and bool(words) and words[-1] in {"id", "key", "code", "fips"}


def _binary(column: Column) -> bool:
    if column.type == "boolean":
        return True
    profile = column.profile
    return column.type == "integer" and profile.get("min") == 0 and profile.get("max") == 1


def _add_months(day: dt.date, months: int) -> dt.date:
    month = day.month - 1 + months
    year = day.year + month // 12
    month = month % 12 + 1
    return dt.date(year, month, min(day.day, calendar.monthrange(year, month)[1]))


def _parse_date(value: Any) -> dt.date | None:
    if isinstance(value, dt.date):
        return value
    if isinstance(value, str):
        try:
            return dt.date.fromisoformat(value[:10])
        except ValueError:
            return None
    return None


class Parser:
    """Parses questions against one catalog (the tables a question may read)."""

    def __init__(self, catalog: Catalog, values: ValueIndex | None = None) -> None:
        self.catalog = catalog
        self.values = values or {}
        self._value_lookup = self._build_value_lookup()

    def _build_value_lookup(self) -> dict[str, list[tuple[CatalogTable, Column, str]]]:
        lookup: dict[str, list[tuple[CatalogTable, Column, str]]] = {}
        for table in self.catalog.tables:
            for column in table.columns:
                if column.type != "text":
                    continue
                for value in self.values.get((table.name, column.name), ()):
                    key = _normalise(str(value))
                    if not key or len(key) < 2 or key in lx.STOP or _NUMBER_TOKEN.match(key):
                        continue
                    lookup.setdefault(key, []).append((table, column, str(value)))
        return lookup

    # --- pass 1: linking ------------------------------------------------------------------------

    def _link(self, q: _Question) -> list[Link]:
        candidates: list[Link] = []
        n = len(q.words)
        for start in range(n):
            for end in range(start + 1, min(n, start + MAX_SPAN) + 1):
                span = q.words[start:end]
                if span[0] in lx.FUNCTION_WORDS or span[-1] in lx.FUNCTION_WORDS:
                    continue
                candidates.extend(self._column_candidates(span, start, end))
                candidates.extend(self._value_candidates(span, start, end))
                candidates.extend(self._table_candidates(span, start, end))
        chosen: list[Link] = []
        taken: set[int] = set()
        for link in sorted(candidates, key=lambda c: (-(c.end - c.start) * c.score, -c.score, c.start)):
            positions = set(range(link.start, link.end))
            if positions & taken:
                continue
            chosen.append(link)
            taken |= positions
        merged: list[Link] = []
        for link in sorted(chosen, key=lambda c: c.start):
            last = merged[-1] if merged else None
            if (
                last is not None
                and last.kind == link.kind == "column"
                and last.column == link.column
                and last.table is link.table
                and last.end == link.start
            ):
                merged[-1] = Link(
                    "column", last.start, link.end, link.table, link.column, score=max(last.score, link.score)
                )
            elif (
                last is not None
                and last.kind == link.kind == "column"
                and last.end == link.start
                and last.column is not None
                and link.column is not None
                and not last.column.numeric
                and not link.column.numeric
                and not link.column.temporal
            ):
                # 'customer segment', 'product category': the last word names the column.
                merged[-1] = Link("column", last.start, link.end, link.table, link.column, score=link.score)
            else:
                merged.append(link)
        return merged

    def _column_candidates(self, span: list[str], start: int, end: int) -> list[Link]:
        found = []
        text = " ".join(span)
        for table in self.catalog.tables:
            for column in table.columns:
                score = _column_score(span, text, column)
                if score > 0:
                    found.append(Link("column", start, end, table, column, score=score))
        return found

    def _value_candidates(self, span: list[str], start: int, end: int) -> list[Link]:
        text = " ".join(span)
        matches = self._value_lookup.get(text)
        score = 0.97
        if not matches and len(span) == 1:
            matches = self._value_lookup.get(lx.stem(text))
            score = 0.85
        if not matches and len(span) == 1 and len(text) >= 5 and text not in lx.FILLER | lx.STOP:
            # 'European' for 'Europe', 'Asian' for 'Asia'.
            matches = [
                item
                for key, items in self._value_lookup.items()
                if " " not in key and _shared_prefix(text, key) and _shared_prefix(text, key, of_longer=True)
                for item in items
            ]
            score = 0.75
        if not matches:
            return []
        return [Link("value", start, end, table, column, value, score) for table, column, value in matches]

    def _table_candidates(self, span: list[str], start: int, end: int) -> list[Link]:
        found = []
        for table in self.catalog.tables:
            for name in {table.name, table.table, table.dataset_name}:
                words = lx.name_words(name)
                while len(words) > 1 and words[-1] in lx.TABLE_SUFFIXES:
                    words = words[:-1]
                if (
                    words
                    and len(words) == len(span)
                    and all(lx.same_word(a, b) for a, b in zip(span, words, strict=True))
                ):
                    exact = all(lx.stem(a) == lx.stem(b) for a, b in zip(span, words, strict=True))
                    found.append(Link("table", start, end, table, score=0.95 if exact else 0.85))
                    break
                if len(span) == 1 and len(words) > 1 and lx.same_word(span[0], words[-1]):
                    found.append(
                        Link("table", start, end, table, score=0.7)
                    )  # 'customers' for credit_customers
                    break
        return found

    # --- the whole parse ------------------------------------------------------------------------

    def parse(self, question: str) -> ParseResult:
        """Return a plan for a question, or the reason there is none."""
        q = _Question(question)
        if not q.words:
            return ParseResult(None, 0.0, [], missing="The question has no words.")
        links = self._link(q)
        builder = _Builder(self, q, links)
        return builder.build()


def _shared_prefix(a: str, b: str, *, of_longer: bool = False) -> bool:
    """'embarkation' and 'embarked', 'survival' and 'survived': the same stem written two ways."""
    common = 0
    for x, y in zip(a, b, strict=False):
        if x != y:
            break
        common += 1
    return common >= 5 and common >= 0.7 * (max(len(a), len(b)) if of_longer else min(len(a), len(b)))


def _column_score(span: list[str], text: str, column: Column) -> float:
    best = 0.0
    for phrase in {column.name, column.label}:
        words = lx.name_words(phrase)
        if not words:
            continue
        if len(words) == len(span):
            if span == words:
                best = max(best, 1.0)
            elif all(lx.stem(a) == lx.stem(b) for a, b in zip(span, words, strict=True)):
                best = max(best, 0.96)
            elif all(lx.same_word(a, b) for a, b in zip(span, words, strict=True)):
                best = max(best, 0.9)
            elif len(span) == 1 and span[0] not in _VOCABULARY and _shared_prefix(span[0], words[0]):
                best = max(best, 0.8)
        # A single word that is the distinctive part of a longer name: 'amount' for 'total_amount'.
        if len(span) == 1 and len(words) > 1 and span[0] not in lx.STOP:
            if any(lx.same_word(span[0], w) for w in words if w not in {"id", "no", "num", "of", "the"}):
                generic = all(w in _GENERIC_NAME_WORDS or lx.same_word(span[0], w) for w in words)
                best = max(best, 0.6 / len(words) + 0.25 + (0.1 if generic else 0.0))
        joined = " ".join(words)
        if (
            len(text) >= 4
            and len(joined) >= 4
            and span[0] not in lx.STOP
            and not any(_NUMBER_TOKEN.match(w) for w in span)
        ):
            ratio = fuzz.ratio(text, joined)
            if ratio >= 88:
                best = max(best, 0.8 * ratio / 100)
    return best


class _Builder:
    """Turns the linked words of one question into a plan."""

    def __init__(self, parser: Parser, q: _Question, links: list[Link]) -> None:
        self.parser = parser
        self.catalog = parser.catalog
        self.q = q
        self.links = links
        self.notes: list[str] = []
        self.pattern = "unknown"
        self.links = self._without_modifier_links(links)
        self.consumed: set[int] = set()
        self.dimension_ends: list[int] = []
        for link in links:
            q.place(link.start, link.end)

    def _without_modifier_links(self, links: list[Link]) -> list[Link]:
        """'highest closing price': 'highest' modifies 'closing', it does not name the column 'high'."""
        kept = []
        for link in links:
            word = self.q.words[link.start]
            if link.kind == "column" and link.end - link.start == 1 and word in lx.AGGREGATE_WORDS:
                following = [
                    other
                    for other in links
                    if other.kind == "column"
                    and link.end <= other.start <= link.end + 3
                    and other.column is not None
                    and other.column.numeric
                    and not _is_key(other.column)
                    and other.column != link.column
                ]
                if following:
                    continue
            kept.append(link)
        return kept

    # --- helpers ---------------------------------------------------------------------------------

    def columns(self, kind: str = "column") -> list[Link]:
        return [link for link in self.links if link.kind == kind]

    def base_table(self) -> CatalogTable:
        counts: dict[str, int] = {}
        for link in self.links:
            if link.kind in {"column", "value"}:
                counts[link.table.name] = counts.get(link.table.name, 0) + 1
        for link in self.links:
            if link.kind == "table":
                counts[link.table.name] = counts.get(link.table.name, 0) + 2
        if counts:
            best = max(counts.values())
            for table in self.catalog.tables:
                if counts.get(table.name) == best:
                    return table
        return max(self.catalog.tables, key=lambda t: t.row_count)

    def preceded_by(self, index: int, words: set[str] | frozenset[str], window: int = 2) -> bool:
        return any(self.q.words[i] in words for i in range(max(0, index - window), index))

    def time_column(self, table: CatalogTable) -> Column | None:
        for link in self.columns():
            if link.table is table and link.column is not None and link.column.temporal:
                return link.column
        temporal = [c for c in table.columns if c.temporal]
        dated = [c for c in temporal if c.role in {"date", "datetime"}]
        chosen = dated or temporal
        return chosen[0] if chosen else None

    def latest(self, table: CatalogTable, column: Column) -> dt.date | None:
        return _parse_date(column.profile.get("max"))

    # --- build -----------------------------------------------------------------------------------

    def build(self) -> ParseResult:
        missing = self._reconciliation()
        if missing is not None:
            return missing
        return self._aggregate_plan()

    def _finish(self, spec: QuerySpec | None, missing: str | None = None) -> ParseResult:
        content = [
            t
            for t in self.q.tokens
            if t.text not in lx.STOP
            and t.text not in lx.FILLER
            and t.text not in lx.TABLE_SUFFIXES
            and not _NUMBER_TOKEN.match(t.text)
        ]
        unplaced = [t.text for t in content if not t.placed]
        coverage = 1.0 - len(unplaced) / len(content) if content else 1.0
        confidence = round(coverage if spec is not None else min(coverage, 0.3), 3)
        if spec is not None and confidence < ANSWER_THRESHOLD:
            missing = "Too many words of the question did not match a column, value or pattern."
            spec = None
        return ParseResult(spec, confidence, unplaced, self.notes, self.pattern, missing)

    # --- reconciliation: rows of A missing from B --------------------------------------------------

    def _reconciliation(self) -> ParseResult | None:
        q = self.q
        phrase_at = None
        for phrase in lx.MISSING_PHRASES:
            hits = q.find(r"\b" + re.escape(phrase) + r"\b")
            if hits:
                following = [link for link in self.links if link.start >= hits[0][1]]
                if following and following[0].kind == "value" and following[0].start == hits[0][1]:
                    continue  # "not in Europe" is a filter, not another table
                phrase_at = hits[0]
                break
        differ = any(w in lx.DIFFERENCE_WORDS for w in q.words) or bool(
            q.find(r"\b(?:amounts?|totals?|values?) (?:that )?(?:differ|don't match|do not match)")
        )
        if phrase_at is None and not differ:
            return None
        if len(self.catalog.tables) < 2:
            return None
        self.pattern = "missing_from" if phrase_at is not None else "reconcile_differences"
        first, end, _ = phrase_at if phrase_at else (len(q.words), len(q.words), None)
        q.place(first, end)
        tables = [link for link in self.links if link.kind == "table"]
        before = [link.table for link in tables if link.start < first]
        after = [link.table for link in tables if link.start >= first]
        column_tables = [link.table for link in self.links if link.kind == "column"]
        left = before[-1] if before else None
        right = after[0] if after else None
        if left is None and right is not None:
            left = next((t for t in column_tables if t is not right), None) or next(
                (t for t in self.catalog.tables if t is not right), None
            )
        if right is None and left is not None:
            right = next((t for t in self.catalog.tables if t is not left), None)
        if left is None or right is None:
            left, right = self.catalog.tables[0], self.catalog.tables[1]
        keys = self._reconcile_keys(left, right)
        if keys is None:
            return self._finish(
                None,
                f"I could not tell which column links {left.name!r} and {right.name!r}; name the key column.",
            )
        amount = self._amount_column(left)
        other_amount = self._amount_column(right)
        summary = not (q.has("which", "who") or q.words[0] in {"list", "show", "give", "display"})
        self._place_words(
            "how",
            "many",
            "number",
            "count",
            "total",
            "sum",
            "which",
            "list",
            "show",
            "and",
            "their",
            "amount",
            "value",
            *lx.MONEY_WORDS,
            *(word for word, agg in lx.AGGREGATE_WORDS.items() if agg == "sum"),
        )
        filters = [
            Filter(column=link.column.name, table=left.name, op=Op.EQ, value=link.value)
            for link in self.links
            if link.kind == "value" and link.column is not None and link.table is left
        ]
        mode = "differences" if differ and phrase_at is None else "missing"
        if mode == "differences" and (amount is None or other_amount is None):
            return self._finish(
                None, "Comparing amounts of matched rows needs an amount column in both tables."
            )
        spec = QuerySpec(
            tables=[left.name, right.name],
            filters=filters,
            reconcile=Reconciliation(
                mode=mode,
                table=left.name,
                other=right.name,
                keys=[keys[0]],
                other_keys=[keys[1]],
                amount=amount.name if amount else None,
                other_amount=other_amount.name if other_amount else None,
                summary_only=summary,
            ),
        )
        return self._finish(spec)

    def _place_words(self, *words: str) -> None:
        for token in self.q.tokens:
            if token.text in words:
                token.placed = True

    def _reconcile_keys(self, left: CatalogTable, right: CatalogTable) -> tuple[str, str] | None:
        mentioned = [link.column for link in self.links if link.kind == "column" and link.column is not None]
        for column in mentioned:
            if left.column(column.name) and right.column(column.name):
                return (left.column(column.name).name, right.column(column.name).name)  # type: ignore[union-attr]
        for key in left.foreign_keys:
            if key.references_table == right.name and len(key.columns) == 1:
                return (key.columns[0], key.references_columns[0])
        for key in right.foreign_keys:
            if key.references_table == left.name and len(key.columns) == 1:
                return (key.references_columns[0], key.columns[0])
        # Same-named columns, identifiers first.
        shared = [
            (c, right.column(c.name))
            for c in left.columns
            if right.column(c.name) is not None
            and not c.numeric
            or (right.column(c.name) is not None and c.role == "id")
        ]
        shared = [(a, b) for a, b in shared if b is not None]
        shared.sort(key=lambda pair: (pair[0].role != "id", "id" not in lx.name_words(pair[0].name)))
        if shared:
            a, b = shared[0]
            assert b is not None
            return (a.name, b.name)
        for word in self.q.words:
            for a in left.columns:
                for b in right.columns:
                    if any(lx.same_word(word, w) for w in lx.name_words(a.name)) and any(
                        lx.same_word(word, w) for w in lx.name_words(b.name)
                    ):
                        return (a.name, b.name)
        return None

    def _amount_column(self, table: CatalogTable, *, skip_links: bool = False) -> Column | None:
        """Return the amount to total: a numeric column the question names, else the money column.

        A column right after 'total' wins over other numeric columns named.
        """
        linked = [
            link
            for link in ([] if skip_links else self.links)
            if link.kind == "column"
            and link.table is table
            and link.column is not None
            and link.column.numeric
            and not _is_key(link.column)
        ]
        summed = [
            link
            for link in linked
            if link.start > 0 and lx.AGGREGATE_WORDS.get(self.q.words[link.start - 1]) == "sum"
        ]
        for link in summed + linked:
            return link.column
        money = [c for c in table.columns if c.role == "amount"]
        return money[0] if money else None

    # --- everything else: one aggregate query ----------------------------------------------------

    def _aggregate_plan(self) -> ParseResult:
        q = self.q
        base = self.base_table()
        filters: list[Filter] = []
        dimensions: list[Dimension] = []
        order: list[Order] = []
        limit: int | None = None
        time_filter: TimeFilter | None = None
        growth: Growth | None = None
        compare: PeriodComparison | None = None
        used: set[int] = set()  # indexes into self.links
        time_col = self.time_column(base)

        # Negation of a binary column: "did not survive".
        negated = bool(q.find(r"\b(?:not|didn't|didnt|did not|never|no)\b"))

        # Value filters: "in Europe", "for female passengers".
        by_column: dict[tuple[str, str], list[Link]] = {}
        for i, link in enumerate(self.links):
            if link.kind == "value" and link.column is not None:
                by_column.setdefault((link.table.name, link.column.name), []).append(link)
                used.add(i)
        value_filters: list[Filter] = []
        for (table_name, column_name), group in by_column.items():
            values = list(dict.fromkeys(link.value for link in group))
            table_ref = None if table_name == base.name else table_name
            excluded = any(
                self.preceded_by(link.start, {"not", "excluding", "except", "without", "non"})
                for link in group
            )
            if len(values) == 1:
                value_filters.append(
                    Filter(
                        column=column_name, table=table_ref, op=Op.NE if excluded else Op.EQ, value=values[0]
                    )
                )
            else:
                value_filters.append(
                    Filter(
                        column=column_name,
                        table=table_ref,
                        op=Op.NOT_IN if excluded else Op.IN,
                        values=values,
                    )
                )
        self._place_words("not", "excluding", "except", "without")

        # Time: comparisons, growth, ranges, grains.
        periods, period_words = self._periods(base, time_col)
        compare_words = q.has(
            "compare", "compared", "comparing", "vs", "versus", "against", "comparison"
        ) or bool(q.find(r"\b(?:how did|change between|change from|difference between)\b"))
        if len(periods) >= 2 and q.has(*_CHANGE_WORDS):
            compare_words = True
        grain_dim = self._grain(time_col)
        growth_words = self._growth_grain()
        if growth_words is not None and time_col is not None:
            growth = Growth(grain=growth_words)
            grain_dim = Grain(growth_words)
            self.pattern = "growth"
        elif growth_words == "year" and self._year_column(base) is not None:
            year_column = self._year_column(base)
            assert year_column is not None
            growth = Growth(grain=Grain.YEAR)
            dimensions.append(Dimension(column=year_column.name))
            self.dimension_ends.append(-1)
            self.pattern = "growth"
        if len(periods) >= 2 and compare_words and time_col is not None:
            compare = PeriodComparison(
                column=time_col.name, periods=sorted(periods, key=lambda p: p.start or dt.date.min)
            )
            self.pattern = "compare_periods"
            self._place_words(
                "compare",
                "compared",
                "comparing",
                "vs",
                "versus",
                "against",
                "comparison",
                "difference",
                "between",
                "percent",
                "percentage",
                *_CHANGE_WORDS,
            )
        elif periods and time_col is not None:
            period = periods[0]
            if len(periods) >= 2:  # "between 2021 and 2023": one span from the first to the last
                ordered = sorted(periods, key=lambda p: p.start or dt.date.min)
                period = Period(
                    start=ordered[0].start,
                    end=ordered[-1].end,
                    label=f"{ordered[0].label}-{ordered[-1].label}",
                )
            time_filter = TimeFilter(column=time_col.name, period=period, relative=period_words == "relative")
        elif periods and time_col is None:
            year_column = self._year_column(base)
            if year_column is not None:
                years = [p.start.year for p in periods if p.start is not None]
                if len(years) >= 2 and compare_words:
                    filters.append(Filter(column=year_column.name, op=Op.IN, values=years))
                    dimensions.append(Dimension(column=year_column.name))
                    self.pattern = "compare_periods"
                else:
                    first_period = periods[0]
                    low = first_period.start.year if first_period.start else None
                    high = (first_period.end - dt.timedelta(days=1)).year if first_period.end else None
                    if (
                        isinstance(year_column.profile.get("max"), (int, float))
                        and year_column.profile["max"] < 100
                    ):
                        # model years written as 70..82
                        low = low % 100 if low is not None else None
                        high = high % 100 if high is not None else None
                    if low is not None and low == high:
                        filters.append(Filter(column=year_column.name, op=Op.EQ, value=low))
                    elif low is not None or high is not None:
                        filters.append(Filter(column=year_column.name, op=Op.RANGE, low=low, high=high))

        count_words = self._count_words()
        # Column links: dimensions, measures, comparisons, binary flags.
        measures: list[Measure] = []
        measure_columns: list[tuple[int, Link]] = []
        for i, link in enumerate(self.links):
            if link.kind != "column" or link.column is None:
                continue
            if q.claimed & set(range(link.start, link.end)):
                used.add(i)
                continue
            column = link.column
            ordinal = _ORDINALS.get(q.words[link.start - 1]) if link.start > 0 else None
            if ordinal is not None and column.numeric and _groupable(column):
                value_filters.append(
                    Filter(
                        column=column.name,
                        table=None if link.table is base else link.table.name,
                        op=Op.EQ,
                        value=ordinal,
                    )
                )
                q.place(link.start - 1, link.start)
                used.add(i)
                continue
            equal = self._number_beside(link)
            if equal is not None:
                value_filters.append(
                    Filter(
                        column=column.name,
                        table=None if link.table is base else link.table.name,
                        op=Op.EQ,
                        value=equal,
                    )
                )
                used.add(i)
                continue
            if q.words[link.start] in lx.COMPARATORS and column.numeric:
                named = self._comparison_at(link.start, column, link.table, link_start=link.start)
                if named is not None:
                    filters.append(named)
                    used.add(i)
                    continue
            if self._is_dimension(link):
                self.dimension_ends.append(link.end)
                if column.temporal and grain_dim is not None:
                    continue
                dimensions.append(
                    Dimension(column=column.name, table=None if link.table is base else link.table.name)
                )
                used.add(i)
                continue
            comparison = self._comparison_after(link)
            if comparison is not None:
                filters.append(comparison)
                used.add(i)
                continue
            if _binary(column) and not self._is_measure_context(link):
                truth: Any = (
                    (False if column.type == "boolean" else 0)
                    if negated
                    else (True if column.type == "boolean" else 1)
                )
                value_filters.append(
                    Filter(
                        column=column.name,
                        table=None if link.table is base else link.table.name,
                        op=Op.EQ,
                        value=truth,
                    )
                )
                used.add(i)
                continue
            if column.temporal or link is count_words:
                used.add(i)
                continue
            measure_columns.append((i, link))

        # Comparisons written with the comparator first: "older than 30", "more than 100 votes".
        filters.extend(
            self._loose_comparisons(base, {id(link) for _, link in measure_columns}, measure_columns)
        )
        seen_columns: set[tuple[str, str]] = set()
        kept: list[tuple[int, Link]] = []
        measure_columns.sort(key=lambda item: q.words[item[1].start] not in lx.AGGREGATE_WORDS)
        for i, link in measure_columns:
            assert link.column is not None
            key = (link.table.name, link.column.name)
            if id(link) in self.consumed or key in seen_columns:
                continue
            seen_columns.add(key)
            kept.append((i, link))
        measure_columns = kept

        if grain_dim is not None and time_col is not None:
            dimensions.insert(0, Dimension(column=time_col.name, grain=grain_dim))
            if self.pattern == "unknown":
                self.pattern = "time_grain"

        # Ranking: top/bottom N.
        agg_word = self._aggregate_word()
        rank = self._ranking()
        share = any(t.text in lx.SHARE_WORDS and not t.placed for t in q.tokens)
        distinct = any(w in lx.DISTINCT_WORDS for w in q.words)

        # Measures.
        if count_words is not None:
            measure_columns = [(i, link) for i, link in measure_columns if self._explicit_aggregate(link)]
        if count_words is not None and not measure_columns:
            measures.append(self._count_measure(count_words, agg_word, distinct))
            if len(q.find(r"\bhow many\b")) >= 2:
                # "how many male and how many female passengers": one count per value.
                for item in value_filters:
                    if item.op is Op.IN and not dimensions:
                        dimensions.append(Dimension(column=item.column, table=item.table))
        for _, link in measure_columns:
            assert link.column is not None
            column = link.column
            agg = self._aggregate_for(
                link, agg_word, bool(dimensions) or (rank is not None and rank[0] is not None)
            )
            if agg is None or (not column.numeric and not self._explicit_aggregate(link)):
                continue
            if _is_key(column) and agg not in {Aggregate.COUNT, Aggregate.COUNT_DISTINCT}:
                # 'average order value': the order is what is counted, its amount what is averaged.
                money = self._amount_column(base, skip_links=True)
                if money is None:
                    continue
                link = Link("column", link.start, link.end, base, money)
                column = money
                self.notes.append(f"'{money.label}' is taken as the amount.")
            if agg in {Aggregate.SUM, Aggregate.AVG, Aggregate.MEDIAN} and not column.numeric:
                agg = Aggregate.COUNT_DISTINCT
            measures.append(
                Measure(agg=agg, column=column.name, table=None if link.table is base else link.table.name)
            )
        ranking_agg = agg_word in {"min", "max"} and (
            bool(dimensions) or (rank is not None and rank[0] is not None)
        )
        if ranking_agg and not self._money_question():
            agg_word = None
        if not measures and (self._money_question() or (agg_word in {"sum", "avg", "median", "min", "max"})):
            money = self._amount_column(base)
            owner = base
            if money is None and self._money_question():
                # The money may live in another table: "revenue from customers of Jane Peacock".
                for other in self.catalog.tables:
                    found = self._amount_column(other, skip_links=True) if other is not base else None
                    if found is not None and _join_key(base, other, self.parser.values) is not None:
                        money, owner = found, other
                        break
            numeric = [c for c in base.columns if c.numeric and not _is_key(c)]
            chosen = (
                money if (money is not None and self._money_question()) or len(numeric) != 1 else numeric[0]
            )
            if chosen is not None:
                agg = (
                    Aggregate(agg_word)
                    if agg_word in {"sum", "avg", "median", "min", "max"} and not ranking_agg
                    else Aggregate.SUM
                )
                table_ref = None if owner is base else owner.name
                measures.append(Measure(agg=agg, column=chosen.name, table=table_ref))
                self.notes.append(f"'{chosen.label}' is taken as the amount.")
        if not measures and (
            dimensions or rank is not None or count_words is not None or share or value_filters or filters
        ):
            list_verbs = (
                q.has("list", "show", "display", "which", "who", "give")
                and not dimensions
                and not share
                and count_words is None
            )
            if not list_verbs:
                measures.append(Measure(agg=Aggregate.COUNT))

        measures = list({m.name: m for m in measures}.values())

        # Shares: of rows or of a measure, of a filtered part or across a dimension.
        if share and measures:
            first = measures[0]
            if value_filters and not dimensions:
                measures[0] = Measure(
                    agg=Aggregate.SHARE,
                    column=first.column if first.agg in {Aggregate.SUM, Aggregate.SHARE} else None,
                    where=value_filters,
                )
                value_filters = []
            elif dimensions:
                measures[0] = Measure(
                    agg=Aggregate.SHARE, column=first.column if first.agg in {Aggregate.SUM} else None
                )
            self.pattern = "share"
            self._place_words(
                *lx.SHARE_WORDS,
                "of",
                "came",
                "come",
                "comes",
                "from",
                "make",
                "makes",
                "made",
                "account",
                "accounts",
                "for",
            )

        filters = list({f.model_dump_json(): f for f in value_filters + filters}.values())

        # Order and limit.
        if rank is not None:
            count, descending = rank
            entity = self._entity_dimension(base, dimensions, measures)
            if entity is not None and count:
                # "which 5 counties had the most votes": counties are rows; list them, do not merge
                # rows that share a name.
                measure = measures[0]
                spec = QuerySpec(
                    tables=[base.name],
                    columns=[ColumnRef(column=entity), ColumnRef(column=measure.column or "")],
                    filters=filters,
                    time=time_filter,
                    order=[Order(by=measure.column or "", descending=descending)],
                    limit=count,
                )
                self.pattern = "top_n" if descending else "bottom_n"
                return self._finish(spec)
            if dimensions and measures:
                order = [Order(by=measures[0].name, descending=descending)]
                limit = count or 1
            elif measures and measures[0].column is not None and not dimensions:
                # "the 5 most expensive tickets": list rows, not aggregate.
                label = self._label_column(base, {m.column for m in measures})
                if count:
                    measure = measures[0]
                    columns = [ColumnRef(column=label.name)] if label is not None else []
                    columns.append(ColumnRef(column=measure.column or "", table=measure.table))
                    order = [Order(by=measure.column or "", descending=descending)]
                    spec = QuerySpec(
                        tables=[base.name],
                        columns=columns,
                        filters=filters,
                        time=time_filter,
                        order=order,
                        limit=count,
                    )
                    self.pattern = "top_n" if descending else "bottom_n"
                    return self._finish(spec)
            if self.pattern == "unknown":
                self.pattern = "top_n" if descending else "bottom_n"

        if not measures and not dimensions:
            listed = self._listing(base, filters, time_filter)
            if listed is not None:
                return self._finish(listed)
            return self._finish(
                None, "I could not tell what to compute: name a column to total, average or count."
            )
        if not measures:
            measures.append(Measure(agg=Aggregate.COUNT))

        dimensions = list({(d.table, d.name): d for d in dimensions}.values())
        tables, joins = self._joins(base, measures, dimensions, filters)
        if tables is None:
            return self._finish(None, "The question uses columns of tables that I could not link by a key.")
        try:
            spec = QuerySpec(
                tables=tables,
                joins=joins,
                measures=measures,
                dimensions=dimensions,
                filters=filters,
                time=time_filter,
                order=order,
                limit=limit,
                growth=growth,
                compare=compare,
            )
        except ValueError as error:
            return self._finish(None, f"The question does not make a consistent plan ({error}).")
        if self.pattern == "unknown":
            self.pattern = self._classify(spec, agg_word, distinct)
        if any(m.column is not None and m.agg is not Aggregate.COUNT_DISTINCT for m in measures):
            self._place_words(*lx.MONEY_WORDS)
        return self._finish(spec)

    def _classify(self, spec: QuerySpec, agg_word: str | None, distinct: bool) -> str:
        if spec.dimensions:
            return "group_by"
        if spec.time is not None:
            return "time_filter"
        if spec.filters:
            return "value_filter"
        measure = spec.measures[0]
        return {
            Aggregate.SUM: "total",
            Aggregate.AVG: "average",
            Aggregate.MEDIAN: "median",
            Aggregate.COUNT: "count",
            Aggregate.COUNT_DISTINCT: "count_distinct",
            Aggregate.MIN: "min_max",
            Aggregate.MAX: "min_max",
            Aggregate.SHARE: "share",
        }[measure.agg]

    # --- pieces ------------------------------------------------------------------------------------

    def _is_dimension(self, link: Link) -> bool:
        """'by region', 'per region', 'for each region', 'which region ... most', 'regions ranked by'."""
        q = self.q
        column = link.column
        assert column is not None
        before = q.words[max(0, link.start - 3) : link.start]
        if before[-1:] and before[-1] in {"by", "per", "each", "every", "across"}:
            q.place(link.start - 1, link.start)
            if before[-2:-1] == ["for"] or before[-2:-1] == ["in"]:
                q.place(link.start - 2, link.start - 1)
            if column.numeric and column.role != "id" and before[-1] == "by" and self._ranked_by(link):
                return False
            return True
        if before[-2:] in (["for", "each"], ["in", "each"], ["broken", "down"]):
            return True
        if (
            before[-1:] in (["and"], ["then"])
            and self.dimension_ends
            and self.dimension_ends[-1] == link.start - 1
        ):
            q.place(link.start - 1, link.start)
            return True
        if (
            len(before) >= 2
            and before[-2] in {"by", "per", "each"}
            and not q.tokens[link.start - 1].placed
            and before[-1] not in lx.STOP
        ):
            q.place(link.start - 2, link.start)
            return True
        # "which region sold the most", "what category has the highest average price"
        if (
            link.start > 0
            and q.words[link.start - 1] in {"which", "what", "whichever"}
            and _groupable(column)
        ):
            if any(w in lx.TOP_WORDS | lx.BOTTOM_WORDS for w in q.words[link.end :]):
                q.place(link.start - 1, link.start)
                return True
        if (
            link.start > 1
            and q.words[link.start - 2] in {"which", "what"}
            and _number(q.words[link.start - 1]) is not None
            and _groupable(column)
        ):
            return True
        # "top 5 regions by sales": the column right after the count.
        ranked_before = any(
            w in lx.TOP_WORDS | lx.BOTTOM_WORDS | {"top", "bottom"}
            for w in q.words[max(0, link.start - 3) : link.start]
        )
        if (
            ranked_before
            and (
                _number(q.words[link.start - 1]) is not None
                or (q.words[link.start - 1] in lx.TOP_WORDS | lx.BOTTOM_WORDS and not column.numeric)
            )
            and _groupable(column)
        ):
            return True
        if (
            len(before) >= 3
            and before[-3] in {"by", "per"}
            and before[-2:] in (["number", "of"], ["count", "of"], ["amount", "of"])
            and not self._ranked_by(link)
        ):
            q.place(link.start - 3, link.start)
            return True
        if link.end < len(q.words) and q.words[link.end] in {"wise"}:
            q.place(link.end, link.end + 1)
            return True
        return False

    def _number_beside(self, link: Link) -> int | None:
        """'4 cylinder cars', 'origin 1', 'class 3': a whole number right beside a column of few values."""
        q = self.q
        column = link.column
        assert column is not None
        if not column.numeric or _is_key(column):
            return None
        if not _groupable(column):
            # 'a zero balance', 'with 3 children': a number right before the column, after a/with/have
            if link.start >= 2 and q.words[link.start - 2] in {"a", "with", "have", "has", "had", "of"}:
                number = _number(q.words[link.start - 1])
                if number is not None and not q.tokens[link.start - 1].placed:
                    q.place(link.start - 2, link.start)
                    return int(number) if number.is_integer() else None
            return None
        ranked = any(
            w in lx.TOP_WORDS | lx.BOTTOM_WORDS | {"top", "bottom", "which", "what"}
            for w in q.words[max(0, link.start - 3) : link.start]
        )
        before = q.words[link.start - 1] if link.start > 0 else ""
        after = q.words[link.end] if link.end < len(q.words) else ""
        for word, position in ((before, link.start - 1), (after, link.end)):
            number = _number(word) if word else None
            if number is None or not number.is_integer() or q.tokens[position].placed:
                continue
            if position == link.start - 1 and ranked:
                continue
            if (
                position == link.start - 1
                and position > 0
                and q.words[position - 1] in {*lx.COMPARATORS, "than"}
            ):
                continue
            low, high = column.profile.get("min"), column.profile.get("max")
            if isinstance(low, (int, float)) and isinstance(high, (int, float)) and not low <= number <= high:
                continue
            q.place(position, position + 1)
            return int(number)
        return None

    def _ranked_by(self, link: Link) -> bool:
        """'top 5 regions by sales': the numeric column after 'by' is what ranks, not a dimension."""
        return any(
            w in lx.TOP_WORDS | lx.BOTTOM_WORDS
            or w in {"rank", "ranked", "sorted", "ordered", "sort", "order"}
            for w in self.q.words[: link.start]
        )

    def _is_measure_context(self, link: Link) -> bool:
        """A 0/1 column named after an aggregate word is a measure ('average survived'), not a flag."""
        before = self.q.words[max(0, link.start - 2) : link.start]
        return (
            any(w in lx.AGGREGATE_WORDS and lx.AGGREGATE_WORDS[w] in {"sum", "avg"} for w in before)
            or any(w in {"rate"} for w in self.q.words[link.end : link.end + 1])
            and not any(w in lx.SHARE_WORDS for w in self.q.words if w != "rate")
        )

    def _comparison_after(self, link: Link) -> Filter | None:
        """'age over 30', 'fare of at least 100', 'weight between 2000 and 3000'."""
        q = self.q
        column = link.column
        assert column is not None
        if (not column.numeric and not column.temporal) or _is_key(column):
            return None
        words = q.words
        i = link.end
        while (
            i < len(words)
            and words[i] in {"is", "was", "of", "are", "were", "with", "a", "than", "or", "equal", "to"}
            and i < link.end + 2
        ):
            i += 1
        if i < len(words) and self._named_by_comparator(words[i], link.table) not in (None, column):
            return None
        return self._comparison_at(i, column, link.table, link_start=link.end)

    def _named_by_comparator(self, word: str, table: CatalogTable) -> Column | None:
        """The numeric column a comparator word names by itself: 'older' -> age, 'heavier' -> weight."""
        if word not in lx.COMPARATORS:
            return None
        for candidate in table.columns:
            if candidate.numeric and any(lx.same_word(word, w) for w in lx.name_words(candidate.name)):
                return candidate
        return None

    def _comparison_at(self, i: int, column: Column, table: CatalogTable, link_start: int) -> Filter | None:
        q = self.q
        words = q.words
        if i >= len(words) or q.claimed & set(range(i, i + 4)):
            return None
        ref = None if table is self.base_table() else table.name
        if words[i] == "between" and i + 3 < len(words) and words[i + 2] == "and":
            low, high = _number(words[i + 1]), _number(words[i + 3])
            if low is not None and high is not None:
                q.place(link_start, i + 4)
                return Filter(column=column.name, table=ref, op=Op.RANGE, low=_num(low), high=_num(high))
        op = None
        j = i
        if words[i] == "at" and i + 1 < len(words) and words[i + 1] in {"least", "most"}:
            op = ">=" if words[i + 1] == "least" else "<="
            j = i + 2
        elif words[i] in lx.COMPARATORS and words[i] not in {"least", "most"}:
            op = lx.COMPARATORS[words[i]]
            j = i + 1
            while j < len(words) and words[j] in {"than", "or", "equal", "to", "the"}:
                if words[j] == "equal":
                    op = op + "=" if len(op) == 1 else op
                j += 1
        elif words[i] in {"equals", "equal", "exactly", "="}:
            op = "="
            j = i + 1
            while j < len(words) and words[j] in {"to"}:
                j += 1
        if op is None or j >= len(words):
            return None
        value = _number(words[j])
        if value is None:
            return None
        q.place(link_start, j + 1)
        return Filter(column=column.name, table=ref, op=Op(op), value=_num(value))

    def _loose_comparisons(
        self, base: CatalogTable, _ids: set[int], measure_columns: list[tuple[int, Link]]
    ) -> list[Filter]:
        """Comparators whose column is named by the comparator ('older than 30') or just before it."""
        q = self.q
        found: list[Filter] = []
        for i, word in enumerate(q.words):
            if q.tokens[i].placed:
                continue
            if word not in lx.COMPARATORS and word != "at":
                continue
            column: Column | None = None
            table = base
            # The comparator names its column: older -> age.
            column = self._named_by_comparator(word, base)
            if column is None:
                # The nearest numeric column after the number: "more than 100 votes".
                nxt = i + 1
                while nxt < len(q.words) and q.words[nxt] in {"than", "or", "equal", "to", "least", "most"}:
                    nxt += 1
                if nxt + 1 < len(q.words) and _number(q.words[nxt]) is not None:
                    for _, link in measure_columns:
                        if link.start == nxt + 1 and link.column is not None and link.column.numeric:
                            column, table = link.column, link.table
                            self.consumed.add(id(link))
                            q.place(link.start, link.end)
            if column is None:
                continue
            found_filter = self._comparison_at(i, column, table, link_start=i)
            if found_filter is not None:
                found.append(found_filter)
                if self.pattern == "unknown":
                    pass
        return found

    def _aggregate_word(self) -> str | None:
        for i, word in enumerate(self.q.words):
            agg = lx.AGGREGATE_WORDS.get(word)
            if agg is None or self.q.tokens[i].placed:
                continue
            if (
                word in {"first", "last", "top"}
                and i + 1 < len(self.q.words)
                and _number(self.q.words[i + 1]) is not None
            ):
                continue
            if word == "last" and i + 1 < len(self.q.words) and self.q.words[i + 1] in lx.GRAIN_WORDS:
                continue
            if word == "most" and i > 0 and self.q.words[i - 1] == "at":
                continue
            if word == "least" and i > 0 and self.q.words[i - 1] == "at":
                continue
            for j, other in enumerate(self.q.words):
                if lx.AGGREGATE_WORDS.get(other) == agg:
                    self.q.tokens[j].placed = True
            return agg
        return None

    def _aggregate_for(self, link: Link, agg_word: str | None, ranking: bool) -> Aggregate | None:
        """The aggregate of a numeric column: the word nearest before it, else a sensible default."""
        q = self.q
        own = lx.AGGREGATE_WORDS.get(q.words[link.start])
        if own is not None and own in {"max", "min"} and not ranking:
            return Aggregate(own)  # 'heaviest' names the column and the aggregate
        linked = {p for other in self.links if other is not link for p in range(other.start, other.end)}
        for i in range(link.start - 1, max(-1, link.start - 5), -1):
            if i in linked:
                break
            word = q.words[i]
            agg = lx.AGGREGATE_WORDS.get(word)
            if agg is not None and not (
                word == "last" and i + 1 < len(q.words) and q.words[i + 1] in lx.GRAIN_WORDS
            ):
                q.tokens[i].placed = True
                if ranking and agg in {"max", "min"}:
                    return self._default_aggregate(link.column)
                return Aggregate(agg)
            if word in lx.DISTINCT_WORDS or (word in {"many", "count", "number"}):
                q.tokens[i].placed = True
                return (
                    Aggregate.COUNT_DISTINCT
                    if link.column is not None and not link.column.numeric or word in lx.DISTINCT_WORDS
                    else Aggregate.COUNT
                )
        assert link.column is not None
        if _is_key(link.column):
            return None
        if agg_word is not None and not (ranking and agg_word in {"max", "min"}):
            return Aggregate(agg_word)
        return self._default_aggregate(link.column)

    def _entity_dimension(
        self, base: CatalogTable, dimensions: list[Dimension], measures: list[Measure]
    ) -> str | None:
        """The dimension's column when it names rows (mostly distinct names), not groups of rows."""
        if len(dimensions) != 1 or len(measures) != 1 or dimensions[0].grain is not None:
            return None
        dimension, measure = dimensions[0], measures[0]
        if dimension.table is not None or measure.table is not None or measure.column is None:
            return None
        if measure.agg not in {Aggregate.SUM, Aggregate.AVG}:
            return None
        column = base.column(dimension.column)
        if column is None or column.numeric:
            return None
        share = int(column.profile.get("distinct_count") or 0) / max(base.row_count, 1)
        return column.name if share >= 0.5 else None

    def _count_measure(self, counted: object, agg_word: str | None, distinct: bool) -> Measure:
        """'how many X': rows, distinct values of X, or (for a measure like mpg) its total or average."""
        target = counted if isinstance(counted, Link) else None
        if target is None or target.column is None:
            return Measure(agg=Aggregate.COUNT)
        column = target.column
        if column.numeric and not _is_key(column) and not _groupable(column) and not distinct:
            # 'on average, how many miles per gallon', 'how many votes did X get'
            agg = Aggregate(agg_word) if agg_word in {"avg", "median", "sum", "min", "max"} else Aggregate.SUM
            return Measure(
                agg=agg,
                column=column.name,
                table=None if target.table is self.base_table() else target.table.name,
            )
        rows = max(target.table.row_count, 1)
        distinct_share = int(column.profile.get("distinct_count") or 0) / rows
        if (
            distinct
            or (column.role in {"category", "email", "text", "id"} or _is_key(column))
            and distinct_share < 0.5
        ):
            return Measure(
                agg=Aggregate.COUNT_DISTINCT,
                column=column.name,
                table=None if target.table is self.base_table() else target.table.name,
            )
        return Measure(agg=Aggregate.COUNT)

    def _explicit_aggregate(self, link: Link) -> bool:
        """Whether an aggregate word stands right before a column ('average fare'), not just the column."""
        linked = {p for other in self.links if other is not link for p in range(other.start, other.end)}
        for i in range(link.start - 1, max(-1, link.start - 4), -1):
            if i in linked:
                return False
            if self.q.words[i] in lx.AGGREGATE_WORDS or self.q.words[i] in lx.DISTINCT_WORDS | lx.COUNT_WORDS:
                return True
        return False

    def _default_aggregate(self, column: Column | None) -> Aggregate:
        if column is None:
            return Aggregate.COUNT
        words = set(lx.name_words(column.name)) | set(lx.name_words(column.label))
        if column.role == "amount" or words & lx.ADDITIVE_HINTS or self._money_question():
            return Aggregate.SUM
        if self.q.has("most", "least", "fewest") and not self.q.has("highest", "lowest", "average", "mean"):
            return Aggregate.SUM  # 'invested the most': the total
        return Aggregate.AVG

    def _money_question(self) -> bool:
        return any(w in lx.MONEY_WORDS for w in self.q.words) or bool(self.q.find(r"\bhow much\b"))

    def _count_words(self) -> object | None:
        """'how many X', 'number of X', 'count of X': returns the link counted (or a sentinel)."""
        q = self.q
        hits = [
            hit
            for hit in q.find(r"\b(?:how many|number of|count of|count the|count|total number of)\b")
            if not (hit[0] > 0 and q.words[hit[0] - 1] in {"by", "per"})
        ]
        if not hits:
            return None
        first, end, _ = hits[0]
        q.place(first, end)
        for link in self.links:
            if link.start >= end and link.start <= end + 3 and link.kind == "column":
                between = q.words[end : link.start]
                if all(w in lx.STOP or w in lx.DISTINCT_WORDS for w in between):
                    q.place(end, link.start)
                    return link
        # "how many passengers": the entity noun right after is the rows being counted.
        i = end
        while i < len(q.words) and (
            q.words[i] in lx.DISTINCT_WORDS or q.words[i] in {"the", "of", "all"} or q.words[i] in lx.FILLER
        ):
            q.tokens[i].placed = True
            i += 1
        if i < len(q.words) and not q.tokens[i].placed and q.words[i] not in lx.STOP:
            q.tokens[i].placed = True
        return _COUNT_ROWS

    def _ranking(self) -> tuple[int | None, bool] | None:
        q = self.q
        words = q.words
        for i, word in enumerate(words):
            if word in {"top", "bottom", "first", "last"} | lx.TOP_WORDS | lx.BOTTOM_WORDS:
                if word in {"most", "least"} and i > 0 and words[i - 1] == "at":
                    continue
                if (
                    word == "last"
                    and i + 1 < len(words)
                    and (
                        words[i + 1] in lx.GRAIN_WORDS
                        or (i + 2 < len(words) and words[i + 2] in lx.GRAIN_WORDS)
                    )
                ):
                    continue
                descending = word not in lx.BOTTOM_WORDS | {"bottom"}
                count = None
                if i + 1 < len(words) and _number(words[i + 1]) is not None:
                    count = int(_number(words[i + 1]) or 0)
                    q.place(i, i + 2)
                elif i > 0 and _number(words[i - 1]) is not None:
                    count = int(_number(words[i - 1]) or 0)
                    q.place(i - 1, i + 1)
                else:
                    which = q.find(r"\b(?:which|what|the) (\d+|" + "|".join(lx.NUMBER_WORDS) + r")\b")
                    if which:
                        number = _number(which[0][2].group(1))
                        count = int(number) if number else None
                        q.place(which[0][0], which[0][1])
                    q.tokens[i].placed = True
                if word in {"first", "last"} and count is None:
                    continue
                if word in {"first"}:
                    descending = False
                return (count, descending)
        return None

    def _label_column(self, table: CatalogTable, exclude: set[str | None]) -> Column | None:
        for link in self.links:
            if (
                link.kind == "column"
                and link.column is not None
                and link.table is table
                and link.column.name not in exclude
                and not link.column.numeric
            ):
                return link.column
        for column in table.columns:
            if (
                column.type == "text"
                and column.role in {"text", "category", "id"}
                and column.name not in exclude
            ):
                if "name" in lx.name_words(column.name):
                    return column
        texts = [c for c in table.columns if c.type == "text" and c.name not in exclude]
        return texts[0] if texts else None

    def _listing(
        self, base: CatalogTable, filters: list[Filter], time_filter: TimeFilter | None
    ) -> QuerySpec | None:
        columns = [
            ColumnRef(column=link.column.name)
            for link in self.links
            if link.kind == "column" and link.column is not None and link.table is base
        ]
        if not filters and time_filter is None and not columns:
            return None
        self.pattern = "list"
        return QuerySpec(tables=[base.name], columns=columns, filters=filters, time=time_filter)

    def _year_column(self, table: CatalogTable) -> Column | None:
        for column in table.columns:
            words = lx.name_words(column.name)
            if column.type == "integer" and ("year" in words or "yr" in words or "season" in words):
                return column
        return None

    def _grain(self, time_col: Column | None) -> Grain | None:
        """'per month', 'by quarter', 'monthly', 'each year' (not 'last 3 months', not 'in 2023')."""
        q = self.q
        superlative = any(w in lx.TOP_WORDS | lx.BOTTOM_WORDS for w in q.words) or any(
            lx.AGGREGATE_WORDS.get(w) in {"max", "min"} for w in q.words
        )
        if time_col is not None and superlative:
            ranked = q.find(
                r"\b(?:which|what|the) (?:\d+ |"
                + "|".join(lx.NUMBER_WORDS)
                + r" )?(day|date|week|month|quarter|year)s?\b"
            )
            if ranked:
                first, end, match = ranked[0]
                unit = "day" if match.group(1) == "date" else match.group(1)
                q.claim(end - 1, end)
                return Grain(unit)
        for i, word in enumerate(q.words):
            grain = lx.GRAIN_WORDS.get(word)
            if grain is None or q.tokens[i].placed:
                continue
            previous = q.words[i - 1] if i > 0 else ""
            if word in {"daily", "weekly", "monthly", "quarterly", "yearly", "annual", "annually"}:
                if i + 1 < len(q.words) and q.words[i + 1] in {"growth", "change"}:
                    continue
                if i > 0 and lx.AGGREGATE_WORDS.get(previous) in {"avg", "median", "max", "min"}:
                    q.tokens[i].placed = True  # 'median daily volume': the rows are the days
                    continue
                q.tokens[i].placed = True
                return Grain(grain)
            if previous in {"by", "per", "each", "every", "a"} or (
                previous == "the" and i > 1 and q.words[i - 2] in {"by", "per"}
            ):
                q.claim(i - 1, i + 1)
                if i > 1 and q.words[i - 2] in {"for", "in"} and previous == "each":
                    q.claim(i - 2, i - 1)
                return Grain(grain)
            if (
                previous in {"over", "across", "through"}
                and word.endswith("s")
                and (i + 1 >= len(q.words) or q.words[i + 1] != "over")
            ):
                q.claim(i - 1, i + 1)
                return Grain(grain)
        if time_col is not None and q.find(r"\b(?:trend|over time|timeline|time series)\b"):
            hits = q.find(r"\b(?:trend|over time|timeline|time series)\b")
            q.claim(hits[0][0], hits[0][1])
            return Grain.MONTH
        return None

    def _growth_grain(self) -> str | None:
        q = self.q
        patterns = [
            (r"\b(day|week|month|quarter|year) (?:over|on|to) (?:the )?(?:previous )?\1\b", None),
            (r"\b(mom|m o m)\b", "month"),
            (r"\b(yoy|y o y)\b", "year"),
            (r"\b(qoq)\b", "quarter"),
            (r"\b(daily|weekly|monthly|quarterly|yearly|annual) (?:growth|change|increase)\b", None),
            (r"\bgrowth (?:rate )?(?:by|per|each|from) (?:the )?(day|week|month|quarter|year)\b", None),
            (
                r"\b(?:grow|grew|growth|change|changed|increase|increased) (?:from )?(?:each |every |one )?"
                r"(day|week|month|quarter|year) to (?:the next|next|the following)\b",
                None,
            ),
        ]
        for pattern, fixed in patterns:
            hits = q.find(pattern)
            if hits:
                first, end, match = hits[0]
                q.claim(first, end)
                self._place_words("growth", "grow", "grew", "change", "changed", "increase", "rate")
                word = fixed or match.group(1)
                grain = lx.GRAIN_WORDS.get(word, word)
                return grain
        if q.has("growth", "grew", "grow") and not q.find(r"\bgrowth between\b"):
            for i, word in enumerate(q.words):
                if word in lx.GRAIN_WORDS and not q.tokens[i].placed:
                    q.tokens[i].placed = True
                    self._place_words("growth", "grew", "grow", "rate")
                    return lx.GRAIN_WORDS[word]
        return None

    def _periods(self, table: CatalogTable, time_col: Column | None) -> tuple[list[Period], str]:
        """Periods the question names; the second value says 'relative' for 'last 3 months'."""
        q = self.q
        periods: list[Period] = []
        kind = "absolute"
        # Relative: last N days/weeks/months/quarters/years (from the data's latest date).
        rel = q.find(
            r"\b(?:last|past|previous|recent|latest|trailing) (\d+|"
            + "|".join(lx.NUMBER_WORDS)
            + r")? ?(day|week|month|quarter|year)s?\b"
        )
        if rel and time_col is not None:
            first, end, match = rel[0]
            latest = self.latest(table, time_col)
            if latest is not None:
                count = int(_number(match.group(1)) or 1) if match.group(1) else 1
                unit = match.group(2)
                start, stop = _relative(latest, count, unit)
                label = f"last {count} {unit}{'s' if count != 1 else ''}"
                periods.append(Period(start=start, end=stop, label=label))
                self.notes.append(
                    f"'{label}' is counted back from the latest {time_col.label}"
                    f" in the data, {latest.isoformat()}: "
                    f"{start.isoformat()} to {(stop - dt.timedelta(days=1)).isoformat()}."
                )
                q.claim(first, end)
                return periods, "relative"
        # Quarters: Q1 2024, first quarter of 2024.
        for first, end, match in q.find(
            r"\bq([1-4]) (?:of )?(" + _YEAR + r")\b|\b(" + _YEAR + r") q([1-4])\b"
        ):
            quarter = int(match.group(1) or match.group(4))
            year = int(match.group(2) or match.group(3))
            start = dt.date(year, 3 * quarter - 2, 1)
            periods.append(Period(start=start, end=_add_months(start, 3), label=f"Q{quarter}_{year}"))
            q.claim(first, end)
        ordinals = {
            "first": 1,
            "second": 2,
            "third": 3,
            "fourth": 4,
            "1st": 1,
            "2nd": 2,
            "3rd": 3,
            "4th": 4,
            "last": 4,
            "final": 4,
        }
        for first, end, match in q.find(
            r"\b(first|second|third|fourth|1st|2nd|3rd|4th|last|final) quarter (?:of |in )?(" + _YEAR + r")\b"
        ):
            quarter = ordinals[match.group(1)]
            year = int(match.group(2))
            start = dt.date(year, 3 * quarter - 2, 1)
            periods.append(Period(start=start, end=_add_months(start, 3), label=f"Q{quarter}_{year}"))
            q.claim(first, end)
        # Halves: H1 2024, first half of 2024.
        for first, end, match in q.find(r"\b(?:h([12])|(first|second) half of) (" + _YEAR + r")\b"):
            half = int(match.group(1)) if match.group(1) else (1 if match.group(2) == "first" else 2)
            year = int(match.group(3))
            start = dt.date(year, 1 if half == 1 else 7, 1)
            periods.append(Period(start=start, end=_add_months(start, 6), label=f"H{half}_{year}"))
            q.claim(first, end)
        # Day ranges: between 2023-02-01 and 2023-04-15, from 1 March to 15 April 2017.
        iso = r"(\d{4}-\d{2}-\d{2})"
        for first, end, match in q.find(
            r"\b(?:between|from) " + iso + r" (?:and|to|through|until|till) " + iso + r"\b"
        ):
            try:
                start, last = dt.date.fromisoformat(match.group(1)), dt.date.fromisoformat(match.group(2))
            except ValueError:
                continue
            periods.append(Period(start=start, end=last + dt.timedelta(days=1), label=f"{start}_{last}"))
            q.claim(first, end)
        day_month = r"(\d{1,2}) (" + _MONTH_NAMES + r")"
        for first, end, match in q.find(
            r"\b(?:between|from) "
            + day_month
            + r" ?("
            + _YEAR
            + r")? (?:and|to|through|until|till) "
            + day_month
            + r" ("
            + _YEAR
            + r")\b"
        ):
            try:
                end_year = int(match.group(6))
                start = dt.date(
                    int(match.group(3) or end_year), lx.MONTHS[match.group(2)], int(match.group(1))
                )
                last = dt.date(end_year, lx.MONTHS[match.group(5)], int(match.group(4)))
            except ValueError:
                continue
            periods.append(Period(start=start, end=last + dt.timedelta(days=1), label=f"{start}_{last}"))
            q.claim(first, end)
        if not periods:
            for first, end, match in q.find(r"\b(?:on )?" + iso + r"\b"):
                try:
                    day = dt.date.fromisoformat(match.group(1))
                except ValueError:
                    continue
                periods.append(Period(start=day, end=day + dt.timedelta(days=1), label=str(day)))
                q.claim(first, end)
        # Two months of one year: "January and April 2017".
        if not periods:
            for first, end, match in q.find(
                r"\b("
                + _MONTH_NAMES
                + r") (?:and|vs|versus|with|to) ("
                + _MONTH_NAMES
                + r") ("
                + _YEAR
                + r")\b"
            ):
                if not q.has("compare", "compared", "vs", "versus", *_CHANGE_WORDS):
                    continue
                year = int(match.group(3))
                for name in (match.group(1), match.group(2)):
                    start = dt.date(year, lx.MONTHS[name], 1)
                    periods.append(Period(start=start, end=_add_months(start, 1), label=f"{name}_{year}"))
                q.claim(first, end)
        # Month ranges: between March and June 2024, from Jan to Mar 2023, March-June 2024.
        month_range = (
            r"\b(?:between|from) ("
            + _MONTH_NAMES
            + r") ?("
            + _YEAR
            + r")? (?:and|to|through|until|till) ("
            + _MONTH_NAMES
            + r") ("
            + _YEAR
            + r")\b"
        )
        for first, end, match in q.find(month_range):
            end_year = int(match.group(4))
            start_year = int(match.group(2)) if match.group(2) else end_year
            start = dt.date(start_year, lx.MONTHS[match.group(1)], 1)
            stop = _add_months(dt.date(end_year, lx.MONTHS[match.group(3)], 1), 1)
            if stop <= start:
                start = dt.date(start_year - 1, start.month, 1)
            periods.append(
                Period(start=start, end=stop, label=f"{match.group(1)}-{match.group(3)}_{end_year}")
            )
            q.claim(first, end)
        if not periods:
            for first, end, match in q.find(r"\b(" + _MONTH_NAMES + r") (?:of )?(" + _YEAR + r")\b"):
                if (
                    match.group(1) in {"may", "mar"}
                    and first > 0
                    and q.words[first - 1] in {"i", "we", "you"}
                ):
                    continue
                start = dt.date(int(match.group(2)), lx.MONTHS[match.group(1)], 1)
                periods.append(
                    Period(start=start, end=_add_months(start, 1), label=f"{match.group(1)}_{match.group(2)}")
                )
                q.claim(first, end)
        # Year ranges and single years: between 2020 and 2022, since 2021, before 2020, in 2023.
        if not periods:
            span = q.find(
                r"\b(?:between|from) (" + _YEAR + r") (?:and|to|through|until|till) (" + _YEAR + r")\b"
            )
            compare_words = q.has("compare", "compared", "vs", "versus", "against", *_CHANGE_WORDS)
            if span and not compare_words:
                first, end, match = span[0]
                low, high = sorted((int(match.group(1)), int(match.group(2))))
                periods.append(
                    Period(start=dt.date(low, 1, 1), end=dt.date(high + 1, 1, 1), label=f"{low}-{high}")
                )
                q.claim(first, end)
                return periods, kind
            since = q.find(
                r"\b(since|after|onwards from|starting from|before|until|till|prior to) (" + _YEAR + r")\b"
            )
            if since and not compare_words:
                first, end, match = since[0]
                year = int(match.group(2))
                if match.group(1) in {"since", "onwards from", "starting from"}:
                    periods.append(Period(start=dt.date(year, 1, 1), label=f"since_{year}"))
                elif match.group(1) == "after":
                    periods.append(Period(start=dt.date(year + 1, 1, 1), label=f"after_{year}"))
                else:
                    periods.append(Period(end=dt.date(year, 1, 1), label=f"before_{year}"))
                q.claim(first, end)
                return periods, kind
            for i, word in enumerate(q.words):
                if re.fullmatch(_YEAR, word) and not q.tokens[i].placed:
                    year = int(word)
                    periods.append(Period(start=dt.date(year, 1, 1), end=dt.date(year + 1, 1, 1), label=word))
                    q.tokens[i].placed = True
        if not periods and time_col is not None:
            latest = self.latest(table, time_col)
            this = q.find(r"\b(this|last|previous) (year|month|quarter)\b")
            if this and latest is not None:
                first, end, match = this[0]
                unit = match.group(2)
                start = _period_start(latest, unit)
                if match.group(1) != "this":
                    start = _period_start(start - dt.timedelta(days=1), unit)
                stop = _add_months(start, {"month": 1, "quarter": 3, "year": 12}[unit])
                label = f"{match.group(1)}_{unit}"
                periods.append(Period(start=start, end=stop, label=label))
                self.notes.append(
                    f"'{match.group(1)} {unit}' is read from the latest {time_col.label}"
                    f" in the data, {latest.isoformat()}: "
                    f"{start.isoformat()} to {(stop - dt.timedelta(days=1)).isoformat()}."
                )
                q.claim(first, end)
                kind = "relative"
        return periods, kind

    def _joins(
        self, base: CatalogTable, measures: list[Measure], dimensions: list[Dimension], filters: list[Filter]
    ) -> tuple[list[str] | None, list[Join]]:
        needed = [t for t in (m.table for m in measures) if t] + [
            t for t in (d.table for d in dimensions) if t
        ]
        needed += [t for t in (f.table for f in filters) if t]
        others = list(dict.fromkeys(n for n in needed if n.casefold() != base.name.casefold()))
        if not others:
            return [base.name], []
        joins: list[Join] = []
        for name in others:
            other = self.catalog.table(name)
            if other is None:
                return None, []
            key = _join_key(base, other, self.parser.values)
            if key is None:
                return None, []
            joins.append(Join(table=base.name, to_table=other.name, columns=[key[0]], to_columns=[key[1]]))
        self.pattern = "join" if self.pattern == "unknown" else self.pattern
        return [base.name, *others], joins


_COUNT_ROWS = object()
_VOCABULARY = frozenset(
    set(lx.AGGREGATE_WORDS)
    | lx.STOP
    | lx.FILLER
    | set(lx.GRAIN_WORDS)
    | lx.SHARE_WORDS
    | set(lx.COMPARATORS)
    | lx.DISTINCT_WORDS
    | lx.COUNT_WORDS
    | set(lx.MONTHS)
)
_CHANGE_WORDS = (
    "grow",
    "grew",
    "growth",
    "rise",
    "rose",
    "risen",
    "increase",
    "increased",
    "change",
    "changed",
    "decline",
    "declined",
    "fall",
    "fell",
    "drop",
    "dropped",
    "decrease",
    "decreased",
)
_GENERIC_NAME_WORDS = frozenset(
    {"total", "all", "overall", "sum", "count", "number", "num", "of", "the", "amount", "value"}
)
_ORDINALS = {
    "first": 1,
    "1st": 1,
    "second": 2,
    "2nd": 2,
    "third": 3,
    "3rd": 3,
    "fourth": 4,
    "4th": 4,
    "fifth": 5,
    "5th": 5,
}


def _join_key(
    left: CatalogTable, right: CatalogTable, values: ValueIndex | None = None
) -> tuple[str, str] | None:
    """A key linking two tables.

    In order: a declared foreign key (SQLite uploads); same-named columns, identifiers first;
    'customer_id' against the 'id' of a table named 'customers'; and, for differently named text
    columns, values that overlap (most of the smaller column's values found in the other).
    """
    for key in left.foreign_keys:
        if key.references_table.casefold() == right.name.casefold() and len(key.columns) == 1:
            return (key.columns[0], key.references_columns[0])
    for key in right.foreign_keys:
        if key.references_table.casefold() == left.name.casefold() and len(key.columns) == 1:
            return (key.references_columns[0], key.columns[0])
    candidates: list[tuple[float, str, str]] = []
    for column in left.columns:
        other = right.column(column.name)
        if other is None or column.temporal:
            continue
        rank = 0 if ("id" in lx.name_words(column.name) or column.role == "id") else 1
        if column.type != other.type:
            rank += 2
        candidates.append((rank, column.name, other.name))
    # "customer_id" in one table, "id" in the table named "customers".
    for column in left.columns:
        words = lx.name_words(column.name)
        if (
            len(words) >= 2
            and words[-1] == "id"
            and any(lx.same_word(words[0], w) for w in lx.name_words(right.name))
        ):
            target = right.column("id")
            if target is not None:
                candidates.append((0, column.name, target.name))
    if not candidates and values:
        for column in left.columns:
            mine = set(values.get((left.name, column.name), ()))
            if column.type != "text" or len(mine) < 2:
                continue
            for other in right.columns:
                theirs = set(values.get((right.name, other.name), ()))
                if other.type != "text" or len(theirs) < 2:
                    continue
                overlap = len(mine & theirs) / min(len(mine), len(theirs))
                if overlap >= 0.8:
                    candidates.append((3 - overlap, column.name, other.name))
    if not candidates:
        return None
    candidates.sort()
    return (candidates[0][1], candidates[0][2])


def _num(value: float) -> int | float:
    return int(value) if value.is_integer() else value


def _period_start(day: dt.date, unit: str) -> dt.date:
    if unit == "year":
        return dt.date(day.year, 1, 1)
    if unit == "quarter":
        return dt.date(day.year, 3 * ((day.month - 1) // 3) + 1, 1)
    if unit == "month":
        return dt.date(day.year, day.month, 1)
    if unit == "week":
        return day - dt.timedelta(days=day.weekday())
    return day


def _relative(latest: dt.date, count: int, unit: str) -> tuple[dt.date, dt.date]:
    """The last ``count`` calendar units up to and including the latest date's own unit."""
    stop = latest + dt.timedelta(days=1)
    if unit == "day":
        return latest - dt.timedelta(days=count - 1), stop
    if unit == "week":
        return latest - dt.timedelta(days=7 * count - 1), stop
    months = {"month": 1, "quarter": 3, "year": 12}[unit] * (count - 1)
    return _add_months(_period_start(latest, unit), -months), stop


__all__ = ["ParseResult", "Parser", "ValueIndex"]
