"""Hand-built SQL for the few statements a freshman week sends by the thousand.

Building a query with the ORM costs about 0.3–0.6 ms of CPU each time (the compiler walks every
column and lookup); sending the same statement costs about 0.1 ms. On the screening submit, the
busiest write of the year, compilation was half of the request
(``bench/results/screening_submit.json``). These helpers build the SQL text once per process
from the model's metadata and still go through the fields for every value, both ways, so
encrypted fields, JSON, booleans and time zones behave exactly as through the ORM, on SQLite
and on PostgreSQL alike.

Use them only where a benchmark shows the ORM's cost; everywhere else the ORM is clearer."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from functools import cache
from typing import Any, TypeVar

from django.db import connection, models

M = TypeVar("M", bound=models.Model)

Converter = Callable[[Any, Any, Any], Any]


def _q(name: str) -> str:
    return connection.ops.quote_name(name)


@cache
def _columns(model: type[models.Model], vendor: str) -> tuple[list[str], list[tuple[Any, tuple[Converter, ...]]]]:
    """The model's concrete columns (attnames) and, for each, its column expression with the
    converters the ORM would apply to the database's value (the backend's, e.g. SQLite's text →
    datetime, then the field's, e.g. decryption)."""
    converters = []
    for field in model._meta.concrete_fields:
        col = field.get_col(model._meta.db_table)
        converters.append((col, (*connection.ops.get_db_converters(col), *col.get_db_converters(connection))))
    return [f.attname for f in model._meta.concrete_fields], converters


def _instance(model: type[M], row: Sequence[Any]) -> M:
    names, convs = _columns(model, connection.vendor)
    values = []
    for value, (col, fns) in zip(row, convs, strict=True):
        for fn in fns:
            value = fn(value, col, connection)
        values.append(value)
    return model.from_db(connection.alias, names, values)


@cache
def _select_sql(model: type[models.Model], related: str, where: str, vendor: str,
                extra: tuple[str, ...] = ()) -> str:
    table = model._meta.db_table
    cols = [f"t.{_q(f.column)}" for f in model._meta.concrete_fields]
    join = ""
    if related:
        fk = model._meta.get_field(related)
        other = fk.related_model
        cols += [f"r.{_q(f.column)}" for f in other._meta.concrete_fields]
        join = f" INNER JOIN {_q(other._meta.db_table)} r ON r.{_q(other._meta.pk.column)} = t.{_q(fk.column)}"
    cols += [f"({sql})" for sql in extra]
    return f"SELECT {', '.join(cols)} FROM {_q(table)} t{join} WHERE {where}"


def get_with(model: type[M], related: str, where: str, params: Sequence[Any]) -> M | None:
    """The one row of ``model`` matching ``where`` (SQL over alias ``t``, columns quoted by the
    caller), with the non-null foreign key ``related`` loaded as ``select_related`` would."""
    return get_with_columns(model, related, where, params)[0]


def get_with_columns(model: type[M], related: str, where: str, params: Sequence[Any],
                     extra: tuple[str, ...] = (), extra_params: Sequence[Any] = ()) -> tuple[M | None, tuple[Any, ...]]:
    """``get_with`` that also selects the scalar SQL expressions ``extra`` (each may refer to the
    row as ``t``; their parameters ``extra_params`` come first) in the same statement: the row
    and the expressions' raw values (no converters: counts and other plain scalars)."""
    sql = _select_sql(model, related, where, connection.vendor, tuple(extra))
    with connection.cursor() as cursor:
        cursor.execute(sql, [*extra_params, *params])
        rows = cursor.fetchmany(2)
    if len(rows) != 1:
        return None, ()
    width = len(model._meta.concrete_fields)
    obj = _instance(model, rows[0][:width])
    if related:
        fk = model._meta.get_field(related)
        other = width + len(fk.related_model._meta.concrete_fields)
        fk.set_cached_value(obj, _instance(fk.related_model, rows[0][width:other]))
        width = other
    return obj, tuple(rows[0][width:])


@cache
def _session_user_sql(session: type[models.Model], user: type[models.Model], vendor: str,
                      extra: tuple[str, ...], renew: bool = False) -> str:
    cols = [f"s.{_q(f.column)}" for f in session._meta.concrete_fields]
    cols += [f"t.{_q(f.column)}" for f in user._meta.concrete_fields]
    cols += [f"({sql})" for sql in extra]
    key, expiry = (_q(session._meta.get_field(name).column) for name in ("session_key", "expire_date"))
    renewal = ""
    if renew:
        # PostgreSQL runs a data-modifying WITH once, to completion, whatever the SELECT reads;
        # the SELECT sees the row as it was (one snapshot): hence the count of rows renewed.
        renewal = (f"WITH _renewed AS (UPDATE {_q(session._meta.db_table)} SET {expiry} = %s WHERE {key} = %s "
                   f"AND {expiry} > %s AND {expiry} <= %s RETURNING 1) ")
        cols.append("(SELECT COUNT(*) FROM _renewed)")
    return (f"{renewal}SELECT {', '.join(cols)} FROM {_q(session._meta.db_table)} s "
            f"LEFT JOIN {_q(user._meta.db_table)} t "
            f"ON t.{_q(user._meta.pk.column)} = s.{_q(session._meta.get_field('user').column)} "
            f"WHERE s.{key} = %s AND s.{expiry} > %s")


def can_renew_with_load() -> bool:
    """Whether ``session_with_user`` can renew the row in the statement that loads it (a
    data-modifying WITH: PostgreSQL's)."""
    return connection.vendor == "postgresql"


def session_with_user(session: type[models.Model], user: type[models.Model], key: str, now: Any,
                      extra: tuple[str, ...] = (), extra_params: Sequence[Any] = (),
                      renew: tuple[Any, Any] | None = None,
                      ) -> tuple[str | None, Any, models.Model | None, tuple[Any, ...], bool]:
    """The unexpired session row ``key`` (a model with a ``user`` foreign key: whom the session
    was saved as logged in) and, in the same statement, that user's row with the scalar
    expressions ``extra`` over it (alias ``t``, as for ``user_columns``): one round trip where
    there were two. The column is only a pointer (the session's data is signed, the database
    cannot read it): the caller must use the user only if the decoded session names that same
    user. ``renew`` = (new expiry, due by), database values as ``now``, only where
    ``can_renew_with_load``: the same statement also moves the unexpired row's expiry to the
    new one if it is no later than "due by". (the session's encoded data or None, its expiry as
    loaded, user or None, raw scalars, whether the row was renewed)."""
    sql = _session_user_sql(session, user, connection.vendor, tuple(extra), renew is not None)
    head = [renew[0], key, now, renew[1]] if renew is not None else []
    with connection.cursor() as cursor:
        cursor.execute(sql, [*head, *extra_params, key, now])
        rows = cursor.fetchmany(2)
    if len(rows) != 1:
        return None, None, None, (), False
    row = rows[0] if renew is None else rows[0][:-1]
    width = len(session._meta.concrete_fields)
    other = width + len(user._meta.concrete_fields)
    names, convs = _columns(session, connection.vendor)
    data, expiry = (_converted(row[names.index(name)], convs[names.index(name)])
                    for name in ("session_data", "expire_date"))
    person = _instance(user, row[width:other]) if row[width] is not None else None
    return data, expiry, person, tuple(row[other:]), renew is not None and rows[0][-1] == 1


def _converted(value: Any, conv: tuple[Any, tuple[Converter, ...]]) -> Any:
    """One column's value as ``_instance`` converts it."""
    col, fns = conv
    for fn in fns:
        value = fn(value, col, connection)
    return value


def column_params(params: Sequence[Any] | Callable[[], Sequence[Any]]) -> Sequence[Any]:
    """A ``user_columns`` expression's parameters: a list, or a function giving them at each
    request (the time an hour ago, today)."""
    return params() if callable(params) else params


def user_columns(**columns: tuple[str, Sequence[Any] | Callable[[], Sequence[Any]]],
                 ) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Mark a view whose answer needs a few scalars about the requesting user (an unread count,
    the submissions of the last hour): ``name=(sql, params)``, each SQL a scalar expression
    over the user row ``t``, its params a list or a function returning one. The
    user middleware (xinlian.web.middleware) then loads them in the statement that loads the
    user and leaves them in ``request.user_columns`` (and the user's pk in
    ``request.user_columns_of``; ``loaded_column`` reads them); where it could not (another
    authentication backend, no user), ``request.user_columns`` is absent and the view computes
    them itself."""
    def mark(view: Callable[..., Any]) -> Callable[..., Any]:
        view.user_columns = tuple(columns.items())  # type: ignore[attr-defined]
        return view
    return mark


def renews_session(view: Callable[..., Any]) -> Callable[..., Any]:
    """Mark a view each of whose requests is the user's activity, whatever it answers (the
    questionnaire's page, its answers, its submit: a freshman week's busiest requests). Where
    ``can_renew_with_load``, the user middleware then renews the session's idle timeout, when
    due, in the statement that loads the session, instead of a statement of its own after the
    view (xinlian.web.middleware). Never on a background poll: it is not activity."""
    view.renews_session = True  # type: ignore[attr-defined]
    return view


# Scalars every request loads with its user (e.g. what the two-step check needs to know), each a
# provider registered by an app's ready() and called once, at the first request: its SQL may
# then name tables of apps that load after it. Each gives ``{name: (sql, params)}`` as above.
_EVERY_REQUEST: list[Callable[[], dict[str, tuple[str, Sequence[Any] | Callable[[], Sequence[Any]]]]]] = []
_every_request_columns: tuple[tuple[str, tuple[str, Any]], ...] | None = None


def register_user_columns(provider: Callable[[], dict[str, tuple[str, Any]]]) -> None:
    """Load the scalars ``provider()`` names with the user of every request (same form as
    ``user_columns``). Keep them cheap: every logged-in request pays for them."""
    global _every_request_columns
    if provider not in _EVERY_REQUEST:
        _EVERY_REQUEST.append(provider)
    _every_request_columns = None


def every_request_columns() -> tuple[tuple[str, tuple[str, Any]], ...]:
    global _every_request_columns
    if _every_request_columns is None:
        _every_request_columns = tuple(item for provider in _EVERY_REQUEST for item in provider().items())
    return _every_request_columns


def loaded_column(request: Any, name: str, user: Any) -> Any:
    """The scalar ``name`` the user middleware loaded with the requesting user, if it was loaded
    for this ``user`` (an API call authenticated by a token is someone the session may not be);
    None when not loaded: the caller computes it itself."""
    columns = getattr(request, "user_columns", None)
    if not columns or getattr(request, "user_columns_of", None) != user.pk:
        return None
    return columns.get(name)


@cache
def _insert_sql(model: type[models.Model], rows: int, vendor: str,
                before: str = "") -> tuple[str, tuple[models.Field, ...], bool]:
    fields = tuple(f for f in model._meta.concrete_fields if not f.primary_key)
    one = "(" + ", ".join(["%s"] * len(fields)) + ")"
    returning = connection.features.can_return_rows_from_bulk_insert
    sql = (f"INSERT INTO {_q(model._meta.db_table)} ({', '.join(_q(f.column) for f in fields)}) "
           f"VALUES {', '.join([one] * rows)}")
    if before:
        sql = f"WITH _before AS ({before}) {sql}"
    if returning:
        sql += f" RETURNING {_q(model._meta.pk.column)}"
    return sql, fields, returning


def insert(objs: Sequence[models.Model], along: tuple[str, Sequence[Any]] | None = None) -> None:
    """Insert unsaved instances of one model in one statement and set their primary keys, as
    ``bulk_create`` does, without its per-call compilation. Field defaults must already be on
    the instances (they are: the model's ``__init__`` sets them); no signals are sent.

    ``along``: one more write, ``(sql, params)`` (an UPDATE or DELETE with no RETURNING), made
    in the same statement on PostgreSQL (a data-modifying ``WITH``, always run to completion:
    one round trip fewer), in a statement of its own just before elsewhere. Either way inside
    the caller's transaction, if any. Its SQL must be the same text for every call (parameters
    only): the statement is built once per process."""
    if not objs:
        if along is not None:
            with connection.cursor() as cursor:
                cursor.execute(*along)
        return
    model = type(objs[0])
    if any(obj.pk is not None for obj in objs):
        raise ValueError("hotsql.insert takes unsaved instances (their primary key is left to the database)")
    folded = along is not None and connection.vendor == "postgresql"
    sql, fields, returning = _insert_sql(model, len(objs), connection.vendor, along[0] if folded else "")
    params: list[Any] = list(along[1]) if folded else []
    for obj in objs:
        for field in fields:
            params.append(field.get_db_prep_save(field.pre_save(obj, True), connection))
    with connection.cursor() as cursor:
        if along is not None and not folded:
            cursor.execute(*along)
        cursor.execute(sql, params)
        if returning:
            for obj, (pk,) in zip(objs, cursor.fetchall(), strict=True):
                obj.pk = pk
                obj._state.adding = False
                obj._state.db = connection.alias
    if not returning:  # an old SQLite without RETURNING: the instances stay without their keys
        for obj in objs:
            obj._state.adding = False
            obj._state.db = connection.alias


@cache
def _insert_claimed_sql(model: type[models.Model], rows: int, vendor: str,
                        claim: str) -> tuple[str, tuple[models.Field, ...]]:
    fields = tuple(f for f in model._meta.concrete_fields if not f.primary_key)
    # Typed, as a VALUES list would be by the columns it goes into: a SELECT list is not.
    one = "SELECT " + ", ".join(f"CAST(%s AS {f.cast_db_type(connection)})" for f in fields) + " FROM _claim"
    sql = (f"WITH _claim AS ({claim}) INSERT INTO {_q(model._meta.db_table)} "
           f"({', '.join(_q(f.column) for f in fields)}) {' UNION ALL '.join([one] * rows)} "
           f"RETURNING {_q(model._meta.pk.column)}")
    return sql, fields


def insert_claimed(objs: Sequence[models.Model], claim_sql: str, claim_params: Sequence[Any]) -> bool:
    """PostgreSQL: run ``claim_sql`` (an UPDATE … RETURNING that changes at most one row) and,
    only if it changed one, insert the unsaved instances ``objs`` of one model, in one statement
    (a data-modifying ``WITH``): all or nothing, and one round trip, without a transaction of
    its own. True and the instances' primary keys set (in the order given: each row is one arm
    of a UNION ALL, inserted and returned in that order); False when the claim changed nothing
    and so nothing was inserted. ``claim_sql`` must be the same text for every call."""
    if connection.vendor != "postgresql":
        raise NotImplementedError("insert_claimed needs a data-modifying WITH (PostgreSQL)")
    if not objs or any(obj.pk is not None for obj in objs):
        raise ValueError("insert_claimed takes unsaved instances, at least one")
    model = type(objs[0])
    sql, fields = _insert_claimed_sql(model, len(objs), connection.vendor, claim_sql)
    params: list[Any] = list(claim_params)
    for obj in objs:
        for field in fields:
            params.append(field.get_db_prep_save(field.pre_save(obj, True), connection))
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        keys = cursor.fetchall()
    if not keys:
        return False
    for obj, (pk,) in zip(objs, keys, strict=True):
        obj.pk = pk
        obj._state.adding = False
        obj._state.db = connection.alias
    return True
