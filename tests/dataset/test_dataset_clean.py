from pixelgpt.dataset.clean import clean_document


def test_controls_are_removed_but_tabs_newlines_and_indentation_stay():
    text = "a\x00b\x07c\x1bd\x7fe\x85f\x9fg\tx\n    indented"
    assert clean_document(text) == "abcdefg\tx\n    indented"


def test_line_endings_trailing_spaces_and_blank_lines():
    assert clean_document("  one  \r\ntwo\r\r\n   \n\t\nthree\t \n") == "one\ntwo\nthree"


def test_lone_surrogates_become_replacement_characters():
    assert clean_document("a\ud800b\udfffc") == "a\ufffdb\ufffdc"


def test_whitespace_only_becomes_empty_and_plain_text_is_unchanged():
    assert clean_document(" \n\t \r\n ") == ""
    plain = "Plain text, 中文 and עברית — unchanged."
    assert clean_document(plain) == plain
