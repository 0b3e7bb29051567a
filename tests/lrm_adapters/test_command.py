"""The one choke point for LRM commands: what it does with output that is not UTF-8."""

from __future__ import annotations

from lrm_adapters._command import CommandRunner


def test_a_byte_that_is_not_utf8_is_replaced_not_a_decode_error():
    out = CommandRunner(5).run(["printf", "host-\\377-a\\n"])
    assert out == "host-\ufffd-a\n"
