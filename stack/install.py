"""Getting the pieces: Kafka's jars from Maven Central, Java checked, Redis from Debian."""

from __future__ import annotations

import contextlib
import hashlib
import os
import re
import shutil
import subprocess
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

from stack.errors import StackError
from stack.process import last_meaningful, shorten

KAFKA_VERSION = "4.1.1"  # must match stack/pom.xml
JAVA_MIN = 17
POM = Path(__file__).with_name("pom.xml")
# The goal named in full: a bare `dependency:` prefix needs plugin metadata first, and when
# Maven Central is unreachable that fails as "No plugin found for prefix", hiding the cause.
COPY_DEPENDENCIES = "org.apache.maven.plugins:maven-dependency-plugin:3.8.1:copy-dependencies"
MVN_TIMEOUT_SECONDS = 900
APT_TIMEOUT_SECONDS = 900
POLICY_RC_D = Path("/usr/sbin/policy-rc.d")

Log = Callable[[str], None]


def cache_dir() -> Path:
    """Downloads live outside the repository: $WW_CACHE_DIR or ~/.cache/welfare-watch."""
    configured = os.environ.get("WW_CACHE_DIR")
    base = Path(configured) if configured else Path.home() / ".cache" / "welfare-watch"
    return base.expanduser().resolve()


def kafka_dir() -> Path:
    return cache_dir() / f"kafka-{KAFKA_VERSION}"


def kafka_lib() -> Path:
    return kafka_dir() / "lib"


def _pom_digest() -> str:
    return hashlib.sha256(POM.read_bytes()).hexdigest()


def _marker() -> Path:
    return kafka_dir() / "installed"


def kafka_installed() -> bool:
    """True when the jars of exactly this pom.xml were copied completely."""
    marker = _marker()
    return marker.exists() and marker.read_text().strip() == _pom_digest()


def java_major(version_output: str) -> int | None:
    """The major version from `java -version` output: 'version "17.0.2"' → 17, '"1.8.0"' → 8."""
    found = re.search(r'version "(\d+)(?:\.(\d+))?', version_output)
    if not found:
        return None
    major = int(found.group(1))
    return int(found.group(2) or 0) if major == 1 else major


def find_java() -> str:
    """The java executable ($JAVA_HOME first, then PATH), checked to be Java 17 or newer."""
    home = os.environ.get("JAVA_HOME")
    java = str(Path(home) / "bin" / "java") if home else shutil.which("java")
    if not java or not os.access(java, os.X_OK):
        raise StackError(
            f"Kafka needs Java {JAVA_MIN} or newer, but no `java` was found"
            f"{' in $JAVA_HOME/bin' if home else ' on PATH'}; "
            "install it with `apt-get install -y openjdk-17-jre-headless`"
        )
    result = subprocess.run([java, "-version"], capture_output=True, text=True, check=False)
    major = java_major(result.stderr + result.stdout)
    if major is None or major < JAVA_MIN:
        found = f"Java {major}" if major else "an unknown Java version"
        raise StackError(
            f"Kafka needs Java {JAVA_MIN} or newer, but {java} is {found}; "
            "install openjdk-17-jre-headless or point JAVA_HOME at a newer JDK"
        )
    return java


def find_mvn() -> str:
    mvn = shutil.which("mvn")
    if mvn is None:
        raise StackError(
            "Maven (`mvn`) is needed to download Kafka but is not on PATH; "
            "install it with `apt-get install -y maven`"
        )
    return mvn


def mvn_command(mvn: str, lib: Path, maven_repo: str | None) -> list[str]:
    """copy-dependencies of stack/pom.xml into `lib`; Maven's cache at `maven_repo` if given."""
    command = [mvn, "-q", "-B", "-Dstyle.color=never", "-f", str(POM)]
    command += [COPY_DEPENDENCIES, "-DincludeScope=runtime"]
    command.append(f"-DoutputDirectory={lib}")
    if maven_repo:
        command.append(f"-Dmaven.repo.local={Path(maven_repo).expanduser().resolve()}")
    return command


_MVN_NOISE = re.compile(
    r"^(-> \[Help|\[Help|To see the full stack trace|Re-run Maven|For more information"
    r"|After correcting the problems|mvn <args>)"
)
_NETWORK = re.compile(
    r"Could not transfer|Unknown host|UnknownHost|Connect to .* failed|Connection refused"
    r"|timed out|Network is unreachable|No route to host|transfer failed"
)


def mvn_failure(output: str) -> str:
    """One line for a failed `mvn` run: what went wrong, blaming the network when it was that."""
    lines = [re.sub(r"\x1b\[[0-9;]*m", "", line) for line in output.splitlines()]
    lines = [re.sub(r"^\[(ERROR|WARNING)\]\s*", "", line).strip() for line in lines]
    lines = [re.sub(r"\s*-> \[Help \d+\]$", "", line) for line in lines]
    meaningful = [line for line in lines if line and not _MVN_NOISE.match(line)]
    reason = shorten(meaningful[-1]) if meaningful else "no output"
    if _NETWORK.search(output):
        return f"could not download Kafka {KAFKA_VERSION} from Maven Central: {reason}"
    return f"mvn could not resolve Kafka {KAFKA_VERSION}: {reason}"


def install_kafka(log: Log) -> None:
    """Copy the broker's runtime jars into the cache, once per pom.xml."""
    java = find_java()
    lib = kafka_lib()
    if kafka_installed():
        log(f"Kafka {KAFKA_VERSION}: already installed in {lib}")
        return
    kafka_dir().mkdir(parents=True, exist_ok=True)
    staging = kafka_dir() / f"lib.partial-{os.getpid()}"  # swapped in whole: a running `up`
    shutil.rmtree(staging, ignore_errors=True)  # never sees a half-copied lib directory
    command = mvn_command(find_mvn(), staging, os.environ.get("WW_MAVEN_REPO"))
    log(f"Kafka {KAFKA_VERSION}: fetching the broker and its libraries with Maven into {lib} …")
    env = dict(os.environ, JAVA_HOME=str(Path(java).resolve().parent.parent))
    try:
        result = subprocess.run(
            command, capture_output=True, text=True, timeout=MVN_TIMEOUT_SECONDS, env=env
        )
    except subprocess.TimeoutExpired:
        shutil.rmtree(staging, ignore_errors=True)
        raise StackError(
            f"mvn did not finish within {MVN_TIMEOUT_SECONDS} s while downloading Kafka; "
            "is Maven Central reachable?"
        ) from None
    if result.returncode != 0:
        shutil.rmtree(staging, ignore_errors=True)
        raise StackError(mvn_failure(result.stdout + "\n" + result.stderr))
    _swap_in(staging, lib)
    _marker().write_text(_pom_digest() + "\n")
    log(f"Kafka {KAFKA_VERSION}: installed ({len(list(lib.glob('*.jar')))} jars)")


def _swap_in(staging: Path, lib: Path) -> None:
    """Replace `lib` by `staging`; jars a running broker still holds open stay readable."""
    old = lib.with_name(f"lib.old-{os.getpid()}")
    if lib.exists():
        lib.rename(old)
    staging.rename(lib)
    shutil.rmtree(old, ignore_errors=True)


def _redis_version(redis_server: str) -> str:
    result = subprocess.run([redis_server, "--version"], capture_output=True, text=True)
    found = re.search(r"v=(\S+)", result.stdout)
    return found.group(1) if found else "(unknown version)"


@contextlib.contextmanager
def _services_not_started() -> Iterator[None]:
    """Keep Debian's maintainer scripts from starting redis-server on 6379 behind our back."""
    if POLICY_RC_D.exists():  # a policy is already in place (containers ship one): keep it
        yield
        return
    POLICY_RC_D.write_text("#!/bin/sh\n# welfare-watch stack install: start nothing\nexit 101\n")
    POLICY_RC_D.chmod(0o755)
    try:
        yield
    finally:
        POLICY_RC_D.unlink(missing_ok=True)


def _apt(arguments: Sequence[str]) -> None:
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    command = ["apt-get", *arguments]
    try:
        result = subprocess.run(
            command, capture_output=True, text=True, env=env, timeout=APT_TIMEOUT_SECONDS
        )
    except subprocess.TimeoutExpired:
        raise StackError(f"`{' '.join(command)}` took over {APT_TIMEOUT_SECONDS} s") from None
    if result.returncode != 0:
        output = (result.stdout + "\n" + result.stderr).splitlines()
        errors = [line for line in output if line.startswith("E: ")]
        reason = shorten(errors[0]) if errors else last_meaningful(output) or "no output"
        raise StackError(f"`{' '.join(command)}` failed: {reason}")


def _stop_system_redis() -> None:
    """Where systemd runs, the package enabled its own redis-server: stop and disable it."""
    if Path("/run/systemd/system").is_dir() and shutil.which("systemctl"):
        subprocess.run(
            ["systemctl", "disable", "--now", "redis-server"], capture_output=True, check=False
        )


def install_redis(log: Log) -> None:
    """Debian's redis-server, installed with apt-get when it is not on PATH yet."""
    redis_server = shutil.which("redis-server")
    if redis_server:
        log(f"Redis {_redis_version(redis_server)}: already installed at {redis_server}")
        return
    if shutil.which("apt-get") is None:
        raise StackError("redis-server is not installed and there is no apt-get; install Redis 7")
    if os.geteuid() != 0:
        raise StackError(
            "redis-server is not installed and installing it needs root: "
            "run `sudo apt-get install -y redis-server`, then install again"
        )
    log("Redis: installing Debian's redis-server with apt-get …")
    with _services_not_started():
        _apt(["update", "-q"])
        _apt(["install", "-y", "-q", "--no-install-recommends", "redis-server"])
    _stop_system_redis()
    redis_server = shutil.which("redis-server")
    if redis_server is None:
        raise StackError("apt-get installed redis-server, but `redis-server` is not on PATH")
    log(f"Redis {_redis_version(redis_server)}: installed at {redis_server}")


def _stop_system_prometheus() -> None:
    """The package enables a prometheus service on 9090 where systemd runs: stop and disable
    it (the tests start their own, on a port of their own)."""
    if Path("/run/systemd/system").is_dir() and shutil.which("systemctl"):
        subprocess.run(
            ["systemctl", "disable", "--now", "prometheus"], capture_output=True, check=False
        )


def install_prometheus(log: Log) -> None:
    """Debian's prometheus (with promtool), for the monitoring tests: the rules' unit tests
    and a real Prometheus scraping `welfare-watch run`. Nothing else needs it, so without root
    or apt-get this only says how to install it; those tests then fail, saying the same."""
    if shutil.which("prometheus") and shutil.which("promtool"):
        log("Prometheus: already installed")
        return
    hint = "install it with `sudo apt-get install -y prometheus` for the monitoring tests"
    if shutil.which("apt-get") is None or os.geteuid() != 0:
        log(f"Prometheus: not installed; {hint}")
        return
    log("Prometheus: installing Debian's prometheus (and promtool) with apt-get …")
    with _services_not_started():
        _apt(["update", "-q"])
        _apt(["install", "-y", "-q", "--no-install-recommends", "prometheus"])
    _stop_system_prometheus()
    if shutil.which("promtool") is None:
        raise StackError("apt-get installed prometheus, but `promtool` is not on PATH")
    log("Prometheus: installed")
