from pixelgpt.dataset.normalize import normalize


def test_controls_are_removed_but_tabs_newlines_and_indentation_stay():
    text = "a\x00b\x07c\x1bd\x7fe\x85f\x9fg\tx\n    indented"
    assert normalize(text) == "abcdefg\tx\n    indented"


def test_line_endings_trailing_spaces_and_blank_lines():
    assert normalize("  one  \r\ntwo\r\r\n   \n\t\nthree\t \n") == "one\ntwo\nthree"


def test_lone_surrogates_become_replacement_characters():
    assert normalize("a\ud800b\udfffc") == "a\ufffdb\ufffdc"


def test_whitespace_only_becomes_empty_and_plain_text_is_unchanged():
    assert normalize(" \n\t \r\n ") == ""
    plain = "Plain text, 中文 and עברית — unchanged."
    assert normalize(plain) == plain
