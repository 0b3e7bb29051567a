"""Issue 11: a hostile value in any variable of any cloud-init template adds no key, line or
command to any file the worker gets. Table-driven: the variables come from the templates
themselves (jinja2.meta plus the ``vars.*``/``secrets.*`` reads), each is rendered once with
a benign token and once per hostile value, and every produced file is parsed in its own
syntax (bash, HTCondor's own config reader and ClassAd parser, line-per-value configs, JSON,
YAML). The oracle: the hostile parse equals the benign parse with the token replaced by the
hostile value (escaped, never mangled), or the value is refused with an error that names
the VO and the variable."""

from __future__ import annotations

import base64
import functools
import gzip
import json
import shlex
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from jinja2 import meta, nodes

from elastic.config import Site
from elastic.context_escape import FILTERS
from elastic.contextualize import (
    ContextError,
    environment,
    render_template,
    template_context,
)
from elastic.deadman import CONFIG_PATH, cloud_init_files
from elastic.template_files import packaged
from tests.factories import make_site

LRM_TEMPLATES = sorted(
    p.name.removesuffix(".yaml.j2")
    for p in packaged().joinpath("cloud-init").iterdir()
    if p.name.endswith(".yaml.j2") and not p.name.startswith("_")
)
BENIGN = "benign0"
#: what each template needs to render at all, and the optional ones that make it write more
REQUIRED = {
    "sge": {"qmaster": "qm.example"},
    "slurm": {"slurmctld": "ctl.example"},
    "pbs": {"pbs_server": "pbs.example"},
    "htcondor": {"condor_host": "cm.example"},
}
OPTIONAL = {
    "packages": ["apptainer"],
    "pool_accounts": ["atlas001"],
    "cvmfs_repositories": ["a.cern.ch", "b.cern.ch"],
    "files": [{"path": "/etc/extra.conf", "content": "x = 1\n"}],
}
LIST_VARS = {"packages", "pool_accounts", "cvmfs_repositories", "mom_packages"}
#: vars.dynamic is read as a condition and never written; deadman holds elastic's own
#: files, already in their syntax (the hostname they carry is the "hostname" case)
NOT_WRITTEN = {"vars.dynamic", "deadman"}

#: file path -> its syntax; every other file is written verbatim
SYNTAX = {
    "/etc/default/slurmd": "shell",
    "/etc/cvmfs/default.local": "shell",
    "/etc/condor/config.d/50-elastic.conf": "condor",
    "/var/lib/gridengine/default/common/act_qmaster": "lines",
    "/var/spool/torque/server_name": "lines",
    "/var/spool/torque/mom_priv/config": "lines",
    "/etc/elastic/node.json": "json",
    CONFIG_PATH: "json",
}
#: shell variables their reader splits into items: SLURMD_OPTIONS at blanks into slurmd's
#: arguments (systemd, sh), CVMFS_REPOSITORIES at commas into repositories
SPLIT_AT = {"SLURMD_OPTIONS": None, "CVMFS_REPOSITORIES": ","}


def hostile_values(marker: Path) -> dict[str, str]:
    """Each tries to run ``touch marker`` or add a key/line in some syntax; ``${IFS}``
    makes a command without a blank, so a filter that only refuses blanks is not enough."""
    touch = f"touch${{IFS}}{marker}"
    return {
        "newline": f"x\n{touch}\nEVIL=1",
        "single-quote": f"x';{touch};'",
        "double-quote": 'x"||true||"',
        "command-substitution": f"$({touch})",
        "backtick": f"`{touch}`",
        "hash": "x#EVIL=1",
        "backslash": "x\\",
        "semicolon": f"x;{touch}",
        "blanks": f"x; touch {marker} # EVIL = 1",
        "everything": f"a'b\"c$({touch})`{touch}`#d\\;{touch}",
        # HTCondor's $() is a macro: a defined one expands unless every $ is escaped
        "condor-macro": "$(DAEMON_LIST)$ENV(HOME)",
        # a name cloud-init hands to apt or useradd as an argument: not an option
        "option": f"-oDPkg::Pre-Invoke::={touch}",
        # one more item of a comma-separated list (CVMFS_REPOSITORIES)
        "comma": "x,evil.example.org",
    }


# --- which variables the templates use -------------------------------------------------


def _sources(name: str) -> Iterator[nodes.Template]:
    env, todo, seen = environment(), [name], set()
    while todo:
        current = todo.pop()
        if current in seen:
            continue
        seen.add(current)
        assert env.loader is not None
        tree = env.parse(env.loader.get_source(env, current)[0])
        yield tree
        todo.extend(t for t in meta.find_referenced_templates(tree) if t is not None)


def _attr_reads(tree: nodes.Template, mapping: str) -> set[str]:
    found = set()
    for node in tree.find_all(nodes.Getattr):
        if isinstance(node.node, nodes.Name) and node.node.name == mapping and node.attr != "get":
            found.add(node.attr)
    for call in tree.find_all(nodes.Call):
        target = call.node
        if (
            isinstance(target, nodes.Getattr)
            and isinstance(target.node, nodes.Name)
            and target.node.name == mapping
            and target.attr == "get"
            and isinstance(call.args[0], nodes.Const)
        ):
            found.add(call.args[0].value)
    return found


def template_variables(template: str) -> set[str]:
    """``vo``, ``vars.qmaster``, ``secrets.munge_key``...: every value the template and the
    templates it includes read from the render context."""
    trees = list(_sources(f"cloud-init/{template}.yaml.j2"))
    assigned = {n.name for t in trees for n in t.find_all(nodes.Name) if n.ctx == "store"}
    names = {n for t in trees for n in meta.find_undeclared_variables(t)} - assigned
    found = names - {"vars", "secrets"}
    for mapping in ("vars", "secrets"):
        found |= {f"{mapping}.{key}" for t in trees for key in _attr_reads(t, mapping)}
    return found


CASES = [(t, v) for t in LRM_TEMPLATES for v in sorted(template_variables(t) - NOT_WRITTEN)]


def test_the_table_covers_every_template_and_context_key():
    """The table is derived from the templates: it must see all four and what they read,
    and every name they read must be one contextualize passes."""
    assert LRM_TEMPLATES == ["htcondor", "pbs", "sge", "slurm"]
    site = site_for("sge")
    passed = set(template_context(site, "atlas", "h", "h"))
    for template in LRM_TEMPLATES:
        used = template_variables(template)
        assert {v for v in used if "." not in v} <= passed
        assert {"vo", "hostname", "vars.cvmfs_repositories", "vars.files"} <= used
        assert {f"vars.{k}" for k in REQUIRED[template]} <= used
    assert "vars.accounting_group" in template_variables("htcondor")
    assert "secrets.munge_key" in template_variables("slurm")


# --- rendering -------------------------------------------------------------------------


def site_for(template: str) -> Site:
    vo = {
        "name": "atlas",
        "match": {"project": ["atlas"]},
        "flavor": {"cores": 4, "memory_mb": 8000},
        "context": {"template": template, "vars": dict(REQUIRED[template])},
    }
    return make_site(lrm={"kind": template}, vos=[vo], ec2={"instance_types": {}})


def context_with(template: str, variable: str, value: str) -> dict[str, Any]:
    """The render context of a cloud worker of VO atlas with ``value`` at ``variable``."""
    site = site_for(template)
    context: dict[str, Any] = {
        "vo": "atlas",
        "hostname": "t-atlas-00001",
        "node_id": "t-atlas-00001",
        "site_name": "t",
        "vars": {**REQUIRED[template], **OPTIONAL},
        "secrets": {"munge_key": "munge-secret", "condor_token": "token-secret"},
    }
    mapping, _, key = variable.partition(".")
    if not key:
        context[mapping] = value
    elif key == "files":
        context["vars"]["files"] = [{"path": f"/etc/{value}", "content": value}]
    elif key in LIST_VARS:
        context[mapping][key] = ["first", value]
    else:
        context[mapping][key] = value
    # the dead-man files (a cloud worker's) carry only the host name of all these values;
    # they are rendered where it varies, as their large agent payload is slow to parse
    cloud = variable == "hostname"
    context["deadman"] = cloud_init_files(site, "atlas", context["hostname"]) if cloud else None
    return context


def render(template: str, variable: str, value: str) -> dict[str, Any]:
    text = render_template(template, context_with(template, variable, value), "VO atlas")
    document = yaml.load(text, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))
    assert isinstance(document, dict)
    return document


@functools.cache
def render_clean(template: str, variable: str) -> dict[str, Any]:
    """The benign render, once per (template, variable): the oracle of every hostile one."""
    return render(template, variable, BENIGN)


def swap(data: Any, value: str) -> Any:
    """``data`` with the benign token replaced by ``value`` in every string."""
    if isinstance(data, str):
        return data.replace(BENIGN, value)
    if isinstance(data, list):
        return [swap(item, value) for item in data]
    if isinstance(data, dict):
        return {swap(k, value): swap(v, value) for k, v in data.items()}
    return data


# --- parsing each file in its own syntax -----------------------------------------------


def decoded(entry: dict[str, Any]) -> str:
    content = str(entry["content"])
    if entry.get("encoding") == "b64":
        return base64.b64decode(content).decode()
    if entry.get("encoding") == "gz+b64":
        return gzip.decompress(base64.b64decode(content)).decode()
    return content


def source_shell(path: Path, workdir: Path) -> dict[str, str]:
    """The variables a shell file sets, as ``. file`` in an empty environment sees them."""
    checked = subprocess.run(["bash", "-n", str(path)], capture_output=True, text=True)
    assert checked.returncode == 0, checked.stderr
    script = 'set -a; . "$1"; env -0'
    out = subprocess.run(
        ["env", "-i", "bash", "-c", script, "bash", str(path)],
        cwd=workdir,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    found = dict(item.split("=", 1) for item in out.split("\0") if item)
    return {k: v for k, v in found.items() if k not in {"PWD", "SHLVL", "_", "OLDPWD"}}


@functools.cache
def source_clean_shell(text: str) -> dict[str, str]:
    with tempfile.TemporaryDirectory() as workdir:
        (Path(workdir) / "clean.sh").write_text(text)
        return source_shell(Path(workdir) / "clean.sh", Path(workdir))


CONDOR_READER = """
import json, os, sys
import htcondor2
for line in sys.stdin:
    path, keys = json.loads(line)
    os.environ["CONDOR_CONFIG"] = path
    htcondor2.reload_config()
    names = sorted(htcondor2.param.keys())
    values = {k: htcondor2.param.get(k) for k in keys}
    print(json.dumps({"keys": names, "values": values}), flush=True)
"""


class CondorReader:
    """HTCondor's own config reader, in one child process for the module (the bindings'
    config is process-wide): every parameter a file defines, and the expanded ``keys``."""

    def __init__(self) -> None:
        self.process = subprocess.Popen(
            [sys.executable, "-c", CONDOR_READER],
            env={"PATH": "/usr/bin:/bin"},
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )

    def params(self, path: Path, keys: list[str]) -> tuple[set[str], dict[str, str]]:
        assert self.process.stdin is not None and self.process.stdout is not None
        self.process.stdin.write(json.dumps([str(path), keys]) + "\n")
        self.process.stdin.flush()
        data = json.loads(self.process.stdout.readline())
        return set(data["keys"]), data["values"]

    def close(self) -> None:
        assert self.process.stdin is not None
        self.process.stdin.close()
        self.process.wait(timeout=10)


@pytest.fixture(scope="module")
def condor() -> Iterator[CondorReader]:
    reader = CondorReader()
    yield reader
    reader.close()


def config_lines(text: str) -> list[tuple[str, str]]:
    """``key = value`` lines, as an HTCondor config reader splits them."""
    pairs = []
    for line in text.splitlines():
        key, sep, value = line.partition("=")
        assert sep, f"not a key = value line: {line!r}"
        pairs.append((key.strip(), value.strip()))
    return pairs


def check_shell(hostile: str, clean: str, value: str, tmp_path: Path, marker: Path) -> None:
    (tmp_path / "hostile.sh").write_text(hostile)
    got = source_shell(tmp_path / "hostile.sh", tmp_path)
    want = swap(source_clean_shell(clean), value)
    assert want, "the clean file sets no variable"
    assert got == want
    assert not marker.exists(), "sourcing the file ran a command"
    for name in set(SPLIT_AT) & set(got):
        items = len(got[name].split(SPLIT_AT[name]))
        assert items == len(want[name].replace(value, BENIGN).split(SPLIT_AT[name])), name
    assert len(hostile.splitlines()) == len(clean.splitlines())


def check_condor(
    hostile: str, clean: str, value: str, tmp_path: Path, condor: CondorReader
) -> None:
    import classad2

    assert [k for k, _ in config_lines(hostile)] == [k for k, _ in config_lines(clean)]
    (tmp_path / "hostile.conf").write_text(hostile)
    (tmp_path / "clean.conf").write_text(clean)
    ours = [k for k, _ in config_lines(clean)]
    got_keys, got = condor.params(tmp_path / "hostile.conf", ours)
    want_keys, want = condor.params(tmp_path / "clean.conf", ours)
    assert got_keys == want_keys, "the hostile value added an HTCondor parameter"
    for key in ours:
        if f'"{BENIGN}"' in want[key]:
            # a ClassAd expression: the value must stay inside its string literal, so the
            # parsed tree is the clean one with that literal holding the hostile value
            literal = classad2.quote(value)
            expected = str(classad2.ExprTree(want[key])).replace(f'"{BENIGN}"', literal)
            assert str(classad2.ExprTree(got[key])) == expected, key
        else:
            assert got[key] == swap(want[key], value), key


def check_lines(hostile: str, clean: str, value: str) -> None:
    """One value per line, the first word the key (``$pbsserver``), no quoting."""
    got, want = hostile.splitlines(), clean.splitlines()
    assert len(got) == len(want)
    assert [line.split()[0] if " " in line else "" for line in got] == [
        line.split()[0] if " " in line else "" for line in want
    ]
    assert hostile == swap(clean, value)


def check_file(
    path: str, hostile: str, clean: str, value: str, tmp_path: Path, condor: CondorReader
) -> None:
    marker = tmp_path / "pwned"
    syntax = SYNTAX.get(path, "verbatim")
    if syntax == "shell":
        check_shell(hostile, clean, value, tmp_path, marker)
    elif syntax == "condor":
        check_condor(hostile, clean, value, tmp_path, condor)
    elif syntax == "lines":
        check_lines(hostile, clean, value)
    elif syntax == "json":
        assert json.loads(hostile) == swap(json.loads(clean), value)
    else:
        assert hostile == swap(clean, value)


@pytest.mark.parametrize("hostile_name", sorted(hostile_values(Path("/m"))))
@pytest.mark.parametrize(("template", "variable"), CASES)
def test_a_hostile_value_adds_no_key_line_or_command(
    template, variable, hostile_name, tmp_path, condor
):
    value = hostile_values(tmp_path / "pwned")[hostile_name]
    clean = render_clean(template, variable)
    try:
        doc = render(template, variable, value)
    except ContextError as exc:
        # refused: the message says which VO and which variable (never the value)
        message = str(exc)
        assert "VO atlas" in message and variable in message and "refused" in message
        assert value not in message
        return
    # the cloud-init document: same keys, same commands, same files
    assert set(doc) == set(clean)
    for key in set(clean) - {"write_files"}:
        assert doc[key] == swap(clean[key], value), key
    # cloud-init passes these to apt-get/yum and useradd as arguments: none may be an option
    names = doc.get("packages", []) + [u["name"] for u in doc.get("users", []) if u != "default"]
    assert not [name for name in names if str(name).startswith("-")]
    files, clean_files = doc["write_files"], clean["write_files"]
    assert [swap(f["path"], value) for f in clean_files] == [f["path"] for f in files]
    for entry, clean_entry in zip(files, clean_files, strict=True):
        assert set(entry) == set(clean_entry)
        check_file(entry["path"], decoded(entry), decoded(clean_entry), value, tmp_path, condor)
    assert not (tmp_path / "pwned").exists()


@pytest.mark.parametrize("template", LRM_TEMPLATES)
def test_the_benign_renders_write_the_files_the_checks_parse(template):
    """The parse checks above only bite if the files exist: every syntax is exercised."""
    doc = render(template, "hostname", BENIGN)
    written = {SYNTAX.get(f["path"], "verbatim") for f in doc["write_files"]}
    expected = {"sge": "lines", "pbs": "lines", "slurm": "shell", "htcondor": "condor"}
    assert {"shell", "json", "verbatim", expected[template]} <= written


def test_every_output_of_every_template_ends_in_its_syntax_filter():
    """Every ``{{ }}`` of the YAML ends in ``q`` (a JSON-quoted YAML scalar); every one in
    a ``{% set x %}...{% endset %}`` block (a file's text, YAML-quoted as a whole later)
    ends in one of the syntax filters of elastic/context_escape.py."""
    seen = 0
    for path in sorted(packaged().joinpath("cloud-init").iterdir(), key=lambda p: p.name):
        tree = next(_sources(f"cloud-init/{path.name}"))
        in_blocks = {
            id(node)
            for block in tree.find_all(nodes.AssignBlock)
            for output in block.find_all(nodes.Output)
            for node in output.nodes
        }
        for output in tree.find_all(nodes.Output):
            for node in output.nodes:
                if isinstance(node, nodes.TemplateData | nodes.Const):
                    continue
                seen += 1
                allowed = set(FILTERS) if id(node) in in_blocks else {"q"}
                assert isinstance(node, nodes.Filter) and node.name in allowed, (path, node)
    assert seen > 20


def test_the_shell_parse_sees_an_unquoted_value(tmp_path):
    """The oracle itself: an unquoted hostile value does run and does add a key."""
    marker = tmp_path / "pwned"
    value = hostile_values(marker)["semicolon"] + ";EVIL=1"
    (tmp_path / "f.sh").write_text(f"A={value}\n")
    assert "EVIL" in source_shell(tmp_path / "f.sh", tmp_path) and marker.exists()
    assert shlex.split(f"A={shlex.quote(value)}") == [f"A={value}"]
