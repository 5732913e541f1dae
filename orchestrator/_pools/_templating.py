"""Job-template placeholders: finding them and filling them in.

A job template is a JSON-like structure (dicts, lists, strings, numbers, booleans and None)
whose strings may hold placeholders written ``{{ name }}``, with or without spaces inside
the braces. A name is made of letters, digits and ``_ . - [ ] $``. Four kinds exist:

* a variable, ``{{ image }}`` or a path into one, ``{{ settings.volumes[0] }}``, filled
  from the values given to :func:`apply_values`;
* an environment variable, ``{{ $HOME }}``, read from an environment mapping;
* a flow-run context field, ``{{ ctx.flow_run.name }}``, which :func:`apply_values`
  leaves alone and :func:`render_context` fills when a job is prepared for a flow run;
* a block or workspace-variable reference (``{{ orchestrator.blocks.<type>.<name> }}``,
  ``{{ orchestrator.variables.<name> }}``, or the same under ``prefect.``), which this
  library does not resolve: it is left as written.

A part of a template wrapped in :class:`Verbatim` is not a template: it is inserted as it
stands. Job configurations wrap what job variables give this way (see ``_job_values``),
so only the text a work pool's operator wrote is ever rendered.

Every function here is pure: it builds new containers and never changes its input.
"""

from __future__ import annotations

import enum
import os
import re
from collections.abc import Collection, Mapping
from typing import Any, Final, final

import attrs

from .._core._errors import TemplateError

__all__ = [
    "Placeholder",
    "PlaceholderKind",
    "Verbatim",
    "apply_values",
    "environment_reads",
    "find_placeholders",
    "render_context",
]

_PLACEHOLDER: Final = re.compile(r"\{\{\s*([\w.\-\[\]$]+)\s*\}\}")
_REFERENCE_PREFIXES: Final = (
    "orchestrator.blocks.",
    "orchestrator.variables.",
    "prefect.blocks.",
    "prefect.variables.",
)
_CONTEXT_PREFIX: Final = "ctx."
_ENVIRONMENT_PREFIX: Final = "$"


@final
class PlaceholderKind(enum.Enum):
    """What a placeholder refers to, which decides who fills it in."""

    #: A template variable or a path into one: ``{{ name }}``, ``{{ a.b[0] }}``.
    VARIABLE = "variable"
    #: An environment variable: ``{{ $NAME }}``.
    ENVIRONMENT = "environment"
    #: A flow-run context field, filled at prepare time: ``{{ ctx.flow.name }}``.
    CONTEXT = "context"
    #: A block or workspace-variable reference, which is not supported and left as written.
    REFERENCE = "reference"


@final
@attrs.frozen
class Placeholder:
    """One placeholder found in a template.

    Args:
        text: the placeholder exactly as written, braces and spaces included.
        name: what is between the braces, without the spaces.
        kind: what the name refers to.
    """

    text: str
    name: str
    kind: PlaceholderKind


@final
@attrs.frozen
class Verbatim:
    """A part of a template that is data, not template: :func:`apply_values` inserts
    ``value`` as it stands, without looking for placeholders in it.

    Args:
        value: anything; it is inserted as given (not copied).
    """

    value: object


def _kind(name: str) -> PlaceholderKind:
    if name.startswith(_ENVIRONMENT_PREFIX):
        return PlaceholderKind.ENVIRONMENT
    if name.startswith(_CONTEXT_PREFIX):
        return PlaceholderKind.CONTEXT
    if name.startswith(_REFERENCE_PREFIXES):
        return PlaceholderKind.REFERENCE
    return PlaceholderKind.VARIABLE


def find_placeholders(template: object) -> tuple[Placeholder, ...]:
    """List the placeholders in a template, each once, in the order they first appear.

    Strings are searched; the values of mappings and the items of lists and tuples are
    searched recursively; anything else holds no placeholder.

    Args:
        template: a string or a JSON-like structure.

    Returns:
        The distinct placeholders (two spellings of one name, such as ``{{a}}`` and
        ``{{ a }}``, are two placeholders).

    Example:
        >>> [p.name for p in find_placeholders({"cmd": ["run", "{{ script }}"], "n": 3})]
        ['script']
    """
    found: dict[Placeholder, None] = {}
    pending: list[object] = [template]
    while pending:
        node = pending.pop()
        if isinstance(node, str):
            for match in _PLACEHOLDER.finditer(node):
                name = match.group(1)
                found.setdefault(Placeholder(match.group(0), name, _kind(name)))
        elif isinstance(node, Mapping):
            pending.extend(reversed(list(node.values())))
        elif isinstance(node, list | tuple):
            pending.extend(reversed(node))
    return tuple(found)


class _Missing(enum.Enum):
    MISSING = enum.auto()


_MISSING: Final = _Missing.MISSING


def _split_path(name: str) -> list[str]:
    # "a.b[0][1]" -> ["a", "b", "0", "1"]
    return name.replace("[", ".").replace("]", "").split(".")


def _follow(value: object, keys: list[str]) -> object:
    """Walk ``keys`` down from ``value``; mappings take keys, lists take digit indexes."""
    for key in keys:
        if isinstance(value, Mapping):
            if key not in value:
                return _MISSING
            value = value[key]
        elif (
            isinstance(value, list | tuple)
            and key.isascii()
            and key.isdigit()
            and int(key) < len(value)
        ):
            value = value[int(key)]
        else:
            return _MISSING
    return value


def _format_path(path: tuple[str | int, ...]) -> str:
    text = ""
    for part in path:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else part)
    return text or "the template itself"


@final
class _Renderer:
    """One :func:`apply_values` call: the inputs and the unresolved placeholders so far."""

    __slots__ = ("environ", "optional", "strict", "unresolved", "values")

    def __init__(
        self,
        values: Mapping[str, Any],
        environ: Mapping[str, str],
        strict: bool,
        optional: frozenset[str],
    ) -> None:
        self.values = values
        self.environ = environ
        self.strict = strict
        self.optional = optional
        self.unresolved: list[str] = []

    def report(self, path: tuple[str | int, ...], text: str, why: str) -> None:
        if self.strict:
            self.unresolved.append(f"{text} at {_format_path(path)} ({why})")

    def walk(self, node: object, path: tuple[str | int, ...]) -> object:
        if node is None or isinstance(node, bool | int | float):
            return node
        if isinstance(node, Verbatim):
            return node.value
        if isinstance(node, str):
            return self.render(node, path) if "{{" in node else node
        if isinstance(node, Mapping):
            if "$ref" in node:
                self.report(path, '{"$ref": ...}', "block references are not supported")
            rendered: dict[object, object] = {}
            for key, value in node.items():
                new = self.walk(value, (*path, str(key)))
                if new is not _MISSING:
                    rendered[key] = new
            return rendered
        if isinstance(node, list | tuple):
            items = (self.walk(item, (*path, index)) for index, item in enumerate(node))
            return [item for item in items if item is not _MISSING]
        raise TemplateError(
            f"the job template holds a {type(node).__name__} at {_format_path(path)}; a "
            "template may hold only dicts, lists, strings, numbers, booleans and None"
        )

    def render(self, text: str, path: tuple[str | int, ...]) -> object:
        whole = _PLACEHOLDER.fullmatch(text)
        if whole is not None and _kind(whole.group(1)) is PlaceholderKind.VARIABLE:
            value = self.lookup(whole.group(1), text, path)
            return value  # the raw value keeps its type; _MISSING drops the key
        return _PLACEHOLDER.sub(lambda match: self.substitute(match, path), text)

    def substitute(self, match: re.Match[str], path: tuple[str | int, ...]) -> str:
        text, name = match.group(0), match.group(1)
        kind = _kind(name)
        if kind is PlaceholderKind.VARIABLE:
            value = self.lookup(name, text, path)
        elif kind is PlaceholderKind.ENVIRONMENT:
            value = self.environ.get(name[1:], _MISSING)
            if value is _MISSING:
                self.report(path, text, "environment variable not set")
        else:
            if kind is PlaceholderKind.REFERENCE:
                self.report(path, text, "block and variable references are not supported")
            return text
        return "" if value is _MISSING else str(value)

    def lookup(self, name: str, text: str, path: tuple[str | int, ...]) -> object:
        value = _follow(self.values, _split_path(name))
        if value is _MISSING and name not in self.optional:
            self.report(path, text, "no value given")
        return value


def apply_values(
    template: object,
    values: Mapping[str, Any],
    *,
    strict: bool = False,
    environ: Mapping[str, str] | None = None,
    optional: Collection[str] = (),
) -> Any:
    """Fill a template's placeholders from ``values`` and return a new structure.

    * A string that is exactly one variable placeholder becomes the value itself, of any
      type, found by dotted path (``a.b[0]`` indexes lists). When there is no value, the
      dict key (or list item) holding the string is dropped, so a default applies; a
      template that is itself such a string gives None.
    * Placeholders inside longer strings, or several in one string, are replaced by
      ``str(value)``; a missing value becomes ``""``. ``{{ $NAME }}`` reads ``environ``.
    * Context placeholders (``{{ ctx.* }}``) and block or variable references are left
      as written.
    * Numbers, booleans and None are kept; dicts and lists are walked recursively.
    * A :class:`Verbatim` node becomes its value, which is not walked.
    * Nothing is rendered twice: a value put in place of a placeholder (whole, or as
      text inside a string) is never searched for placeholders itself.

    Args:
        template: a string or a JSON-like structure; it is not changed.
        values: the variables, looked up by dotted path.
        strict: raise instead of dropping or blanking what cannot be resolved.
        environ: the environment for ``{{ $NAME }}`` (default: ``os.environ``).
        optional: variable names that may go without a value even in strict mode
            (declared variables with no default, whose key is dropped on purpose).

    Returns:
        The rendered structure (new dicts and lists; values are inserted as given).

    Raises:
        TemplateError: in strict mode, naming every unresolved placeholder and where it
            stands; in any mode, for a template holding something other than JSON types.

    Example:
        >>> apply_values({"n": "{{ n }}", "msg": "n={{ n }}", "gone": "{{ x }}"}, {"n": 2})
        {'n': 2, 'msg': 'n=2'}
    """
    renderer = _Renderer(
        values, os.environ if environ is None else environ, strict, frozenset(optional)
    )
    rendered = renderer.walk(template, ())
    if renderer.unresolved:
        count = len(renderer.unresolved)
        raise TemplateError(
            f"the job template has {count} unresolved placeholder{'s' * (count != 1)}: "
            + "; ".join(renderer.unresolved)
            + ". Give each variable a value or a default, set the environment variables, "
            "or fix the placeholder's spelling"
        )
    return None if rendered is _MISSING else rendered


def environment_reads(values: object) -> list[str]:
    """List the ``{{ $NAME }}`` placeholders in a structure, each with where it stands.

    Args:
        values: a string or a JSON-like structure (job variables, say).

    Returns:
        ``"{{ $NAME }} at <path>"`` for each occurrence, in the order met (mapping keys
        are not searched: they are never rendered).

    Example:
        >>> environment_reads({"env": {"X": "{{ $TOKEN }}"}, "command": ["{{$A}}"]})
        ['{{ $TOKEN }} at env.X', '{{$A}} at command[0]']
    """
    found: list[str] = []
    pending: list[tuple[object, tuple[str | int, ...]]] = [(values, ())]
    while pending:
        node, path = pending.pop()
        if isinstance(node, str):
            found.extend(
                f"{match.group(0)} at {_format_path(path)}"
                for match in _PLACEHOLDER.finditer(node)
                if _kind(match.group(1)) is PlaceholderKind.ENVIRONMENT
            )
        elif isinstance(node, Mapping):
            items = [(value, (*path, str(key))) for key, value in node.items()]
            pending.extend(reversed(items))
        elif isinstance(node, list | tuple):
            pending.extend(reversed([(item, (*path, i)) for i, item in enumerate(node)]))
    return found


def render_context(template: Any, context: Mapping[str, Mapping[str, object]]) -> Any:
    """Fill the ``{{ ctx.<section>.<field>[.path] }}`` placeholders of a template.

    Context values always render as text: a field that is None, or a path below a field
    that leads nowhere, becomes ``""``. Other placeholders are left as written.

    Args:
        template: a string or a JSON-like structure; it is not changed.
        context: sections (``flow_run``, ``flow``, ...) mapping field names to values.

    Returns:
        The rendered structure, strings replaced and containers copied.

    Raises:
        TemplateError: a placeholder names a section or field that ``context`` does not
            have (a misspelling, which would otherwise render as nothing).
    """
    if isinstance(template, str):
        if "{{" not in template:
            return template
        return _PLACEHOLDER.sub(lambda match: _context_text(match, context), template)
    if isinstance(template, Mapping):
        return {key: render_context(value, context) for key, value in template.items()}
    if isinstance(template, list | tuple):
        return [render_context(item, context) for item in template]
    return template


def _context_text(match: re.Match[str], context: Mapping[str, Mapping[str, object]]) -> str:
    name = match.group(1)
    if _kind(name) is not PlaceholderKind.CONTEXT:
        return match.group(0)
    _, *keys = _split_path(name)
    if len(keys) < 2 or keys[0] not in context or keys[1] not in context[keys[0]]:
        known = ", ".join(
            f"ctx.{section}.{field}" for section, fields in context.items() for field in fields
        )
        raise TemplateError(
            f"{match.group(0)} names no context field; the known fields are: {known}"
        )
    value = _follow(context[keys[0]][keys[1]], keys[2:])
    return "" if value is None or value is _MISSING else str(value)
