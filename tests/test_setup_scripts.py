"""The shell scripts `make setup` runs: the llama.cpp wheel build and the disk-room check.

The build is driven with a stand-in for pip (a real build takes 15 minutes and is what
every clean-clone CI run does when the wheelhouse is empty); what is tested here is the
script's own logic: progress, where the wheel lands, and what a failure prints."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BUILD = ROOT / "scripts" / "build-llama.sh"
ROOM = ROOT / "scripts" / "check-room.sh"


def _fake_pip(tmp_path: Path, body: str) -> Path:
    pip = tmp_path / "pip"
    pip.write_text("#!/usr/bin/env bash\n"
                   'out=""; while (( $# )); do [[ $1 == -w ]] && out=$2; shift; done\n'
                   + body)
    pip.chmod(0o755)
    return pip


def _build(pip: Path, wheelhouse: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PROGRESS_SECONDS": "0.2"}
    return subprocess.run(["bash", str(BUILD), str(pip), "9.9.9", str(wheelhouse)],
                          capture_output=True, text=True, env=env, timeout=60)


def test_build_shows_progress_and_puts_the_wheel_in_the_wheelhouse(tmp_path):
    pip = _fake_pip(tmp_path, 'echo "[1/3] cc a.c"; sleep 0.5; echo "[3/3] link"; sleep 0.5\n'
                              'mkdir -p "$out"; echo wheel > "$out/llama_cpp_python-9.9.9-x.whl"\n')
    house = tmp_path / "cache" / "wheels"
    r = _build(pip, house)
    assert r.returncode == 0, r.stderr
    assert "llama.cpp build: step [" in r.stdout and "[3/3]" in r.stdout
    assert [p.name for p in house.iterdir()] == ["llama_cpp_python-9.9.9-x.whl"]
    again = _build(_fake_pip(tmp_path, "exit 7\n"), house)  # cached: pip is not run
    assert again.returncode == 0 and "Building" not in again.stdout


def test_failed_build_prints_the_log_and_caches_nothing(tmp_path):
    pip = _fake_pip(tmp_path, 'echo "error: compiler exploded"; exit 1\n')
    house = tmp_path / "wheels"
    r = _build(pip, house)
    assert r.returncode == 1
    assert "compiler exploded" in r.stdout and "full log:" in r.stderr
    assert not house.exists()


def test_build_without_a_wheel_is_a_failure(tmp_path):
    r = _build(_fake_pip(tmp_path, "exit 0\n"), tmp_path / "wheels")
    assert r.returncode == 1 and "without a wheel" in r.stderr


def _room(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["bash", str(ROOM), *args], capture_output=True, text=True,
                          timeout=30)


def test_room_check_passes_quietly_when_it_fits(tmp_path):
    r = _room("1", str(tmp_path / "not" / "made" / "yet"), "1", str(tmp_path))
    assert (r.returncode, r.stdout, r.stderr) == (0, "", "")


def test_room_check_names_the_disk_and_the_shortfall(tmp_path):
    r = _room("600000000", str(tmp_path / ".venv"), "1", str(tmp_path / "cache"))
    assert r.returncode == 1
    assert "Not enough disk space" in r.stderr and "600000001 MiB" in r.stderr
    assert f"{tmp_path}/.venv and {tmp_path}/cache" in r.stderr
    assert _room("12").returncode == 2  # a folder without its size is a usage error
