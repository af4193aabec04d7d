"""Words: tokens, light stemming, synonyms and the vocabulary of question patterns.

Kept apart from the parser so that the words can grow (and be reviewed) without touching its logic.
"""

from __future__ import annotations

import re

TOKEN = re.compile(r"\d+(?:[.:/-]\d+)+|[a-z0-9]+(?:'[a-z]+)?|%")

# Phrases read as one word before anything else.
PHRASES = {
    "miles per gallon": "mpg",
    "adds up to": "total",
    "add up to": "total",
    "added up": "total",
    "in total": "total",
    "all together": "total",
    "on average": "average",
    "month on month": "month over month",
    "year on year": "year over year",
    "quarter on quarter": "quarter over quarter",
    "per cent": "percent",
}

# Words at the end of a file or table name that do not name it: 'invoices.csv', 'the customer list'.
TABLE_SUFFIXES = frozenset(
    {
        "csv",
        "tsv",
        "xlsx",
        "xls",
        "json",
        "jsonl",
        "parquet",
        "sqlite",
        "db",
        "data",
        "table",
        "file",
        "list",
        "sheet",
        "dataset",
    }
)

# Words that carry no meaning for a plan: they are never reported as unplaced.
STOP = frozenset(
    """a an the of in on at to for from by with and or is are was were be been being do does did done
    what whats what's which who whom whose how when where why there their them they it its it's this that
    these those me my we our us you your i show list give tell find get display return see report
    please can could would will shall should may might must let lets let's have has had having
    each every all any some per across over into than then as also just only about overall
    data dataset datasets table tables file files record records row rows entry entries value values
    number numbers amount much many figure figures so far ever both same s
    look like up out time times overall whole entire across broken down split group grouped based
    according listed having got go going""".split()
)

# Words that never name a column or a value on their own.
FUNCTION_WORDS = frozenset(
    """a an the of in on at to for from by with and or is are was were be been do does did what which who
    how when where why it its this that these those me my we our us you your i there their they them
    all any each every per than then as also just only so not no""".split()
)

# Verbs and fillers of questions about data, never reported as unplaced.
FILLER = frozenset(
    """bought buy buys buying purchased paid pay pays ordered placed made make makes happened recorded
    occurred registered come came comes went go generated brought bring got get received earned
    did does done have has had total overall altogether combined trading traded catalogue catalog
    results result recorded cast taking holders holder issued anything still data listed values cover
    covers covered span spans contain contains include includes ever sent""".split()
)

NUMBER_WORDS = {
    "one": 1,
    "two": 2,
    "three": 3,
    "four": 4,
    "five": 5,
    "six": 6,
    "seven": 7,
    "eight": 8,
    "nine": 9,
    "ten": 10,
    "eleven": 11,
    "twelve": 12,
    "fifteen": 15,
    "twenty": 20,
    "fifty": 50,
    "zero": 0,
    "hundred": 100,
}

MONTHS = {
    name: number
    for number, names in enumerate(
        [
            ("january", "jan"),
            ("february", "feb"),
            ("march", "mar"),
            ("april", "apr"),
            ("may",),
            ("june", "jun"),
            ("july", "jul"),
            ("august", "aug"),
            ("september", "sep", "sept"),
            ("october", "oct"),
            ("november", "nov"),
            ("december", "dec"),
        ],
        start=1,
    )
    for name in names
}

# Groups of words that mean the same thing in questions about data; a column named with one of them
# answers to all of them.
SYNONYM_GROUPS: tuple[frozenset[str], ...] = tuple(
    frozenset(group.split())
    for group in (
        "amount sales sale revenue revenues turnover income sold sell selling sells spend spent spending"
        " takings",
        "customer customers client clients buyer buyers account accounts shopper shoppers",
        "quantity qty units unit volume pieces",
        "product products item items sku article articles goods",
        "price prices cost costs fare fares expensive pricey pricier priciest cheap cheaper cheapest",
        "profit profits margin earnings gain",
        "country countries nation nations",
        "region regions area areas territory territories zone",
        "city cities town towns",
        "sex gender",
        "age ages old older younger aged oldest youngest",
        "length duration long longer longest short shorter shortest runtime milliseconds seconds minutes"
        " playing",
        "employee employees staff worker workers",
        "passenger passengers traveller travellers traveler travelers",
        "order orders purchase purchases",
        "category categories type types kind kinds segment segments",
        "date day dates days",
        "year years yr",
        "vote votes ballots voters voter",
        "state states",
        "county counties",
        "name names title",
        "weight weights heavy heavier heaviest lighter lightest",
        "horsepower hp power",
        "salary salaries wage wages pay",
        "temperature temp temperatures cold colder coldest hot hotter hottest warm warmer warmest",
        "rain rainfall precipitation",
        "cylinders cylinder",
        "team teams club clubs",
        "player players",
        "class pclass",
        "embarked port",
        "survived survival survivors survive lived",
        "income incomes",
        "balance balances",
        "rating ratings score scores",
        "invoice invoices bill bills",
        "payment payments paid",
        "track tracks song songs",
        "artist artists band bands",
        "album albums record",
        "genre genres",
        "origin origins",
        "mpg mileage economy",
        "volume volumes",
        "close closing",
        "open opening",
        "high highs highest",
        "low lows lowest",
    )
)

SYNONYMS: dict[str, frozenset[str]] = {}
for _group in SYNONYM_GROUPS:
    for _word in _group:
        SYNONYMS[_word] = SYNONYMS.get(_word, frozenset()) | _group

# Words that say which aggregate a question wants.
AGGREGATE_WORDS = {
    "total": "sum",
    "sum": "sum",
    "summed": "sum",
    "overall": "sum",
    "combined": "sum",
    "altogether": "sum",
    "average": "avg",
    "avg": "avg",
    "mean": "avg",
    "typical": "median",
    "median": "median",
    "middle": "median",
    "minimum": "min",
    "min": "min",
    "lowest": "min",
    "smallest": "min",
    "least": "min",
    "fewest": "min",
    "earliest": "min",
    "first": "min",
    "cheapest": "min",
    "worst": "min",
    "maximum": "max",
    "max": "max",
    "highest": "max",
    "largest": "max",
    "biggest": "max",
    "most": "max",
    "greatest": "max",
    "latest": "max",
    "last": "max",
    "best": "max",
    "top": "max",
    "priciest": "max",
    "longest": "max",
    "oldest": "max",
    "heaviest": "max",
    "coldest": "min",
    "hottest": "max",
    "warmest": "max",
    "shortest": "min",
    "peak": "max",
    "lightest": "min",
    "fastest": "max",
    "slowest": "min",
    "youngest": "min",
}

DISTINCT_WORDS = frozenset({"distinct", "unique", "different", "separate", "individual"})
COUNT_WORDS = frozenset({"count", "counts", "many", "number"})
SHARE_WORDS = frozenset({"percentage", "percent", "%", "share", "proportion", "fraction", "ratio", "pct"})
TOP_WORDS = frozenset(
    {"top", "highest", "best", "largest", "biggest", "most", "greatest", "leading", "max"}
    | {w for w, a in AGGREGATE_WORDS.items() if a == "max" and w.endswith("est")} - {"latest"}
)
BOTTOM_WORDS = frozenset(
    {"bottom", "lowest", "worst", "smallest", "least", "fewest", "min"}
    | {w for w, a in AGGREGATE_WORDS.items() if a == "min" and w.endswith("est")} - {"earliest"}
)
GROUP_MARKERS = frozenset({"by", "per", "each", "across"})
GRAIN_WORDS = {
    "daily": "day",
    "day": "day",
    "days": "day",
    "weekly": "week",
    "week": "week",
    "weeks": "week",
    "monthly": "month",
    "month": "month",
    "months": "month",
    "quarterly": "quarter",
    "quarter": "quarter",
    "quarters": "quarter",
    "yearly": "year",
    "annual": "year",
    "annually": "year",
    "year": "year",
    "years": "year",
}
MONEY_WORDS = frozenset(
    {
        "sell",
        "sold",
        "sales",
        "sale",
        "revenue",
        "revenues",
        "turnover",
        "spend",
        "spent",
        "earn",
        "earned",
        "income",
        "money",
        "takings",
    }
)
ADDITIVE_HINTS = frozenset(
    {
        "quantity",
        "qty",
        "units",
        "count",
        "number",
        "total",
        "sales",
        "revenue",
        "amount",
        "medals",
        "points",
        "votes",
        "population",
        "runs",
        "hits",
        "goals",
        "home",
        "sold",
        "volume",
        "rain",
        "rainfall",
        "precipitation",
        "precip",
        "deaths",
        "cases",
        "profit",
        "cost",
        "spend",
        "income",
        "visits",
        "clicks",
    }
)
COMPARATORS = {
    "over": ">",
    "above": ">",
    "exceeding": ">",
    "exceeds": ">",
    "more": ">",
    "greater": ">",
    "higher": ">",
    "older": ">",
    "bigger": ">",
    "larger": ">",
    "heavier": ">",
    "after": ">",
    "under": "<",
    "below": "<",
    "less": "<",
    "fewer": "<",
    "lower": "<",
    "younger": "<",
    "smaller": "<",
    "cheaper": "<",
    "lighter": "<",
    "before": "<",
    "least": ">=",
    "most": "<=",
}
MISSING_PHRASES = (
    "no matching",
    "without a matching",
    "without matching",
    "without any",
    "never been paid",
    "never paid",
    "never been sold",
    "never been bought",
    "never sold",
    "never bought",
    "never been ordered",
    "never ordered",
    "not been paid",
    "unpaid",
    "have no",
    "has no",
    "had no",
    "missing from",
    "missing in",
    "not in",
    "absent from",
    "not found in",
    "not present in",
    "don't appear in",
    "do not appear in",
    "doesn't appear in",
    "does not appear in",
    "never appear in",
    "aren't in",
    "are not in",
    "isn't in",
    "is not in",
    "without a match in",
    "with no match in",
    "no match in",
    "have no match in",
    "not listed in",
    "not recorded in",
    "lack a match in",
    "unmatched in",
    "but not in",
    "but not",
    "missing",
)
DIFFERENCE_WORDS = frozenset(
    {
        "differ",
        "differs",
        "different amounts",
        "mismatch",
        "mismatched",
        "mismatches",
        "discrepancy",
        "discrepancies",
    }
)


def stem(word: str) -> str:
    """Return a crude singular: enough to match 'customers' with 'customer' and 'cities' with 'city'."""
    if len(word) > 4 and word.endswith("ies"):
        return word[:-3] + "y"
    if len(word) > 4 and word.endswith(("sses", "ches", "shes", "xes")):
        return word[:-2]
    if len(word) > 3 and word.endswith("s") and not word.endswith(("ss", "us", "is")):
        return word[:-1]
    return word


def name_words(name: str) -> list[str]:
    """Split a column or table name into lower-case words: 'TotalAmount_usd' -> total amount usd."""
    spaced = re.sub(r"(?<=[a-z0-9])(?=[A-Z])", " ", name)
    return [w for w in re.split(r"[^a-z0-9]+", spaced.lower()) if w]


def same_word(a: str, b: str) -> bool:
    """Return whether two words name the same thing (equal, singular/plural, or synonyms)."""
    if a == b or stem(a) == stem(b):
        return True
    group = SYNONYMS.get(a) or SYNONYMS.get(stem(a))
    return bool(group and (b in group or stem(b) in group))
