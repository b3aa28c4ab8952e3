"""The back office names every model properly in both languages: no "Break glasss" or "Timeline
entrys" (Django's default plural is the singular plus "s"), nothing left in English on the
Chinese back office."""

from __future__ import annotations

import re

from django.contrib import admin
from django.test import SimpleTestCase
from django.urls import reverse
from django.utils import translation

from .base import NetworkTestCase

CJK = re.compile(r"[\u4e00-\u9fff]")
LANGUAGES = ("en", "zh-hans")


def labels(model: type, language: str) -> tuple[str, str]:
    with translation.override(language):
        return str(model._meta.verbose_name), str(model._meta.verbose_name_plural)


def bad_plural(singular: str, plural: str) -> bool:
    """Django's guess for a word it cannot inflect: "glass" → "glasss", "entry" → "entrys".
    A vowel before the "y" takes a plain "s" (day → days)."""
    if plural != singular + "s":
        return False
    consonant_y = singular.endswith("y") and singular[-2:-1] not in ("a", "e", "i", "o", "u")
    return consonant_y or singular.endswith(("s", "x", "z", "ch", "sh"))


class AdminLabelTests(SimpleTestCase):
    def test_the_rule_catches_the_known_mistakes(self):
        self.assertTrue(bad_plural("break glass", "break glasss"))
        self.assertTrue(bad_plural("timeline entry", "timeline entrys"))
        self.assertFalse(bad_plural("timeline entry", "timeline entries"))
        self.assertFalse(bad_plural("alert", "alerts"))
        self.assertFalse(bad_plural("holiday", "holidays"))
        self.assertTrue(bad_plural("policy", "policys"))

    def test_every_registered_model_has_a_proper_plural(self):
        wrong = []
        for model in admin.site._registry:
            for language in LANGUAGES:
                singular, plural = labels(model, language)
                if bad_plural(singular, plural):
                    wrong.append(f"{model._meta.label} ({language}): {singular!r} → {plural!r}")
        self.assertEqual(wrong, [])

    def test_our_models_name_themselves(self):
        # Django's guess is never used for Xinlian's own models: both names are written out.
        missing = [model._meta.label for model in admin.site._registry
                   if model.__module__.startswith("xinlian.")
                   and not {"verbose_name", "verbose_name_plural"} <= set(model._meta.original_attrs)]
        self.assertEqual(missing, [])

    def test_the_chinese_back_office_speaks_chinese(self):
        english = []
        for model in admin.site._registry:
            singular, plural = labels(model, "zh-hans")
            if not (CJK.search(singular) and CJK.search(plural)):
                english.append(f"{model._meta.label}: {singular!r} / {plural!r}")
        self.assertEqual(english, [])


class AdminIndexTests(NetworkTestCase):
    def test_the_index_shows_the_fixed_names(self):
        self.login("director")
        for language, expect, never in (("en", "Break-glass accesses", "Break glasss"),
                                        ("zh-hans", "紧急授权访问", "break glass")):
            self.client.cookies["django_language"] = language
            page = self.client.get(reverse("admin:index"))
            self.assertEqual(page.status_code, 200)
            text = page.content.decode()
            self.assertNotIn(never, text)
            self.assertNotIn("entrys", text)
            self.assertIn(expect, text)
