"""What a measurement ran on and under: the machine, the other load on it, the process tree.

Absolute times on a shared machine are noisy, so every measurement carries the load it ran
under (load average, and how many core-seconds *other* processes used meanwhile) and the CPU
time of its own process tree, which other load barely changes.
"""

from __future__ import annotations

import os
import platform
import resource
import shutil
import subprocess
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from importlib import metadata

CLK_TCK = os.sysconf("SC_CLK_TCK")
PAGE_KIB = os.sysconf("SC_PAGE_SIZE") // 1024


def machine_facts() -> dict[str, object]:
    """Cores, CPU model, memory, OS, and the versions of everything that does the work."""
    cpu_model = "unknown"
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as cpuinfo:
            for line in cpuinfo:
                if line.startswith("model name"):
                    cpu_model = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    memory_gib = os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE") / 2**30
    cli = shutil.which("tesseract")
    cli_version = (subprocess.run([cli, "--version"], capture_output=True, text=True,
                                  check=False).stdout.splitlines() or ["?"])[0] if cli else None
    try:
        import tesserocr

        tesserocr_version = tesserocr.tesseract_version().splitlines()[0]
    except ImportError:
        tesserocr_version = None
    packages = {}
    for name in ("dagster", "pytesseract", "tesserocr", "Pillow", "pandas", "pebble"):
        try:
            packages[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            packages[name] = None
    return {
        "cores": len(os.sched_getaffinity(0)), "cpu_model": cpu_model,
        "memory_gib": round(memory_gib, 1), "os": platform.platform(),
        "python": platform.python_version(), "tesseract_cli": cli_version,
        "tesseract_in_tesserocr": tesserocr_version, "packages": packages,
    }


def _busy_ticks() -> int:
    """Clock ticks all CPUs spent busy since boot (/proc/stat: everything but idle, iowait)."""
    with open("/proc/stat", encoding="ascii") as stat:
        fields = [int(value) for value in stat.readline().split()[1:]]
    idle = fields[3] + (fields[4] if len(fields) > 4 else 0)
    guest = sum(fields[8:10])  # guest time is already counted in user time
    return sum(fields) - idle - guest


def children_cpu_s() -> float:
    """User + system CPU seconds of every waited-for descendant of this process so far."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def _process_table() -> dict[int, tuple[int, str]]:
    """pid -> (parent pid, command name) of every process on the machine."""
    table: dict[int, tuple[int, str]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat", encoding="utf-8", errors="replace") as stat:
                line = stat.read()
        except OSError:
            continue
        name = line[line.index("(") + 1:line.rindex(")")]
        table[int(entry)] = (int(line[line.rindex(")") + 2:].split()[1]), name)
    return table


def _peak_rss_kib(pid: int) -> int | None:
    """The process's peak resident set (VmHWM) so far, in KiB."""
    try:
        with open(f"/proc/{pid}/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1])
    except (OSError, ValueError):
        return None
    return None


def _cmdline(pid: int) -> str:
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as cmdline:
            return cmdline.read().replace(b"\0", b" ").decode("utf-8", "replace")
    except OSError:
        return ""


def classify_process(name: str, cmdline: str) -> str:
    """The role of a process in an OCR run: `tesseract` (a CLI process), `worker` (a pool
    worker), or `other` (multiprocessing's resource tracker, xargs, shells)."""
    if name == "tesseract":
        return "tesseract"
    if "multiprocessing.spawn" in cmdline or "multiprocessing.forkserver" in cmdline:
        return "worker" if "resource_tracker" not in cmdline else "other"
    return "other"


@dataclass
class Observation:
    """What the sampler saw while one measured command ran."""

    load_1min: list[float] = field(default_factory=list)
    peak_rss_kib: dict[str, int] = field(default_factory=dict)
    """Role (`orchestrator`, `worker`, `tesseract`, `other`) -> the largest peak RSS of one
    process of that role."""
    processes: dict[str, int] = field(default_factory=dict)
    """Role -> how many distinct processes of that role were seen."""
    other_cpu_s: float = 0.0
    """Core-seconds that processes outside the measured tree used meanwhile."""

    def as_dict(self) -> dict[str, object]:
        loads = self.load_1min or [os.getloadavg()[0]]
        return {"load_1min_mean": round(sum(loads) / len(loads), 2),
                "load_1min_max": round(max(loads), 2),
                "other_cpu_s": round(self.other_cpu_s, 1),
                "peak_rss_mib": {role: round(kib / 1024, 1)
                                 for role, kib in sorted(self.peak_rss_kib.items())},
                "processes": dict(sorted(self.processes.items()))}


class TreeSampler:
    """Samples the load average and the peak memory of one process tree every `interval_s`.

    Each process's peak (VmHWM) is kept as of its last sample, so a process that lives less
    than one interval can be missed; OCR processes live for a page, far longer than that.
    """

    def __init__(self, root_pid: int, interval_s: float = 0.2) -> None:
        self.root_pid = root_pid
        self.interval_s = interval_s
        self.observation = Observation()
        self._peaks: dict[int, tuple[str, int]] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _sample(self) -> None:
        table = _process_table()
        tree = {self.root_pid}
        grew = True
        while grew:
            grew = False
            for pid, (parent, _) in table.items():
                if parent in tree and pid not in tree:
                    tree.add(pid)
                    grew = True
        for pid in tree:
            peak = _peak_rss_kib(pid)
            if peak is None:
                continue
            if pid not in self._peaks:
                role = ("orchestrator" if pid == self.root_pid
                        else classify_process(table.get(pid, (0, ""))[1], _cmdline(pid)))
            else:
                role = self._peaks[pid][0]
            self._peaks[pid] = (role, max(peak, self._peaks.get(pid, ("", 0))[1]))
        self.observation.load_1min.append(os.getloadavg()[0])

    def _run(self) -> None:
        while not self._stop.is_set():
            self._sample()
            self._stop.wait(self.interval_s)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> Observation:
        self._stop.set()
        self._thread.join()
        for role, peak in self._peaks.values():
            self.observation.peak_rss_kib[role] = max(peak,
                                                      self.observation.peak_rss_kib.get(role, 0))
            self.observation.processes[role] = self.observation.processes.get(role, 0) + 1
        return self.observation


@dataclass
class Timed:
    """One measured command: wall time, CPU time of its tree, and what ran beside it."""

    wall_s: float
    cpu_s: float
    returncode: int
    started_at: float
    """Wall-clock start (epoch seconds), to place the run's own timestamps."""
    observation: Observation
    stderr: str = ""


def run_measured(argv: list[str], *, env: dict[str, str] | None = None,
                 stdin: bytes | None = None, cwd: str | None = None,
                 sample: bool = True) -> Timed:
    """Run a command to its end and measure it. The CPU time counts every descendant that was
    waited for (the CLI's Tesseract processes, the pipeline's pool workers and theirs)."""
    cpu_before, busy_before = children_cpu_s(), _busy_ticks()
    started_at, started = time.time(), time.perf_counter()
    process = subprocess.Popen(argv, env=env, cwd=cwd, stdin=subprocess.PIPE,
                               stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    sampler = TreeSampler(process.pid) if sample else None
    if sampler:
        sampler.start()
    _, stderr = process.communicate(stdin)
    wall = time.perf_counter() - started
    observation = sampler.stop() if sampler else Observation()
    cpu = children_cpu_s() - cpu_before
    observation.other_cpu_s = max(0.0, (_busy_ticks() - busy_before) / CLK_TCK - cpu)
    return Timed(wall, cpu, process.returncode, started_at, observation,
                 stderr.decode("utf-8", "replace")[-4000:])


def time_call(function: Callable[[], object]) -> tuple[float, object]:
    """Wall seconds of one in-process call, and what it returned."""
    started = time.perf_counter()
    value = function()
    return time.perf_counter() - started, value
