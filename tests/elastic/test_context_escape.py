"""The escaping filters of the cloud-init templates, one syntax each: what they accept comes
back intact through that syntax's own reader (shlex, classad2), what they cannot make safe
is refused naming the variable; and a refusal reaches the admin as a clean exit 2."""

from __future__ import annotations

import copy
import shlex
from pathlib import Path

import classad2
import pytest
import yaml
from jinja2 import StrictUndefined, UndefinedError

from elastic.cli import main
from elastic.context_escape import (
    UnsafeValue,
    argv_word,
    classad_string,
    condor_value,
    config_value,
    list_item,
    option_word,
    shell_quote,
    tag,
)
from tests.factories import BASE_SITE

#: values a shell word and a ClassAd string must carry intact; the stricter filters refuse some
TRICKY = ["plain", "a'b", 'a"b', "$(x)", "`x`", "a;b", "a\\b", "a#b", "a b", "*", ""]
CONTROL = ["a\nb", "a\rb", "a\0b", "a\tb", "a\x1bb", "a\u2028b", "a\x85b"]


@pytest.mark.parametrize("value", TRICKY)
def test_shell_quote_gives_back_one_word_holding_the_value(value):
    assert shlex.split(f"K={shell_quote(value)}") == [f"K={value}"]


@pytest.mark.parametrize("value", [*TRICKY, "a\\", '"'])
def test_classad_string_is_a_literal_holding_the_value(value):
    literal = classad_string(value)
    assert literal == classad2.quote(value)
    assert classad2.unquote(literal) == value
    # inside an expression it stays one literal: the comparison is with the whole value
    expr = classad2.ExprTree(f"(A =?= {literal})")
    assert expr.eval(classad2.ClassAd({"A": value})) is True
    assert expr.eval(classad2.ClassAd({})) is False


def test_condor_value_escapes_every_dollar_and_refuses_a_continuation():
    assert condor_value("$(X)$ENV(HOME)") == "$(DOLLAR)(X)$(DOLLAR)ENV(HOME)"
    assert condor_value('"a\\\\"') == '"a\\\\"'
    with pytest.raises(UnsafeValue, match="line continuation"):
        condor_value(tag("host\\", "vars.condor_host"))


@pytest.mark.parametrize("value", ["qm.example", "qm.example:6444", "a'b", "$(x)", "a;b"])
def test_config_value_accepts_one_token(value):
    assert config_value(value) == value


@pytest.mark.parametrize("value", ["a b", "a\tb", "#a", "a#b", "a\nb"])
def test_config_value_refuses_a_field_separator_or_comment(value):
    with pytest.raises(UnsafeValue, match=r"^vars\.qmaster contains"):
        config_value(tag(value, "vars.qmaster"))


@pytest.mark.parametrize("value", ["ctl.example", "ctl:6817", "$(x)", "a;b"])
def test_option_word_accepts_a_word_that_stays_one_argument(value):
    assert option_word(value) == value


@pytest.mark.parametrize("value", ["a b", "'a'", '"a"', "a\\b", "*", "a?", "[a]", "#a"])
def test_option_word_refuses_what_would_split_or_glob(value):
    with pytest.raises(UnsafeValue, match="split or change arguments"):
        option_word(tag(value, "vars.slurmctld"))


def test_list_item_refuses_the_separator():
    assert list_item("a.cern.ch", ",") == "a.cern.ch"
    with pytest.raises(UnsafeValue, match=r"vars\.cvmfs_repositories\[1\] contains ','"):
        list_item(tag(["a", "b,c"], "vars.cvmfs_repositories")[1], ",")


@pytest.mark.parametrize("value", ["-oDPkg::Pre-Invoke::=id", "--help", ""])
def test_argv_word_refuses_an_option(value):
    with pytest.raises(UnsafeValue, match="starts with '-'"):
        argv_word(tag(value, "vars.packages[0]"))
    assert argv_word("python3-pip") == "python3-pip"


@pytest.mark.parametrize(
    "escape",
    [shell_quote, classad_string, condor_value, config_value, option_word, argv_word],
)
@pytest.mark.parametrize("value", CONTROL)
def test_every_filter_refuses_control_and_line_break_characters(escape, value):
    with pytest.raises(UnsafeValue, match=r"^vars\.x contains .*refused$"):
        escape(tag(value, "vars.x"))


@pytest.mark.parametrize("escape", [shell_quote, classad_string, config_value])
def test_a_list_is_not_a_value(escape):
    with pytest.raises(UnsafeValue, match="is a list, not a single value"):
        escape(tag(["a"], "vars.qmaster"))


def test_a_missing_variable_stays_a_jinja_error_naming_it():
    from jinja2 import Environment

    env = Environment(undefined=StrictUndefined)
    env.filters["config_value"] = config_value
    with pytest.raises(UndefinedError, match="qmaster"):
        env.from_string("{{ vars.qmaster | config_value }}").render(vars={})


def site_file(tmp_path: Path, qmaster: str) -> Path:
    data = copy.deepcopy(BASE_SITE)
    data["site"]["state"] = str(tmp_path / "state.db")
    data["vos"][0]["context"] = {"template": "sge", "vars": {"qmaster": qmaster}}
    data["vos"][1]["context"] = {"template": "sge", "vars": {"qmaster": "qm.example"}}
    path = tmp_path / "site.yaml"
    path.write_text(yaml.safe_dump(data))
    return path


def test_render_context_shows_a_refused_value_as_a_clean_exit_2(tmp_path, capsys):
    path = site_file(tmp_path, "qm.example\n$pbsserver evil")
    assert main(["-c", str(path), "render-context", "atlas"]) == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err and len(err.strip().splitlines()) == 1
    assert "VO atlas" in err and "vars.qmaster contains a newline" in err
    capsys.readouterr()
    assert main(["-c", str(path), "render-context", "cms"]) == 0


def test_validate_reports_a_refused_value_with_the_vo_and_variable(tmp_path, capsys):
    path = site_file(tmp_path, "qm example")
    assert main(["validate", str(path)]) == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err
    assert "vos[atlas]" in err and "vars.qmaster contains a blank" in err
