"""Questionnaire instruments as data: spec models, TOML loader and compiler."""

from screening.instruments.loader import (
    LoadedBattery,
    bundled_batteries,
    bundled_instruments,
    load_battery,
    load_instrument,
    single_instrument_battery,
)
from screening.instruments.models import Battery, Instrument

__all__ = [
    "Battery",
    "Instrument",
    "LoadedBattery",
    "bundled_batteries",
    "bundled_instruments",
    "load_battery",
    "load_instrument",
    "single_instrument_battery",
]
