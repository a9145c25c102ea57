"""Datasets: COCO layout checks and subsets (:mod:`.coco`), the synthetic shapes dataset
(:mod:`.synth`), annotation pictures (:mod:`.preview`) and atomic JSON writes (:mod:`.atomic`).

Submodules are imported on use so ``import vitdet_cli.data`` stays cheap.
"""
