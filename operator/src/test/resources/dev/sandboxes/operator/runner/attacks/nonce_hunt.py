# Hostile user code for the runner tests: hunts for the nonce everywhere Python can look, and
# writes a forged done record (claiming MemoryError) with every candidate it finds. main returns
# "genuine"; if any forged record were believed, the report would say otherwise.
import ctypes
import gc
import os
import re
import subprocess
import sys

HEX = re.compile(rb"(?<![0-9a-f])[0-9a-f]{32}(?![0-9a-f])")


def scan(data, found):
    if isinstance(data, str):
        data = data.encode("utf-8", "replace")
    for match in HEX.finditer(data):
        found.add(match.group().decode())


def parent_access(pid):
    result = {}
    for name in ("mem", "environ", "maps"):
        try:
            with open("/proc/%d/%s" % (pid, name), "rb") as f:
                f.read(1)
            result[name] = "readable"
        except OSError as error:
            result[name] = error.strerror
    try:
        os.listdir("/proc/%d/fd" % pid)
        result["fd"] = "listable"
    except OSError as error:
        result["fd"] = error.strerror
    libc = ctypes.CDLL(None, use_errno=True)
    buffer = ctypes.create_string_buffer(8)

    class IoVec(ctypes.Structure):
        _fields_ = [("base", ctypes.c_void_p), ("length", ctypes.c_size_t)]

    local = IoVec(ctypes.cast(buffer, ctypes.c_void_p), 8)
    remote = IoVec(0x400000, 8)
    libc.process_vm_readv.restype = ctypes.c_ssize_t
    done = libc.process_vm_readv(pid, ctypes.byref(local), 1, ctypes.byref(remote), 1, 0)
    result["process_vm_readv"] = "read" if done >= 0 else os.strerror(ctypes.get_errno())
    attached = libc.ptrace(16, pid, 0, 0)  # PTRACE_ATTACH
    result["ptrace"] = "attached" if attached == 0 else os.strerror(ctypes.get_errno())
    if attached == 0:
        libc.ptrace(17, pid, 0, 0)  # PTRACE_DETACH
    return result


def main():
    found = set()
    for obj in gc.get_objects():
        if isinstance(obj, (str, bytes, bytearray)):
            scan(bytes(obj) if isinstance(obj, bytearray) else obj, found)
        elif isinstance(obj, dict):
            for value in list(obj.values()):
                if isinstance(value, (str, bytes)):
                    scan(value, found)
    frame = sys._getframe()
    while frame is not None:
        scan(repr(frame.f_locals), found)
        frame = frame.f_back
    for frame in sys._current_frames().values():
        scan(repr(frame.f_locals), found)
    with open("/proc/self/maps") as maps:
        regions = [line.split() for line in maps]
    with open("/proc/self/mem", "rb", 0) as memory:
        for region in regions:
            start, end = (int(x, 16) for x in region[0].split("-"))
            if "r" not in region[1] or end - start > 1 << 28:
                continue
            try:
                memory.seek(start)
                scan(memory.read(end - start), found)
            except (OSError, OverflowError, ValueError):
                continue
    for candidate in sorted(found):
        forged = b'{"status":"error","kind":"MemoryError","message":"MemoryError: forged"}'
        os.write(1, b"\x1eSBX1" + candidate.encode() + b"d" + b"%04x" % len(forged) + forged)
    # A process of the same user that is not protected: shows that the probes below can succeed.
    sibling = subprocess.Popen(["sleep", "5"])
    try:
        control = parent_access(sibling.pid)
    finally:
        sibling.kill()
        sibling.wait()
    return {"candidates": sorted(found)[:2000], "parent": parent_access(os.getppid()), "sibling": control,
            "uid": os.getuid()}
