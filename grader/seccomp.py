"""A seccomp deny-list compiled to classic BPF for `bwrap --seccomp FD`.

Candidate code needs nothing here: no sockets, no tracing or reading other processes, no mounts or new
namespaces, no kernel keyrings, eBPF, perf, userfaultfd or io_uring (each a recurring source of kernel
escapes), no personality changes. Denied calls fail with EPERM so Python raises a clean OSError. `clone3`
answers ENOSYS, which makes libc fall back to `clone`, whose flags (unlike clone3's) a filter can inspect:
clone with any CLONE_NEW* flag is denied. Calls from another ABI (x32, i386) are refused outright.
"""

from __future__ import annotations

import platform
import struct

# x86_64 syscall numbers (arch/x86/entry/syscalls/syscall_64.tbl).
DENIED_X86_64: dict[str, int] = {
    "socket": 41,
    "connect": 42,
    "accept": 43,
    "bind": 49,
    "listen": 50,
    "socketpair": 53,
    "accept4": 288,
    "ptrace": 101,
    "process_vm_readv": 310,
    "process_vm_writev": 311,
    "pidfd_getfd": 438,
    "mount": 165,
    "umount2": 166,
    "pivot_root": 155,
    "chroot": 161,
    "move_mount": 429,
    "open_tree": 428,
    "fsopen": 430,
    "fsconfig": 431,
    "fsmount": 432,
    "fspick": 433,
    "mount_setattr": 442,
    "unshare": 272,
    "setns": 308,
    "keyctl": 250,
    "add_key": 248,
    "request_key": 249,
    "bpf": 321,
    "perf_event_open": 298,
    "userfaultfd": 323,
    "io_uring_setup": 425,
    "io_uring_enter": 426,
    "io_uring_register": 427,
    "personality": 135,
    "kexec_load": 246,
    "kexec_file_load": 320,
    "init_module": 175,
    "finit_module": 313,
    "delete_module": 176,
    "reboot": 169,
    "swapon": 167,
    "swapoff": 168,
    "acct": 163,
    "syslog": 103,
    "iopl": 172,
    "ioperm": 173,
    "open_by_handle_at": 304,
    "name_to_handle_at": 303,
    "quotactl": 179,
    "fanotify_init": 300,
    "lookup_dcookie": 212,
}
CLONE = 56
CLONE3 = 435
CLONE_NEW_FLAGS = 0x00020000 | 0x02000000 | 0x04000000 | 0x08000000 | 0x10000000 | 0x20000000 | 0x40000000
X32_SYSCALL_BIT = 0x40000000
AUDIT_ARCH_X86_64 = 0xC000003E
EPERM, ENOSYS = 1, 38

# BPF opcodes and seccomp return values (linux/filter.h, linux/seccomp.h).
LD_W_ABS, JEQ_K, JGE_K, JSET_K, RET_K = 0x20, 0x15, 0x35, 0x45, 0x06
RET_KILL_PROCESS, RET_ERRNO, RET_ALLOW = 0x80000000, 0x00050000, 0x7FFF0000
OFFSET_NR, OFFSET_ARCH, OFFSET_ARG0_LOW = 0, 4, 16


class UnsupportedArchitecture(RuntimeError):
    pass


def _insn(code: int, k: int, jt: int = 0, jf: int = 0) -> tuple[int, int, int, int]:
    return (code, jt, jf, k)


def build_filter(machine: str | None = None) -> bytes:
    """The filter as the kernel's `struct sock_filter[]` bytes."""
    machine = machine or platform.machine()
    if machine != "x86_64":
        raise UnsupportedArchitecture(f"the sandbox's seccomp filter is defined for x86_64, not {machine}")
    denied = sorted(set(DENIED_X86_64.values()))
    # Layout: arch check, x32 check, one JEQ per denied call, clone3, clone flag check, then the returns.
    head = 5
    checks = len(denied)
    tail_start = head + checks + 4  # clone3 JEQ, clone JEQ, load arg0, JSET
    allow, deny, nosys = tail_start, tail_start + 1, tail_start + 2

    def jump(from_index: int, target: int) -> int:
        offset = target - from_index - 1
        if not 0 <= offset <= 255:
            raise ValueError("seccomp filter too long for 8-bit jumps")
        return offset

    program = [
        _insn(LD_W_ABS, OFFSET_ARCH),
        _insn(JEQ_K, AUDIT_ARCH_X86_64, jt=1, jf=0),
        _insn(RET_K, RET_KILL_PROCESS),
        _insn(LD_W_ABS, OFFSET_NR),
        _insn(JGE_K, X32_SYSCALL_BIT, jt=jump(4, deny), jf=0),
    ]
    for nr in denied:
        program.append(_insn(JEQ_K, nr, jt=jump(len(program), deny), jf=0))
    program.append(_insn(JEQ_K, CLONE3, jt=jump(len(program), nosys), jf=0))
    program.append(_insn(JEQ_K, CLONE, jt=0, jf=jump(len(program), allow)))
    program.append(_insn(LD_W_ABS, OFFSET_ARG0_LOW))
    program.append(_insn(JSET_K, CLONE_NEW_FLAGS, jt=jump(len(program), deny), jf=jump(len(program), allow)))
    assert len(program) == tail_start
    program += [
        _insn(RET_K, RET_ALLOW),
        _insn(RET_K, RET_ERRNO | EPERM),
        _insn(RET_K, RET_ERRNO | ENOSYS),
    ]
    return b"".join(struct.pack("<HBBI", *insn) for insn in program)
