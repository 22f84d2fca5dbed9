"""A seccomp deny-list compiled to classic BPF for `bwrap --seccomp FD`.

Candidate code needs nothing here: no sockets, no tracing or reading other processes, no mounts or new
namespaces, no kernel keyrings, eBPF, perf, userfaultfd or io_uring (each a recurring source of kernel
escapes), no personality changes. Denied calls fail with EPERM so Python raises a clean OSError. `clone3`
answers ENOSYS, which makes libc fall back to `clone`, which is refused. Calls from another ABI (x32, i386)
are refused outright.

The rest keeps a submission to one process with one thread, inside one memory budget where cgroup v2 is not
there to count it. RLIMIT_AS limits one process's address space, so every way of holding memory outside it
is refused: no new process (fork, vfork, clone: a child would get a RLIMIT_AS of its own, and a child in a
session of its own a share of the CPU of its own), no SysV shared memory, semaphores or message queues, no
POSIX message queues, no memfds, and no pipe enlarged past its 64 KiB default (F_SETPIPE_SZ). No thread
either: the supervisor times a speed check by the kernel's count of the one thread's CPU time, which a
thread that ends would take out of the count; NumPy runs single-threaded here anyway.
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
    # memory held outside the process's address space
    "memfd_create": 319,
    "memfd_secret": 447,
    "shmget": 29,
    "shmat": 30,
    "shmctl": 31,
    "semget": 64,
    "semop": 65,
    "semctl": 66,
    "semtimedop": 220,
    "msgget": 68,
    "msgsnd": 69,
    "msgrcv": 70,
    "msgctl": 71,
    "mq_open": 240,
    "mq_unlink": 241,
    "mq_timedsend": 242,
    "mq_timedreceive": 243,
    "mq_notify": 244,
    "mq_getsetattr": 245,
    # new processes and threads
    "fork": 57,
    "vfork": 58,
    "clone": 56,
}
CLONE3 = 435
FCNTL = 72
F_SETPIPE_SZ = 1031
X32_SYSCALL_BIT = 0x40000000
AUDIT_ARCH_X86_64 = 0xC000003E
EPERM, ENOSYS = 1, 38

# BPF opcodes and seccomp return values (linux/filter.h, linux/seccomp.h).
LD_W_ABS, JEQ_K, JGE_K, RET_K = 0x20, 0x15, 0x35, 0x06
RET_KILL_PROCESS, RET_ERRNO, RET_ALLOW = 0x80000000, 0x00050000, 0x7FFF0000
OFFSET_NR, OFFSET_ARCH, OFFSET_ARG1_LOW = 0, 4, 24


class UnsupportedArchitecture(RuntimeError):
    pass


def build_filter(machine: str | None = None) -> bytes:
    """The filter as the kernel's `struct sock_filter[]` bytes."""
    machine = machine or platform.machine()
    if machine != "x86_64":
        raise UnsupportedArchitecture(f"the sandbox's seccomp filter is defined for x86_64, not {machine}")
    # Instructions with jump targets by label ("" falls through); resolved to 8-bit offsets at the end.
    program: list[tuple[int, int, str, str]] = [
        (LD_W_ABS, OFFSET_ARCH, "", ""),
        (JEQ_K, AUDIT_ARCH_X86_64, "nr", "kill"),
    ]
    labels = {"nr": len(program)}
    program += [
        (LD_W_ABS, OFFSET_NR, "", ""),
        (JGE_K, X32_SYSCALL_BIT, "deny", ""),
    ]
    program += [(JEQ_K, nr, "deny", "") for nr in sorted(set(DENIED_X86_64.values()))]
    program += [
        (JEQ_K, CLONE3, "nosys", ""),
        (JEQ_K, FCNTL, "", "allow"),
        (LD_W_ABS, OFFSET_ARG1_LOW, "", ""),
        (JEQ_K, F_SETPIPE_SZ, "deny", "allow"),
    ]
    returns = {
        "allow": RET_ALLOW,
        "deny": RET_ERRNO | EPERM,
        "nosys": RET_ERRNO | ENOSYS,
        "kill": RET_KILL_PROCESS,
    }
    for name, value in returns.items():
        labels[name] = len(program)
        program.append((RET_K, value, "", ""))

    def offset(index: int, label: str) -> int:
        jump = labels[label] - index - 1 if label else 0
        if not 0 <= jump <= 255:
            raise ValueError("seccomp filter too long for 8-bit jumps")
        return jump

    return b"".join(
        struct.pack("<HBBI", code, offset(i, jt), offset(i, jf), k)
        for i, (code, k, jt, jf) in enumerate(program)
    )
