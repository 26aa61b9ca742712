"""``screening instruments``: list, show, validate and test instrument and battery files.

``list`` shows what is bundled, ``show`` one instrument (items, scales, bands, critical
items), ``validate`` checks files without scoring anything, and ``test`` scores every golden
vector through the real scoring path and exits non-zero when one disagrees.
"""

from __future__ import annotations

import tomllib
from pathlib import Path

import click
from rich.console import Console
from rich.table import Table

from screening.errors import InstrumentDefinitionError, ScreeningError
from screening.instruments.loader import (
    LoadedBattery,
    bundled_batteries,
    bundled_instruments,
    decode_toml,
    load_battery,
    load_instrument,
)
from screening.instruments.models import Bands, Instrument, Scale


def _console() -> Console:
    return Console(highlight=False)


def _licence_short(licence: str) -> str:
    """The part of a licence note before its first colon or full stop ("Free to use")."""
    for mark in (":", "."):
        if mark in licence:
            return licence.split(mark, 1)[0]
    return licence


def _number(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else f"{value:g}"


def band_ranges(bands: Bands, locale: str = "en") -> list[str]:
    """Human-readable ranges of each band, e.g. ``["< 5 minimal", "5 to < 10 mild", ...]``."""
    labels = bands.labels[locale]
    cuts = bands.cuts
    ranges = []
    for k, label in enumerate(labels):
        if k == 0:
            ranges.append(f"< {_number(cuts[0])} {label}")
        elif k == len(cuts):
            ranges.append(f">= {_number(cuts[-1])} {label}")
        else:
            ranges.append(f"{_number(cuts[k - 1])} to < {_number(cuts[k])} {label}")
    return ranges


def _scoring(scale: Scale) -> str:
    n, needed = len(scale.items), scale.required_answers
    if needed == n:
        text = f"{scale.method}, all {n} required"
    elif scale.method == "sum":
        text = f"sum, prorated with >= {needed} of {n}"
    else:
        text = f"{scale.method} of answered, needs >= {needed} of {n}"
    if scale.multiplier != 1:
        text += f", x {_number(scale.multiplier)}"
    return text


def _table(title: str, columns: tuple[str, ...]) -> Table:
    table = Table(title=title)
    for column in columns:
        table.add_column(column, overflow="fold")
    return table


@click.group(name="instruments")
def command() -> None:
    """Bundled instruments and batteries: list, show, validate, test."""


@command.command(name="list")
def list_command() -> None:
    """List the bundled instruments and batteries."""
    console = _console()
    table = _table("Instruments", ("id", "name", "名称", "items", "version", "licence"))
    for ref in bundled_instruments():
        inst = load_instrument(ref)
        table.add_row(
            inst.id,
            inst.name["en"],
            inst.name["zh-CN"],
            str(len(inst.items)),
            inst.version,
            _licence_short(inst.licence),
        )
    console.print(table)
    table = _table("Batteries", ("id", "name", "instruments", "tier levels", "version"))
    for ref in bundled_batteries():
        battery = load_battery(ref).battery
        levels = ", ".join(str(rule.level) for rule in sorted(battery.tier, key=lambda r: -r.level))
        table.add_row(
            battery.id, battery.name["en"], ", ".join(battery.instruments), levels, battery.version
        )
    console.print(table)


def _show_instrument(console: Console, inst: Instrument) -> None:
    console.print(f"[bold]{inst.name['en']}[/bold] / {inst.name['zh-CN']}")
    console.print(f"id: {inst.id}   version: {inst.version}   source: {inst.source}")
    if inst.loinc:
        console.print(f"LOINC: {inst.loinc}")
    console.print(f"citation: {inst.citation}")
    console.print(f"licence: {inst.licence}")
    if inst.notes:
        console.print(f"notes: {inst.notes}")
    values = inst.response_scale.values
    answers = _table("Response scale", ("value", "en", "zh-CN"))
    for k, value in enumerate(values):
        answers.add_row(
            str(value),
            inst.response_scale.labels["en"][k],
            inst.response_scale.labels["zh-CN"][k],
        )
    console.print(answers)
    items = _table("Items", ("id", "en", "zh-CN", "reverse", "missing counts as", "scales"))
    for item in inst.items:
        member = [scale.id for scale in inst.scales if item.id in scale.items]
        items.add_row(
            item.id,
            item.label["en"],
            item.label["zh-CN"],
            "yes" if item.reverse else "",
            "" if item.missing_means is None else str(item.missing_means),
            ", ".join(member),
        )
    console.print(items)
    scales = _table("Scales", ("id", "name", "items", "scoring", "bands", "risk"))
    for scale in inst.scales:
        scales.add_row(
            scale.id,
            f"{scale.name['en']} / {scale.name['zh-CN']}",
            " ".join(scale.items),
            _scoring(scale),
            "\n".join(band_ranges(scale.bands)) if scale.bands else "",
            scale.bands.risk if scale.bands else "",
        )
    console.print(scales)
    if inst.critical:
        critical = _table("Critical items", ("item", "label", "flagged when", "acuity"))
        for rule in inst.critical:
            label = inst.items[inst.item_index(rule.item)].label
            critical.add_row(
                rule.item,
                f"{label['en']} / {label['zh-CN']}",
                f"answer >= {rule.threshold}",
                rule.acuity,
            )
        console.print(critical)
    console.print(f"golden vectors: {len(inst.golden)}")


def _show_battery(console: Console, loaded: LoadedBattery) -> None:
    battery = loaded.battery
    console.print(f"[bold]{battery.name['en']}[/bold] / {battery.name['zh-CN']}")
    console.print(f"battery: {battery.id}   version: {battery.version}   source: {battery.source}")
    console.print(f"instruments: {', '.join(battery.instruments)}")
    if battery.critical_tier is not None:
        console.print(f"an endorsed critical item gives tier {battery.critical_tier}")
    tiers = _table("Tier rules (the highest level whose rule fires wins)", ("level", "any", "all"))
    for rule in sorted(battery.tier, key=lambda r: -r.level):
        tiers.add_row(str(rule.level), "\n".join(rule.any), "\n".join(rule.all))
    console.print(tiers)


#: Keys only a battery has (``instrument``: the usual slip for ``instruments``) and keys
#: only an instrument has.
BATTERY_KEYS = frozenset({"instruments", "instrument", "tier", "critical_tier", "queue", "norms"})
INSTRUMENT_KEYS = frozenset({"items", "scales", "response_scale"})


def _is_battery_file(path: Path) -> bool:
    """A file is read as a battery when it has a key only batteries have (``instruments``,
    ``tier``, ...) and none only instruments have (``items``, ``scales``, ...), so that a
    battery with a misspelt key is checked as a battery."""
    try:
        data = tomllib.loads(decode_toml(path.read_bytes()))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError):
        return False  # the instrument loader reports the problem with the file name
    return bool(BATTERY_KEYS & data.keys()) and not INSTRUMENT_KEYS & data.keys()


def _is_battery(ref: str) -> bool:
    """Whether ``ref`` names a battery: a battery file, or a bundled battery id that is not
    also an instrument id."""
    path = Path(ref)
    if path.is_file():
        return _is_battery_file(path)
    return ref in bundled_batteries() and ref not in bundled_instruments()


def _checked_battery(ref: str | Path) -> LoadedBattery:
    """Load a battery and compile it, parsing every rule (errors name the file and field)."""
    from screening.pipeline import Scorer  # polars and the compiler: on use

    loaded = load_battery(ref)
    Scorer.for_battery(loaded)
    return loaded


@command.command(name="show")
@click.argument("ref")
def show_command(ref: str) -> None:
    """Show an instrument (bundled id or path): items, scales, bands, critical items.

    A bundled battery id or a battery file shows the battery's tier rules (after checking
    them, as ``validate`` does: a rule that does not parse is an error, not shown).
    """
    console = _console()
    if _is_battery(ref):
        _show_battery(console, _checked_battery(ref))
    else:
        _show_instrument(console, load_instrument(ref))


@command.command(name="validate")
@click.argument("paths", nargs=-1, required=True, type=click.Path(path_type=Path))
def validate_command(paths: tuple[Path, ...]) -> None:
    """Check instrument or battery files; exit non-zero naming the file and field at fault."""
    failures = 0
    for path in paths:
        try:
            if path.is_file() and _is_battery_file(path):
                loaded = _checked_battery(path)
                click.echo(
                    f"ok {path}: battery {loaded.battery.id!r} with "
                    f"{len(loaded.instruments)} instruments"
                )
            else:
                inst = load_instrument(path)
                click.echo(
                    f"ok {path}: instrument {inst.id!r}, {len(inst.items)} items, "
                    f"{len(inst.scales)} scales, {len(inst.golden)} golden vectors"
                )
        except InstrumentDefinitionError as error:
            failures += 1
            if len(error.problems) == 1:
                click.echo(f"error: {error}", err=True)
                continue
            click.echo(f"error: {error.path}: {len(error.problems)} problems", err=True)
            for field, problem in error.problems:
                click.echo(f"  {field or 'the file'}: {problem}", err=True)
        except ScreeningError as error:  # a norm table of the battery too
            failures += 1
            click.echo(f"error: {error}", err=True)
    if failures:
        raise click.ClickException(f"{failures} of {len(paths)} files are not valid")


@command.command(name="test")
@click.argument("refs", nargs=-1)
def test_command(refs: tuple[str, ...]) -> None:
    """Score every golden vector of the bundled instruments (or the given ids or paths).

    A battery (id or file) stands for its instruments. Prints pass or fail per vector and
    exits with status 1 when any vector fails.
    """
    from screening.golden import golden_results  # imports the scoring core: load on use

    instruments: list[Instrument] = []
    for ref in refs or bundled_instruments():
        if _is_battery(ref):
            instruments.extend(load_battery(ref).instruments)
        else:
            instruments.append(load_instrument(ref))
    passed = failed = 0
    for inst in instruments:
        outcomes = golden_results(inst)
        if not outcomes:
            click.echo(f"{inst.id}: no golden vectors to run")
        for outcome in outcomes:
            if outcome.passed:
                passed += 1
                click.echo(f"PASS {inst.id} / {outcome.vector}")
            else:
                failed += 1
                click.echo(f"FAIL {inst.id} / {outcome.vector}")
                for mismatch in outcome.mismatches:
                    click.echo(f"     {mismatch}")
    click.echo(f"{passed} passed, {failed} failed")
    if failed:
        raise click.ClickException(f"{failed} golden vectors failed")
