"""The documentation: the site builds, and what it tells users to run does run.

- ``mkdocs build --strict`` passes (every page in the nav, every link and anchor found,
  the CLI reference generated from the commands, the example files included).
- The README stays a short front page that links into docs/.
- Every ``polyptt ...`` line in the docs' shell blocks names options that exist.
- The relay quick start (the blocks marked ``<!-- quickstart -->`` in docs/relay.md),
  run in order in an empty home, makes its tokens.
- The crontab example runs as cron runs it: ``env -i``, cron's PATH plus the file's own
  assignments, ``/bin/sh -c``, into a capture (nothing is paged).
"""

from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import click
import numpy as np
import pytest
import soundfile
from tests.support.pages import split_page

import polyptt
from polyptt.cli import cli
from polyptt.pcap import read_datagrams

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"
README = ROOT / "README.md"
CHIME = ROOT / "examples" / "audio" / "chime.wav"
CRONTAB = ROOT / "examples" / "cron" / "polyptt-bell.cron"

#: The set-up commands the README must show exactly as they are.
SETUP_COMMANDS = (
    "pip install . && polyptt send --channel 26 --pcap page.pcap examples/audio/chime.wav",
    "bash .ci/run",
)

#: cron's PATH for the commands of a crontab that sets none (Debian's cron, cronie).
CRON_PATH = "/usr/bin:/bin"
#: Where pip puts the ``polyptt`` script for a system-wide install as root.
PIP_SYSTEM_SCRIPTS = "/usr/local/bin"


def _package_root() -> str:
    """The directory the polyptt under test is imported from (src/ or site-packages)."""
    return str(Path(polyptt.__file__).resolve().parents[1])


def _write_polyptt_script(directory: Path) -> Path:
    """A ``polyptt`` console script as pip writes one, for the polyptt under test.

    The environment of cron (``env -i``) has no PYTHONPATH, so the script puts the
    package's directory first itself, which an installed package needs not do.
    """
    directory.mkdir(parents=True, exist_ok=True)
    script = directory / "polyptt"
    script.write_text(
        f"#!{sys.executable}\n"
        "import sys\n"
        f"sys.path.insert(0, {_package_root()!r})\n"
        "from polyptt.cli import main\n"
        "sys.exit(main())\n"
    )
    script.chmod(0o755)
    return script


# --- the site and the README ---------------------------------------------------------------


def test_mkdocs_build_strict(tmp_path: Path) -> None:
    site = tmp_path / "site"
    env = {**os.environ, "NO_MKDOCS_2_WARNING": "1"}
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [_package_root(), env.get("PYTHONPATH")]))
    result = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(site)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=240,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    reference = (site / "cli" / "index.html").read_text()
    for command in ("polyptt send", "polyptt listen", "polyptt loop", "polyptt relay token add"):
        assert f">{command}<" in reference or f"{command} [OPTIONS]" in reference, command
    assert "POLYPTT_SEND_CHANNEL" in reference  # the options' help, env vars included
    assert (site / "protocol" / "index.html").is_file()
    assert (site / "web-desktop-idle.png").is_file()


def test_readme_is_a_short_front_page() -> None:
    text = README.read_text()
    assert len(text.splitlines()) <= 200
    for command in SETUP_COMMANDS:
        assert command in text.splitlines(), command
    links = re.findall(r"\]\((docs/[^)#]+)(?:#[^)]*)?\)", text)
    assert "docs/protocol.md" in links
    missing = [link for link in links if not (ROOT / link).is_file()]
    assert not missing, missing


def test_protocol_notes_are_in_the_repository_and_cited() -> None:
    assert (DOCS / "protocol.md").is_file()
    stale = []
    for folder in ("src", "tests", "benchmarks"):
        for path in (ROOT / folder).rglob("*.py"):
            if path.resolve() != Path(__file__).resolve() and "PROTOCOL.md" in path.read_text():
                stale.append(str(path.relative_to(ROOT)))
    assert not stale, f"cite docs/protocol.md instead of PROTOCOL.md in {stale}"
    assert "docs/protocol.md" in (ROOT / "src" / "polyptt" / "protocol.py").read_text()


# --- the commands the docs show ------------------------------------------------------------

_SHELL_BLOCK = re.compile(r"^```(?:sh|bash|shell|console)\n(.*?)^```", re.S | re.M)
_ASSIGNMENT = re.compile(r"[A-Za-z_][A-Za-z0-9_]*=")
_WRAPPERS = {"sudo", "env", "exec", "time", "tools/isolated"}


def _shell_lines(text: str) -> list[str]:
    """The logical lines of the shell blocks of a Markdown text (``\\`` joined)."""
    lines: list[str] = []
    for block in _SHELL_BLOCK.findall(text):
        lines.extend(block.replace("\\\n", " ").splitlines())
    return lines


def _commands(line: str) -> list[list[str]]:
    """Each ``polyptt ...`` command of a shell line, as words after ``polyptt``."""
    lexer = shlex.shlex(line, posix=True, punctuation_chars=True)
    lexer.whitespace_split = True
    lexer.commenters = "#"
    found: list[list[str]] = []
    segment: list[str] = []
    for word in [*lexer, ";"]:
        if word and set(word) <= set("|&;()<>"):
            start = 0
            while start < len(segment) and (
                _ASSIGNMENT.match(segment[start]) or segment[start] in _WRAPPERS
            ):
                start += 1
            if segment[start : start + 1] == ["polyptt"]:
                found.append(segment[start + 1 :])
            segment = []
        else:
            segment.append(word)
    return found


def _unknown_options(words: list[str]) -> str | None:
    """What is wrong with ``polyptt WORDS`` (a command or option that does not exist)."""
    command: click.Command = cli
    path = ["polyptt"]
    ctx = click.Context(cli, info_name="polyptt")
    while isinstance(command, click.Group) and words and not words[0].startswith("-"):
        sub = command.get_command(ctx, words[0])
        if sub is None:
            return f"{' '.join(path)}: no command {words[0]!r}"
        command, path, words = sub, [*path, words[0]], words[1:]
        ctx = click.Context(command, info_name=path[-1], parent=ctx)
    known = {"-h", "--help"}
    for param in command.params:
        if isinstance(param, click.Option):
            known.update(param.opts, param.secondary_opts)
    for word in words:
        if word == "--":
            break
        name = word.split("=", 1)[0]
        is_option = name.startswith("-") and name != "-" and not re.fullmatch(r"-[\d.]+", name)
        if is_option and name not in known:
            return f"{' '.join(path)}: no option {name}"
    return None


def test_the_docs_name_only_options_that_exist() -> None:
    sources = [README, *sorted(DOCS.glob("*.md"))]
    problems = []
    checked = 0
    for source in sources:
        for line in _shell_lines(source.read_text()):
            for words in _commands(line):
                checked += 1
                problem = _unknown_options(words)
                if problem:
                    problems.append(f"{source.relative_to(ROOT)}: {line.strip()}: {problem}")
    assert checked > 50  # the parser does find the docs' commands
    assert not problems, "\n".join(problems)


def test_the_option_check_catches_a_wrong_option() -> None:
    """The checker itself, on lines the docs must never contain."""
    assert _commands("espeak-ng x | POLYPTT_TTL=1 polyptt send --raw 16000 - # c") == [
        ["send", "--raw", "16000", "-"]
    ]
    assert _unknown_options(["send", "--gain", "-6", "bell.wav"]) is None
    assert _unknown_options(["relay", "token", "add", "X", "--can", "talk"]) is None
    assert _unknown_options(["send", "--chanel", "26"]) == "polyptt send: no option --chanel"
    assert _unknown_options(["relay", "token", "ad"]) == "polyptt relay token: no command 'ad'"


# --- the relay quick start -----------------------------------------------------------------

_QUICKSTART = re.compile(
    r"<!-- quickstart(?::\s*(?P<file>\S+))?\s*-->\s*\n```(?P<lang>\w+)\n(?P<body>.*?)^```",
    re.S | re.M,
)


def _quickstart_blocks() -> list[tuple[str | None, str]]:
    """The relay quick start's marked blocks, in order: (file to write or None, text)."""
    blocks = [(m["file"], m["body"]) for m in _QUICKSTART.finditer((DOCS / "relay.md").read_text())]
    assert blocks, "docs/relay.md has no <!-- quickstart --> blocks"
    return blocks


def _run_quickstart(
    blocks: list[tuple[str | None, str]], home: Path
) -> subprocess.CompletedProcess[str]:
    """Write the file blocks under `home` and run the shell blocks, stopping at a failure."""
    bin_dir = _write_polyptt_script(home / "bin").parent
    env = {"HOME": str(home), "PATH": f"{bin_dir}:{CRON_PATH}", "LC_ALL": "C.UTF-8"}
    output = subprocess.CompletedProcess[str]([], 0, "", "")
    for file, body in blocks:
        if file is not None:
            target = home / file.removeprefix("~/")
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(body)
            continue
        result = subprocess.run(
            ["/bin/sh", "-e", "-c", body],
            cwd=home,
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
        )
        output = subprocess.CompletedProcess(
            result.args, result.returncode, output.stdout + result.stdout, result.stderr
        )
        if result.returncode:
            break
    return output


def test_relay_quickstart_runs_in_order(tmp_path: Path) -> None:
    blocks = _quickstart_blocks()
    adds = sum(body.count("polyptt relay token add ") for file, body in blocks if file is None)
    result = _run_quickstart(blocks, tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stdout.count("token for ") == adds >= 2
    assert "token for Front (talk), stored hashed in " in result.stdout
    assert "Front\ttalk\t1-50\treception\tnever" in result.stdout.splitlines()
    assert (tmp_path / ".config" / "polyptt" / "relay.tokens.json").is_file()


def test_relay_quickstart_needs_its_config_first(tmp_path: Path) -> None:
    """Without the [targets] block (the README's old order), the token add is refused."""
    commands_only = [(file, body) for file, body in _quickstart_blocks() if file is None]
    result = _run_quickstart(commands_only, tmp_path)
    assert result.returncode == 2
    assert "no target named reception" in result.stderr


# --- the crontab example -------------------------------------------------------------------


def _unquote(value: str) -> str:
    """A crontab assignment's value: surrounding quotes removed, as cron does."""
    value = value.strip()
    if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
        return value[1:-1]
    return value


def _cron_jobs(text: str) -> list[tuple[dict[str, str], str]]:
    """Each job of an /etc/cron.d file: the environment it gets and its command.

    A job sees the assignments above it (cron reads the file top down), over cron's
    defaults (PATH, SHELL, HOME and LOGNAME).
    """
    env = {"PATH": CRON_PATH, "SHELL": "/bin/sh"}
    jobs = []
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        assignment = re.fullmatch(r"([A-Za-z_][A-Za-z0-9_]*)\s*=\s*(.*)", line)
        if assignment:
            env[assignment[1]] = _unquote(assignment[2])
            continue
        fields = line.split(None, 6)  # minute hour day month weekday user command
        assert len(fields) == 7, f"not a cron.d job line: {line}"
        jobs.append((dict(env), fields[6]))
    return jobs


def _namespace_prefix() -> list[str]:
    """unshare with its own network and mount namespaces, as root or in a user namespace."""
    if shutil.which("unshare") is None or shutil.which("ip") is None:
        pytest.skip("needs unshare and ip (util-linux, iproute2)")
    for way in (
        ["unshare", "--net", "--mount"],
        ["unshare", "--user", "--map-root-user", "--net", "--mount"],
    ):
        command = [*way, "--propagation", "private", "true"]
        if subprocess.run(command, capture_output=True).returncode == 0:
            return [*way, "--propagation", "private"]
    pytest.skip("this user may make no network and mount namespace (run as root)")


# Inside the namespaces: the interface the crontab names exists (a veth: nothing leaves
# this namespace), pip's system-wide script directory holds the polyptt under test (a
# bind mount seen by this process only), and the job runs as cron runs it.
_AS_CRON = """
set -e
ip link set lo up
if [ -n "$IFACE" ]; then
    ip link add "$IFACE" type veth peer name cronpeer
    ip addr add 192.0.2.1/24 dev "$IFACE"
fi
mount --bind "$SCRIPTS" "$PIP_SYSTEM_SCRIPTS"
shift
exec env -i "$@"
"""


def _run_as_cron(
    prefix: list[str], env: dict[str, str], command: str, scripts: Path
) -> subprocess.CompletedProcess[str]:
    """Run `command` with exactly `env`, by /bin/sh -c, in the namespaces of `prefix`."""
    return subprocess.run(
        [
            *prefix,
            "/bin/sh",
            "-c",
            _AS_CRON,
            "as-cron",
            "--",
            *(f"{key}={value}" for key, value in env.items()),
            "/bin/sh",
            "-c",
            command,
        ],
        env={
            "PATH": os.environ.get("PATH", CRON_PATH),
            "IFACE": env.get("POLYPTT_IFACE", ""),
            "SCRIPTS": str(scripts),
            "PIP_SYSTEM_SCRIPTS": PIP_SYSTEM_SCRIPTS,
        },
        cwd=env["HOME"],
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_crontab_example_runs_under_cron(tmp_path: Path) -> None:
    """Each job of examples/cron/polyptt-bell.cron, as cron would run it, into a capture.

    The model: polyptt installed system-wide with pip as root (its script in
    /usr/local/bin), the crontab installed as it is. Before the example set PATH, cron's
    /usr/bin:/bin found no polyptt: "polyptt: not found", exit 127.
    """
    prefix = _namespace_prefix()
    scripts = tmp_path / "scripts"
    _write_polyptt_script(scripts)
    interpreter = Path(sys.executable).resolve()
    if interpreter.parent == Path(PIP_SYSTEM_SCRIPTS):  # the mount would hide it
        shutil.copy2(interpreter, scripts / interpreter.name)
    audio = tmp_path / "paging"
    audio.mkdir()
    data, rate = soundfile.read(CHIME, dtype="int16")
    for name in ("bell.flac", "alarm-test.wav"):
        soundfile.write(audio / name, np.asarray(data), rate)

    jobs = _cron_jobs(CRONTAB.read_text())
    assert jobs
    for number, (cron_env, command) in enumerate(jobs):
        pcap = tmp_path / f"job{number}.pcap"
        command = command.replace("/srv/paging/", f"{audio}/")  # the chime, as bell and alarm
        env = {**cron_env, "HOME": str(tmp_path), "LOGNAME": "polyptt"}
        env["POLYPTT_SEND_PCAP"] = str(pcap)  # a capture, not the network
        result = _run_as_cron(prefix, env, command, scripts)
        assert (result.returncode, result.stdout, result.stderr) == (0, "", ""), command
        page = split_page([(d.time, d.payload) for d in read_datagrams(pcap)])
        assert (len(page.alerts), len(page.ends)) == (31, 12)
        assert page.transmits
        first = page.alerts[0][1]
        assert first.channel == (50 if "--channel 50" in command else 26)
        assert first.caller_id == ("ALARM TEST" if "ALARM TEST" in command else "Bell")
