"""The compiled catalogs (.mo, what Django reads) say what the sources (.po) say, and nothing is left
untranslated: a .po edited without recompiling, or a new string without its Chinese, fails here."""

import ast
import gettext
import re
from pathlib import Path

import pytest

LOCALE = Path(__file__).resolve().parent.parent / "locale"
ENTRY = re.compile(
    r'^(#, fuzzy\n)?(?:#.*\n)*(?:msgctxt ((?:".*"\n)+))?msgid ((?:".*"\n)+)(?:msgid_plural ((?:".*"\n)+))?'
    r"((?:msgstr.*\n(?:\".*\"\n)*)+)",
    re.M,
)


def text(block: str) -> str:
    return "".join(ast.literal_eval(line) for line in block.splitlines() if line.strip())


def entries(po: Path):
    """(msgid, plural, translations, fuzzy) per entry; a msgid with a context is written as gettext keeps
    it, ``context\x04msgid``."""
    for match in ENTRY.finditer(po.read_text() + "\n"):
        fuzzy, context, msgid, plural, msgstrs = match.groups()
        if not text(msgid):
            continue  # the header
        forms = [text(part) for part in re.split(r"^msgstr(?:\[\d+\])? ", msgstrs, flags=re.M) if part.strip()]
        key = f"{text(context)}\x04{text(msgid)}" if context else text(msgid)
        yield key, text(plural) if plural else None, forms, bool(fuzzy)


@pytest.mark.parametrize("language", ["zh_Hans", "zh_Hant"])
@pytest.mark.parametrize(("domain", "least"), [("django", 300), ("djangojs", 13)])
def test_every_message_is_translated_and_compiled(language, domain, least):
    po = LOCALE / language / "LC_MESSAGES" / f"{domain}.po"
    with open(po.with_suffix(".mo"), "rb") as handle:
        catalog = gettext.GNUTranslations(handle)
    checked = 0
    for msgid, plural, forms, fuzzy in entries(po):
        assert not fuzzy, f"{language}: fuzzy translation of {msgid!r}"
        assert all(forms), f"{language}: {msgid!r} is not translated"
        if plural is None:
            assert catalog.gettext(msgid) == forms[0], f"{language}: the .mo is older than the .po for {msgid!r}"
        else:
            assert catalog.ngettext(msgid, plural, 1) == forms[0], msgid
        checked += 1
    assert checked >= least


MARKED = re.compile(r"""\b(?:_|_lazy|gettext|gettext_lazy)\(\s*"((?:[^"\\]|\\.)+)"\s*[,)]""")
# pgettext("context", "message"): kept as gettext keeps it, context\x04message
IN_CONTEXT = re.compile(r"""\bpgettext(?:_lazy)?\(\s*"((?:[^"\\]|\\.)+)"\s*,\s*"((?:[^"\\]|\\.)+)"\s*[,)]""")
APPS = ("console", "book", "risk", "liquidation", "notices", "recovery", "margincall")


def test_every_string_marked_in_the_code_is_in_the_catalogs():
    """A string the extractor cannot see (marked with a name it does not know) is never translated."""
    known = {msgid for msgid, _plural, _forms, _fuzzy in entries(LOCALE / "zh_Hans" / "LC_MESSAGES" / "django.po")}
    root = LOCALE.parent
    missing = sorted(
        (str(path.relative_to(root)), message)
        for app in APPS
        for path in (root / app).rglob("*.py")
        if "migrations" not in path.parts
        for message in [
            *MARKED.findall(path.read_text()),
            *(f"{context}\x04{message}" for context, message in IN_CONTEXT.findall(path.read_text())),
        ]
        if ast.literal_eval(f'"{message}"') not in known
    )
    assert missing == []


def test_the_admin_words_of_django_axes_are_the_package_s_own():
    """console.third_party lists django-axes' words to translate them; each must still be one of its
    words (a renamed one would show in English again), and each is in the catalogues."""
    import axes

    from console.third_party import AXES

    source = "\n".join(path.read_text() for path in Path(axes.__file__).parent.rglob("*.py"))
    marked = set(MARKED.findall(source))
    assert [word for word in AXES if word not in marked] == []
    for language in ("zh_Hans", "zh_Hant"):
        known = {msgid for msgid, _plural, _forms, _fuzzy in entries(LOCALE / language / "LC_MESSAGES" / "django.po")}
        assert [word for word in AXES if word not in known] == [], language


def test_the_words_of_django_guardian_s_pages_are_the_package_s_own():
    """console.third_party lists django-guardian's words on its desk permission pages (its templates'
    and its code's) to translate them; each must still be one of its words, and in the catalogues."""
    import guardian

    from console.third_party import GUARDIAN

    root = Path(guardian.__file__).parent
    code = "\n".join(path.read_text() for path in root.rglob("*.py"))
    templates = "\n".join(path.read_text() for path in (root / "templates" / "admin" / "guardian").rglob("*.html"))
    marked = set(MARKED.findall(code)) | set(re.findall(r"""{% trans(?:late)? "([^"]+)" %}""", templates))
    assert [word for word in GUARDIAN if word not in marked] == []
    for language in ("zh_Hans", "zh_Hant"):
        known = {msgid for msgid, _plural, _forms, _fuzzy in entries(LOCALE / language / "LC_MESSAGES" / "django.po")}
        assert [word for word in GUARDIAN if word not in known] == [], language
