"""What a question asks for (rag.answer_types): a count, a year, a version, a time, a name."""

import pytest

from rag.answer_types import Expected, expected, holds, values


@pytest.mark.parametrize(("question", "kind"), [
    ("How many American soldiers will take part?", "count"),
    ("And how much territory was occupied?", "count"),
    ("In which year did Armenia join the CSTO?", "year"),
    ("Since which Python version can I pass text=True?", "version"),
    ("Which Python version introduced the match statement?", "version"),
    ("When was asyncio.TaskGroup added?", "time"),
    ("What is the population of Armenia?", "count"),
    ("What was the total area of the occupied territory?", "count"),
    ("What is the purpose of the exercise?", None),
    ("What is the numeric value of ASN1_MAX_NAME_SIZE?", "count"),
    ("What is the maximum length, in characters, of a glob pattern?", "count"),
    ("What is the default value of sep?", None),  # None, a string, ...: not a number
    ("On what date did parliament vote?", "time"),
    ("Which day does the exercise start?", "time"),
    ("What is the name of the Chief of the General Staff?", "name"),
    ("What's the name of the spokesman?", "name"),
    ("Who flew to Kiev on September 6?", "name"),
    ("Which newspaper interviewed Pashinyan on September 2?", "name"),
    # Only the opening decides: a "how many" inside the question asks for no count.
    ("What does os.cpu_count() return when it cannot tell how many CPUs there are?", None),
    ("Is there a limit on how many digits int() will convert?", None),
    ("Which mode does open() use if I don't give one?", None),
    ("What did Peskov say?", None),
    # A preposition before the asked noun: "In which city", "For how much money".
    ("In which city was Ian Murdock born?", "name"),
    ("At which company was the project leader working?", "name"),
    ("For how much money did Corel sell its Linux division?", "count"),
    ("In what way is it done?", None),
    # A numeric noun asks for a number: "numeric", "number", a port, a uid.
    ("What numeric user id did the operator account have?", "count"),
    ("Which port number does the daemon listen on?", "count"),
    ("What gid does the plugdev group have?", "count"),
    ("What version number is the release?", "version"),
    ("What number of the list is the item?", None),
    # A clause that sets the scene: the question proper, after its comma, decides.
    ("When Ian Murdock left Debian, who did he pick to lead the project?", "name"),
    ("If the exercise starts on Monday, how many soldiers take part?", "count"),
    ("When did Murdock leave, and who replaced him?", "time"),
    ("When did Peskov, who is Putin's spokesman, say this?", "time"),  # a relative clause
    # A ratio is a number: "by what factor", "what percentage"; a factor as a cause is not.
    ("By what factor does the option slow the program down?", "count"),
    ("What percentage of the packages build reproducibly?", "count"),
    ("In what proportion are the two mixed?", "count"),
    ("What factor did the court cite?", None),
    # A duration's noun before its verb asks for a number, with its modifiers; not after a
    # verb, nor as a modifier itself ("which timeout error").
    ("What default network timeout does pip use?", "count"),
    ("Which retry delay will the client wait?", "count"),
    ("What happens at timeout?", None),
    ("What is the timeout for?", None),
    ("Which timeout error does asyncio.wait_for raise?", "exception"),
    ("What timeout exception does requests raise?", "exception"),
    ("What delay causes the audio glitch?", None),
    ("What interval tree implementation does the kernel use?", None),
    ("What fraction module does Python provide?", None),
    ("What percentage sign does printf use?", None),
])
def test_the_opening_of_a_question_sets_the_type(question, kind):
    found = expected(question)
    assert (found.kind if found else None) == kind


@pytest.mark.parametrize(("question", "text", "ok"), [
    # A date is not a count, nor a year in a name ("Eagle partner 2023").
    ("How many American soldiers will take part in the exercise?",
     "On September 11, the joint exercise “Eagle partner 2023” will start in Armenia.", False),
    ("How many times has Azerbaijan used armed forces?", "It used them three times.", True),
    ("How much territory has Azerbaijan occupied since May 2021?",
     "Approximately 140 square kilometers.", True),
    # A value the question already holds is no answer to it.
    ("How much faster is Python 3.11 than Python 3.10?", "Python 3.11 is faster than 3.10.",
     False),
    ("How much faster is Python 3.11 than Python 3.10?", "It is 10-60% faster.", True),
    ("In which year did Armenia join the CSTO?", "Armenia is a member of the CSTO.", False),
    ("In which year did Armenia join the CSTO?", "It joined in 1992.", True),
    ("Since which Python version can I pass text=True?", "Since Python 3.7.", True),
    ("Since which Python version can I pass text=True?", "You can pass text=True.", False),
    ("When did the ICC issue the warrant?", "On March 17.", True),
    ("When did the ICC issue the warrant?", "The court issued it.", False),
    # A digit inside a name is no time: "task1" in a code line.
    ("When was asyncio.TaskGroup added?", "task1 = tg.create_task(some_coro(...))", False),
    ("When was asyncio.TaskGroup added?", "New in version 3.11: asyncio.TaskGroup.", True),
    # A duration in words is a time.
    ("When must the written offer be valid?", "For at least three years.", True),
    ("When must the written offer be valid?", "For as long as you offer spare parts.", False),
    # "Since" gives a time when a time follows it, not a reason.
    ("When is parliament to vote on the statute?", "We need it, since war crimes are being "
     "committed against our country.", False),
    ("When did the blockade start?", "It has been blocked since the war ended.", True),
    ("When was the option added?", "It has been available since v3.", True),
    ("When was the option added?", "It has been there since its first release.", True),
    ("Which newspaper interviewed Pashinyan?", "The Italian newspaper La Repubblica.", True),
    ("Which newspaper interviewed Pashinyan?", "A newspaper interviewed Pashinyan.", False),
    # A date's day ("February 6th"), a section's number ("4.7.") and a version family
    # ("the 6.x releases") count nothing.
    ("How many developers were there when Debian 6.0 was released?",
     "4.7. The 6.x Releases\nDebian 6.0 (squeeze) was released February 6th, 2011.", False),
    ("How many developers were there when Debian 6.0 was released?",
     "By then 1,010 developers maintained packages.", True),
    # "one of the speakers" counts nothing; a demonym of the question's name is no new name.
    ("How many tonnes of aid did she bring?", "She was one of the speakers of the summit.",
     False),
    ("How many tonnes of aid did she bring?", "She brought one tonne of aid.", True),
    ("What is the name of the Armenian Chief of the General Staff?",
     "It is the Chief of the General Staff of Armenia.", False),
    ("What is the name of the Armenian Chief of the General Staff?",
     "Chief of the General Staff Edward Asryan.", True),
    # A factor counts ("5x", "tenfold"); "much more slowly" is no factor.
    ("By what factor does the option slow the program down?",
     "It involves a slow-down of about 5x.", True),
    ("By what factor does the option slow the program down?", "It grows tenfold.", True),
    ("By what factor does the option slow the program down?",
     "The program will run much more slowly.", False),
])
def test_a_text_holds_a_value_of_the_type(question, text, ok):
    want = expected(question)
    assert want is not None
    assert holds(want, text, question) is ok, values(want.kind, text, question)


def test_values_stand_whole_and_names_need_not_be_ascii():
    from rag.answer_types import occurs

    assert occurs("3.1", "New in version 3.1.") and not occurs("3.1", "New in version 3.12.")
    assert not occurs("1", "It lasts 10 days")
    assert occurs("ten", "Ten tenants.") and not occurs("ten", "The tenants.")
    # A version written with its "v" holds the number; another word's digits do not.
    assert occurs("15.0.0", "now supported (`>= v15.0.0`)") and occurs("2.39", "Git v2.39")
    assert not occurs("15.0.0", "dev15.0.0") and not occurs("15.0", "v15.0.0")
    # A number word the question holds only inside another word is still an answer.
    assert values("count", "Ten tenants live there.", "How many tenants live there?") == ["Ten"]
    assert values("name", "Émile Łukasz said so.", "Who said so?") == ["Émile", "Łukasz"]
    # "Whole", "Whoever": no "who" question.
    assert expected("Whole-number division: what does // return?") is None


def test_what_exception_asks_for_an_exception_name():
    q = "What exception is raised if I try to assign to a field of a frozen dataclass?"
    assert expected(q) == Expected("exception")
    assert expected("Which error does zip() raise?") == Expected("exception")
    assert expected("What happens if I call max() on an empty list?") is None
    # An error in a news story is a mistake, not an exception.
    assert expected("What error did Russia make, according to Pashinyan?") is None
    assert values("exception", "exception dataclasses.FrozenInstanceError: raised when", q) \
        == ["FrozenInstanceError"]
    assert values("exception", "raise a TimeoutExpired exception, a subclass of "
                  "SubprocessError", q) == ["TimeoutExpired", "SubprocessError"]
    # A name the question already holds is no answer; nor is a plain capitalised word.
    assert values("exception", "A ValueError is raised.", "Is a ValueError raised?") == []
    assert values("exception", "Raised when the field is frozen.", q) == []


def test_a_list_items_number_counts_nothing_and_a_month_is_no_name():
    q = "What is the maximum number of members of the Technical Committee?"
    assert values("count", "2. A member of the Technical Committee is more senior.", q) == []
    assert values("count", "  3) It has up to 8 members.", q) == ["8"]
    assert values("name", "Ian Murdock died in December 2015, on a Monday, in Berlin.",
                  "In which city was Ian Murdock born?") == ["Berlin."]
