"""Forward + backward of GAM, numpygam vs PyTorch CPU: time and peak memory.

    python benchmarks/bench_gam.py

nn.GAM (paper variant, rate 4, train mode, float32) at (B, C, H, W) =
(8, 64, 32, 32) and (8, 256, 14, 14), against the same PyTorch module with the
same weights, in the same process.  Also against numpygam's own textbook floor
(gam.set_fast(False): the gates of numpygam.functional, the im2col convolution).
Targets (issue 22): time at most 1.5x PyTorch's, peak memory at most 1x; at least 2x
faster than the textbook.

Page faults: each step's minor page faults (getrusage).  glibc hands freed memory
at the top of its heap back to the kernel, and numpygam's step, with its tens of
MiB of spectra, would then fault it in again next step; the benchmarks tell glibc to
keep it as they start (timing.py; numpygam/fast/memory.py says why and at what cost),
as the train command does.  The last table times both libraries in a fresh process
with NUMPYGAM_KEEP_FREED_MEMORY=0, the opt-out: what a step costs without it.

Peak memory: each library runs one forward+backward in a fresh subprocess; the
kernel's peak-RSS mark is reset (/proc/self/clear_refs) just before, and the
peak (VmHWM) minus the resident size before the run is reported.
"""
import json
import os
import resource
import subprocess
import sys

import numpy as np
import torch

from numpygam import nn
from numpygam.fast.memory import ENVIRONMENT_VARIABLE
from timing import FREED_MEMORY_KEPT, from_tests, median_seconds, report_row

BlogGAM = from_tests("torch_models").BlogGAM

SIZES = [(8, 64, 32, 32), (8, 256, 14, 14)]


def build(size, method="auto"):
    B, C, H, W = size
    torch.manual_seed(0)
    theirs = BlogGAM(C, C, 4, paper=True).float()
    ours = nn.GAM(C, rate=4, variant="paper", method=method)
    ours.load_state_dict({k: v.numpy() for k, v in theirs.state_dict().items()})
    x = np.random.default_rng(0).standard_normal(size).astype(np.float32)
    return ours, theirs, x


def step_ours(ours, x, dy):
    ours.zero_grad()
    ours(x)
    ours.backward(dy)


def step_theirs(theirs, xt, dyt):
    theirs.zero_grad()
    xt.grad = None
    theirs(xt).backward(dyt)


def faults_per_step(step, steps=5):
    """Minor page faults (pages the kernel had to map, zeroed) per call of step()."""
    before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
    for _ in range(steps):
        step()
    return (resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before) / steps


def time_both(size):
    """(ours, theirs, steps, x, dy): both libraries' median seconds per forward+backward."""
    ours, theirs, x = build(size)
    dy = np.random.default_rng(1).standard_normal(size).astype(np.float32)
    xt, dyt = torch.tensor(x, requires_grad=True), torch.tensor(dy)
    steps = (lambda: step_ours(ours, x, dy)), (lambda: step_theirs(theirs, xt, dyt))
    return (median_seconds(steps[0], repeats=7), median_seconds(steps[1], repeats=7), steps,
            x, dy)


def _status_kb(field):
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(field):
                return int(line.split()[1])
    raise RuntimeError(field)


def measure_memory(which, size):
    """In a subprocess: MiB of peak resident memory that one forward+backward adds."""
    ours, theirs, x = build(size)
    dy = np.ones_like(x)
    xt, dyt = torch.tensor(x, requires_grad=True), torch.tensor(dy)
    with open("/proc/self/clear_refs", "w") as f:
        f.write("5")  # reset the peak-RSS mark (VmHWM) to the current size
    before = _status_kb("VmRSS")
    if which == "numpygam":
        step_ours(ours, x, dy)
    else:
        step_theirs(theirs, xt, dyt)
    return (_status_kb("VmHWM") - before) / 1024


def peak_mib(which, size):
    out = subprocess.run([sys.executable, __file__, "--memory", which, json.dumps(size)],
                         capture_output=True, text=True, check=True)
    return float(out.stdout.strip())


def main():
    print(f"torch {torch.__version__} ({torch.get_num_threads()} threads), numpy {np.__version__}")
    print("nn.GAM forward+backward, paper variant, rate 4, train mode, float32\n")
    header = (f"{'(B, C, H, W)':<18}{'numpygam':>10}{'torch':>9}{'ratio':>7}{'textbook':>9}"
              f"{'speed-up':>9}   {'peak MiB ours':>13}{'torch':>7}{'ratio':>7}"
              f"   {'faults/step ours':>16}{'torch':>7}")
    print(header)
    rows, ports = [], []
    for size in SIZES:
        t_ours, t_theirs, steps, x, dy = time_both(size)
        faults = [faults_per_step(step) for step in steps]
        textbook = build(size)[0].set_fast(False)  # the same weights, the textbook floor
        t_im2col = median_seconds(lambda: step_ours(textbook, x, dy), repeats=5)
        m_ours, m_theirs = peak_mib("numpygam", size), peak_mib("torch", size)
        print(f"{str(size):<18}{t_ours * 1e3:>8.1f}ms{t_theirs * 1e3:>7.1f}ms"
              f"{t_ours / t_theirs:>6.2f}x{t_im2col * 1e3:>7.1f}ms{t_im2col / t_ours:>8.2f}x"
              f"   {m_ours:>13.1f}{m_theirs:>7.1f}{m_ours / m_theirs:>6.2f}x"
              f"   {faults[0]:>16.0f}{faults[1]:>7.0f}")
        rows.append(report_row(f"GAM {size}", t_ours, t_theirs))
        port = nn.GAMAttention(size[1], size[1])  # the YOLO-family port, grouped by rate
        t_port = median_seconds(lambda: step_ours(port, x, dy), repeats=7)
        ports.append(f"{str(size):<18} GAMAttention {t_port * 1e3:7.1f} ms   nn.GAM "
                     f"{t_ours * 1e3:7.1f} ms   ratio {t_port / t_ours:5.2f}x")
    print("\nratio = numpygam / torch (target <= 1.5x time, <= 1x memory); "
          "speed-up = textbook / numpygam (target >= 2x)\n")
    print("\n".join(rows))  # the same figures in the rows benchmarks/ab.py reads
    print("\nnn.GAMAttention (the YOLO-family port: grouped convolutions, a shuffle) against "
          "nn.GAM, forward+backward (target <= 1.2x)")
    print("\n".join(ports))

    print(f"\nThe same in a fresh process with {ENVIRONMENT_VARIABLE}=0 (malloc left as "
          f"it is; above, freed memory kept: {FREED_MEMORY_KEPT}), both libraries, "
          f"page faults per step in brackets")
    done = subprocess.run([sys.executable, __file__, "--opted-out"], capture_output=True,
                          text=True, check=True, env={**os.environ, ENVIRONMENT_VARIABLE: "0"})
    print(done.stdout, end="")


def opted_out():
    """The rows of a process started with NUMPYGAM_KEEP_FREED_MEMORY=0."""
    assert not FREED_MEMORY_KEPT, f"run with {ENVIRONMENT_VARIABLE}=0"
    for size in SIZES:
        t_ours, t_theirs, steps, _, _ = time_both(size)
        faults = [faults_per_step(step) for step in steps]
        print(report_row(f"GAM {size}, freed memory not kept", t_ours, t_theirs, width=44)
              + f"   ({faults[0]:.0f} / {faults[1]:.0f})")


if __name__ == "__main__":
    if len(sys.argv) == 4 and sys.argv[1] == "--memory":
        print(measure_memory(sys.argv[2], tuple(json.loads(sys.argv[3]))))
    elif sys.argv[1:] == ["--opted-out"]:
        opted_out()
    else:
        main()
