"""Text samples shared by the renderer tests (one line per script the issue names)."""

SCRIPTS = {
    "latin": "The quick brown fox jumps over the lazy dog, déjà vu.",
    "cyrillic": "Съешь же ещё этих мягких французских булок.",
    "greek": "Ξεσκεπάζω την ψυχοφθόρα βδελυγμία.",
    "chinese": "我能吞下玻璃而不伤身体。",
    "japanese": "いろはにほへと ちりぬるを カタカナ 漢字",
    "korean": "다람쥐 헌 쳇바퀴에 타고파",
    "arabic": "مرحبا بالعالم، كيف حالك؟",
    "hebrew": "שלום עולם, מה שלומך?",
    "thai": "สวัสดีชาวโลก ภาษาไทย",
    "devanagari": "नमस्ते दुनिया, आप कैसे हैं?",
    "bengali": "আমি কাঁচ খেতে পারি",
    "tamil": "வணக்கம் உலகம்",
    "emoji": "ok 😀🚀👍🏽 👨‍👩‍👧 🇫🇷",
}
