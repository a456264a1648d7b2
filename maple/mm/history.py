"""Starting address spaces built by history: execve, then the recorded user-space calls.

A *history layout* (``layouts/NAME.history.gz``) is not a final VMA set: it is what built a
real process's address space, replayed on the simulated mm in the kernel's order, so that the
VMA index (maple node boundaries, rbtree shape) is the one that history produces, not the one
populating the final VMAs would.

1. **execve** (:func:`exec_image`), as Linux 6.18 ``fs/exec.c`` and ``fs/binfmt_elf.c`` build
   a new image: ``__bprm_mm_init`` inserts the one-page stack VMA at the stack top
   (``insert_vm_struct``) and ``copy_strings`` writes the arguments into it;
   ``setup_new_exec`` picks ``mmap_base``; ``setup_arg_pages`` expands the stack down by
   128 KiB (``expand_stack``; the relocation of an empty tree's only VMA to the randomised
   top is not replayed separately: the VMA is inserted at its final top); ``elf_load`` maps
   each ``PT_LOAD`` of the program, the first with the image's total size
   (``MAP_FIXED_NOREPLACE`` at the load bias) and the rest unmapped again, the later ones
   ``MAP_FIXED``, zeroing the partial page after ``p_filesz`` (``padzero``: a write fault)
   and mapping whole bss pages anonymously (``vm_brk_flags``); ``load_elf_interp`` does the
   same for ``ld.so`` (the first segment placed top-down below ``mmap_base``);
   ``arch_setup_additional_pages`` (x86 ``map_vdso``) finds one free range for the vDSO
   and its data pages and installs ``[vdso]``, then ``[vvar]``, then ``[vvar_vclock]``
   (``_install_special_mapping``); the break is set to the recorded (randomised) start.
   ld.so then relocates itself and the program before its first syscall: each writable
   ``PT_LOAD`` page of both is written (an anon_vma, shared with the RELRO part that
   ``mprotect`` later splits off).
2. **user space** to the task start: the recorded ``strace -f`` of the real program
   (``maple.trace`` format and replayer: ld.so mapping libc, TLS, glibc's first ``malloc``
   creating ``[heap]`` with ``brk``, the program's own mappings), up to the recording's
   ``cut``: the first ``pthread_create`` stack or ``clone`` of the main task.

Addresses are the recorded process's own (ASLR on, as the harness runs): the bases (program,
``ld.so``, stack top, break, ``mmap_base``) come from the recorded process's maps at its
task start, and the replay uses the trace's addresses for ``MAP_FIXED`` calls and as hints
for the others, which the simulated ``get_unmapped_area`` then honours: a replay that
diverges raises ``InputError``.

Threads: :func:`pthread_create` does to a simulated mm what glibc 2.36's ``pthread_create``
(``allocate_stack``) does for one new thread; :func:`start_task_threads` applies it once per
threads-mode task, the one code path every threads-mode start uses.

Recording: :func:`record_history` (``scripts/record_history.py``) runs the program under
``strace -f`` with the ``maple.trace`` syscall set, reads its maps at the task start and the
``PT_LOAD`` headers of the program and its interpreter, and writes the history with its
provenance (command, date, kernel, glibc, strace) in the trace's metadata.
"""

from __future__ import annotations

import struct
from functools import lru_cache
from importlib import resources
from typing import Any

from maple.errors import InputError
from maple.linux import (
    MAP_ANONYMOUS,
    MAP_FIXED,
    MAP_FIXED_NOREPLACE,
    MAP_PRIVATE,
    MAP_STACK,
    PAGE_MASK,
    PAGE_SHIFT,
    PAGE_SIZE,
    PROT_EXEC,
    PROT_NONE,
    PROT_READ,
    PROT_WRITE,
    VM_ACCOUNT,
    VM_GROWSDOWN,
    VM_MAYEXEC,
    VM_MAYREAD,
    VM_MAYWRITE,
    VM_READ,
    VM_WRITE,
    page_align,
)

__all__ = ["HISTORY_SUFFIX", "history_layouts", "load_history", "build_history", "exec_image",
           "pthread_create", "start_task_threads", "elf_loads", "record_history",
           "THREAD_STACK_SIZE", "GUARD_SIZE", "MAIN_ARENA_FIRST_BRK"]

HISTORY_SUFFIX = ".history.gz"
#: glibc's default thread stack: ``RLIMIT_STACK`` (8 MiB, the default soft limit)
THREAD_STACK_SIZE = 8 << 20
#: glibc's default guard: one page (``__default_pthread_attr.guardsize``)
GUARD_SIZE = PAGE_SIZE
#: the main arena's first ``sbrk`` (``sysmalloc``: request + ``M_TOP_PAD`` 128 KiB +
#: ``MINSIZE``, page aligned) for the small calloc of a new thread's DTV
MAIN_ARENA_FIRST_BRK = 0x21000
#: ``setup_arg_pages``'s ``stack_expand``
_STACK_EXPAND = 128 << 10


def _page_start(x: int) -> int:
    return x & PAGE_MASK


# -- ELF program headers (recording side) --------------------------------------------------

def elf_loads(path: str) -> dict[str, Any]:
    """``{"type": e_type, "interp": PT_INTERP path or None, "loads": [[vaddr, offset, filesz,
    memsz, prot], ...]}`` of a 64-bit little-endian ELF file. Raises ``InputError`` for a
    file that is not one."""
    try:
        with open(path, "rb") as fh:
            head = fh.read(64)
            if len(head) < 64 or head[:4] != b"\x7fELF" or head[4] != 2 or head[5] != 1:
                raise InputError(f"{path}: not a 64-bit little-endian ELF file")
            e_type = struct.unpack_from("<H", head, 16)[0]
            phoff = struct.unpack_from("<Q", head, 32)[0]
            phentsize, phnum = struct.unpack_from("<HH", head, 54)
            fh.seek(phoff)
            table = fh.read(phentsize * phnum)
            loads, interp = [], None
            for i in range(phnum):
                p_type, p_flags, off, vaddr, _pa, filesz, memsz, _al = struct.unpack_from(
                    "<IIQQQQQQ", table, i * phentsize)
                if p_type == 1:  # PT_LOAD
                    prot = (PROT_READ if p_flags & 4 else 0) | (PROT_WRITE if p_flags & 2 else 0) | (
                        PROT_EXEC if p_flags & 1 else 0)
                    loads.append([vaddr, off, filesz, memsz, prot])
                elif p_type == 3:  # PT_INTERP
                    fh.seek(off)
                    interp = fh.read(filesz).rstrip(b"\0").decode()
                    fh.seek(phoff + phentsize * phnum)
    except OSError as exc:
        raise InputError(f"{path}: cannot read ELF headers: {exc.strerror}") from None
    return {"type": e_type, "interp": interp, "loads": loads}


# -- execve ----------------------------------------------------------------------------------

def _elf_image(mm: Any, file: Any, loads: list[list[int]], bias: int, first_flags: int) -> None:
    """``elf_load`` for every ``PT_LOAD`` (``load_elf_binary`` / ``load_elf_interp``): the
    first mapped with the image's total size (``total_mapping_size``) and its tail unmapped,
    the others ``MAP_FIXED``; bss: ``padzero`` then ``vm_brk_flags`` of whole pages."""
    total = page_align(loads[-1][0] + loads[-1][3]) - _page_start(loads[0][0])
    base = None
    for i, (vaddr, off, filesz, memsz, prot) in enumerate(loads):
        addr = (bias if base is None else base) + vaddr
        flags = MAP_PRIVATE | (first_flags if i == 0 else MAP_FIXED)
        page_off = vaddr & (PAGE_SIZE - 1)
        start = _page_start(addr)
        if filesz:
            size = page_align(filesz + page_off)
            length = page_align(total) if i == 0 else size
            got = mm.mmap(start, length, prot, flags, file, (off - page_off) >> PAGE_SHIFT)
            if i == 0:
                if length > size:
                    mm.munmap(got + size, length - size)
                base = got - _page_start(vaddr)
                addr = base + vaddr
            zero_start = addr + filesz
            zero_end = addr + memsz
            if memsz > filesz and zero_start & (PAGE_SIZE - 1) and prot & PROT_WRITE:
                mm.fault(zero_start, write=True)  # padzero: clear_user of the partial page
        else:
            zero_start = start
            zero_end = start + page_off + memsz
        if memsz > filesz:
            lo, hi = page_align(zero_start), page_align(zero_end)
            if hi > lo:  # vm_brk_flags: anonymous pages for the rest of the bss
                mm.mmap(lo, hi - lo, prot | PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED)


def _relocate(mm: Any, loads: list[list[int]], base: int) -> None:
    """ld.so's relocation writes: every page of each writable ``PT_LOAD``'s file part."""
    for vaddr, _off, filesz, _memsz, prot in loads:
        if prot & PROT_WRITE and filesz:
            for a in range(_page_start(base + vaddr), page_align(base + vaddr + filesz), PAGE_SIZE):
                mm.fault(a, write=True)


def exec_image(mm: Any, history: dict[str, Any], files: dict[str, Any]) -> None:
    """Replay ``execve`` of the recorded program on the empty ``mm`` (see the module
    docstring for the kernel functions mirrored, Linux 6.18). ``history`` is the recording's
    ``meta["history"]``; ``files`` maps paths to the ``File`` objects the replay uses.
    Raises ``InputError`` when the simulated placement differs from the recorded one."""
    from maple.mm.layout import build_vmas, parse_maps, perm_flags, special_mapping_flags
    from maple.mm.vma import VMA

    b = history["bases"]
    gate = build_vmas(parse_maps(history["gate"])).gate if history.get("gate") else None
    top = b["stack_top"]
    mm.set_layout_fields(start_brk=b["brk"], mmap_base=b["mmap_base"], start_stack=top - PAGE_SIZE, gate=gate)
    # __bprm_mm_init: the stack VMA (VM_STACK_FLAGS | VM_STACK_INCOMPLETE_SETUP), one page
    flags = VM_READ | VM_WRITE | VM_MAYREAD | VM_MAYWRITE | VM_MAYEXEC | VM_GROWSDOWN | VM_ACCOUNT
    mm.insert_vm_struct(VMA(top - PAGE_SIZE, top, flags, None, (top - PAGE_SIZE) >> PAGE_SHIFT))
    mm.fault(top - PAGE_SIZE, write=True)  # copy_strings: argv and envp
    mm.fault(b["stack_start"], write=True)  # setup_arg_pages: expand_stack by stack_expand
    exe, interp = history["exe"], history["interp"]
    _elf_image(mm, files[exe["path"]], exe["loads"], b["exe"] - _page_start(exe["loads"][0][0]),
               MAP_FIXED_NOREPLACE)
    _elf_image(mm, files[interp["path"]], interp["loads"], 0, 0)
    if mm.find_vma(b["interp"]) is None or mm.find_vma(b["interp"]).start != b["interp"]:
        raise InputError(f"history: ld.so placed elsewhere than recorded ({b['interp']:#x})")
    # map_vdso: one free range for the data pages and the text, then the special mappings
    specials = history["specials"]  # [[name, offset from the range's start, size], ...]
    span = max(off + size for _n, off, size in specials)
    with_lock = mm.mmap_lock
    with_lock.down_write()
    try:
        at = mm._get_unmapped_area(0, span, 0)
    finally:
        with_lock.up_write()
    if at != b["vdso_range"]:
        raise InputError(f"history: vDSO range placed at {at:#x}, recorded at {b['vdso_range']:#x}")
    order = {"[vdso]": 0, "[vvar]": 1, "[vvar_vclock]": 2}
    for name, off, size in sorted(specials, key=lambda s: order.get(s[0], 3)):
        vf = special_mapping_flags(name, perm_flags("r-xp" if name == "[vdso]" else "r--p"))
        mm.insert_vm_struct(VMA(at + off, at + off + size, vf, None, 0, None, 0, name))
    _relocate(mm, interp["loads"], b["interp"] - _page_start(interp["loads"][0][0]))
    _relocate(mm, exe["loads"], b["exe"] - _page_start(exe["loads"][0][0]))


# -- threads -------------------------------------------------------------------------------

def pthread_create(mm: Any) -> int:
    """What glibc 2.36's ``pthread_create`` does to the address space for one new thread
    with default attributes (``allocate_stack``): ``mmap`` of the stack plus its guard
    (``THREAD_STACK_SIZE + GUARD_SIZE``, ``PROT_NONE``, ``MAP_STACK``), ``mprotect`` of all
    but the guard to read-write, the thread descriptor written at the stack's top (a write
    fault: the stack's anon_vma); then ``_dl_allocate_tls``'s ``calloc`` of the DTV, which
    creates ``[heap]`` with ``brk`` (``MAIN_ARENA_FIRST_BRK``) when the process has never
    malloc'ed (its break is still at ``start_brk``). Returns the stack's lowest address
    (the guard). ``MMError`` as the calls raise it."""
    size = THREAD_STACK_SIZE + GUARD_SIZE
    mem = mm.mmap(0, size, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_STACK)
    mm.mprotect(mem + GUARD_SIZE, size - GUARD_SIZE, PROT_READ | PROT_WRITE)
    mm.fault(mem + size - PAGE_SIZE, write=True)  # struct pthread at the top of the block
    start = mm.start_brk
    if mm.brk_value == start and mm.map_count:
        mm.brk(start + MAIN_ARENA_FIRST_BRK)
        mm.fault(start, write=True)  # the first chunk's header
    return mem


def start_task_threads(mm: Any, tasks: int) -> None:
    """A threads-mode task set's start on a shared simulated ``mm``: ``tasks`` threads
    created by the main thread (:func:`pthread_create` each, in task order, before the start
    barrier, as the harness's ``run_threads`` does). Events are not recorded: no sample
    counts the start. ``mm.users`` is the caller's (the main thread sleeps in
    ``pthread_join``/``pause`` and makes no call). An object without ``mmap``/``mprotect``
    (a test double that is not an address space) is left as it is."""
    if not (hasattr(mm, "mmap") and hasattr(mm, "mprotect") and hasattr(mm, "fault")):
        return
    events = getattr(mm, "events", None)
    was = events.enabled if events is not None else False
    if events is not None:
        events.enabled = False
    try:
        for _ in range(tasks):
            pthread_create(mm)
    finally:
        if events is not None:
            events.enabled = was


# -- the layouts ----------------------------------------------------------------------------

def history_layouts() -> list[str]:
    """Names of the built-in history layouts."""
    folder = resources.files("maple.mm") / "layouts"
    return sorted(p.name[: -len(HISTORY_SUFFIX)] for p in folder.iterdir() if p.name.endswith(HISTORY_SUFFIX))


@lru_cache(maxsize=None)
def load_history(name: str) -> Any:
    """The recorded trace of built-in history layout ``name`` (``maple.trace.Trace``, its
    ``meta["history"]`` the exec recipe and provenance)."""
    from maple.trace.format import read_trace

    with resources.as_file(resources.files("maple.mm") / "layouts" / f"{name}{HISTORY_SUFFIX}") as path:
        return read_trace(path)


def build_history(mm: Any, name: str) -> None:
    """Build history layout ``name`` on the empty ``mm``: execve, then the recorded calls up
    to the recording's cut. Events are not recorded. Raises ``InputError`` when the replay
    diverges from the recording."""
    from maple.mm.vma import File
    from maple.trace.addrmap import AddressMap
    from maple.trace.replay import Replay, Space

    trace = load_history(name)
    h = trace.meta["history"]
    files: dict[str, Any] = {}
    # the device and inode each file had in the recorded process (maps at its task start)
    idents = {}
    for ln in h.get("maps_at_start", "").splitlines():
        f = ln.split(None, 5)
        if len(f) == 6 and f[5].startswith("/"):
            major, minor = f[3].split(":")
            idents[f[5]] = ((int(major, 16), int(minor, 16)), int(f[4]))
    for key in ("exe", "interp"):
        f = h[key]
        files[f["path"]] = File(f["path"], dev=tuple(f["dev"]), inode=f["inode"])

    class _History(Replay):
        def _new_space(self, fid: int | None, counted: bool) -> Space:
            exec_image(mm, h, files)
            self.stats["execs"] += 1
            return Space(mm, AddressMap(), counted)

        def _file(self, fid: int | None) -> Any:
            if fid is None:
                return None
            path = self.trace.files[fid]
            if path not in files:
                dev, inode = idents.get(path, ((0, 0), 0))
                files[path] = File(path, dev=dev, inode=inode)
            return files[path]

    was = mm.events.enabled
    mm.events.enabled = False
    try:
        rp = _History(trace, mm.kind)
        rp.run(stop=h["cut"])
    finally:
        mm.events.enabled = was
    if rp.stats["diverged"]:
        from maple.trace.replay import describe

        ev, why = rp.divergences[0]
        raise InputError(f"history layout {name!r}: the replay diverged from the recording: {describe(ev, why)}")


# -- recording ------------------------------------------------------------------------------

def _glibc_version() -> str:
    import os

    try:
        return os.confstr("CS_GNU_LIBC_VERSION") or "unknown"
    except (ValueError, OSError):
        return "unknown"


def _bases(maps: str, exe: str, interp: str, trace: Any, cut: int, root: int) -> tuple[dict, list, str]:
    from maple.mm.layout import parse_maps

    entries = parse_maps(maps)
    gate = ""
    if entries and entries[-1].start >= 1 << 47:
        gate = maps.splitlines()[-1]
        entries = entries[:-1]
    exe_first = next(e for e in entries if e.name == exe)
    interp_lines = [e for e in entries if e.name == interp]
    stack = next(e for e in entries if e.name == "[stack]")
    specials = [e for e in entries if e.name in ("[vdso]", "[vvar]", "[vvar_vclock]")]
    lo = min(e.start for e in specials)
    brk = next(ev[4] for ev in trace.events[:cut] if ev[0] == "b" and ev[1] == root)
    bases = {
        "exe": exe_first.start, "interp": interp_lines[0].start, "stack_top": stack.end,
        "stack_start": stack.start, "brk": brk, "mmap_base": interp_lines[-1].end, "vdso_range": lo,
    }
    return bases, [[e.name, e.start - lo, e.end - e.start] for e in specials], gate


def record_history(argv: list[str], output: str, *, pass_fds: tuple[int, ...] = (), ready: Any = None,
                   settle: float = 0.5, release: Any = None, timeout: float = 60.0,
                   until_thread: bool = True) -> Any:
    """Record the history of ``argv`` (a program using ld.so) into ``output``.

    Runs ``strace -f -y -e trace=<maple.trace SYSCALLS>`` on it (ASLR on, as the harness runs),
    waits for ``ready()`` (default: ``settle`` seconds), reads ``/proc/PID/maps`` of the
    program (the task start), calls ``release()`` (e.g. the start barrier) and waits for it to
    exit (killed after ``timeout``). The cut is the main task's first ``MAP_STACK`` mmap or
    ``clone`` (``until_thread``), else the end of what was traced before the maps were read. Returns the trace. ``InputError`` when strace is missing or nothing was
    traced."""
    import datetime as _dt
    import os
    import platform
    import subprocess
    import tempfile
    import time

    from maple.trace.format import write_trace
    from maple.trace.record import _strace_version, convert_log, strace_path
    from maple.trace.strace import SYSCALLS

    strace = strace_path()
    with tempfile.TemporaryDirectory(prefix="maplebench-history-") as tmp:
        log = os.path.join(tmp, "strace.log")
        cmd = [strace, "-f", "-y", "-e", "trace=" + ",".join(SYSCALLS), "-o", log, "--", *argv]
        proc = subprocess.Popen(cmd, pass_fds=pass_fds, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                stderr=subprocess.PIPE)
        try:
            deadline = time.monotonic() + timeout
            if ready is None:
                time.sleep(settle)
            else:
                while not ready():
                    if time.monotonic() > deadline or proc.poll() is not None:
                        raise InputError(f"record_history: {argv[0]} did not reach its task start")
                    time.sleep(0.01)
            kids = open(f"/proc/{proc.pid}/task/{proc.pid}/children").read().split()
            if not kids:
                raise InputError(f"record_history: {argv[0]} is not running under strace")
            pid = int(kids[0])
            maps = open(f"/proc/{pid}/maps").read()
            time.sleep(0.2)  # strace writes the calls before the maps read out
            with open(log) as fh:
                logged = sum(1 for _ in fh)
            program = os.readlink(f"/proc/{pid}/exe")
            if release is not None:
                release()
            else:
                os.kill(pid, 15)
            proc.wait(timeout)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
        with open(log) as fh:
            lines = fh.readlines()[:logged]
        with open(log, "w") as fh:
            fh.writelines(lines)
        trace = convert_log(log)
    root = trace.events[0][1]
    cut = len(trace.events)
    if until_thread:
        cut = next((i for i, ev in enumerate(trace.events)
                    if ev[1] == root and (ev[0] == "c" or (ev[0] == "m" and ev[6] & MAP_STACK))), cut)
    exe = elf_loads(program)
    interp_path = os.path.realpath(exe["interp"])
    interp = elf_loads(interp_path)
    entries = {ln.split()[-1]: ln.split() for ln in maps.splitlines() if len(ln.split()) >= 6}
    bases, specials, gate = _bases(maps, program, interp_path, trace, cut, root)

    def ident(path: str) -> dict:
        fields = entries[path]
        major, minor = fields[3].split(":")
        return {"path": path, "dev": [int(major, 16), int(minor, 16)], "inode": int(fields[4])}

    trace.meta = {
        "command": list(argv),
        "recorded_at": _dt.datetime.now(_dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "strace": _strace_version(strace), "kernel": platform.release(), "machine": platform.machine(),
        "glibc": _glibc_version(), "aslr": True, "syscalls": list(SYSCALLS),
        "history": {
            "exe": {**ident(program), "loads": exe["loads"], "type": exe["type"]},
            "interp": {**ident(interp_path), "loads": interp["loads"], "type": interp["type"]},
            "bases": bases, "specials": specials, "gate": gate, "cut": cut, "maps_at_start": maps,
        },
    }
    trace.layouts = {}
    write_trace(trace, output)
    return trace
