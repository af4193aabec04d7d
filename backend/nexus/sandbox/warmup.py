"""Typical analyses a worker runs once at start, so pandas' lazy imports happen before any child.

Children may not import anything, so whatever pandas and numpy import on first use of a feature has
to be imported here. Every analysis runs through the same compile and guards as submitted code.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from RestrictedPython.compile import compile_restricted_exec

from nexus.sandbox import guards, results

PROGRAMS = (
    "result = df.groupby('region')['amount'].agg(['sum', 'mean', 'count', 'median', 'std']).reset_index()",
    "result = df.pivot_table(index='region', columns='kind', values='amount', aggfunc='sum', fill_value=0)",
    "result = df.merge(df[['region']].drop_duplicates(), on='region', how='left').describe(include='all')",
    "result = df.select_dtypes('number').corr(method='pearson')",
    "result = df.select_dtypes('number').corr(method='spearman')",
    "result = df.set_index('day')['amount'].rolling(3, min_periods=1).mean()",
    "result = df.set_index('day')['amount'].resample('ME').sum()",
    "result = df['amount'].quantile([0.1, 0.5, 0.9])",
    "result = df['region'].value_counts(normalize=True)",
    "z = (df['amount'] - df['amount'].mean()) / df['amount'].std()\nresult = df[z.abs() > 1]",
    "d = pd.to_datetime(df['day'])\nresult = d.dt.to_period('M').astype(str).value_counts().sort_index()",
    "result = df.assign(month=df['day'].dt.month_name(), wd=df['day'].dt.day_name()).head()",
    "result = pd.crosstab(df['region'], df['kind'], margins=True)",
    "result = pd.cut(df['amount'], bins=3).value_counts()",
    "result = pd.qcut(df['amount'], q=2).astype(str).value_counts()",
    "result = df['region'].str.upper().str.contains('N').sum()",
    "result = df.melt(id_vars=['region'], value_vars=['amount']).head()",
    "result = df.sort_values('amount', ascending=False).head(3).to_dict(orient='records')",
    "result = np.percentile(df['amount'].to_numpy(), [25, 75]).tolist()",
    "result = df['amount'].expanding().max().pct_change().fillna(0).cumsum()",
    "result = df.groupby([df['day'].dt.year, 'region']).size().unstack(fill_value=0)",
    "result = df['amount'].ewm(span=3).mean().diff().shift(1)",
    "result = df.nlargest(2, 'amount')['amount'].rank(pct=True)",
    "print(df.head())\nprint(df.dtypes)\nprint(df.describe())\nresult = df.shape",
    "result = df.groupby('region').agg(total=('amount', 'sum'), n=('amount', 'size')).round(2)",
    "result = df['day'].dt.tz_localize('UTC').dt.tz_convert('Europe/Paris').dt.date.astype(str).head()",
    "result = statistics.mean(df['amount'].tolist()) + math.sqrt(4)",
    "result = np.polyfit(np.arange(len(df)), df['amount'].to_numpy(), 1).tolist()",
    "result = df.fillna({'amount': 0}).dropna().drop_duplicates().reset_index(drop=True)",
    "result = pd.concat([df.head(2), df.tail(2)])[['amount']].interpolate()",
    "result = df.groupby('region')['amount'].transform(lambda s: s - s.mean()).clip(-1, 1)",
    "result = df['amount'].apply(lambda x: x * 2).map(lambda x: round(x, 1)).sum()",
    "result = datetime.datetime(2024, 1, 1) + datetime.timedelta(days=3)",
    "result = df.sample(n=2, random_state=1).shape[0]",
    "result = np.random.default_rng(0).normal(size=3).round(2).tolist()",
)


def sample() -> pd.DataFrame:
    """Return a small table with text, numbers and dates."""
    return pd.DataFrame(
        {
            "region": ["North", "South", "North", "East", "South", "East"],
            "kind": ["a", "b", "a", "b", "a", "b"],
            "amount": [10.5, 20.0, 7.25, np.nan, 12.0, 30.5],
            "day": pd.to_datetime(
                ["2024-01-05", "2024-01-20", "2024-02-03", "2024-02-28", "2024-03-15", "2024-03-30"]
            ),
        }
    )


def run() -> None:
    """Run every warm-up analysis; failures are ignored (a missing feature fails later, clearly)."""
    modules = guards.helpers()
    for source in PROGRAMS:
        compiled = compile_restricted_exec(source, "<warmup>")
        if compiled.code is None:
            continue
        output = guards.Output(10_000)
        scope = guards.namespace({"sample": sample()}, output, modules)
        try:
            exec(compiled.code, scope)  # noqa: S102 - our own analyses
            results.payload(scope.get("result"), 100)
        except Exception:  # noqa: BLE001, S112 - a warm-up that fails only warms less
            continue
