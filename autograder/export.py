"""What a TA hands the grader: notebooks, grader.export() zips, and Gradescope exports.

A Gradescope "Export Submissions" download (Assignment → Review Grades → Export
Submissions) is a zip holding one folder, ``assignment_<id>_export/``, with:

* ``submission_metadata.yml``: a YAML mapping from each submission folder's name
  (``submission_<id>``) to its record, written by Gradescope's Ruby code, so keys are Ruby
  symbols spelled with a leading colon: ``:submitters`` (a list of ``:name``, ``:sid``,
  ``:email``; several for a group submission), ``:created_at``, ``:score``, ``:status``,
  ``:results`` (the autograder's results.json) and ``:history`` (earlier submissions);
* ``submission_<id>/``: the files that submission uploaded (a zip upload arrives unpacked).

The same layout unpacked into a folder is accepted too. Inside each submission folder the
file to grade is chosen exactly as on Gradescope (`gradescope.choose_submission`: the notebook, else a
single zip), so the scores are the same. Nothing here executes or unpickles anything; zip
members are size-capped and extracted only as plain files into a private folder.
"""

from __future__ import annotations

import hashlib
import shutil
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

import yaml

METADATA = "submission_metadata.yml"
SUFFIXES = (".ipynb", ".zip")
MAX_MEMBER_BYTES = 64 << 20  # one file of a Gradescope export
MAX_EXPORT_BYTES = 4 << 30  # a whole export, unpacked


class InputError(Exception):
    """An input the TA gave cannot be read at all (the message says why)."""


@dataclass(frozen=True)
class Student:
    name: str = ""
    email: str = ""
    sid: str = ""


@dataclass
class Item:
    """One submission to grade, and who it belongs to."""

    key: str  # unique; the name of its output folder
    path: Path | None  # the file to grade; None when there is nothing gradable
    students: list[Student] = field(default_factory=list)
    problem: str = ""  # why it cannot be graded (path is None)

    def digest(self) -> str:
        """Content hash: a submission already graded with this hash is not graded again."""
        data = self.path.read_bytes() if self.path is not None else self.problem.encode()
        return hashlib.sha256(data).hexdigest()


def collect(inputs: list[Path], unit_name: str, staging: Path) -> list[Item]:
    """Every submission in `inputs`, in a stable order. `staging` is a private scratch folder."""
    items: list[Item] = []
    for index, path in enumerate(inputs):
        if not path.exists():
            raise InputError(f"no such file or folder: {path}")
        if path.is_dir() and _find_metadata(path):
            items += from_export(_find_metadata(path).parent, unit_name)
        elif path.is_dir():
            items += [_plain(p) for p in sorted(path.iterdir()) if p.suffix in SUFFIXES and p.is_file()]
        elif path.suffix == ".zip" and _zip_metadata(path):
            folder = staging / f"export-{index}"
            _unpack(path, folder)
            items += from_export(_find_metadata(folder).parent, unit_name)
        else:
            items.append(_plain(path))
    return _unique(items)


def from_export(root: Path, unit_name: str) -> list[Item]:
    """The submissions of an unpacked Gradescope export (the folder holding the metadata)."""
    from .gradescope import choose_submission  # Gradescope's own choice of the file to grade

    metadata = read_metadata(root / METADATA)
    items = []
    for key in sorted(metadata, key=_natural):
        record = metadata[key]
        students = [_student(s) for s in _get(record, "submitters") or [] if isinstance(s, dict)]
        folder = root / key
        if not folder.is_dir() or folder.is_symlink():
            items.append(Item(key, None, students, f"Cannot grade this submission: Gradescope's "
                                                   f"export has no folder {key} for it."))
            continue
        chosen, problem = choose_submission(folder, unit_name)
        items.append(Item(key, chosen, students, problem))
    return items


def read_metadata(path: Path) -> dict[str, dict]:
    """submission_metadata.yml as {folder name: record}; Ruby-tagged values read as plain data."""
    try:
        data = yaml.load(path.read_text(encoding="utf-8"), Loader=_Loader)
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
        raise InputError(f"cannot read {path}: {exc}") from None
    if not isinstance(data, dict):
        raise InputError(f"{path} is not a mapping of submission folders to their records")
    return {str(k): v for k, v in data.items() if isinstance(v, dict)}


class _Loader(yaml.SafeLoader):
    """A safe loader that reads Ruby's `!ruby/...` tags (e.g. BigDecimal scores) as plain data."""


def _plain_node(loader: yaml.SafeLoader, suffix: str, node: yaml.Node):
    if isinstance(node, yaml.MappingNode):
        return loader.construct_mapping(node, deep=True)
    if isinstance(node, yaml.SequenceNode):
        return loader.construct_sequence(node, deep=True)
    return loader.construct_scalar(node)


_Loader.add_multi_constructor("!", _plain_node)
_Loader.add_multi_constructor("tag:", _plain_node)


def _get(record: dict, name: str):
    """A field of a record, whether written as a Ruby symbol (":name") or a plain key."""
    return record.get(f":{name}", record.get(name))


def _student(raw: dict) -> Student:
    return Student(*(str(_get(raw, k) or "") for k in ("name", "email", "sid")))


def _plain(path: Path) -> Item:
    return Item(path.stem, path, [Student(name=path.stem)])


def _natural(key: str):
    digits = "".join(c for c in key if c.isdigit())
    return (int(digits) if digits else 0, key)


def _unique(items: list[Item]) -> list[Item]:
    seen: dict[str, int] = {}
    for item in items:
        seen[item.key] = seen.get(item.key, 0) + 1
        if seen[item.key] > 1:
            item.key = f"{item.key}-{seen[item.key]}"
    return items


def _find_metadata(folder: Path) -> Path | None:
    """The metadata file at the top of `folder` or one level down (the zip's single folder)."""
    for candidate in [folder / METADATA, *sorted(folder.glob(f"*/{METADATA}"))]:
        if candidate.is_file():
            return candidate
    return None


def _zip_metadata(path: Path) -> bool:
    try:
        with zipfile.ZipFile(path) as archive:
            return any(Path(n).name == METADATA and n.count("/") <= 1 and not n.startswith("__MACOSX")
                       for n in archive.namelist())
    except (zipfile.BadZipFile, OSError):
        return False


def _unpack(path: Path, folder: Path) -> None:
    """Extract plain files only (no links, no absolute or '..' paths), with size caps."""
    total = 0
    try:
        with zipfile.ZipFile(path) as archive:
            for info in archive.infolist():
                parts = Path(info.filename).parts
                if info.is_dir() or not parts or info.filename.startswith("/") or ".." in parts \
                        or parts[0] == "__MACOSX" or (info.external_attr >> 16) & 0o170000 == 0o120000:
                    continue
                if info.file_size > MAX_MEMBER_BYTES:
                    continue  # the submission that needs it is reported as having no notebook
                total += info.file_size
                if total > MAX_EXPORT_BYTES:
                    raise InputError(f"{path} unpacks to more than {MAX_EXPORT_BYTES >> 30} GB")
                target = folder.joinpath(*parts)
                target.parent.mkdir(parents=True, exist_ok=True)
                with archive.open(info) as source, open(target, "wb") as sink:
                    shutil.copyfileobj(source, sink)
    except zipfile.BadZipFile:
        raise InputError(f"{path} is not a readable zip file") from None
