import pytest

from rag.abstention import check_evidence, model_abstained
from rag.text import key_terms, stem, word_keys
from rag.types import Chunk, Passage


def _p(text: str) -> Passage:
    return Passage(Chunk("d", "d#0", 0, len(text), text), "T", 1.0)


PASSAGES = [_p("Russian presidential spokesman Dmitry Peskov said Russia cannot leave Armenia."),
            _p("On March 17, the ICC issued an arrest warrant for Vladimir Putin.")]


@pytest.mark.parametrize(("question", "terms"), [
    ("What did Peskov say?", ["Peskov"]),
    ("What did Emmanuel Macron say about Armenia’s army?", ["Emmanuel", "Macron", "Armenia"]),
    ("What happened on March 17?", ["March", "17"]),
    ("what did he say", []),
])
def test_key_terms(question, terms):
    assert key_terms(question) == terms


# The documents' word keys, stemmed as rag.text.word_keys gives them.
CORPUS = {stem(w) for w in ("peskov", "russia", "armenia", "putin", "march", "17", "lavrov",
                            "simonyan", "russian", "led", "rome", "statute")}


def speaks(name: str) -> bool:
    return name in {"Peskov", "Simonyan"}


@pytest.mark.parametrize(("question", "abstain", "missing"), [
    ("What did Peskov say?", False, ()),
    ("What did Peskov’s office say about Armenia?", False, ()),
    ("What did Emmanuel Macron say about Armenia?", True, ("Emmanuel", "Macron")),
    ("What happened in 1995?", True, ("1995",)),
    ("What happened on March 17?", False, ()),
    ("Summarise what Peskov said.", False, ()),
    ("Explain the role of Peskov.", False, ()),
    ("Macron said what about Armenia?", True, ()),  # first word: caught as a silent speaker
    # In the documents, though not in these passages: left to the model.
    ("What did Simonyan say about Armenia?", False, ()),
    ("Why is Armenia unhappy with the Russian-led bloc?", False, ()),
    # A seat of power stands for its country, when the documents name the country.
    ("Who speaks for the Kremlin?", False, ()),
    ("How did the White House react?", True, ("White", "House")),
    # A question in parts abstains only when every part names something absent.
    ("What did Peskov say, and how did Macron answer?", False, ()),
    ("What did Macron say, and how did Scholz answer?", True, ("Macron", "Scholz")),
    # A name the passages write as its acronym ("the ICC") is there; one they do not is not.
    ("Why did the International Criminal Court issue a warrant?", False, ()),
    ("Why did the International Court of Justice issue a warrant?", True,
     ("International", "Court", "Justice")),
])
def test_evidence_check(question, abstain, missing):
    check = check_evidence(question, PASSAGES, CORPUS, speaks)
    assert check.abstain is abstain
    assert check.missing == missing


@pytest.mark.parametrize("question", ["What did Putin say about the Rome Statute?",
                                      "According to Lavrov, what happened?"])
def test_asking_what_a_silent_person_said_abstains(question):
    check = check_evidence(question, PASSAGES, CORPUS, speaks)
    assert check.abstain and check.silent and "report nothing said by" in check.reason


def test_a_code_name_no_document_writes_abstains():
    from rag.types import Chunk, Passage

    text = ("os.cpu_count()\n\nReturn the number of CPUs in the system. See also "
            "pathlib.PurePath.suffix and shutil.copytree().")
    passages = [Passage(Chunk("os.html", "os.html#1", 0, len(text), text), "os", 1.0)]
    corpus = {"process", "cpu", "count", "walk", "path", "replace", "copy"}
    check = check_evidence("What does os.process_cpu_count() return?", passages, corpus, speaks)
    assert check.abstain and check.missing == ("os.process_cpu_count",)
    # A name written as its last two parts elsewhere ("PurePath.suffix") is known.
    for known in ("What does os.cpu_count() return?", "What is PurePath.suffix?",
                  "What does pathlib.PurePath.suffix hold?", "Is shutil.copytree recursive?",
                  "What does cpu_count return?"):
        assert not check_evidence(known, passages, corpus, speaks).abstain, known
    # Every word of "pathlib.Path.walk" is in the documents, but not the name.
    assert check_evidence("What does pathlib.Path.walk() yield?", passages, corpus,
                          speaks).missing == ("pathlib.path.walk",)
    # Abbreviations are not code names.
    question = "What did Peskov say, e.g. about Armenia, i.e. Russia?"
    assert not check_evidence(question, PASSAGES, CORPUS, speaks).missing


def test_no_passages_abstains():
    assert check_evidence("What did Peskov say?", [], CORPUS, speaks).abstain


@pytest.mark.parametrize(("text", "abstained"), [
    ("The documents do not say.", True),
    ("The sources don't mention Macron.", True),
    ("There is no information about this in the passages.", True),
    ("I cannot answer that from the sources.", True),
    ("Peskov said Russia cannot leave Armenia [1].", False),
    ("Simonyan said he is not going to comment [2].", False),
    ("The date is not mentioned in the sources.", True),
    ("It is not specified.", True),
    ("I cannot find this in the documents.", True),
    # What a document says, quoted as the answer, is not a refusal.
    ("When the separator is not specified or is None, runs of consecutive whitespace are "
     "regarded as a single separator [2].", False),
    ("ModuleNotFoundError is raised when Python cannot find a module [1].", False),
    ("It is raised when Python cannot find a module [1].", False),
    ("If the encoding information is not provided, UTF-8 is used [2].", False),
])
def test_model_abstention_phrases(text, abstained):
    assert model_abstained(text) is abstained


def test_a_versioned_name_is_known_by_its_name():
    from rag.text import word_keys

    text = "The GNU General Public License (GPL) version 3 guarantees your freedom."
    passages = [Passage(Chunk("gpl", "gpl#0", 0, len(text), text), "GPL", 0.5)]
    corpus = word_keys(text)
    assert not check_evidence("What does GPLv3 say about patents?", passages, corpus,
                              speaks).abstain
    check = check_evidence("What does the MPLv2 say about patents?", passages, corpus, speaks)
    assert check.abstain and check.missing == ("MPLv2",)


def test_a_version_the_documents_write_with_a_v_is_there():
    text = "Multiline values are now supported (`>= v15.0.0`) with line breaks."
    passages = [_p(text)]
    question = "Since version 15.0.0, can a value span lines?"
    corpus = word_keys(text)  # the index's vocabulary is made so
    assert not check_evidence(question, passages, corpus, speaks).abstain
    assert check_evidence("What changed in 16.0.0?", passages, corpus, speaks).abstain


def test_numbers_are_compared_whole():
    from rag.text import term_key, word_keys

    assert key_terms("If Debian had 1,024 developers, what would rsync 3.6.0 do?") == [
        "Debian", "1,024", "3.6.0"]
    assert [term_key(t) for t in ("1,024", "3.6.0", "v15.0.0", "2022")] == [
        "1024", "3.6.0", "15.0.0", "2022"]
    keys = word_keys("NEWS for rsync 3.5.0 (13 Aug 2026): 1,024 developers, Python 3.8.1.")
    assert {"3.5.0", "3.5", "1024", "3.8.1", "3.8"} <= keys and "3.6.0" not in keys
    # A comma or full stop after a number ends it; a digit after it continues it.
    keys = word_keys("Debian 1.0, which was released as 1.1. Then 2,048, and 1,02.")
    assert {"1.0", "1.1", "2048"} <= keys and "102" not in keys
    assert key_terms("Was the limit raised to 2,048, as planned?") == ["2,048"]
    # A version the documents do not have is missing, though its first part is everywhere.
    news = [_p("NEWS for rsync 3.5.0 (13 Aug 2026)\n\nThis release fixes 33 security issues.")]
    corpus = word_keys(news[0].chunk.text)
    check = check_evidence("On what date was rsync 3.6.0 released?", news, corpus, speaks)
    assert check.abstain and check.missing == ("3.6.0",)
    assert not check_evidence("When was rsync 3.5.0 released?", news, corpus, speaks).abstain
    assert not check_evidence("Which rsync 3.5 release fixed 33 issues?", news, corpus,
                              speaks).abstain
