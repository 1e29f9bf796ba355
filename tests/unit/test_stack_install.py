"""Reading `java -version` and turning a failed `mvn` run into one line."""

from __future__ import annotations

from pathlib import Path

import pytest

from stack.install import COPY_DEPENDENCIES, POM, java_major, mvn_command, mvn_failure


@pytest.mark.parametrize(
    ("output", "major"),
    [
        ('openjdk version "17.0.15" 2025-04-15\nOpenJDK Runtime Environment', 17),
        ('openjdk version "21" 2023-09-19', 21),
        ('java version "1.8.0_392"', 8),
        ('openjdk version "11.0.2" 2019-01-15', 11),
        ("bash: java: command not found", None),
    ],
)
def test_java_major_version(output: str, major: int | None) -> None:
    assert java_major(output) == major


# What Maven 3.8 prints (colour codes included) when Maven Central cannot be reached.
UNREACHABLE = "\n".join(
    [
        "\x1b[0m\x1b[0m[ERROR] Plugin org.apache.maven.plugins:maven-dependency-plugin:3.8.1 "
        "or one of its dependencies could not be resolved: Failed to read artifact descriptor "
        "for org.apache.maven.plugins:maven-dependency-plugin:jar:3.8.1: Could not transfer "
        "artifact org.apache.maven.plugins:maven-dependency-plugin:pom:3.8.1 from/to central "
        "(https://repo.maven.apache.org/maven2): transfer failed for https://repo.maven.apache"
        ".org/maven2/org/apache/maven/plugins/maven-dependency-plugin/3.8.1/maven-dependency-"
        "plugin-3.8.1.pom: Unknown host repo.maven.apache.org -> [Help 1]",
        "[ERROR] ",
        "[ERROR] To see the full stack trace of the errors, re-run Maven with the -e switch.",
        "[ERROR] Re-run Maven using the -X switch to enable full debug logging.",
        "[ERROR] ",
        "[ERROR] For more information about the errors and possible solutions, "
        "please read the following articles:",
        "[ERROR] [Help 1] http://cwiki.apache.org/confluence/display/MAVEN/PluginResolutionException",
        "\x1b[0m\x1b[0m",
    ]
)

NOT_FOUND = "\n".join(
    [
        "[ERROR] Failed to execute goal on project embedded-kafka: Could not resolve "
        "dependencies for project welfare-watch:embedded-kafka:pom:1: Could not find artifact "
        "org.apache.kafka:kafka_2.13:jar:9.9.9 in central (https://repo.maven.apache.org/maven2)"
        " -> [Help 1]",
        "[ERROR] ",
        "[ERROR] Re-run Maven using the -X switch to enable full debug logging.",
    ]
)


def test_unreachable_maven_central_is_named_with_the_cause() -> None:
    line = mvn_failure(UNREACHABLE)
    assert line.startswith("could not download Kafka 4.1.1 from Maven Central: ")
    assert line.endswith("Unknown host repo.maven.apache.org")
    assert "\n" not in line and "\x1b" not in line and "[Help" not in line
    assert len(line) < 320


def test_other_maven_failures_keep_their_last_meaningful_line() -> None:
    line = mvn_failure(NOT_FOUND)
    assert line.startswith("mvn could not resolve Kafka 4.1.1: ")
    assert line.endswith(
        "Could not find artifact org.apache.kafka:kafka_2.13:jar:9.9.9 in central "
        "(https://repo.maven.apache.org/maven2)"
    )


def test_mvn_failure_without_output() -> None:
    assert mvn_failure("") == "mvn could not resolve Kafka 4.1.1: no output"


def test_mvn_command_copies_runtime_jars_and_honours_a_maven_repo(tmp_path: Path) -> None:
    command = mvn_command("mvn", tmp_path / "lib", str(tmp_path / "m2"))
    assert command[:3] == ["mvn", "-q", "-B"]
    assert ["-f", str(POM)] == command[command.index("-f") : command.index("-f") + 2]
    assert COPY_DEPENDENCIES in command
    assert "-DincludeScope=runtime" in command
    assert f"-DoutputDirectory={tmp_path / 'lib'}" in command
    assert f"-Dmaven.repo.local={tmp_path / 'm2'}" in command
    assert not any(
        "maven.repo.local" in part for part in mvn_command("mvn", tmp_path / "lib", None)
    )
