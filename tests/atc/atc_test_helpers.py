"""Builders for the atc / om tests: tiny exported artifacts, a fake ``atc``, fake ais_bench and acl.

The fakes follow the documented interfaces only (atc's flags, ``InferSession``, pyACL's calls and
return conventions); they record what they were asked to do.
"""

from __future__ import annotations

import json
import sys
import time
import types
from pathlib import Path
from typing import Callable, Sequence

import numpy as np

from vitdet_cli.artifacts import Artifacts
from vitdet_cli.artifacts.atc_meta import AtcMeta, OmRecord, write_atc_meta
from vitdet_cli.artifacts.layout import EXPORT, atc_rel
from vitdet_cli.artifacts.manifest import write_manifest
from vitdet_cli.artifacts.meta import GraphMeta, StageMeta, TensorSpec, write_stage_meta
from vitdet_cli.metafile import sha256_file

NPU_SMI = Path(__file__).parents[1] / "fixtures" / "npu_smi"
"""Recorded ``npu-smi info`` tables."""

# (stage, graph) → (inputs, outputs) as (name, shape); the roi bbox graph has a 2-D input (ND).
GRAPHS = {
    ("backbone", "model"): ([("image", (1, 3, 32, 32))], [("feat", (1, 3, 32, 32))]),
    ("rpn", "model"): (
        [("p2", (1, 8, 8, 8)), ("p3", (1, 8, 4, 4))],
        [("o2", (1, 8, 8, 8)), ("o3", (1, 8, 4, 4))],
    ),
    ("roi", "bbox"): (
        [("roi_feats", (4, 8, 7, 7)), ("rois", (4, 5))],
        [("cls", (4, 8, 7, 7)), ("box", (4, 5))],
    ),
    ("roi", "mask"): ([("mask_feats", (4, 8, 14, 14))], [("mask", (4, 8, 14, 14))]),
}

UNSUPPORTED_LOG = (
    "ATC start working now, please wait for a moment.\n"
    "ATC run failed, Please check the detail log, Try 'atc --help' for more information\n"
    "E19010: No parser is registered for Op [grid_sampler_3140, optype "
    "[ai.onnx::11::grid_sampler]].\n"
    "        Model parse to graph failed, graph name:basicvsr."
    "[FUNC:ModelParseToGraph][FILE:onnx_parser.cc][LINE:847]\n"
    "        ATC model parse ret fail.[FUNC:ParseGraph][FILE:omg.cc][LINE:787]\n"
)
"""Recorded atc output for an unsupported op (quoted in open-mmlab/mmagic issue #1068)."""


def relu_onnx(path: Path, inputs, outputs, opset: int = 13) -> Path:
    """A graph with one Relu per input (output i = relu(input i))."""
    import onnx
    from onnx import TensorProto, helper

    def info(name, shape):
        return helper.make_tensor_value_info(name, TensorProto.FLOAT, list(shape))

    nodes = [
        helper.make_node("Relu", [i], [o], name=f"relu_{k}")
        for k, ((i, _), (o, _)) in enumerate(zip(inputs, outputs))
    ]
    graph = helper.make_graph(nodes, "g", [info(*t) for t in inputs], [info(*t) for t in outputs])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)])
    path.parent.mkdir(parents=True, exist_ok=True)
    onnx.save(model, str(path))
    return path


def specs(pairs) -> tuple[TensorSpec, ...]:
    return tuple(TensorSpec(n, tuple(s), "float32") for n, s in pairs)


CHECKPOINT = {"path": "x.pth", "sha256": "0" * 64}


def seal(root: Path, *written: str) -> Artifacts:
    """Write the manifest as export/atc would after writing ``written`` (default: all)."""
    previous = Artifacts.open(root, verify=False).manifest if written else None
    write_manifest(root, CHECKPOINT, {"vitdet-cli": "test"}, previous, written or [EXPORT, "atc"])
    return Artifacts.open(root)


def make_artifacts(root: Path) -> Path:
    """``<root>/export/<stage>/<graph>.onnx`` + ``export_meta.json`` for every stage, sealed."""
    stages: dict[str, dict[str, GraphMeta]] = {}
    for (stage, graph), (inputs, outputs) in GRAPHS.items():
        path = relu_onnx(root / "export" / stage / f"{graph}.onnx", inputs, outputs)
        gmeta = GraphMeta(path.name, sha256_file(path), specs(inputs), specs(outputs))
        stages.setdefault(stage, {})[graph] = gmeta
    for stage, graphs in stages.items():
        meta = StageMeta(stage, graphs, 13, {}, ["thing"], CHECKPOINT)
        write_stage_meta(root / "export" / stage, meta)
    seal(root)
    return root


FAKE_ATC = '''\
#!{python}
"""A stand-in for CANN's atc: parses --key=value flags, writes the OM or fails.

Output names follow the source document's real run (CANN 8.5 on a 910B3): for
--output=<dir>/<name> it wrote <name>_linux_aarch64.om for the backbone and roi graphs and
<name>.om for the rpn graph; the fake does the same by stage folder.

The OM is the fake's own format (a real OM is opaque): b"FAKE-OM " + one JSON line naming the
precision mode and --keep_dtype content it was compiled with + the ONNX bytes, so the fake
runner (OnnxOmSession) can run the graph and behave as that mode would.
"""
import json, os, sys

args = sys.argv[1:]
if os.environ.get("FAKE_ATC_RECORD"):
    with open(os.environ["FAKE_ATC_RECORD"], "a") as fh:
        fh.write(json.dumps(args) + "\\n")
if args == ["--version"]:
    print("ATC version 8.0.0 (fake)")
    sys.exit(0)
opts = dict(a[2:].split("=", 1) for a in args if a.startswith("--") and "=" in a)
mode = os.environ.get("FAKE_ATC_MODE", "ok")
if mode == "unsupported":
    sys.stdout.write({unsupported!r})
    sys.exit(255)
print("ATC start working now, please wait for a moment.")
if mode == "fail":
    print("E10001: Value [Ascend000] for parameter [--soc_version] is invalid.")
    print("ATC run failed, Please check the detail log, Try 'atc --help' for more information")
    sys.exit(255)
suffix = "" if os.path.basename(os.path.dirname(opts["output"])) == "rpn" else "_linux_aarch64"
if mode != "no_om":
    keep = None
    if "keep_dtype" in opts:
        with open(opts["keep_dtype"]) as fh:
            keep = fh.read()
    mode = opts.get("precision_mode") or opts.get("precision_mode_v2")
    header = json.dumps({{"precision_mode": mode, "keep_dtype": keep}}).encode()
    with open(opts["model"], "rb") as src, open(opts["output"] + suffix + ".om", "wb") as dst:
        dst.write(b"FAKE-OM " + header + b"\\n" + src.read())
print("ATC run success, welcome to the next use.")
'''


def write_fake_atc(bin_dir: Path) -> Path:
    bin_dir.mkdir(parents=True, exist_ok=True)
    exe = bin_dir / "atc"
    exe.write_text(FAKE_ATC.format(python=sys.executable, unsupported=UNSUPPORTED_LOG))
    exe.chmod(0o755)
    return exe


def fake_compiled(root: Path, stage: str, graph: str, gmeta: GraphMeta) -> Path:
    """An OM file (named as real atc did: ``<graph>_linux_aarch64.om``) and ``atc_meta.json``
    as ``vitdet atc`` would leave them, sealed into the manifest."""
    out = root / "atc" / stage
    out.mkdir(parents=True, exist_ok=True)
    om = out / f"{graph}_linux_aarch64.om"
    om.write_bytes(b"FAKE-OM " + graph.encode())
    record = OmRecord("x.onnx", gmeta.sha256, om.name, sha256_file(om), 9, ("atc",), 0.1, "")
    meta = AtcMeta(
        stage,
        {graph: record},
        "Ascend910B3",
        "flag",
        "must_keep_origin_dtype",
        "",
        "8.0.0",
        "2025-01-01T00:00:00+00:00",
    )
    write_atc_meta(out, meta)
    seal(root, atc_rel(stage))
    return om


# ---------------------------------------------------------------- ais_bench


class FakeInferSession:
    """``ais_bench.infer.interface.InferSession`` as documented; ``compute`` makes the outputs."""

    compute: Callable[[list[np.ndarray]], list] = staticmethod(lambda xs: xs)
    fail: bool = False
    instances: list["FakeInferSession"] = []
    io: dict[str, list[tuple[str, tuple]]] = {"inputs": [], "outputs": []}
    """(name, shape) of the OM's inputs and outputs, as ``get_inputs``/``get_outputs`` report."""

    def __init__(self, device_id: int, model_path: str) -> None:
        self.device_id, self.model_path = device_id, model_path
        self.feeds: list[list[np.ndarray]] = []
        self.modes: list[str] = []
        self.freed = 0
        type(self).instances.append(self)

    def infer(self, feeds, mode="static"):
        self.feeds.append(list(feeds))
        self.modes.append(mode)
        if self.fail:
            raise RuntimeError("aclmdlExecute failed (fake)")
        return type(self).compute(list(feeds))

    def get_inputs(self) -> list:
        return [
            types.SimpleNamespace(name=n, shape=list(s), datatype=0) for n, s in self.io["inputs"]
        ]

    def get_outputs(self) -> list:
        return [
            types.SimpleNamespace(name=n, shape=list(s), datatype=0) for n, s in self.io["outputs"]
        ]

    def free_resource(self) -> None:
        self.freed += 1


def fake_ais_modules() -> dict[str, types.ModuleType]:
    """sys.modules entries for ``ais_bench.infer.interface`` with a fresh session class."""
    session = type("InferSession", (FakeInferSession,), {"instances": []})
    leaf = types.ModuleType("ais_bench.infer.interface")
    leaf.InferSession = session
    pkg, mid = types.ModuleType("ais_bench"), types.ModuleType("ais_bench.infer")
    pkg.infer, mid.interface = mid, leaf
    return {"ais_bench": pkg, "ais_bench.infer": mid, "ais_bench.infer.interface": leaf}


OM_MAGIC = b"FAKE-OM "


def read_fake_om(path: str | Path) -> tuple[dict, bytes]:
    """(header, ONNX bytes) of an OM the fake atc wrote (see ``FAKE_ATC``)."""
    data = Path(path).read_bytes()
    assert data.startswith(OM_MAGIC), f"{path} is not a fake OM"
    header, onnx_bytes = data[len(OM_MAGIC) :].split(b"\n", 1)
    return json.loads(header), onnx_bytes


class OnnxOmSession:
    """ais_bench's ``InferSession`` (documented: ``get_inputs``, ``get_outputs``, ``infer``,
    ``free_resource``) over a fake OM: the embedded ONNX runs on ONNX Runtime and the header's
    precision mode decides the rest, after the source document (ascend.md, "atc": on a 910B3
    with CANN 8.5 a ViT-L+FPN encoder lost almost all accuracy under allow_fp32_to_fp16 /
    allow_mix_precision; only must_keep_origin_dtype kept it, at ~12% lower speed):

    - a lowering mode (not ``FULL_PRECISION``) returns its outputs rounded to fp16;
    - an fp32-keeping mode then sleeps ``fp32_slowdown - 1`` times its own compute time, plus
      ``fp32_extra_s`` (tests raise it so that speed order survives a busy machine's noise);
    - stages in ``collapse`` (the OM's stage folder) return wildly wrong outputs under a
      lowering mode — the collapse the document saw, on demand;
    - ``always_fp16`` rounds every mode (an OM that claims fp32 but is not).

    Subclass it to change the class attributes; ``loaded`` records (OM path, mode) per load.
    """

    fp32_slowdown = 1.12
    fp32_extra_s = 0.0
    collapse: frozenset = frozenset()
    always_fp16 = False
    loaded: list = []
    devices: list = []

    def __init__(self, device_id: int, model_path: str) -> None:
        import onnxruntime as ort

        from vitdet_cli.artifacts.atc_meta import FULL_PRECISION

        header, onnx_bytes = read_fake_om(model_path)
        self.mode = header["precision_mode"]
        self.lowered = self.mode not in FULL_PRECISION
        self.stage = Path(model_path).parent.name
        self.session = ort.InferenceSession(onnx_bytes, providers=["CPUExecutionProvider"])
        type(self).loaded.append((str(model_path), self.mode))
        type(self).devices.append(device_id)

    def _specs(self, args) -> list:
        spec = types.SimpleNamespace
        return [spec(name=a.name, shape=list(a.shape), datatype=a.type) for a in args]

    def get_inputs(self) -> list:
        return self._specs(self.session.get_inputs())

    def get_outputs(self) -> list:
        return self._specs(self.session.get_outputs())

    def infer(self, feeds, mode="static"):
        names = [i.name for i in self.session.get_inputs()]
        start = time.perf_counter()
        outputs = self.session.run(None, dict(zip(names, feeds)))
        if self.lowered and self.stage in self.collapse:
            rng = np.random.default_rng(0)
            outputs = [rng.standard_normal(o.shape) * 10 * (1 + np.abs(o).max()) for o in outputs]
        if self.lowered or self.always_fp16:
            return [np.asarray(o).astype(np.float16) for o in outputs]
        time.sleep((self.fp32_slowdown - 1) * (time.perf_counter() - start) + self.fp32_extra_s)
        return outputs

    def free_resource(self) -> None:
        return None


def install_fake_ais(monkeypatch, session: type) -> None:
    """``ais_bench.infer.interface`` importable, with ``session`` as its ``InferSession``."""
    modules = fake_ais_modules()
    modules["ais_bench.infer.interface"].InferSession = session
    for name, module in modules.items():
        monkeypatch.setitem(sys.modules, name, module)


# ---------------------------------------------------------------- pyACL

_NP_TO_ACL = {
    np.dtype(np.float32): 0,
    np.dtype(np.float16): 1,
    np.dtype(np.int32): 3,
    np.dtype(np.int64): 9,
    np.dtype(np.uint8): 4,
}


class FakeAcl:
    """pyACL's documented calls over simulated memory; every call is recorded in ``calls``.

    Args:
        inputs, outputs: (shape, numpy dtype) of the model's tensors.
        compute: model function on the decoded inputs.
        execute_ret / load_ret: error codes to return from execute / load_from_file.
    """

    def __init__(self, inputs, outputs, compute, execute_ret: int = 0, load_ret: int = 0):
        self.inputs = [(tuple(s), np.dtype(d)) for s, d in inputs]
        self.outputs = [(tuple(s), np.dtype(d)) for s, d in outputs]
        self.compute, self.execute_ret, self.load_ret = compute, execute_ret, load_ret
        self.calls: list[str] = []
        self.mem: dict[int, bytearray] = {}
        self.temp: set[int] = set()
        self.datasets: dict[int, list[int]] = {}
        self.buffers: dict[int, tuple[int, int]] = {}
        self._next = 1000
        self.module = self._build()

    def _id(self) -> int:
        self._next += 8
        return self._next

    def _rec(self, name: str, fn: Callable) -> Callable:
        def wrapped(*args):
            self.calls.append(name)
            return fn(*args)

        return wrapped

    @staticmethod
    def _size(spec) -> int:
        shape, dtype = spec
        return int(np.prod(shape)) * dtype.itemsize

    def _alloc(self, size: int) -> tuple[int, int]:
        ptr = self._id()
        self.mem[ptr] = bytearray(size)
        return ptr, 0

    def _free(self, ptr: int) -> int:
        del self.mem[ptr]
        return 0

    def _bytes_to_ptr(self, data: bytes) -> int:
        ptr = self._id()
        self.mem[ptr] = bytearray(data)
        self.temp.add(ptr)
        return ptr

    def _memcpy(self, dst, dst_size, src, count, kind) -> int:
        assert count <= dst_size and count <= len(self.mem[src])
        self.mem[dst][:count] = self.mem[src][:count]
        return 0

    def _buffer(self, ptr: int, size: int) -> int:
        buf = self._id()
        self.buffers[buf] = (ptr, size)
        return buf

    def _add(self, ds: int, buf: int):
        self.datasets[ds].append(buf)
        return ds, 0

    def _dataset(self) -> int:
        ds = self._id()
        self.datasets[ds] = []
        return ds

    def _execute(self, model_id, in_ds, out_ds) -> int:
        if self.execute_ret:
            return self.execute_ret
        arrays = []
        for buf, (shape, dtype) in zip(self.datasets[in_ds], self.inputs):
            ptr, size = self.buffers[buf]
            arrays.append(np.frombuffer(bytes(self.mem[ptr][:size]), dtype=dtype).reshape(shape))
        for buf, value, (_, dtype) in zip(
            self.datasets[out_ds], self.compute(arrays), self.outputs
        ):
            ptr, size = self.buffers[buf]
            self.mem[ptr][:size] = np.asarray(value, dtype=dtype).tobytes()
        return 0

    def _build(self) -> types.ModuleType:
        r = self._rec
        ins, outs = self.inputs, self.outputs
        acl = types.ModuleType("acl")
        acl.init = r("init", lambda *a: 0)
        acl.finalize = r("finalize", lambda: 0)
        acl.create_data_buffer = r("create_data_buffer", self._buffer)
        acl.destroy_data_buffer = r("destroy_data_buffer", lambda b: self.buffers.pop(b) and 0)
        acl.rt = types.SimpleNamespace(
            set_device=r("rt.set_device", lambda d: 0),
            reset_device=r("rt.reset_device", lambda d: 0),
            malloc=r("rt.malloc", lambda size, policy: self._alloc(size)),
            free=r("rt.free", self._free),
            malloc_host=r("rt.malloc_host", self._alloc),
            free_host=r("rt.free_host", self._free),
            memcpy=r("rt.memcpy", self._memcpy),
        )
        acl.util = types.SimpleNamespace(
            bytes_to_ptr=r("util.bytes_to_ptr", self._bytes_to_ptr),
            ptr_to_bytes=r("util.ptr_to_bytes", lambda p, n: bytes(self.mem[p][:n])),
        )
        acl.mdl = types.SimpleNamespace(
            load_from_file=r("mdl.load_from_file", lambda path: (7, self.load_ret)),
            unload=r("mdl.unload", lambda mid: 0),
            create_desc=r("mdl.create_desc", lambda: "desc"),
            get_desc=r("mdl.get_desc", lambda desc, mid: 0),
            destroy_desc=r("mdl.destroy_desc", lambda desc: 0),
            get_num_inputs=lambda desc: len(ins),
            get_num_outputs=lambda desc: len(outs),
            get_input_size_by_index=lambda desc, i: self._size(ins[i]),
            get_output_size_by_index=lambda desc, i: self._size(outs[i]),
            get_input_data_type=lambda desc, i: _NP_TO_ACL[ins[i][1]],
            get_output_data_type=lambda desc, i: _NP_TO_ACL[outs[i][1]],
            get_output_dims=lambda desc, i: (
                {"name": f"out{i}", "dimCount": len(outs[i][0]), "dims": list(outs[i][0])},
                0,
            ),
            create_dataset=r("mdl.create_dataset", self._dataset),
            add_dataset_buffer=r("mdl.add_dataset_buffer", self._add),
            destroy_dataset=r("mdl.destroy_dataset", lambda ds: self.datasets.pop(ds) and 0),
            execute=r("mdl.execute", self._execute),
        )
        return acl

    def leaked(self) -> list[int]:
        """Device/host allocations not freed (temporary host copies excluded)."""
        return [p for p in self.mem if p not in self.temp]

    def count(self, name: str) -> int:
        return self.calls.count(name)


def tensor_specs(pairs: Sequence[tuple[str, tuple, str]]) -> tuple[TensorSpec, ...]:
    return tuple(TensorSpec(n, tuple(s), d) for n, s, d in pairs)
