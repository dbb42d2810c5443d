"""``{{ name }}`` placeholders: plain text replacement, no expression language (pure engine).

A placeholder is ``{{``, optional spaces, a name, optional spaces, ``}}``. A name is a captured
variable (``token``, ``order_id``: letters, digits, ``_``) or a secret the caller passes in
(``secrets.alice.password``: after ``secrets.``, letters, digits, ``_``, ``-`` and ``.``). The scan is
``str.find`` over the text (linear, no regex). ``{{`` that does not open a valid placeholder is an
error, so a typo cannot silently send the literal text.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

MAX_NAME = 64
MAX_PLACEHOLDERS = 50  # in one string
SECRETS = "secrets."

_VAR_CHARS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_")
_SECRET_CHARS = _VAR_CHARS | frozenset("-.")


class TemplateError(ValueError):
    pass


def valid_variable(name: str) -> bool:
    return 0 < len(name) <= MAX_NAME and set(name) <= _VAR_CHARS and not name[0].isdigit()


def valid_secret_name(name: str) -> bool:
    return 0 < len(name) <= MAX_NAME and set(name) <= _SECRET_CHARS


def _spans(text: str) -> Iterator[tuple[int, int, str]]:
    """(start, end, name) of each placeholder; ``TemplateError`` for a malformed one."""
    position = 0
    count = 0
    while True:
        start = text.find("{{", position)
        if start < 0:
            return
        end = text.find("}}", start + 2)
        if end < 0:
            raise TemplateError("'{{' without a closing '}}'")
        name = text[start + 2 : end].strip(" ")
        secret = name.startswith(SECRETS)
        ok = valid_secret_name(name[len(SECRETS) :]) if secret else valid_variable(name)
        if not ok:
            raise TemplateError(
                f"{{{{ {name[:40]} }}}} is not a placeholder: use {{{{ name }}}} or {{{{ secrets.NAME }}}}"
            )
        count += 1
        if count > MAX_PLACEHOLDERS:
            raise TemplateError(f"more than {MAX_PLACEHOLDERS} placeholders in one value")
        yield start, end + 2, name
        position = end + 2


def names(text: str) -> list[str]:
    """The placeholder names in ``text`` (``secrets.X`` included as written)."""
    return [name for _, _, name in _spans(text)]


def only_placeholder(text: str) -> str | None:
    """The name when ``text`` is exactly one placeholder (``"{{ id }}"``), else None."""
    spans = list(_spans(text))
    if len(spans) == 1 and spans[0][0] == 0 and spans[0][1] == len(text):
        return spans[0][2]
    return None


def render(text: str, lookup: Callable[[str], str], *, limit: int) -> str:
    """``text`` with each placeholder replaced by ``lookup(name)`` (which raises for an unknown name).
    ``TemplateError`` when the result would pass ``limit`` characters."""
    parts: list[str] = []
    size = 0
    position = 0
    for start, end, name in _spans(text):
        value = lookup(name)
        parts += [text[position:start], value]
        size += start - position + len(value)
        if size > limit:
            raise TemplateError(f"the value is longer than {limit} characters once filled in")
        position = end
    parts.append(text[position:])
    size += len(text) - position
    if size > limit:
        raise TemplateError(f"the value is longer than {limit} characters once filled in")
    return "".join(parts)
