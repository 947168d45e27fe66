"""`python -m numpygam check` checks every op and fails loudly on a wrong one."""
import subprocess
import sys

import pytest

import numpygam.functional as F
from numpygam import checks
from numpygam.__main__ import main


@pytest.mark.slow
def test_check_command_passes_and_prints_a_table(capsys):
    assert main(["check"]) == 0
    out = capsys.readouterr().out
    for op in ["linear", "softmax", "cross_entropy", "embedding", "nn.Linear"]:
        assert op in out
    assert " 0 failed" in out


def test_check_command_exits_non_zero_when_a_backward_is_wrong(monkeypatch, capsys):
    assert main(["check", "--only", "tanh"]) == 0
    passed = sum(1 for line in capsys.readouterr().out.splitlines() if "tanh" in line)
    assert passed >= 1
    monkeypatch.setattr(F, "tanh_backward", lambda dy, cache: dy)
    assert main(["check", "--only", "tanh"]) == 1
    out = capsys.readouterr().out
    assert "FAIL" in out
    failed = sum(1 for line in out.splitlines() if "FAIL" in line)
    assert out.strip().endswith(f"{passed - failed} passed, {failed} failed")


def test_check_runs_as_a_module():
    result = subprocess.run([sys.executable, "-m", "numpygam", "check", "--only", "relu"],
                            capture_output=True, text=True)
    assert result.returncode == 0 and "relu" in result.stdout and checks is not None


def test_check_counts_what_passed_and_what_failed(monkeypatch, capsys):
    """The summary line's counts, with one of two checks failing."""
    import numpygam.checks as checks

    class Report:
        def __init__(self, passed):
            self.passed = passed

    monkeypatch.setattr(checks, "run_checks", lambda seed=0, only=None:
                        [("good", Report(True)), ("bad", Report(False))])
    monkeypatch.setattr(checks, "format_table", lambda results: "table")
    assert main(["check"]) == 1
    assert capsys.readouterr().out.strip().endswith("1 passed, 1 failed")
