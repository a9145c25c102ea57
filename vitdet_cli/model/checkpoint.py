"""Load MAE / timm-style pre-training weights (or a ViTDet detector's backbone) into :class:`ViT`.

Accepted layouts: ``{'model': sd}`` (MAE), ``{'state_dict': sd}`` (mmengine), or a bare state
dict. Keys may carry a ``backbone.`` (MMDetection detector), ``backbone.net.`` (detectron2) or
``module.`` (DDP) prefix. Our module names are timm's, so the mapping is the identity after
the prefix; keys MAE has but detection does not use (``cls_token``, final ``norm``, decoder)
are reported as ignored. Tensors trained at another size are resampled: the pos-embed grid
bicubically, relative-position tables linearly.
"""

from __future__ import annotations

import argparse
import pickle
import re
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import Tensor, nn

from vitdet_cli.errors import VitdetError
from vitdet_cli.model.pos_embed import pos_embed_grid, resize_abs_pos, resize_rel_pos

#: Prefixes tried, longest first, when none is given: the first one some key carries is used.
KNOWN_PREFIXES = ("backbone.net.", "backbone.")

#: Keys of MAE / timm classification checkpoints that ViTDet does not use.
_PRETRAIN_ONLY = re.compile(
    r"^(cls_token|mask_token|dist_token|reg_token)$|^(norm|fc_norm|head|pre_logits)\.|^decoder"
)
_REL_POS = re.compile(r"\.attn\.rel_pos_[hw]$")

_MAX_LISTED = 8


@dataclass
class LoadReport:
    """What a backbone checkpoint load did.

    Attributes:
        source: file path or URL the weights came from.
        loaded: model keys that received a tensor.
        missing: model keys the checkpoint did not provide (they keep their init; for an MAE
            checkpoint these are the zero-initialised relative-position tables).
        unexpected: checkpoint keys that fit nothing in the model.
        ignored: checkpoint keys known not to be used (cls token, final norm, MAE decoder,
            non-backbone parts of a detector checkpoint).
        resized: ``"key: old shape -> new shape"`` for resampled tensors.
    """

    source: str
    loaded: list[str] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)
    unexpected: list[str] = field(default_factory=list)
    ignored: list[str] = field(default_factory=list)
    resized: list[str] = field(default_factory=list)

    @property
    def loaded_count(self) -> int:
        return len(self.loaded)

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "loaded_count": self.loaded_count}

    def summary(self) -> str:
        """A few lines for a log."""
        total = len(self.loaded) + len(self.missing)
        lines = [f"loaded {len(self.loaded)}/{total} backbone tensors from {self.source}"]
        for label, keys in (
            ("missing", self.missing),
            ("unexpected", self.unexpected),
            ("ignored", self.ignored),
            ("resized", self.resized),
        ):
            if keys:
                shown = ", ".join(keys[:_MAX_LISTED])
                more = f" (+{len(keys) - _MAX_LISTED} more)" if len(keys) > _MAX_LISTED else ""
                lines.append(f"  {label} ({len(keys)}): {shown}{more}")
        return "\n".join(lines)


# --------------------------------------------------------------------------- reading files


def _bad(path: Any, what: str, hint: str, code: str = "bad_checkpoint") -> VitdetError:
    return VitdetError(f"{path}: {what}", hint=hint, code=code)


_REDOWNLOAD = (
    "the file is damaged or not a PyTorch checkpoint; a cut-off download is the usual cause: "
    "download it again and compare its sha256 with the published one"
)


def read_checkpoint(path: str | Path, allow_pickle: bool = False, mmap: bool = False) -> Any:
    """``torch.load`` a checkpoint file on the CPU, turning every failure into a VitdetError.

    ``weights_only=True`` (no arbitrary code) unless ``allow_pickle``; ``argparse.Namespace``
    (the ``args`` entry of MAE training checkpoints) is allowed either way. ``mmap`` maps the
    tensors instead of reading them (a cheap full check of the file's structure).
    """
    p = Path(path)
    if not p.exists():
        raise _bad(
            p,
            "checkpoint file not found",
            "check the path (MAE weights are e.g. mae_pretrain_vit_base.pth)",
            code="checkpoint_not_found",
        )
    if not p.is_file():
        raise _bad(
            p,
            "is not a file",
            "pass the checkpoint file itself, not a directory",
            code="checkpoint_not_found",
        )
    if p.stat().st_size == 0:
        raise _bad(p, "checkpoint file is empty", _REDOWNLOAD)
    try:
        with torch.serialization.safe_globals([argparse.Namespace]):
            return torch.load(p, map_location="cpu", weights_only=not allow_pickle, mmap=mmap)
    except pickle.UnpicklingError as exc:
        refused = refused_global(str(exc))
        if refused is not None:
            raise _bad(
                p,
                f"the file asks to run code when loaded ({refused}); refused",
                "load checkpoints only from a source you trust; ask for one that holds only "
                "tensors and plain data (a state dict)",
                code="checkpoint_unsafe",
            ) from None
        raise _bad(
            p, f"not a readable PyTorch checkpoint ({_first_line(exc)})", _REDOWNLOAD
        ) from None
    except Exception as exc:  # zip errors, EOF, bad pickle opcodes, ...
        raise _bad(
            p, f"not a readable PyTorch checkpoint ({_first_line(exc)})", _REDOWNLOAD
        ) from None


_REFUSED = re.compile(r"unsupported global:?\s+(?:GLOBAL\s+)?([\w.]+)", re.IGNORECASE)


def refused_global(message: str) -> str | None:
    """The global a ``weights_only`` load refused (``"posix.system"``), from torch's message;
    ``"a Python object"`` if torch refused without naming one, None if nothing was refused."""
    found = _REFUSED.search(message)
    if found:
        return found.group(1).rstrip(".")
    return "a Python object" if "weights only load failed" in message.lower() else None


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    msg = text[0] if text else type(exc).__name__
    return f"{type(exc).__name__}: {msg[:160]}"


def extract_state_dict(obj: Any, source: str | Path = "<checkpoint>") -> dict[str, Tensor]:
    """The tensor state dict inside ``{'model': ...}``, ``{'state_dict': ...}`` or a bare dict."""
    if isinstance(obj, Mapping):
        for key in ("model", "state_dict", "module"):
            if isinstance(obj.get(key), Mapping):
                obj = obj[key]
                break
    if not isinstance(obj, Mapping):
        raise _bad(
            source,
            f"holds a {type(obj).__name__}, not a dict of tensors",
            "expected {'model': state_dict}, {'state_dict': state_dict} or a state dict",
        )
    tensors = {k: v for k, v in obj.items() if isinstance(k, str) and isinstance(v, Tensor)}
    if not tensors:
        raise _bad(
            source,
            "holds no tensors",
            "expected {'model': state_dict}, {'state_dict': state_dict} or a state dict",
        )
    return tensors


def read_state_dict(path: str | Path, allow_pickle: bool = False) -> dict[str, Tensor]:
    """Read a checkpoint file and return its tensor state dict."""
    return extract_state_dict(read_checkpoint(path, allow_pickle=allow_pickle), path)


def _read_url(url: str, allow_pickle: bool) -> dict[str, Tensor]:
    try:
        obj = torch.hub.load_state_dict_from_url(
            url, map_location="cpu", weights_only=not allow_pickle, progress=False
        )
    except Exception as exc:
        raise VitdetError(
            f"{url}: could not download or read the checkpoint ({_first_line(exc)})",
            hint="check the URL and the network, or download the file and pass its path",
            code="bad_checkpoint",
        ) from exc
    return extract_state_dict(obj, url)


# --------------------------------------------------------------------------- conversion


def strip_prefix(
    state_dict: Mapping[str, Tensor], prefix: str | None = None
) -> tuple[dict[str, Tensor], list[str]]:
    """Keys under ``prefix`` (or the first of :data:`KNOWN_PREFIXES` present) with it removed,
    and the keys left out. ``module.`` (DDP) is always removed first."""
    plain = {k.removeprefix("module."): v for k, v in state_dict.items()}
    if prefix is None:
        prefix = next((p for p in KNOWN_PREFIXES if any(k.startswith(p) for k in plain)), "")
    if not prefix:
        return plain, []
    kept = {k[len(prefix) :]: v for k, v in plain.items() if k.startswith(prefix)}
    dropped = [k for k in plain if not k.startswith(prefix)]
    return kept, dropped


def fit_pos_embed(pos: Tensor, target_shape: torch.Size, target_cls: bool) -> Tensor:
    """Resample a ``(1, [1+]S*S, C)`` pos-embed to ``target_shape`` (another grid and/or
    with/without a cls slot); the cls slot is kept, or zero if the source has none."""
    has_cls = _is_square_plus_one(pos.shape[1])
    grid = pos_embed_grid(int(target_shape[1]), target_cls)
    tokens = resize_abs_pos(pos.float(), has_cls, (grid, grid)).reshape(1, grid * grid, -1)
    if target_cls:
        cls = pos[:, :1].float() if has_cls else tokens.new_zeros(1, 1, tokens.shape[-1])
        tokens = torch.cat([cls, tokens], dim=1)
    return tokens.to(pos.dtype)


def _is_square_plus_one(n: int) -> bool:
    try:
        pos_embed_grid(n, True)
        return True
    except ValueError:
        return False


def _fit(key: str, src: Tensor, dst: Tensor, model: nn.Module) -> Tensor | None:
    """``src`` reshaped to ``dst``'s shape when that is meaningful, else ``None``."""
    if src.shape == dst.shape:
        return src
    if key == "pos_embed" and src.dim() == 3 and src.shape[-1] == dst.shape[-1]:
        try:
            target_cls = bool(getattr(model, "pretrain_use_cls_token", True))
            return fit_pos_embed(src, dst.shape, target_cls)
        except ValueError:
            return None
    if _REL_POS.search(key) and src.dim() == 2 and src.shape[1] == dst.shape[1]:
        return resize_rel_pos(src.float(), dst.shape[0]).to(src.dtype)
    return None


def load_backbone_state_dict(
    backbone: nn.Module,
    state_dict: Mapping[str, Tensor],
    source: str = "<state dict>",
    prefix: str | None = None,
) -> LoadReport:
    """Copy matching tensors of ``state_dict`` into ``backbone`` and report what happened.

    Raises:
        VitdetError: nothing matched, or some tensors have shapes that cannot be resampled
            (a checkpoint of another model size).
    """
    own = backbone.state_dict()
    tensors, dropped = strip_prefix(state_dict, prefix)
    report = LoadReport(source=str(source), ignored=list(dropped))
    to_load: dict[str, Tensor] = {}
    mismatched: list[str] = []
    for key, value in tensors.items():
        if key not in own:
            (report.ignored if _PRETRAIN_ONLY.search(key) else report.unexpected).append(key)
            continue
        fitted = _fit(key, value, own[key], backbone)
        if fitted is None:
            mismatched.append(f"{key}: {tuple(value.shape)} vs model {tuple(own[key].shape)}")
            continue
        if fitted is not value:
            report.resized.append(f"{key}: {tuple(value.shape)} -> {tuple(fitted.shape)}")
        to_load[key] = fitted
    if mismatched:
        raise VitdetError(
            f"{source}: {len(mismatched)} tensors do not fit the model, e.g. "
            + "; ".join(mismatched[:3]),
            hint="the checkpoint is for another model size: pick the preset it was trained "
            "with (vit-b: 768 wide, vit-l: 1024, vit-h: 1280)",
            code="checkpoint_mismatch",
        )
    if not to_load:
        sample = ", ".join(list(tensors)[:3]) or "none"
        raise VitdetError(
            f"{source}: no ViT backbone weights found (0 of {len(tensors)} keys match; "
            f"first keys: {sample})",
            hint="expected MAE/timm keys such as patch_embed.proj.weight and "
            "blocks.0.attn.qkv.weight, optionally under 'backbone.'",
            code="checkpoint_mismatch",
        )
    backbone.load_state_dict(to_load, strict=False)
    report.loaded = [k for k in own if k in to_load]
    report.missing = [k for k in own if k not in to_load]
    return report


def load_pretrained_backbone(
    backbone: nn.Module,
    path: str | Path,
    prefix: str | None = None,
    allow_pickle: bool = False,
) -> LoadReport:
    """Load a pre-training checkpoint file (or http(s) URL) into ``backbone``.

    Args:
        backbone: a :class:`~vitdet_cli.model.vit.ViT`.
        path: ``.pth`` file or URL.
        prefix: take only keys under this prefix (auto-detects ``backbone.`` if ``None``).
        allow_pickle: permit arbitrary pickled objects (only for files you trust).

    Returns:
        A :class:`LoadReport`.
    """
    text = str(path)
    if text.startswith(("http://", "https://")):
        state_dict = _read_url(text, allow_pickle)
    else:
        state_dict = read_state_dict(path, allow_pickle=allow_pickle)
    return load_backbone_state_dict(backbone, state_dict, source=text, prefix=prefix)
