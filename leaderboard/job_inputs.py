"""What a queued job hands the harness: its upload checked and laid out in a private folder (a submission
file, or a model folder unpacked from its zip with no absolute paths, no `..`, and caps on members and size)."""

from __future__ import annotations

import io
import os
import re
import stat
import zipfile
import zlib
from pathlib import Path, PurePosixPath
from typing import Any

from harness.errors import BadInput

MAX_MODEL_MEMBERS = 2000
MAX_MODEL_UNPACKED_BYTES = 2 * 1024**3
_SAFE_NAME = re.compile(r"[^A-Za-z0-9._-]")


def safe_file_name(file_name: str, default: str) -> str:
    """The upload's own base name, reduced to harmless characters (it becomes the stored file name)."""
    base = _SAFE_NAME.sub("_", PurePosixPath(file_name.replace("\\", "/")).name).lstrip(".")
    return base[:200] or default


def entrypoint_parts(entrypoint: Any) -> tuple[str, str]:
    """'model.py:make' (a .py file inside the zipped folder, a factory name) split in two; one line otherwise."""
    if not isinstance(entrypoint, str):
        raise BadInput("entrypoint: expected PATH.py:FACTORY inside the model's folder, e.g. model.py:make")
    target, colon, factory = entrypoint.rpartition(":")
    path = PurePosixPath(target)
    if not colon or not factory.isidentifier() or not target.endswith(".py") or path.is_absolute() or ".." in path.parts:
        raise BadInput(f"entrypoint {entrypoint!r}: expected PATH.py:FACTORY with a relative path inside the model's folder, e.g. model.py:make")
    return str(path), factory


def _members(data: bytes, where: str) -> tuple[zipfile.ZipFile, list[zipfile.ZipInfo]]:
    """The archive's members after the caps and path checks."""
    try:
        zf = zipfile.ZipFile(io.BytesIO(data))
    except (zipfile.BadZipFile, OSError, ValueError):
        raise BadInput(f"{where}: not a zip archive; expected the model's folder as a .zip") from None
    infos = zf.infolist()
    if len(infos) > MAX_MODEL_MEMBERS:
        raise BadInput(f"{where}: expected at most {MAX_MODEL_MEMBERS} files in the archive, found {len(infos)}")
    if sum(i.file_size for i in infos) > MAX_MODEL_UNPACKED_BYTES:
        raise BadInput(f"{where}: the archive would unpack to more than {MAX_MODEL_UNPACKED_BYTES} bytes")
    for info in infos:
        path = PurePosixPath(info.filename)
        if info.filename.startswith(("/", "\\")) or path.is_absolute() or ".." in path.parts or "\\" in info.filename or ":" in path.parts[0]:
            raise BadInput(f"{where}: member {info.filename!r}: expected a relative path without '..'")
        if stat.S_ISLNK(info.external_attr >> 16):
            raise BadInput(f"{where}: member {info.filename!r}: links are not unpacked; expected plain files")
    return zf, infos


def check_model_zip(data: bytes, entrypoint: Any, where: str) -> None:
    """The cheap checks of a model upload: a safe archive that holds the entrypoint's file."""
    target, _ = entrypoint_parts(entrypoint)
    zf, infos = _members(data, where)
    with zf:
        if target not in {PurePosixPath(i.filename).as_posix() for i in infos if not i.is_dir()}:
            raise BadInput(f"{where}: entrypoint file {target} is not in the archive (paths are relative to the zip's top)")


def unpack_model(data: bytes, entrypoint: Any, folder: Path, where: str) -> str:
    """Unpack the model's folder under `folder` (checked again: the bytes are untrusted) and return the
    `run_model` spec of its entrypoint: the absolute file path and the factory."""
    check_model_zip(data, entrypoint, where)
    target, factory = entrypoint_parts(entrypoint)
    zf, infos = _members(data, where)
    try:
        _extract(zf, infos, folder, where)
    except (zipfile.BadZipFile, zlib.error, EOFError, FileExistsError, NotADirectoryError, IsADirectoryError, RuntimeError, NotImplementedError) as exc:
        raise BadInput(f"{where}: the archive cannot be unpacked ({type(exc).__name__}: {exc})") from None
    return f"{folder.joinpath(*PurePosixPath(target).parts)}:{factory}"


def _extract(zf: zipfile.ZipFile, infos: list[zipfile.ZipInfo], folder: Path, where: str) -> None:
    """Write the checked members, counting the bytes actually unpacked."""
    written = 0
    with zf:
        for info in infos:
            dest = folder.joinpath(*PurePosixPath(info.filename).parts)
            if info.is_dir():
                dest.mkdir(parents=True, exist_ok=True)
                continue
            dest.parent.mkdir(parents=True, exist_ok=True)
            with zf.open(info) as src, open(dest, "xb") as out:
                while block := src.read(1 << 20):
                    written += len(block)
                    if written > MAX_MODEL_UNPACKED_BYTES:  # the sizes in the directory are claims, not facts
                        raise BadInput(f"{where}: the archive unpacks to more than {MAX_MODEL_UNPACKED_BYTES} bytes")
                    out.write(block)
            os.chmod(dest, 0o644)
