"""Prompt to shot: a description in words becomes a ShotSpec, with every choice shown."""

from setpiece.prompt.reader import PromptReading, Row, read_prompt
from setpiece.vocab import LIGHT_PRESETS

__all__ = ["LIGHT_PRESETS", "PromptReading", "Row", "read_prompt"]
