"""The wheel holds only cstui/… (screens, evaluators and sample data installed under it)."""

import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_wheel_contents(tmp_path):
    shutil.rmtree(ROOT / "build", ignore_errors=True)  # a stale build/ would hide a package missing from the list
    r = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-w",
                        str(tmp_path), str(ROOT)], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr[-2000:]
    wheel = next(tmp_path.glob("cstui-*.whl"))
    names = zipfile.ZipFile(wheel).namelist()
    top = {n.split("/")[0] for n in names}
    assert top <= {"cstui", next(n.split("/")[0] for n in names if ".dist-info/" in n)}, top
    for needed in ("cstui/screens/runs.py", "cstui/evaluators/registry.py", "cstui/sample_data/candidate.jsonl",
                   "cstui/sample_data/kb.jsonl", "cstui/cli/__init__.py", "cstui/cli/evaluate.py", "cstui/store/core.py", "cstui/api.py",
                   "cstui/validated.json", "cstui/evaluators/prompts/policy_fabrication.md"):  # judges need their prompts
        assert needed in names
    assert not any(n.startswith(("tests/", "bench/", "screens/", "evaluators/")) for n in names)
    assert "cstui/cli.py" not in names and "cstui/store.py" not in names  # replaced by packages
