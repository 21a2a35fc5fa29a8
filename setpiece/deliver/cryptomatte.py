"""Cryptomatte ID mattes (Psyop's published specification 1.1) for the EXR frames.

Each name (a structural member, "debris", "dust", "ground") hashes to a float ID:
MurmurHash3_32 of the UTF-8 name (the `mmh3` package), its bits read as a float32
with the exponent clamped to [1, 254] so no ID is a NaN, an infinity or a
denormal. A pixel stores up to RANKS (ID, coverage) pairs, highest coverage
first, in the channels {LAYER}00.R/G/B/A, {LAYER}01.R/G/B/A...; the header names
the layer, the hash, the conversion and the manifest (name -> 8 hex digits of
the float's bits) under `cryptomatte/<key>/`, key being the first 7 hex digits of
the layer name's hash, as Blender and Arnold write it.
"""

from __future__ import annotations

import json

import numpy as np

LAYER = "CryptoObject"
RANKS = 4  # two RGBA layers; a pixel here holds at most a member, the ground and dust


def hash_uint32(name: str) -> int:
    import mmh3

    return mmh3.hash(name.encode("utf-8"), seed=0, signed=False)


def id_bits(name: str) -> int:
    """The ID's float32 bit pattern: the hash with its exponent clamped to [1, 254]."""
    bits = hash_uint32(name)
    exponent = min(max((bits >> 23) & 0xFF, 1), 254)
    return (bits & 0x807FFFFF) | (exponent << 23)


def id_float(name: str) -> np.float32:
    return np.array([id_bits(name)], np.uint32).view(np.float32)[0]


def metadata_key(layer: str = LAYER) -> str:
    return f"{hash_uint32(layer):08x}"[:7]


def header(names: list[str], layer: str = LAYER) -> dict[str, str]:
    """The EXR header attributes that declare the layer and its manifest."""
    prefix = f"cryptomatte/{metadata_key(layer)}/"
    manifest = {name: f"{id_bits(name):08x}" for name in dict.fromkeys(names)}
    return {
        prefix + "name": layer,
        prefix + "hash": "MurmurHash3_32",
        prefix + "conversion": "uint32_to_float32",
        prefix + "manifest": json.dumps(manifest, sort_keys=True),
    }


def channel_names(layer: str = LAYER, ranks: int = RANKS) -> list[str]:
    return [f"{layer}{i // 4:02d}.{'RGBA'[i % 4]}" for i in range(2 * ranks)]


def encode(ids: np.ndarray, coverage: np.ndarray, ranks: int = RANKS) -> np.ndarray:
    """Candidate IDs (K, H, W) float32 with their coverage (K, H, W) -> (H, W, 2 * ranks)
    channels: the `ranks` best-covered IDs per pixel, interleaved ID, coverage.
    Candidates of one pixel must be distinct IDs; zero coverage leaves a rank empty (ID 0)."""
    k = ids.shape[0]
    if k < ranks:  # pad with empty candidates
        pad = ((0, ranks - k), (0, 0), (0, 0))
        ids, coverage = np.pad(ids, pad), np.pad(coverage, pad)
    order = np.argsort(-coverage, axis=0, kind="stable")[:ranks]
    top_cov = np.take_along_axis(coverage, order, axis=0)
    top_ids = np.where(top_cov > 0, np.take_along_axis(ids, order, axis=0), 0.0)
    out = np.empty((*ids.shape[1:], 2 * ranks), np.float32)
    out[..., 0::2] = np.moveaxis(top_ids, 0, -1)
    out[..., 1::2] = np.moveaxis(np.where(top_cov > 0, top_cov, 0.0), 0, -1)
    return out


def decode(channels: np.ndarray, name: str) -> np.ndarray:
    """The matte (H, W) of one name from the (H, W, 2 * ranks) Cryptomatte channels:
    the coverage summed over every rank holding that name's ID."""
    target = id_float(name)
    ids, coverage = channels[..., 0::2], channels[..., 1::2]
    return np.where(ids == target, coverage, 0.0).sum(axis=-1)


def read_manifest(attributes: dict[str, str], layer: str = LAYER) -> dict[str, str]:
    """The manifest of `layer` from a header's attributes (name -> hex ID)."""
    for key, value in attributes.items():
        if key.startswith("cryptomatte/") and key.endswith("/name") and value == layer:
            return json.loads(attributes[key[: -len("name")] + "manifest"])
    return {}
