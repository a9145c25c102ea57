"""A small synthetic dataset shared by the data tests (generated once per session)."""

import pytest


@pytest.fixture(scope="session")
def small_synth(tmp_path_factory):
    from vitdet_cli.data.synth import make_synthetic_dataset

    return make_synthetic_dataset(
        tmp_path_factory.mktemp("synth") / "ds", images=10, seed=3, image_size=128, preview=False
    )
