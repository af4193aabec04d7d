"""Hostile programs: a table of code that must be refused or stopped, and must leave no trace.

``CASES`` is the table. Each row is an id, a program and how it has to end:

* refused by the AST policy before anything runs: ``CodeRejected`` with the policy's rule id
  (``import``, ``private-name``, ``forbidden-name``, ``forbidden-attribute``, ``string-format``,
  ``forbidden-string``, ``class``, ``decorator``, ``generator``, ``try-star``, ``global``, ``syntax``,
  ``too-long``);
* refused by RestrictedPython's compiler in the child: ``CodeRejected``, rule ``restricted-python``;
* refused while it runs, by the guards, the neutered pandas methods, the audit hook or the seccomp
  filter: ``CodeRejected``, rule ``runtime``;
* stopped by a limit: ``SandboxTimeout``, ``SandboxMemoryExceeded``, ``SandboxOutputTooLarge``;
* an ordinary exception that proves nothing was reached (a ``NameError`` for a fullwidth ``os``, which
  Python folds to a plain name the sandbox does not define; a ``RecursionError``; pandas saying a
  name is not a function): ``CodeFailed`` with that ``error_type``.

The test asserts the outcome exactly. Whatever the outcome, every run must also prove that

1. no file was written: programs that write aim at a world-writable canary directory (mode 0o777, so a
   child running as ``nobody`` could write there if nothing stopped it) or at ``/tmp`` paths with a
   prefix unique to the session; the directory's listing must not change and no such path may appear;
2. no file was read: programs that read aim at a world-readable secret file (0o644 in a 0o755
   directory) holding a random token, which must never show up in a result, in what was printed or
   in an error's detail;
3. the worker survived: the pool answers a ping, its worker kept its process id (children die,
   workers stay), and a legitimate run afterwards returns the right number.

Programs name these targets with placeholders that are replaced before the run: ``@SECRET@`` (the
secret file), ``@CANARY@`` (the canary directory) and ``@TMP@`` (the unique ``/tmp`` prefix).

Rows marked ``gap=...`` do not end the way the table wants (they run instead of being refused); they
are strict ``xfail`` on the outcome only, so the containment checks above still hold for them.
"""

from __future__ import annotations

import glob
import os
import secrets
import shlex
import shutil
import stat
import subprocess
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from nexus.errors import NexusError
from nexus.sandbox.errors import (
    CodeFailed,
    CodeRejected,
    SandboxMemoryExceeded,
    SandboxOutputTooLarge,
    SandboxTimeout,
)
from nexus.sandbox.service import CodeRun, Sandbox
from tests.sandbox.conftest import sales

# -- expected outcomes -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Expect:
    """How a hostile run must end: the error class and, where it says more, its rule or error type."""

    error: type[NexusError]
    rule: str | None = None
    error_type: str | None = None

    def __str__(self) -> str:
        return f"{self.error.__name__}(rule={self.rule}, error_type={self.error_type})"


def policy(rule: str) -> Expect:
    """Refused by the AST policy, before anything runs."""
    return Expect(CodeRejected, rule=rule)


def failed(error_type: str) -> Expect:
    """Ran and raised an ordinary exception that shows nothing was reached."""
    return Expect(CodeFailed, error_type=error_type)


RUNTIME = Expect(CodeRejected, rule="runtime")
RESTRICTED = Expect(CodeRejected, rule="restricted-python")
TIMEOUT = Expect(SandboxTimeout)
MEMORY = Expect(SandboxMemoryExceeded)
TOO_LARGE = Expect(SandboxOutputTooLarge)

PRE_RUN_RULES = {
    "syntax",
    "too-long",
    "import",
    "private-name",
    "forbidden-name",
    "forbidden-attribute",
    "string-format",
    "forbidden-string",
    "pipe-string",
    "class",
    "decorator",
    "generator",
    "try-star",
    "global",
}
"""Rules of the AST policy: a run refused with one of these never reached a worker."""


class OutcomeMismatch(AssertionError):
    """The run ended, contained, but not the way the table says (the only failure a gap may have)."""


def case(case_id: str, code: str, expect: Expect, *, gap: str | None = None) -> Any:
    """One row of the table; ``gap`` marks a known hole in the refusal (strict xfail on the outcome)."""
    marks = ()
    if gap is not None:
        marks = (pytest.mark.xfail(strict=True, raises=OutcomeMismatch, reason=gap),)
    return pytest.param(code, expect, id=case_id, marks=marks)


def lines(*parts: str) -> str:
    """Join lines of a program."""
    return "\n".join(parts)


DUNDER = "D = lambda s: '_' * 2 + s + '_' * 2"
"""A line that builds dunder names at run time, so no string constant names them."""

# -- the table ---------------------------------------------------------------------------------------

CASES = [
    # module walks named in the issue
    case("pd-io-common-os", "result = pd.io.common.os.listdir('/')", policy("forbidden-attribute")),
    case("np-lib-npyio-os", "result = str(np.lib.npyio.os.environ)", policy("forbidden-attribute")),
    case("pd-core-common-os", "result = str(pd.core.common.os.getcwd())", failed("AttributeError")),
    case("from-pandas-import-core", "from pandas import core\nresult = str(core)", failed("AttributeError")),
    case("from-pandas-import-io", "from pandas import io\nresult = io.common.os.getcwd()", policy("import")),
    case("import-pandas-io-common", "import pandas.io.common\nresult = 1", policy("import")),
    case("matplotlib-os", "import matplotlib\nresult = matplotlib.os.getcwd()", policy("import")),
    case("np-function-globals", "result = str(np.sum.__globals__['os'])", policy("private-name")),
    case("df-method-globals", "result = str(df.sum.__func__.__globals__)", policy("private-name")),
    case("np-sys-modules", "result = str(np.sys.modules['os'])", policy("forbidden-attribute")),
    # files: read and write
    case("pd-read-csv-secret", "result = pd.read_csv('@SECRET@')", policy("forbidden-attribute")),
    case("df-to-csv-canary", "df.to_csv('@CANARY@/out.csv')\nresult = 1", policy("forbidden-attribute")),
    case("df-to-csv-tmp", "df.to_csv('@TMP@-out.csv')\nresult = 1", policy("forbidden-attribute")),
    case("open-read-secret", "result = open('@SECRET@').read()", policy("forbidden-name")),
    case("open-write-canary", "open('@CANARY@/x', 'w').write('x')", policy("forbidden-name")),
    case(
        "apply-to-csv-constant",
        "df.apply('to_csv', args=('@CANARY@/apply.csv',))\nresult = 1",
        policy("forbidden-string"),
    ),
    case(
        "apply-to-csv-runtime-name",
        "name = 'to_' + 'csv'\ndf.apply(name, args=('@CANARY@/apply.csv',))\nresult = 1",
        RUNTIME,
    ),
    case(
        "apply-to-string-runtime-name",
        "name = 'to_' + 'string'\ndf.apply(name, args=('@CANARY@/string.txt',))\nresult = 1",
        RUNTIME,
    ),
    case(
        "apply-to-csv-tmp-runtime-name",
        "name = ''.join(['to', '_', 'csv'])\ndf.apply(name, args=('@TMP@-join.csv',))\nresult = 1",
        RUNTIME,
    ),
    case(
        "series-to-string-runtime-name",
        "df['region'].apply('to_' + 'string', args=('@CANARY@/series.txt',))\nresult = 1",
        RUNTIME,
    ),
    case(
        "lambda-built-name",
        "f = lambda: 'to_' + 'json'\ndf.apply(f(), args=('@CANARY@/lambda.json',))\nresult = 1",
        RUNTIME,
    ),
    case("agg-load-numpy-fallback", "result = df.agg('load')", RUNTIME),
    # time zones: dateutil reads any absolute path it is given, zoneinfo only keys under TZPATH
    case(
        "tz-dateutil-secret",
        "result = str(pd.Timestamp('2020-01-01', tz='dateutil/@SECRET@'))",
        RUNTIME,
    ),
    case(
        "tz-localize-dateutil-passwd",
        "result = str(df['day'].dt.tz_localize('dateutil//etc/passwd'))",
        RUNTIME,
    ),
    case(
        "tz-zoneinfo-absolute",
        "result = str(pd.Timestamp('2020-01-01', tz='@SECRET@'))",
        failed("ValueError"),
    ),
    case(
        "tz-zoneinfo-traversal",
        "result = str(pd.Timestamp('2020-01-01', tz='../../../../../../..@SECRET@'))",
        failed("ValueError"),
    ),
    # code evaluation hidden in strings
    case(
        "query-python-engine",
        "result = df.query(\"region.__class__.__init__.__globals__['os'].getcwd()\", engine='python')",
        policy("forbidden-attribute"),
    ),
    case(
        "query-local-variable",
        "result = df.query(\"@pd.io.common.os.getcwd() == ''\", engine='python')",
        policy("forbidden-attribute"),
    ),
    case("df-eval-dunder", "result = df.eval(\"__import__('os').getcwd()\")", policy("forbidden-attribute")),
    case(
        "pd-eval-subclasses",
        "result = pd.eval('(1).__class__.__bases__[0].__subclasses__()')",
        policy("forbidden-attribute"),
    ),
    case("agg-eval-constant", "result = df.agg('eval')", policy("forbidden-string")),
    case(
        "apply-query-runtime-name",
        "result = df.apply('que' + 'ry', args=(\"region.__class__.__name__ == 'x'\",))",
        RUNTIME,
    ),
    case(
        "apply-eval-runtime-name",
        "result = df.apply('ev' + 'al', args=(\"__import__('os').getcwd()\",))",
        RUNTIME,
    ),
    case("pipe-string", "result = df.pipe('query', 'quantity > 1')", policy("pipe-string")),
    # PandasAI CVE-2023-39660 / CVE-2023-39661 / CVE-2024-12366
    case(
        "pandasai-builtins-import",
        "result = __builtins__['__import__']('os').getcwd()",
        policy("private-name"),
    ),
    case(
        "pandasai-import-os-system",
        "__import__('os').system('touch @CANARY@/pwned')",
        policy("forbidden-attribute"),
    ),
    case(
        "pandasai-subclasses",
        "result = [c.__name__ for c in ().__class__.__bases__[0].__subclasses__()]",
        policy("private-name"),
    ),
    case(
        "pandasai-catch-warnings",
        lines(
            "w = [c for c in ().__class__.__base__.__subclasses__() if c.__name__ == 'catch_warnings'][0]",
            "result = w()._module.__builtins__['__import__']('os').getcwd()",
        ),
        policy("private-name"),
    ),
    case("pandasai-df-class-globals", "result = df.__class__.__init__.__globals__", policy("private-name")),
    # Vanna CVE-2024-5565 (plotly code run through exec)
    case("vanna-exec", "exec(\"import os; os.system('touch @CANARY@/vanna')\")", policy("forbidden-name")),
    case(
        "vanna-compile",
        "result = eval(compile(\"__import__('os').getcwd()\", '<x>', 'eval'))",
        policy("forbidden-name"),
    ),
    case("vanna-plotly", "import plotly.express as px\nresult = px.bar(df)", policy("import")),
    # LlamaIndex CVE-2023-39662
    case("llamaindex-dunder-import", "result = __import__('os').listdir('/')", policy("private-name")),
    case("llamaindex-eval-string", "result = eval(\"__import__('os').getcwd()\")", policy("forbidden-name")),
    # RestrictedPython CVE-2023-37271 (generator frames)
    case(
        "rp-37271-gi-frame",
        "g = (x for x in [1])\nresult = g.gi_frame.f_back.f_back.f_globals",
        policy("forbidden-attribute"),
    ),
    case("rp-37271-yield", "def gen():\n    yield 1\nresult = next(gen())", policy("generator")),
    case("async-def", "async def f():\n    return 1\nresult = 1", policy("generator")),
    # RestrictedPython CVE-2023-41039 (format strings walking attributes)
    case(
        "rp-41039-str-format",
        "result = '{0.__class__.__base__.__subclasses__}'.format(1)",
        policy("string-format"),
    ),
    case(
        "rp-41039-string-formatter",
        "import string\nresult = string.Formatter().vformat('{0.__class__}', (1,), {})",
        policy("import"),
    ),
    case("format-builtin", "result = format(df, '')", policy("forbidden-name")),
    # RestrictedPython CVE-2024-47532 (format_map, nested f-string specs)
    case("rp-47532-format-map", "result = '{x.__class__}'.format_map({'x': 1})", policy("string-format")),
    case("rp-47532-fstring-nested-spec", "w = 10\nresult = f'{df:{w}}'", policy("string-format")),
    case(
        "format-map-dict-subclass",
        lines(
            "class D(dict):",
            "    def __missing__(self, key):",
            "        return key",
            "result = '{a.__class__}'.format_map(D())",
        ),
        policy("class"),
    ),
    # RestrictedPython CVE-2025-22153 (try/except*)
    case(
        "rp-22153-try-star",
        "try:\n    1 / 0\nexcept* ZeroDivisionError as group:\n    result = group",
        policy("try-star"),
    ),
    # match statements read attributes without the guards; RestrictedPython refuses them
    case(
        "match-class-dunder",
        "match df:\n    case pd.DataFrame(__class__=c):\n        result = str(c)",
        policy("match"),
    ),
    case(
        "match-str-format",
        "match '{0.real}':\n    case str(format=f):\n        result = f(1)",
        policy("match"),
    ),
    case("roles-name", "x__roles__ = 1\nresult = 1", RESTRICTED),
    # memory bombs
    case("list-bomb", "x = [0] * 10**10", MEMORY),
    case("str-bomb", "x = 'x' * 10**10", MEMORY),
    case("np-ones-bomb", "x = np.ones(10**11)", MEMORY),
    case("dataframe-zeros-bomb", "x = pd.DataFrame(np.zeros((10**6, 10**4)))", MEMORY),
    case("append-bomb", "x = []\nwhile True:\n    x.append('x' * 10**7)", MEMORY),
    # fork bombs, by every route there is
    case("import-os-fork", "import os\nos.fork()", policy("import")),
    case("from-os-import-fork", "from os import fork\nfork()", policy("import")),
    case("dunder-import-fork", "__import__('os').fork()", policy("private-name")),
    case("pd-io-os-fork", "pd.io.common.os.fork()", policy("forbidden-attribute")),
    case(
        "multiprocessing",
        "import multiprocessing\nmultiprocessing.Process(target=print).start()",
        policy("import"),
    ),
    case("subprocess-dunder-import", "__import__('subprocess').run(['id'])", policy("private-name")),
    case("from-subprocess-import", "from subprocess import run\nrun(['id'])", policy("import")),
    case("apply-fork-runtime-name", "result = df.apply('fo' + 'rk')", failed("AttributeError")),
    # infinite loops and CPU burners (the only slow rows)
    case("while-true", "while True:\n    pass", TIMEOUT),
    case("iter-int-forever", "for i in iter(int, 1):\n    pass", TIMEOUT),
    case("huge-power", "result = 10 ** 10 ** 8", TIMEOUT),
    # deep recursion
    case("recursion", "def f(n):\n    return f(n + 1)\nresult = f(0)", failed("RecursionError")),
    case("lambda-recursion", "f = lambda n: f(n + 1)\nresult = f(0)", failed("RecursionError")),
    # huge results
    case("huge-scalar-result", "result = 'x' * (600 * 1024)", TOO_LARGE),
    case("huge-table-result", "result = pd.DataFrame({'a': ['y' * 5000] * 200})", TOO_LARGE),
    case("huge-list-result", "result = ['z' * 1000] * 2000", TOO_LARGE),
    # pickle and marshal
    case("import-pickle", "import pickle\nresult = pickle.loads(b'N.')", policy("import")),
    case("import-marshal", "import marshal\nresult = marshal.dumps(1)", policy("import")),
    case("df-to-pickle", "df.to_pickle('@CANARY@/df.pkl')", policy("forbidden-attribute")),
    case("pd-read-pickle", "result = pd.read_pickle('@SECRET@')", policy("forbidden-attribute")),
    case(
        "np-load-allow-pickle",
        "result = np.load('@SECRET@', allow_pickle=True)",
        policy("forbidden-attribute"),
    ),
    case("array-dumps", "result = df['quantity'].to_numpy().dumps()", policy("forbidden-attribute")),
    case("array-dump", "df['quantity'].to_numpy().dump('@CANARY@/a.npy')", policy("forbidden-attribute")),
    case("reduce-ex", "result = df.__reduce_ex__(2)", policy("private-name")),
    case(
        "apply-to-pickle-runtime-name",
        "df.apply('to_' + 'pickle', args=('@CANARY@/p.pkl',))\nresult = 1",
        RUNTIME,
    ),
    # type(), getattr() and friends
    case("three-arg-type", "X = type('X', (object,), {})\nresult = X", policy("forbidden-name")),
    case("getattr-dunder-string", "result = getattr(df, '__class__')", policy("forbidden-name")),
    case(
        "getattr-built-string", "result = getattr(df, '_' * 2 + 'class' + '_' * 2)", policy("forbidden-name")
    ),
    case(
        "operator-attrgetter",
        "import operator\nresult = operator.attrgetter('__class__')(df)",
        policy("import"),
    ),
    case("agg-dunder-constant", "result = df.agg('__class__')", policy("forbidden-string")),
    case("int-mro", "result = int.mro()[-1]", policy("forbidden-attribute")),
    case("dict-subclasses", "result = dict.__subclasses__()", policy("private-name")),
    case("object-subclasses", "result = object.__subclasses__()", policy("private-name")),
    case("builtin-self", "result = print.__self__", policy("private-name")),
    case("id-builtin", "result = id(df)", policy("forbidden-name")),
    case("printed-name", "print(1)\nresult = printed", policy("forbidden-name")),
    # unicode identifiers: Python folds them with NFKC before the policy sees them
    case("fullwidth-os-name", "result = \uff4f\uff53.getcwd()", failed("NameError")),
    case("fullwidth-import-os", "import \uff4f\uff53\nresult = 1", policy("import")),
    case(
        "fullwidth-low-line-import",
        "result = \uff3f\uff3fimport\uff3f\uff3f('os').getcwd()",
        policy("syntax"),
    ),
    case(
        "fullwidth-dunder-import",
        "result = __\uff49\uff4d\uff50\uff4f\uff52\uff54__('os').getcwd()",
        policy("private-name"),
    ),
    case("fullwidth-eval", "result = \uff45\uff56\uff41\uff4c('1 + 1')", policy("forbidden-name")),
    case(
        "fullwidth-query-attribute",
        "result = df.\uff51\uff55\uff45\uff52\uff59('quantity > 1')",
        policy("forbidden-attribute"),
    ),
    case(
        "math-italic-exec",
        '\U0001d626\U0001d639\U0001d626\U0001d624("import os")',
        policy("forbidden-name"),
    ),
    case(
        "fullwidth-string-dispatch", "result = df.agg('\uff45\uff56\uff41\uff4c')", failed("AttributeError")
    ),
    # decorators smuggling calls
    case("decorator-exec", "@exec\ndef f():\n    pass", policy("forbidden-name")),
    case(
        "decorator-eval-lambda",
        "@eval\n@lambda f: \"__import__('os').getcwd()\"\ndef f():\n    pass",
        policy("forbidden-name"),
    ),
    case(
        "decorator-allowed-name",
        "@np.vectorize\ndef f(x):\n    return x\nresult = f(1)",
        policy("decorator"),
    ),
    # lambdas smuggling
    case("lambda-dunder-import", "result = (lambda: __import__('os'))()", policy("private-name")),
    case("lambda-import-argument", "result = (lambda f: f('os'))(__import__)", policy("private-name")),
    case(
        "lambda-default-query",
        "result = (lambda q=df.query: q('quantity > 1'))()",
        policy("forbidden-attribute"),
    ),
    # class bodies and metaclasses
    case("class-body", "class A:\n    x = 1\nresult = A.x", policy("class")),
    case(
        "metaclass",
        "class M(type):\n    pass\nclass A(metaclass=M):\n    pass",
        policy("class"),
    ),
    case(
        "init-subclass",
        "class A:\n    def __init_subclass__(cls):\n        pass",
        policy("class"),
    ),
    # exception traceback walks
    case(
        "traceback-frame-walk",
        "try:\n    1 / 0\nexcept Exception as e:\n    result = e.__traceback__.tb_frame.f_back.f_globals",
        policy("forbidden-attribute"),
    ),
    case(
        "traceback-dunder",
        "try:\n    1 / 0\nexcept Exception as e:\n    result = e.__traceback__",
        policy("private-name"),
    ),
    case(
        "traceback-tb-frame",
        "try:\n    1 / 0\nexcept Exception as e:\n    t = e.args\n    result = t.tb_frame",
        policy("forbidden-attribute"),
    ),
    # numpy: raw memory, foreign calls, files
    case("np-ctypeslib", "result = np.ctypeslib.as_array", policy("forbidden-attribute")),
    case("array-ctypes", "result = df['quantity'].to_numpy().ctypes.data", policy("forbidden-attribute")),
    case(
        "array-tofile",
        "df['quantity'].to_numpy().tofile('@CANARY@/a.bin')",
        policy("forbidden-attribute"),
    ),
    case("np-save", "np.save('@CANARY@/a.npy', np.arange(3))", policy("forbidden-attribute")),
    case(
        "np-memmap",
        "m = np.memmap('@CANARY@/m.bin', dtype='uint8', mode='w+', shape=(10,))",
        policy("forbidden-attribute"),
    ),
    case(
        "np-fromfile-secret", "result = np.fromfile('@SECRET@', dtype='uint8')", policy("forbidden-attribute")
    ),
    case("np-loadtxt-secret", "result = np.loadtxt('@SECRET@', dtype=str)", policy("forbidden-attribute")),
    case(
        "ndarray-stride-overread",
        "a = np.arange(3)\nb = np.ndarray(shape=(10**6,), dtype=np.uint8, buffer=a.data, strides=(1,))",
        failed("ValueError"),
    ),
    # builtins that reach the interpreter
    case("vars", "result = vars()", policy("forbidden-name")),
    case("globals", "result = globals()['__builtins__']", policy("forbidden-name")),
    case("locals", "result = locals()", policy("forbidden-name")),
    case("dir", "result = dir()", policy("forbidden-name")),
    case("breakpoint", "breakpoint()", policy("forbidden-name")),
    case("input", "result = input()", policy("forbidden-name")),
    case("help", "help()", policy("forbidden-name")),
    case("exit", "exit()", policy("forbidden-name")),
    case("quit", "quit()", policy("forbidden-name")),
    # monkeypatching classes and helpers
    case("patch-dataframe-method", "pd.DataFrame.sum = lambda self: 0\nresult = df.sum()", RUNTIME),
    case("patch-helper-attribute", "pd.x = 1\nresult = 1", RUNTIME),
    case("patch-numpy-function", "np.sum = len\nresult = 1", RUNTIME),
    case("delete-helper-attribute", "del pd.DataFrame\nresult = 1", RUNTIME),
    case("patch-function-attribute", "def f():\n    return 1\nf.x = 1\nresult = 1", RUNTIME),
    case("patch-dtype-class", "df['quantity'].dtype.type.x = 1\nresult = 1", RUNTIME),
    # imports
    case("import-socket", "import socket\ns = socket.socket()", policy("import")),
    case("from-os-import-system", "from os import system\nsystem('id')", policy("import")),
    case("import-private-alias", "import pandas as _pd\nresult = 1", policy("private-name")),
    case("relative-import", "from . import worker\nresult = 1", policy("import")),
    case("import-importlib", "import importlib\nresult = importlib.import_module('os')", policy("import")),
    case("from-numpy-import-lib", "from numpy import lib\nresult = lib", policy("import")),
    case("from-numpy-import-star", "from numpy import *\nresult = 1", policy("import")),
    case("import-builtins", "import builtins\nresult = builtins.open", policy("import")),
    # the network
    case("read-csv-url", "result = pd.read_csv('http://127.0.0.1:1/x.csv')", policy("forbidden-attribute")),
    case(
        "urllib",
        "import urllib.request\nresult = urllib.request.urlopen('http://127.0.0.1:1').read()",
        policy("import"),
    ),
    case(
        "apply-to-json-url-runtime-name",
        "df.apply('to_' + 'json', args=('http://127.0.0.1:1/x',))\nresult = 1",
        RUNTIME,
    ),
    # environment variables
    case("env-pd-io-os", "result = pd.io.common.os.environ.get('HOME')", policy("forbidden-attribute")),
    case("env-dunder-import", "result = dict(__import__('os').environ)", policy("private-name")),
    case("env-runtime-name", "result = df.agg('env' + 'iron')", failed("AttributeError")),
    # sys.modules, gc, frames
    case("import-sys-modules", "import sys\nresult = list(sys.modules)", policy("import")),
    case(
        "sys-modules-via-globals", "result = df.sum.__globals__['sys'].modules", policy("forbidden-attribute")
    ),
    case("gc-get-objects", "import gc\nresult = len(gc.get_objects())", policy("import")),
    case("global-statement", "def f():\n    global result\n    result = 1\nf()", policy("global")),
    case(
        "nonlocal-statement",
        "def f():\n    x = 1\n    def g():\n        nonlocal x\n        x = 2\n    g()\nf()",
        policy("global"),
    ),
    # the parser itself
    case("too-long", "result = 1  # " + "a" * 30_000, policy("too-long")),
    case("deeply-nested", "result = " + "(" * 500 + "1" + ")" * 500, policy("syntax")),
    # pandas' by-name dispatch (df.agg('name'), GroupBy.apply('name')) with names built at run time
    case(
        "array-ufunc-getattr-gadget",
        lines(
            DUNDER,
            "result = df['quantity'].apply(D('array_ufunc'), args=(pd.concat, D('getattribute'), 'x'))",
        ),
        RUNTIME,
    ),
    case("agg-private-constant", "result = str(df.agg('_mgr'))", RUNTIME),
    case("agg-dunder-runtime-name", lines(DUNDER, "result = str(df.agg(D('dict')))"), RUNTIME),
    case(
        "groupby-apply-reduce-ex-object",
        lines(DUNDER, "t = df.groupby('region').apply(D('reduce_ex'), 1)", "result = str(t[1][1])"),
        RUNTIME,
    ),
]

CONTAINED = [
    pytest.param("print('x' * 10**6)\nresult = 1", id="one-huge-print"),
    pytest.param("for i in range(100_000):\n    print(i)\nresult = 1", id="many-prints"),
]
"""Programs that run, but whose printed output is cut at the limit (``stdout_truncated``)."""

# -- targets and checks --------------------------------------------------------------------------------


@dataclass
class Targets:
    """What hostile programs aim at: a writable canary directory, a readable secret, a /tmp prefix."""

    root: Path
    canary: Path
    secret: Path
    token: str
    probe: str

    def fill(self, code: str) -> str:
        """Return ``code`` with its placeholders replaced by the real paths."""
        return (
            code.replace("@SECRET@", str(self.secret))
            .replace("@CANARY@", str(self.canary))
            .replace("@TMP@", self.probe)
        )

    def listing(self) -> list[str]:
        """Return everything under the canary directory."""
        return sorted(str(path.relative_to(self.canary)) for path in self.canary.rglob("*"))

    def assert_untouched(self, canary_before: list[str]) -> None:
        """No file appeared in the canary directory or under the /tmp prefix; the secret is intact."""
        assert self.listing() == canary_before, f"a file appeared in the canary directory: {self.listing()}"
        assert glob.glob(self.probe + "*") == [], f"a file appeared in /tmp: {glob.glob(self.probe + '*')}"
        assert self.secret.read_text() == f"token\n{self.token}\n"
        assert stat.S_IMODE(self.secret.stat().st_mode) == 0o644
        assert stat.S_IMODE(self.canary.stat().st_mode) == 0o777


@pytest.fixture(scope="session")
def targets() -> Iterator[Targets]:
    """A canary directory anyone may write to and a secret file anyone may read, under /tmp."""
    root = Path(tempfile.mkdtemp(prefix="nexus-hostile-", dir="/tmp"))
    root.chmod(0o755)
    canary = root / "canary"
    canary.mkdir()
    canary.chmod(0o777)
    secret_dir = root / "secret"
    secret_dir.mkdir()
    secret_dir.chmod(0o755)
    token = secrets.token_hex(16)
    secret = secret_dir / "secret.csv"
    secret.write_text(f"token\n{token}\n")
    secret.chmod(0o644)
    probe = f"/tmp/nexus-escape-{secrets.token_hex(6)}"
    yield Targets(root=root, canary=canary, secret=secret, token=token, probe=probe)
    shutil.rmtree(root, ignore_errors=True)
    for leftover in glob.glob(probe + "*"):
        if os.path.isdir(leftover):
            shutil.rmtree(leftover, ignore_errors=True)
        else:
            os.unlink(leftover)


@pytest.fixture(scope="module")
def workers_at_start(sandbox: Sandbox) -> tuple[list[int], int]:
    """The pool's worker process ids and replacement count when this module first used the sandbox."""
    return sandbox.pool.pids(), sandbox.pool.replaced


def _run(sandbox: Sandbox, code: str) -> CodeRun | NexusError:
    try:
        return sandbox.run_frames(code, {"sales": sales()})
    except NexusError as exc:
        return exc


def _visible(outcome: CodeRun | NexusError) -> str:
    """Everything a caller would see of a run: result, printed text, error detail and extras."""
    if isinstance(outcome, CodeRun):
        return f"{outcome.result!r}\n{outcome.stdout}"
    return f"{outcome.detail}\n{outcome.extra!r}"


def _expected_sum() -> int:
    return int(sales()["quantity"].sum())


def _assert_legitimate_run(sandbox: Sandbox) -> None:
    run = sandbox.run_frames("result = df['quantity'].sum()", {"sales": sales()})
    assert run.result == {"kind": "scalar", "value": _expected_sum()}


def _assert_outcome(outcome: CodeRun | NexusError, expect: Expect) -> None:
    if isinstance(outcome, CodeRun):
        raise OutcomeMismatch(f"expected {expect}, but the code ran: {outcome.result!r} {outcome.stdout!r}")
    got = Expect(type(outcome), outcome.extra.get("rule"), outcome.extra.get("error_type"))
    wanted = Expect(
        expect.error,
        expect.rule if expect.rule is not None else got.rule,
        expect.error_type if expect.error_type is not None else got.error_type,
    )
    if got != wanted:
        raise OutcomeMismatch(f"expected {expect}, got {got}: {outcome.detail}")


# -- tests -------------------------------------------------------------------------------------------


def test_table_is_large_and_ids_are_unique() -> None:
    ids = [param.id for param in CASES]
    assert len(ids) >= 70
    assert len(set(ids)) == len(ids)


def test_targets_are_reachable_in_principle(targets: Targets) -> None:
    """Without the sandbox, a process running as ``nobody`` could read the secret and write the canary."""
    for directory in (Path("/tmp"), targets.root, targets.secret.parent):
        assert stat.S_IMODE(directory.stat().st_mode) & 0o005 == 0o005, directory
    assert stat.S_IMODE(targets.secret.stat().st_mode) & 0o004
    assert stat.S_IMODE(targets.canary.stat().st_mode) == 0o777


def test_targets_are_reachable_without_the_sandbox(targets: Targets) -> None:
    """A plain process with the sandbox child's uid writes the canary directory and reads the secret."""
    control = targets.canary / f"control-{secrets.token_hex(4)}"
    script = f"echo x > {shlex.quote(str(control))} && cat {shlex.quote(str(targets.secret))}"
    as_nobody: dict[str, Any] = (
        {"user": 65534, "group": 65534, "extra_groups": []} if os.getuid() == 0 else {}
    )
    done = subprocess.run(  # noqa: S603 - a fixed shell command on our own paths
        ["/bin/sh", "-c", script], capture_output=True, text=True, env={}, cwd="/", **as_nobody
    )
    try:
        assert done.returncode == 0, done.stderr
        assert targets.token in done.stdout
        assert control.exists()
    finally:
        control.unlink(missing_ok=True)


@pytest.mark.parametrize(("code", "expect"), CASES)
def test_hostile_program_is_stopped(
    sandbox: Sandbox,
    targets: Targets,
    workers_at_start: tuple[list[int], int],
    code: str,
    expect: Expect,
) -> None:
    canary_before = targets.listing()
    pids_before, replaced_before = sandbox.pool.pids(), sandbox.pool.replaced

    outcome = _run(sandbox, targets.fill(code))

    # containment holds whatever the outcome (also for the rows marked as gaps)
    targets.assert_untouched(canary_before)
    assert targets.token not in _visible(outcome), "the secret file was read"
    assert sandbox.pool.healthy()
    assert sandbox.pool.pids() == pids_before, "the worker was replaced"
    assert sandbox.pool.replaced == replaced_before
    reached_worker = not (isinstance(outcome, CodeRejected) and outcome.extra.get("rule") in PRE_RUN_RULES)
    if reached_worker:
        _assert_legitimate_run(sandbox)

    _assert_outcome(outcome, expect)


@pytest.mark.parametrize("code", CONTAINED)
def test_huge_print_is_truncated(sandbox: Sandbox, targets: Targets, code: str) -> None:
    canary_before = targets.listing()
    run = sandbox.run_frames(code, {"sales": sales()})
    assert run.stdout_truncated
    assert len(run.stdout) <= sandbox.settings.sandbox_max_stdout_chars
    assert run.result == {"kind": "scalar", "value": 1}
    targets.assert_untouched(canary_before)
    assert sandbox.pool.healthy()


def test_legitimate_run_after_hostile_table(sandbox: Sandbox) -> None:
    assert sandbox.pool.healthy()
    _assert_legitimate_run(sandbox)


def test_workers_survive_hostile_table(sandbox: Sandbox, workers_at_start: tuple[list[int], int]) -> None:
    """Forked children die with their runs; the warm worker that forked them is never replaced."""
    pids, replaced = workers_at_start
    assert pids, "the pool had no started worker"
    assert sandbox.pool.pids() == pids
    assert sandbox.pool.replaced == replaced
