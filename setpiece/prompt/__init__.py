"""Prompt to shot: a description in words becomes a ShotSpec, with every choice shown."""

from setpiece.prompt.lexicon import LIGHT_PRESETS
from setpiece.prompt.reader import PromptReading, Row, read_prompt

__all__ = ["LIGHT_PRESETS", "PromptReading", "Row", "read_prompt"]
