"""The planner model: fills a plan when the rule-based parser cannot, under a JSON schema.

The schema is built per question from the catalog: table and column names are enums, so the model
can only name columns that exist (constrained decoding in llama.cpp and Ollama). Its answer becomes
an ordinary QuerySpec and goes through the same compiler and validator as the parser's plans.
"""

from __future__ import annotations

import re
from typing import Any, Literal

from pydantic import BaseModel, Field, create_model

from nexus.llm.base import Message
from nexus.llm.models import Models
from nexus.query import lexicon as lx
from nexus.query.catalog import Catalog, CatalogTable
from nexus.query.compiler import PlanError
from nexus.query.spec import Aggregate, Dimension, Filter, Grain, Measure, Op, Order, QuerySpec

MAX_SAMPLE_VALUES = 5
MAX_SAMPLE_CHARS = 40
MAX_DESCRIBED_COLUMNS = 60


def _enum(values: list[str]) -> Any:
    return Literal[tuple(values)]


def plan_type(table: CatalogTable) -> type[BaseModel]:
    """Return the model's answer type for one table, with its column names as enums."""
    columns = [c.name for c in table.columns]
    column_type: Any = _enum(columns)
    aggregates: Any = _enum([a.value for a in Aggregate if a is not Aggregate.SHARE])
    operators: Any = _enum(["=", "!=", ">", ">=", "<", "<=", "contains"])
    measure: Any = create_model("ModelMeasure", agg=(aggregates, ...), column=(column_type | None, None))
    condition: Any = create_model(
        "ModelFilter", column=(column_type, ...), op=(operators, ...), value=(str | float, ...)
    )
    grains: Any = _enum(["none", "day", "week", "month", "quarter", "year"])
    orders: Any = _enum(["none", "highest_first", "lowest_first"])
    fields: dict[str, Any] = {
        "measures": (list[measure], Field(default_factory=list, max_length=3)),
        "group_by": (list[column_type], Field(default_factory=list, max_length=2)),
        "time_grain": (grains, "none"),
        "filters": (list[condition], Field(default_factory=list, max_length=4)),
        "order": (orders, "none"),
        "limit": (int | None, None),
    }
    return create_model("ModelPlan", **fields)


def describe_table(table: CatalogTable, values: dict[tuple[str, str], list[str]]) -> str:
    """Return a table's columns with types, roles and a few sample values, one per line."""
    lines = [f"Table {table.name} ({table.row_count:,} rows):"]
    for column in table.columns[:MAX_DESCRIBED_COLUMNS]:
        samples = values.get((table.name, column.name)) or [
            str(v) for v in column.top_values if v is not None
        ]
        shown = ", ".join(repr(str(s)[:MAX_SAMPLE_CHARS]) for s in samples[:MAX_SAMPLE_VALUES])
        extent = ""
        if column.profile.get("min") is not None and column.type != "text":
            extent = f" from {column.profile.get('min')} to {column.profile.get('max')}"
        lines.append(
            f"- {column.name} ({column.type}, {column.role}{extent})" + (f": e.g. {shown}" if shown else "")
        )
    return "\n".join(lines)


def model_plan(
    question: str,
    catalog: Catalog,
    values: dict[tuple[str, str], list[str]],
    models: Models,
    *,
    feedback: list[str] | None = None,
) -> QuerySpec:
    """Ask the planner model for a plan over the catalog's largest table."""
    table = max(catalog.tables, key=lambda t: t.row_count)
    answer_type = plan_type(table)
    guidance = (
        "Turn the question into a query plan over the table below. Use only its columns. "
        "measures: what to compute (sum, avg, median, min, max, count, count_distinct; count with no "
        "column counts rows). group_by: columns to break the result down by. time_grain: a calendar "
        "period to group the date column by, or none. filters: conditions on columns, with values "
        "written as in the data. order and limit: for top or bottom N questions.\n\n"
        + describe_table(table, values)
    )
    if feedback:
        guidance += "\n\nA reviewer found problems with an earlier plan: " + "; ".join(feedback)
    messages = [Message("system", guidance), Message("user", question)]
    answer = models.structured("planner", messages, answer_type, max_tokens=300)
    spec = _to_spec(answer.model_dump(), table)
    if not _relevant(spec, question, table, values):
        raise PlanError(
            "The planner model's plan uses nothing the question mentions, so it is not used; "
            "name a column or a value of the data."
        )
    return spec


def _relevant(
    spec: QuerySpec, question: str, table: CatalogTable, values: dict[tuple[str, str], list[str]]
) -> bool:
    """Return whether the plan uses a column or a value the question names.

    A guard against plans made up for questions about something else: some column of the plan must
    be named in the question (by name, label or synonym), or a filter value must appear in it.
    """
    generic = {"column", "columns", "field", "fields", "variable", "variables", "feature", "features"}
    words = [w for w in re.findall(r"[a-z0-9]+", question.lower()) if w not in lx.STOP and w not in generic]
    used = {m.column for m in spec.measures if m.column} | {d.column for d in spec.dimensions}
    used |= {f.column for f in spec.filters}
    for name in used:
        column = table.column(name)
        if column is None:
            continue
        names = set(lx.name_words(column.name)) | set(lx.name_words(column.label))
        if any(lx.same_word(w, n) for w in words for n in names):
            return True
    text = question.lower()
    if any(
        str(f.value).lower() in text for f in spec.filters if f.value is not None and len(str(f.value)) > 1
    ):
        return True
    counts_rows = all(m.column is None for m in spec.measures) and not spec.dimensions and not spec.filters
    return counts_rows and bool(set(words) & {"many", "count", "rows", "records", "number"})


def _to_spec(plan: dict[str, Any], table: CatalogTable) -> QuerySpec:
    measures = [
        Measure(agg=Aggregate(m["agg"]), column=m.get("column"))
        for m in plan.get("measures") or []
        if m.get("column") is not None or m["agg"] == "count"
    ] or [Measure(agg=Aggregate.COUNT)]
    grain = plan.get("time_grain") or "none"
    dimensions: list[Dimension] = []
    temporal = [c for c in table.columns if c.temporal]
    if grain != "none" and temporal:
        dimensions.append(Dimension(column=temporal[0].name, grain=Grain(grain)))
    dimensions += [Dimension(column=name) for name in plan.get("group_by") or []]
    filters = []
    for item in plan.get("filters") or []:
        op = Op.CONTAINS if item["op"] == "contains" else Op(item["op"])
        filters.append(Filter(column=item["column"], op=op, value=item["value"]))
    order = []
    if plan.get("order") in {"highest_first", "lowest_first"} and measures:
        order = [Order(by=measures[0].name, descending=plan["order"] == "highest_first")]
    limit = plan.get("limit")
    return QuerySpec(
        tables=[table.name],
        measures=measures,
        dimensions=dimensions,
        filters=filters,
        order=order,
        limit=limit if isinstance(limit, int) and limit > 0 else None,
    )
