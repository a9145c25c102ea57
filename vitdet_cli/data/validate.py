"""Field-by-field validation of a COCO instances file: what is wrong, and how often.

Problems of the file as a whole (ids, references, file names, categories) make it unusable;
problems of single annotations (boxes, masks) can be dropped, which training does with a
warning. Evaluation refuses the ones pycocotools would crash on and accepts degenerate boxes
(they only cost recall); ``data check`` reports everything.
"""

from __future__ import annotations

import math
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath, PureWindowsPath

from vitdet_cli.errors import VitdetError

EXAMPLES = 3
_REPAIR = (
    "repair or regenerate the annotation file (`vitdet train` drops bad annotations with a "
    "warning; problems of the file as a whole stop every command)"
)


@dataclass
class Problem:
    """One kind of problem: how often it occurs and where first."""

    what: str
    droppable: bool
    code: str = "data_ann_invalid"
    evaluable: bool = False
    count: int = 0
    examples: list[str] = field(default_factory=list)

    def to_dict(self) -> dict:
        return {"problem": self.what, "count": self.count, "examples": self.examples}


@dataclass
class CocoValidation:
    """The problems of one file and the positions of the annotations that carry any."""

    path: str
    problems: dict[str, Problem] = field(default_factory=dict)
    bad_annotations: set[int] = field(default_factory=set)

    def add(
        self, what: str, where: str, droppable: bool = False, index: int = -1, code: str = ""
    ) -> None:
        p = self.problems.setdefault(what, Problem(what, droppable, code or "data_ann_invalid"))
        p.count += 1
        if len(p.examples) < EXAMPLES:
            p.examples.append(where)
        if droppable and index >= 0:
            self.bad_annotations.add(index)

    @property
    def fatal(self) -> list[Problem]:
        return [p for p in self.problems.values() if not p.droppable]

    def blocking(self, allow_drop: bool = False, for_eval: bool = False) -> list[Problem]:
        """The problems that stop a command: all (``data check``), the file-level ones
        (``allow_drop``: training drops the rest) or those evaluation cannot take (``for_eval``)."""
        if allow_drop:
            return self.fatal
        return [p for p in self.problems.values() if not (for_eval and p.evaluable)]

    def _rows(self) -> list[Problem]:
        return sorted(self.problems.values(), key=lambda p: -p.count)

    def table(self) -> str:
        """``count  problem  (e.g. ...)`` lines, most frequent first."""
        rows = self._rows()
        return "\n".join(f"  {p.count:>7}  {p.what}  (e.g. {', '.join(p.examples)})" for p in rows)

    def to_dict(self) -> list[dict]:
        return [p.to_dict() for p in self.problems.values()]

    def error(self, hint: str = "") -> VitdetError:
        total = sum(p.count for p in self.problems.values())
        return VitdetError(
            f"{self.path}: {total} problem(s) in the annotation file:\n{self.table()}",
            hint=hint or _REPAIR,
            code=self._rows()[0].code if self.problems else "data_ann_invalid",
        )

    def require(self, allow_drop: bool = False, for_eval: bool = False) -> None:
        """Raise the table of problems when any of :meth:`blocking` is found."""
        if self.blocking(allow_drop, for_eval):
            raise self.error()


def _is_int(v) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def _is_num(v) -> bool:
    return (isinstance(v, (int, float)) and not isinstance(v, bool)) and math.isfinite(v)


_NUMBER_TYPES = {int, float}


def _numbers(values: list) -> bool:
    """A list of finite ints/floats (no bools); fast on long polygon lists."""
    return {type(v) for v in values} <= _NUMBER_TYPES and math.isfinite(sum(values))


def _ids(report: CocoValidation, entries: list, kind: str) -> set:
    """Ids of ``entries`` that are unique ints (problems noted for the rest)."""
    seen, dup = set(), set()
    for i, e in enumerate(entries):
        if not isinstance(e, dict):
            report.add(f"{kind} entry is not an object", f"#{i}")
        elif not _is_int(e.get("id")):
            report.add(f"{kind} id missing or not an integer", f"#{i} id={e.get('id')!r:.30}")
        elif e["id"] in seen:
            dup.add(e["id"])
            report.add(f"{kind} id used twice", f"id {e['id']}")
        else:
            seen.add(e["id"])
    return seen - dup


def _file_name_problem(name) -> str:
    if not isinstance(name, str) or not name.strip():
        return "image file_name missing or not a string"
    if "\0" in name:
        return "image file_name holds a NUL character"
    for pure in (PurePosixPath(name), PureWindowsPath(name)):
        if pure.is_absolute() or pure.anchor or ".." in pure.parts:
            return "image file_name points outside the image folder"
    return ""


def _check_images(report: CocoValidation, images: list) -> set:
    ids = _ids(report, images, "image")
    for i, im in enumerate(images):
        if not isinstance(im, dict):
            continue
        where = f"image {im.get('id', '#' + str(i))!r:.40}"
        problem = _file_name_problem(im.get("file_name"))
        if problem:
            report.add(problem, f"{where} {str(im.get('file_name'))[:60]!r}")
        for key in ("width", "height"):
            if not (_is_int(im.get(key)) and im[key] > 0):
                report.add(f"image {key} missing or not a positive integer", where)
    return ids


def _check_categories(report: CocoValidation, cats: list) -> set:
    ids = _ids(report, cats, "category")
    names = defaultdict(int)
    for c in cats:
        if not isinstance(c, dict):
            continue
        name = c.get("name")
        if not isinstance(name, str) or not name:
            report.add("category name missing or not a string", f"category {c.get('id')!r:.30}")
        else:
            names[name] += 1
    for name, n in names.items():
        if n > 1:
            report.add("category name used twice", repr(name)[:40])
    if not cats:
        report.add("no categories", "'categories' is empty")
    return ids


DEGENERATE = {"bbox width or height not positive", "segmentation polygon has fewer than 3 points"}
"""Problems pycocotools evaluates without complaint (the box just matches nothing)."""


def _bbox_problem(bbox) -> str:
    if not isinstance(bbox, (list, tuple)) or len(bbox) != 4 or not all(map(_is_num, bbox)):
        return "bbox missing or not four finite numbers"
    if bbox[2] <= 0 or bbox[3] <= 0:
        return "bbox width or height not positive"
    return ""


def _segm_problem(segm) -> str:
    if segm is None:
        return ""
    if isinstance(segm, list):
        if not segm:
            return "segmentation is an empty list"
        if not all(isinstance(p, list) and _numbers(p) and not len(p) % 2 for p in segm):
            return "segmentation polygon is not a flat list of x, y numbers"
        if all(len(p) < 6 for p in segm) or len(segm[0]) == 4:  # pycocotools: 4 = a box
            return "segmentation has no polygon of 3 or more points"
        if any(len(p) < 6 for p in segm):
            return "segmentation polygon has fewer than 3 points"
        return ""
    if isinstance(segm, dict):
        size, counts = segm.get("size"), segm.get("counts")
        if not (isinstance(size, list) and len(size) == 2 and all(_is_int(v) for v in size)):
            return "segmentation RLE size is not [height, width]"
        if isinstance(counts, list):
            ok = all(_is_int(v) and v >= 0 for v in counts) and sum(counts) == size[0] * size[1]
        else:
            ok = isinstance(counts, str) and bool(counts)
        return "" if ok else "segmentation RLE counts invalid"
    return "segmentation is neither polygons nor RLE"


def _check_annotations(report: CocoValidation, anns: list, image_ids: set, cat_ids: set) -> None:
    _ids(report, anns, "annotation")
    for i, a in enumerate(anns):
        if not isinstance(a, dict):
            continue
        where = f"annotation {a.get('id', '#' + str(i))!r:.30}"
        if not _is_int(a.get("image_id")) or a["image_id"] not in image_ids:
            report.add(
                "annotation refers to an image_id not in 'images'", where, code="data_unknown_image"
            )
        if not _is_int(a.get("category_id")) or a["category_id"] not in cat_ids:
            report.add(
                "annotation refers to a category_id not in 'categories'",
                where,
                code="data_unknown_category",
            )
        for problem in (_bbox_problem(a.get("bbox")), _segm_problem(a.get("segmentation"))):
            if problem:
                report.add(problem, where, droppable=True, index=i)
                report.problems[problem].evaluable = problem in DEGENERATE
        if not (_is_num(a.get("area")) and a["area"] >= 0):
            report.add("area missing or negative", where, droppable=True, index=i)


def validate_coco(data: dict, path: str | Path) -> CocoValidation:
    """Every field the tools use, of a file :func:`~vitdet_cli.data.coco.load_coco_json` read."""
    report = CocoValidation(str(path))
    image_ids = _check_images(report, data["images"])
    cat_ids = _check_categories(report, data["categories"])
    _check_annotations(report, data["annotations"], image_ids, cat_ids)
    return report


def without_bad_annotations(data: dict, report: CocoValidation) -> dict:
    """A copy of ``data`` without the annotations ``report`` marked droppable."""
    anns = [a for i, a in enumerate(data["annotations"]) if i not in report.bad_annotations]
    return {**data, "annotations": anns}
