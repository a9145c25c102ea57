"""The ``om`` backend: run the OM files compiled by ``vitdet atc`` on an Ascend NPU.

Two runners behind one session: ``ais_bench`` (``InferSession(device_id, om).infer(feeds,
mode="static")``, the usual choice in Huawei's model zoo) when importable, else pyACL (``import
acl``, shipped with CANN) following its documented sequence: init → set_device →
load_from_file → datasets/buffers → memcpy in → execute → memcpy out → unload → reset_device →
finalize. Only the calls themselves touch the device; everything else is checked first.
"""

from __future__ import annotations

import importlib
import threading
from collections import Counter
from contextlib import ExitStack
from pathlib import Path
from types import ModuleType
from typing import Any, Callable, Mapping, Optional, Sequence

import numpy as np

from vitdet_cli.artifacts import Artifacts
from vitdet_cli.artifacts.meta import GraphMeta
from vitdet_cli.errors import VitdetError
from vitdet_cli.runtime.backends.base import Backend, StageSession, as_outputs

AIS_MODULE = "ais_bench.infer.interface"
RUNNERS = ("auto", "ais_bench", "acl")
SET_ENV_HINT = (
    "source /usr/local/Ascend/ascend-toolkit/set_env.sh (provides acl) and/or install ais_bench"
)

# pyACL constants (aclDataType, aclrtMemcpyKind, aclrtMemMallocPolicy), from CANN's API reference.
ACL_DTYPES: dict[int, Any] = {
    0: np.float32,
    1: np.float16,
    2: np.int8,
    3: np.int32,
    4: np.uint8,
    6: np.int16,
    7: np.uint16,
    8: np.uint32,
    9: np.int64,
    10: np.uint64,
    11: np.float64,
    12: np.bool_,
    16: np.complex64,
    17: np.complex128,
}
"""ACL dtype → numpy. bf16 (27) and packed types (int4, uint1) have no numpy equivalent."""
ACL_MEMCPY_HOST_TO_DEVICE = 1
ACL_MEMCPY_DEVICE_TO_HOST = 2
ACL_MEM_MALLOC_HUGE_FIRST = 0


def _import(name: str) -> Optional[ModuleType]:
    """The module, or None when it cannot be imported (missing, or its libraries not loadable)."""
    try:
        return importlib.import_module(name)
    except Exception:  # acl raises OSError/ImportError when CANN's libraries are not on the path
        return None


def select_runner(runner: str = "auto") -> tuple[str, ModuleType]:
    """(runner name, its module): ais_bench first, then acl; a clear error when neither loads."""
    if runner not in RUNNERS:
        raise VitdetError(
            f"unknown om runner {runner!r}",
            hint=f"use one of: {', '.join(RUNNERS)}",
            code="bad_runner",
            exit_code=2,
        )
    for name, module in (("ais_bench", AIS_MODULE), ("acl", "acl")):
        if runner in ("auto", name) and (mod := _import(module)) is not None:
            return name, mod
    wanted = "ais_bench nor pyACL (acl)" if runner == "auto" else f"{runner} only"
    raise VitdetError(
        f"the om backend needs ais_bench or pyACL; neither is importable (asked for {wanted})",
        hint=SET_ENV_HINT,
        code="om_runner_missing",
    )


def _acl_check(ret: int, what: str) -> None:
    if ret != 0:
        raise VitdetError(
            f"pyACL {what} failed with error code {ret}",
            hint="check the device id (npu-smi info) and CANN's device log (plog)",
            code="acl_error",
        )


class _AclProcess:
    """``acl.init``/``finalize`` and ``set_device``/``reset_device``, shared by all sessions.

    ACL allows one init per process; sessions of several stages are open together, so both are
    reference-counted and undone when the last session closes.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._inits = 0
        self._devices: Counter[int] = Counter()

    def acquire(self, acl: ModuleType, device_id: int) -> Callable[[], None]:
        with self._lock:
            if self._inits == 0:
                _acl_check(acl.init(), "init")
            self._inits += 1
            try:
                if self._devices[device_id] == 0:
                    _acl_check(acl.rt.set_device(device_id), f"rt.set_device({device_id})")
                self._devices[device_id] += 1
            except BaseException:
                self._drop_init(acl)
                raise
        return lambda: self._release(acl, device_id)

    def _release(self, acl: ModuleType, device_id: int) -> None:
        with self._lock:
            self._devices[device_id] -= 1
            if self._devices[device_id] == 0:
                acl.rt.reset_device(device_id)
            self._drop_init(acl)

    def _drop_init(self, acl: ModuleType) -> None:
        self._inits -= 1
        if self._inits == 0:
            acl.finalize()


_ACL_PROCESS = _AclProcess()


def _check_ais_io(session: Any, om: Path, meta: GraphMeta) -> None:
    """The OM's inputs and outputs as ais_bench documents them (``get_inputs()`` /
    ``get_outputs()``: name, shape, datatype) against the meta: count and shapes must agree.
    Names are not compared (atc may rename output tensors after their nodes), nor datatypes (a
    lowered OM may return fp16, converted on the way out)."""
    for kind, want, got in (
        ("inputs", meta.inputs, session.get_inputs()),
        ("outputs", meta.outputs, session.get_outputs()),
    ):
        shapes = [tuple(int(d) for d in t.shape) for t in got]
        expected = [tuple(t.shape) for t in want]
        if shapes != expected:
            raise VitdetError(
                f"{om}: the OM's {kind} have shapes {shapes}, its export_meta.json lists "
                f"{expected}",
                hint="the OM was compiled from another graph; recompile with `vitdet atc` "
                "(or re-run `vitdet tune --target npu`)",
                code="om_mismatch",
            )


class _AisEngine:
    """ais_bench's InferSession, refused before any run when its I/O differ from the meta."""

    def __init__(self, ais: ModuleType, device_id: int, om: Path, meta: GraphMeta) -> None:
        self._session = ais.InferSession(device_id, str(om))
        try:
            _check_ais_io(self._session, om, meta)
        except BaseException:
            self._session.free_resource()
            raise

    def infer(self, arrays: list[np.ndarray]) -> list:
        return self._session.infer(arrays, mode="static")

    def close(self) -> None:
        self._session.free_resource()


class _AclEngine:
    """pyACL: one loaded model with device buffers for every input and output."""

    def __init__(self, acl: ModuleType, device_id: int, om: Path, meta: GraphMeta) -> None:
        self._acl, self._stack = acl, ExitStack()
        try:
            self._load(device_id, om, meta)
        except BaseException:
            self._stack.close()
            raise

    def _load(self, device_id: int, om: Path, meta: GraphMeta) -> None:
        acl, push = self._acl, self._stack.callback
        push(_ACL_PROCESS.acquire(acl, device_id))
        self._model_id, ret = acl.mdl.load_from_file(str(om))
        _acl_check(ret, f"mdl.load_from_file({om})")
        push(acl.mdl.unload, self._model_id)
        desc = acl.mdl.create_desc()
        push(acl.mdl.destroy_desc, desc)
        _acl_check(acl.mdl.get_desc(desc, self._model_id), "mdl.get_desc")
        n_in, n_out = acl.mdl.get_num_inputs(desc), acl.mdl.get_num_outputs(desc)
        if (n_in, n_out) != (len(meta.inputs), len(meta.outputs)):
            raise VitdetError(
                f"{om} has {n_in} inputs/{n_out} outputs, its meta lists "
                f"{len(meta.inputs)}/{len(meta.outputs)}",
                hint="recompile with `vitdet atc` after re-exporting",
                code="om_mismatch",
            )
        self._in = [
            (self._device(acl.mdl.get_input_size_by_index(desc, i)), _np_dtype(acl, desc, i, True))
            for i in range(n_in)
        ]
        self._out = [
            (
                self._device(acl.mdl.get_output_size_by_index(desc, i)),
                self._host_spec(desc, i, meta),
            )
            for i in range(n_out)
        ]
        self._in_ds = self._dataset([buf for buf, _ in self._in])
        self._out_ds = self._dataset([buf for buf, _ in self._out])

    def _device(self, size: int) -> tuple[int, int]:
        ptr, ret = self._acl.rt.malloc(size, ACL_MEM_MALLOC_HUGE_FIRST)
        _acl_check(ret, f"rt.malloc({size})")
        self._stack.callback(self._acl.rt.free, ptr)
        return ptr, size

    def _host_spec(self, desc: Any, i: int, meta: GraphMeta) -> tuple[int, Any, tuple[int, ...]]:
        """(host buffer, numpy dtype, shape) of output ``i``: acl's dims, else the meta's."""
        acl, size = self._acl, self._acl.mdl.get_output_size_by_index(desc, i)
        host, ret = acl.rt.malloc_host(size)
        _acl_check(ret, f"rt.malloc_host({size})")
        self._stack.callback(acl.rt.free_host, host)
        dtype = _np_dtype(acl, desc, i, False)
        count = size // np.dtype(dtype).itemsize
        dims, ret = acl.mdl.get_output_dims(desc, i)
        candidates = [tuple(dims["dims"])] if ret == 0 and dims else []
        candidates.append(tuple(meta.outputs[i].shape))
        shape = next((s for s in candidates if int(np.prod(s)) == count), None)
        if shape is None:
            raise VitdetError(
                f"output {i} of the OM holds {count} values; neither {candidates} fits",
                hint="recompile with `vitdet atc` after re-exporting",
                code="om_mismatch",
            )
        return host, dtype, shape

    def _dataset(self, buffers: Sequence[tuple[int, int]]) -> Any:
        acl = self._acl
        dataset = acl.mdl.create_dataset()
        self._stack.callback(acl.mdl.destroy_dataset, dataset)
        for ptr, size in buffers:
            buf = acl.create_data_buffer(ptr, size)
            self._stack.callback(acl.destroy_data_buffer, buf)
            _, ret = acl.mdl.add_dataset_buffer(dataset, buf)
            _acl_check(ret, "mdl.add_dataset_buffer")
        return dataset

    def infer(self, arrays: list[np.ndarray]) -> list[np.ndarray]:
        acl = self._acl
        for arr, ((ptr, size), dtype) in zip(arrays, self._in):
            data = np.ascontiguousarray(arr, dtype=dtype).tobytes()
            if len(data) != size:
                raise VitdetError(
                    f"input of {len(data)} bytes for an OM input of {size} bytes",
                    hint="the OM and export_meta.json disagree; recompile with `vitdet atc`",
                    code="bad_feed",
                )
            src = acl.util.bytes_to_ptr(data)
            _acl_check(acl.rt.memcpy(ptr, size, src, size, ACL_MEMCPY_HOST_TO_DEVICE), "memcpy")
        _acl_check(acl.mdl.execute(self._model_id, self._in_ds, self._out_ds), "mdl.execute")
        outputs = []
        for (ptr, size), (host, dtype, shape) in self._out:
            _acl_check(acl.rt.memcpy(host, size, ptr, size, ACL_MEMCPY_DEVICE_TO_HOST), "memcpy")
            raw = acl.util.ptr_to_bytes(host, size)
            outputs.append(np.frombuffer(raw, dtype=dtype).reshape(shape).copy())
        return outputs

    def close(self) -> None:
        self._stack.close()


def _np_dtype(acl: ModuleType, desc: Any, i: int, is_input: bool) -> Any:
    getter = acl.mdl.get_input_data_type if is_input else acl.mdl.get_output_data_type
    code = getter(desc, i)
    if code not in ACL_DTYPES:
        raise VitdetError(
            f"{'input' if is_input else 'output'} {i} of the OM has ACL dtype {code}, "
            "which numpy cannot hold",
            hint="recompile with --precision-mode must_keep_origin_dtype (no bf16)",
            code="om_dtype",
        )
    return ACL_DTYPES[code]


class OmSession(StageSession):
    """One OM graph; feeds go in the meta's input order, outputs come back fp16 → float32."""

    def __init__(self, stage: str, graph: str, meta: GraphMeta, engine: Any) -> None:
        super().__init__(stage, graph, meta)
        self._engine = engine

    def run(self, feeds: Mapping[str, np.ndarray]) -> list[np.ndarray]:
        if self._engine is None:
            raise VitdetError(f"{self.stage}/{self.graph}: session is closed", code="closed")
        self.check_feeds(feeds)
        arrays = [np.ascontiguousarray(feeds[t.name], dtype=t.dtype) for t in self.meta.inputs]
        try:
            values = self._engine.infer(arrays)
        except VitdetError:
            raise
        except Exception as exc:  # runtime errors from the vendor libraries
            raise VitdetError(
                f"{self.stage}/{self.graph}: OM inference failed: {exc}", code="om_infer_failed"
            ) from None
        return as_outputs(values, self.meta)

    def close(self) -> None:
        engine, self._engine = self._engine, None
        if engine is not None:
            engine.close()


class OmBackend(Backend):
    """Ascend OM files under ``<artifacts>/atc/<stage>/``, by the name ``atc_meta.json`` records
    (``<graph>.om`` or ``<graph>_linux_<arch>.om``, whichever atc wrote).

    Args:
        device_id: NPU index as this process sees it (after ``ASCEND_RT_VISIBLE_DEVICES``).
        runner: ``auto`` (ais_bench, else acl), ``ais_bench`` or ``acl``.
    """

    name = "om"

    def __init__(self, device_id: int = 0, runner: str = "auto") -> None:
        self.device_id = int(device_id)
        self.runner = runner
        select_runner(runner)  # fail early and clearly

    @classmethod
    def available(cls) -> tuple[bool, str]:
        """(True, runner name) when ais_bench or acl imports, else (False, why)."""
        try:
            name, _ = select_runner("auto")
        except VitdetError as err:
            return False, f"{err.message}; {err.hint}"
        return True, name

    def open(self, artifacts: Artifacts, stage: str, graph: str) -> OmSession:
        return self.open_file(artifacts, stage, graph, artifacts.om_path(stage, graph))

    def open_file(self, artifacts: Artifacts, stage: str, graph: str, path: Path) -> OmSession:
        """Run the OM ``path`` as ``graph`` (e.g. one ``vitdet tune`` compiled with another
        precision mode); its inputs and outputs must still be the meta's."""
        meta = artifacts.graph(stage, graph)
        runner, module = select_runner(self.runner)
        try:
            if runner == "ais_bench":
                engine: Any = _AisEngine(module, self.device_id, path, meta)
            else:
                engine = _AclEngine(module, self.device_id, path, meta)
        except VitdetError:
            raise
        except Exception as exc:  # runtime errors from the vendor libraries
            raise VitdetError(
                f"{runner} could not load {path}: {exc}", hint=SET_ENV_HINT, code="om_load_failed"
            ) from None
        return OmSession(stage, graph, meta, engine)
