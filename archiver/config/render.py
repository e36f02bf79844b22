"""The default config.toml: every setting with its default and meaning, from the
dataclasses' field metadata (what `archive init` writes and the repository root ships)."""

from __future__ import annotations

import dataclasses
import json

from archiver.config.settings import SECTIONS, Settings


def _toml(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str | list):
        return json.dumps(value, ensure_ascii=False)
    return repr(value)


def _default(f: dataclasses.Field) -> object:
    if f.default_factory is not dataclasses.MISSING:  # type: ignore[misc]
        return f.default_factory()  # type: ignore[misc]
    return f.default


def _render_table(cls: type, header: str | None, values: dict[str, object]) -> list[str]:
    lines = [f"[{header}]"] if header else []
    names = set()
    for f in dataclasses.fields(cls):
        if f.metadata.get("internal") or f.name in SECTIONS:
            continue
        names.add(f.name)
        lines.append(f"# {f.metadata['doc']}")
        lines.append(f"{f.name} = {_toml(values.get(f.name, _default(f)))}")
    unknown = sorted(set(values) - names)
    if unknown:
        raise KeyError(
            f"no setting {unknown[0]!r} in {f'[{header}]' if header else 'the top level'}"
        )
    return lines


def render_default_config(overrides: dict[str, dict[str, object]] | None = None) -> str:
    """The commented config.toml that `archive init` writes: every key, default, meaning.

    ``overrides`` replaces values, by section ("top" for the top level):
    ``{"capture": {"workers": 2}}`` (used by the tests and benchmarks).
    """
    overrides = dict(overrides or {})
    out = [
        "# archiver configuration — every setting with its default and meaning.",
        "# Paths are relative to this file's folder (the archive root).",
        "# Durations: 30s, 5m, 1h, 7d. Proxies and CAs from the environment",
        "# (HTTP_PROXY, HTTPS_PROXY, NO_PROXY, REQUESTS_CA_BUNDLE) apply when these are empty.",
        "",
    ]
    out += _render_table(Settings, None, overrides.pop("top", {}))
    for name, cls in SECTIONS.items():
        out.append("")
        out += _render_table(cls, name, overrides.pop(name, {}))
    if overrides:
        raise KeyError(f"no section [{sorted(overrides)[0]}] in the config")
    return "\n".join(out) + "\n"
