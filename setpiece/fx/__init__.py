"""Effects: the dust solver (smoke.py) and the dust volume renderer (volume.py)."""
