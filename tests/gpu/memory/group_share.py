"""group_share.py - two processes in one group share one cap (issue 3).

The script itself runs without the library and starts two PyTorch workers
under LD_PRELOAD=$LIB with CUSLICE_GROUP=share-<pid> and the cap of
CUSLICE_MEM_LIMIT (run.sh: 4G). Worker A holds 2 GiB; worker B sees that in
mem_get_info, is refused more than what is left, gets what is left, and gets
A's 2 GiB once A frees it.

RESULT group_share step=S ... ok=0|1
"""
import os
import subprocess
import sys

GiB = 1 << 30
MiB = 1 << 20
CAP = int(os.environ.get("CAP_BYTES", 4 << 30))
HELD = 2 * GiB


def worker():
    """Commands on stdin: alloc N -> 'ok'|'oom'; free -> 'freed'; info -> 'free total'."""
    import torch
    held = []
    torch.zeros(1, device="cuda")
    print("ready", flush=True)
    for line in sys.stdin:
        words = line.split()
        if words[0] == "alloc":
            try:
                held.append(torch.empty(int(words[1]), dtype=torch.uint8, device="cuda"))
                print("ok", flush=True)
            except torch.OutOfMemoryError:
                print("oom", flush=True)
        elif words[0] == "free":
            held.clear()
            torch.cuda.empty_cache()
            print("freed", flush=True)
        elif words[0] == "info":
            print("%d %d" % torch.cuda.mem_get_info(), flush=True)
        elif words[0] == "quit":
            return


class Worker:
    def __init__(self, env):
        self.p = subprocess.Popen([sys.executable, os.path.abspath(__file__), "--worker"],
                                  env=env, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                  text=True)
        assert self.p.stdout.readline().strip() == "ready"

    def ask(self, line):
        self.p.stdin.write(line + "\n")
        self.p.stdin.flush()
        return self.p.stdout.readline().strip()

    def info(self):
        free, total = self.ask("info").split()
        return int(free), int(total)

    def quit(self):
        self.p.stdin.write("quit\n")
        self.p.stdin.flush()
        self.p.wait(timeout=60)


def result(step, ok, **kv):
    fields = " ".join("%s=%s" % (k, v) for k, v in kv.items())
    print("RESULT group_share step=%s %s ok=%d" % (step, fields, int(bool(ok))), flush=True)


def main():
    env = dict(os.environ)
    env["LD_PRELOAD"] = os.environ["LIB"]
    env["CUSLICE_GROUP"] = "share-%d" % os.getpid()
    env.setdefault("CUSLICE_MEM_LIMIT", "4G")
    a = Worker(env)
    got = a.ask("alloc %d" % HELD)
    result("a_holds", got == "ok", held=HELD)
    b = Worker(env)
    free1, total = b.info()
    result("b_sees_a", total == CAP and free1 <= CAP - HELD, free=free1, total=total)
    room = (free1 // (2 * MiB)) * 2 * MiB - 64 * MiB
    over = b.ask("alloc %d" % (free1 + 256 * MiB))
    result("b_refused_over", over == "oom", asked=free1 + 256 * MiB)
    fits = b.ask("alloc %d" % room)
    result("b_gets_rest", fits == "ok", asked=room)
    a.ask("free")
    free2, _ = b.info()
    result("a_freed", free2 >= HELD - 64 * MiB, free=free2)
    again = b.ask("alloc %d" % (HELD - 64 * MiB))
    result("b_gets_a_share", again == "ok", asked=HELD - 64 * MiB)
    a.quit()
    b.quit()


if __name__ == "__main__":
    if "--worker" in sys.argv:
        worker()
    else:
        main()
