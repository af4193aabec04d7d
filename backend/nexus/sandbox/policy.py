"""The AST policy: what model-written analysis code may say before anything runs it.

``check(source)`` parses the code with :mod:`ast` and refuses it, with a rule id and a line, when
it could reach outside the data it was given. The same name lists back the runtime guards in
:mod:`nexus.sandbox.guards`, so a name that slips past the parser (built from strings at run time)
is still refused when it is used.

Rules:

``syntax``           the code does not parse
``too-long``         the code is longer than ``NEXUS_SANDBOX_MAX_CODE_CHARS``
``import``           an import of anything but the provided helpers (``pandas``, ``numpy``, ``math``,
                     ``statistics``, ``datetime``, which bind the same safe wrappers)
``private-name``     a name or attribute that starts with ``_`` (dunders, name-mangled members)
``forbidden-name``   a builtin that evaluates code or reaches the interpreter (``eval``, ``open``,
                     ``getattr``, ``type``...)
``forbidden-attribute``  an attribute that reaches files, the network, code evaluation or frames
                     (``read_*``, most ``to_*``, ``query``, ``eval``, ``style``, ``plot``, ``tofile``,
                     ``gi_frame``, ``f_globals``...)
``string-format``    ``str.format`` / ``format_map`` (attribute walks inside format strings), and
                     f-strings whose format spec holds another field
``forbidden-string`` a string constant naming a forbidden attribute or a private name (pandas
                     dispatches ``df.apply("to_csv")`` and ``df.agg("eval")`` by name)
``pipe-string``      ``pipe`` called with a string target
``class``            class definitions (metaclasses, descriptors and ``__init_subclass__`` tricks)
``decorator``        decorators (calls smuggled in at definition time)
``generator``        ``yield``, ``async`` and ``await`` (generator and coroutine frames)
``try-star``         ``try ... except*`` (CVE-2025-22153)
``global``           ``global`` and ``nonlocal`` (reaching the runner's own names)
``match``            ``match`` statements (class patterns read attributes past the guards)
"""

from __future__ import annotations

import ast
import re
from dataclasses import dataclass

HELPER_MODULES = ("pandas", "numpy", "math", "statistics", "datetime")
"""Modules whose import binds the provided wrapper of the same name; nothing else can be imported."""

FORBIDDEN_NAMES = frozenset(
    {
        "eval",
        "exec",
        "compile",
        "open",
        "input",
        "globals",
        "locals",
        "vars",
        "dir",
        "getattr",
        "setattr",
        "delattr",
        "hasattr",
        "breakpoint",
        "help",
        "exit",
        "quit",
        "type",
        "object",
        "super",
        "memoryview",
        "bytearray",
        "classmethod",
        "staticmethod",
        "property",
        "format",
        "id",
        "copyright",
        "credits",
        "license",
        "reload",
        "printed",
    }
)
"""Builtins that run code, reach the interpreter or walk attributes by string."""

FRAME_ATTRIBUTES = frozenset(
    {
        "gi_frame",
        "gi_code",
        "gi_yieldfrom",
        "gi_running",
        "gi_suspended",
        "cr_frame",
        "cr_code",
        "cr_await",
        "cr_origin",
        "cr_running",
        "ag_frame",
        "ag_code",
        "ag_await",
        "ag_running",
        "f_globals",
        "f_locals",
        "f_builtins",
        "f_back",
        "f_code",
        "f_trace",
        "f_lasti",
        "f_lineno",
        "tb_frame",
        "tb_next",
        "tb_lasti",
        "tb_lineno",
        "co_code",
        "co_consts",
        "co_names",
        "func_globals",
        "func_code",
        "im_func",
        "im_self",
        "mro",
    }
)
"""Attributes of generators, coroutines, frames, tracebacks and code objects."""

IO_ATTRIBUTES = frozenset(
    {
        # pandas: code evaluation, presentation layers that import more, files and the network
        "query",
        "eval",
        "style",
        "plot",
        "hist",
        "boxplot",
        "backfill_frame",
        "io",
        "api",
        "options",
        "set_option",
        "reset_option",
        "option_context",
        # numpy: files, raw memory, foreign calls
        "load",
        "loads",
        "save",
        "savez",
        "savez_compressed",
        "savetxt",
        "loadtxt",
        "genfromtxt",
        "fromfile",
        "fromregex",
        "tofile",
        "dump",
        "dumps",
        "memmap",
        "ctypeslib",
        "ctypes",
        "lib",
        "testing",
        "f2py",
        "distutils",
        "show_config",
        "DataSource",
        # accessors of the interpreter reached through objects
        "format",
        "format_map",
        "builtins",
        "modules",
        "system",
        "popen",
    }
)

ALLOWED_TO = frozenset(
    {
        "to_dict",
        "to_list",
        "to_numpy",
        "to_frame",
        "to_datetime",
        "to_numeric",
        "to_timedelta",
        "to_period",
        "to_timestamp",
        "to_pydatetime",
        "to_series",
        "to_flat_index",
        "to_offset",
    }
)
"""``to_*`` methods that convert in memory; every other ``to_*`` (``to_csv``, ``to_pickle``...) writes."""

_READ_OR_WRITE = re.compile(r"^(read_|to_)")


def forbidden_attribute(name: str) -> bool:
    """Return whether an attribute name is refused (by the parser and again at run time)."""
    if name.startswith("_") or name in FRAME_ATTRIBUTES or name in IO_ATTRIBUTES:
        return True
    return bool(_READ_OR_WRITE.match(name)) and name not in ALLOWED_TO


@dataclass(frozen=True)
class Violation:
    """Why code was refused: a rule id, the line it is on, and what was found there."""

    rule: str
    line: int
    detail: str

    def __str__(self) -> str:
        return f"line {self.line}: {self.detail} [{self.rule}]"


class CodeRejection(Exception):
    """The code broke the policy; ``violations`` lists every finding, the first one first."""

    def __init__(self, violations: list[Violation]) -> None:
        super().__init__(str(violations[0]))
        self.violations = violations

    @property
    def first(self) -> Violation:
        """Return the first violation in the code."""
        return self.violations[0]


class _Checker(ast.NodeVisitor):
    def __init__(self) -> None:
        self.found: list[Violation] = []

    def refuse(self, node: ast.AST, rule: str, detail: str) -> None:
        self.found.append(Violation(rule=rule, line=getattr(node, "lineno", 0), detail=detail))

    # -- imports -----------------------------------------------------------------------------
    def visit_Import(self, node: ast.Import) -> None:
        for alias in node.names:
            if alias.name not in HELPER_MODULES:
                self.refuse(
                    node,
                    "import",
                    f"import of {alias.name!r}: only {', '.join(HELPER_MODULES)} are available",
                )
            if alias.asname and alias.asname.startswith("_"):
                self.refuse(node, "private-name", f"name {alias.asname!r} starts with an underscore")

    def visit_ImportFrom(self, node: ast.ImportFrom) -> None:
        module = node.module or ""
        if node.level or module not in HELPER_MODULES:
            self.refuse(
                node,
                "import",
                f"import from {module or '.'!r}: only {', '.join(HELPER_MODULES)} are available",
            )
        for alias in node.names:
            if alias.name == "*" or forbidden_attribute(alias.name):
                self.refuse(node, "import", f"{alias.name!r} cannot be imported from {module!r}")
            if alias.asname and alias.asname.startswith("_"):
                self.refuse(node, "private-name", f"name {alias.asname!r} starts with an underscore")

    # -- names and attributes ----------------------------------------------------------------
    def visit_Name(self, node: ast.Name) -> None:
        if node.id.startswith("_"):
            self.refuse(node, "private-name", f"name {node.id!r} starts with an underscore")
        elif node.id in FORBIDDEN_NAMES:
            self.refuse(node, "forbidden-name", f"{node.id!r} is not available in the sandbox")

    def visit_arg(self, node: ast.arg) -> None:
        if node.arg.startswith("_"):
            self.refuse(node, "private-name", f"argument {node.arg!r} starts with an underscore")
        self.generic_visit(node)

    def visit_keyword(self, node: ast.keyword) -> None:
        if node.arg is not None and node.arg.startswith("_"):
            self.refuse(node, "private-name", f"keyword {node.arg!r} starts with an underscore")
        self.generic_visit(node)

    def visit_Attribute(self, node: ast.Attribute) -> None:
        name = node.attr
        if name.startswith("_"):
            self.refuse(node, "private-name", f"attribute {name!r} starts with an underscore")
        elif name in ("format", "format_map"):
            self.refuse(
                node, "string-format", f"{name!r} can walk attributes inside a format string; use an f-string"
            )
        elif forbidden_attribute(name):
            self.refuse(
                node, "forbidden-attribute", f"attribute {name!r} reaches files, code or the interpreter"
            )
        self.generic_visit(node)

    def visit_Constant(self, node: ast.Constant) -> None:
        if isinstance(node.value, str) and _names_forbidden(node.value):
            self.refuse(
                node, "forbidden-string", f"the string {node.value[:40]!r} names a forbidden attribute"
            )

    def visit_Call(self, node: ast.Call) -> None:
        func = node.func
        if isinstance(func, ast.Attribute) and func.attr == "pipe":
            for arg in [*node.args, *(k.value for k in node.keywords)]:
                if _holds_string(arg):
                    self.refuse(node, "pipe-string", "pipe() with a string target")
                    break
        self.generic_visit(node)

    def visit_JoinedStr(self, node: ast.JoinedStr) -> None:
        for value in node.values:
            if isinstance(value, ast.FormattedValue) and value.format_spec is not None:
                spec = value.format_spec
                if any(isinstance(part, ast.FormattedValue) for part in ast.walk(spec)):
                    self.refuse(node, "string-format", "an f-string format spec holds another field")
        self.generic_visit(node)

    # -- statements that open ways out --------------------------------------------------------
    def visit_ClassDef(self, node: ast.ClassDef) -> None:
        self.refuse(node, "class", "class definitions are not allowed; use functions and DataFrames")
        self.generic_visit(node)

    def _function(self, node: ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda) -> None:
        if not isinstance(node, ast.Lambda):
            if node.name.startswith("_"):
                self.refuse(node, "private-name", f"function {node.name!r} starts with an underscore")
            if node.decorator_list:
                self.refuse(node, "decorator", "decorators are not allowed")
        self.generic_visit(node)

    def visit_FunctionDef(self, node: ast.FunctionDef) -> None:
        self._function(node)

    def visit_AsyncFunctionDef(self, node: ast.AsyncFunctionDef) -> None:
        self.refuse(node, "generator", "async functions are not allowed")
        self._function(node)

    def visit_Lambda(self, node: ast.Lambda) -> None:
        self._function(node)

    def visit_Yield(self, node: ast.Yield) -> None:
        self.refuse(node, "generator", "yield is not allowed")
        self.generic_visit(node)

    def visit_YieldFrom(self, node: ast.YieldFrom) -> None:
        self.refuse(node, "generator", "yield from is not allowed")
        self.generic_visit(node)

    def visit_Await(self, node: ast.Await) -> None:
        self.refuse(node, "generator", "await is not allowed")
        self.generic_visit(node)

    def visit_AsyncFor(self, node: ast.AsyncFor) -> None:
        self.refuse(node, "generator", "async for is not allowed")
        self.generic_visit(node)

    def visit_AsyncWith(self, node: ast.AsyncWith) -> None:
        self.refuse(node, "generator", "async with is not allowed")
        self.generic_visit(node)

    def visit_TryStar(self, node: ast.AST) -> None:
        self.refuse(node, "try-star", "try/except* is not allowed")
        self.generic_visit(node)

    def visit_Match(self, node: ast.Match) -> None:
        # class patterns (case str(format=f)) read attributes that no guard sees
        self.refuse(node, "match", "match statements are not allowed; use if/elif")
        self.generic_visit(node)

    def visit_Global(self, node: ast.Global) -> None:
        self.refuse(node, "global", "global statements are not allowed")

    def visit_Nonlocal(self, node: ast.Nonlocal) -> None:
        self.refuse(node, "global", "nonlocal statements are not allowed")


def _names_forbidden(text: str) -> bool:
    word = text.strip()
    return word.isidentifier() and (word.startswith("__") or word in DISPATCH_TARGETS)


DISPATCH_TARGETS = frozenset(
    {
        *(f"to_{kind}" for kind in ("csv", "json", "excel", "parquet", "pickle", "sql", "hdf", "feather")),
        *(
            f"to_{kind}"
            for kind in ("stata", "html", "latex", "markdown", "xml", "clipboard", "orc", "string")
        ),
        "query",
        "eval",
        "pipe",
        "style",
        "plot",
        "tofile",
        "dump",
        "dumps",
    }
)
"""Method names that pandas would call when handed them as strings (``df.apply("to_csv")``).

Only these and dunders are refused as string constants: ``read_*`` / ``to_*`` as a whole would refuse
ordinary column names such as ``"to_date"`` or ``"read_count"``.
"""


def _holds_string(node: ast.AST) -> bool:
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return True
    if isinstance(node, (ast.Tuple, ast.List)):
        return any(_holds_string(item) for item in node.elts)
    return isinstance(node, ast.JoinedStr)


def check(source: str, *, max_chars: int = 20_000) -> ast.Module:
    """Parse ``source`` and return its tree, or raise :class:`CodeRejection` with every violation."""
    if len(source) > max_chars:
        raise CodeRejection(
            [Violation("too-long", 1, f"the code has {len(source):,} characters; at most {max_chars:,}")]
        )
    try:
        tree = ast.parse(source, filename="<analysis>", mode="exec")
    except SyntaxError as exc:
        raise CodeRejection([Violation("syntax", exc.lineno or 0, exc.msg or "invalid syntax")]) from None
    except (ValueError, RecursionError, MemoryError) as exc:
        raise CodeRejection(
            [Violation("syntax", 0, f"the code cannot be parsed: {type(exc).__name__}")]
        ) from None
    checker = _Checker()
    try:
        checker.visit(tree)
    except RecursionError:
        raise CodeRejection([Violation("syntax", 0, "the code is nested too deeply")]) from None
    if checker.found:
        checker.found.sort(key=lambda v: v.line)
        raise CodeRejection(checker.found)
    return tree


def with_result(source: str, tree: ast.Module) -> str:
    """Return the code with its last expression assigned to ``result`` when nothing else sets it.

    As in a notebook, ``df.groupby("region")["amount"].sum()`` on the last line is the result. Code
    that assigns ``result`` anywhere, or ends in a statement or a ``print(...)``, is left as it is.
    """
    if not tree.body or not isinstance(tree.body[-1], ast.Expr):
        return source
    if any(
        isinstance(n, ast.Name) and n.id == "result" and isinstance(n.ctx, ast.Store) for n in ast.walk(tree)
    ):
        return source
    last = tree.body[-1]
    value = last.value
    if isinstance(value, ast.Call) and isinstance(value.func, ast.Name) and value.func.id == "print":
        return source
    if last.end_lineno is None or last.end_col_offset is None:
        return source
    lines = source.splitlines(keepends=True)
    head = "".join(lines[: last.lineno - 1]) + lines[last.lineno - 1].encode()[: last.col_offset].decode()
    end_line = lines[last.end_lineno - 1].encode()
    tail = end_line[last.end_col_offset :].decode() + "".join(lines[last.end_lineno :])
    segment = ast.get_source_segment(source, last)
    if segment is None:
        return source
    return f"{head}result = ({segment}){tail}"
