"""Loads a contract file and reports every problem with its file, line, and what is allowed."""

from __future__ import annotations

import re
import types
import typing
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ValidationError

from contract.model import Contract

Path_ = tuple[str | int, ...]


class ContractError(ValueError):
    """One line per problem: `file:line: where: what is wrong`."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("\n".join(problems))
        self.problems = problems


# A contract is a few hundred values (the default one: about 450). Aliases of aliases can make a
# short file expand to billions of them ("billion laughs"), which loading would build one by one;
# past this many it is refused instead.
MAX_VALUES = 10_000


def _where(path: Path_) -> str:
    return ".".join(map(str, path)) or "(top level)"


def _to_python(node: yaml.Node, path: Path_, lines: dict[Path_, int], inside: frozenset[int] = frozenset()) -> Any:
    """The plain data of `node`, noting each path's line. `inside` holds the nodes this one is part
    of: an alias to one of them (`a: &x [*x]`) would make the data infinite."""
    line = node.start_mark.line + 1
    if id(node) in inside:
        raise ContractError(
            [f"{{file}}:{line}: {_where(path)}: a recursive alias: it refers to the anchored value that contains it"]
        )
    lines[path] = line
    if len(lines) > MAX_VALUES:
        raise ContractError([f"{{file}}:{line}: {_where(path)}: more than {MAX_VALUES:,} values: aliases of aliases?"])
    inside |= {id(node)}
    if isinstance(node, yaml.MappingNode):
        result: dict[Any, Any] = {}
        for key_node, value_node in node.value:
            key_line = key_node.start_mark.line + 1
            if not isinstance(key_node, yaml.ScalarNode):
                # `? [a, b]` or `? {a: 1}`: a list or mapping as a key names nothing the contract has.
                raise ContractError(
                    [f"{{file}}:{key_line}: {_where(path)}: a key must be a name, not a list or mapping"]
                )
            key = key_node.value
            if key in result:
                raise ContractError([f"{{file}}:{key_line}: {_where(path + (key,))}: duplicate key"])
            result[key] = _to_python(value_node, path + (key,), lines, inside)
            lines[path + (key,)] = key_line  # point at the key, not where its value starts
        return result
    if isinstance(node, yaml.SequenceNode):
        return [_to_python(item, path + (i,), lines, inside) for i, item in enumerate(node.value)]
    # Scalars: let PyYAML's safe resolver decide the type (int, float, bool, null, str).
    return yaml.safe_load(yaml.serialize(node))


def _line_for(loc: Path_, lines: dict[Path_, int]) -> int:
    """The line of the deepest part of `loc` that exists in the file."""
    for end in range(len(loc), -1, -1):
        if loc[:end] in lines:
            return lines[loc[:end]]
    return 1


def _clean_loc(loc: tuple) -> Path_:
    # pydantic adds union-member and function-validator names to locations; drop them.
    return tuple(
        p for p in loc if isinstance(p, int) or not (isinstance(p, str) and ("[" in p or p.startswith("function-")))
    )


def _members(annotation: Any) -> list[Any]:
    """The types an annotation may hold: Optional, unions and Annotated unwrapped."""
    origin = typing.get_origin(annotation)
    if origin is typing.Annotated:
        return _members(typing.get_args(annotation)[0])
    if origin in (typing.Union, types.UnionType):
        return [m for arg in typing.get_args(annotation) for m in _members(arg)]
    return [annotation]


def _allowed_keys(loc: Path_) -> list[str]:
    """The keys accepted where an unknown key was found, so the error can say what was meant."""
    candidates: list[Any] = [Contract]
    for part in loc[:-1]:
        following: list[Any] = []
        for candidate in (m for c in candidates for m in _members(c)):
            origin = typing.get_origin(candidate)
            if isinstance(candidate, type) and issubclass(candidate, BaseModel) and isinstance(part, str):
                fields = {f.alias or name: f for name, f in candidate.model_fields.items()}
                if part in fields:
                    following.append(fields[part].annotation)
            elif origin is dict:
                following.append(typing.get_args(candidate)[1])
            elif origin is list and isinstance(part, int):
                following.append(typing.get_args(candidate)[0])
        candidates = following
    models = [m for c in candidates for m in _members(c) if isinstance(m, type) and issubclass(m, BaseModel)]
    return [f.alias or name for name, f in models[0].model_fields.items()] if models else []


def parse_contract(text: str, filename: str = "<contract>") -> Contract:
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = mark.line + 1 if mark else 1
        problem = getattr(exc, "problem", None) or str(exc)
        raise ContractError([f"{filename}:{line}: not valid YAML: {problem}"]) from None
    except RecursionError:  # PyYAML composes nested lists and mappings by recursion: it gives up first
        raise ContractError([f"{filename}: not valid YAML: lists or mappings nested too deeply"]) from None
    if root is None:
        raise ContractError([f"{filename}:1: the file is empty"])
    lines: dict[Path_, int] = {}
    try:
        data = _to_python(root, (), lines)
    except ContractError as exc:
        raise ContractError([p.replace("{file}", filename) for p in exc.problems]) from None
    if not isinstance(data, dict):
        raise ContractError(
            [f"{filename}:1: the contract must be a mapping with version, stages, scoring, handoff, sla, sources"]
        )
    try:
        contract = Contract.model_validate(data)
    except ValidationError as exc:
        problems = []
        for error in exc.errors():
            loc = _clean_loc(tuple(error["loc"]))
            where = ".".join(str(p) for p in loc) or "(top level)"
            message = error["msg"]
            message = re.sub(r" or instance of \w+$", "", message.removeprefix("Value error, "))
            if error["type"] == "literal_error" or error["type"] == "enum":
                message += f" (got {error.get('input')!r})"
            if error["type"] == "extra_forbidden" and (allowed := _allowed_keys(loc)):
                message += f" (allowed here: {', '.join(allowed)})"
            problems.append(f"{filename}:{_line_for(loc, lines)}: {where}: {message}")
        raise ContractError(problems) from None
    cross = contract.problems()
    if cross:
        raise ContractError(
            [f"{filename}:{_line_for(loc, lines)}: {'.'.join(map(str, loc))}: {message}" for loc, message in cross]
        )
    return contract


def load_contract(path: Path | str) -> Contract:
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ContractError([f"{path}: no such file"]) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ContractError([f"{path}: cannot read: {exc}"]) from None
    return parse_contract(text, str(path))
