"""A restricted environment for BPMN scripts and conditions.

SpiffWorkflow runs scripts with plain ``eval``/``exec``; emptying ``__builtins__`` does not stop
``().__class__.__bases__[0].__subclasses__()``.  Here every script and expression is compiled
with RestrictedPython and a TowerFlow policy on top of it:

* names and attributes starting with ``_`` are refused (RestrictedPython), so are ``import``,
  ``class``, ``eval``/``exec`` and ``nonlocal``;
* attribute, item and iteration access go through guards; ``getattr``/``hasattr`` and
  ``str.format``/``format_map`` refuse ``_`` names at run time too;
* builtins are a curated list (no ``open``, ``type``, ``object``, ``globals``...; calling one
  of those raises :class:`SandboxError` saying it is not available);
* scripts may change items of dicts and lists (the task data) but no object's attributes;
  ``SystemExit`` and the other non-``Exception`` errors cannot be raised;
* the operations that can take minutes or gigabytes in a single C call (``**``, ``<<``,
  ``*`` on big integers or repeated sequences, ``range``) are size checked;
* compiled code is cached (LRU keyed by source and mode), so a condition is compiled once.

Time limit.  The policy inserts a call to ``_tick_()`` at the start of every loop body, every
function and lambda body, every comprehension clause and every ``except``/``finally`` block.
``_tick_`` compares ``time.monotonic()`` with the deadline of the current run and raises
:class:`SandboxError` once it has passed.  Python code cannot run for long without going
through a loop or a call, so this bounds every script; a script that catches the error hits
the tick at the top of its handler and the error is raised again, so it cannot swallow it.
Straight-line code (most conditions) never calls ``_tick_``, so its overhead is zero; a loop
pays one function call per iteration.  It works in any thread (no signals, no
``sys.settrace``, so debuggers and coverage keep working).  A single long C call (for example
``'x'.ljust(10**10)``) cannot be interrupted by any in-process means; run workers with a
memory limit.  Deep recursion hits Python's recursion limit and is reported as a
:class:`SandboxError` as well.

Measured (CPython 3.11, one development machine): 10,000 evaluations of
``amount > 1000 and region == 'north'`` take about 7 ms with or without the limit (SpiffWorkflow's
own environment: about 89 ms, as it compiles every time); a loop pays about 55 ns per iteration
for the deadline check.
"""

from __future__ import annotations

import _string
import ast
import copy
import functools
import operator
import re
import string
import time
from collections.abc import Callable
from datetime import date, datetime, timedelta
from decimal import Decimal
from types import CodeType
from typing import Any, NamedTuple

from RestrictedPython import compile_restricted_eval, compile_restricted_exec
from RestrictedPython.Guards import (
    guarded_iter_unpack_sequence,
    guarded_unpack_sequence,
    safe_builtins,
)
from RestrictedPython.PrintCollector import PrintCollector
from RestrictedPython.transformer import INSPECT_ATTRIBUTES, RestrictingNodeTransformer
from SpiffWorkflow.bpmn.script_engine.python_environment import BasePythonScriptEngineEnvironment

DEFAULT_TIME_LIMIT = 2.0
MAX_INT_BITS = 100_000  # about 30,000 decimal digits
MAX_SEQUENCE_LENGTH = 1_000_000
MAX_RANGE_LENGTH = 1_000_000
CACHE_SIZE = 2048

# Compiled code is named '<string>' so that SpiffWorkflow finds the failing line in tracebacks.
_FILENAME = "<string>"
_TICK = "_tick_"


class SandboxError(Exception):
    """A script or expression did something the sandbox refuses.

    ``lineno`` is the offending line when the refusal came from checking the source.
    """

    def __init__(self, message: str, lineno: int | None = None) -> None:
        super().__init__(message)
        self.lineno = lineno


# --------------------------------------------------------------------------------------------
# Compile-time checks


class _Policy(RestrictingNodeTransformer):
    """RestrictedPython's policy, minus imports and classes, plus time ticks and size guards."""

    def visit_Import(self, node: ast.Import) -> ast.AST:
        self.error(node, "import statements are not allowed")
        return node

    def visit_ImportFrom(self, node: ast.ImportFrom) -> ast.AST:
        self.error(node, "import statements are not allowed")
        return node

    def visit_ClassDef(self, node: ast.ClassDef) -> ast.AST:
        self.error(node, "class definitions are not allowed")
        return node

    def visit_While(self, node: ast.While) -> ast.AST:
        node = self.node_contents_visit(node)
        node.body.insert(0, _tick_statement(node))
        return node

    def visit_For(self, node: ast.For) -> ast.AST:
        node = self.guard_iter(node)
        node.body.insert(0, _tick_statement(node))
        return node

    def visit_FunctionDef(self, node: ast.FunctionDef) -> ast.AST:
        node = super().visit_FunctionDef(node)
        node.body.insert(0, _tick_statement(node))
        return node

    def visit_Lambda(self, node: ast.Lambda) -> ast.AST:
        node = super().visit_Lambda(node)
        # `_tick_()` returns True, so `_tick_() and body` is the body's value.
        node.body = _located(ast.BoolOp(op=ast.And(), values=[_tick_call(node), node.body]), node)
        return node

    def visit_comprehension(self, node: ast.comprehension) -> ast.AST:
        node = super().visit_comprehension(node)
        node.ifs.insert(0, _tick_call(node.iter))
        return node

    def visit_ExceptHandler(self, node: ast.ExceptHandler) -> ast.AST:
        node = super().visit_ExceptHandler(node)
        node.body.insert(0, _tick_statement(node))
        return node

    def visit_Try(self, node: ast.Try) -> ast.AST:
        node = super().visit_Try(node)
        if node.finalbody:
            node.finalbody.insert(0, _tick_statement(node.finalbody[0]))
        return node

    def visit_BinOp(self, node: ast.BinOp) -> ast.AST:
        node = self.node_contents_visit(node)
        guard = _BINOP_GUARD_NAMES.get(type(node.op))
        if guard is None:
            return node
        call = ast.Call(func=ast.Name(guard, ast.Load()), args=[node.left, node.right], keywords=[])
        return _located(call, node)


_BINOP_GUARD_NAMES = {ast.Pow: "_pow_", ast.Mult: "_mul_", ast.LShift: "_lshift_"}


def _located(new: ast.AST, old: ast.AST) -> ast.AST:
    ast.copy_location(new, old)
    return ast.fix_missing_locations(new)


def _tick_call(where: ast.AST) -> ast.expr:
    return _located(ast.Call(func=ast.Name(_TICK, ast.Load()), args=[], keywords=[]), where)


def _tick_statement(where: ast.AST) -> ast.stmt:
    return _located(ast.Expr(value=_tick_call(where)), where)


class _Compiled(NamedTuple):
    code: CodeType
    ticks: bool  # False for straight-line code: no deadline needed at all


def check_script(source: str) -> str | None:
    """Return None when ``source`` compiles as a sandboxed script, else why it does not."""
    return _compile(source, "exec")[1]


def check_expression(source: str) -> str | None:
    """Return None when ``source`` compiles as a sandboxed expression, else why it does not."""
    return _compile(source, "eval")[1]


@functools.lru_cache(maxsize=CACHE_SIZE)
def _compile(source: str, mode: str) -> tuple[_Compiled | None, str | None]:
    """(code, None) or (None, message); cached, so a condition is compiled once per process."""
    if not isinstance(source, str):
        return None, f"expected source text, got {type(source).__name__}"
    if mode == "eval":
        source = source.lstrip(" \t")  # as the builtin eval() does
    try:
        tree = ast.parse(source, _FILENAME, mode)
        compiler = compile_restricted_eval if mode == "eval" else compile_restricted_exec
        result = compiler(tree, filename=_FILENAME, policy=_Policy)
    except SyntaxError as err:
        where = f"line {err.lineno}: " if err.lineno else ""
        return None, f"{where}{type(err).__name__}: {err.msg}"
    except (RecursionError, MemoryError):
        return None, "the code is nested too deeply"
    except ValueError as err:  # e.g. a NUL character in the source
        return None, str(err)
    if result.errors:
        return None, "; ".join(_plain(message) for message in result.errors)
    return _Compiled(result.code, _uses_tick(result.code)), None


def _uses_tick(code: CodeType) -> bool:
    """Whether the policy put a `_tick_()` anywhere in the code or its nested functions."""
    if _TICK in code.co_names:
        return True
    return any(_uses_tick(const) for const in code.co_consts if isinstance(const, CodeType))


def _plain(message: str) -> str:
    """RestrictedPython writes 'Line 3: ...'; keep our messages in one style."""
    if message.startswith("Line "):
        message = "line " + message[len("Line "):]
    return message.rstrip(".")


def _compiled(source: str, mode: str) -> _Compiled:
    compiled, error = _compile(source, mode)
    if compiled is None:
        line = re.match(r"line (\d+):", error)
        raise SandboxError(error, int(line.group(1)) if line else None)
    return compiled


# --------------------------------------------------------------------------------------------
# Run-time guards


def _refuse_underscore(name: Any) -> None:
    if not isinstance(name, str):
        raise TypeError("attribute name must be a string")
    if name.startswith("_"):
        raise SandboxError(f'access to "{name}" is not allowed: names starting with "_" are private')
    if name in INSPECT_ATTRIBUTES:
        raise SandboxError(f'access to "{name}" is not allowed: it exposes interpreter internals')


class _SafeFormatter(string.Formatter):
    """str.format whose field names ('{0.attr[key]}') go through the sandbox's guards."""

    def get_field(self, field_name: str, args: Any, kwargs: Any) -> tuple[Any, Any]:
        first, rest = _field_name_split(field_name)
        obj = self.get_value(first, args, kwargs)
        for is_attribute, key in rest:
            obj = _guarded_getattr(obj, key) if is_attribute else obj[key]
        return obj, first


def _field_name_split(field_name: str) -> tuple[Any, Any]:
    """The parser string.Formatter itself uses (trusted code, not reachable from scripts)."""
    return _string.formatter_field_name_split(field_name)


_FORMATTER = _SafeFormatter()


def _safe_format(template: str, /, *args: Any, **kwargs: Any) -> str:
    return _FORMATTER.vformat(template, args, kwargs)


def _safe_format_map(template: str, mapping: Any, /) -> str:
    return _FORMATTER.vformat(template, (), mapping)


_NO_DEFAULT = object()


def _guarded_getattr(obj: Any, name: Any, default: Any = _NO_DEFAULT) -> Any:
    """getattr that refuses private names and routes str.format through the safe formatter."""
    _refuse_underscore(name)
    if name in ("format", "format_map") and _is_str(obj):
        return _bound_format(obj, name)
    if default is _NO_DEFAULT:
        return getattr(obj, name)
    return getattr(obj, name, default)


def _is_str(obj: Any) -> bool:
    return isinstance(obj, str) or (isinstance(obj, type) and issubclass(obj, str))


def _bound_format(obj: Any, name: str) -> Callable[..., str]:
    method = _safe_format if name == "format" else _safe_format_map
    return method if isinstance(obj, type) else functools.partial(method, obj)


def _guarded_hasattr(obj: Any, name: Any) -> bool:
    _refuse_underscore(name)
    return hasattr(obj, name)


def _guarded_getitem(obj: Any, key: Any) -> Any:
    return obj[key]


def _guarded_write(obj: Any) -> Any:
    """Scripts may change items of lists and dicts (task data), not attributes of objects."""
    if isinstance(obj, (dict, list)):
        return obj
    raise SandboxError(f"changing a {type(obj).__name__} object is not allowed")


def _apply(func: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    return func(*args, **kwargs)


def _int_bits(value: Any) -> int:
    return abs(value).bit_length() if isinstance(value, int) else 0


def _too_big(what: str) -> SandboxError:
    return SandboxError(f"the result of {what} would be too large")


def _guarded_pow(base: Any, exponent: Any, modulo: Any = None) -> Any:
    if modulo is None and isinstance(exponent, int) and _int_bits(base) > 1:
        if exponent * _int_bits(base) > MAX_INT_BITS:
            raise _too_big("**")
    return pow(base, exponent, modulo)


def _guarded_mul(left: Any, right: Any) -> Any:
    if isinstance(left, int) and isinstance(right, int):
        if _int_bits(left) + _int_bits(right) > MAX_INT_BITS:
            raise _too_big("*")
    elif isinstance(left, int) or isinstance(right, int):
        count, sequence = (left, right) if isinstance(left, int) else (right, left)
        if isinstance(sequence, (str, bytes, list, tuple)) and count * len(sequence) > MAX_SEQUENCE_LENGTH:
            raise _too_big("*")
    return left * right


def _guarded_lshift(left: Any, right: Any) -> Any:
    if isinstance(right, int) and _int_bits(left) + right > MAX_INT_BITS:
        raise _too_big("<<")
    return left << right


_INPLACE = {
    "+=": operator.iadd,
    "-=": operator.isub,
    "*=": _guarded_mul,
    "/=": operator.itruediv,
    "//=": operator.ifloordiv,
    "%=": operator.imod,
    "**=": _guarded_pow,
    "<<=": _guarded_lshift,
    ">>=": operator.irshift,
    "&=": operator.iand,
    "|=": operator.ior,
    "^=": operator.ixor,
    "@=": operator.imatmul,
}


def _inplace(op: str, target: Any, value: Any) -> Any:
    return _INPLACE[op](target, value)


def _guarded_range(*args: int) -> range:
    result = range(*args)
    if len(result) > MAX_RANGE_LENGTH:
        raise SandboxError(f"range() of more than {MAX_RANGE_LENGTH:,} numbers is not allowed")
    return result


def _unavailable(name: str) -> Callable[..., Any]:
    def refuse(*args: Any, **kwargs: Any) -> Any:
        raise SandboxError(f"{name}() is not available in scripts (no file, network or interpreter access)")

    refuse.__name__ = name
    return refuse


_UNAVAILABLE = (
    "__import__", "open", "eval", "exec", "compile", "globals", "locals", "vars", "dir", "input",
    "breakpoint", "help", "exit", "quit", "type", "object", "super", "memoryview", "iter",
    "setattr", "delattr", "classmethod", "staticmethod", "property", "bytearray",
)

# Raising these would escape the engine's `except Exception` error handling.
_BASE_EXCEPTIONS_ONLY = ("BaseException", "KeyboardInterrupt", "SystemExit", "GeneratorExit")

_HARMLESS = {
    "len": len, "min": min, "max": max, "sum": sum, "sorted": sorted, "reversed": reversed,
    "round": round, "abs": abs, "any": any, "all": all, "enumerate": enumerate, "zip": zip,
    "map": map, "filter": filter, "dict": dict, "list": list, "set": set, "frozenset": frozenset,
    "tuple": tuple, "str": str, "int": int, "float": float, "bool": bool, "isinstance": isinstance,
    "datetime": datetime, "date": date, "timedelta": timedelta, "Decimal": Decimal,
}


def _build_builtins() -> dict[str, Any]:
    builtins = {name: value for name, value in safe_builtins.items() if name not in _BASE_EXCEPTIONS_ONLY}
    del builtins["__build_class__"]
    builtins.update({name: _unavailable(name) for name in _UNAVAILABLE})
    builtins.update(_HARMLESS)
    builtins.update(
        range=_guarded_range,
        pow=_guarded_pow,
        getattr=_guarded_getattr,
        hasattr=_guarded_hasattr,
        _getattr_=_guarded_getattr,
        _getitem_=_guarded_getitem,
        _getiter_=iter,
        _iter_unpack_sequence_=guarded_iter_unpack_sequence,
        _unpack_sequence_=guarded_unpack_sequence,
        _write_=_guarded_write,
        _inplacevar_=_inplace,
        _apply_=_apply,
        _print_=PrintCollector,
        _pow_=_guarded_pow,
        _mul_=_guarded_mul,
        _lshift_=_guarded_lshift,
    )
    return builtins


SAFE_BUILTINS: dict[str, Any] = _build_builtins()


# --------------------------------------------------------------------------------------------
# The environment


def _no_limit() -> bool:
    return True


def _make_tick(time_limit: float | None) -> Callable[[], bool]:
    """The per-run deadline check the compiled code calls in loops, calls and handlers."""
    if time_limit is None:
        return _no_limit
    deadline = time.monotonic() + time_limit

    def tick() -> bool:
        if time.monotonic() > deadline:
            raise SandboxError(f"script exceeded its time limit of {time_limit:g} s")
        return True

    return tick


class SandboxEnvironment(BasePythonScriptEngineEnvironment):
    """Drop-in for SpiffWorkflow's TaskDataEnvironment that runs code in the sandbox.

    ``time_limit`` is in seconds per evaluation or execution; None switches it off.
    """

    def __init__(self, environment_globals: dict[str, Any] | None = None,
                 time_limit: float | None = DEFAULT_TIME_LIMIT) -> None:
        super().__init__(environment_globals)
        self.time_limit = time_limit

    def evaluate(self, expression: str, context: dict[str, Any],
                 external_context: dict[str, Any] | None = None) -> Any:
        compiled = _compiled(expression, "eval")
        scope = copy.copy(self.globals)
        scope.update(external_context or {})
        scope.update(context)
        scope["__builtins__"] = SAFE_BUILTINS
        if compiled.ticks:
            scope[_TICK] = _make_tick(self.time_limit)
        return self._run(eval, compiled.code, scope)

    def execute(self, script: str, context: dict[str, Any],
                external_context: dict[str, Any] | None = None) -> bool:
        external_context = external_context or {}
        self._check_for_overwrite(context, external_context)
        compiled = _compiled(script, "exec")
        context.update(self.globals)
        context.update(external_context)
        context["__builtins__"] = SAFE_BUILTINS
        if compiled.ticks:
            context[_TICK] = _make_tick(self.time_limit)
        try:
            self._run(exec, compiled.code, context)
        finally:
            self._remove_globals_and_functions(context, external_context)
        return True

    def call_service(self, context: dict[str, Any], **kwargs: Any) -> Any:
        raise NotImplementedError(
            "service calls are not part of the script sandbox; the engine's script engine must "
            "override call_service")

    @staticmethod
    def _run(runner: Callable[..., Any], code: Any, scope: dict[str, Any]) -> Any:
        try:
            return runner(code, scope)
        except RecursionError:
            raise SandboxError("script exceeded the maximum recursion depth") from None

    def _check_for_overwrite(self, context: dict[str, Any], external_context: dict[str, Any]) -> None:
        """Fail clearly when task data would hide a predefined function (as SpiffWorkflow does)."""
        clashes = set(self.globals).intersection(context) | set(external_context).intersection(context)
        if clashes:
            raise ValueError(
                "task data overwrites predefined function(s); rename these variables or fields: "
                + ", ".join(sorted(clashes)))

    def _remove_globals_and_functions(self, context: dict[str, Any],
                                      external_context: dict[str, Any]) -> None:
        """Leave only data behind: no builtins, helpers, functions or the tick."""
        for key in list(context):
            if (key in ("__builtins__", _TICK) or callable(context[key])
                    or key in self.globals or key in external_context):
                del context[key]
