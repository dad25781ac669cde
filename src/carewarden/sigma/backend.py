"""A pySigma backend that turns a Sigma detection into one DuckDB boolean expression.

Why our own backend and not ``pysigma-backend-duckdb`` 0.1.4: that package pins pySigma < 2,
does not escape ``_`` and ``%`` in LIKE patterns (false positives by the thousand), compares
exact values case-sensitively, and turns ``not filter`` into NULL (so the rule never fires)
when the filter's field is missing. Here:

* Matching is case-insensitive as Sigma requires: each field exists twice in the evaluated
  table, lower-cased (``"f:name"``) and as written (``"r:name"``, for ``|cased``, regular
  expressions and numeric comparisons). Values are lower-cased once here, so DuckDB runs
  plain ``=``, ``contains``, ``starts_with``, ``ends_with``; only values with inner
  wildcards become ``LIKE`` patterns, with ``%``, ``_`` and ``\\`` escaped.
* ``not X`` is ``NOT coalesce(X, false)``: a missing field never makes a negated filter NULL.
* Regular expressions run with ``regexp_matches`` (RE2, a partial match, as Sigma's), with
  the rule's ``i``/``m``/``s`` flags.
* Unbound keywords search ``"f:_all"``/``"r:_all"``: every value of the event, one a line.

The expression names its columns only as ``"f:…"``/``"r:…"``, so the engine can read which
fields a rule needs from the text (:func:`referenced_columns`).
"""

from __future__ import annotations

import re
from typing import Any, ClassVar

from sigma.conditions import (
    ConditionAND,
    ConditionFieldEqualsValueExpression,
    ConditionNOT,
    ConditionOR,
    ConditionValueExpression,
)
from sigma.conversion.base import TextQueryBackend
from sigma.conversion.state import ConversionState
from sigma.exceptions import SigmaFeatureNotSupportedByBackendError
from sigma.types import (
    CompareOperators,
    SigmaCasedString,
    SigmaCompareExpression,
    SigmaFieldReference,
    SigmaNumber,
    SigmaRegularExpression,
    SigmaRegularExpressionFlag,
    SigmaString,
    SpecialChars,
)

ALL_FIELD = "_all"
_COLUMN = re.compile(r'"([fr]):((?:[^"]|"")+)"')
_FLAGS = {
    SigmaRegularExpressionFlag.IGNORECASE: "i",
    SigmaRegularExpressionFlag.MULTILINE: "m",
    SigmaRegularExpressionFlag.DOTALL: "s",
}


def literal(text: str) -> str:
    """A DuckDB string literal (backslashes are not escapes in standard SQL strings)."""
    return "'" + text.replace("'", "''") + "'"


def column(field: str, raw: bool = False) -> str:
    """The quoted column of a Sigma field: lower-cased values, or values as written."""
    return '"' + ("r:" if raw else "f:") + field.lower().replace('"', '""') + '"'


def referenced_columns(expression: str) -> set[tuple[str, bool]]:
    """(field, raw) for every column an expression of this backend reads."""
    return {(name.replace('""', '"'), kind == "r") for kind, name in _COLUMN.findall(expression)}


def _like_escape(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def string_match(col: str, value: SigmaString, lower: bool) -> str:
    """A SQL test of ``col`` against a Sigma string (wildcards ``*``/``?``)."""
    parts: list[str | SpecialChars] = []
    for part in value.s:
        if isinstance(part, str):
            parts.append(part.lower() if lower else part)
        elif isinstance(part, SpecialChars):
            parts.append(part)
        else:
            raise SigmaFeatureNotSupportedByBackendError(
                "placeholders (%name%) must be replaced before conversion"
            )
    plain = [p for p in parts if isinstance(p, str)]
    specials = [p for p in parts if not isinstance(p, str)]
    if not specials:
        return f"{col} = {literal(''.join(plain))}"
    multi = SpecialChars.WILDCARD_MULTI
    inner = parts[1:-1] if len(parts) > 1 else []
    if all(isinstance(p, str) for p in inner) and specials:
        body = "".join(p for p in parts if isinstance(p, str))
        starts = parts[0] == multi
        ends = parts[-1] == multi
        only_edges = len(specials) == int(starts) + int(ends)
        if only_edges and body:
            if starts and ends:
                return f"contains({col}, {literal(body)})"
            if ends:
                return f"starts_with({col}, {literal(body)})"
            return f"ends_with({col}, {literal(body)})"
        if only_edges:  # '*' alone: any value
            return f"{col} IS NOT NULL"
    pattern = "".join(
        _like_escape(p) if isinstance(p, str) else ("%" if p == multi else "_") for p in parts
    )
    return f"{col} LIKE {literal(pattern)} ESCAPE '\\'"


class DuckDBBackend(TextQueryBackend):
    """Sigma detections as DuckDB boolean expressions over ``"f:…"``/``"r:…"`` columns."""

    name: ClassVar[str] = "Carewarden DuckDB"
    formats: ClassVar[dict[str, str]] = {"default": "DuckDB boolean expression"}
    requires_pipeline: ClassVar[bool] = False

    group_expression: ClassVar[str] = "({expr})"
    or_token: ClassVar[str] = "OR"
    and_token: ClassVar[str] = "AND"
    not_token: ClassVar[str] = "NOT"
    eq_token: ClassVar[str] = " = "
    str_quote: ClassVar[str] = "'"
    field_null_expression: ClassVar[str] = "{field} IS NULL"
    convert_or_as_in: ClassVar[bool] = True
    convert_and_as_in: ClassVar[bool] = False
    in_expressions_allow_wildcards: ClassVar[bool] = False
    field_in_list_expression: ClassVar[str] = "{field} IN ({list})"
    or_in_operator: ClassVar[str] = "IN"
    list_separator: ClassVar[str] = ", "
    compare_op_expression: ClassVar[str] = "TRY_CAST({field} AS DOUBLE) {operator} {value}"
    compare_operators: ClassVar[dict[CompareOperators, str]] = {
        CompareOperators.LT: "<",
        CompareOperators.LTE: "<=",
        CompareOperators.GT: ">",
        CompareOperators.GTE: ">=",
        CompareOperators.NEQ: "<>",
    }

    # -- boolean structure -------------------------------------------------------------------
    def convert_condition_not(self, cond: ConditionNOT, state: ConversionState) -> Any:
        inner = self.convert_condition(cond.args[0], state)
        return f"NOT coalesce(({inner}), false)"

    def decide_convert_condition_as_in_expression(
        self, cond: ConditionOR | ConditionAND, state: ConversionState
    ) -> bool:
        if not isinstance(cond, ConditionOR) or len(cond.args) < 2:
            return False
        if not super().decide_convert_condition_as_in_expression(cond, state):
            return False
        return not any(
            isinstance(a, ConditionFieldEqualsValueExpression)
            and isinstance(a.value, SigmaCasedString)
            for a in cond.args
        )

    def convert_condition_as_in_expression(
        self, cond: ConditionOR | ConditionAND, state: ConversionState
    ) -> Any:
        values = []
        field = ""
        for arg in cond.args:
            assert isinstance(arg, ConditionFieldEqualsValueExpression)
            field = arg.field
            value = arg.value
            if isinstance(value, SigmaString):
                values.append(literal(value.to_plain().lower()))
            else:
                values.append(literal(str(value.to_plain()).lower()))
        return f"{column(field)} IN ({', '.join(values)})"

    # -- field = value -------------------------------------------------------------------
    def convert_condition_field_eq_val_str(
        self, cond: ConditionFieldEqualsValueExpression, state: ConversionState
    ) -> Any:
        assert isinstance(cond.value, SigmaString)
        return string_match(column(cond.field), cond.value, lower=True)

    def convert_condition_field_eq_val_str_case_sensitive(
        self, cond: ConditionFieldEqualsValueExpression, state: ConversionState
    ) -> Any:
        assert isinstance(cond.value, SigmaString)
        return string_match(column(cond.field, raw=True), cond.value, lower=False)

    def convert_condition_field_eq_val_num(
        self, cond: ConditionFieldEqualsValueExpression, state: ConversionState
    ) -> Any:
        assert isinstance(cond.value, SigmaNumber)
        return f"{column(cond.field)} = {literal(str(cond.value.number).lower())}"

    def convert_condition_field_eq_val_bool(
        self, cond: ConditionFieldEqualsValueExpression, state: ConversionState
    ) -> Any:
        return f"{column(cond.field)} = {literal('true' if cond.value.boolean else 'false')}"  # type: ignore[attr-defined]

    def convert_condition_field_eq_val_null(
        self, cond: ConditionFieldEqualsValueExpression, state: ConversionState
    ) -> Any:
        col = column(cond.field)
        return f"({col} IS NULL OR {col} = '')"

    def convert_condition_field_exists(
        self, cond: ConditionFieldEqualsValueExpression, state: ConversionState
    ) -> Any:
        return f"{column(cond.field)} IS NOT NULL"

    def convert_condition_field_not_exists(
        self, cond: ConditionFieldEqualsValueExpression, state: ConversionState
    ) -> Any:
        return f"{column(cond.field)} IS NULL"

    def convert_condition_field_eq_val_re(
        self, cond: ConditionFieldEqualsValueExpression, state: ConversionState
    ) -> Any:
        assert isinstance(cond.value, SigmaRegularExpression)
        return _regex(column(cond.field, raw=True), cond.value)

    def convert_condition_field_compare_op_val(
        self, cond: ConditionFieldEqualsValueExpression, state: ConversionState
    ) -> Any:
        assert isinstance(cond.value, SigmaCompareExpression)
        number = cond.value.number.number
        operator = self.compare_operators[cond.value.op]
        return f"TRY_CAST({column(cond.field, raw=True)} AS DOUBLE) {operator} {number}"

    def convert_condition_field_eq_field(
        self, cond: ConditionFieldEqualsValueExpression, state: ConversionState
    ) -> Any:
        assert isinstance(cond.value, SigmaFieldReference)
        left, right = column(cond.field), column(cond.value.field)
        if cond.value.starts_with and cond.value.ends_with:
            return f"contains({left}, {right})"
        if cond.value.starts_with:
            return f"ends_with({left}, {right})"
        if cond.value.ends_with:
            return f"starts_with({left}, {right})"
        return f"{left} = {right}"

    def convert_condition_field_eq_val_timestamp_part(
        self, cond: ConditionFieldEqualsValueExpression, state: ConversionState
    ) -> Any:
        raise SigmaFeatureNotSupportedByBackendError("timestamp-part modifiers (|hour …)")

    # -- keywords (values without a field) ---------------------------------------------------
    def convert_condition_val_str(
        self, cond: ConditionValueExpression, state: ConversionState
    ) -> Any:
        assert isinstance(cond.value, SigmaString)
        value = cond.value
        if not value.startswith(SpecialChars.WILDCARD_MULTI):
            value = SpecialChars.WILDCARD_MULTI + value
        if not value.endswith(SpecialChars.WILDCARD_MULTI):
            value += SpecialChars.WILDCARD_MULTI
        return string_match(column(ALL_FIELD), value, lower=True)

    def convert_condition_val_num(
        self, cond: ConditionValueExpression, state: ConversionState
    ) -> Any:
        return f"contains({column(ALL_FIELD)}, {literal(str(cond.value.to_plain()))})"

    def convert_condition_val_re(
        self, cond: ConditionValueExpression, state: ConversionState
    ) -> Any:
        assert isinstance(cond.value, SigmaRegularExpression)
        return _regex(column(ALL_FIELD, raw=True), cond.value)

    def finish_query(self, rule: Any, query: Any, state: ConversionState) -> Any:
        return query

    def finalize_query_default(
        self, rule: Any, query: Any, index: int, state: ConversionState
    ) -> Any:
        return query


def _regex(col: str, value: SigmaRegularExpression) -> str:
    flags = "".join(sorted(_FLAGS[f] for f in value.flags if f in _FLAGS))
    pattern = (f"(?{flags})" if flags else "") + value.to_plain()
    return f"regexp_matches({col}, {literal(pattern)})"
