"""Deliver writers: PNG, EXR, MP4, USD."""
