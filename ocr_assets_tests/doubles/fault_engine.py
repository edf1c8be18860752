"""The fault-injection engine: makes chosen pages fail the ways real OCR fails.

Selected by configuration like any engine (`OCR_ASSETS_ENGINE=<ENGINE>:...`, see `fault`): the
product imports it by its dotted path and knows nothing of it, the way OCRmyPDF keeps its
Tesseract stand-ins in its tests' plugins. So tests and the crash harness exercise the real
worker pool, timeouts and error mapping instead of patching them. Which page gets which fault:

- a marker in the image's file name: `p7.fault-hang.png` hangs, `p8.fault-oom.png` runs out
  of memory (the image given to the engine: a page that is normalised first is `page.png`);
- a rule in the options: `fault("crash=*_13.png,delay=0.2")` crashes on names matching the glob.

Faults in the worker itself:
    crash       the worker dies with SIGSEGV (an engine library segfaulting in process)
    oom-kill    the worker dies with SIGKILL (what the kernel's OOM killer does)
    oom         the worker allocates until MemoryError (under `worker_memory_mb`, or under
                a cap of its current size plus 256 MiB that it sets and lifts itself)
    hang        the worker never returns and ignores every timeout but the pool's
Faults of the Tesseract program (`fake_tesseract`), through the real pytesseract backend code:
    tesseract-crash, tesseract-hang, invalid-utf8, image-too-large, leptonica-unreadable
    sideways    tesseract-crash, but only while the image is not upright: the fault engine
                asks Tesseract's orientation detection (as the worker does) and crashes when it
                says the page needs turning, so a page turned upright first is read. Give it as
                a rule (`sideways=*.png`): a re-decoded page reaches the engine as `page.png`
                and loses a marker in its name.

A fault of the step rather than of a page: `start-fail=<n>` makes the first n engine starts in a
process fail (`check_ready`, run by `check_engine_ready` before every batch) with a transient
`OSError` (EAGAIN, what forking a worker pool raises while the machine is out of processes):
the failure the OCR step's retry policy exists for. Step retries run in the same process (the
project's in-process executor), so the n+1st start, on the n-th retry, succeeds.

Pages without a fault are read by `base`: `fake` (default: instant, deterministic text, see
`fake_tesseract.fake_text`) or `tesseract` (the real one). `delay=<s>` slows every fake page,
so a harness can kill a run while pages are in flight. With `OCR_ASSETS_FAULT_LOG=<file>` every
OCR attempt appends `<pid>\\t<image path>` there: the harness's witness of what was OCRed when.
"""

from __future__ import annotations

import errno
import fnmatch
import os
import resource
import shlex
import signal
import sys
import time
from pathlib import Path

from ocr_assets.engine.page.engines.base import EngineOutput, OcrEngine
from ocr_assets.engine.page.engines.tesseract_cli import tesseract_pass
from ocr_assets.engine.page.orientation import detect_orientation
from ocr_assets_tests.doubles import fake_tesseract

WORKER_FAULTS = ("oom-kill", "crash", "hang", "oom")
TESSERACT_FAULTS = ("tesseract-crash", "tesseract-hang", "invalid-utf8", "image-too-large",
                    "leptonica-unreadable")
FAULTS = WORKER_FAULTS + TESSERACT_FAULTS
"""The faults that always strike the page they are given."""
SIDEWAYS = "sideways"
"""A fault that strikes only while the page is not upright (see the module's docstring)."""
MARKER = "fault-"
LOG_ENV = "OCR_ASSETS_FAULT_LOG"
OOM_HEADROOM = 256 * 1024 * 1024
OOM_CHUNK = 16 * 1024 * 1024
ENGINE = "ocr_assets_tests.doubles.fault_engine.FaultEngine"
"""The engine setting that selects this engine: the product imports it by its dotted path."""


def fault(options: str = "") -> str:
    """The engine setting of the fault engine with `options` (`crash=*_13.png,delay=0.2`)."""
    return f"{ENGINE}:{options}"


class FaultEngine(OcrEngine):
    """An OCR engine that fails on purpose on the pages it is told to."""

    name = "fault"

    def __init__(self, options: str = "") -> None:
        self.rules: list[tuple[str, str]] = []
        self.base = "fake"
        self.delay_s = 0.0
        self.start_failures = 0
        self.starts = 0
        for item in filter(None, (part.strip() for part in options.split(","))):
            key, sep, value = item.partition("=")
            if not sep:
                raise ValueError(f"fault engine option {item!r}: expected name=value")
            if key in FAULTS or key == SIDEWAYS:
                self.rules.append((value, key))
            elif key == "base" and value in ("fake", "tesseract"):
                self.base = value
            elif key == "delay":
                self.delay_s = float(value)
            elif key == "start-fail" and value.isdigit():
                self.start_failures = int(value)
            else:
                raise ValueError(f"fault engine option {item!r}: expected <fault>=<glob> with a "
                                 f"fault among {[*FAULTS, SIDEWAYS]}, base=fake|tesseract, "
                                 "delay=<seconds> or start-fail=<count>")

    def version(self) -> str:
        return f"fault-injection ({self.base}: {fake_tesseract.VERSION})"

    def check_ready(self, lang: str) -> None:
        """The engine's start-up: refused, with a transient `OSError`, for the first
        `start-fail` starts in this process."""
        self.starts += 1
        if self.starts <= self.start_failures:
            raise OSError(errno.EAGAIN, f"the fault engine did not start (start {self.starts} of "
                                        f"the {self.start_failures} that start-fail refuses); "
                                        "a transient failure: the step is retried")

    def fault_for(self, name: str) -> str | None:
        """The fault this file name asks for: its marker first, then the first matching rule."""
        # Longest names first, so `fault-oom-kill` is not read as `fault-oom`.
        for fault in sorted((*FAULTS, SIDEWAYS), key=len, reverse=True):
            if MARKER + fault in name:
                return fault
        return next((fault for glob, fault in self.rules if fnmatch.fnmatchcase(name, glob)),
                    None)

    def recognise(self, image_path: Path, work_dir: Path, *, lang: str, psm: int,
                  timeout_s: float, renderings: tuple[str, ...] = ()) -> EngineOutput:
        _log_attempt(image_path)
        fault = self.fault_for(image_path.name)
        if fault == SIDEWAYS:
            fault = "tesseract-crash" if _needs_turning(image_path, timeout_s) else None
        if fault in WORKER_FAULTS:
            _worker_fault(fault)
        if fault is None and self.base == "tesseract":
            return tesseract_pass(image_path, work_dir, lang=lang, psm=psm, timeout_s=timeout_s,
                                  renderings=renderings)
        extra = f"-c ocr_assets_delay={self.delay_s:g}"
        if fault is not None:
            extra += f" -c ocr_assets_fault={fault}"
        return tesseract_pass(image_path, work_dir, lang=lang, psm=psm, timeout_s=timeout_s,
                              command=str(_fake_command(work_dir)), extra_config=extra,
                              renderings=renderings)


def _needs_turning(image_path: Path, timeout_s: float) -> bool:
    """Whether orientation detection says the image is turned (with any confidence)."""
    found = detect_orientation(image_path, timeout_s=timeout_s)
    return found.rotate != 0 and found.confidence is not None


def _log_attempt(image_path: Path) -> None:
    log = os.environ.get(LOG_ENV)
    if log:
        # One O_APPEND write per line: lines of concurrent workers never interleave.
        fd = os.open(log, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        try:
            os.write(fd, os.fsencode(f"{os.getpid()}\t{image_path}\n"))
        finally:
            os.close(fd)


def _fake_command(work_dir: Path) -> Path:
    """An executable that runs `fake_tesseract` with this Python (pytesseract takes one path)."""
    script = work_dir / "tesseract"
    script.write_text(f"#!/bin/sh\nexec {shlex.quote(sys.executable)} "
                      f"{shlex.quote(fake_tesseract.__file__)} \"$@\"\n")
    script.chmod(0o755)
    return script


def _worker_fault(fault: str) -> None:
    if fault == "crash":
        os.kill(os.getpid(), signal.SIGSEGV)
    elif fault == "oom-kill":
        os.kill(os.getpid(), signal.SIGKILL)
    elif fault == "hang":
        while True:
            time.sleep(3600)
    elif fault == "oom":
        _exhaust_memory()


def _address_space_bytes() -> int:
    with open("/proc/self/statm") as fh:
        return int(fh.read().split()[0]) * resource.getpagesize()


def _exhaust_memory() -> None:
    """Allocate until MemoryError, which propagates to the worker like a real one would."""
    soft, hard = resource.getrlimit(resource.RLIMIT_AS)
    cap = _address_space_bytes() + OOM_HEADROOM
    if soft == resource.RLIM_INFINITY or soft > cap:
        resource.setrlimit(resource.RLIMIT_AS, (cap, hard))
    hoard: list[bytearray] = []
    try:
        while True:
            hoard.append(bytearray(OOM_CHUNK))
    finally:
        hoard.clear()
        resource.setrlimit(resource.RLIMIT_AS, (soft, hard))
