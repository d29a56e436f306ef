"""A BERT sentence encoder in NumPy, for embedding queries without importing torch.

Importing sentence-transformers (torch, transformers, scikit-learn) takes 5-7 s on this
machine; embedding one question with a 6-layer MiniLM takes about 5 ms either way. So
``rag ask`` embeds its question here, from the same files (``tokenizer.json``,
``model.safetensors``), and torch is loaded only when documents must be embedded. It
covers the sentence-transformers layout Transformer(BERT) → mean Pooling → Normalize;
``supports`` says whether a model folder has that layout, and a test checks the vectors
against sentence-transformers' own.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

import numpy as np


def supports(folder: Path) -> bool:
    """Whether ``folder`` holds a BERT model with mean pooling this encoder can run."""
    try:
        config = json.loads((folder / "config.json").read_text())
        modules = json.loads((folder / "modules.json").read_text())
        pooling_path = next(m["path"] for m in modules if m["type"].endswith(".Pooling"))
        pooling = json.loads((folder / pooling_path / "config.json").read_text())
    except (OSError, ValueError, KeyError, StopIteration):
        return False
    kinds = [m["type"].rsplit(".", 1)[-1] for m in modules]
    other_pooling = any(v for k, v in pooling.items()
                        if k.startswith("pooling_mode_") and k != "pooling_mode_mean_tokens")
    return (config.get("model_type") == "bert" and config.get("hidden_act") == "gelu"
            and config.get("position_embedding_type", "absolute") == "absolute"
            and kinds in (["Transformer", "Pooling", "Normalize"], ["Transformer", "Pooling"])
            and pooling.get("pooling_mode_mean_tokens") and not other_pooling
            and (folder / "model.safetensors").is_file()
            and (folder / "tokenizer.json").is_file())


def dimension(folder: Path) -> int | None:
    """The sentence-embedding size a sentence-transformers folder declares, if it does."""
    for path, key in (("1_Pooling/config.json", "word_embedding_dimension"),
                      ("config.json", "hidden_size")):
        try:
            return int(json.loads((folder / path).read_text())[key])
        except (OSError, ValueError, KeyError):
            continue
    return None


class NumpyBertEncoder:
    """Mean-pooled, L2-normalised BERT sentence embeddings computed with NumPy (float32)."""

    def __init__(self, folder: Path) -> None:
        from tokenizers import Tokenizer

        config = json.loads((folder / "config.json").read_text())
        try:
            max_len = int(json.loads((folder / "sentence_bert_config.json").read_text())
                          ["max_seq_length"])
        except (OSError, ValueError, KeyError):
            max_len = int(config.get("max_position_embeddings", 512))
        self.tokenizer = Tokenizer.from_file(str(folder / "tokenizer.json"))
        self.tokenizer.enable_truncation(max_len)
        self.tokenizer.no_padding()
        w = load_safetensors(folder / "model.safetensors")
        prefix = "bert." if "bert.embeddings.word_embeddings.weight" in w else ""
        self.w = {k[len(prefix):]: v.astype(np.float32, copy=False) for k, v in w.items()
                  if k.startswith(prefix) and v.dtype != np.int64}
        # Linear layers as contiguous (in, out) matrices: x @ W is then one plain GEMM (the
        # transposed memory-mapped view made each layer about 1 ms instead of 0.05 ms).
        for name in [k for k in self.w if k.startswith("encoder.") and k.endswith(".weight")
                     and self.w[k].ndim == 2]:
            self.w[name] = np.ascontiguousarray(self.w[name].T)
        self.layers = int(config["num_hidden_layers"])
        self.heads = int(config["num_attention_heads"])
        self.eps = float(config.get("layer_norm_eps", 1e-12))
        self.dimension = int(config["hidden_size"])

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        from threadpoolctl import threadpool_limits

        out = np.zeros((len(texts), self.dimension), dtype=np.float32)
        # One BLAS thread: as fast for one short text, and no idle BLAS thread left
        # spinning on a core while llama.cpp evaluates the prompt (measured: 5-10% slower
        # prompt evaluation right after a multi-threaded encode).
        with threadpool_limits(1):
            for i, text in enumerate(texts):
                out[i] = self._encode_one(text)
        return out

    def _encode_one(self, text: str) -> np.ndarray:
        enc = self.tokenizer.encode(text)
        ids = np.asarray(enc.ids, dtype=np.int64)
        types = np.asarray(enc.type_ids, dtype=np.int64)
        w, n = self.w, len(ids)
        x = (w["embeddings.word_embeddings.weight"][ids]
             + w["embeddings.position_embeddings.weight"][:n]
             + w["embeddings.token_type_embeddings.weight"][types])
        x = self._norm(x, "embeddings.LayerNorm")
        d = self.dimension // self.heads
        for i in range(self.layers):
            p = f"encoder.layer.{i}."
            q, k, v = (self._linear(x, p + f"attention.self.{name}").reshape(n, self.heads, d)
                       .transpose(1, 0, 2) for name in ("query", "key", "value"))
            scores = q @ k.transpose(0, 2, 1) / np.sqrt(d)
            scores = np.exp(scores - scores.max(axis=-1, keepdims=True))
            scores /= scores.sum(axis=-1, keepdims=True)
            ctx = (scores @ v).transpose(1, 0, 2).reshape(n, self.dimension)
            x = self._norm(x + self._linear(ctx, p + "attention.output.dense"),
                           p + "attention.output.LayerNorm")
            h = _gelu(self._linear(x, p + "intermediate.dense"))
            x = self._norm(x + self._linear(h, p + "output.dense"), p + "output.LayerNorm")
        pooled = x.mean(axis=0)
        return pooled / max(float(np.linalg.norm(pooled)), 1e-12)

    def _linear(self, x: np.ndarray, name: str) -> np.ndarray:
        return x @ self.w[name + ".weight"] + self.w[name + ".bias"]

    def _norm(self, x: np.ndarray, name: str) -> np.ndarray:
        mean = x.mean(axis=-1, keepdims=True)
        var = ((x - mean) ** 2).mean(axis=-1, keepdims=True)
        scale, shift = self.w[name + ".weight"], self.w[name + ".bias"]
        return (x - mean) / np.sqrt(var + self.eps) * scale + shift


_DTYPES = {"F32": np.float32, "F16": np.float16, "BF16": None, "I64": np.int64}


def load_safetensors(path: Path) -> dict[str, np.ndarray]:
    """The tensors of a .safetensors file as read-only views of one memory map (no copy).

    The format is an 8-byte little-endian header size, a JSON header of name -> dtype,
    shape and byte offsets, then the raw data.
    """
    raw = np.memmap(path, dtype=np.uint8, mode="r")
    size = int(raw[:8].view("<u8")[0])
    header = json.loads(bytes(raw[8 : 8 + size]))
    base = 8 + size
    tensors = {}
    for name, info in header.items():
        if name == "__metadata__":
            continue
        dtype = _DTYPES.get(info["dtype"])
        if dtype is None:
            raise ValueError(f"{path}: tensor {name} has dtype {info['dtype']}, not supported")
        lo, hi = info["data_offsets"]
        tensors[name] = raw[base + lo : base + hi].view(dtype).reshape(info["shape"])
    return tensors


def _gelu(x: np.ndarray) -> np.ndarray:
    """GELU with the exact erf (as BERT's "gelu"), erf by Abramowitz & Stegun 7.1.26."""
    z = np.abs(x) / np.sqrt(2.0)
    t = 1.0 / (1.0 + 0.3275911 * z)
    poly = t * (0.254829592 + t * (-0.284496736 + t * (1.421413741
                                                       + t * (-1.453152027 + t * 1.061405429))))
    erf = np.sign(x) * (1.0 - poly * np.exp(-z * z))
    return 0.5 * x * (1.0 + erf)
