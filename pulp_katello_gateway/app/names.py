"""What a repository name, Foreman login or consumer uuid may be, and the Django usernames that
stand for Foreman users.

Every value Katello, a client or an admin sends is checked here before it reaches a query:
PostgreSQL text cannot hold a NUL or a lone surrogate, and no Katello object has a blank name, a
control character or more than ``NAME_MAX_LENGTH`` characters.
"""

import re
from hashlib import sha256

NAME_MAX_LENGTH = 255
_CONTROL_CHARACTERS = re.compile(r"[\x00-\x1f\x7f]")
_SURROGATES = re.compile("[\ud800-\udfff]")  # JSON can carry them; UTF-8 (PostgreSQL) cannot

# Django usernames of Foreman users. pulpcore's user API checks only a username's length and
# uniqueness, so the plugin refuses these prefixes for local Pulp users itself (``reserved``); a
# name with ":" can never log in with Basic credentials either (the first ":" ends the user part).
RESERVED_USERNAME_PREFIX = "foreman:"
_HASHED_USERNAME_PREFIX = "foreman#"
RESERVED_PREFIXES = (RESERVED_USERNAME_PREFIX, _HASHED_USERNAME_PREFIX)
_USERNAME_MAX_LENGTH = 150


def has_control_characters(value):
    return _CONTROL_CHARACTERS.search(value) is not None


def name_problem(value):
    """Why ``value`` cannot be a repository name, login or consumer uuid; None when it can."""
    if not isinstance(value, str):
        return "must be a string"
    if not value.strip():
        return "may not be blank"
    if len(value) > NAME_MAX_LENGTH:
        return f"may not be longer than {NAME_MAX_LENGTH} characters"
    if has_control_characters(value):
        return "may not contain control characters"
    if _SURROGATES.search(value):
        return "may not contain lone surrogates"
    return None


def fold_login(login):
    """The one login Foreman means by ``login``: what Foreman stores as ``lower_login``.

    Foreman finds users by ``login.downcase`` (Ruby's full Unicode lower-casing), so ``ALICE`` and
    ``\u212aaren`` (a Kelvin sign) are ``alice`` and ``karen``, while ``alıce`` (dotless i) and
    ``ſam`` (long s) are other users.
    Python's ``str.lower`` applies the same Unicode mapping, except that it turns a final capital
    sigma into ``ς`` where Ruby gives ``σ``: that one is mapped first. Logins are compared only
    in this folded form and for equality, never with PostgreSQL's ``UPPER``/``ILIKE``, which
    fold by the database's locale (in a UTF-8 one, ``upper('alıce') = upper('alice')``).
    """
    return login.replace("\u03a3", "\u03c3").lower()


def login_problem(login):
    """Why ``login`` cannot be a Foreman login; None when it can. Lower-casing may lengthen it
    (``İ`` becomes two characters), so the folded login must fit as well."""
    problem = name_problem(login)
    if problem is None and len(fold_login(login)) > NAME_MAX_LENGTH:
        problem = f"may not be longer than {NAME_MAX_LENGTH} characters once lower-cased"
    return problem


def is_reserved_username(username):
    """Whether ``username`` has the form of a Foreman user's Django username."""
    return username.startswith(RESERVED_PREFIXES)


def reserved_username(login):
    """The Django username of Foreman user ``login`` (folded); never a local Pulp user's name.

    Logins too long for Django's 150 characters get a digest instead (with a different prefix,
    so a digest never equals a short login's name).
    """
    login = fold_login(login)
    username = RESERVED_USERNAME_PREFIX + login
    if len(username) <= _USERNAME_MAX_LENGTH:
        return username
    return _HASHED_USERNAME_PREFIX + sha256(login.encode()).hexdigest()
