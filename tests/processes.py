"""Processes of this machine a test looks for: what a killed grader must not leave."""
import os


def processes_with(text, where="cmdline"):
    """pids whose /proc/PID/<where> (cmdline or environ) holds text."""
    found = []
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            with open(f"/proc/{pid}/{where}", "rb") as f:
                if text.encode() in f.read():
                    found.append(pid)
        except OSError:
            pass
    return found
