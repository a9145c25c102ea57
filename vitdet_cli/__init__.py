"""vitdet: ViTDet Mask R-CNN from an empty machine to a verified staged deployment."""

__version__ = "0.1.0"
