"""The class server's settings and the few classes it needs (read by deploy/jupyterhub_config.py
and deploy/singleuser_config.py; tested without a hub by tests/test_hub_config.py).

Isolation, in two layers (docs/hosting.md, "A class server for one machine"):

1. Every student's server is Voila only: the lessons are read-only through the contents API
   (:class:`ReadOnlyContentsManager`), there are no terminals and no JupyterLab, and the kernel
   websocket passes only the widget messages a lesson needs (:data:`WIDGET_MESSAGES`), so a
   student cannot run code of their own at all.
2. With the hub running as root (the default for a class): one Unix account per student, created
   from the fixed list by the hub, home 0700, lessons a root-owned read-only copy. Whatever a
   student might find to run, it runs as that student and cannot change another's lessons.

Students log in with their own password from a file the teacher generates (``python
deploy/qlearn_hub.py passwords names.txt``): a shared class password would let any student log in
under any other's name.

Run ``python deploy/qlearn_hub.py passwords --help`` for the password file.
"""
from __future__ import annotations

import argparse
import base64
import hashlib
import hmac
import ipaddress
import os
import re
import secrets
import shutil
import stat
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent

#: Unix group every student account created by the hub belongs to; an existing account outside it
#: is never used for a student (it could be the teacher's, a service's or root).
STUDENT_GROUP = "qlearn-students"
#: Student names: lower-case Unix account names (also what JupyterHub puts in URLs).
NAME_RE = re.compile(r"^[a-z][a-z0-9_-]{0,30}$")
#: The kernel messages a Voila lesson sends from the browser (standalone Voila allows the same):
#: widget traffic and kernel info, never ``execute_request``.
WIDGET_MESSAGES = ["comm_open", "comm_close", "comm_msg", "comm_info_request",
                   "kernel_info_request", "shutdown_request"]
#: Jupyter Server extensions a student's server does not load: no JupyterLab, classic notebook,
#: language server or terminals; only Voila (and JupyterHub's own single-user extension).
DISABLED_EXTENSIONS = {"jupyterlab": False, "notebook": False, "nbclassic": False,
                       "jupyter_lsp": False, "jupyter_server_terminals": False}
SCRYPT = {"n": 2**14, "r": 8, "p": 1}
UID_MIN = 1000


class HubConfigError(SystemExit):
    """A setting that would leave students unprotected: the hub does not start."""

    def __init__(self, message: str):
        super().__init__(f"qlearn hub: {message}")
        self.message = message


# ----------------------------------------------------------------------------- passwords

def hash_password(password: str, salt: bytes | None = None) -> str:
    """``scrypt$n$r$p$salt$hash`` (base64), for the students file.

    >>> h = hash_password("correct horse", salt=b"0123456789abcdef")
    >>> verify_password("correct horse", h), verify_password("wrong horse", h)
    (True, False)
    """
    salt = secrets.token_bytes(16) if salt is None else salt
    digest = hashlib.scrypt(password.encode(), salt=salt, dklen=32, **SCRYPT)
    b64 = base64.b64encode
    return f"scrypt${SCRYPT['n']}${SCRYPT['r']}${SCRYPT['p']}${b64(salt).decode()}${b64(digest).decode()}"


def verify_password(password: str, stored: str) -> bool:
    try:
        kind, n, r, p, salt, digest = stored.split("$")
        if kind != "scrypt":
            return False
        expected = base64.b64decode(digest)
        got = hashlib.scrypt(password.encode(), salt=base64.b64decode(salt), n=int(n), r=int(r), p=int(p),
                             dklen=len(expected))
    except (ValueError, TypeError):
        return False
    return hmac.compare_digest(got, expected)


def new_password() -> str:
    """Ten characters from an alphabet without look-alikes (about 50 bits), easy to copy from paper."""
    alphabet = "abcdefghjkmnpqrstuvwxyz23456789"
    return "".join(secrets.choice(alphabet) for _ in range(10))


def read_students(path: str | os.PathLike) -> dict[str, dict]:
    """``name -> {"hash": ..., "admin": bool}`` from a students file (``name<TAB>hash[<TAB>admin]``)."""
    students = {}
    for lineno, line in enumerate(Path(path).read_text().splitlines(), 1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        fields = line.split("\t")
        if len(fields) not in (2, 3) or (len(fields) == 3 and fields[2] != "admin"):
            raise HubConfigError(f"{path}:{lineno}: expected 'name<TAB>hash[<TAB>admin]'")
        name = fields[0]
        check_name(name, f"{path}:{lineno}")
        if name in students:
            raise HubConfigError(f"{path}:{lineno}: {name!r} is listed twice")
        students[name] = {"hash": fields[1], "admin": len(fields) == 3}
    return students


def check_name(name: str, where: str = "name") -> str:
    if not NAME_RE.match(name):
        raise HubConfigError(f"{where}: {name!r} is not a valid student name (lower-case letters, "
                             "digits, '-' and '_', starting with a letter, at most 31 characters)")
    return name


def write_passwords(names: list[str], students_file: Path, admins: tuple[str, ...] = ()) -> dict[str, str]:
    """Add ``names`` (and ``admins``) to the students file with new passwords; names already there
    keep theirs. Returns ``{name: password}`` for the new names only (the handout)."""
    existing = read_students(students_file) if students_file.exists() else {}
    new = {}
    lines = []
    for name in list(dict.fromkeys([*names, *admins])):
        check_name(name)
        if name in existing:
            continue
        password = new_password()
        new[name] = password
        existing[name] = {"hash": hash_password(password), "admin": name in admins}
    for name, entry in existing.items():
        lines.append(f"{name}\t{entry['hash']}" + ("\tadmin" if entry["admin"] else ""))
    students_file.parent.mkdir(parents=True, exist_ok=True)
    tmp = students_file.with_suffix(".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write("# qlearn class server: name<TAB>scrypt hash[<TAB>admin]; made by deploy/qlearn_hub.py\n")
        f.write("\n".join(lines) + "\n")
    os.replace(tmp, students_file)
    return new


# ----------------------------------------------------------------------------- Unix accounts

def account_problem(name: str) -> str | None:
    """Why the existing Unix account ``name`` must not be a student's (None: absent or a student's)."""
    import grp
    import pwd

    try:
        pw = pwd.getpwnam(name)
    except KeyError:
        return None  # the hub creates it
    try:
        gid = grp.getgrnam(STUDENT_GROUP).gr_gid
    except KeyError:
        gid = None
    if pw.pw_uid < UID_MIN or pw.pw_uid == 65534:
        return f"the Unix account {name!r} exists and is a system account (uid {pw.pw_uid})"
    if gid is None or gid not in os.getgrouplist(name, pw.pw_gid):
        return (f"the Unix account {name!r} exists and is not in the group {STUDENT_GROUP!r} (it may be "
                f"a person's own account): choose another student name, or if that account really is "
                f"this student's, `adduser {name} {STUDENT_GROUP}`")
    return None


def path_problem(path: str | os.PathLike) -> str | None:
    """Why other Unix accounts cannot read ``path`` (every directory above it needs o+x)."""
    p = Path(path).resolve()
    for d in [*reversed(p.parents), p]:
        mode = d.stat().st_mode
        if stat.S_ISDIR(mode) and not mode & stat.S_IXOTH:
            return f"{d} is not searchable by other accounts (mode {stat.filemode(mode)})"
        if not stat.S_ISDIR(mode) and not mode & stat.S_IROTH:
            return f"{d} is not readable by other accounts (mode {stat.filemode(mode)})"
    return None


def _authenticator_classes():
    from jupyterhub.auth import Authenticator, LocalAuthenticator
    from traitlets import Unicode

    class StudentPasswordAuthenticator(Authenticator):
        """Each student logs in with their own password, hashed in the students file."""

        students_file = Unicode(config=True, help="name<TAB>scrypt hash[<TAB>admin] per line")

        async def authenticate(self, handler, data):
            name = self.normalize_username(data.get("username", ""))
            entry = read_students(self.students_file).get(name)  # re-read: a late student needs no restart
            if entry is None or not verify_password(data.get("password", ""), entry["hash"]):
                self.log.warning("refused login for %r", name[:40])
                return None
            return {"name": name, "admin": entry["admin"]}

        def check_allowed(self, username, authentication=None):
            """Listed in the students file now (a student added during the course needs no restart)."""
            return username in read_students(self.students_file)

    class StudentAccountsAuthenticator(StudentPasswordAuthenticator, LocalAuthenticator):
        """The same, plus one Unix account per student, created by the hub (root) at start."""

        def system_user_exists(self, user):
            problem = account_problem(user.name)
            if problem:  # names listed at start were checked by configure(); this is a later one
                raise RuntimeError(f"refusing {user.name!r}: {problem}")
            return super().system_user_exists(user)

        def add_system_user(self, user):
            import grp
            import subprocess

            try:
                grp.getgrnam(STUDENT_GROUP)
            except KeyError:
                subprocess.run(["groupadd", "--system", STUDENT_GROUP], check=True)
            super().add_system_user(user)
            import pwd

            os.chmod(pwd.getpwnam(user.name).pw_dir, 0o700)

    return StudentPasswordAuthenticator, StudentAccountsAuthenticator


def _spawner_classes():
    from jupyterhub.spawner import LocalProcessSpawner, SimpleLocalProcessSpawner
    from traitlets import Integer

    class Limits:
        def _limited(self, preexec):
            mem = int(self.mem_limit or 0)
            nproc = self.nproc_limit

            def limited():
                import resource

                if mem:  # per process (each kernel too): address space, a bound on its memory
                    resource.setrlimit(resource.RLIMIT_AS, (mem, mem))
                if nproc:  # processes and threads of the account
                    resource.setrlimit(resource.RLIMIT_NPROC, (nproc, nproc))
                preexec()

            return limited

    class StudentSpawner(Limits, LocalProcessSpawner):
        """LocalProcessSpawner for student accounts only, with memory and process limits."""

        nproc_limit = Integer(0, config=True, help="RLIMIT_NPROC of the student's account (0: none)")

        def make_preexec_fn(self, name):
            problem = account_problem(name) or (None if _in_student_group(name) else
                                                f"{name!r} is not in the group {STUDENT_GROUP!r}")
            if problem:
                raise RuntimeError(f"refusing to start a server: {problem}")
            return self._limited(super().make_preexec_fn(name))

    class SharedAccountSpawner(Limits, SimpleLocalProcessSpawner):
        """All servers as the hub's own (unprivileged) account: a developer's loopback hub only."""

        nproc_limit = Integer(0, config=True, help="RLIMIT_NPROC (0: none; it would count the hub's own)")

        def make_preexec_fn(self, name):
            if os.geteuid() == 0:
                raise RuntimeError("refusing to start a student's server as root")
            return self._limited(super().make_preexec_fn(name))

    return StudentSpawner, SharedAccountSpawner


def _in_student_group(name: str) -> bool:
    import grp
    import pwd

    try:
        return grp.getgrnam(STUDENT_GROUP).gr_gid in os.getgrouplist(name, pwd.getpwnam(name).pw_gid)
    except KeyError:
        return False


# ----------------------------------------------------------------------------- the single-user side

def read_only_contents_manager():
    """A contents manager that serves the lessons and refuses every write (HTTP 403)."""
    from jupyter_server.services.contents.largefilemanager import AsyncLargeFileManager
    from tornado import web

    def refuse(*_args, **_kwargs):
        raise web.HTTPError(403, "The lessons are read-only on the class server")

    async def refuse_async(self, *args, **kwargs):
        refuse()

    class ReadOnlyContentsManager(AsyncLargeFileManager):
        save = refuse_async
        delete_file = refuse_async
        rename_file = refuse_async
        create_checkpoint = refuse_async
        restore_checkpoint = refuse_async
        delete_checkpoint = refuse_async

    return ReadOnlyContentsManager


def configure_singleuser(c) -> None:
    """Settings of every student's server (deploy/singleuser_config.py)."""
    c.ServerApp.terminals_enabled = False
    c.ServerApp.jpserver_extensions = dict(DISABLED_EXTENSIONS)
    c.ServerApp.contents_manager_class = read_only_contents_manager()
    c.MappingKernelManager.allowed_message_types = list(WIDGET_MESSAGES)
    # The kernel websocket checks of `qlearn serve` (qlearn/server/): every frame parsed and checked
    # before Jupyter Server reads it (a forged part count or buffer count closes that connection
    # instead of making the server allocate without end), a message size cap.
    from qlearn.server.websocket import MAX_MESSAGE_BYTES, GuardedKernelConnection

    c.ServerApp.kernel_websocket_connection_class = GuardedKernelConnection
    c.ServerApp.tornado_settings = {"websocket_max_message_size": MAX_MESSAGE_BYTES}


# ----------------------------------------------------------------------------- the hub

def is_loopback(ip: str) -> bool:
    if ip in ("localhost", ""):
        return ip == "localhost"  # "" means every interface
    try:
        return ipaddress.ip_address(ip).is_loopback
    except ValueError:
        return False


def default_state_dir(environ, euid: int) -> Path:
    if environ.get("QLEARN_HUB_STATE"):
        return Path(environ["QLEARN_HUB_STATE"])
    if euid == 0:
        return Path("/var/lib/qlearn-hub")
    base = environ.get("XDG_STATE_HOME") or str(Path.home() / ".local" / "state")
    return Path(base) / "qlearn-hub"


def parse_bytes(text: str, what: str) -> int:
    m = re.fullmatch(r"\s*(\d+)\s*([KMGT]?)i?B?\s*", text, re.IGNORECASE)
    if not m:
        raise HubConfigError(f"{what} must be a size like 2G or 512M, got {text!r}")
    return int(m.group(1)) * 1024 ** " KMGT".index(m.group(2).upper() or " ")


def configure(c, environ=None, euid: int | None = None, prepare: bool = True) -> list[str]:
    """Fill JupyterHub config ``c`` from the environment (see deploy/jupyterhub_config.py).

    Raises :class:`HubConfigError` for a setting that would leave students unprotected; returns
    the warnings (also printed). ``prepare=False`` only checks and fills ``c`` (no files written).
    """
    from qlearn import serve

    env = dict(os.environ if environ is None else environ)
    euid = os.geteuid() if euid is None else euid
    warnings: list[str] = []

    ip = env.get("QLEARN_HUB_IP", "127.0.0.1")
    loopback = is_loopback(ip)
    spawner = env.get("QLEARN_HUB_SPAWNER", "local" if euid == 0 else "simple")
    auth = env.get("QLEARN_HUB_AUTH", "passwords")

    # ------------------------------------------------------------------- refusals
    if spawner not in ("local", "simple"):
        raise HubConfigError(f"QLEARN_HUB_SPAWNER must be 'local' or 'simple', got {spawner!r}")
    if auth not in ("passwords", "dummy"):
        raise HubConfigError(f"QLEARN_HUB_AUTH must be 'passwords' or 'dummy', got {auth!r} (a shared class "
                             "password would let any student log in under another's name)")
    if auth == "dummy" and not loopback:
        raise HubConfigError(f"QLEARN_HUB_AUTH=dummy (any password) is for this machine only, not QLEARN_HUB_IP={ip}")
    if spawner == "simple" and not loopback:
        raise HubConfigError(f"QLEARN_HUB_SPAWNER=simple runs every student as one Unix account: loopback only, "
                             f"not QLEARN_HUB_IP={ip}; run the hub as root for one account per student")
    if spawner == "simple" and euid == 0:
        raise HubConfigError("QLEARN_HUB_SPAWNER=simple as root would run students' servers as root: "
                             "use QLEARN_HUB_SPAWNER=local (one Unix account per student)")
    if spawner == "local" and euid != 0:
        raise HubConfigError("QLEARN_HUB_SPAWNER=local (one Unix account per student) needs the hub to run as "
                             "root; as another user use QLEARN_HUB_SPAWNER=simple on 127.0.0.1")
    cert, key = env.get("QLEARN_HUB_SSL_CERT", ""), env.get("QLEARN_HUB_SSL_KEY", "")
    if bool(cert) != bool(key):
        raise HubConfigError("set both QLEARN_HUB_SSL_CERT and QLEARN_HUB_SSL_KEY, or neither")
    for name, value in (("QLEARN_HUB_SSL_CERT", cert), ("QLEARN_HUB_SSL_KEY", key)):
        if value and not Path(value).is_file():
            raise HubConfigError(f"{name}={value} is not a file")
    if not cert and not loopback:
        warnings.append(f"NO TLS on {ip}: passwords and cookies cross the network in clear text. Set "
                        "QLEARN_HUB_SSL_CERT and QLEARN_HUB_SSL_KEY (docs/hosting.md) or put the hub behind an "
                        "HTTPS proxy.")
    if spawner == "simple":
        warnings.append("QLEARN_HUB_SPAWNER=simple: every student's server runs as this Unix account; only the "
                        "Voila-only server settings separate them (fine for trying the hub on this machine).")

    state = default_state_dir(env, euid).resolve()
    if REPO in [state, *state.parents] and not str(state.relative_to(REPO)).startswith("hub-state"):
        raise HubConfigError(f"QLEARN_HUB_STATE={state} is inside the repository: use a directory outside it "
                             "(or repo/hub-state, which git ignores)")
    students_file = Path(env.get("QLEARN_HUB_STUDENTS", str(state / "students.tsv")))
    if not students_file.is_file():
        raise HubConfigError(f"no students file at {students_file}: make one with `python deploy/qlearn_hub.py "
                             f"passwords NAMES.txt --students {students_file}` (one name per line)")
    if students_file.stat().st_mode & 0o077:
        raise HubConfigError(f"{students_file} is readable by other accounts: chmod 600 it")
    students = read_students(students_file)
    if not students:
        raise HubConfigError(f"{students_file} lists no students")
    if spawner == "local":
        for name in students:
            problem = account_problem(name)
            if problem:
                raise HubConfigError(problem)
    notebooks = Path(env.get("QLEARN_NOTEBOOKS", str(REPO / "notebooks"))).resolve()
    if not (notebooks / serve.LANDING).is_file():
        raise HubConfigError(f"QLEARN_NOTEBOOKS={notebooks} has no {serve.LANDING}")

    # ------------------------------------------------------------------- state, lessons
    hub_dir, lessons, static_root = state / "hub", state / "lessons", state / "static"
    homes = state / "homes"
    if prepare:
        state.mkdir(parents=True, exist_ok=True)
        os.chmod(state, 0o755)
        hub_dir.mkdir(exist_ok=True)
        os.chmod(hub_dir, 0o700)  # database, cookie secret: the hub's only
        if lessons.exists():  # a fresh copy at every start (made read-only below: writable first)
            for d, _dirs, _files in os.walk(lessons):
                os.chmod(d, 0o755)
            shutil.rmtree(lessons)
        shutil.copytree(notebooks, lessons, ignore=shutil.ignore_patterns(".*", "__pycache__"))
        for d, _dirs, files in os.walk(lessons):  # read-only for everyone but root
            os.chmod(d, 0o755 if spawner == "local" else 0o555)
            for f in files:
                os.chmod(os.path.join(d, f), 0o644 if spawner == "local" else 0o444)
        if spawner == "simple":
            os.chmod(lessons, 0o555)
            homes.mkdir(exist_ok=True)
    static_dir, bundle_path = (serve.bundle_static_dir(static_root) if prepare
                               else (static_root, "static/qlearn/" + serve.plotly_bundle_name()))
    if spawner == "local" and prepare:
        import voila

        import qlearn

        for path in (Path(sys.executable).resolve(), Path(voila.__file__), Path(qlearn.__file__),
                     HERE / "singleuser_config.py", lessons / serve.LANDING, static_dir):
            problem = path_problem(path)
            if problem:
                raise HubConfigError(f"student accounts could not start their servers: {problem}. Install the "
                                     "course where every account can read it (docs/hosting.md), e.g. /opt/qlearn "
                                     "with Debian's python3")

    # ------------------------------------------------------------------- network
    c.JupyterHub.ip = ip
    c.JupyterHub.port = int(env.get("QLEARN_HUB_PORT", "8000"))
    c.JupyterHub.hub_ip = "127.0.0.1"
    c.JupyterHub.hub_port = int(env.get("QLEARN_HUB_API_PORT", "8081"))
    c.ConfigurableHTTPProxy.api_url = f"http://127.0.0.1:{c.JupyterHub.hub_port + 1}"
    chp = HERE / "node_modules" / ".bin" / "configurable-http-proxy"
    if chp.exists():
        c.ConfigurableHTTPProxy.command = [str(chp)]
    elif prepare and not shutil.which("configurable-http-proxy"):
        raise HubConfigError("configurable-http-proxy not found: run `npm install --prefix deploy`")
    c.ConfigurableHTTPProxy.should_start = True
    c.JupyterHub.cleanup_servers = True
    c.JupyterHub.cleanup_proxy = True
    if cert:
        c.JupyterHub.ssl_cert, c.JupyterHub.ssl_key = cert, key
    c.JupyterHub.db_url = f"sqlite:///{hub_dir / 'jupyterhub.sqlite'}"
    c.JupyterHub.cookie_secret_file = str(hub_dir / "jupyterhub_cookie_secret")
    c.ConfigurableHTTPProxy.pid_file = str(hub_dir / "jupyterhub-proxy.pid")

    # ------------------------------------------------------------------- who may log in
    password_auth, accounts_auth = _authenticator_classes()
    c.Authenticator.allowed_users = set(students)
    c.Authenticator.admin_users = {n for n, e in students.items() if e["admin"]}
    c.Authenticator.allow_all = False
    c.Authenticator.allow_existing_users = False
    if auth == "dummy":
        c.JupyterHub.authenticator_class = "dummy"
    else:
        cls = accounts_auth if spawner == "local" else password_auth
        c.JupyterHub.authenticator_class = cls
        c[cls.__name__].students_file = str(students_file)
    if spawner == "local":
        c.LocalAuthenticator.create_system_users = True
        c.LocalAuthenticator.add_user_cmd = ["useradd", "--create-home", "--shell", "/usr/sbin/nologin",
                                             "--user-group", "--groups", STUDENT_GROUP,
                                             "--comment", "qlearn student"]

    # ------------------------------------------------------------------- each student's server
    student_spawner, shared_spawner = _spawner_classes()
    c.JupyterHub.spawner_class = student_spawner if spawner == "local" else shared_spawner
    if spawner == "simple":
        c.SimpleLocalProcessSpawner.home_dir_template = str(homes / "{username}")
    bin_dir = Path(sys.executable).parent
    c.Spawner.cmd = [str(bin_dir / "jupyterhub-singleuser")]
    c.Spawner.notebook_dir = str(lessons)
    c.Spawner.default_url = "/voila/render/" + serve.LANDING
    c.Spawner.disable_user_config = True  # nothing from a student's ~/.jupyter
    c.Spawner.args = [
        *serve.voila_cli_args(server_extension=True),
        f"--config={HERE / 'singleuser_config.py'}",
        f"--ServerApp.extra_static_paths={static_dir}",
    ]
    c.Spawner.environment = {
        "JUPYTER_PATH": serve.jupyter_path_with_template(env.get("JUPYTER_PATH")),
        "PATH": f"{bin_dir}{os.pathsep}/usr/bin:/bin",
        serve.BUNDLE_ENV: bundle_path,
        **serve.KERNEL_ENV,
    }
    c.Spawner.pre_spawn_hook = _pre_spawn_hook
    c.Spawner.mem_limit = parse_bytes(env.get("QLEARN_HUB_MEM_LIMIT", "3G"), "QLEARN_HUB_MEM_LIMIT")
    if spawner == "local":
        c.StudentSpawner.nproc_limit = int(env.get("QLEARN_HUB_NPROC_LIMIT", "512"))
    c.Spawner.start_timeout = 120  # 30 first logins on 2 cores take a while
    c.Spawner.http_timeout = 120

    # ------------------------------------------------------------------- idle servers
    idle = int(env.get("QLEARN_HUB_CULL_IDLE", "3600"))
    try:
        import jupyterhub_idle_culler  # noqa: F401
    except ImportError:
        warnings.append("jupyterhub-idle-culler is not installed: idle students' servers are never stopped "
                        "(pip install jupyterhub-idle-culler)")
    else:
        if idle > 0:
            # The culler ignores SIGINT, which is how the hub stops a service (then SIGTERM after
            # 10 s): restore SIGINT's default action so the hub shuts down at once.
            run = ("import runpy, signal; signal.signal(signal.SIGINT, signal.SIG_DFL); "
                   "runpy.run_module('jupyterhub_idle_culler', run_name='__main__')")
            c.JupyterHub.services = [{"name": "idle-culler", "command": [
                sys.executable, "-c", run, f"--timeout={idle}"]}]
            c.JupyterHub.load_roles = [{"name": "idle-culler", "services": ["idle-culler"], "scopes": [
                "list:users", "read:users:activity", "read:servers", "delete:servers"]}]

    for w in warnings:
        print(f"\n{'!' * 78}\nWARNING (qlearn hub): {w}\n{'!' * 78}\n", file=sys.stderr)
    return warnings


def _pre_spawn_hook(spawner):
    """Each student's IPython directory (the lessons' kernel startup file) in their own home."""
    from qlearn import serve

    if isinstance(getattr(spawner, "home_dir", None), str) and spawner.home_dir:
        home = Path(spawner.home_dir)  # shared account: a directory per student
        home.mkdir(parents=True, exist_ok=True)
        owner = None
    else:
        import pwd

        pw = pwd.getpwnam(spawner.user.name)
        home, owner = Path(pw.pw_dir), (pw.pw_uid, pw.pw_gid)
    ipython = serve.kernel_startup_dir(home / ".qlearn-ipython")
    if owner is not None:
        for d, _dirs, files in os.walk(ipython):
            os.chown(d, *owner)
            for f in files:
                os.chown(os.path.join(d, f), *owner)
    spawner.environment = {**spawner.environment, "IPYTHONDIR": str(ipython)}


# ----------------------------------------------------------------------------- command line

def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python deploy/qlearn_hub.py",
                                 description="Manage the class server's students file.")
    sub = ap.add_subparsers(dest="command", required=True)
    p = sub.add_parser("passwords", help="give each name in NAMES (one per line) a password; prints the "
                                         "handout (name and password) for the names that are new")
    p.add_argument("names", help="text file, one student name per line ('#' comments)")
    p.add_argument("--admin", action="append", default=[], help="the teacher's name (admin); repeatable")
    p.add_argument("--students", help="the students file (default: $QLEARN_HUB_STATE/students.tsv)")
    args = ap.parse_args(argv)
    names = [ln.split("#")[0].strip() for ln in Path(args.names).read_text().splitlines()]
    names = [n for n in names if n]
    students = Path(args.students or default_state_dir(os.environ, os.geteuid()) / "students.tsv")
    new = write_passwords(names, students, tuple(args.admin))
    print(f"# {len(new)} new password(s) in {students}; hand each student their line")
    for name, password in new.items():
        print(f"{name}\t{password}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
