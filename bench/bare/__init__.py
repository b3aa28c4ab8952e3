"""bare — the thinnest Django app, served beside Xinlian in bench/floor.py to measure the floor.

One view that answers a constant, and the thinnest Django questionnaire submit: a Form
validates the nine PHQ-9 answers, the view scores them (total, band, item 9) and inserts one
row through the ORM. Same Django, same gunicorn command, same database as Xinlian; no
middleware, no session, no templates. Run as ``gunicorn bare.wsgi:application`` with
``bench/`` on the Python path."""
