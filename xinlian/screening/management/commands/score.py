"""``xinlian score CODE --answers 1,0,2,...`` — score one set of answers and print the engine's
result as JSON: every derived score, bands, the classification with the clauses that made it,
positive yes/no, critical items, quality flags, and the instrument and rule versions."""

from __future__ import annotations

import json
from typing import Any

from django.core.management.base import BaseCommand, CommandError
from django.utils.translation import gettext as _

from xinlian.screening.engine import AnswerError, SettingsError
from xinlian.screening.models import Instrument, RuleSet, ScreeningError, answer_error_message

from ._common import USAGE_ERROR, find_instrument, parse_setting


class Command(BaseCommand):
    help = _("Score one set of answers with an instrument and print the result as JSON.")

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("code", help=_("Instrument code, e.g. PHQ9 (see: xinlian instruments list)."))
        given = parser.add_mutually_exclusive_group(required=True)
        given.add_argument("--answers",
                           help=_("Comma-separated values in the order of the instrument's items; "
                                  "leave a value empty for an item that is not asked (skip logic), "
                                  "e.g. 1,0,,,2."))
        given.add_argument("--json-answers", help=_('A JSON object of item number → value, e.g. {"1": 0}.'))
        parser.add_argument("--rules", help=_("Score with this rule version (a rule set) instead of "
                                              "the active one."))
        parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                            help=_("Override a setting (repeatable), e.g. --set cutoff=7."))
        parser.add_argument("--instrument-version", dest="instrument_version",
                            help=_("Instrument version (default: the latest)."))

    def handle(self, *args: Any, code: str, answers: str | None, json_answers: str | None,
               rules: str | None, set: list[str], instrument_version: str | None,  # noqa: A002
               **opts: Any) -> None:
        inst = find_instrument(code, instrument_version)
        problems: list[str] = []
        given = (self._list_answers(inst, answers, problems) if answers is not None
                 else self._json_answers(json_answers or "", problems))
        try:
            settings, rule_version = RuleSet.effective(inst, rules)
        except ScreeningError as exc:
            problems.extend(exc.messages)
            settings, rule_version = inst.spec.effective_settings(), inst.spec.rules_version
        overrides = dict(settings)
        for text in set:
            try:
                key, value = parse_setting(text)
            except ValueError:
                problems.append(_("--set %(text)s: write KEY=VALUE.") % {"text": text})
                continue
            overrides[key] = value
        if set:
            rule_version = f"{rule_version}+custom"
        try:
            inst.spec.effective_settings(overrides)
        except SettingsError as exc:
            problems.extend(exc.errors)
        if given is not None:
            problems.extend(self._answer_problems(inst, given, complete=not problems))
        if problems:
            raise CommandError("\n".join([_("Cannot score %(code)s:") % {"code": inst.code},
                                          *(f"  - {p}" for p in problems)]), returncode=USAGE_ERROR)
        assert given is not None
        result = inst.spec.score(given, overrides=overrides, rule_version=rule_version)
        result["settings"] = inst.spec.effective_settings(overrides)
        self.stdout.write(json.dumps(result, ensure_ascii=False, indent=2))

    def _list_answers(self, inst: Instrument, text: str, problems: list[str]) -> dict[int, Any] | None:
        numbers = inst.spec.item_numbers
        values = [v.strip() for v in text.split(",")]
        if len(values) != len(numbers):
            problems.append(_("%(code)s has %(n)d items (%(first)s–%(last)s); %(got)d values were given.")
                            % {"code": inst.code, "n": len(numbers), "first": numbers[0],
                               "last": numbers[-1], "got": len(values)})
        out: dict[int, Any] = {}
        for number, raw in zip(numbers, values, strict=False):
            if raw == "":
                continue  # not asked (skip logic), or not answered: check_answers says which
            try:
                out[number] = int(raw)
            except ValueError:
                problems.append(_("Question %(item)s: %(value)r is not a whole number.")
                                % {"item": number, "value": raw})
        return out

    def _json_answers(self, text: str, problems: list[str]) -> dict[int, Any] | None:
        try:
            data = json.loads(text)
        except ValueError as exc:
            problems.append(_("--json-answers is not valid JSON: %(error)s") % {"error": exc})
            return None
        if not isinstance(data, dict):
            problems.append(_("--json-answers must be an object of item number → value."))
            return None
        out: dict[int, Any] = {}
        for key, value in data.items():
            try:
                out[int(key)] = value
            except ValueError:
                problems.append(_("%(key)r is not an item number.") % {"key": key})
        return out

    @staticmethod
    def _answer_problems(inst: Instrument, answers: dict[int, Any], *, complete: bool) -> list[str]:
        """Values outside the options, unknown items; and — when the answers could be read in
        full — unanswered questions and values given for questions that are not asked."""
        spec = inst.spec
        errors: list[AnswerError] = spec.check_answers(answers, complete=False)
        if not errors and complete:
            errors = spec.check_answers(answers)
            shown = set(spec.visible_items(answers))
            errors += [AnswerError("not_asked", n, v) for n, v in answers.items() if n not in shown]
        return [answer_error_message(e) for e in sorted(errors, key=lambda e: (e.item or 0, e.code))]
