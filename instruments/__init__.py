"""Questionnaire instruments as data: spec models, TOML loader and compiler."""
