"""The one way to put a value into a Delta predicate (delta-rs ``delete``, Spark ``replaceWhere``).

Both engines parse the predicate as SQL, but they disagree on backslashes (Spark treats one as
an escape, DataFusion does not), so no quoting rule is safe for both once a backslash is
allowed. Literals are therefore quoted by doubling single quotes and refused outright if they
hold a backslash or a control character; column names must be plain identifiers. A value can
then only ever be compared, never widen the predicate.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

_IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,127}$")
_UNSAFE = re.compile(r"[\\\x00-\x1f\x7f]")


class UnsafePredicateValue(ValueError):
    """A value or column name that cannot be put into a predicate safely."""


def sql_literal(value: str) -> str:
    """``value`` as a single-quoted SQL string literal both engines read the same way."""
    if not isinstance(value, str):
        raise UnsafePredicateValue(f"predicate values must be strings, not {type(value).__name__}")
    if _UNSAFE.search(value):
        raise UnsafePredicateValue(f"{value!r} holds a backslash or control character")
    return "'" + value.replace("'", "''") + "'"


def _column(name: str) -> str:
    if not _IDENTIFIER.match(name):
        raise UnsafePredicateValue(f"{name!r} is not a plain column name")
    return name


def column_equals(column: str, value: str) -> str:
    """``column = 'value'``."""
    return f"{_column(column)} = {sql_literal(value)}"


def column_in(column: str, values: Iterable[str]) -> str:
    """``column IN ('a', 'b')``; an empty set matches nothing."""
    literals = sorted({sql_literal(v) for v in values})
    if not literals:
        return "1 = 0"
    return f"{_column(column)} IN ({', '.join(literals)})"
