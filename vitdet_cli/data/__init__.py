"""Datasets: COCO layout checks and subsets (:mod:`.coco`), the synthetic shapes dataset
(:mod:`.synth`), annotation pictures (:mod:`.preview`), input image files (:mod:`.images`) and
which images and annotation file a command runs on (:mod:`.resolve`).

Submodules are imported on use so ``import vitdet_cli.data`` stays cheap.
"""
