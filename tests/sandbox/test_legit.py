"""Legitimate analyses give, in the sandbox, exactly what the same code gives when run directly.

Each case runs twice: through ``Sandbox.run_frames`` (policy, RestrictedPython, wrapped helpers, a
forked child, JSON) and in this process with plain ``exec``, the real ``pandas`` / ``numpy`` / ``math``
/ ``statistics`` / ``datetime`` modules bound to the same names and fresh copies of the same tables.
The direct ``result`` goes through the same ``payload`` conversion and a JSON round trip; then the two
results (floats within a tolerance) and what the code printed must agree.
"""

from __future__ import annotations

import contextlib
import datetime
import io
import json
import math
import statistics
import textwrap
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
import pytest

from nexus.sandbox.results import payload
from nexus.sandbox.service import Sandbox
from tests.sandbox.conftest import customers, sales

REL_TOL = 1e-9
ABS_TOL = 1e-12


@dataclass(frozen=True)
class Case:
    """One analysis: its id, its code, the kind of result it leaves and whether it uses both tables."""

    id: str
    code: str
    kind: str
    both: bool = False
    prints: bool = False


def case(id: str, code: str, kind: str, *, both: bool = False, prints: bool = False) -> Case:
    return Case(id, textwrap.dedent(code).strip() + "\n", kind, both, prints)


CASES = [
    # -- group-by and aggregation ---------------------------------------------------------------------
    case(
        "groupby-several-aggregates",
        """
        result = df.groupby('region')['quantity'].agg(['sum', 'mean', 'count', 'median', 'std', 'min', 'max'])
        result = result.reset_index()
        """,
        "table",
    ),
    case(
        "groupby-two-keys-dict-agg",
        "result = df.groupby(['region', 'product']).agg({'quantity': 'sum', 'price': ['mean', 'max']})",
        "table",
    ),
    case(
        "named-aggregation",
        """
        result = (
            df.groupby(['region', 'product'])
            .agg(
                total=('quantity', 'sum'),
                orders=('order_id', 'count'),
                avg_price=('price', 'mean'),
                top_price=pd.NamedAgg(column='price', aggfunc='max'),
            )
            .round(3)
            .reset_index()
        )
        """,
        "table",
    ),
    case(
        "groupby-transform-share",
        """
        d = df.assign(revenue=df['quantity'] * df['price'])
        d['share'] = d['revenue'] / d.groupby('region')['revenue'].transform('sum')
        result = d[['order_id', 'region', 'revenue', 'share']].sort_values('share', ascending=False).head(15)
        """,
        "table",
    ),
    # -- joins and reshaping ---------------------------------------------------------------------------
    case(
        "merge-sales-customers",
        """
        sales = tables['sales']
        people = tables['customers']
        m = sales.merge(people, on='region', how='left', validate='many_to_one')
        m['revenue'] = m['quantity'] * m['price']
        by = m.groupby(['region', 'manager']).agg(revenue=('revenue', 'sum'), target=('target', 'first'))
        by['attainment'] = by['revenue'] / by['target']
        result = by.sort_values('attainment', ascending=False).reset_index()
        """,
        "table",
        both=True,
    ),
    case(
        "merge-indicator-and-concat",
        """
        people = pd.concat([tables['customers'], pd.DataFrame({'region': ['Central'], 'manager': ['Alan'],
                                                              'target': [1000.0]})], ignore_index=True)
        m = pd.merge(people, tables['sales'][['region', 'quantity']], on='region', how='left', indicator=True)
        result = m.groupby(['region', '_merge'], observed=True)['quantity'].sum(min_count=1).reset_index()
        """,
        "table",
        both=True,
    ),
    case(
        "pivot-table",
        """
        result = df.pivot_table(
            index='region', columns='product', values='quantity', aggfunc='sum', fill_value=0, margins=True
        )
        """,
        "table",
    ),
    case(
        "crosstab-normalized",
        "result = pd.crosstab(df['region'], df['product'], normalize='index').round(4)",
        "table",
    ),
    case(
        "melt-long",
        """
        result = df.melt(id_vars=['order_id', 'region'], value_vars=['quantity', 'price'], var_name='measure')
        result = result.sort_values(['order_id', 'measure']).head(40)
        """,
        "table",
    ),
    case(
        "get-dummies",
        "result = pd.get_dummies(df[['region', 'product']], dtype=int).sum().sort_index()",
        "table",
    ),
    # -- statistics ------------------------------------------------------------------------------------
    case("describe", "result = df.describe()", "table"),
    case(
        "describe-include-all", "result = df[['region', 'product', 'price']].describe(include='all')", "table"
    ),
    case("corr-pearson", "result = df[['quantity', 'price', 'discount']].corr()", "table"),
    case("corr-spearman", "result = df.select_dtypes('number').corr(method='spearman')", "table"),
    case(
        "quantiles",
        """
        overall = df['price'].quantile([0.05, 0.25, 0.5, 0.75, 0.95])
        by_region = df.groupby('region')['price'].quantile(0.9)
        result = {'overall': overall.to_dict(), 'p90_by_region': by_region.round(4).to_dict()}
        """,
        "dict",
    ),
    case(
        "value-counts-normalize",
        "result = df['product'].value_counts(normalize=True).sort_index()",
        "table",
    ),
    case(
        "zscore-outliers",
        """
        z = (df['price'] - df['price'].mean()) / df['price'].std()
        result = df.loc[z.abs() > 1.5, ['order_id', 'region', 'price']].assign(z=z.round(3))
        """,
        "table",
    ),
    case(
        "rank-within-group",
        """
        d = df.assign(r=df.groupby('region')['price'].rank(ascending=False, method='dense'))
        result = d.loc[d['r'] <= 3, ['region', 'order_id', 'price', 'r']].sort_values(['region', 'r'])
        """,
        "table",
    ),
    case(
        "cut-bins",
        """
        bands = pd.cut(df['price'], bins=[0, 20, 25, 30, 100], labels=['low', 'mid', 'high', 'top'])
        result = df.groupby(bands, observed=False)['quantity'].agg(['count', 'sum'])
        """,
        "table",
    ),
    case(
        "qcut-quartiles",
        """
        quartile = pd.qcut(df['price'], q=4)
        result = df.groupby(quartile, observed=True)['quantity'].mean().round(3)
        """,
        "table",
    ),
    # -- time series -----------------------------------------------------------------------------------
    case(
        "rolling-window",
        """
        daily = df.set_index('day')['quantity']
        result = pd.DataFrame({'ma7': daily.rolling(7, min_periods=1).mean(),
                               'sum14d': daily.rolling('14D').sum()})
        """,
        "table",
    ),
    case(
        "expanding-and-ewm",
        """
        s = df.set_index('day')['price']
        result = pd.DataFrame({'running_max': s.expanding().max(), 'running_mean': s.expanding().mean(),
                               'ewm': s.ewm(span=10, adjust=False).mean()}).tail(30)
        """,
        "table",
    ),
    case(
        "resample-month",
        """
        how = {'quantity': 'sum', 'price': 'mean', 'order_id': 'count'}
        monthly = df.set_index('day').resample('ME').agg(how)
        monthly['growth'] = monthly['quantity'].pct_change()
        result = monthly
        """,
        "table",
    ),
    case(
        "cumsum-pct-change",
        """
        d = df.sort_values('day')
        result = pd.DataFrame({'day': d['day'], 'cum_qty': d['quantity'].cumsum(),
                               'pct': d['price'].pct_change().round(6), 'diff': d['price'].diff()})
        result = result.reset_index(drop=True).head(60)
        """,
        "table",
    ),
    case(
        "dt-month-and-period",
        """
        by_month = df.groupby(df['day'].dt.month)['quantity'].sum()
        by_period = df.groupby(df['day'].dt.to_period('M'))['price'].mean().round(4)
        weekday = df['day'].dt.day_name().value_counts().sort_index()
        result = {'by_month': by_month.to_dict(), 'by_period': by_period.to_dict(),
                  'weekday': weekday.to_dict()}
        """,
        "dict",
    ),
    case(
        "tz-localize-convert",
        """
        utc = df['day'].dt.tz_localize('UTC')
        result = pd.DataFrame({'utc': utc, 'new_york': utc.dt.tz_convert('America/New_York'),
                               'paris_hour': utc.dt.tz_convert('Europe/Paris').dt.hour}).head(10)
        """,
        "table",
    ),
    case(
        "date-arithmetic-timedelta",
        """
        import datetime
        last = df['day'].max()
        cutoff = last - datetime.timedelta(days=30)
        recent = df[df['day'] > cutoff]
        start = datetime.datetime(2023, 2, 1)
        result = {
            'cutoff': cutoff,
            'recent_orders': len(recent),
            'span_days': (recent['day'].max() - recent['day'].min()).days,
            'since_feb': int((df['day'] >= start).sum()),
            'due': (df['day'] + pd.Timedelta(days=14)).max(),
            'gap': last - df['day'].min(),
            'first_date': df['day'].min().date(),
        }
        """,
        "dict",
    ),
    # -- cleaning and text -----------------------------------------------------------------------------
    case(
        "fillna-dropna-interpolate",
        """
        result = {
            'missing': int(df['discount'].isna().sum()),
            'filled_sum': df['discount'].fillna(df['discount'].median()).sum(),
            'rows_after_dropna': len(df.dropna()),
            'interpolated': df['discount'].interpolate().round(4).tolist()[:25],
            'ffill': df['discount'].ffill().tail(5).tolist(),
        }
        """,
        "dict",
    ),
    case(
        "string-methods",
        """
        upper = df['region'].str.upper()
        result = pd.DataFrame({
            'upper': upper,
            'has_th': upper.str.contains('TH'),
            'length': df['product'].str.len(),
            'initials': df['region'].str[0] + df['product'].str[:2].str.lower(),
            'starts_g': df['product'].str.startswith('G'),
        }).head(20)
        """,
        "table",
    ),
    # -- numpy, math, statistics -----------------------------------------------------------------------
    case(
        "np-percentile-array",
        "result = np.percentile(df['price'].to_numpy(), [10, 25, 50, 75, 90])",
        "list",
    ),
    case(
        "np-polyfit-trend",
        """
        x = np.arange(len(df))
        slope, intercept = np.polyfit(x, df['price'].to_numpy(), 1)
        fitted = np.polyval([slope, intercept], x)
        rmse = float(np.sqrt(np.mean((df['price'] - fitted) ** 2)))
        result = {'slope': slope, 'intercept': intercept, 'rmse': rmse}
        """,
        "dict",
    ),
    case(
        "np-where-log",
        """
        result = df.assign(
            size=np.where(df['quantity'] >= 10, 'large', 'small'),
            log_price=np.log(df['price']),
            clipped=np.clip(df['quantity'], 5, 15),
        )[['order_id', 'size', 'log_price', 'clipped']].head(25)
        """,
        "table",
    ),
    case(
        "np-2d-array",
        "result = df[['quantity', 'price']].to_numpy()[:12] * np.array([1, 0.5])",
        "table",
    ),
    case(
        "math-and-statistics",
        """
        import math
        from statistics import mean, median, stdev
        prices = df['price'].tolist()
        result = {
            'mean': mean(prices),
            'median': median(prices),
            'stdev': stdev(prices),
            'geometric_mean': statistics.geometric_mean(prices),
            'quartiles': statistics.quantiles(prices, n=4),
            'correlation': statistics.correlation(prices, df['quantity'].astype(float).tolist()),
            'sqrt_total': math.sqrt(sum(prices)),
            'log10_max': math.log10(max(prices)),
            'floor_min': math.floor(min(prices)),
            'combinations': math.comb(len(prices), 2),
            'isclose': math.isclose(sum(prices), math.fsum(prices), rel_tol=1e-9),
        }
        """,
        "dict",
    ),
    # -- plain Python ----------------------------------------------------------------------------------
    case(
        "apply-map-lambdas",
        """
        codes = {'North': 'N', 'South': 'S', 'East': 'E', 'West': 'W'}
        result = pd.DataFrame({
            'code': df['region'].map(codes),
            'gross': df['price'].apply(lambda p: round(p * 1.2, 2)),
            'line': df.apply(lambda row: row['quantity'] * row['price'], axis=1),
            'bucket': df['quantity'].map(lambda q: 'many' if q > 10 else 'few'),
        }).head(30)
        """,
        "table",
    ),
    case(
        "user-defined-functions",
        """
        def band(quantity, low=5, high=12):
            if quantity < low:
                return 'low'
            elif quantity <= high:
                return 'medium'
            return 'high'

        def summary(group):
            return pd.Series({'orders': len(group), 'revenue': (group['quantity'] * group['price']).sum()})

        d = df.assign(band=df['quantity'].map(band))
        result = d.groupby('band')[['quantity', 'price']].apply(summary).reset_index()
        """,
        "table",
    ),
    case(
        "comprehensions-and-loops",
        """
        regions = sorted(df['region'].unique())
        totals = {r: int(df.loc[df['region'] == r, 'quantity'].sum()) for r in regions}
        average = {product: round(group['price'].mean(), 2) for product, group in df.groupby('product')}
        running = 0
        for q in df['quantity']:
            running += q
        pairs = [(r, p) for r in regions for p in sorted(average) if totals[r] > 250]
        result = {'totals': totals, 'average': average, 'running': running, 'pairs': pairs,
                  'even_ids': [i for i in df['order_id'] if i % 40 == 0]}
        """,
        "dict",
    ),
    case(
        "list-of-records",
        """
        top = df.nlargest(5, 'price')[['order_id', 'region', 'price', 'day']]
        result = top.to_dict(orient='records')
        """,
        "list",
    ),
    case(
        "list-result",
        "result = [{'region': r, 'n': int((df['region'] == r).sum())} for r in sorted(set(df['region']))]",
        "list",
    ),
    case("scalar-int", "result = df['quantity'].sum()", "scalar"),
    case("scalar-float", "result = (df['quantity'] * df['price']).sum() / df['quantity'].sum()", "scalar"),
    case("scalar-text", "result = '%.2f per unit' % df['price'].mean()", "scalar"),
    case("series-result", "result = df.groupby('product')['quantity'].sum().sort_values()", "table"),
    case("tuple-result", "result = df.shape", "list"),
    case(
        "try-except-and-sorting",
        """
        ratios = []
        for name, group in df.groupby('region'):
            try:
                ratios.append((name, group['quantity'].sum() / group['discount'].count()))
            except ZeroDivisionError:
                ratios.append((name, None))
        result = sorted(ratios, key=lambda item: item[1], reverse=True)
        """,
        "list",
    ),
    case(
        "seeded-random-sample",
        """
        rng = np.random.default_rng(42)
        boot = [df['price'].sample(frac=1, replace=True, random_state=i).mean() for i in range(20)]
        result = {'noise': rng.normal(size=4).round(6).tolist(), 'boot_mean': statistics.mean(boot),
                  'sample_ids': df.sample(n=5, random_state=3)['order_id'].tolist()}
        """,
        "dict",
    ),
    # -- printing --------------------------------------------------------------------------------------
    case(
        "print-frames-and-fstrings",
        """
        print(df.head())
        print(df.dtypes)
        print(f"orders={len(df):,} mean price={df['price'].mean():.2f} share={0.1234:.1%}")
        for region, group in df.groupby('region'):
            print(region, len(group), sep=': ')
        print('no newline', end='|')
        print()
        result = df.shape
        """,
        "list",
        prints=True,
    ),
    case(
        "print-describe-and-info",
        """
        print(df.describe().round(2))
        df.info()
        result = None
        """,
        "none",
        prints=True,
    ),
    case(
        "print-multi-table",
        """
        for name in sorted(tables):
            print(name, tables[name].shape)
        print(tables['customers'].set_index('region')['target'].sort_values())
        result = tables['customers']['target'].sum()
        """,
        "scalar",
        both=True,
        prints=True,
    ),
]


def frames(both: bool) -> dict[str, pd.DataFrame]:
    """Return fresh copies of the tables a case uses."""
    return {"sales": sales(), "customers": customers()} if both else {"sales": sales()}


def run_directly(code: str, tables: dict[str, pd.DataFrame], max_rows: int) -> tuple[dict[str, Any], str]:
    """Run the code unsandboxed with the real modules; return its payload (JSON round-tripped) and stdout."""
    scope: dict[str, Any] = {
        "pd": pd,
        "np": np,
        "math": math,
        "statistics": statistics,
        "datetime": datetime,
        "tables": dict(tables),
        "result": None,
    }
    if len(tables) == 1:
        scope["df"] = next(iter(tables.values()))
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        exec(compile(code, "<direct>", "exec"), scope)  # noqa: S102 - our own test code
    converted = payload(scope["result"], max_rows)
    return json.loads(json.dumps(converted, allow_nan=False, default=str)), out.getvalue()


def assert_same(sandboxed: Any, direct: Any, where: str = "result") -> None:
    """Assert two JSON-like values are equal, floats within a tolerance."""
    if isinstance(direct, float) or isinstance(sandboxed, float):
        assert isinstance(sandboxed, (int, float)) and isinstance(direct, (int, float)), (
            f"{where}: {sandboxed!r} != {direct!r}"
        )
        assert type(sandboxed) is type(direct), f"{where}: {sandboxed!r} != {direct!r} (types differ)"
        assert math.isclose(sandboxed, direct, rel_tol=REL_TOL, abs_tol=ABS_TOL), (
            f"{where}: {sandboxed!r} != {direct!r}"
        )
    elif isinstance(direct, dict):
        assert isinstance(sandboxed, dict), f"{where}: {sandboxed!r} != {direct!r}"
        assert list(sandboxed) == list(direct), f"{where}: keys {list(sandboxed)} != {list(direct)}"
        for key in direct:
            assert_same(sandboxed[key], direct[key], f"{where}[{key!r}]")
    elif isinstance(direct, list):
        assert isinstance(sandboxed, list), f"{where}: {sandboxed!r} != {direct!r}"
        assert len(sandboxed) == len(direct), f"{where}: {len(sandboxed)} items != {len(direct)}"
        for index, (left, right) in enumerate(zip(sandboxed, direct, strict=True)):
            assert_same(left, right, f"{where}[{index}]")
    else:
        assert type(sandboxed) is type(direct) and sandboxed == direct, (
            f"{where}: {sandboxed!r} != {direct!r}"
        )


def test_the_table_is_large_enough() -> None:
    ids = [c.id for c in CASES]
    assert len(ids) >= 35
    assert len(set(ids)) == len(ids)
    assert {c.kind for c in CASES} == {"table", "dict", "list", "scalar", "none"}


def check(sandbox: Sandbox, analysis: Case) -> None:
    """Run the analysis both ways and compare what it left in ``result`` and what it printed."""
    max_rows = sandbox.settings.sandbox_max_result_rows
    run = sandbox.run_frames(analysis.code, frames(analysis.both))
    expected, printed = run_directly(analysis.code, frames(analysis.both), max_rows)

    assert run.result["kind"] == analysis.kind
    assert expected["kind"] == analysis.kind
    if analysis.kind == "table":
        assert run.result["row_count"] > 0
    assert_same(run.result, expected)
    assert not run.stdout_truncated
    assert run.stdout == printed  # nothing printed (not even a warning) unless the direct run printed it
    assert bool(printed) == analysis.prints


@pytest.mark.parametrize("analysis", CASES, ids=[c.id for c in CASES])
def test_legitimate_analysis_matches_direct_run(sandbox: Sandbox, analysis: Case) -> None:
    check(sandbox, analysis)


INTERPRETER_INTERNALS = [
    pytest.param(
        case("timestamp-strftime", "result = df['day'].max().strftime('%d %b %Y')", "scalar"),
        id="timestamp-strftime",
    ),
    pytest.param(
        case("date-strftime", "result = datetime.date(2023, 3, 1).strftime('%Y-%m')", "scalar"),
        id="date-strftime",
    ),
    pytest.param(
        case("fstring-date-spec", "result = f\"{df['day'].min():%Y-%m-%d}\"", "scalar"),
        id="fstring-date-spec",
    ),
    pytest.param(
        case("date-today", "result = datetime.date.today().year >= 2024", "scalar"),
        id="date-today",
    ),
    pytest.param(
        case("timetuple", "result = df['day'].max().timetuple().tm_yday", "scalar"),
        id="timetuple",
    ),
    pytest.param(
        case("itertuples-named", "result = [row.price for row in df.head(5).itertuples()]", "list"),
        id="itertuples-named",
    ),
]


@pytest.mark.parametrize("analysis", INTERPRETER_INTERNALS)
def test_the_interpreter_may_import_time_and_build_named_tuples(sandbox: Sandbox, analysis: Case) -> None:
    """The interpreter's own imports (``time`` for strftime) and namedtuples (``itertuples()``) work."""
    check(sandbox, analysis)
