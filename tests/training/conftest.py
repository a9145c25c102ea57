import pytest

TINY = "configs/vitdet_tiny_shapes.yaml"


@pytest.fixture(scope="session")
def shapes_root(tmp_path_factory):
    """A small synthetic dataset shared by the training tests."""
    from vitdet_cli.data.synth import ensure_synthetic_dataset

    root = tmp_path_factory.mktemp("shapes")
    ensure_synthetic_dataset(root, images=16, seed=1, image_size=128, val_fraction=0.25)
    return root


@pytest.fixture
def tiny_overrides(shapes_root):
    """Overrides that make the tiny demo config train for a handful of iterations."""

    def make(iters: int = 4, ckpt: int = 2, **extra):
        sets = {
            "data.root": str(shapes_root),
            "data.synthetic.images": 16,
            "data.synthetic.seed": 1,
            "data.synthetic.size": 128,
            "data.synthetic.val_fraction": 0.25,
            "data.num_workers": 0,
            "train.max_iters": iters,
            "train.batch_size": 2,
            "train.checkpoint_interval": ckpt,
            "train.val_interval": iters,
            "train.log_interval": 1,
            "train.warmup_iters": 1,
            "model.img_size": 128,
            **extra,
        }
        return [f"{k}={v}" for k, v in sets.items()]

    return make
