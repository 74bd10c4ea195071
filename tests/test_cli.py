"""The `talkwalk` command as a user runs it."""
import subprocess
import sys
from pathlib import Path

TALKWALK = str(Path(sys.executable).parent / "talkwalk")  # the console script installed with the package


def test_cli_data_and_error(tmp_path):
    out = subprocess.run([TALKWALK, "data", "--dataset", "ml-100k", "--run", str(tmp_path)],
                         capture_output=True, text=True, check=True)
    assert "ml-100k: 1,682 items" in out.stdout and "943 validation and 943 test users" in out.stdout
    bad = subprocess.run([TALKWALK, "data", "--dataset", str(tmp_path / "missing")],
                         capture_output=True, text=True)
    assert bad.returncode == 2 and "not found" in bad.stderr and "Traceback" not in bad.stderr
