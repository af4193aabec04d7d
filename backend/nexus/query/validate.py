"""Check a caller's SQL before it runs, and point its table names at the catalog's storage.

The SQL is parsed with sqlglot (DuckDB dialect) and judged on the tree, never on the text:

    size, emptiness      before anything is parsed
    one statement        counted on tokens, so a ``;`` inside a string or a comment is no separator
    a query              SELECT, WITH ... SELECT, FROM-first, set operations, VALUES; nothing else
                         anywhere inside it (no DDL, DML, COPY, ATTACH, PRAGMA, SET, ...)
    reads only tables    every FROM item is a table name, a subquery, VALUES or UNNEST: no table
                         functions, and no scalar function that reaches files, settings or the system
    from the catalog     every table is a CTE in scope or a catalog table named without qualifier;
                         every column exists (with did-you-mean suggestions when it does not)

What runs is then *generated* from the checked tree, with each catalog table rewritten to
``"d1"."main"."table" AS friendly_name``: the caller's text never reaches DuckDB, so a comment or a
string that sqlglot and DuckDB would read differently cannot smuggle anything in. The executor adds
the runtime walls (read-only attachments, no external access, locked configuration, limits).

The column check exists to give useful messages, not for safety: where it cannot know a source's
columns (``SELECT *`` subqueries, PIVOT, UNNEST) it lets the name through and DuckDB decides.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

from sqlglot import exp
from sqlglot.dialects.duckdb import DuckDB
from sqlglot.errors import ParseError, TokenError
from sqlglot.optimizer.scope import Scope, traverse_scope
from sqlglot.tokenizer_core import Token, TokenType

from nexus.errors import UnprocessableContent
from nexus.query.catalog import Catalog, CatalogTable

_DIALECT = DuckDB()

_QUERY_STARTS = frozenset(
    {TokenType.SELECT, TokenType.WITH, TokenType.FROM, TokenType.L_PAREN, TokenType.VALUES}
)

# Statements, wherever they appear in the tree (sqlglot parses what it does not know as Command).
_STATEMENTS: tuple[type[exp.Expr], ...] = tuple(
    getattr(exp, name)
    for name in (
        "DDL", "DML", "Command", "Create", "Drop", "Insert", "Update", "Delete", "Merge", "Alter",
        "Copy", "Attach", "Detach", "Install", "Pragma", "Set", "Use", "Transaction", "Commit",
        "Rollback", "Describe", "Show", "Summarize", "Cache", "Uncache", "Refresh", "TruncateTable",
        "Analyze", "LoadData", "Grant", "Revoke", "Comment", "Kill", "Export", "Declare", "Execute",
    )
    if hasattr(exp, name)
)  # fmt: skip

# Scalar functions that reach outside the data: files, environment, settings, catalogs, SQL text
# execution, sequences, logs, sleeping. DuckDB's file functions also fail at runtime with external
# access disabled; this is the first wall, with a message that says why.
_DENIED_FUNCTIONS = frozenset(
    {
        "read_text", "read_blob", "glob", "getenv", "current_setting", "getvariable", "current_query",
        "query", "query_table", "sql_auto_complete", "which_secret", "load", "install", "sniff_csv",
        "json_execute_serialized_sql", "json_deserialize_sql", "json_serialize_sql",
        "json_serialize_plan", "pg_get_viewdef", "pg_get_constraintdef", "sleep_ms", "pg_sleep",
        "nextval", "currval", "setval", "write_log", "checkpoint", "force_checkpoint",
        "import_database", "copy_database", "current_database", "current_catalog", "current_schema",
        "current_schemas", "in_search_path", "user_agent", "version", "platform", "database_list",
        "database_size", "storage_info", "table_info", "show", "show_tables", "show_databases",
        "enable_logging", "disable_logging", "truncate_duckdb_logs", "parse_duckdb_log_message",
        "test_all_types", "test_vector_types", "summary", "seq_scan", "histogram_values",
    }
)  # fmt: skip
_DENIED_PREFIXES = (
    "duckdb_", "pragma_", "read_", "parquet_", "sqlite_", "postgres_", "mysql_", "iceberg_",
    "delta_", "ducklake_", "http", "s3_", "st_read", "enable_", "disable_", "__",
)  # fmt: skip
_DENIED_SUFFIXES = ("_scan", "_metadata", "_secret", "_secrets", "_extension", "_extensions")
# Functions that build a value of any size from a number. DuckDB's memory limit does not cover
# those allocations and an interrupt only lands once they finish, so no runtime limit stops them.
_UNBOUNDED_FUNCTIONS = frozenset({"range", "generate_series", "list_resize", "array_resize"})


class SQLRejected(UnprocessableContent):
    """The SQL is not one the platform will run; ``rule`` says which check refused it."""

    type_slug = "sql-rejected"


@dataclass(frozen=True)
class ValidatedSQL:
    """A query that passed every check, in the caller's words and in the connection's."""

    sql: str
    """The caller's query, normalised (DuckDB dialect), with the friendly table names."""
    executable: str
    """The same query with catalog tables rewritten to their storage names: what runs."""
    tables: tuple[str, ...]
    """Friendly names of the catalog tables it reads, in order of first mention."""
    expression: exp.Expression
    """The checked tree, friendly names (for callers that inspect the query further)."""


def validate_sql(sql: str, catalog: Catalog, *, max_chars: int) -> ValidatedSQL:
    """Check ``sql`` against every rule and return it ready to run on ``catalog``'s connection."""
    if len(sql) > max_chars:
        raise SQLRejected(
            f"The SQL is {len(sql)} characters long; the limit is {max_chars} (NEXUS_MAX_SQL_CHARS).",
            rule="too-long",
        )
    tree = _parse(_statement(sql), sql)
    _check_kind(tree)
    _check_sources(tree)
    _check_functions(tree)
    read = _resolve_tables(tree, catalog)
    _check_columns(tree, read)
    friendly = tree.copy()
    _rewrite(read)
    assert isinstance(friendly, exp.Expression)
    return ValidatedSQL(
        sql=friendly.sql(dialect="duckdb"),
        executable=tree.sql(dialect="duckdb", comments=False),
        tables=tuple(dict.fromkeys(table.name for _, table in read)),
        expression=friendly,
    )


def _statement(sql: str) -> list[Token]:
    """Return the tokens of the one statement in ``sql`` (trailing semicolons allowed)."""
    try:
        tokens = _DIALECT.tokenize(sql)
    except TokenError:
        raise SQLRejected(
            "The SQL could not be read: look for an unclosed quote or comment.", rule="parse-error"
        ) from None
    statements: list[list[Token]] = [[]]
    for token in tokens:
        if token.token_type is TokenType.SEMICOLON:
            statements.append([])
        else:
            statements[-1].append(token)
    statements = [statement for statement in statements if statement]
    if not statements:
        raise SQLRejected("The SQL is empty: write one SELECT query.", rule="empty")
    if len(statements) > 1:
        raise SQLRejected(
            f"Send exactly one statement; this SQL holds {len(statements)} (separated by `;`).",
            rule="multiple-statements",
        )
    first = statements[0][0]
    if first.token_type not in _QUERY_STARTS:
        raise SQLRejected(
            f"Only queries can run here (SELECT, WITH ... SELECT, FROM ...); "
            f"`{first.text.upper()}` statements are not allowed.",
            rule="not-a-query",
        )
    return statements[0]


def _parse(tokens: list[Token], sql: str) -> exp.Expression:
    try:
        parsed = _DIALECT.parser().parse(tokens, sql)
    except ParseError as error:
        raise SQLRejected(_parse_message(error), rule="parse-error") from None
    if len(parsed) != 1 or not isinstance(parsed[0], exp.Expression):
        raise SQLRejected("Send exactly one statement.", rule="multiple-statements")
    return parsed[0]


def _parse_message(error: ParseError) -> str:
    if not error.errors:
        return "The SQL could not be parsed."
    first = error.errors[0]
    token = r"<Token token_type: [^,]+, text: ([^,]*),[^>]*>"
    description = re.sub(token, r"`\1`", str(first["description"]))
    near = str(first.get("highlight") or "").strip()
    where = f" near `{near}`" if near else ""
    return (
        f"The SQL could not be parsed{where} (line {first.get('line')}, column {first.get('col')}): "
        f"{description}."
    )


def _check_kind(tree: exp.Expression) -> None:
    if not isinstance(tree, exp.Query | exp.Values):
        raise SQLRejected(
            f"Only queries can run here; this is a {tree.key.upper()} statement.", rule="not-a-query"
        )
    for node in tree.walk():
        if isinstance(node, _STATEMENTS):
            raise SQLRejected(
                f"Only reading is allowed: a query may not contain a {node.key.upper()} statement.",
                rule="forbidden-statement",
            )


def _check_sources(tree: exp.Expression) -> None:
    """Refuse table functions: every FROM item is a name, a subquery, VALUES or UNNEST."""
    for clause in tree.find_all(exp.From, exp.Join):
        source = clause.this
        if isinstance(source, exp.Lateral):
            source = source.this
        if not isinstance(source, exp.Table | exp.Subquery | exp.Values | exp.Unnest):
            raise _table_function(source)
    for table in tree.find_all(exp.Table):
        if not isinstance(table.this, exp.Identifier):
            raise _table_function(table.this)


def _table_function(source: exp.Expr | None) -> SQLRejected:
    name = _function_name(source) if isinstance(source, exp.Func) else None
    what = f"`{name}`" if name else "a table function"
    return SQLRejected(
        f"Queries read the dataset tables only; {what} cannot be used in FROM. "
        "Name a table, a subquery, VALUES or UNNEST instead.",
        rule="table-function",
        function=name,
    )


def _function_name(node: exp.Func) -> str:
    """Return the function's name as the caller most likely wrote it."""
    if isinstance(node, exp.Anonymous):
        return node.name.casefold()
    if isinstance(node, exp.GenerateSeries) and node.args.get("is_end_exclusive"):
        return "range"
    return node.sql_name().casefold()


def _check_functions(tree: exp.Expression) -> None:
    for node in tree.find_all(exp.Func):
        names = {node.name} if isinstance(node, exp.Anonymous) else set(node.sql_names())
        for name in (name.casefold() for name in names):
            if name in _UNBOUNDED_FUNCTIONS:
                reason = "builds values of any size, which no memory limit can stop"
            elif (
                name in _DENIED_FUNCTIONS
                or name.startswith(_DENIED_PREFIXES)
                or name.endswith(_DENIED_SUFFIXES)
            ):
                reason = "reaches outside the datasets"
            else:
                continue
            written = _function_name(node)
            raise SQLRejected(
                f"The function `{written}` {reason}; it is not allowed in queries.",
                rule="forbidden-function",
                function=written,
            )


def _resolve_tables(tree: exp.Expression, catalog: Catalog) -> list[tuple[exp.Table, CatalogTable]]:
    """Return each catalog table reference with its table; CTE references are left alone."""
    read: list[tuple[exp.Table, CatalogTable]] = []
    for node in tree.find_all(exp.Table):
        qualified = ".".join(part.name for part in node.parts)
        if node.args.get("db") or node.args.get("catalog"):
            raise _unknown_table(qualified, catalog, qualified=True)
        if _cte_in_scope(node, node.name):
            continue
        table = catalog.table(node.name)
        if table is None:
            raise _unknown_table(node.name, catalog, qualified=False)
        read.append((node, table))
    return read


def _cte_in_scope(node: exp.Expr, name: str) -> bool:
    """Return whether a CTE called ``name`` is visible where ``node`` stands.

    Stricter than it could be on purpose: a CTE sees the ones defined before it (and itself when
    RECURSIVE). A name that resolves nowhere would otherwise fall through to DuckDB's own catalog,
    whose system views (``duckdb_settings``, ``sqlite_master``...) are exactly what must not be read.
    """
    wanted = name.casefold()
    child, parent = node, node.parent
    while parent is not None:
        if isinstance(parent, exp.With):
            ctes = parent.expressions
            index = next((i for i, cte in enumerate(ctes) if cte is child), len(ctes))
            visible = ctes[: index + 1] if parent.args.get("recursive") else ctes[:index]
            if any(cte.alias.casefold() == wanted for cte in visible):
                return True
        else:
            with_ = parent.args.get("with_")
            if isinstance(with_, exp.With) and with_ is not child:
                if any(cte.alias.casefold() == wanted for cte in with_.expressions):
                    return True
        child, parent = parent, parent.parent
    return False


def _unknown_table(name: str, catalog: Catalog, *, qualified: bool) -> SQLRejected:
    available = [table.name for table in catalog.tables]
    suggestions = [] if qualified else _close(name, available)
    hint = f"; did you mean {_quoted(suggestions)}?" if suggestions else "."
    why = " Name tables without a database or schema." if qualified else ""
    return SQLRejected(
        f"No table `{name}` in the datasets of this query{hint}{why} "
        f"Tables you can read: {', '.join(available) or 'none'}.",
        rule="unknown-table",
        suggestions=suggestions,
        available_tables=available,
    )


def _close(word: str, candidates: Sequence[str]) -> list[str]:
    by_folded = {candidate.casefold(): candidate for candidate in candidates}
    matches = difflib.get_close_matches(word.casefold(), list(by_folded), n=3, cutoff=0.6)
    return [by_folded[match] for match in matches]


def _quoted(names: Sequence[str]) -> str:
    return " or ".join(f"`{name}`" for name in names)


@dataclass(frozen=True)
class _Source:
    """The columns one FROM item offers, as far as they can be known before running."""

    label: str
    columns: dict[str, str]  # folded name -> name as defined
    complete: bool

    def offers(self, name: str) -> bool:
        return not self.complete or name.casefold() in self.columns


def _check_columns(tree: exp.Expression, read: list[tuple[exp.Table, CatalogTable]]) -> None:
    catalog_tables = {id(node): table for node, table in read}
    params = _parameter_names(tree)
    for scope in traverse_scope(tree):
        if isinstance(scope.expression, exp.SetOperation):
            continue  # only ORDER BY of the combined result lives here; DuckDB checks it
        sources = list(_visible_sources(scope, catalog_tables))
        aliases = _aliases(scope) | params
        for node in scope.walk():
            if isinstance(node, exp.Column):
                _check_column(node, sources, aliases)


def _parameter_names(tree: exp.Expression) -> set[str]:
    """Return names bound by lambdas and list comprehensions (``x -> x + 1``, ``[y FOR y IN l]``)."""
    names: set[str] = set()
    for node in tree.find_all(exp.Lambda, exp.Comprehension):
        bound = node.expressions if isinstance(node, exp.Lambda) else [node.args.get("expression")]
        names.update(part.name.casefold() for part in bound if isinstance(part, exp.Expr))
    return names


def _aliases(scope: Scope | None) -> set[str]:
    """Return output aliases of the scope and the scopes around it (DuckDB lets WHERE use them)."""
    names: set[str] = set()
    while scope is not None:
        if isinstance(scope.expression, exp.Select):
            names.update(e.alias.casefold() for e in scope.expression.expressions if isinstance(e, exp.Alias))
        scope = scope.parent
    return names


def _visible_sources(
    scope: Scope | None, catalog_tables: dict[int, CatalogTable]
) -> Iterator[tuple[str, _Source]]:
    """Yield (name, columns) of the FROM items a column may name here, nearest scope first."""
    while scope is not None:
        for name, (node, source) in scope.selected_sources.items():
            yield name.casefold(), _source_columns(name, node, source, catalog_tables)
        scope = scope.parent


def _source_columns(
    name: str, node: exp.Expr, source: exp.Table | Scope, catalog_tables: dict[int, CatalogTable]
) -> _Source:
    outputs: list[str | None]
    if isinstance(source, exp.Table):
        table = catalog_tables.get(id(source))
        outputs = [column.name for column in table.columns] if table else [None]
        holder: exp.Expr | None = source
    else:
        expression = source.expression
        holder = expression if isinstance(expression, exp.UDTF) else expression.parent
        if isinstance(expression, exp.Query) and not any(
            isinstance(e, exp.Star) or (isinstance(e, exp.Column) and e.is_star) for e in expression.selects
        ):
            outputs = [e.output_name or None for e in expression.selects]
        else:
            outputs = [None]
    renamed = holder.alias_column_names if isinstance(holder, exp.Expr) else []
    outputs = [*renamed, *outputs[len(renamed) :]] if outputs != [None] else [*renamed, None]
    complete = None not in outputs and not node.args.get("pivots")
    columns = {output.casefold(): output for output in outputs if output}
    if isinstance(source, exp.Table) and complete:
        columns.setdefault("rowid", "rowid")
    return _Source(label=name, columns=columns, complete=complete)


def _check_column(column: exp.Column, sources: list[tuple[str, _Source]], aliases: set[str]) -> None:
    parts = [part.name for part in column.parts if isinstance(part, exp.Identifier)]
    if not parts:
        return
    first = parts[0].casefold()
    by_name = dict(reversed(sources))  # nearest scope wins
    if len(column.parts) > 1 and first in by_name:
        source = by_name[first]
        if len(parts) < 2 or source.offers(parts[1]):
            return
        raise _unknown_column(parts[1], [source], aliases, qualifier=parts[0])
    if first in aliases or first in by_name or any(source.offers(first) for _, source in sources):
        return  # a column, an alias, a lambda parameter, a whole row, or a struct and its fields
    if len(column.parts) > 1:
        raise _unknown_column(parts[0], [s for _, s in sources], aliases, qualifier=None, as_table=True)
    raise _unknown_column(parts[0], [s for _, s in sources], aliases, qualifier=None)


def _unknown_column(
    name: str,
    sources: Sequence[_Source],
    aliases: set[str],
    *,
    qualifier: str | None,
    as_table: bool = False,
) -> SQLRejected:
    if as_table:
        named = ", ".join(sorted({source.label for source in sources})) or "none"
        return SQLRejected(
            f"No table or alias `{name}` in this query; the tables it names are: {named}.",
            rule="unknown-table",
            suggestions=_close(name, [source.label for source in sources]),
        )
    known = [column for source in sources for column in source.columns.values() if column != "rowid"]
    suggestions = _close(name, list(dict.fromkeys([*known, *sorted(aliases)])))
    where = f"`{qualifier}`" if qualifier else "the tables you named"
    if suggestions:
        hint = f"; did you mean {_quoted(suggestions)}?"
    else:
        listed = "; ".join(
            f"{source.label}: {', '.join(c for c in source.columns.values() if c != 'rowid')}"
            for source in sources
            if source.columns
        )
        hint = f". Columns: {listed}." if listed else "."
    return SQLRejected(f"No column `{name}` in {where}{hint}", rule="unknown-column", suggestions=suggestions)


def _rewrite(read: list[tuple[exp.Table, CatalogTable]]) -> None:
    """Point each catalog table reference at its storage, keeping the name the query uses for it."""
    for node, table in read:
        written = node.name
        catalog, schema, name = table.storage
        node.set("this", exp.to_identifier(name, quoted=True))
        node.set("db", exp.to_identifier(schema, quoted=True))
        node.set("catalog", exp.to_identifier(catalog, quoted=True))
        alias = node.args.get("alias")
        if not isinstance(alias, exp.TableAlias):
            node.set("alias", exp.TableAlias(this=exp.to_identifier(written, quoted=True)))
        elif not alias.name:
            alias.set("this", exp.to_identifier(written, quoted=True))
