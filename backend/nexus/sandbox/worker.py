"""A sandbox worker: a warm process that forks one locked-down child per run.

``python -m nexus.sandbox.worker`` is started by :mod:`nexus.sandbox.pool` with an empty environment
and two pipes. It imports pandas and numpy, warms them up, leaves the network (a network namespace of
its own where the kernel allows), and then serves runs. The worker itself never runs submitted code:
for each run it forks a child, which

1. closes every file descriptor but the pipe it answers on;
2. sets limits: address space (memory), CPU seconds, no file writes (``RLIMIT_FSIZE=0``), no core;
3. drops to ``nobody`` when it was root;
4. compiles the code with RestrictedPython;
5. installs a seccomp filter (no sockets, no fork or exec, no opening files for writing, no
   ptrace, namespaces or mounts) and an audit hook (no ``open``, ``socket``, ``subprocess``,
   ``os``, ``ctypes``, ``import``, ``pickle``, ``marshal``, ``compile`` or a second ``exec``);
6. runs the code on its copy of the tables and writes the JSON result, then exits.

The worker waits for the child with a wall-clock limit and kills it when the time is up; a child that
hit a limit or broke a rule is gone with its run, so the next run starts from the same clean state.
Cached tables live in the worker (it loads them once); children see them copy-on-write.
"""

from __future__ import annotations

import ctypes
import errno
import functools
import json
import os
import pickle
import platform
import resource
import select
import signal
import sys
import time
import traceback
import warnings
from collections import OrderedDict
from collections.abc import Callable
from typing import Any

from RestrictedPython.compile import compile_restricted_exec

from nexus.sandbox import guards, protocol, results
from nexus.sandbox.policy import forbidden_attribute

try:
    import pyseccomp as sc
except (ImportError, OSError):  # pragma: no cover - libseccomp is missing; the other layers still hold
    sc = None

CLONE_NEWNET = 0x40000000
CLONE_NEWUSER = 0x10000000
CLONE_THREAD = 0x00010000
NOBODY = 65534
FILENAME = "<analysis>"


# -- the child --------------------------------------------------------------------------------


def _vm_size() -> int:
    with open("/proc/self/status", encoding="ascii") as status:
        for line in status:
            if line.startswith("VmSize:"):
                return int(line.split()[1]) * 1024
    return 0


def _limit(job: dict[str, Any]) -> None:
    memory = int(job["memory_mb"]) * 1024 * 1024
    address_space = _vm_size() + memory
    resource.setrlimit(resource.RLIMIT_AS, (address_space, address_space))
    cpu = max(1, int(job["cpu_s"] + 0.999))
    resource.setrlimit(resource.RLIMIT_CPU, (cpu, cpu + 1))
    resource.setrlimit(resource.RLIMIT_FSIZE, (0, 0))
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    resource.setrlimit(resource.RLIMIT_NOFILE, (32, 32))


def _drop_privileges() -> None:
    if os.getuid() == 0:
        os.setgroups([])
        os.setgid(NOBODY)
        os.setuid(NOBODY)


def _seccomp() -> str:
    """Install the syscall filter; return what was installed (or why not)."""
    if sc is None:  # pragma: no cover - libseccomp missing
        return "unavailable"
    deny = sc.ERRNO(errno.EPERM)
    flt = sc.SyscallFilter(defaction=sc.ALLOW)
    for name in (
        "socket socketpair connect bind listen accept accept4 execve execveat fork vfork ptrace "
        "process_vm_readv process_vm_writev kill unshare setns mount umount2 chroot pivot_root bpf "
        "keyctl add_key request_key perf_event_open userfaultfd memfd_create io_uring_setup "
        "name_to_handle_at open_by_handle_at setuid setgid setreuid setregid setresuid setresgid "
        "setgroups chmod fchmod fchmodat chown fchown lchown fchownat unlink unlinkat rename renameat "
        "renameat2 mkdir mkdirat rmdir symlink symlinkat link linkat truncate ftruncate mknod mknodat "
        "creat personality prctl seccomp"
    ).split():
        try:
            flt.add_rule(deny, name)
        except (ValueError, RuntimeError, OSError):
            continue
    flt.add_rule(sc.ERRNO(errno.ENOSYS), "clone3")
    flt.add_rule(sc.ERRNO(errno.ENOSYS), "openat2")
    flt.add_rule(deny, "clone", sc.Arg(0, sc.MASKED_EQ, CLONE_THREAD, 0))
    for flag in (os.O_WRONLY, os.O_RDWR, os.O_CREAT, os.O_TRUNC, os.O_APPEND):
        flt.add_rule(deny, "openat", sc.Arg(2, sc.MASKED_EQ, flag, flag))
        flt.add_rule(deny, "open", sc.Arg(1, sc.MASKED_EQ, flag, flag))
    flt.load()
    return "seccomp"


_LANDLOCK_CREATE_RULESET, _LANDLOCK_ADD_RULE, _LANDLOCK_RESTRICT_SELF = 444, 445, 446
_LANDLOCK_RULE_PATH_BENEATH = 1
_LANDLOCK_READ = (1 << 2) | (1 << 3)  # READ_FILE | READ_DIR
_O_PATH = 0o10000000


class _PathBeneath(ctypes.Structure):
    _pack_ = 1
    _fields_ = (("allowed_access", ctypes.c_uint64), ("parent_fd", ctypes.c_int32))


def _landlock(readable: tuple[str, ...]) -> str:
    """Allow the child no file access but reading ``readable``; no TCP; no signals outside itself.

    Landlock (Linux 5.13+) is enforced by the kernel whatever the code reaches, so a library that opens
    a path on the code's behalf (``tz="dateutil//etc/passwd"``) is stopped there too, not only by the
    audit hook. Needs no privileges; where the kernel lacks it, the other layers still hold.
    """
    if platform.machine() not in ("x86_64", "aarch64"):  # the syscall numbers above are these
        return "unavailable"
    libc = ctypes.CDLL(None, use_errno=True)
    abi = libc.syscall(_LANDLOCK_CREATE_RULESET, None, ctypes.c_size_t(0), ctypes.c_uint32(1))
    if abi < 1:
        return "unavailable"
    handled_fs = (1 << 13) - 1  # every access right of ABI 1
    if abi >= 2:
        handled_fs |= 1 << 13  # REFER
    if abi >= 3:
        handled_fs |= 1 << 14  # TRUNCATE
    if abi >= 5:
        handled_fs |= 1 << 15  # IOCTL_DEV
    fields = [handled_fs]
    if abi >= 4:
        fields.append(0b11)  # BIND_TCP | CONNECT_TCP, with no rule allowing either
    if abi >= 6:
        fields.append(0b11)  # scoped: abstract unix sockets and signals stay inside the child
    attr = (ctypes.c_uint64 * len(fields))(*fields)
    ruleset = libc.syscall(
        _LANDLOCK_CREATE_RULESET, ctypes.byref(attr), ctypes.c_size_t(ctypes.sizeof(attr)), 0
    )
    if ruleset < 0:
        return "unavailable"
    try:
        for root in readable:
            try:
                fd = os.open(root, _O_PATH | os.O_CLOEXEC)
            except OSError:
                continue
            try:
                rule = _PathBeneath(_LANDLOCK_READ, fd)
                libc.syscall(_LANDLOCK_ADD_RULE, ruleset, _LANDLOCK_RULE_PATH_BENEATH, ctypes.byref(rule), 0)
            finally:
                os.close(fd)
        if libc.syscall(_LANDLOCK_RESTRICT_SELF, ruleset, 0) != 0:
            return "unavailable"
    finally:
        os.close(ruleset)
    return f"landlock-{abi}"


_REFUSED_EVENTS = (
    "socket.",
    "subprocess.",
    "os.",
    "ctypes.",
    "shutil.",
    "pickle.",
    "marshal.",
    "urllib.",
    "http.",
    "ftplib.",
    "smtplib.",
    "webbrowser.",
    "glob.",
    "tempfile.",
    "sqlite3.",
    "code.__new__",
    "function.__new__",
    "sys.addaudithook",
    "sys.settrace",
    "sys.setprofile",
    "sys._current_frames",
    "sys.remote_exec",
    "gc.",
    "builtins.input",
    "cpython.run_",
    "import",
    "compile",
)


def _read_only_roots() -> tuple[str, ...]:
    roots: list[str] = []
    try:
        import zoneinfo

        roots.extend(zoneinfo.TZPATH)
    except ImportError:  # pragma: no cover
        pass
    try:
        import tzdata

        roots.append(os.path.dirname(tzdata.__file__))
    except ImportError:
        pass
    return tuple(os.path.realpath(root) + os.sep for root in roots)


def _namedtuple_source(source: Any) -> bool:
    """Return whether source is the one line ``collections.namedtuple`` compiles for ``__new__``."""
    if isinstance(source, bytes):
        source = source.decode("utf-8", "replace")
    return (
        isinstance(source, str)
        and source.startswith("lambda _cls, ")
        and "\n" not in source
        and source.endswith("))")
        and "_tuple_new(_cls, (" in source
    )


def _audit_hook(read_only_roots: tuple[str, ...]) -> Callable[[str, tuple[Any, ...]], None]:
    execs = [0]
    tuples = [0]

    def hook(event: str, args: tuple[Any, ...]) -> None:
        if event == "exec":
            execs[0] += 1
            if execs[0] == 1:
                return  # the code itself
            if tuples[0]:
                tuples[0] -= 1
                return
            raise PermissionError("exec is not available in the sandbox")
        if event == "compile" and _namedtuple_source(args[0]):
            tuples[0] += 1  # collections.namedtuple (df.itertuples()) evaluates one generated lambda
            return
        if event == "open":
            path, mode = args[0], args[1]
            if isinstance(path, str) and (mode in (None, "r", "rb")) and not (args[2] or 0) & 0o3:
                real = os.path.realpath(path)
                if real.startswith(read_only_roots):
                    return
            raise PermissionError(f"opening {path!r} is not allowed in the sandbox")
        if event.startswith(_REFUSED_EVENTS):
            raise PermissionError(f"{event} is not allowed in the sandbox")

    return hook


def _error(kind: str, exc: BaseException) -> dict[str, Any]:
    """Return what the child reports of an exception: its kind, type, message and line in the code."""
    return {
        "kind": kind,
        "type": type(exc).__name__,
        "message": str(exc)[:2000],
        "line": _line(exc.__traceback__),
    }


def _line(tb: Any) -> int | None:
    line = None
    for frame, lineno in traceback.walk_tb(tb):
        if frame.f_code.co_filename == FILENAME:
            line = lineno
    return line


def _child(
    job: dict[str, Any], tables: dict[str, Any], out: int, hook_roots: tuple[str, ...]
) -> dict[str, Any]:
    started = time.perf_counter()
    _limit(job)
    _drop_privileges()
    compiled = compile_restricted_exec(job["code"], FILENAME)
    if compiled.errors or compiled.code is None:
        message = "; ".join(compiled.errors) or "the code could not be compiled"
        return {"ok": False, "error": {"kind": "rejected", "type": "RestrictedPython", "message": message}}
    filters = _seccomp() + "+" + _landlock(hook_roots)
    sys.addaudithook(_audit_hook(hook_roots))
    output = guards.Output(int(job["max_stdout_chars"]))
    sys.stdout = sys.stderr = output
    warnings.simplefilter("default")
    scope = guards.namespace(tables, output, guards.helpers())
    setup_ms = (time.perf_counter() - started) * 1000
    step = time.perf_counter()
    error: dict[str, Any] | None = None
    try:
        exec(compiled.code, scope)  # noqa: S102 - the restricted code object, in its own scope
    except MemoryError:
        error = {"kind": "memory", "type": "MemoryError", "message": "the code ran out of memory"}
    except (guards.SandboxViolation, PermissionError) as exc:
        error = _error("violation", exc)
    except BaseException as exc:  # noqa: BLE001 - anything the code raised is reported to its author
        error = _error("exception", exc)
    run_ms = (time.perf_counter() - step) * 1000
    reply: dict[str, Any] = {"ok": error is None, "filters": filters}
    if error is None:
        try:
            reply["result"] = results.payload(scope.get("result"), int(job["max_rows"]))
        except results.ResultError as exc:
            reply = {"ok": False, "error": {"kind": "result", "type": "ResultError", "message": str(exc)}}
        except MemoryError:
            reply = {
                "ok": False,
                "error": {"kind": "memory", "type": "MemoryError", "message": "the result ran out of memory"},
            }
    else:
        reply["error"] = error
    reply["stdout"] = output.text()
    reply["stdout_truncated"] = output.dropped > 0
    reply["timings"] = {"setup_ms": round(setup_ms, 3), "run_ms": round(run_ms, 3)}
    return reply


def _serve_child(job: dict[str, Any], tables: dict[str, Any], out: int, roots: tuple[str, ...]) -> None:
    """Run one job in the forked child and exit; never returns."""
    code = 0
    try:
        os.closerange(0, out)
        os.closerange(out + 1, 65536)
        reply = _child(job, tables, out, roots)
        data = json.dumps(reply, allow_nan=False, default=str).encode()
        protocol.write_frame(out, protocol.RAW, data)
    except MemoryError:
        code = 3
    except BaseException:  # noqa: BLE001 - the child must exit, whatever happened
        code = 4
    os._exit(code)


# -- the worker ---------------------------------------------------------------------------------


class Worker:
    """The warm parent of sandbox children: caches tables and forks one child per run."""

    def __init__(self, requests: int, replies: int, cache_mb: int) -> None:
        self.requests = requests
        self.replies = replies
        self.cache_bytes = cache_mb * 1024 * 1024
        self.tables: OrderedDict[str, tuple[Any, int]] = OrderedDict()
        self.roots = _read_only_roots()

    def _cached(self, keys: list[str]) -> list[str]:
        return [key for key in keys if key not in self.tables]

    def _store(self, items: dict[str, Any], keep: set[str]) -> None:
        """Cache tables, then forget the least recently used ones over the budget (never ``keep``)."""
        for key, frame in items.items():
            size = int(frame.memory_usage(deep=True).sum())
            self.tables[key] = (frame, size)
        for key in list(self.tables):
            if sum(size for _, size in self.tables.values()) <= self.cache_bytes:
                break
            if key not in keep:
                del self.tables[key]

    def run(self, job: dict[str, Any]) -> None:
        """Serve one run: fetch missing tables, fork the child, wait, answer."""
        started = time.perf_counter()
        keys: dict[str, str] = job["tables"]
        missing = self._cached(list(keys.values()))
        if missing:
            protocol.send_json(self.replies, {"op": "need", "keys": missing})
            kind, payload = protocol.read_frame(self.requests)
            items = pickle.loads(payload)["items"]  # noqa: S301 - from the API process, which we trust
            self._store(items, keep=set(keys.values()))
        for key in keys.values():
            self.tables.move_to_end(key)
        tables = {name: self.tables[key][0] for name, key in keys.items()}
        read, write = os.pipe()
        forked = time.perf_counter()
        pid = os.fork()
        if pid == 0:
            os.close(read)
            _serve_child(job, tables, write, self.roots)
        os.close(write)
        status, data, signal_number = self._wait(pid, read, job)
        os.close(read)
        timings = {
            "tables_ms": round((forked - started) * 1000, 3),
            "child_ms": round((time.perf_counter() - forked) * 1000, 3),
        }
        protocol.send_json(
            self.replies, {"op": "done", "status": status, "signal": signal_number, "timings": timings}
        )
        protocol.write_frame(self.replies, protocol.RAW, data)

    def _wait(self, pid: int, read: int, job: dict[str, Any]) -> tuple[str, bytes, int | None]:
        deadline = time.monotonic() + float(job["wall_s"])
        limit = int(job["max_output_bytes"]) + protocol.HEADER.size
        chunks: list[bytes] = []
        size = 0
        status = "ok"
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                status = "timeout"
                break
            ready, _, _ = select.select([read], [], [], left)
            if not ready:
                status = "timeout"
                break
            chunk = os.read(read, 1 << 20)
            if not chunk:
                break
            chunks.append(chunk)
            size += len(chunk)
            if size > limit:
                status = "too-large"
                break
        if status != "ok":
            os.kill(pid, signal.SIGKILL)
        _, wait_status = os.waitpid(pid, 0)
        signal_number = os.WTERMSIG(wait_status) if os.WIFSIGNALED(wait_status) else None
        if status == "ok":
            if signal_number == signal.SIGXCPU:
                status = "cpu"
            elif signal_number == signal.SIGKILL:  # not ours: the kernel's out-of-memory killer
                status = "memory"
            elif signal_number == signal.SIGXFSZ:
                status = "violation"
            elif signal_number is not None:
                status = "crashed"
            elif os.WEXITSTATUS(wait_status) == 3:
                status = "memory"
            elif os.WEXITSTATUS(wait_status) != 0 or not chunks:
                status = "crashed"
        data = b"".join(chunks)
        if status != "ok":
            return status, b"", signal_number
        return status, data[protocol.HEADER.size :], signal_number


def _leave_network() -> str:
    libc = ctypes.CDLL(None, use_errno=True)
    if os.getuid() == 0 and libc.unshare(CLONE_NEWNET) == 0:
        return "namespace"
    if libc.unshare(CLONE_NEWUSER | CLONE_NEWNET) == 0:
        return "user-namespace"
    return "seccomp-only"


def _warm_up() -> None:
    """Run typical analyses once so that pandas' lazy imports happen here, not in a child."""
    from nexus.sandbox import warmup

    warmup.run()


def _refuse_names(value: Any) -> None:
    """Refuse a forbidden name handed to pandas as a string (pandas looks it up with getattr)."""
    if isinstance(value, str):
        if forbidden_attribute(value.strip()):
            raise PermissionError(f"{value!r} is not available in the sandbox")
    elif isinstance(value, (list, tuple)):
        for item in value:
            _refuse_names(item)
    elif isinstance(value, dict):
        for item in value.values():
            _refuse_names(item)


def _neuter_pandas() -> None:
    """Make pandas refuse, in this worker and its children, what the policy refuses.

    File writers and string evaluators are replaced by functions that raise. The methods that take a
    function *by name* (``df.agg("sum")``) look that name up with ``getattr`` themselves, past the
    sandbox's guards, so they are wrapped to refuse the names the guards refuse (``"_mgr"``,
    ``"__reduce_ex__"``, ``"to_csv"``, numpy's ``"load"``...), however the string was built.
    """
    import pandas as pd
    from pandas.core.groupby import DataFrameGroupBy, SeriesGroupBy
    from pandas.core.resample import Resampler
    from pandas.core.window.ewm import ExponentialMovingWindow
    from pandas.core.window.expanding import Expanding
    from pandas.core.window.rolling import Rolling, Window

    def refused(name: str) -> Callable[..., Any]:
        def method(*args: Any, **kwargs: Any) -> Any:
            raise PermissionError(f"{name} is not available in the sandbox")

        return method

    def by_name(original: Callable[..., Any]) -> Callable[..., Any]:
        @functools.wraps(original)
        def method(self: Any, *args: Any, **kwargs: Any) -> Any:
            if args:
                _refuse_names(args[0])
            for key, value in kwargs.items():
                if key != "args":
                    _refuse_names(value)
            return original(self, *args, **kwargs)

        return method

    def no_buffer(original: Callable[..., Any]) -> Callable[..., Any]:
        @functools.wraps(original)
        def method(self: Any, *args: Any, **kwargs: Any) -> Any:
            if args or kwargs.get("buf") is not None:
                raise PermissionError("to_string(buf=...) is not available in the sandbox")
            return original(self, **kwargs)

        return method

    writers = (
        "to_csv to_json to_excel to_parquet to_pickle to_sql to_hdf to_feather to_stata to_clipboard to_orc "
        "to_xml to_latex to_markdown to_html to_gbq query eval"
    ).split()
    for cls in (pd.DataFrame, pd.Series, pd.Index, DataFrameGroupBy, SeriesGroupBy):
        for name in writers:
            if hasattr(cls, name):
                setattr(cls, name, refused(f"{cls.__name__}.{name}"))
    for cls in (pd.DataFrame, pd.Series):
        cls.to_string = no_buffer(cls.to_string)
    dispatchers = ("apply", "agg", "aggregate", "transform", "map", "pipe")
    for cls in (
        pd.DataFrame,
        pd.Series,
        DataFrameGroupBy,
        SeriesGroupBy,
        Resampler,
        Rolling,
        Window,
        Expanding,
        ExponentialMovingWindow,
    ):
        for name in dispatchers:
            if name in vars(cls) or hasattr(cls, name):
                setattr(cls, name, by_name(getattr(cls, name)))


def main() -> None:
    """Serve runs on fds 0 (requests) and 1 (replies) until the API process closes the pipe."""
    requests, replies = os.dup(0), os.dup(1)
    null = os.open(os.devnull, os.O_RDWR)
    for fd in (0, 1, 2):
        os.dup2(null, fd)
    os.close(null)
    cache_mb = int(sys.argv[1]) if len(sys.argv) > 1 else 512
    try:
        network = _leave_network()
        _warm_up()
        _neuter_pandas()
        worker = Worker(requests, replies, cache_mb)
    except Exception as exc:  # noqa: BLE001 - say why to the API process instead of vanishing
        protocol.send_json(replies, {"op": "error", "detail": f"{type(exc).__name__}: {exc}"})
        return
    protocol.send_json(
        replies, {"op": "ready", "pid": os.getpid(), "network": network, "seccomp": sc is not None}
    )
    while True:
        try:
            _, payload = protocol.read_frame(requests)
        except protocol.Closed:
            return
        message = pickle.loads(payload)  # noqa: S301 - from the API process, which we trust
        if message["op"] == "ping":
            protocol.send_json(replies, {"op": "pong", "cached": len(worker.tables)})
        elif message["op"] == "run":
            worker.run(message["job"])
        elif message["op"] == "stop":
            return


if __name__ == "__main__":
    main()
