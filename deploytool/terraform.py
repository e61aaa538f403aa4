"""The Terraform runner: one root, one workspace, one private data directory.

Every (environment, stack, workspace) gets its own ``TF_DATA_DIR`` so runs for different branches
never share ``.terraform/``; the provider comes from a shared plugin cache. The engine is the
embedded Terraform by default, or a user's ``terraform``/``tofu`` binary; both are driven through
the same command line, so everything here works the same with either.
"""

from __future__ import annotations

import contextlib
import errno
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from types import FrameType
from typing import IO, Any

from deploytool.durations import format_age
from deploytool.errors import DeployError, StateLockedError
from deploytool.plansummary import Secrets
from deploytool.state import output_values
from deploytool.toolchain import Engine


class TerraformError(DeployError):
    """A Terraform command failed; the message carries Terraform's own first error line."""


@dataclass
class Result:
    code: int
    stdout: str
    stderr: str

    @property
    def output(self) -> str:
        return self.stdout + self.stderr


_LOCK_FIELDS = re.compile(r"^\s*(ID|Path|Operation|Who|Created):\s*(.*?)\s*$", re.M)
_ERROR_LINE = re.compile(r"Error: (.+)")


def parse_lock_info(text: str) -> dict[str, str]:
    """The ``Lock Info`` fields Terraform prints when it cannot acquire the state lock."""
    return {m.group(1).lower(): m.group(2) for m in _LOCK_FIELDS.finditer(text)}


def _lock_age(created: str) -> str:
    match = re.match(r"(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d)", created)
    if not match:
        return "unknown age"
    then = datetime.strptime(match.group(1), "%Y-%m-%d %H:%M:%S").replace(tzinfo=UTC)
    return format_age(datetime.now(UTC) - then)


def first_error(text: str) -> str:
    match = _ERROR_LINE.search(text)
    if match:
        return match.group(1).strip()
    lines = [line.strip() for line in text.strip().splitlines() if line.strip()]
    return lines[-1] if lines else "no output"


@dataclass
class Runner:
    """Runs Terraform for one root in one data directory.

    ``env`` is added to the process environment (CLI config, credentials, endpoints);
    ``progress`` receives Terraform's streamed output (stderr by default); ``secrets`` learns the
    sensitive values of every plan read with ``show_json`` and is redacted from every streamed
    line, the plan text and error messages (share one ``Secrets`` between the runners of a run).
    """

    root: Path
    data_dir: Path
    engine: Engine
    env: Mapping[str, str] = field(default_factory=dict)
    lock_timeout: str = "0s"
    progress: IO[str] | None = None
    secrets: Secrets = field(default_factory=Secrets)
    context: str = ""

    def __post_init__(self) -> None:
        if not self.root.is_dir():
            raise DeployError(f"Terraform root {self.root} does not exist")
        self.data_dir.mkdir(parents=True, exist_ok=True)

    def redact(self, text: str) -> str:
        return self.secrets.redact(text)

    # -- process -------------------------------------------------------------------------------
    def _environ(self) -> dict[str, str]:
        env = {**os.environ, **self.env}
        env.update(
            TF_DATA_DIR=str(self.data_dir),
            TF_IN_AUTOMATION="1",
            TF_INPUT="0",
            CHECKPOINT_DISABLE="1",
        )
        env.pop("TF_WORKSPACE", None)
        return {k: v for k, v in env.items() if v != ""}

    def run(
        self,
        args: Sequence[str],
        *,
        stream: bool = True,
        check: bool = True,
        what: str | None = None,
        env: Mapping[str, str] | None = None,
        transform: Callable[[str], str | None] | None = None,
        feed: VarFeed | None = None,
    ) -> Result:
        """Run ``terraform <args>`` in the root; stream output to ``progress`` when ``stream``.

        ``env`` adds to the process environment (``TF_WORKSPACE``); ``transform`` turns each stdout
        line into what is streamed (None: nothing), for machine-readable (``-json``) output;
        ``feed`` supplies a var file while Terraform starts (see ``VarFeed``)."""
        argv = [*self.engine.argv, *args]
        out = self.progress if self.progress is not None else sys.stderr
        try:
            proc = subprocess.Popen(
                argv,
                cwd=self.root,
                env={**self._environ(), **(env or {})},
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                stdin=subprocess.DEVNULL,
                text=True,
                bufsize=1,
            )
        except OSError as exc:
            raise DeployError(f"cannot run Terraform {self.engine.name!r}: {exc.strerror}") from exc
        chunks: dict[str, list[str]] = {"stdout": [], "stderr": []}

        def pump(name: str, pipe: IO[str]) -> None:
            for line in pipe:
                chunks[name].append(line)
                text = transform(line) if (transform is not None and name == "stdout") else line
                if stream and text is not None:
                    out.write(self.redact(text))
                    out.flush()

        threads = [
            threading.Thread(target=pump, args=("stdout", proc.stdout), daemon=True),
            threading.Thread(target=pump, args=("stderr", proc.stderr), daemon=True),
        ]
        for thread in threads:
            thread.start()
        stopper = _Stopper(proc, lambda: "".join(chunks["stdout"] + chunks["stderr"]), feed=feed)
        previous = _forward_termination(stopper)
        try:
            if feed is not None:
                feed.supply(proc)  # on an error the process is gone (killed before it read its variables)
            code = proc.wait()
        except KeyboardInterrupt:
            # Ctrl-C at a terminal reaches the whole process group, Terraform included: another SIGINT
            # from here would be its second, "exit immediately, whatever the state". Give it time to
            # stop cleanly and release the lock.
            stopper.stop(presumed=_same_process_group(proc))
            raise
        finally:
            _restore(previous)
            for thread in threads:
                thread.join(timeout=5)
        result = Result(code, "".join(chunks["stdout"]), "".join(chunks["stderr"]))
        if check and code != 0:
            self._raise(what or args[0], result)
        return result

    def _raise(self, what: str, result: Result) -> None:
        text = result.output
        where = f" ({self.context})" if self.context else ""
        if "Error acquiring the state lock" in text or "Error locking state" in text:
            info = parse_lock_info(text)
            holder = info.get("who", "unknown")
            lock_id = info.get("id", "")
            raise StateLockedError(
                f"state is locked{where} by {holder} ({info.get('operation', 'unknown operation')}) "
                f"since {info.get('created', '?')} ({_lock_age(info.get('created', ''))} ago), lock ID "
                f"{lock_id or '?'}; wait for that run to finish, or if it died: "
                f"deploytool force-unlock --lock-id {lock_id or 'ID'} (same --env/--branch)",
                lock_id=lock_id or None,
                holder=holder,
            )
        hint = ""
        if "Failed to query available provider packages" in text or "could not connect to registry" in text:
            hint = "; offline? run `deploytool toolchain install` to use the bundled provider mirror"
        elif "errored.tfstate" in text:
            # Terraform's own advice names "the current working directory" and a bare `terraform`;
            # here that is the root and this data directory, which the user never sees.
            terraform = "deploytool-terraform" if self.engine.embedded else self.engine.argv[0]
            hint = (
                f"; the state Terraform could not save is in {self.root / 'errored.tfstate'}: once AWS answers, "
                "release the lock (deploytool force-unlock, the next run names the lock ID) and push it with "
                f"`TF_DATA_DIR={self.data_dir} {terraform} -chdir={self.root} state push errored.tfstate` "
                "before re-running, or what it created is created again"
            )
        raise TerraformError(self.redact(f"terraform {what} failed{where}: {first_error(text)}{hint}"))

    # -- commands ------------------------------------------------------------------------------
    def init(
        self, backend_config: Path | Mapping[str, str] | None = None, *, backend: bool = True, upgrade: bool = False
    ) -> None:
        args = ["init", "-input=false", "-no-color", f"-lock-timeout={self.lock_timeout}"]
        if not backend:
            args.append("-backend=false")
        elif isinstance(backend_config, Path):
            args.append(f"-backend-config={backend_config}")
        elif backend_config:
            args += [f"-backend-config={k}={v}" for k, v in backend_config.items()]
        if upgrade:
            args.append("-upgrade")
        if backend:
            args.append("-reconfigure")
        self.run(args)

    def workspaces(self) -> list[str]:
        result = self.run(["workspace", "list"], stream=False)
        return [line.strip(" *") for line in result.stdout.splitlines() if line.strip(" *")]

    def current_workspace(self) -> str:
        """The selected workspace, as Terraform records it in the data directory (``environment``,
        absent for ``default``): what ``terraform workspace show`` prints, without a process."""
        try:
            name = (self.data_dir / WORKSPACE_FILE).read_text().strip()
        except FileNotFoundError:
            return "default"
        return name or "default"

    def select_workspace(self, name: str, *, create: bool = True) -> None:
        if self.current_workspace() == name:
            return
        if name in self.workspaces():
            self.run(["workspace", "select", name], stream=False)
        elif create:
            self.run(["workspace", "new", f"-lock-timeout={self.lock_timeout}", name], stream=False)
        else:
            raise DeployError(f"workspace {name!r} does not exist")

    def delete_workspace(self, name: str, *, exists: bool | None = None) -> bool:
        """Delete ``name`` (switching to ``default`` first). False when it did not exist.

        ``exists``: the caller already knows whether it exists (from the backend's listing), so no
        ``workspace list`` runs; the switch to ``default`` is written to the data directory as
        ``workspace select default`` would write it."""
        if name == "default" or not (self.exists_in_backend(name) if exists is None else exists):
            return False
        (self.data_dir / WORKSPACE_FILE).unlink(missing_ok=True)  # = `workspace select default`
        self.run(["workspace", "delete", f"-lock-timeout={self.lock_timeout}", name], stream=False)
        return True

    def exists_in_backend(self, name: str) -> bool:
        return name in self.workspaces()

    def plan(
        self,
        out: Path,
        *,
        var_files: Sequence[Path] = (),
        destroy: bool = False,
        targets: Sequence[str] = (),
        variables: Mapping[str, str] | None = None,
    ) -> bool:
        """Write a saved plan to ``out``; True when it has changes."""
        args = [
            "plan",
            "-input=false",
            "-no-color",
            "-detailed-exitcode",
            f"-lock-timeout={self.lock_timeout}",
            f"-out={out}",
        ]
        args += [f"-var-file={f}" for f in var_files]
        args += [f"-var={k}={v}" for k, v in (variables or {}).items()]
        args += [f"-target={t}" for t in targets]
        if destroy:
            args.append("-destroy")
        result = self.run(args, check=False)
        if result.code == 1:
            self._raise("plan", result)
        return result.code == 2

    def show_json(self, plan: Path | None = None) -> dict[str, Any]:
        args = ["show", "-json", "-no-color"] + ([str(plan)] if plan else [])
        data: dict[str, Any] = json.loads(self.run(args, stream=False).stdout or "{}")
        self.secrets.learn(data)
        return data

    def show_text(self, plan: Path) -> str:
        return self.redact(self.run(["show", "-no-color", str(plan)], stream=False).stdout)

    def apply(self, plan: Path, *, discard: bool = False) -> None:
        """Apply a saved plan. ``discard`` deletes the plan file afterwards, applied or not: a saved
        plan holds whatever state holds (the DB password included), so the tool keeps its own only
        as long as it needs them."""
        try:
            self.run(
                ["apply", "-input=false", "-no-color", "-auto-approve", f"-lock-timeout={self.lock_timeout}", str(plan)]
            )
        finally:
            if discard:
                plan.unlink(missing_ok=True)

    def apply_now(
        self,
        *,
        var_files: Sequence[Path] = (),
        planned: Callable[[list[dict[str, Any]]], None] | None = None,
        late_vars: LateVars | None = None,
    ) -> Applied:
        """Plan and apply in one process (``terraform apply -json -auto-approve``), for runs where no
        one reviews the plan in between: the changes Terraform planned (its ``planned_change``
        messages, streamed before it changes anything; ``planned`` is called with them then) and the
        outputs after the apply (its last ``outputs`` message). Progress gets Terraform's messages.

        ``late_vars`` is a var file whose text is worked out while Terraform starts (``VarFeed``):
        its ``produce`` runs once the process is up, and Terraform goes on only with its text; when it
        raises, Terraform is stopped before it has locked or read anything, and the error is raised."""
        if late_vars is not None and not VarFeed.supported():
            late_vars.keep.write_text(late_vars.produce())  # no named pipes here: work it out first
            var_files, late_vars = [*var_files, late_vars.keep], None
        feed = VarFeed(late_vars, self.data_dir) if late_vars is not None else None
        try:
            return self._apply_now(var_files=var_files, planned=planned, feed=feed)
        finally:
            if feed is not None:
                feed.close()

    def _apply_now(
        self,
        *,
        var_files: Sequence[Path],
        planned: Callable[[list[dict[str, Any]]], None] | None,
        feed: VarFeed | None,
    ) -> Applied:
        args = ["apply", "-json", "-input=false", "-auto-approve", f"-lock-timeout={self.lock_timeout}"]
        args += [f"-var-file={f}" for f in var_files]
        if feed is not None:
            args.append(f"-var-file={feed.path}")
        applied = Applied()

        def message(line: str) -> str | None:
            try:
                event = json.loads(line)
            except ValueError:
                return line
            if not isinstance(event, dict):
                return line
            kind = event.get("type")
            if kind == "version":
                applied.terraform_version = event.get("terraform")
            elif kind == "planned_change" and isinstance(event.get("change"), dict):
                applied.changes.append(event["change"])
            elif kind == "change_summary" and (event.get("changes") or {}).get("operation") == "plan":
                applied.planned = True
                if planned is not None:
                    planned(list(applied.changes))
            elif kind == "outputs" and isinstance(event.get("outputs"), dict):
                applied.outputs = event["outputs"]
            return _human(event)

        result = self.run(args, check=False, what="apply", transform=message, feed=feed)
        if result.code != 0:
            human = "".join(filter(None, (_human_line(line) for line in result.stdout.splitlines())))
            self._raise("apply", Result(result.code, human, result.stderr))
        return applied

    def destroy(self, *, var_files: Sequence[Path] = (), refresh: bool = True, workspace: str | None = None) -> None:
        """``terraform destroy``; ``workspace`` selects the workspace for this process only
        (``TF_WORKSPACE``), ``refresh=False`` destroys what state records without reading it back first."""
        args = ["destroy", "-input=false", "-no-color", "-auto-approve", f"-lock-timeout={self.lock_timeout}"]
        args += [f"-var-file={f}" for f in var_files]
        if not refresh:
            args.append("-refresh=false")
        self.run(args, env={"TF_WORKSPACE": workspace} if workspace else None)

    def output(self) -> dict[str, Any]:
        raw: dict[str, Any] = json.loads(self.run(["output", "-json", "-no-color"], stream=False).stdout or "{}")
        return output_values(raw)  # sensitive values too, as `terraform output` shows them

    def state_resources(self) -> list[str]:
        result = self.run(["state", "list", "-no-color"], stream=False, check=False)
        if result.code != 0:
            if "No state file was found" in result.output:
                return []
            self._raise("state list", result)
        return [line for line in result.stdout.splitlines() if line.strip()]

    def force_unlock(self, lock_id: str) -> None:
        self.run(["force-unlock", "-force", "-no-color", lock_id])


STALE_PIPE_S = 600
"""A var-file pipe directory older than this belongs to no starting Terraform (they read it at once)."""


@dataclass
class LateVars:
    """A var file whose text is worked out while Terraform starts: ``produce`` returns it (and does
    whatever must happen before Terraform may go on); ``keep`` gets a copy (the rendered tfvars a
    user can read afterwards)."""

    produce: Callable[[], str]
    keep: Path


class VarFeed:
    """Hands Terraform a var file through a named pipe, so the tool's own look-ups overlap Terraform's start.

    Terraform reads its ``-var-file`` files once, after it has started (about 0.2 s: the process,
    the engine, the configuration and the backend) and before it locks the state or reads it:
    opening the pipe blocks it until the tool writes the text. Until then Terraform has changed
    nothing and holds nothing, so a failed look-up (an image not in the registry, a branch of
    another owner) kills it and raises that error: nothing is locked, planned or applied. A
    Terraform that exits first (a broken configuration, a backend error) is never written to, and
    its own error is what the run reports. The pipe lives in a private directory (0700) of the
    run's data directory, removed with it."""

    def __init__(self, late: LateVars, data_dir: Path) -> None:
        self.late = late
        for stale in data_dir.glob("vars-*"):  # left by a run that was killed (SIGKILL) mid-start
            with contextlib.suppress(OSError):
                if time.time() - stale.stat().st_mtime > STALE_PIPE_S:
                    shutil.rmtree(stale)
        self._dir = Path(tempfile.mkdtemp(prefix="vars-", dir=data_dir))
        self.path = self._dir / "deploytool.tfvars"
        os.mkfifo(self.path, 0o600)
        self.supplied = False

    @staticmethod
    def supported() -> bool:
        return hasattr(os, "mkfifo")

    def supply(self, proc: subprocess.Popen[str]) -> None:
        """Work the text out, then write it once Terraform opens the pipe; on any error (Ctrl-C
        included) before Terraform has all of it, kill Terraform and raise."""
        try:
            text = self.late.produce()
            self.late.keep.write_text(text)
            fd = self._open_for(proc)
            if fd is None:
                return  # Terraform stopped before it read its variables: its error is the run's
            try:
                with os.fdopen(fd, "w", encoding="utf-8") as pipe:
                    os.set_blocking(fd, True)
                    pipe.write(text)
            except BrokenPipeError:
                return  # Terraform exited while reading: its error is the run's
            self.supplied = True
        except BaseException:
            if not self.supplied and not _exited(proc):
                proc.kill()  # blocked reading its variables: nothing locked, read or changed
                proc.wait()
            raise

    def _open_for(self, proc: subprocess.Popen[str]) -> int | None:
        """The pipe's write end once Terraform has opened the read end; None if Terraform exits first."""
        while True:
            try:
                return os.open(self.path, os.O_WRONLY | os.O_NONBLOCK)
            except OSError as exc:
                if exc.errno != errno.ENXIO:  # ENXIO: no reader yet
                    raise
            if _exited(proc):
                return None
            time.sleep(0.005)

    def close(self) -> None:
        shutil.rmtree(self._dir, ignore_errors=True)


WORKSPACE_FILE = "environment"
"""The file in the data directory where Terraform (and OpenTofu) record the selected workspace."""


@dataclass
class Applied:
    """What one ``terraform apply -json`` did: the changes it planned and applied, its outputs after."""

    changes: list[dict[str, Any]] = field(default_factory=list)
    outputs: dict[str, Any] | None = None
    planned: bool = False
    terraform_version: str | None = None

    def output_values(self) -> dict[str, Any] | None:
        """The non-sensitive outputs after the apply (what the state object holds), None when it printed none."""
        return None if self.outputs is None else output_values(self.outputs, include_sensitive=False)


def _human(event: Mapping[str, Any]) -> str | None:
    """A machine-readable UI message as the line a person reads (diagnostics with their detail)."""
    text = event.get("@message")
    if not isinstance(text, str) or not text:
        return None
    diagnostic = event.get("diagnostic")
    if isinstance(diagnostic, Mapping) and diagnostic.get("detail"):
        text += "\n" + str(diagnostic["detail"])
    return text + "\n"


def _human_line(line: str) -> str | None:
    try:
        event = json.loads(line)
    except ValueError:
        return line + "\n"
    return _human(event) if isinstance(event, Mapping) else line + "\n"


# -- signals -------------------------------------------------------------------------------------
_Handler = Callable[[int, FrameType | None], Any] | int | None
ACKNOWLEDGED = "Interrupt received"
"""What Terraform (and OpenTofu) print when their first SIGINT arrives."""
GRACE_S = 60.0
"""How long Terraform gets to stop after its SIGINT before it is killed."""
UNACKNOWLEDGED_S = 10.0
"""A SIGINT presumed delivered (with the process group) that Terraform has not acknowledged in this
long was not delivered (sent to this process alone): send it."""


class _Stopper:
    """Asks Terraform to stop with one SIGINT, never two: Terraform takes a second SIGINT as
    "exit immediately", which can leave the state unsaved and the lock held."""

    def __init__(self, proc: subprocess.Popen[str], output: Callable[[], str], feed: VarFeed | None = None) -> None:
        self.proc = proc
        self.output = output
        self.delivered = False
        self.feed = feed

    def waiting_for_variables(self) -> bool:
        """True while Terraform waits for its var file (``VarFeed``): it has locked and read nothing
        yet, and an interrupt would not reach it until it has its variables."""
        return self.feed is not None and not self.feed.supplied

    def interrupt(self) -> None:
        """SIGINT to Terraform, unless it already has one."""
        if not self.delivered and not _exited(self.proc):
            self.proc.send_signal(signal.SIGINT)
        self.delivered = True

    def stop(self, *, presumed: bool = False) -> None:
        """Interrupt Terraform (``presumed``: it got the SIGINT this process got) and wait for it to
        exit; kill it after ``GRACE_S``."""
        if self.waiting_for_variables() and not _exited(self.proc):
            self.proc.kill()  # nothing to stop cleanly: it has not started its work
            self.proc.wait()
            return
        unconfirmed = presumed and not self.delivered
        if not presumed:
            self.interrupt()
        self.delivered = True
        started = time.monotonic()
        while not _exited(self.proc) and time.monotonic() - started < GRACE_S:
            if unconfirmed and time.monotonic() - started > UNACKNOWLEDGED_S:
                unconfirmed = False
                if ACKNOWLEDGED not in self.output() and not _exited(self.proc):
                    self.proc.send_signal(signal.SIGINT)
            time.sleep(0.1)
        if not _exited(self.proc):
            self.proc.kill()


def _same_process_group(proc: subprocess.Popen[str]) -> bool:
    """True when ``proc`` is in this process's group (a terminal's Ctrl-C reaches both)."""
    try:
        return os.getpgid(proc.pid) == os.getpgrp()
    except (OSError, AttributeError):
        return False


def _exited(proc: subprocess.Popen[str]) -> bool:
    """True once ``proc`` has exited, also inside a signal handler that interrupted ``proc.wait()``.

    There ``proc.poll()`` always answers None (the interrupted ``wait`` holds Popen's wait lock),
    so look without reaping: the child stays for Popen to collect.
    """
    if proc.returncode is not None:
        return True
    if not hasattr(os, "waitid"):
        return proc.poll() is not None
    try:
        return os.waitid(os.P_PID, proc.pid, os.WEXITED | os.WNOHANG | os.WNOWAIT) is not None
    except ChildProcessError:
        return True


def _forward_termination(stopper: _Stopper) -> _Handler:
    """On SIGTERM (sent to this process, not to Terraform), let Terraform stop gracefully (one SIGINT)
    before this process exits."""
    if threading.current_thread() is not threading.main_thread():
        return None

    def handler(signum: int, frame: FrameType | None) -> None:
        stopper.stop()
        raise DeployError(
            "interrupted by SIGTERM; Terraform was asked to stop and release the state lock. "
            "Re-run the same command to converge; if the lock is still held, use deploytool force-unlock",
        )

    previous: _Handler = signal.signal(signal.SIGTERM, handler)
    return previous


def _restore(previous: _Handler) -> None:
    if previous is not None and threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGTERM, previous)
