"""Each reader on small files written here in that layout's exact shape (GLUE TSVs, Hub parquet, XNLI TSVs,
HatemojiBuild CSV, the paper's rendered gz); unlabelled rows, rejects with reasons, user errors; s3://."""

from __future__ import annotations

import base64
import gzip
import io
import json
import os

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from PIL import Image, ImageDraw

from pixelgpt.finetune.readers import detect_layout, read_split
from pixelgpt.finetune.tasks import FinetuneError


def write(path: str, text: str, encoding: str = "utf-8") -> str:
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w", encoding=encoding, newline="") as f:
        f.write(text)
    return path


def tsv(*rows: tuple) -> str:
    return "".join("\t".join(str(v) for v in row) + "\n" for row in rows)


def reasons(split) -> dict[int, str]:
    return {r.idx: r.reason for r in split.rejects}


# ----------------------------------------------------------------------------------------------------------
# The original GLUE download (glue_data/<Task>/...)


@pytest.fixture
def glue_data(tmp_path) -> str:
    root = str(tmp_path / "glue_data")
    # CoLA: train/dev without header (source, label, original mark, sentence); test with `index sentence`.
    write(
        f"{root}/CoLA/train.tsv",
        tsv(
            ("gj04", 1, "", "Our friends won't buy this analysis, let alone the next one we propose."),
            ("gj04", 0, "*", "They drank the pub."),
            ("gj04", 1, "", "   "),  # empty sentence -> rejected
        ),
    )
    write(f"{root}/CoLA/test.tsv", tsv(("index", "sentence"), (0, "Bill whistled past the house.")))
    write(
        f"{root}/SST-2/dev.tsv",
        tsv(("sentence", "label"), ("it 's a charming and often affecting journey . ", 1), ("bad", 2)),
    )
    # MRPC: the MSR file starts with a byte-order mark; quotes are not TSV quoting.
    msr_header = ("Quality", "#1 ID", "#2 ID", "#1 String", "#2 String")
    write(
        f"{root}/MRPC/msr_paraphrase_train.txt",
        "\ufeff" + tsv(msr_header, (1, 702876, 702977, 'He said "yes" today.', "He said yes.")),
    )
    write(f"{root}/MRPC/dev.tsv", tsv(msr_header, (0, 1, 2, "A b.", "C d.")))
    qqp_header = ("id", "qid1", "qid2", "question1", "question2", "is_duplicate")
    write(
        f"{root}/QQP/train.tsv",
        tsv(qqp_header, (0, 1, 2, "How do I cook rice?", "How to cook rice?", 1), (1, 3, 4, "broken", 0)),
    )
    sts_header = ("index", "genre", "filename", "year", "old_index", "source1", "source2", "sentence1")
    write(
        f"{root}/STS-B/dev.tsv",
        tsv(
            (*sts_header, "sentence2", "score"),
            (0, "main-captions", "MSRvid", "2012test", "0000", "none", "none", "A man.", "A guy.", "3.800"),
            (1, "main-captions", "MSRvid", "2012test", "0001", "none", "none", "A cat.", "A dog.", "7.5"),
        ),
    )
    write(
        f"{root}/STS-B/test.tsv",
        tsv((*sts_header, "sentence2"), (0, "main-news", "x", "2016", "0", "n", "n", "One.", "Two.")),
    )
    mnli_header = ("index", "promptID", "pairID", "genre", "sentence1_binary_parse", "sentence2_binary_parse")
    mnli_header += ("sentence1_parse", "sentence2_parse", "sentence1", "sentence2")
    mnli_dev = tsv(
        (*mnli_header, "label1", "label2", "label3", "label4", "label5", "gold_label"),
        (0, 1, "1e", "gov", "(", "(", "(", "(", "P one.", "H one.", *["neutral"] * 5, "neutral"),
        (1, 2, "2e", "gov", "(", "(", "(", "(", "P two.", "H two.", *["entailment"] * 5, "entailment"),
        (
            2,
            3,
            "3e",
            "gov",
            "(",
            "(",
            "(",
            "(",
            "P three.",
            "H three.",
            *["contradiction"] * 5,
            "contradiction",
        ),
    )
    write(f"{root}/MNLI/dev_matched.tsv", mnli_dev)
    write(f"{root}/MNLI/dev_mismatched.tsv", mnli_dev)
    write(
        f"{root}/MNLI/test_matched.tsv",
        tsv(mnli_header, (0, 1, "1e", "gov", "(", "(", "(", "(", "P.", "H.")),
    )
    write(
        f"{root}/QNLI/dev.tsv",
        tsv(("index", "question", "sentence", "label"), (0, "What?", "This.", "not_entailment")),
    )
    write(
        f"{root}/RTE/dev.tsv",
        tsv(
            ("index", "sentence1", "sentence2", "label"),
            (0, "A b c.", "A b.", "entailment"),
            (1, "X.", "Y.", "maybe"),
        ),
    )
    write(f"{root}/RTE/test.tsv", tsv(("index", "sentence1", "sentence2"), (0, "T1.", "T2.")))
    write(f"{root}/WNLI/train.tsv", tsv(("index", "sentence1", "sentence2", "label"), (0, "S1.", "S2.", 1)))
    return root


def test_glue_tsv_every_task_from_the_download_root(glue_data):
    cola = read_split(glue_data, "cola", "train")
    assert cola.layout == "glue-tsv" == detect_layout(glue_data, "cola")
    assert [(e.texts, e.label, e.idx) for e in cola.examples] == [
        (("Our friends won't buy this analysis, let alone the next one we propose.",), 1, 0),
        (("They drank the pub.",), 0, 1),
    ]
    assert reasons(cola) == {2: "empty text in field 'sentence'"}

    cola_test = read_split(glue_data, "cola", "test")
    assert [(e.texts, e.label) for e in cola_test.examples] == [(("Bill whistled past the house.",), None)]

    sst2 = read_split(glue_data, "sst2", "validation")
    assert [e.label for e in sst2.examples] == [1]
    assert reasons(sst2) == {1: "label out of range: 2 (sst2 has 2 labels)"}

    mrpc = read_split(glue_data, "mrpc", "train")  # no train.tsv: the MSR file, its BOM dropped
    assert [(e.texts, e.label) for e in mrpc.examples] == [(('He said "yes" today.', "He said yes."), 1)]
    assert read_split(glue_data, "mrpc", "validation").examples[0].label == 0

    qqp = read_split(glue_data, "qqp", "train")
    assert [e.texts for e in qqp.examples] == [("How do I cook rice?", "How to cook rice?")]
    assert reasons(qqp) == {1: "unparsable line: 5 tab-separated fields, expected 6"}

    stsb = read_split(glue_data, "stsb", "validation")
    assert [(e.texts, e.label) for e in stsb.examples] == [(("A man.", "A guy."), pytest.approx(3.8))]
    assert reasons(stsb) == {1: "label out of range: 7.5 (stsb scores lie in [0, 5])"}
    assert [e.label for e in read_split(glue_data, "stsb", "test").examples] == [None]


def test_glue_tsv_label_strings_map_to_the_hub_ids(glue_data):
    for split in ("validation_matched", "validation_mismatched"):
        mnli = read_split(glue_data, "mnli", split)  # Hub order: entailment 0, neutral 1, contradiction 2
        assert [(e.texts[0], e.label) for e in mnli.examples] == [
            ("P one.", 1),
            ("P two.", 0),
            ("P three.", 2),
        ]
    assert [e.label for e in read_split(glue_data, "mnli", "test_matched").examples] == [None]
    assert [e.label for e in read_split(glue_data, "qnli", "validation").examples] == [1]  # not_entailment

    rte = read_split(glue_data, "rte", "validation")
    assert [e.label for e in rte.examples] == [0]
    assert reasons(rte) == {1: "unknown label: 'maybe' (labels: entailment, not_entailment)"}
    assert [e.texts for e in read_split(glue_data, "rte", "test").examples] == [("T1.", "T2.")]
    assert [e.label for e in read_split(glue_data, "wnli", "train").examples] == [1]


def test_glue_tsv_task_folder_given_directly(glue_data):
    split = read_split(os.path.join(glue_data, "RTE"), "rte", "validation")
    assert split.layout == "glue-tsv" and len(split.examples) == 1


# ----------------------------------------------------------------------------------------------------------
# Hub parquet (nyu-mll/glue, facebook/xnli)


def write_parquet(path: str, columns: dict) -> None:
    os.makedirs(os.path.dirname(path), exist_ok=True)
    pq.write_table(pa.table(columns), path)


def test_hub_parquet_glue_and_xnli(tmp_path):
    glue = str(tmp_path / "glue")
    write_parquet(
        f"{glue}/rte/train-00000-of-00001.parquet",
        {
            "sentence1": ["A.", "B.", "C."],
            "sentence2": ["a.", "b.", ""],
            "label": [0, 5, 1],
            "idx": [0, 1, 2],
        },
    )
    write_parquet(
        f"{glue}/rte/test-00000-of-00001.parquet", {"sentence1": ["T."], "sentence2": ["t."], "label": [-1]}
    )
    write_parquet(
        f"{glue}/mnli/validation_matched-00000-of-00001.parquet",
        {"premise": ["P."], "hypothesis": ["H."], "label": [2], "idx": [0]},
    )
    write_parquet(f"{glue}/cola/train/0000.parquet", {"sentence": ["Fine."], "label": [1]})  # refs/convert
    write_parquet(f"{glue}/stsb/validation-00000-of-00001.parquet", {"sentence1": ["x"], "sentence2": ["y"]})

    rte = read_split(glue, "rte", "train")
    assert rte.layout == "hub-parquet"
    assert [(e.texts, e.label, e.idx) for e in rte.examples] == [(("A.", "a."), 0, 0)]
    assert reasons(rte) == {
        1: "label out of range: 5 (rte has 2 labels)",
        2: "empty text in field 'sentence2'",
    }
    assert [e.label for e in read_split(glue, "rte", "test").examples] == [None]
    assert read_split(glue, "mnli", "validation_matched").examples[0].texts == ("P.", "H.")
    assert read_split(glue, "cola", "train").examples[0].label == 1
    assert read_split(glue, "stsb", "validation").examples[0].label is None  # no label column: predicted

    xnli = str(tmp_path / "xnli")
    for lang, premise in (("en", "The cat sat."), ("fr", "Le chat dort."), ("sw", "Paka amelala.")):
        for split in ("validation", "test"):
            write_parquet(
                f"{xnli}/{lang}/{split}-00000-of-00001.parquet",
                {"premise": [premise, premise], "hypothesis": ["h", "h2"], "label": [0, 2]},
            )
    split = read_split(xnli, "xnli", "validation", languages=["fr", "en"])
    assert [(e.language, e.idx, e.label) for e in split.examples] == [
        ("fr", 0, 0),
        ("fr", 1, 2),
        ("en", 2, 0),
        ("en", 3, 2),
    ]
    with pytest.raises(FinetuneError, match="no files for language.*de"):
        read_split(xnli, "xnli", "test", languages=["en", "de"])


# ----------------------------------------------------------------------------------------------------------
# XNLI-1.0 / XNLI-MT-1.0 TSVs


def test_xnli_tsv_dev_test_and_translate_train(tmp_path):
    root = str(tmp_path)
    header = ("language", "gold_label", "sentence1_binary_parse", "sentence2_binary_parse", "sentence1_parse")
    header += ("sentence2_parse", "sentence1", "sentence2", "promptID", "pairID", "genre")
    header += ("label1", "label2", "label3", "label4", "label5", "sentence1_tokenized", "sentence2_tokenized")
    tail = ("1", "1", "facetoface", "neutral", "neutral", "neutral", "neutral", "neutral", "t1", "t2")
    write(
        f"{root}/XNLI-1.0/xnli.dev.tsv",
        tsv(
            header,
            ("en", "neutral", "(", "(", "(", "(", "He came.", "He left.", *tail),
            ("de", "contradiction", "(", "(", "(", "(", "Er kam.", "Er ging.", *tail),
            ("fr", "entailment", "(", "(", "(", "(", "Il vint.", "", *tail),
            ("xx", "entailment", "(", "(", "(", "(", "?", "?", *tail),
        ),
    )
    write(
        f"{root}/XNLI-MT-1.0/multinli/multinli.train.fr.tsv",
        tsv(
            ("premise", "hypo", "label"),
            ("Il pleut.", "Il fait beau.", "contradictory"),
            ("a", "b", "neutral"),
        ),
    )
    assert detect_layout(root, "xnli") == "xnli-tsv"
    dev = read_split(root, "xnli", "validation", languages=["en", "de", "fr"])
    assert [(e.language, e.texts, e.label) for e in dev.examples] == [
        ("en", ("He came.", "He left."), 1),
        ("de", ("Er kam.", "Er ging."), 2),
    ]
    assert reasons(dev) == {2: "empty text in field 'hypothesis'", 3: "unknown language: 'xx'"}
    train = read_split(root, "xnli", "train", languages="fr")
    assert [(e.texts, e.label, e.language) for e in train.examples] == [
        (("Il pleut.", "Il fait beau."), 2, "fr"),  # contradictory = contradiction
        (("a", "b"), 1, "fr"),
    ]
    with pytest.raises(FinetuneError, match="no files for language.*en"):
        read_split(root, "xnli", "train", languages=["fr", "en"])
    with pytest.raises(FinetuneError, match="no rows for language.*sw"):
        read_split(root, "xnli", "validation", languages=["en", "sw"])


# ----------------------------------------------------------------------------------------------------------
# HatemojiBuild CSV


def test_hatemoji_csv_with_a_split_column(tmp_path):
    path = str(tmp_path / "HatemojiTrain.csv")
    columns = "entry_id,text,type,target,round.base,round.set,set,split,label_gold,matched_text,matched_id\n"
    rows = [
        '1,"I love 🐍, truly ""really""",none,none,5,5a,original,train,0,x,2\n',
        "2,those people are 🐀,dehumanization,black,5,5b,perturbation,train,1,y,1\n",
        "3,,none,none,5,5a,original,train,1,z,4\n",
        "4,nice day 🌞,none,none,6,6a,original,dev,0,w,5\n",
        "5,🙂 ok,none,none,7,7a,original,test,hateful,v,6\n",
    ]
    write(path, columns + "".join(rows))
    train = read_split(str(tmp_path), "hatemoji", "train")
    assert train.layout == "hatemoji-csv"
    assert [(e.texts, e.label) for e in train.examples] == [
        (('I love 🐍, truly "really"',), 0),
        (("those people are 🐀",), 1),
    ]
    assert reasons(train) == {2: "empty text in field 'text'"}
    assert [e.texts for e in read_split(path, "hatemoji", "validation").examples] == [("nice day 🌞",)]
    assert [e.label for e in read_split(path, "hatemoji", "test").examples] == [1]


# ----------------------------------------------------------------------------------------------------------
# The paper's rendered layout (baidu/rendered_GLUE, baidu/rendered_xnli)


def png_base64(width: int, height: int = 16) -> str:
    image = Image.new("RGB", (width, height), "white")
    ImageDraw.Draw(image).rectangle([2, 3, 9, 12], fill=(200, 30, 30))
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return base64.b64encode(buffer.getvalue()).decode("ascii")


def write_gz_lines(path: str, lines: list[str]) -> None:
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with gzip.open(path, "wt", encoding="utf-8") as f:
        f.write("".join(line + "\n" for line in lines))


def rendered_row(label, image: str, **texts) -> str:
    return json.dumps({**texts, "label": label, "image": image, "num_patches": 3}, ensure_ascii=False)


@pytest.fixture
def rendered_glue(tmp_path) -> str:
    root = str(tmp_path / "rendered_glue")
    write_gz_lines(
        f"{root}/rte-validation/part-00000.gz",
        [
            rendered_row(0, png_base64(64), sentence1="A b.", sentence2="A."),
            rendered_row(1, png_base64(64, height=20), sentence1="C.", sentence2="D."),  # wrong height
            "{not json",
            rendered_row(3, png_base64(32), sentence1="E.", sentence2="F."),  # out of range
            rendered_row(1, "@@@", sentence1="G.", sentence2="H."),
        ],
    )
    write_gz_lines(
        f"{root}/rte-test/part-00000.gz", [rendered_row(-1, png_base64(48), sentence1="T.", sentence2="t.")]
    )
    write_gz_lines(
        f"{root}/../rendered_xnli/xnli-sw-validation/part-00000.gz",
        [rendered_row(2, png_base64(80), premise="Hiyo ilikuwa hamaki.", hypothesis="Hii hai.")],
    )
    return root


def test_rendered_gz_images_labels_and_rejects(rendered_glue):
    split = read_split(rendered_glue, "rte", "validation")
    assert split.layout == "rendered-gz" and len(split.examples) == 1
    example = split.examples[0]
    assert example.texts == ("A b.", "A.") and example.label == 0 and example.num_patches == 3
    assert example.image.dtype == np.uint8 and example.image.shape == (16, 64, 3)
    assert tuple(example.image[5, 5]) == (200, 30, 30) and tuple(example.image[0, 0]) == (255, 255, 255)
    got = reasons(split)
    assert got[1] == "image of the wrong height: 20 px, expected 16"
    assert got[2].startswith("unparsable JSON line")
    assert got[3] == "label out of range: 3 (rte has 2 labels)"
    assert got[4] == "image is not valid base64"
    assert split.reject_counts()["image of the wrong height"] == 1

    test = read_split(rendered_glue, "rte", "test")
    assert [(e.label, e.image.shape) for e in test.examples] == [(None, (16, 48, 3))]

    lazy = read_split(rendered_glue, "rte", "validation", decode_images=False)
    assert lazy.examples[0].image is None and np.array_equal(lazy.examples[0].pixels(), example.image)
    assert len(lazy.rejects) == 4  # the height is checked without decoding


def test_rendered_xnli_language_folders(rendered_glue):
    root = os.path.join(os.path.dirname(rendered_glue), "rendered_xnli")
    split = read_split(root, "xnli", "validation", languages=["sw"])
    assert [(e.language, e.texts, e.label, e.image.shape) for e in split.examples] == [
        ("sw", ("Hiyo ilikuwa hamaki.", "Hii hai."), 2, (16, 80, 3))
    ]


# ----------------------------------------------------------------------------------------------------------
# User errors: one line naming what is wrong


def test_unknown_task_missing_split_and_no_layout(glue_data, tmp_path):
    with pytest.raises(FinetuneError, match="unknown task 'boolq'.*known tasks: cola"):
        read_split(glue_data, "boolq", "train")
    with pytest.raises(
        FinetuneError, match=r"split 'train' of rte not found under .*glue_data.*found: validation, test"
    ):
        read_split(glue_data, "rte", "train")
    with pytest.raises(FinetuneError, match="rte has no split 'dev'"):
        read_split(glue_data, "rte", "dev")
    with pytest.raises(FinetuneError, match="no supported layout for hatemoji"):
        read_split(glue_data, "hatemoji", "train")
    with pytest.raises(FinetuneError, match="no files under"):
        read_split(str(tmp_path / "nowhere"), "rte", "train")
    with pytest.raises(FinetuneError, match="languages apply to xnli only"):
        read_split(glue_data, "rte", "validation", languages=["en"])
    with pytest.raises(FinetuneError, match="unknown xnli language"):
        read_split(glue_data, "xnli", "validation", languages=["klingon"])
    write(
        os.path.join(str(tmp_path), "bad", "RTE", "dev.tsv"),
        tsv(("index", "sentence1", "sentence2", "label"), (0, "", "x", 0)),
    )
    with pytest.raises(FinetuneError, match="no usable example; first reject: empty text"):
        read_split(str(tmp_path / "bad"), "rte", "validation")
    with pytest.raises(FinetuneError) as error:
        read_split(glue_data, "rte", "train")
    assert "\n" not in str(error.value)


# ----------------------------------------------------------------------------------------------------------
# s3:// (no s3fs here: pixelgpt.dataset.storage's boto3 client, S3_ENDPOINT_URL honoured)


def test_read_from_s3(s3_server, glue_data, rendered_glue):
    s3_server.create_bucket(Bucket="finetune-data")
    for local_root, prefix in ((glue_data, "glue_data"), (rendered_glue, "rendered_glue")):
        for folder, _dirs, names in os.walk(local_root):
            for name in names:
                path = os.path.join(folder, name)
                key = f"{prefix}/{os.path.relpath(path, local_root)}"
                s3_server.upload_file(path, "finetune-data", key)
    mnli = read_split("s3://finetune-data/glue_data", "mnli", "validation_matched")
    assert [e.label for e in mnli.examples] == [1, 0, 2]
    assert mnli.files == ("s3://finetune-data/glue_data/MNLI/dev_matched.tsv",)
    rendered = read_split("s3://finetune-data/rendered_glue/", "rte", "validation")
    assert rendered.layout == "rendered-gz" and rendered.examples[0].image.shape == (16, 64, 3)
    with pytest.raises(FinetuneError, match="no files under s3://finetune-data/nothing"):
        read_split("s3://finetune-data/nothing", "rte", "validation")
