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

# Django usernames of Foreman users. ":" and "#" are outside Django's username alphabet, so no
# local Pulp user can be created with such a name through the API or createsuperuser, and a name
# with ":" can never log in with Basic credentials either (the first ":" ends the user part).
RESERVED_USERNAME_PREFIX = "foreman:"
_HASHED_USERNAME_PREFIX = "foreman#"
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


def reserved_username(login):
    """The Django username of Foreman user ``login``; never the name of a local Pulp user.

    Logins too long for Django's 150 characters get a digest instead (with a different prefix,
    so a digest never equals a short login's name).
    """
    username = RESERVED_USERNAME_PREFIX + login
    if len(username) <= _USERNAME_MAX_LENGTH:
        return username
    return _HASHED_USERNAME_PREFIX + sha256(login.encode()).hexdigest()
