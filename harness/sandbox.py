"""The confinement of a model entrypoint: bubblewrap (Debian's `bubblewrap`, the sandbox under Flatpak) plus
limits that hold for the whole process tree.

Inside, the model sees a read-only view of Python and the folders it was given (its own code, the harness
package, files named in its options), its work folder and a private /tmp, and nothing else of the host: no
dataset folders, no database, no working folder of the harness, no home. It gets its own PID namespace with a
private /proc (the harness's processes are invisible and cannot be signalled), a network namespace with
loopback only (no host sockets, abstract ones included), an empty environment, no capabilities, a new session,
and it is killed with its parent. The limits: memory and process count through control groups where this
process may create them (v2, or v1's memory and pids controllers), else through rlimits (address space per
process, process count per user); `Limits.applied` says which, and the result records it.
"""

from __future__ import annotations

import ctypes
import os
import resource
import signal
import shutil
import sys
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

from harness.errors import BadInput

INSTALL_HINT = "bubblewrap is not installed (`apt-get install bubblewrap`); --no-sandbox runs a trusted local model without it, never stored as verified"
CGROUP_ROOT = Path("/sys/fs/cgroup")
MAX_PROCESSES = 256
OPEN_FILES = 256
MAX_FILE_BYTES = 1024**3  # per file: the largest output (every Human3.6M test frame) is 111 MB
SCRATCH_BYTES = 1024**3


def bwrap() -> str:
    """The bwrap executable; BadInput with the install hint where there is none."""
    found = shutil.which("bwrap")
    if found is None:
        raise BadInput(f"--model: {INSTALL_HINT}")
    return found


def _root_links() -> list[str]:
    """/bin, /lib, ... as on the host: symlinks into /usr where /usr is merged, else read-only binds."""
    args: list[str] = []
    for top in ("/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32"):
        path = Path(top)
        if path.is_symlink():
            args += ["--symlink", os.readlink(path), top]
        elif path.is_dir():
            args += ["--ro-bind", top, top]
    return args


def bwrap_args(read_only: Iterable[Path], writable: Iterable[Path], env: dict[str, str], cwd: Path, hidden: Iterable[Path] = ()) -> list[str]:
    """The bubblewrap command prefix: what the model may see and how it is confined. `hidden` (dataset folders,
    the database file) stay out of sight even where they lie inside a folder the model may read."""
    args = [bwrap(), "--unshare-all", "--unshare-user", "--disable-userns", "--die-with-parent", "--new-session", "--cap-drop", "ALL"]
    args += ["--ro-bind", "/usr", "/usr", *_root_links()]
    for extra in ("/etc/ld.so.cache", "/etc/localtime"):
        args += ["--ro-bind-try", extra, extra]
    args += ["--proc", "/proc", "--dev", "/dev", "--size", str(SCRATCH_BYTES), "--tmpfs", "/tmp"]
    for path in _outermost(Path(p).resolve() for p in read_only):
        args += ["--ro-bind", str(path), str(path)]
    for path in writable:  # after the read-only binds: writable files or folders inside them
        args += ["--bind", str(path), str(path)]
    bound = [Path(p).resolve() for p in read_only]
    for path in _outermost(Path(h).resolve() for h in hidden):
        if any(b == path or b in path.parents for b in bound):  # inside something bound: mask it
            args += ["--tmpfs", str(path)] if path.is_dir() else ["--ro-bind", "/dev/null", str(path)]
    args += ["--remount-ro", "/"]  # the sandbox's own root, where bwrap made the mount points: no scratch space there
    args += ["--clearenv", *[x for key, value in env.items() for x in ("--setenv", key, value)], "--chdir", str(cwd)]
    return args


def _outermost(paths: Iterable[Path]) -> list[Path]:
    """Existing paths, without those inside another one of them (binding both would hide nothing but costs)."""
    unique = sorted({p for p in paths if p.exists()})
    return [p for p in unique if not any(q in p.parents for q in unique)]


def python_paths() -> list[Path]:
    """What the interpreter needs to start: its prefix and, for a virtual environment, the base one."""
    return [Path(sys.prefix), Path(sys.base_prefix), Path(sys.executable).resolve().parent]


@dataclass
class Limits:
    """Wall time, memory and processes of the whole model process tree."""

    timeout_s: float = 3600.0
    memory_gb: float = 16.0
    processes: int = MAX_PROCESSES
    applied: str = ""  # what enforced memory and processes: control groups, or rlimits
    _groups: list[Path] = field(default_factory=list)

    def prepare(self) -> None:
        """Create control groups for the run where this process may; else fall back to rlimits."""
        memory = int(self.memory_gb * 1024**3)
        for label, make in (("v2", _cgroup_v2), ("v1 memory and pids", _cgroup_v1)):
            groups = make(memory, self.processes)
            if groups:
                self._groups, self.applied = groups, f"control groups ({label}): memory {self.memory_gb:g} GB and {self.processes} processes for the whole tree"
                return
        self.applied = f"rlimits: address space {self.memory_gb:g} GB per process, {self.processes} processes per user"

    def in_child(self) -> Callable[[], None]:
        """What runs in the child between fork and exec: join the control groups, set the rlimits."""
        groups, memory = list(self._groups), int(self.memory_gb * 1024**3)
        cpu = int(self.timeout_s) + 1

        def apply() -> None:
            _die_with_parent()
            for group in groups:
                (group / "cgroup.procs").write_text(str(os.getpid()))
            resource.setrlimit(resource.RLIMIT_CPU, (cpu, cpu + 5))
            resource.setrlimit(resource.RLIMIT_NOFILE, (OPEN_FILES, OPEN_FILES))
            resource.setrlimit(resource.RLIMIT_FSIZE, (MAX_FILE_BYTES, MAX_FILE_BYTES))
            if not groups:  # the strongest per-process stand-ins (root is exempt from RLIMIT_NPROC)
                resource.setrlimit(resource.RLIMIT_AS, (memory, memory))
                resource.setrlimit(resource.RLIMIT_NPROC, (self.processes, self.processes))

        return apply

    def release(self) -> None:
        for group in self._groups:
            try:
                group.rmdir()
            except OSError:
                pass
        self._groups = []

    def oom_killed(self) -> bool:
        """Whether the memory control group hit its limit (the kernel killed a process of the tree)."""
        for group in self._groups:
            for name in ("memory.events", "memory.oom_control"):  # v2, v1: both count `oom_kill`
                path = group / name
                if path.is_file():
                    counts = dict(line.split()[:2] for line in path.read_text().splitlines() if len(line.split()) >= 2)
                    return int(counts.get("oom_kill", 0)) > 0
        return False


def _die_with_parent() -> None:
    """Have the kernel kill this process when the harness dies (prctl PR_SET_PDEATHSIG), also without the sandbox."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(1, signal.SIGKILL, 0, 0, 0)  # 1 = PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass


def _own_group(controller: str) -> Path | None:
    """This process's control group folder for `controller` ('' for v2), if the hierarchy is mounted."""
    try:
        lines = Path("/proc/self/cgroup").read_text().splitlines()
    except OSError:
        return None
    for line in lines:
        _, names, path = line.split(":", 2)
        if names.split(",") == [controller] or (controller == "" and names == ""):
            base = CGROUP_ROOT if controller == "" else CGROUP_ROOT / controller
            return base / path.lstrip("/")
    return None


def _new_group(parent: Path | None, settings: dict[str, int]) -> Path | None:
    if parent is None or not parent.is_dir() or not os.access(parent, os.W_OK):
        return None
    group = parent / f"posebench-{uuid.uuid4().hex[:12]}"
    try:
        group.mkdir()
        for name, value in settings.items():
            if (group / name).exists():
                (group / name).write_text(str(value))
    except OSError:
        try:
            group.rmdir()
        except OSError:
            pass
        return None
    return group


def _cgroup_v2(memory: int, processes: int) -> list[Path]:
    """A v2 group with memory and pids limits, where this process's group delegates both controllers."""
    parent = _own_group("")
    if parent is None or not (CGROUP_ROOT / "cgroup.controllers").is_file():
        return []
    enabled = (parent / "cgroup.subtree_control").read_text().split() if (parent / "cgroup.subtree_control").is_file() else []
    if not {"memory", "pids"} <= set(enabled):
        return []
    group = _new_group(parent, {"memory.max": memory, "memory.swap.max": 0, "pids.max": processes})
    return [group] if group else []


def _cgroup_v1(memory: int, processes: int) -> list[Path]:
    """A group in each of v1's memory and pids hierarchies, where both can be created."""
    mem = _new_group(_own_group("memory"), {"memory.limit_in_bytes": memory, "memory.memsw.limit_in_bytes": memory})
    pids = _new_group(_own_group("pids"), {"pids.max": processes})
    if mem is None or pids is None or not (pids / "pids.max").is_file():
        for group in (mem, pids):
            if group is not None:
                group.rmdir()
        return []
    return [mem, pids]
