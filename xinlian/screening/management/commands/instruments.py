"""``xinlian instruments list | show | validate | load | load-text`` — the instrument library.

* ``list``: every loaded version (code, version, name, licence status, items, shipped/uploaded).
* ``show CODE [--version V] [--json]``: the definition as readable text, or the raw JSON.
* ``validate FILE...``: check files and list every error of each; nothing is loaded.
* ``load FILE [--as USERNAME]``: a centre's own instrument (a code that is not shipped).
* ``load-text FILE``: the official item wording a school holds (UTF-8 CSV or TSV with the columns
  ``code,number,lang,text``; ``lang`` is zh-Hans or en). All rows or none: every bad row is
  listed. The wording is stored on the latest version of each code; scoring never reads it.
"""

from __future__ import annotations

import csv
import io
import json
from collections import defaultdict
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import transaction
from django.utils.translation import gettext as _

from xinlian.screening.engine import (
    MAX_DEFINITION_BYTES,
    OP_SYMBOLS,
    Definition,
    DefinitionError,
    load_file,
)
from xinlian.screening.models import Instrument, RuleSet, ScreeningError

from ._common import find_instrument, find_user, sync_builtin

LANGS = {"zh-hans": "zh-Hans", "en": "en"}
TEXT_COLUMNS = ("code", "number", "lang", "text")
MAX_TEXT = 1000


class Command(BaseCommand):
    help = _("List, show, validate and load screening instruments and their official wording.")

    def add_arguments(self, parser: CommandParser) -> None:
        sub = parser.add_subparsers(dest="action", required=True, metavar="ACTION")
        sub.add_parser("list", help=_("Every loaded instrument version."))
        show = sub.add_parser("show", help=_("One instrument as readable text."))
        show.add_argument("code")
        show.add_argument("--version", dest="instrument_version", help=_("Default: the latest."))
        show.add_argument("--json", action="store_true", help=_("Print the raw definition."))
        validate = sub.add_parser("validate", help=_("Check instrument files; load nothing."))
        validate.add_argument("files", nargs="+", metavar="FILE")
        load = sub.add_parser("load", help=_("Load a centre's own instrument file."))
        load.add_argument("file", metavar="FILE")
        load.add_argument("--as", dest="username", help=_("Who uploads it (a username)."))
        text = sub.add_parser("load-text", help=_("Load official item wording from a CSV/TSV file "
                                                  "(columns code,number,lang,text)."))
        text.add_argument("file", metavar="FILE")

    def handle(self, *args: Any, action: str, **opts: Any) -> None:
        {"list": self.do_list, "show": self.do_show, "validate": self.do_validate,
         "load": self.do_load, "load-text": self.do_load_text}[action](**opts)

    # --- list / show ----------------------------------------------------------------------------

    def do_list(self, **opts: Any) -> None:
        sync_builtin()
        headers = (_("code"), _("version"), _("name"), _("licence"), _("items"), _("source"))
        rows = [(i.code, i.version, i.display_name, i.licence_status, str(len(i.spec.items)),
                 _("shipped") if i.builtin else _("uploaded"))
                for i in Instrument.objects.order_by("code", "version")]
        widths = [max(_width(r[c]) for r in (headers, *rows)) for c in range(len(headers))]
        for row in (headers, *rows):
            self.stdout.write("  ".join(_pad(cell, w) for cell, w in zip(row, widths, strict=True)).rstrip())

    def do_show(self, code: str, instrument_version: str | None, json: bool, **opts: Any) -> None:
        inst = find_instrument(code, instrument_version)
        if json:
            self.stdout.write(_json(inst.definition))
            return
        for line in describe(inst):
            self.stdout.write(line)

    # --- validate / load ------------------------------------------------------------------------

    def do_validate(self, files: list[str], **opts: Any) -> None:
        failed = 0
        for name in files:
            try:
                spec = load_file(name)
            except OSError as exc:
                failed += 1
                self.stdout.write(_("%(file)s: cannot read: %(error)s") % {"file": name, "error": exc.strerror})
            except DefinitionError as exc:
                failed += 1
                self.stdout.write(_("%(file)s: %(n)d errors") % {"file": name, "n": exc.total})
                for error in error_lines(exc):
                    self.stdout.write(error)
            else:
                self.stdout.write(_("%(file)s: OK — %(code)s v%(version)s, %(items)d items")
                                  % {"file": name, "code": spec.code, "version": spec.version,
                                     "items": len(spec.items)})
        if failed:
            raise CommandError(_("%(n)d of %(total)d files have errors; nothing was loaded.")
                               % {"n": failed, "total": len(files)})

    def do_load(self, file: str, username: str | None, **opts: Any) -> None:
        sync_builtin()
        by = find_user(username) if username else None
        try:
            with Path(file).open("rb") as fh:
                text = fh.read(MAX_DEFINITION_BYTES + 1)  # one byte over: refused, the rest unread
        except OSError as exc:
            raise CommandError(_("%(file)s: cannot read: %(error)s") % {"file": file, "error": exc.strerror}) from exc
        try:
            inst = Instrument.upload(text, by=by, filename=Path(file).name)
        except DefinitionError as exc:
            raise CommandError("\n".join([_("%(file)s: %(n)d errors; nothing was loaded.")
                                          % {"file": file, "n": exc.total}, *error_lines(exc)])) from exc
        except ScreeningError as exc:
            raise CommandError(" ".join(exc.messages)) from exc
        self.stdout.write(_("Loaded %(code)s v%(version)s (%(items)d items).")
                          % {"code": inst.code, "version": inst.version, "items": len(inst.spec.items)})

    # --- official wording -----------------------------------------------------------------------

    def do_load_text(self, file: str, **opts: Any) -> None:
        sync_builtin()
        try:
            raw = Path(file).read_bytes()
        except OSError as exc:
            raise CommandError(_("%(file)s: cannot read: %(error)s") % {"file": file, "error": exc.strerror}) from exc
        try:
            text = raw.decode("utf-8-sig")
        except UnicodeDecodeError as exc:
            raise CommandError(_("%(file)s is not UTF-8 text.") % {"file": file}) from exc
        wording, errors = parse_wording(text, tsv=file.lower().endswith(".tsv"))
        if errors:
            raise CommandError("\n".join([_("%(file)s: %(n)d errors; no wording was loaded.")
                                          % {"file": file, "n": len(errors)},
                                          *(f"  - {e}" for e in errors)]))
        with transaction.atomic():
            for inst, by_lang in wording.items():
                merged = {lang: dict(items) for lang, items in (inst.wording or {}).items()}
                for lang, items in by_lang.items():
                    merged.setdefault(lang, {}).update(items)
                Instrument.objects.filter(pk=inst.pk).update(wording=merged)
        for inst, by_lang in sorted(wording.items(), key=lambda kv: kv[0].code):
            counts = ", ".join(f"{lang} {len(items)}" for lang, items in sorted(by_lang.items()))
            self.stdout.write(_("%(code)s v%(version)s: official wording for %(n)d of %(total)d items "
                                "(%(counts)s).")
                              % {"code": inst.code, "version": inst.version,
                                 "n": len({k for items in by_lang.values() for k in items}),
                                 "total": len(inst.spec.items), "counts": counts})


def error_lines(exc: DefinitionError) -> list[str]:
    """The listed errors of a refused file, and how many more there are (never the whole flood)."""
    lines = [f"  - {e}" for e in exc.errors]
    if exc.hidden:
        lines.append("  " + _("… and %(n)d more.") % {"n": exc.hidden})
    return lines


def parse_wording(text: str, *, tsv: bool = False) -> tuple[dict[Instrument, dict[str, dict[str, str]]],
                                                           list[str]]:
    """Rows → {instrument (latest version of the code): {lang: {item number: text}}}, and every
    problem found, each naming its line."""
    first = text.split("\n", 1)[0]
    delimiter = "\t" if tsv or ("\t" in first and "," not in first) else ","
    reader = csv.reader(io.StringIO(text), delimiter=delimiter)
    errors: list[str] = []
    header = next(reader, None)
    columns = [c.strip().lower() for c in header or []]
    missing = [c for c in TEXT_COLUMNS if c not in columns]
    if missing:
        return {}, [_("line 1: the header must name the columns %(need)s (missing: %(missing)s).")
                    % {"need": ",".join(TEXT_COLUMNS), "missing": ", ".join(missing)}]
    at = {c: columns.index(c) for c in TEXT_COLUMNS}
    instruments: dict[str, Instrument | None] = {}
    out: dict[Instrument, dict[str, dict[str, str]]] = defaultdict(lambda: defaultdict(dict))
    seen: dict[tuple[str, str, str], int] = {}
    rows = 0
    for row in reader:
        line = reader.line_num
        if not any(cell.strip() for cell in row):
            continue
        rows += 1
        if len(row) < len(columns):
            errors.append(_("line %(line)d: %(n)d columns, expected %(need)d.")
                          % {"line": line, "n": len(row), "need": len(columns)})
            continue
        code, number, lang, wording = (row[at[c]].strip() for c in TEXT_COLUMNS)
        if code.upper() not in instruments:
            instruments[code.upper()] = Instrument.latest(code.upper()) if code else None
        inst = instruments[code.upper()]
        problems = []
        if inst is None:
            problems.append(_("unknown instrument code %(code)r") % {"code": code})
        if not number.isdigit():
            problems.append(_("item number %(n)r is not a number") % {"n": number})
        elif inst is not None and int(number) not in inst.spec.column:
            problems.append(_("%(code)s has no item %(n)s") % {"code": inst.code, "n": number})
        if lang.lower() not in LANGS:
            problems.append(_("language %(lang)r is not zh-Hans or en") % {"lang": lang})
        if not wording:
            problems.append(_("the text is empty"))
        elif len(wording) > MAX_TEXT:
            problems.append(_("the text is longer than %(n)d characters") % {"n": MAX_TEXT})
        key = (code.upper(), number, lang.lower())
        if not problems and key in seen:
            problems.append(_("the same item and language as line %(other)d") % {"other": seen[key]})
        seen.setdefault(key, line)
        if problems:
            errors.append(_("line %(line)d: %(problems)s.") % {"line": line, "problems": "; ".join(problems)})
            continue
        assert inst is not None
        out[inst][LANGS[lang.lower()]][str(int(number))] = wording
    if not rows and not errors:
        errors.append(_("the file has no rows after the header."))
    return {inst: dict(by_lang) for inst, by_lang in out.items()}, errors


# --- readable text ---------------------------------------------------------------------------------


def _json(data: Any) -> str:
    return json.dumps(data, ensure_ascii=False, indent=2)


def _width(text: str) -> int:
    return sum(2 if ord(ch) > 0x2E80 else 1 for ch in text)  # CJK takes two columns


def _pad(text: str, width: int) -> str:
    return text + " " * (width - _width(text))


def _items_text(spec: Any) -> str:
    if spec == "all":
        return _("all scored items")
    return ", ".join(str(x) for x in spec)


def _value_text(value: Any, settings: dict[str, Any]) -> str:
    if isinstance(value, str) and value.startswith("$"):
        return f"{value[1:]} ({settings.get(value[1:])})"
    return str(value)


def condition_text(c: dict[str, Any], settings: dict[str, Any]) -> str:
    """A condition of the file as a line a person reads: ``total ≥ cutoff (10)``."""
    if "any" in c:
        return "(" + _(" or ").join(condition_text(x, settings) for x in c["any"]) + ")"
    if "all" in c:
        return "(" + _(" and ").join(condition_text(x, settings) for x in c["all"]) + ")"
    if "not" in c:
        return _("not ") + condition_text(c["not"], settings)
    op = c.get("op", "ge")
    symbol = (f"{OP_SYMBOLS[settings[op[1:]]]} [{op[1:]}]" if isinstance(op, str) and op.startswith("$")
              else OP_SYMBOLS[op])
    value = _value_text(c.get("value", 1), settings)
    if "count" in c:
        inner = "; ".join(condition_text(x, settings) for x in c["count"])
        return _("number of [%(inner)s] %(op)s %(value)s") % {"inner": inner, "op": symbol, "value": value}
    left = _("item %(n)s") % {"n": c["item"]} if "item" in c else c["score"]
    return f"{left} {symbol} {value}"


def _score_text(s: dict[str, Any], settings: dict[str, Any]) -> str:
    op = s["op"]
    if op in ("sum", "mean"):
        return f"{op}({_items_text(s.get('items', 'all'))})"
    if op == "count":
        cmp = OP_SYMBOLS.get(s.get("cmp", "ge"), s.get("cmp"))
        return _("count of items %(cmp)s %(value)s among (%(items)s)") % {
            "cmp": _value_text(cmp, settings) if str(cmp).startswith("$") else cmp,
            "value": _value_text(s["value"], settings), "items": _items_text(s.get("items", "all"))}
    if op == "scale":
        rounding = _value_text(s.get("rounding", "none"), settings)
        return f"{s['of']} × {s['factor']} ({_('rounding')}: {rounding})"
    if op in ("max", "min"):
        of = [s["of"]] if isinstance(s["of"], str) else s["of"]
        return f"{op}({', '.join(of)})"
    return s["expr"]


def describe(inst: Instrument) -> list[str]:
    """The instrument as text: items, scores, bands, classes, critical items, settings."""
    spec: Definition = inst.spec
    settings, rule_version = RuleSet.effective(inst)
    out = [f"{inst.display_name} — {spec.code} v{spec.version}",
           _("Licence: %(status)s. %(note)s") % {"status": inst.licence_status, "note": inst.licence_note},
           _("Source: %(source)s") % {"source": inst.definition.get("source", "")},
           _("Rules: %(version)s (file default %(default)s)") % {"version": rule_version,
                                                                 "default": spec.rules_version},
           _("Shipped with Xinlian") if inst.builtin else _("Uploaded by the centre"), "",
           _("Items (%(n)d):") % {"n": len(spec.items)}]
    for it in spec.items:
        options = " / ".join(f"{o['value']}={spec.label(o['label'])}" for o in spec.option_sets[it.option_set])
        notes = []
        if not it.scored:
            notes.append(_("not scored"))
        if it.number in spec.reverse:
            notes.append(_("reverse-keyed"))
        if it.show_if is not None:
            notes.append(_("asked if %(cond)s") % {"cond": condition_text(it.show_if, settings)})
        extra = f"  [{'; '.join(notes)}]" if notes else ""
        out.append(f"  {it.number:>3}. {inst.item_text(it.number)}  ({options}){extra}")
    out += ["", _("Scores:")]
    for s in spec.scores:
        out.append(f"  {s['id']} — {spec.label(s['label'])}: {_score_text(s, settings)}")
    if spec.bands:
        out += ["", _("Bands:")]
        for b in spec.bands:
            ranges = ", ".join(f"≥{r['from']} {spec.label(r['label'])}" for r in b["ranges"])
            out.append(f"  {b['score']}: {ranges}")
    if spec.classes:
        out += ["", _("Classes (the first that matches):")]
        for c in spec.classes:
            flag = _(" [positive]") if c.get("positive") else ""
            out.append(f"  {c['key']} — {spec.label(c['label'])}{flag}")
            mode = _value_text(c.get("mode", "any"), settings)
            for clause in c.get("clauses", []):
                out.append(f"    {mode}: {clause['id']} — {spec.label(clause['label'])}: "
                           f"{condition_text(clause['when'], settings)}")
            if not c.get("clauses"):
                out.append("    " + _("otherwise"))
    if spec.critical:
        out += ["", _("Critical items (alerts):")]
        for c in spec.critical:
            enabled = c.get("enabled", True)
            state = (_("on") if enabled is True else _("off") if enabled is False
                     else _value_text(enabled, settings))
            out.append(f"  {c['id']} — {spec.label(c['label'])}: {condition_text(c['when'], settings)} "
                       f"[{state}]")
    if spec.quality:
        out += ["", _("Quality checks:")]
        for q in spec.quality:
            out.append(f"  {q['id']} — {spec.label(q['label'])}: {condition_text(q['when'], settings)}")
    if spec.settings_spec:
        out += ["", _("Settings (value now; file default):")]
        for key, s in spec.settings_spec.items():
            out.append(f"  {key} = {settings.get(key)!r} ({_('default')} {s['default']!r}; {s['kind']})")
            if s.get("note"):
                out.append(f"      {s['note']}")
    return out
