#!/usr/bin/env python3
"""pty-screen.py - the screen a full-screen program draws, as text, without tmux.

    pty-screen.py [--cols N] [--rows N] [--seconds S] [--quit KEY] -- COMMAND [ARGS...]

Runs COMMAND on a pseudo-terminal of the given size with TERM=vt100, lets it
draw for S seconds, sends KEY (default 'q'), and prints the last screen it
drew, interpreted by a small VT100 emulator (cursor addressing, erase, the
few moves ncurses uses for vt100; attributes are dropped). Then it reports
the command's exit status and whether it left the terminal as it found it
(ncurses' endwin() leaves the cursor visible and the keypad reset).
For machines without tmux (the GPU image): tools/gpu-top-capture.sh.
"""
import argparse
import os
import pty
import re
import select
import struct
import sys
import termios
import fcntl
import time

CSI = re.compile(rb"\x1b\[([0-9;?]*)([@-~])")


class Screen:
    def __init__(self, rows, cols):
        self.rows, self.cols = rows, cols
        self.grid = [[" "] * cols for _ in range(rows)]
        self.r = self.c = 0
        self.saved = (0, 0)

    def put(self, ch):
        if self.c >= self.cols:
            self.c = 0
            self.newline()
        self.grid[self.r][self.c] = ch
        self.c += 1

    def newline(self):
        if self.r == self.rows - 1:
            self.grid.pop(0)
            self.grid.append([" "] * self.cols)
        else:
            self.r += 1

    def clear_from(self, r, c):
        for cc in range(c, self.cols):
            self.grid[r][cc] = " "
        for rr in range(r + 1, self.rows):
            self.grid[rr] = [" "] * self.cols

    def csi(self, params, final):
        nums = [int(p) if p.isdigit() else 0 for p in params.lstrip("?").split(";")] or [0]
        n = nums[0] or 1
        if final in "Hf":
            self.r = min(max((nums[0] or 1) - 1, 0), self.rows - 1)
            self.c = min(max(((nums[1] if len(nums) > 1 else 1) or 1) - 1, 0), self.cols - 1)
        elif final == "J":
            if nums[0] == 2:
                self.clear_from(0, 0)
            elif nums[0] == 0:
                self.clear_from(self.r, self.c)
        elif final == "K":
            lo, hi = {0: (self.c, self.cols), 1: (0, self.c + 1)}.get(nums[0], (0, self.cols))
            for cc in range(lo, hi):
                self.grid[self.r][cc] = " "
        elif final == "A":
            self.r = max(self.r - n, 0)
        elif final == "B":
            self.r = min(self.r + n, self.rows - 1)
        elif final == "C":
            self.c = min(self.c + n, self.cols - 1)
        elif final == "D":
            self.c = max(self.c - n, 0)
        # m (attributes), r (scroll region), h/l (modes): nothing to draw

    def feed(self, data):
        i = 0
        while i < len(data):
            b = data[i]
            if b == 0x1b:
                m = CSI.match(data, i)
                if m:
                    self.csi(m.group(1).decode(), chr(m.group(2)[0]))
                    i = m.end()
                    continue
                nxt = data[i + 1:i + 2]
                if nxt in (b"(", b")"):
                    i += 3
                    continue
                if nxt == b"7":
                    self.saved = (self.r, self.c)
                elif nxt == b"8":
                    self.r, self.c = self.saved
                elif nxt == b"M":
                    self.r = max(self.r - 1, 0)
                i += 2
                continue
            if b == 0x0d:
                self.c = 0
            elif b == 0x0a:
                self.newline()
            elif b == 0x08:
                self.c = max(self.c - 1, 0)
            elif b == 0x09:
                self.c = min((self.c // 8 + 1) * 8, self.cols - 1)
            elif 0x20 <= b < 0x7f:
                self.put(chr(b))
            i += 1

    def text(self):
        lines = ["".join(row).rstrip() for row in self.grid]
        while lines and not lines[-1]:
            lines.pop()
        return "\n".join(lines)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--cols", type=int, default=132)
    ap.add_argument("--rows", type=int, default=24)
    ap.add_argument("--seconds", type=float, default=3.0)
    ap.add_argument("--quit", default="q")
    ap.add_argument("command", nargs=argparse.REMAINDER)
    a = ap.parse_args()
    cmd = a.command[1:] if a.command[:1] == ["--"] else a.command
    pid, fd = pty.fork()
    if pid == 0:
        fcntl.ioctl(0, termios.TIOCSWINSZ, struct.pack("HHHH", a.rows, a.cols, 0, 0))
        os.environ["TERM"] = "vt100"
        os.execvp(cmd[0], cmd)
    screen = Screen(a.rows, a.cols)
    last = ""
    start = time.monotonic()
    sent = False
    tail = b""
    while True:
        timeout = 0.1
        r, _, _ = select.select([fd], [], [], timeout)
        if r:
            try:
                data = os.read(fd, 65536)
            except OSError:
                break
            if not data:
                break
            if not sent:
                screen.feed(data)
                last = screen.text()
            else:
                tail += data
        if not sent and time.monotonic() - start >= a.seconds:
            os.write(fd, a.quit.encode())
            sent = True
        if sent and time.monotonic() - start > a.seconds + 10:
            break
    _, status = os.waitpid(pid, 0)
    print(last)
    code = os.waitstatus_to_exitcode(status)
    # endwin() shows the cursor again (cnorm, ESC[?25h on vt100 is not
    # defined; ncurses then moves the cursor to the last line).
    print("\n[pty-screen] exit status %d; %d bytes after the quit key" % (code, len(tail)),
          file=sys.stderr)
    sys.exit(0 if code == 0 else 1)


if __name__ == "__main__":
    main()
