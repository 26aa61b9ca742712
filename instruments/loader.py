"""Load instrument and battery files: bundled ids or paths, TOML, validated, hashed.

Errors name the file and the field path (``scales[1].bands.cuts``) and say how to fix it.
"""

from __future__ import annotations

import difflib
import hashlib
import re
import tomllib
import typing
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import TypeVar

from pydantic import BaseModel, ValidationError
from pydantic_core import ErrorDetails

from screening.errors import InstrumentDefinitionError
from screening.instruments.models import BATTERY_ID, IDENTIFIER, ITEM_ID, Battery, Instrument

Model = TypeVar("Model", bound=BaseModel)
DATA = "screening.instruments.data"


@dataclass(frozen=True)
class LoadedBattery:
    """A battery together with its loaded instruments, in battery order."""

    battery: Battery
    instruments: tuple[Instrument, ...]
    norm_paths: tuple[Path, ...] = ()

    def item_columns(self) -> list[str]:
        """Input column names of every item of every instrument, in order."""
        return [column for inst in self.instruments for column in inst.item_columns()]

    @property
    def queue_due_hours(self) -> dict[int, int]:
        """Hours until a case of each tier is due."""
        return self.battery.queue_due_hours

    @property
    def has_tiers(self) -> bool:
        """False for a single instrument scored with bands but no triage."""
        return bool(self.battery.tier) or self.battery.critical_tier is not None


def bundled_instruments() -> list[str]:
    """Ids of the instruments shipped with the toolkit."""
    return sorted(p.name[:-5] for p in resources.files(DATA).iterdir() if p.name.endswith(".toml"))


def bundled_batteries() -> list[str]:
    """Ids of the batteries shipped with the toolkit."""
    folder = resources.files(DATA) / "batteries"
    return sorted(p.name[:-5] for p in folder.iterdir() if p.name.endswith(".toml"))


def _looks_like_path(ref: str | Path) -> bool:
    return isinstance(ref, Path) or ref.lower().endswith(".toml") or "/" in ref or "\\" in ref


def _read(ref: str | Path, bundled_folder: str, kind: str, known: list[str]) -> tuple[str, bytes]:
    if _looks_like_path(ref):
        path = Path(ref)
        if path.is_dir():
            raise InstrumentDefinitionError(
                path, "", f"is a folder, not a file; give the path of the {kind}'s .toml file"
            )
        if not path.is_file():
            raise InstrumentDefinitionError(path, "", f"no such {kind} file")
        return str(path), path.read_bytes()
    resource = resources.files(DATA)
    if bundled_folder:
        resource = resource / bundled_folder
    resource = resource / f"{ref}.toml"
    if not resource.is_file() and Path(ref).is_file():  # a file name without .toml
        return str(ref), Path(ref).read_bytes()
    if not resource.is_file():
        raise InstrumentDefinitionError(
            ref, "", f"unknown {kind} id; bundled: {', '.join(known)}, or give a path to a .toml"
        )
    return f"bundled:{ref}", resource.read_bytes()


_LOCATED = re.compile(
    r"^(?P<path>[a-z_][a-z0-9_]*(?:\[\d+\]|\.[a-z_][a-z0-9_]*)*): (?P<message>.*)$", re.DOTALL
)


_TYPE_TAGS = {"float", "int", "str", "bool", "none"}  # a union's branch, as the last part


def _field_path(location: tuple) -> str:
    path = ""
    for position, part in enumerate(location):
        last = position == len(location) - 1
        if isinstance(part, str) and ("[" in part or (last and part in _TYPE_TAGS)):
            continue  # a union's branch (literal['NA'], float), not a field
        path += f"[{part}]" if isinstance(part, int) else (f".{part}" if path else str(part))
    return path


_SHOWN = 3  # problems of one file named in its error

#: What each id pattern of the models allows, in words.
_PATTERNS = {
    IDENTIFIER: "lower-case letters a-z, digits and _, starting with a letter",
    BATTERY_ID: "lower-case letters a-z, digits, _ and -, starting with a letter",
    ITEM_ID: "the letters A-Z and a-z, digits and _",
}


def _problem(model: type[BaseModel], error: ErrorDetails) -> tuple[str, str]:
    """(field path, message) of one validation error, in words a file's author can act on."""
    path = _field_path(error["loc"])
    message = error["msg"].removeprefix("Value error, ")
    located = _LOCATED.match(message)
    if located:  # a check across fields names its field at the start of the message
        inner, message = located.group("path", "message")
        path = f"{path}.{inner}" if path else inner
    if error["type"] == "string_pattern_mismatch":
        allowed = _PATTERNS.get(str((error.get("ctx") or {}).get("pattern")), "")
        if allowed:
            message = (
                f"{error['input']!r} may use only {allowed}; Chinese or other text belongs in "
                "the name or label"
            )
    if error["type"] == "missing":
        message = f"missing; add {error['loc'][-1]} = ..."
    if error["type"] == "extra_forbidden":
        key = str(error["loc"][-1])
        close = difflib.get_close_matches(key, _field_names(model), n=1)
        message = f"unknown key {key!r}" + (f"; did you mean {close[0]!r}?" if close else "")
    return path, message


@lru_cache(maxsize=4)
def _field_names(model: type[BaseModel]) -> list[str]:
    """The keys of ``model`` and of every model inside it."""
    names: set[str] = set()
    pending = [model]
    while pending:
        current = pending.pop()
        for name, field in current.model_fields.items():
            names.add(name)
            for inner in typing.get_args(field.annotation) or (field.annotation,):
                for candidate in typing.get_args(inner) or (inner,):
                    if isinstance(candidate, type) and issubclass(candidate, BaseModel):
                        pending.append(candidate)
    return sorted(names)


def decode_toml(content: bytes) -> str:
    """The text of a TOML file: UTF-8, with or without a byte-order mark.

    Windows Notepad and many Chinese editors save UTF-8 with a mark, which TOML itself
    does not allow; it is dropped here so that such a file reads as its author sees it.

    Raises
    ------
    UnicodeDecodeError
        When the bytes are not UTF-8 (e.g. GBK).
    """
    return content.decode("utf-8-sig")


def parse_model(model: type[Model], source: str, content: bytes) -> Model:
    """Parse TOML bytes into ``model``, turning every failure into InstrumentDefinitionError."""
    try:
        data = tomllib.loads(decode_toml(content))
    except UnicodeDecodeError as error:
        raise InstrumentDefinitionError(
            source, "", "the file must be UTF-8 encoded; save it again as UTF-8"
        ) from error
    except tomllib.TOMLDecodeError as error:
        raise InstrumentDefinitionError(source, "", f"not valid TOML: {error}") from error
    if not data:
        raise InstrumentDefinitionError(
            source, "", "the file is empty (or holds only comments); write the definition in it"
        )
    try:
        parsed = model.model_validate(data)
    except ValidationError as error:
        problems: dict[str, str] = {}  # field path -> message, the first of each field
        for path, message in (_problem(model, e) for e in error.errors()):
            problems.setdefault(path, message)  # a union reports each of its branches
        (path, message), *others = problems.items()
        message += "".join(f"; also {p or 'the file'}: {m}" for p, m in others[: _SHOWN - 1])
        if len(problems) > _SHOWN:
            message += f" (and {len(problems) - _SHOWN} more problems)"
        raise InstrumentDefinitionError(source, path, message, list(problems.items())) from None
    parsed._source = source
    parsed._sha256 = hashlib.sha256(content).hexdigest()
    return parsed


@lru_cache(maxsize=64)
def _load_instrument_cached(ref: str) -> Instrument:
    source, content = _read(ref, "", "instrument", bundled_instruments())
    return parse_model(Instrument, source, content)


def load_instrument(ref: str | Path) -> Instrument:
    """Load an instrument by bundled id (``"phq9"``) or path to a TOML file.

    Raises
    ------
    InstrumentDefinitionError
        When the file is missing, not TOML, or not a valid instrument (names the field).
    """
    if _looks_like_path(ref) or ref not in bundled_instruments():
        return _load_instrument_cached.__wrapped__(str(ref))  # a file may change: no cache
    return _load_instrument_cached(str(ref))


def load_battery(ref: str | Path) -> LoadedBattery:
    """Load a battery by bundled id (``"default"``) or path, with its instruments.

    Instruments are named by bundled id or by a path relative to the battery file.
    """
    source, content = _read(ref, "batteries", "battery", bundled_batteries())
    battery = parse_model(Battery, source, content)
    base = Path(source).parent if not source.startswith("bundled:") else None
    instruments = []
    for position, name in enumerate(battery.instruments):
        beside = base / name if base is not None else None  # paths are relative to the battery
        path_like = _looks_like_path(name) or (beside is not None and beside.is_file())
        ref_path = beside if beside is not None and path_like else name
        try:
            instruments.append(load_instrument(ref_path))
        except InstrumentDefinitionError as error:
            raise InstrumentDefinitionError(
                source, f"instruments[{position}]", f"cannot load {name!r}: {error}"
            ) from error
    ids = [inst.id for inst in instruments]
    if len(set(ids)) != len(ids):
        raise InstrumentDefinitionError(
            source, "instruments", f"two instruments share an id: {ids}"
        )
    reader: dict[str, tuple[str, str]] = {}  # column in lower case -> instrument, column
    for inst in instruments:
        for column in inst.item_columns():
            if column.lower() in reader:  # headers are matched whatever their letter case
                first, spelled = reader[column.lower()]
                same = repr(column) if spelled == column else f"{spelled!r} and {column!r}"
                raise InstrumentDefinitionError(
                    source,
                    "instruments",
                    f"{first!r} and {inst.id!r} both read the input column {same} "
                    "(an item is read from {instrument}_{item}, whatever the letter case); "
                    "rename an instrument or its items",
                )
            reader[column.lower()] = (inst.id, column)
    if battery.norms and base is None:
        raise InstrumentDefinitionError(source, "norms", "bundled batteries cannot name norms")
    norm_paths = tuple(base / name for name in battery.norms) if base is not None else ()
    for position, path in enumerate(norm_paths):
        if not path.is_file():
            raise InstrumentDefinitionError(
                source,
                f"norms[{position}]",
                f"no norm table at {path}; write one with `screening norms`",
            )
    return LoadedBattery(battery, tuple(instruments), norm_paths)


def single_instrument_battery(ref: str | Path | Instrument) -> LoadedBattery:
    """A battery that scores one instrument with bands and critical flags but no tiers."""
    instrument = ref if isinstance(ref, Instrument) else load_instrument(ref)
    battery = Battery(id=instrument.id, instruments=[instrument.id], critical_tier=None)
    battery._source = instrument.source
    battery._sha256 = instrument.sha256
    return LoadedBattery(battery, (instrument,))
