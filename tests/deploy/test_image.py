"""The container image, built from `Containerfile` and run: what a person gets from `docker build`.

No container registry is reachable from CI, so the base image (the Containerfile's BASE_IMAGE) is made here
from Debian's own packages: `debootstrap --variant=minbase <this machine's release>` with python3 and
python3-venv, imported into buildah. The rootfs tarball is cached (THREAD_NOTE_CI_CACHE, default
/var/cache/thread-note-bot-ci) so later runs skip debootstrap; without the cache it is made from nothing.
buildah runs with `--isolation chroot` and the vfs storage driver (no daemon, no overlay, no user
namespaces), in a storage folder of its own that is removed afterwards. The package index is reached the
way this machine's pip reaches it: its CA bundle is mounted read-only into the build and named by PIP_CERT.

Where buildah or debootstrap is missing, or the user is not root, the test skips and says why.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from cryptography.fernet import Fernet

from tests.conftest import REPO
from tests.kit.bot import wait_for
from tests.kit.rc import RcSandbox
from tests.kit.slack import SlackStandin
from tests.notify.test_crash_restart import free_port

pytestmark = pytest.mark.slow

IMAGE = "localhost/thread-note-bot:ci"
BASE = "localhost/thread-note-bot-base:ci"
CACHE = Path(os.environ.get("THREAD_NOTE_CI_CACHE", "/var/cache/thread-note-bot-ci"))


def _missing_builder() -> str | None:
    missing = [tool for tool in ("buildah", "debootstrap") if shutil.which(tool) is None]
    if missing:
        return f"{' and '.join(missing)} not installed (apt-get install buildah debootstrap; .ci/run does it)"
    if os.geteuid() != 0:
        return "building an image with buildah --isolation chroot and debootstrap needs root"
    return None


def _debian_release() -> tuple[str, str]:
    """This machine's Debian release and mirror (its apt sources), so debootstrap fetches what apt can."""
    release = "bookworm"
    os_release = Path("/etc/os-release")
    if os_release.exists():
        for line in os_release.read_text().splitlines():
            if line.startswith("VERSION_CODENAME=") and line.split("=", 1)[1].strip('"'):
                release = line.split("=", 1)[1].strip('"')
    mirror = "http://deb.debian.org/debian"
    for sources in sorted(Path("/etc/apt").glob("sources.list.d/*.sources")):
        for line in sources.read_text().splitlines():
            if line.startswith("URIs:") and not line.rstrip().endswith("-security"):
                mirror = line.split(":", 1)[1].split()[0]
                return release, mirror
    return release, mirror


def _ca_bundle() -> Path | None:
    """The CA bundle this machine's pip uses (PIP_CERT, pip.conf's `cert`, or the system's)."""
    candidates = [os.environ.get("PIP_CERT"), os.environ.get("REQUESTS_CA_BUNDLE")]
    for conf in (Path("/etc/pip.conf"), Path.home() / ".config/pip/pip.conf"):
        if conf.exists():
            candidates += [
                line.split("=", 1)[1].strip()
                for line in conf.read_text().splitlines()
                if line.strip().startswith("cert") and "=" in line
            ]
    candidates.append("/etc/ssl/certs/ca-certificates.crt")
    return next((Path(c) for c in candidates if c and Path(c).is_file()), None)


def _run(args: list[str], timeout: float, **kwargs: object) -> subprocess.CompletedProcess[str]:
    done = subprocess.run(args, capture_output=True, text=True, timeout=timeout, check=False, **kwargs)  # type: ignore[call-overload]
    assert done.returncode == 0, (
        f"{' '.join(args[:6])}… exited {done.returncode}:\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
    )
    return done  # type: ignore[no-any-return]


def _base_rootfs() -> Path:
    """A tarball of a minimal Debian with python3 and python3-venv, made once and cached."""
    release, mirror = _debian_release()
    try:
        CACHE.mkdir(parents=True, exist_ok=True)
        cache = CACHE
    except OSError:
        cache = Path(tempfile.gettempdir()) / "thread-note-bot-ci"
        cache.mkdir(exist_ok=True)
    tarball = cache / f"debian-{release}-python3.tar"
    if tarball.exists():
        return tarball
    work = Path(tempfile.mkdtemp(prefix="tnb-rootfs-", dir=cache))
    try:
        rootfs = work / "rootfs"
        _run(
            [
                "debootstrap",
                "--variant=minbase",
                "--include=python3,python3-venv",
                release,
                str(rootfs),
                mirror,
            ],
            timeout=900,
        )
        shutil.rmtree(rootfs / "var/cache/apt/archives", ignore_errors=True)
        partial = work / "rootfs.tar"
        _run(["tar", "-C", str(rootfs), "--numeric-owner", "-cf", str(partial), "."], timeout=300)
        partial.replace(tarball)  # atomic: a half-written tarball is never taken from the cache
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return tarball


@pytest.fixture(scope="module")
def buildah() -> Iterator[list[str]]:
    """The buildah command line on a private vfs storage, with the base image imported."""
    reason = _missing_builder()
    if reason:
        pytest.skip(f"the image cannot be built here: {reason}")
    storage = Path(tempfile.mkdtemp(prefix="tnb-buildah-"))
    cmd = [
        "buildah",
        "--root",
        str(storage / "root"),
        "--runroot",
        str(storage / "run"),
        "--storage-driver",
        "vfs",
    ]
    try:
        tarball = _base_rootfs()
        ctr = _run([*cmd, "from", "scratch"], timeout=60).stdout.strip()
        _run([*cmd, "add", ctr, str(tarball), "/"], timeout=300)
        _run([*cmd, "config", "--cmd", "python3", ctr], timeout=60)
        _run([*cmd, "commit", "--rm", ctr, BASE], timeout=300)
        yield cmd
    finally:
        subprocess.run([*cmd, "rm", "--all"], capture_output=True, timeout=120, check=False)
        shutil.rmtree(storage, ignore_errors=True)


@pytest.fixture(scope="module")
def image(buildah: list[str]) -> list[str]:
    """`buildah run …` in a working container of the image built from Containerfile (on the Debian base);
    `in_container(image, env)` adds settings."""
    started = time.monotonic()
    build = [*buildah, "bud", "--isolation", "chroot", "--format", "docker", "--layers=false"]
    build += ["--build-arg", f"BASE_IMAGE={BASE}", "-t", IMAGE, "-f", "Containerfile"]
    ca = _ca_bundle()
    if ca is not None:
        build += ["--volume", f"{ca}:/run/host-ca.crt:ro", "--build-arg", "PIP_CERT=/run/host-ca.crt"]
    _run([*build, "."], timeout=1200, cwd=REPO)
    print(f"\nimage: built in {time.monotonic() - started:.0f} s", flush=True)  # CI's log shows the cost
    ctr = _run([*buildah, "from", IMAGE], timeout=120).stdout.strip()
    return [*buildah, "run", "--isolation", "chroot", ctr, "--"]


def in_container(image: list[str], env: dict[str, str]) -> list[str]:
    """`image`'s run command with `--env NAME=VALUE` options (they go before the container's name)."""
    options = [arg for name, value in env.items() for arg in ("--env", f"{name}={value}")]
    return [*image[:-2], *options, *image[-2:]]


def test_the_image_runs_serve_as_non_root_with_a_healthcheck(buildah: list[str], image: list[str]) -> None:
    config = json.loads(_run([*buildah, "inspect", "--type", "image", IMAGE], timeout=60).stdout)
    docker = config["Docker"]["config"]
    assert docker["User"] == "10001:10001"
    assert docker["Entrypoint"] == ["thread-note-bot"] and docker["Cmd"] == ["serve"]
    assert docker["Healthcheck"]["Test"][0] == "CMD" and "/healthz" in " ".join(docker["Healthcheck"]["Test"])
    assert _run([*image, "id", "-u"], timeout=60).stdout.strip() == "10001"
    assert _run([*image, "thread-note-bot", "--version"], timeout=60).stdout.startswith("thread-note-bot ")


def test_the_image_plays_the_demo(image: list[str]) -> None:
    started = time.monotonic()
    demo = _run([*image, "thread-note-bot", "demo"], timeout=300)
    summary = re.search(r"Summary: (\d+) of (\d+) steps passed", demo.stdout)
    assert demo.returncode == 0 and summary and summary[1] == summary[2], demo.stdout + demo.stderr
    print(f"\nimage: the demo ran in {time.monotonic() - started:.0f} s", flush=True)


def test_serve_in_the_image_passes_its_own_healthcheck(
    buildah: list[str], image: list[str], rc_sandbox: RcSandbox, slack_standin: SlackStandin
) -> None:
    """`serve` as the image runs it (its user, its /data volume for SQLite), against the stand-ins on this
    machine's loopback (buildah's chroot shares the host's network); then the image's HEALTHCHECK command."""
    port = free_port()
    settings = {
        "SLACK_BOT_TOKEN": slack_standin.bot_token,
        "SLACK_SIGNING_SECRET": slack_standin.signing_secret,
        "SLACK_API_URL": slack_standin.api_url,
        "RINGCENTRAL_SERVER_URL": rc_sandbox.url,
        "RINGCENTRAL_CLIENT_ID": rc_sandbox.client_id,
        "RINGCENTRAL_CLIENT_SECRET": rc_sandbox.client_secret,
        "RINGCENTRAL_JWT": rc_sandbox.service_user.jwt,
        "THREAD_NOTE_SECRET_KEY": Fernet.generate_key().decode(),
        "PORT": str(port),
    }
    run = in_container(image, settings)
    serve = subprocess.Popen(
        [*run, "thread-note-bot", "serve"], stdout=subprocess.PIPE, stderr=subprocess.STDOUT
    )
    try:
        url = f"http://127.0.0.1:{port}/healthz"
        wait_for(lambda: _answers(url, serve), 60, "serve in the image to answer /healthz")
        assert httpx.get(url, timeout=5).json() == {"ok": True}
        config = json.loads(_run([*buildah, "inspect", "--type", "image", IMAGE], timeout=60).stdout)
        healthcheck = config["Docker"]["config"]["Healthcheck"]["Test"][1:]  # after "CMD"
        _run([*run, *healthcheck], timeout=60)  # exits 0 while the bot is healthy
    finally:
        serve.terminate()
        out, _ = serve.communicate(timeout=60)
    assert b"Traceback" not in out, out.decode(errors="replace")[-3000:]


def _answers(url: str, proc: subprocess.Popen[bytes]) -> bool:
    if proc.poll() is not None:
        raise AssertionError(f"serve exited with {proc.returncode}")
    try:
        return httpx.get(url, timeout=2).status_code == 200
    except httpx.TransportError:
        return False
