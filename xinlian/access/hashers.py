"""Argon2id with the cost chosen for this deployment (``XINLIAN_ARGON2_*``).

Django's ``Argon2PasswordHasher`` hard-codes time_cost 2, memory 100 MiB and parallelism 8:
about 170 ms of CPU per hash on this project's 2-core machine, so a freshman morning (3,000
first logins in 5 minutes, one hash each) would need most of both cores for hashing alone. The
defaults here are OWASP's first listed Argon2id configuration (m = 47,104 KiB = 46 MiB, t = 1,
p = 1), about 50 ms of CPU: the measurement and the reasoning are in docs/configuration.md
and bench/results/first_logins.json (``argon2_grid``).

The algorithm name stays ``argon2``, so hashes made by Django's hasher (or with other values
of these settings) are read by this one; Django's ``must_update`` compares every parameter,
so such a hash is re-made with the current values at the person's next successful password
check (``check_password``'s setter: the login, the token login)."""

from __future__ import annotations

from django.conf import settings
from django.contrib.auth.hashers import Argon2PasswordHasher


class Argon2Hasher(Argon2PasswordHasher):
    """Django's Argon2id hasher with its three costs read from the settings on each use."""

    @property  # type: ignore[override]
    def time_cost(self) -> int:
        return settings.ARGON2_TIME_COST

    @property  # type: ignore[override]
    def memory_cost(self) -> int:
        return settings.ARGON2_MEMORY_KIB

    @property  # type: ignore[override]
    def parallelism(self) -> int:
        return settings.ARGON2_PARALLELISM
