"""The `LOCKSTEP_*` tables of docs/configuration.md, written from the settings classes themselves.

Every settings class is found by importing `shared.settings` and each service's `settings`
module, so a new service or field shows up without anyone editing this file. The tables sit
between markers in docs/configuration.md; tests/test_docs.py fails when they are stale.
Rewrite them with `make docs` (python -m tests.support.settings_reference).
"""

from __future__ import annotations

import importlib
import pkgutil
import sys
from pathlib import Path

import annotated_types
from pydantic import SecretStr
from pydantic.fields import FieldInfo
from pydantic_settings import BaseSettings

import services
from shared.settings import ENV_PREFIX, LockstepSettings
from tests.support.infra import REPO

CONFIGURATION = REPO / "docs" / "configuration.md"
BEGIN, END = "<!-- settings:begin -->", "<!-- settings:end -->"


def _settings_modules() -> list[str]:
    """The kit's settings, then any top-level package's (`contract.settings`), then each service's."""
    packages = [m.name for m in pkgutil.iter_modules([str(REPO)]) if m.ispkg and m.name not in ("shared", "services")]
    services_ = sorted(m.name for m in pkgutil.iter_modules(services.__path__) if m.ispkg)
    return [
        "shared.settings",
        *(f"{p}.settings" for p in sorted(packages)),
        *(f"services.{s}.settings" for s in services_),
    ]


def settings_classes() -> list[type[BaseSettings]]:
    """Every `LOCKSTEP_*` settings class, the common one first."""
    found: list[type[BaseSettings]] = []
    for name in _settings_modules():
        try:
            module = importlib.import_module(name)
        except ModuleNotFoundError as exc:
            if not (exc.name and name.startswith(exc.name)):
                raise  # a settings module that exists but cannot import is a bug, not an absence
            continue
        found += [
            value
            for value in vars(module).values()
            if isinstance(value, type)
            and issubclass(value, BaseSettings)
            and value.__module__ == module.__name__
            and value.model_config.get("env_prefix") == ENV_PREFIX
        ]
    return found


def own_fields(cls: type[BaseSettings]) -> dict[str, FieldInfo]:
    """The fields a class adds to the settings classes it extends."""
    inherited = {
        n
        for base in cls.__mro__[1:]
        if isinstance(base, type) and issubclass(base, BaseSettings)
        for n in base.model_fields
    }
    return {n: f for n, f in cls.model_fields.items() if n not in inherited}


def variable(name: str) -> str:
    return f"{ENV_PREFIX}{name.upper()}"


def _default(field: FieldInfo) -> str:
    value = field.get_default(call_default_factory=True)
    if value is None:
        return "unset"
    if isinstance(value, Path):
        value = value.relative_to(REPO) if value.is_relative_to(REPO) else value
    if isinstance(value, float):
        value = f"{value:g}"
    return f"`{value}`"


def _allowed(field: FieldInfo) -> str:
    bounds = []
    for rule in field.metadata:
        if isinstance(rule, annotated_types.Ge):
            bounds.append(f"at least {rule.ge}")
        elif isinstance(rule, annotated_types.Gt):
            bounds.append(f"above {rule.gt}")
        elif isinstance(rule, annotated_types.Le):
            bounds.append(f"at most {rule.le}")
        elif isinstance(rule, annotated_types.Lt):
            bounds.append(f"below {rule.lt}")
    return ", ".join(bounds)


def _meaning(field: FieldInfo) -> str:
    text = (field.description or "").replace("|", "\\|")
    secret = field.annotation is SecretStr or SecretStr in getattr(field.annotation, "__args__", ())
    if not secret:
        return text
    # A credential Lockstep sends (json_schema_extra={"outbound": True}) is never compared here.
    outbound = isinstance(field.json_schema_extra, dict) and field.json_schema_extra.get("outbound") is True
    return text + ("; a secret, never logged" if outbound else "; a secret, never logged and compared in constant time")


def _title(cls: type[BaseSettings]) -> str:
    if cls is LockstepSettings:
        return "Every service"
    parts = cls.__module__.split(".")
    return parts[1] if parts[0] == "services" else cls.__name__


def render() -> str:
    """The markdown between the markers: one table per settings class, its own fields only."""
    parts = []
    for cls in settings_classes():
        where = Path(sys.modules[cls.__module__].__file__ or "").relative_to(REPO)
        summary = (cls.__doc__ or "").strip().split("\n\n")[0].replace("\n", " ")
        parts.append(f"### {_title(cls)}\n\n`{cls.__name__}` in `{where}`." + (f" {summary}" if summary else "") + "\n")
        own = own_fields(cls)
        if not own:
            parts.append("No settings beyond the common ones.\n")
            continue
        rows = ["| variable | default | allowed | meaning |", "| --- | --- | --- | --- |"]
        rows += [f"| `{variable(n)}` | {_default(f)} | {_allowed(f)} | {_meaning(f)} |" for n, f in own.items()]
        parts.append("\n".join(rows) + "\n")
    return "\n".join(parts)


def rewrite(text: str) -> str:
    head, _, rest = text.partition(BEGIN)
    _, _, tail = rest.partition(END)
    return f"{head}{BEGIN}\n{render()}{END}{tail}"


def main() -> None:
    CONFIGURATION.write_text(rewrite(CONFIGURATION.read_text()))
    print(f"wrote {CONFIGURATION.relative_to(REPO)}")


if __name__ == "__main__":
    main()
