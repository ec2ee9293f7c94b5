"""The class server's configuration (deploy/qlearn_hub.py, deploy/jupyterhub_config.py) without a
hub: the settings that would leave students unprotected are refused, the rest is filled in."""
from __future__ import annotations

import asyncio
import doctest
import importlib.util
import os
import sys
from pathlib import Path

import pytest
from traitlets.config import Config

ROOT = Path(__file__).resolve().parent.parent
DEPLOY = ROOT / "deploy"


def _load_hub_module():
    spec = importlib.util.spec_from_file_location("qlearn_hub", DEPLOY / "qlearn_hub.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules.setdefault("qlearn_hub", module)
    spec.loader.exec_module(module)
    return module


hub = _load_hub_module()


@pytest.fixture(scope="module")
def _class_file(tmp_path_factory):
    path = tmp_path_factory.mktemp("class") / "students.tsv"
    handout = hub.write_passwords(["qlt-ada", "qlt-grace"], path, admins=("qlt-teacher",))
    return path, handout


@pytest.fixture
def students(tmp_path, _class_file):
    """A students file with two students and a teacher; returns (path, {name: password})."""
    path = tmp_path / "state" / "students.tsv"
    path.parent.mkdir()
    path.write_bytes(_class_file[0].read_bytes())
    os.chmod(path, 0o600)
    return path, _class_file[1]


def _env(tmp_path, students_file, **extra):
    return {"QLEARN_HUB_STATE": str(tmp_path / "state"), "QLEARN_HUB_STUDENTS": str(students_file),
            "QLEARN_NOTEBOOKS": str(ROOT / "notebooks"), **extra}


def _configure(tmp_path, students_file, euid=0, **extra):
    c = Config()
    warnings = hub.configure(c, _env(tmp_path, students_file, **extra), euid=euid, prepare=False)
    return c, warnings


@pytest.mark.parametrize("extra, euid, match", [
    ({"QLEARN_HUB_AUTH": "dummy", "QLEARN_HUB_IP": "0.0.0.0", "QLEARN_HUB_SPAWNER": "local"}, 0, "dummy"),
    ({"QLEARN_HUB_AUTH": "dummy", "QLEARN_HUB_IP": "192.168.1.10"}, 0, "dummy"),
    ({"QLEARN_HUB_AUTH": "dummy", "QLEARN_HUB_IP": ""}, 0, "dummy"),  # "" = every interface
    ({"QLEARN_HUB_SPAWNER": "simple", "QLEARN_HUB_IP": "0.0.0.0"}, 1000, "loopback only"),
    ({"QLEARN_HUB_SPAWNER": "simple"}, 0, "as root"),  # never --allow-root
    ({"QLEARN_HUB_SPAWNER": "local"}, 1000, "needs the hub to run as root"),
    ({"QLEARN_HUB_SPAWNER": "docker"}, 0, "QLEARN_HUB_SPAWNER"),
    ({"QLEARN_HUB_AUTH": "shared-password"}, 0, "another's name"),
    ({"QLEARN_HUB_SSL_CERT": "/etc/hostname"}, 0, "both"),
    ({"QLEARN_HUB_SSL_CERT": "/nonexistent.pem", "QLEARN_HUB_SSL_KEY": "/nonexistent.key"}, 0, "not a file"),
    ({"QLEARN_HUB_MEM_LIMIT": "lots"}, 0, "QLEARN_HUB_MEM_LIMIT"),
])
def test_unsafe_settings_are_refused(tmp_path, students, extra, euid, match):
    with pytest.raises(hub.HubConfigError, match=match):
        _configure(tmp_path, students[0], euid=euid, **extra)


def test_the_real_config_file_refuses_dummy_on_every_interface(tmp_path, students, monkeypatch):
    from traitlets.config.loader import PyFileConfigLoader

    for key, value in _env(tmp_path, students[0], QLEARN_HUB_AUTH="dummy", QLEARN_HUB_IP="0.0.0.0").items():
        monkeypatch.setenv(key, value)
    with pytest.raises(hub.HubConfigError, match="dummy"):
        PyFileConfigLoader("jupyterhub_config.py", path=str(DEPLOY)).load_config()
    assert not (tmp_path / "state" / "lessons").exists()  # refused before anything is written


def test_defaults_as_root_one_account_per_student_own_passwords_no_allow_root(tmp_path, students):
    c, warnings = _configure(tmp_path, students[0], euid=0)
    assert warnings == []  # loopback, culler installed
    assert c.JupyterHub.ip == "127.0.0.1" and c.JupyterHub.hub_ip == "127.0.0.1"
    assert c.JupyterHub.spawner_class.__name__ == "StudentSpawner"
    assert c.JupyterHub.authenticator_class.__name__ == "StudentAccountsAuthenticator"
    assert c.LocalAuthenticator.create_system_users is True
    assert hub.STUDENT_GROUP in c.LocalAuthenticator.add_user_cmd
    assert c.Authenticator.allowed_users == {"qlt-ada", "qlt-grace", "qlt-teacher"}
    assert c.Authenticator.admin_users == {"qlt-teacher"}
    assert c.Authenticator.allow_all is False
    assert not any("allow-root" in a or "allow_root" in a for a in c.Spawner.args)
    assert c.Spawner.disable_user_config is True
    assert c.Spawner.notebook_dir == str((tmp_path / "state" / "lessons").resolve())
    assert c.Spawner.mem_limit == 3 * 2**30 and c.StudentSpawner.nproc_limit == 512
    state = (tmp_path / "state").resolve()
    for path in (c.JupyterHub.db_url.removeprefix("sqlite:///"), c.JupyterHub.cookie_secret_file,
                 c.ConfigurableHTTPProxy.pid_file):
        assert Path(path).parent == state / "hub"


def test_without_root_the_shared_account_on_loopback_with_a_warning(tmp_path, students):
    c, warnings = _configure(tmp_path, students[0], euid=1000)
    assert c.JupyterHub.spawner_class.__name__ == "SharedAccountSpawner"
    assert c.JupyterHub.authenticator_class.__name__ == "StudentPasswordAuthenticator"
    assert any("QLEARN_HUB_SPAWNER=simple" in w for w in warnings)


def test_no_tls_on_the_network_warns_and_tls_settings_are_passed(tmp_path, students):
    _, warnings = _configure(tmp_path, students[0], QLEARN_HUB_IP="0.0.0.0")
    assert any("NO TLS" in w for w in warnings)
    cert, key = tmp_path / "hub.crt", tmp_path / "hub.key"
    cert.write_text("x")
    key.write_text("x")
    c, warnings = _configure(tmp_path, students[0], QLEARN_HUB_IP="0.0.0.0",
                             QLEARN_HUB_SSL_CERT=str(cert), QLEARN_HUB_SSL_KEY=str(key))
    assert not any("NO TLS" in w for w in warnings)
    assert (c.JupyterHub.ssl_cert, c.JupyterHub.ssl_key) == (str(cert), str(key))


def test_the_idle_culler_is_a_hub_service(tmp_path, students):
    import jupyterhub_idle_culler  # noqa: F401  (declared in the test extra: missing must fail, not skip)
    c, _ = _configure(tmp_path, students[0])
    (service,) = c.JupyterHub.services
    assert service["name"] == "idle-culler" and "--timeout=3600" in service["command"]
    (role,) = c.JupyterHub.load_roles
    assert role["services"] == ["idle-culler"] and "delete:servers" in role["scopes"]
    c, _ = _configure(tmp_path, students[0], QLEARN_HUB_CULL_IDLE="0")
    assert "services" not in c.JupyterHub


def test_students_file_must_exist_be_private_and_hold_valid_names(tmp_path, students):
    path = students[0]
    with pytest.raises(hub.HubConfigError, match="no students file"):
        _configure(tmp_path, path.with_name("missing.tsv"))
    os.chmod(path, 0o644)
    with pytest.raises(hub.HubConfigError, match="chmod 600"):
        _configure(tmp_path, path)
    os.chmod(path, 0o600)
    for bad in ("Ada", "../etc", "a b", "-rf", "x" * 32, ""):
        with pytest.raises(hub.HubConfigError, match="not a valid student name"):
            hub.write_passwords([bad], tmp_path / "other.tsv")


def test_state_inside_the_repository_is_refused(tmp_path, students):
    with pytest.raises(hub.HubConfigError, match="inside the repository"):
        _configure(tmp_path, students[0], QLEARN_HUB_STATE=str(ROOT / "state"))


@pytest.mark.parametrize("name", ["root", "daemon", "nobody"])
def test_system_accounts_are_never_students(tmp_path, name):
    path = tmp_path / "state" / "students.tsv"
    hub.write_passwords([name], path)
    with pytest.raises(hub.HubConfigError, match="system account"):
        _configure(tmp_path, path)


def test_an_existing_account_outside_the_student_group_is_refused(tmp_path, monkeypatch):
    import grp
    import pwd

    real_getpwnam = pwd.getpwnam

    def getpwnam(name):
        if name == "qlt-someone":  # somebody's own account, uid 1000, not a student
            return pwd.struct_passwd(("qlt-someone", "x", 1000, 1000, "", "/home/qlt-someone", "/bin/bash"))
        return real_getpwnam(name)

    monkeypatch.setattr(pwd, "getpwnam", getpwnam)
    monkeypatch.setattr(grp, "getgrnam", lambda name: grp.struct_group((name, "x", 995, [])))
    monkeypatch.setattr(os, "getgrouplist", lambda name, gid: [gid])
    path = tmp_path / "state" / "students.tsv"
    hub.write_passwords(["qlt-someone"], path)
    with pytest.raises(hub.HubConfigError, match="not in the group"):
        _configure(tmp_path, path)
    monkeypatch.setattr(os, "getgrouplist", lambda name, gid: [gid, 995])  # a student account: used
    c, _ = _configure(tmp_path, path)
    assert c.Authenticator.allowed_users == {"qlt-someone"}


def test_each_student_logs_in_only_with_their_own_password(tmp_path, students):
    path, handout = students
    c, _ = _configure(tmp_path, path, euid=1000)
    auth = c.JupyterHub.authenticator_class(students_file=str(path))

    def login(name, password):
        return asyncio.run(auth.authenticate(None, {"username": name, "password": password}))

    assert login("qlt-ada", handout["qlt-ada"]) == {"name": "qlt-ada", "admin": False}
    assert login("qlt-teacher", handout["qlt-teacher"]) == {"name": "qlt-teacher", "admin": True}
    assert login("qlt-grace", handout["qlt-ada"]) is None  # another's name with one's own password
    assert login("qlt-ada", handout["qlt-ada"] + "x") is None
    assert login("qlt-eve", handout["qlt-ada"]) is None  # a name not on the list
    assert login("qlt-ada", "") is None
    assert auth.check_allowed("qlt-ada") and not auth.check_allowed("qlt-eve")
    late = hub.write_passwords(["qlt-eve"], path)  # a student added during the course: no restart
    assert auth.check_allowed("qlt-eve")
    assert login("qlt-eve", late["qlt-eve"]) == {"name": "qlt-eve", "admin": False}


def test_passwords_are_kept_for_known_names_and_stored_hashed(tmp_path, students):
    path, handout = students
    before = hub.read_students(path)
    new = hub.write_passwords(["qlt-ada", "qlt-alan"], path)
    assert list(new) == ["qlt-alan"]  # qlt-ada keeps hers
    after = hub.read_students(path)
    assert after["qlt-ada"] == before["qlt-ada"] and set(after) == {*before, "qlt-alan"}
    assert all(p not in path.read_text() for p in (*handout.values(), *new.values()))
    assert path.stat().st_mode & 0o777 == 0o600
    assert len({hub.new_password() for _ in range(200)}) == 200


def test_hub_module_doctests():
    assert doctest.testmod(hub).failed == 0


def test_student_servers_are_voila_only(tmp_path):
    c = Config()
    hub.configure_singleuser(c)
    assert c.ServerApp.terminals_enabled is False
    assert c.ServerApp.jpserver_extensions["jupyterlab"] is False
    assert c.ServerApp.jpserver_extensions["jupyter_server_terminals"] is False
    assert "execute_request" not in c.MappingKernelManager.allowed_message_types
    assert {"comm_open", "comm_msg"} <= set(c.MappingKernelManager.allowed_message_types)
    assert c.ServerApp.kernel_websocket_connection_class.__name__ == "GuardedKernelConnection"
    assert 0 < c.ServerApp.tornado_settings["websocket_max_message_size"] <= 2**20

    (tmp_path / "lesson.ipynb").write_text('{"cells": [], "metadata": {}, "nbformat": 4, "nbformat_minor": 5}')
    cm = c.ServerApp.contents_manager_class(root_dir=str(tmp_path))
    from tornado.web import HTTPError

    async def attempts():
        model = await cm.get("lesson.ipynb")
        assert model["type"] == "notebook"  # reading works
        for call in (lambda: cm.save(model, "lesson.ipynb"), lambda: cm.save(model, "00_index.ipynb"),
                     lambda: cm.new_untitled(type="notebook"), lambda: cm.copy("lesson.ipynb"),
                     lambda: cm.delete("lesson.ipynb"), lambda: cm.rename("lesson.ipynb", "x.ipynb"),
                     lambda: cm.create_checkpoint("lesson.ipynb")):
            with pytest.raises(HTTPError) as err:
                await call()
            assert err.value.status_code == 403

    asyncio.run(attempts())
    assert sorted(p.name for p in tmp_path.iterdir()) == ["lesson.ipynb"]


@pytest.mark.parametrize("ip, expected", [("127.0.0.1", True), ("::1", True), ("localhost", True),
                                          ("127.0.0.2", True), ("0.0.0.0", False), ("", False),
                                          ("192.168.1.10", False), ("::", False), ("hub.example", False)])
def test_loopback_addresses(ip, expected):
    assert hub.is_loopback(ip) is expected
