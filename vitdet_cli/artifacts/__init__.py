"""The artifacts folder: its layout, metas, model config and manifest, and the one object that
opens it verified (:class:`Artifacts`). Imports neither torch nor onnx (the deploy path)."""

from vitdet_cli.artifacts.folder import Artifacts, VerifyReport, verify_folder

__all__ = ["Artifacts", "VerifyReport", "verify_folder"]
