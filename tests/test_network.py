"""Network: digitrec opens no connection and listens on no port, except the explicit MNIST download."""

import json
import subprocess
import sys

from conftest import ROOT

GUARD = r"""
import json, socket, sys
calls = []
# bind() alone is left out: urllib3 probes IPv6 support by binding ::1 port 0 without listening.
for name in ("connect", "connect_ex", "listen", "sendto"):
    original = getattr(socket.socket, name)
    def guard(self, *args, _name=name, _original=original):
        if self.family in (socket.AF_INET, socket.AF_INET6):
            calls.append([_name, repr(args)])
        return _original(self, *args)
    setattr(socket.socket, name, guard)
from tui.cli import main
try:
    rc = main(sys.argv[2:])
finally:
    with open(sys.argv[1], "w") as fh:
        json.dump(calls, fh)
raise SystemExit(rc)
"""


def _socket_calls(tmp_path, env, *args):
    record = tmp_path / "calls.json"
    proc = subprocess.run([sys.executable, "-c", GUARD, str(record), *args], env=env, cwd=ROOT,
                          capture_output=True, text=True, timeout=300)
    return proc, json.loads(record.read_text())


def test_train_evaluate_and_predict_use_no_network(tmp_path, cli_env, trained_model):
    out = tmp_path / "m.h5"
    proc, calls = _socket_calls(tmp_path, cli_env, "train", "--preset", "classic", "--epochs", "1", "--subset", "500",
                                "--output", str(out))
    assert proc.returncode == 0, proc.stderr
    assert calls == []
    proc, calls = _socket_calls(tmp_path, cli_env, "evaluate", "--model", str(out), "--json")
    assert proc.returncode == 0 and calls == []
    proc, calls = _socket_calls(tmp_path, cli_env, "predict", str(ROOT / "sample_images"), "--model", str(trained_model),
                                "--json")
    assert proc.returncode == 0 and calls == []


def test_the_only_connection_is_the_explicit_download(tmp_path, cli_env):
    env = {k: v for k, v in cli_env.items() if k != "DIGITREC_MNIST"}
    env.update(KERAS_HOME=str(tmp_path / "keras"), DIGITREC_MNIST_URL="http://127.0.0.1:9/mnist.npz")
    proc, calls = _socket_calls(tmp_path, env, "evaluate")
    assert proc.returncode == 1 and "could not download MNIST" in proc.stderr
    assert [c[0] for c in calls] in (["connect"], ["connect", "connect"])  # the download only (maybe retried)
    assert all("127.0.0.1" in c[1] for c in calls)


async def test_the_app_opens_no_connection_and_listens_on_no_port(tmp_path, monkeypatch, trained_model):
    import socket

    from test_app import make_app, settle, type_command
    from tui.app.widgets.prediction import PredictionView

    calls = []
    for name in ("connect", "connect_ex", "listen"):
        original = getattr(socket.socket, name)

        def guard(self, *args, _name=name, _original=original):
            calls.append((_name, args))
            return _original(self, *args)

        monkeypatch.setattr(socket.socket, name, guard)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("DIGITREC_RUNS", str(tmp_path / "runs"))
    app = make_app(model=str(trained_model), preload=True)
    async with app.run_test(size=(100, 30)) as pilot:
        for command in ("help", "models", "runs", f"predict {ROOT / 'sample_images' / '7_mnist_01.png'}"):
            await type_command(pilot, command)
        await settle(pilot, lambda: bool(app.conversation.last_turn.query(PredictionView)), timeout=90)
    assert calls == []
