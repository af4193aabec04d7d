"""Write the dev set: derive its data files into eval/sets/data/, then eval/sets/dev.jsonl.

Run from the repository root: ``python -m eval.build_dev``. Every expected answer is computed here with
pandas from the very files the harness uploads, one explicit computation per question.
"""

from __future__ import annotations

import json

from eval.devset import basics, changes, periods, ranking, reconcile
from eval.devset.common import SetBuilder
from eval.devset.data import load_tables, write_all
from eval.sets import SETS_DIR, validate_lines

DEV_SET = SETS_DIR / "dev.jsonl"


def build() -> list[dict[str, object]]:
    """Return the dev set's lines, writing the derived data files first."""
    write_all()
    tables = load_tables()
    builder = SetBuilder()
    for add in (
        basics.add_totals,
        basics.add_averages,
        basics.add_medians,
        basics.add_counts,
        basics.add_distinct_counts,
        basics.add_extremes,
        ranking.add_top,
        ranking.add_bottom,
        ranking.add_groups,
        periods.add_grains,
        periods.add_year_filters,
        periods.add_quarter_filters,
        periods.add_range_filters,
        periods.add_relative_periods,
        changes.add_comparisons,
        changes.add_growth,
        ranking.add_shares,
        ranking.add_value_filters,
        reconcile.add_missing,
        reconcile.add_joins,
    ):
        add(builder, tables)
    return builder.lines


def main() -> int:
    """Build, validate and write the dev set."""
    lines = build()
    problems = validate_lines(lines, SETS_DIR)
    if problems:
        raise SystemExit("\n".join(problems))
    with DEV_SET.open("w", encoding="utf-8") as handle:
        for line in lines:
            handle.write(json.dumps(line, ensure_ascii=False) + "\n")
    print(f"wrote {len(lines)} questions to {DEV_SET}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
