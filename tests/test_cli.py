"""The `qlearn` console command: `qlearn serve --help`, argument handling, and the options it builds."""
from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from qlearn import cli, serve


def _qlearn_cmd() -> list[str]:
    exe = Path(sys.executable).with_name("qlearn")
    if exe.is_file():
        return [str(exe)]  # the installed console script, as `make app` runs it
    found = shutil.which("qlearn")
    return [found] if found else [sys.executable, "-m", "qlearn.cli"]


def test_serve_help_from_the_console_script():
    out = subprocess.run([*_qlearn_cmd(), "serve", "--help"], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    for flag in ("--host", "--port", "--no-browser", "--notebooks", "--timeout", "--cull-idle", "--preheat",
                 "--pool-size", "--pool-burst"):
        assert flag in out.stdout
    assert "127.0.0.1" in out.stdout and "8866" in out.stdout


def test_no_command_is_an_error(capsys):
    with pytest.raises(SystemExit) as e:
        cli.main([])
    assert e.value.code == 2


def test_defaults_build_loopback_options(tmp_path):
    args = cli.build_parser().parse_args(["serve"])
    o = cli.options_from_args(args, tmp_path)
    assert (o.host, o.port, o.open_browser) == ("127.0.0.1", 8866, True)
    assert o.timeout == serve.EXECUTE_TIMEOUT and o.cull_idle_timeout == serve.CULL_IDLE_TIMEOUT
    assert o.preheat == []  # no notebooks in tmp_path: "all" is none of them
    (tmp_path / "00_index.ipynb").write_text("{}")
    (tmp_path / "01_a.ipynb").write_text("{}")
    o = cli.options_from_args(args, tmp_path)
    assert o.preheat == ["00_index.ipynb", "01_a.ipynb"] and o.pool_size == 1
    assert o.pool_burst == serve.POOL_BURST == 3
    o = cli.options_from_args(cli.build_parser().parse_args(["serve", "--pool-burst", "1"]), tmp_path)
    assert o.pool_burst == 1


def test_preheat_names_and_pool_size(tmp_path):
    for name in ("00_index.ipynb", "01_a.ipynb", "02_b.ipynb"):
        (tmp_path / name).write_text("{}")
    parse = cli.build_parser().parse_args
    o = cli.options_from_args(parse(["serve", "--preheat", "01_a.ipynb", "02_b.ipynb", "--pool-size", "30"]),
                              tmp_path)
    assert (o.preheat, o.pool_size) == (["01_a.ipynb", "02_b.ipynb"], 30)
    c = serve.voila_config(o, tmp_path)
    assert c.VoilaKernelManager.kernel_pools_config["01_a.ipynb"] == {"pool_size": 30}
    assert "00_index.ipynb" not in c.VoilaKernelManager.kernel_pools_config
    assert cli.options_from_args(parse(["serve", "--preheat", "landing"]), tmp_path).preheat == [serve.LANDING]
    with pytest.raises(ValueError, match="no such notebook"):
        cli.options_from_args(parse(["serve", "--preheat", "09_missing.ipynb"]), tmp_path)
    with pytest.raises(ValueError, match="not both"):
        cli.options_from_args(parse(["serve", "--preheat", "all", "01_a.ipynb"]), tmp_path)
    for bad in ("-1", str(serve.MAX_POOL_SIZE + 1)):
        with pytest.raises(ValueError, match="pool_size"):
            cli.options_from_args(parse(["serve", "--pool-size", bad]), tmp_path)


def test_flags_reach_the_voila_config(tmp_path):
    (tmp_path / "00_index.ipynb").write_text("{}")
    (tmp_path / "01_a.ipynb").write_text("{}")
    args = cli.build_parser().parse_args(["serve", "--host", "0.0.0.0", "--port", "9000", "--no-browser",
                                          "--timeout", "40", "--cull-idle", "120", "--preheat", "all"])
    c = serve.voila_config(cli.options_from_args(args, tmp_path), tmp_path)
    assert (c.Voila.ip, c.Voila.port, c.Voila.open_browser) == ("0.0.0.0", 9000, False)
    assert c.VoilaExecutor.timeout == 40 and c.MappingKernelManager.cull_idle_timeout == 120
    assert set(c.VoilaKernelManager.kernel_pools_config) == {"default", "00_index.ipynb", "01_a.ipynb"}
    args = cli.build_parser().parse_args(["serve", "--preheat", "none"])
    assert serve.voila_config(cli.options_from_args(args, tmp_path), tmp_path).VoilaConfiguration.preheat_kernel \
        is False


def test_missing_notebooks_dir_is_a_clear_error(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(SystemExit) as e:
        cli.main(["serve", "--no-browser"])
    assert e.value.code == 2
    assert "no notebooks directory found" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        cli.main(["serve", "--notebooks", str(tmp_path / "nope")])
    assert "notebooks must be an existing directory" in capsys.readouterr().err


@pytest.mark.parametrize("argv, match", [(["serve", "--port", "0"], "port"),
                                         (["serve", "--timeout", "0"], "timeout")])
def test_bad_values_are_rejected(tmp_path, capsys, argv, match):
    with pytest.raises(SystemExit) as e:
        cli.main([*argv, "--notebooks", str(tmp_path)])
    assert e.value.code == 2
    assert match in capsys.readouterr().err


def test_hardening_flags_reach_the_guard_config(tmp_path):
    args = cli.build_parser().parse_args(
        ["serve", "--allow-host", "Class.Example.org", "--allow-host", "10.0.0.5:8866", "--max-kernels", "30",
         "--max-kernels-per-client", "0", "--unconnected-timeout", "20"])
    o = cli.options_from_args(args, tmp_path)
    assert o.allow_hosts == ("class.example.org", "10.0.0.5")
    c = serve.guard_config(o)
    k = c.QlearnKernelManager
    assert (k.max_kernels, k.max_kernels_per_client, k.unconnected_timeout) == (30, 0, 20.0)
    defaults = cli.options_from_args(cli.build_parser().parse_args(["serve"]), tmp_path)
    assert (defaults.allow_hosts, defaults.max_kernels, defaults.max_kernels_per_client) == ((), 0, 10)
    assert defaults.unconnected_timeout == serve.UNCONNECTED_TIMEOUT == 50  # + 10 s reaper: < 1 min


@pytest.mark.parametrize("argv, match", [(["serve", "--max-kernels", "-1"], "max_kernels"),
                                         (["serve", "--max-kernels-per-client", "-2"], "max_kernels_per_client"),
                                         (["serve", "--allow-host", "evil.example/x"], "allow_host"),
                                         (["serve", "--unconnected-timeout", "0"], "unconnected_timeout")])
def test_bad_hardening_values_are_rejected(tmp_path, capsys, argv, match):
    with pytest.raises(SystemExit) as e:
        cli.main([*argv, "--notebooks", str(tmp_path)])
    assert e.value.code == 2
    assert match in capsys.readouterr().err


def test_non_loopback_host_starts_with_a_loud_warning(tmp_path, monkeypatch):
    """No server is started: make_app is replaced by a stand-in that records what serve() logs."""
    import logging

    records = []

    class FakeApp:
        config = serve.guard_config(serve.ServeOptions(max_kernels=12))
        log = logging.getLogger("qlearn.test.fakeapp")

        def start(self):
            records.append(("start", None))

    FakeApp.log.handlers = [type("Keep", (logging.Handler,), {"emit": lambda self, r: records.append(
        (r.levelname, r.getMessage()))})()]
    FakeApp.log.propagate = False
    FakeApp.log.setLevel(logging.INFO)
    monkeypatch.setattr(serve, "make_app", lambda nb_dir, o: FakeApp())
    serve.serve(tmp_path, serve.ServeOptions(host="0.0.0.0", open_browser=False))
    warnings = [m for level, m in records if level == "WARNING"]
    assert len(warnings) == 1
    for words in ("0.0.0.0", "no login", "no TLS", "anyone", "proxy", "--allow-host"):
        assert words in warnings[0]
    assert any("at most 12 kernels" in (m or "") for _, m in records)
    records.clear()
    serve.serve(tmp_path, serve.ServeOptions(host="127.0.0.1", open_browser=False))
    assert not [m for level, m in records if level == "WARNING"]
