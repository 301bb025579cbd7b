"""nvml_ctypes.py - the few NVML calls the memory evidence needs, via ctypes
on libnvidia-ml.so.1 (pynvml may not be installed). Under the library,
nvmlDeviceGetMemoryInfo(_v2) answer with the cap; the per-process list
(nvmlDeviceGetComputeRunningProcesses_v3) is not intercepted and shows the
real bytes the driver holds for each process.
"""
import ctypes
import os


class Memory(ctypes.Structure):
    _fields_ = [("total", ctypes.c_ulonglong), ("free", ctypes.c_ulonglong),
                ("used", ctypes.c_ulonglong)]


class MemoryV2(ctypes.Structure):
    _fields_ = [("version", ctypes.c_uint), ("total", ctypes.c_ulonglong),
                ("reserved", ctypes.c_ulonglong), ("free", ctypes.c_ulonglong),
                ("used", ctypes.c_ulonglong)]


class ProcessInfo(ctypes.Structure):
    _fields_ = [("pid", ctypes.c_uint), ("usedGpuMemory", ctypes.c_ulonglong),
                ("gpuInstanceId", ctypes.c_uint), ("computeInstanceId", ctypes.c_uint)]


_lib = None


def lib():
    global _lib
    if _lib is None:
        _lib = ctypes.CDLL("libnvidia-ml.so.1")
        rc = _lib.nvmlInit_v2()
        if rc != 0:
            raise RuntimeError("nvmlInit_v2 returned %d" % rc)
    return _lib


def device(index=0):
    h = ctypes.c_void_p()
    rc = lib().nvmlDeviceGetHandleByIndex_v2(ctypes.c_uint(index), ctypes.byref(h))
    if rc != 0:
        raise RuntimeError("nvmlDeviceGetHandleByIndex_v2 returned %d" % rc)
    return h


def memory_info(h):
    m = Memory()
    rc = lib().nvmlDeviceGetMemoryInfo(h, ctypes.byref(m))
    return rc, m.total, m.used, m.free


def memory_info_v2(h):
    m = MemoryV2()
    m.version = ctypes.sizeof(MemoryV2) | (2 << 24)
    rc = lib().nvmlDeviceGetMemoryInfo_v2(h, ctypes.byref(m))
    return rc, m.total, m.used, m.free


def process_used(h, pid=None):
    """Bytes the driver holds for pid (default: this process), 0 if unlisted.
    Run alone on the GPU: inside a container NVML reports host pids."""
    pid = os.getpid() if pid is None else pid
    n = ctypes.c_uint(64)
    infos = (ProcessInfo * 64)()
    if lib().nvmlDeviceGetComputeRunningProcesses_v3(h, ctypes.byref(n), infos) != 0:
        return 0
    for i in range(n.value):
        if infos[i].pid == pid:
            return infos[i].usedGpuMemory
    # In a container NVML lists host pids: with one process on the GPU, it is us.
    if n.value == 1:
        return infos[0].usedGpuMemory
    return 0
